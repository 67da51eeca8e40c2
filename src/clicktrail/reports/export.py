"""CSV export: the rows of a report, one header line, RFC 4180 quoting (the csv module's)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

MONEY_FIELDS = ("revenue", "revenue_per_click")


def to_csv(report: dict[str, Any], columns: Sequence[str]) -> str:
    """`columns` are the plain fields, in order; money fields become one column per currency of
    the report (`revenue_EUR`, `revenue_per_click_EUR`), appended after them, then the revenue
    converted to the report's currency (`revenue_converted_EUR`) and `missing_rates`."""
    currencies = sorted(report["totals"].get("revenue", {}))
    money = [f for f in MONEY_FIELDS if f in report["totals"]]
    converted = report["totals"].get("revenue_converted")
    header = [*columns, *(f"{f}_{c}" for f in money for c in currencies)]
    if converted:  # the report's one currency, and how many orders it could not convert
        header += [f"revenue_converted_{converted['currency']}", "missing_rates"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in report["rows"]:
        values = [_cell(row.get(name)) for name in columns]
        values += [row[f].get(c, "") for f in money for c in currencies]
        if converted:
            values += [row["revenue_converted"]["amount"], row["revenue_converted"]["missing_rates"]]
        writer.writerow(values)
    return out.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        # A campaign name or referrer like "=HYPERLINK(...)" must not run as a spreadsheet formula.
        return "'" + value
    return str(value)
