"""How numbers, money, channels and times read on the pages (Jinja2 filters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import pass_context

from clicktrail.money import format_minor, minor_units

# Symbols people recognise; any other currency is written "1,234.50 XYZ".
SYMBOLS = {
    "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "CN¥", "INR": "₹", "KRW": "₩",
    "BRL": "R$", "AUD": "A$", "CAD": "CA$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "MXN": "MX$",
    "TWD": "NT$", "ILS": "₪", "VND": "₫", "PHP": "₱", "NGN": "₦", "TRY": "₺", "UAH": "₴",
    "THB": "฿", "IDR": "Rp ", "ZAR": "R ", "CHF": "CHF ", "SEK": "SEK ", "NOK": "NOK ", "DKK": "DKK ",
    "PLN": "PLN ", "AED": "AED ", "SAR": "SAR ", "MYR": "RM ",
}

CHANNEL_NAMES = {
    "whatsapp": "WhatsApp", "messenger": "Messenger", "facebook": "Facebook", "instagram": "Instagram",
    "wechat": "WeChat", "telegram": "Telegram", "line": "LINE", "viber": "Viber", "signal": "Signal",
    "snapchat": "Snapchat", "tiktok": "TikTok", "imessage": "iMessage", "sms": "SMS", "email": "Email",
    "slack": "Slack", "discord": "Discord", "twitter": "X (Twitter)", "linkedin": "LinkedIn",
    "pinterest": "Pinterest", "kakaotalk": "KakaoTalk", "threads": "Threads", "google": "Google",
    "teams": "Microsoft Teams", "qr": "QR code", "other": "Other",
}


def number(value: object) -> str:
    """12345 → "12,345"; None → "0"."""
    if value is None:
        return "0"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"  # type: ignore[call-overload]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def ratio(value: float | None) -> str:
    """Taps per share: 2.5 → "2.5"; None (nothing shared) → "—"."""
    return "—" if value is None else f"{value:,.1f}"


def money(amount: object, currency: str) -> str:
    """("1234.5", "EUR") → "€1,234.50"; negative amounts keep their sign in front."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return f"{amount} {currency}"
    places = minor_units(currency)
    text = f"{abs(value):,.{places}f}"
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def money_minor(minor: int, currency: str) -> str:
    """Integer minor units as money: (16990, "EUR") → "€169.90"."""
    return money(format_minor(minor, currency), currency)


def revenue(values: Mapping[str, object] | None) -> list[str]:
    """A report's {"EUR": "12.50", "USD": "3.00"} → ["€12.50", "$3.00"] (none: [])."""
    return [money(amount, currency) for currency, amount in sorted((values or {}).items())]


def channel_name(channel: str | None) -> str:
    if channel is None:
        return "No app detected"
    return CHANNEL_NAMES.get(channel, channel.capitalize())


# One date format everywhere: "Mar 4, 2026"; times add "14:05" and the zone they are in.
def day(value: date | datetime | str | None, tz: ZoneInfo | None = None) -> str:
    """A date (or a time, in `tz`) as "Mar 4, 2026"."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.astimezone(tz or timezone.utc).date()
    return f"{value:%b} {value.day}, {value.year}"


def when(value: datetime | None, tz: ZoneInfo | None = None) -> str:
    """A UTC time in `tz` (default UTC) as "Mar 4, 2026, 14:05 CET"."""
    if value is None:
        return "—"
    local = value.astimezone(tz or timezone.utc)
    return f"{day(local.date())}, {local:%H:%M} {local.tzname()}"


def day_label(iso_day: str, with_year: bool = False) -> str:
    """"2026-03-04" → "Mar 4" (with_year: "Mar 4, 2026"), the short form of `day` for chart axes."""
    try:
        parsed = date.fromisoformat(iso_day)
    except ValueError:
        return iso_day
    return day(parsed) if with_year else f"{parsed:%b} {parsed.day}"


def _zone_of(context: Any) -> ZoneInfo:
    """The reporting time zone of the page's workspace (else the installation's), else UTC."""
    from clicktrail.reports.router import reporting_defaults

    request = context.get("request")
    if getattr(getattr(getattr(request, "app", None), "state", None), "settings", None) is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(reporting_defaults(request)[1])
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@pass_context
def _day_here(context: Any, value: Any) -> str:
    return day(value, _zone_of(context))


@pass_context
def _when_here(context: Any, value: Any) -> str:
    return when(value, _zone_of(context))


FILTERS = {
    "number": number,
    "percent": percent,
    "ratio": ratio,
    "money": money,
    "money_minor": money_minor,
    "revenue": revenue,
    "channel_name": channel_name,
    "when": _when_here,  # in the reporting time zone
    "day": _day_here,
    "day_label": day_label,
}
