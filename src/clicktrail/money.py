"""Exact money: integer minor units of an ISO 4217 currency, and their decimal form.

Amounts are stored as integers of the currency's minor unit (cents, yen, fils) and shown as
decimal strings with exactly as many places as the currency has ("12.50", "1500", "1.250").
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor units that differ from the usual 2. Currencies not listed have 2.
_MINOR_UNITS: dict[str, int] = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three places
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four places
    "CLF": 4, "UYW": 4,
}
DEFAULT_MINOR_UNITS = 2


def unusual_minor_units() -> dict[str, int]:
    """The currencies whose minor unit is not the usual 2 places (for SQL that scales amounts)."""
    return dict(_MINOR_UNITS)


def normalise_currency(currency: str) -> str:
    code = currency.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    return code


def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit: JPY 0, EUR 2, KWD 3."""
    return _MINOR_UNITS.get(normalise_currency(currency), DEFAULT_MINOR_UNITS)


def to_decimal(minor: int, currency: str) -> Decimal:
    """Integer minor units → an exact Decimal with the currency's number of places (1250 EUR → 12.50)."""
    places = minor_units(currency)
    return Decimal(int(minor)).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def format_minor(minor: int, currency: str) -> str:
    """Integer minor units → the decimal string the API shows ("12.50", "1500", "1.250")."""
    return f"{to_decimal(minor, currency):f}"


def from_decimal(amount: Decimal | str | int, currency: str) -> int:
    """A major-unit amount → integer minor units; more precision than the currency has is refused
    (12.345 EUR raises ValueError, 12.340 EUR is 1234)."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {amount!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    if value.adjusted() > 15:  # more than any order could be, and scaling it could overflow
        raise ValueError(f"the amount {str(amount)[:40]} is out of range")
    scaled = value.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimal places than {normalise_currency(currency)} allows")
    return int(scaled)
