"""SVG charts drawn on the server: no JavaScript, no CDN, readable by screen readers (role=img,
a label, and a <title> on every mark). Sizes are in viewBox units; CSS makes them fluid."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from clicktrail.web.format import day, day_label, number

BRAND = "#4f46e5"
ACCENT = "#f59e0b"
GRID = "#e5e7eb"
INK = "#6b7280"


def axis_top(value: float, ticks: int = 4) -> float:
    """The top of an axis of `ticks` equal whole steps of 1, 2 or 5 × 10^k at or above `value`:
    1 → 4, 7 → 8, 13 → 20, 430 → 500. Counts never get fractional ticks."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * ticks >= value:
                return step * magnitude * ticks
        magnitude *= 10


def _fmt_tick(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def daily_chart(days: Sequence[str], clicks: Sequence[int], orders: Sequence[int], unit: str = "day") -> Markup:
    """Clicks per day, week or month (`days`: the first day of each) as columns (left axis),
    orders as a line with dots (right axis). When the range spans two years, the axis names the
    year at its first label and wherever the year changes."""
    width, height = 1000, 260
    left, right, top, bottom = 48, 44, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(days), 1)
    c_max, o_max = axis_top(max(clicks, default=0)), axis_top(max(orders, default=0))
    slot = plot_w / n
    bar = max(min(slot * 0.7, 28), 1.5)
    total_c, total_o = sum(clicks), sum(orders)
    label = f"Clicks and orders per {unit}: {number(total_c)} clicks and {number(total_o)} orders over {n} {unit}s"
    years = {d[:4] for d in days}
    parts = [
        f'<svg class="chart chart-daily" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="inherit" font-size="13">'
    ]
    for i in range(5):  # gridlines and both axes' ticks
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{_fmt_tick(c_max * i / 4)}</text>')
        parts.append(f'<text x="{width - right + 6}" y="{y + 4:.1f}" fill="{ACCENT}">{_fmt_tick(o_max * i / 4)}</text>')
    every = max(1, math.ceil(n / 8))
    points = []
    labelled_year = None
    for i, day in enumerate(days):
        cx = left + slot * i + slot / 2
        h = plot_h * clicks[i] / c_max
        tip = f"{_bucket_name(day, unit)}: {number(clicks[i])} clicks, {number(orders[i])} orders"
        parts.append(
            f'<rect x="{cx - bar / 2:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{max(h, 0):.1f}" '
            f'rx="2" fill="{BRAND}"><title>{escape(tip)}</title></rect>'
        )
        points.append((cx, top + plot_h - plot_h * orders[i] / o_max, tip))
        if i % every == 0:
            with_year = len(years) > 1 and day[:4] != labelled_year
            labelled_year = day[:4]
            text = day_label(day, with_year) if unit != "month" else _month_label(day, with_year)
            parts.append(f'<text x="{cx:.1f}" y="{height - 8}" text-anchor="middle" fill="{INK}">{escape(text)}</text>')
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
        for x, y, tip in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{ACCENT}"><title>{escape(tip)}</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _month_label(iso_day: str, with_year: bool) -> str:
    month = date.fromisoformat(iso_day)
    return f"{month:%b} {month.year}" if with_year else f"{month:%b}"


def _bucket_name(iso_day: str, unit: str) -> str:
    """What one column covers, for its tooltip: "Mar 4, 2026", "week of Mar 2, 2026", "Mar 2026"."""
    if unit == "week":
        return f"week of {day(iso_day)}"
    if unit == "month":
        return _month_label(iso_day, True)
    return day(iso_day)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as the page writes it ("€1,234.50", "1,234")


def bar_chart(bars: Sequence[Bar], *, title: str, color: str = BRAND) -> Markup:
    """Horizontal bars, largest first. Each bar is a small SVG stretched to its track; labels and
    values are text beside it, so they stay readable from a phone to a wide screen."""
    bars = sorted(bars, key=lambda b: -b.value)
    top = max((b.value for b in bars), default=0) or 1
    summary = "; ".join(f"{b.label}: {b.shown}" for b in bars)
    parts = [f'<div class="bars" role="img" aria-label="{escape(title)}: {escape(summary)}">']
    for b in bars:
        width = max(100 * b.value / top, 1 if b.value > 0 else 0)
        parts.append(
            f'<div class="bar-row"><span class="bar-label">{escape(b.label)}</span>'
            f'<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" '
            f'xmlns="http://www.w3.org/2000/svg"><rect width="100" height="10" fill="#f3f4f6"/>'
            f'<rect width="{width:.2f}" height="10" fill="{color}"><title>{escape(b.label)}: {escape(b.shown)}</title></rect></svg>'
            f'<span class="bar-value">{escape(b.shown)}</span></div>'
        )
    parts.append("</div>")
    return Markup("".join(parts))
