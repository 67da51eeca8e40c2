"""Currency minor units and exact conversions (clicktrail.money)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clicktrail.money import format_minor, from_decimal, minor_units, to_decimal


@pytest.mark.parametrize(("currency", "places"), [("EUR", 2), ("usd", 2), ("JPY", 0), ("KRW", 0),
                                                  ("BHD", 3), ("KWD", 3), ("OMR", 3), ("JOD", 3), ("TND", 3)])
def test_minor_units(currency: str, places: int) -> None:
    assert minor_units(currency) == places


def test_to_decimal_keeps_the_currency_places() -> None:
    assert to_decimal(1250, "EUR") == Decimal("12.50") and format_minor(1250, "EUR") == "12.50"
    assert format_minor(1500, "JPY") == "1500"
    assert format_minor(1250, "KWD") == "1.250"
    assert format_minor(0, "USD") == "0.00"
    assert format_minor(10**17 + 1, "USD") == "1000000000000000.01"


def test_from_decimal_is_exact_and_refuses_extra_precision() -> None:
    assert from_decimal(Decimal("12.340"), "EUR") == 1234
    assert from_decimal("1500", "JPY") == 1500
    assert from_decimal("1.25", "KWD") == 1250
    assert from_decimal(7, "USD") == 700
    for amount, currency in [("12.345", "EUR"), ("1.5", "JPY"), ("0.0001", "KWD"), ("nan", "EUR"), ("x", "EUR")]:
        with pytest.raises(ValueError):
            from_decimal(amount, currency)
    with pytest.raises(ValueError):
        minor_units("EURO")
