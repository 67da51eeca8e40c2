"""How numbers, money, channels and times read on the pages (Jinja2 filters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from clicktrail.money import minor_units

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


def revenue(values: Mapping[str, object] | None) -> list[str]:
    """A report's {"EUR": "12.50", "USD": "3.00"} → ["€12.50", "$3.00"] (none: [])."""
    return [money(amount, currency) for currency, amount in sorted((values or {}).items())]


def channel_name(channel: str | None) -> str:
    if channel is None:
        return "No app detected"
    return CHANNEL_NAMES.get(channel, channel.capitalize())


def when(value: datetime | None) -> str:
    """A UTC time as "2026-03-04 14:05 UTC"."""
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def day_label(iso_day: str) -> str:
    """"2026-03-04" → "Mar 4"."""
    try:
        day = datetime.strptime(iso_day, "%Y-%m-%d")
    except ValueError:
        return iso_day
    return f"{day:%b} {day.day}"


FILTERS = {
    "number": number,
    "percent": percent,
    "ratio": ratio,
    "money": money,
    "revenue": revenue,
    "channel_name": channel_name,
    "when": when,
    "day_label": day_label,
}
