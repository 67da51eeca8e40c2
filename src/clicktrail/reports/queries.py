"""The aggregate SQL of every report: one statement each, SQLAlchemy Core, both engines.

A report is a UNION ALL of GROUP BY branches, each row tagged with the part it answers (`part`):
per-key click counts, per-key order counts, per-key-and-currency revenue, and the same without a
key for the totals (unique visitors do not add up across rows: one person can click a WhatsApp
and a Telegram link). Every branch returns the same columns.

Clicks are read from the roll-ups (rollups.py: per campaign, or per campaign, link, channel and
app; per UTC hour and day), plus the raw clicks of the minutes at the period's edges that no
whole hour covers. Counts are summed in SQL; for unique visitors the roll-ups' sketches and the
edge minutes' visitor hashes come back as rows of their own (parts `s`/`S`, `v`/`V`), which the
service merges. Two reports still read the clicks themselves, exactly: day buckets in a zone
whose offset is not a whole number of hours, and the forwarding matrix across all campaigns.

What counts:
- clicks `kind = 'click'`; unique visitors = distinct `visitor_hash` among those; previews and
  bots are the other kinds. A click belongs to the period by `occurred_at`.
- orders: attributed (`attribution_state = 'attributed'`), not cancelled and not unpaid
  (status `pending`: authorised, on hold, checkout not paid), by `ordered_at`. Those count
  neither as orders nor as revenue until the shop says they are paid; refunded ones still
  count as orders, with revenue net of refunds and never below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import (
    CTE, ColumnElement, Date, LargeBinary, Select, Subquery, Table, and_, case, cast, distinct, func, literal, literal_column,
    null, select, union_all,
)
from sqlalchemy.sql import CompoundSelect

from clicktrail.clicks.models import Click
from clicktrail.conversions.models import Order
from clicktrail.money import unusual_minor_units
from clicktrail.reports import rollups
from clicktrail.reports.models import ExchangeRate
from clicktrail.reports.rates import BASE_CURRENCY
from clicktrail.reports.period import Period, Unit, day_bucket, offset_segments

GroupBy = Literal["channel", "link", "app", "day", "week", "month", "country"]

clicks = Click.__table__
orders = Order.__table__
exchange_rates = ExchangeRate.__table__

NUMBERS = ("clicks", "unique_visitors", "previews", "bots", "orders", "coupon_orders", "customer_orders",
           "converters", "revenue_minor", "converted", "missing_rates", "pending", "all_orders")
COLUMNS = ("part", "key", "key2", "currency", *NUMBERS, "sketch", "visitor")

CANCELLED = "cancelled"
NOT_SALES = (CANCELLED, "pending")  # no sale (yet): the shop has not been paid


def _net_revenue(rows=orders) -> ColumnElement:
    net = rows.c.amount_minor - rows.c.refunded_minor
    return func.sum(case((net > 0, net), else_=0))


def _click_counts(dialect: str, rows=clicks) -> dict[str, ColumnElement]:
    visitor = rows.c.visitor_hash
    if dialect == "postgresql":
        # Hex digests: bytewise order is enough, and sorting them under "C" is twice as fast as
        # under the database's locale (the same values are equal under both).
        visitor = visitor.collate("C")
    return {
        "clicks": func.count(case((rows.c.kind == "click", 1))),
        "unique_visitors": func.count(distinct(case((rows.c.kind == "click", visitor)))),
        "previews": func.count(case((rows.c.kind == "preview", 1))),
        "bots": func.count(case((rows.c.kind == "bot", 1))),
    }


def _branch(part: str, *, where: Sequence[ColumnElement], group: Sequence[ColumnElement] = (),
            from_=None, **columns: ColumnElement) -> Select:
    """One SELECT with every column of COLUMNS, in order: those given, else NULL / 0."""
    exprs = []
    for name in COLUMNS:
        if name == "part":
            exprs.append(literal_column(f"'{part}'").label(name))
        elif name in columns:
            exprs.append(columns[name].label(name))
        elif name in NUMBERS:
            exprs.append(literal_column("0").label(name))
        elif name == "sketch":  # typed: PostgreSQL types a UNION pairwise, NULL alone is text
            exprs.append(cast(null(), LargeBinary).label(name))
        else:
            exprs.append(null().label(name))
    query = select(*exprs)
    if from_ is not None:
        query = query.select_from(from_)
    return query.where(*where).group_by(*group)


def _in_period(column: ColumnElement, period: Period) -> ColumnElement:
    return and_(column >= period.start, column < period.end)


def _attributed_orders(period: Period) -> list[ColumnElement]:
    return [
        orders.c.attribution_state == "attributed",
        orders.c.status.not_in(NOT_SALES),
        _in_period(orders.c.ordered_at, period),
    ]


def _order_day(column: ColumnElement, dialect: str) -> ColumnElement:
    """The UTC date of an order: the day whose reference rate converts it."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite: "YYYY-MM-DD", as its Date column stores days


def _rate_on(currency: ColumnElement, day: ColumnElement) -> ColumnElement:
    """Units of `currency` per euro on `day`: the latest rate published on or before it (NULL:
    none). One step down the (currency, day) primary key."""
    return (
        select(exchange_rates.c.per_eur)
        .where(exchange_rates.c.currency == currency, exchange_rates.c.day <= day)
        .order_by(exchange_rates.c.day.desc())
        .limit(1)
        .scalar_subquery()
    )


def _factor(currency: ColumnElement, day: ColumnElement, target: str) -> ColumnElement:
    """What one unit of `currency` is worth in `target` on `day`, through the euro; NULL when a
    rate is missing."""
    euro = literal_column("1")
    from_rate = case((currency == BASE_CURRENCY, euro), else_=_rate_on(currency, day))
    to_rate = euro if target == BASE_CURRENCY else _rate_on(literal(target), day)
    return case((currency == target, euro), else_=to_rate / from_rate)


def _converted_per_currency(per_day: Subquery | CTE, key_names: Sequence[str], target: str, counts: Sequence[str],
                            name: str) -> CTE:
    """Rows of `per_day` (keys, currency, day, counts, revenue_minor) converted at their day's
    rates, then summed per key and currency: `converted` (in `target`, still scaled by
    10^(minor units of the row's currency): the service scales it), and `missing_rates`, the
    orders (of `counts[0]`) that no rate converts. Rates are looked up once per currency and
    day of the period (a few hundred), never per key or order."""
    pairs = select(per_day.c.currency, per_day.c.day).distinct().subquery(f"{name}p")
    factors = select(pairs.c.currency, pairs.c.day,
                     _factor(pairs.c.currency, pairs.c.day, target).label("factor")).subquery(f"{name}f")
    converted = case((per_day.c.revenue_minor == 0, literal_column("0")),
                     else_=per_day.c.revenue_minor * factors.c.factor)
    rows = select(
        *(per_day.c[n] for n in (*key_names, "currency", *counts, "revenue_minor")), converted.label("converted"),
    ).select_from(per_day.join(factors, and_(factors.c.currency == per_day.c.currency,
                                            factors.c.day == per_day.c.day))).subquery(f"{name}x")
    keys = [rows.c[n] for n in (*key_names, "currency")]
    return select(
        *keys,
        *(func.sum(rows.c[n]).label(n) for n in counts),
        func.sum(rows.c.revenue_minor).label("revenue_minor"),
        func.sum(rows.c.converted).label("converted"),
        func.sum(case((rows.c.converted.is_(None), rows.c[counts[0]]), else_=0)).label("missing_rates"),
    ).group_by(*keys).cte(name)


def _order_rows(order_where: list[ColumnElement], order_keys: Sequence[ColumnElement],
                click_keys: Sequence[ColumnElement], dialect: str) -> CTE:
    """The period's orders of a report, read once for both the money (keys `key`, `key2`) and
    the visitors who ordered (their click's keys `ckey`, `ckey2`)."""
    return select(
        *(k.label(n) for k, n in zip(order_keys, ("key", "key2"))),
        *(k.label(n) for k, n in zip(click_keys, ("ckey", "ckey2"))),
        orders.c.currency, _order_day(orders.c.ordered_at, dialect).label("day"),
        orders.c.amount_minor, orders.c.refunded_minor, orders.c.attribution_method,
        orders.c.click_visitor_hash, orders.c.clicked_at,
    ).where(*order_where).cte("o")


def _order_branches(order_rows: CTE, n_keys: int, target: str) -> list[Select]:
    """Per-key and total order counts, and revenue per currency converted to `target`. The
    orders are aggregated once, per key, currency and day; the other parts add up those rows."""
    key_names = ("key", "key2")[:n_keys]
    per_day = select(
        *(order_rows.c[n] for n in (*key_names, "currency", "day")),
        func.count().label("orders"),
        func.count(case((order_rows.c.attribution_method == "coupon", 1))).label("coupon_orders"),
        func.count(case((order_rows.c.attribution_method == "customer", 1))).label("customer_orders"),
        _net_revenue(order_rows).label("revenue_minor"),
    ).group_by(*(order_rows.c[n] for n in (*key_names, "currency", "day"))).cte("od")
    order_counts = ("orders", "coupon_orders", "customer_orders")
    per_currency = _converted_per_currency(per_day, key_names, target, order_counts, "oc")
    ok = [per_currency.c[n] for n in key_names]
    keyed = dict(zip(key_names, ok))
    count = {n: func.coalesce(func.sum(per_currency.c[n]), 0) for n in order_counts}
    money = {n: per_currency.c[n] for n in ("revenue_minor", "converted", "missing_rates")}
    money_sums = {n: func.sum(c) for n, c in money.items()}
    return [
        _branch("n", where=[], group=ok, from_=per_currency, **keyed, **count),
        _branch("N", where=[], from_=per_currency, **count),
        _branch("o", where=[], from_=per_currency, **keyed, currency=per_currency.c.currency, **money),
        _branch("O", where=[], group=[per_currency.c.currency], from_=per_currency,
                currency=per_currency.c.currency, **money_sums),
    ]


def _rollup_branches(period: Period, campaign_id: int | None, *, per_campaign: bool,
                     workspace_id: int | None = None) -> list[Select]:
    """Click counts and unique visitors from `click_rollups`, for one campaign or all: the totals
    (parts `C`, `S`, `V`), and with `per_campaign` one row per campaign too (the overview)."""
    cover = rollups.cover(period.start, period.end)
    ru = rollups.rollups
    in_rollups = [cover.rollup_rows()]
    in_raw = [cover.raw_clicks()]
    if campaign_id is None:  # every campaign of the workspace
        in_rollups.append(ru.c.workspace_id == workspace_id)
        in_raw.extend((clicks.c.campaign_id.is_not(None), clicks.c.workspace_id == workspace_id))
    else:
        in_rollups.append(ru.c.campaign_id == campaign_id)
        in_raw.append(clicks.c.campaign_id == campaign_id)

    totals = _rolled_up(ru, [], [], in_rollups, in_raw)
    if not per_campaign:
        return totals
    # Totals' visitors are the campaigns' merged (the service does it): their counts only.
    total_counts = totals[0]
    per_campaign_parts = _rolled_up(ru, [ru.c.campaign_id.label("key")], [clicks.c.campaign_id.label("key")],
                                    in_rollups, in_raw)
    return [*per_campaign_parts, total_counts]


def _rolled_up(
    table: Table,
    rolled_keys: Sequence[ColumnElement],
    raw_keys: Sequence[ColumnElement],
    in_rollups: Sequence[ColumnElement],
    in_raw: Sequence[ColumnElement],
) -> list[Select]:
    """Rows of a roll-up `table` (`in_rollups`) and of the clicks its rows do not cover (`in_raw`),
    keyed by `rolled_keys` / `raw_keys` (the same keys, labelled `key`, `key2`; none: totals).
    Counts are summed per key, exact; the roll-ups' visitor sketches and the raw clicks' visitor
    hashes come back as rows for the service to merge (unique visitors are not a sum). Parts
    `c`, `s`, `v` per key; `C`, `S`, `V` without keys (totals)."""
    key_names = ("key", "key2")[: len(rolled_keys)]
    c, s, v = ("c", "s", "v") if key_names else ("C", "S", "V")
    rolled = select(*rolled_keys, table.c.clicks, table.c.previews, table.c.bots).where(*in_rollups)
    raw = select(*raw_keys, clicks.c.kind).where(*in_raw).subquery("r")
    sketches = select(*rolled_keys, table.c.visitors).where(*in_rollups, table.c.visitors.is_not(None))
    visitors = select(*raw_keys, clicks.c.visitor_hash).where(
        *in_raw, clicks.c.kind == "click", clicks.c.visitor_hash.is_not(None))
    counted = union_all(
        rolled,
        select(
            *(raw.c[n] for n in key_names),
            case((raw.c.kind == "click", 1), else_=0).label("clicks"),
            case((raw.c.kind == "preview", 1), else_=0).label("previews"),
            case((raw.c.kind == "bot", 1), else_=0).label("bots"),
        ),
    ).subquery("counted")
    keys = [counted.c[n] for n in key_names]
    sums = {name: func.coalesce(func.sum(counted.c[name]), 0) for name in ("clicks", "previews", "bots")}
    sk, vi = sketches.subquery("sk"), visitors.subquery("vi")
    return [
        _branch(c, where=[], group=keys, from_=counted, **dict(zip(key_names, keys)), **sums),
        _branch(s, where=[], from_=sk, **{n: sk.c[n] for n in key_names}, sketch=sk.c.visitors),
        _branch(v, where=[], group=[*(vi.c[n] for n in key_names), vi.c.visitor_hash], from_=vi,
                **{n: vi.c[n] for n in key_names}, visitor=vi.c.visitor_hash),
    ]


def _link_rows(period: Period, campaign_id: int, columns: Sequence[str]) -> list[Select]:
    """One campaign's rows by channel, link or app, or (channel, app): from `link_rollups` (whole
    UTC days) and the clicks (the partial days at the edges)."""
    cover = rollups.cover(period.start, period.end, hours=False)
    lr = rollups.link_rollups
    key_names = ("key", "key2")[: len(columns)]

    def keys(table) -> list[ColumnElement]:
        return [
            (func.nullif(table.c.app, rollups.NO_APP) if c == "app" and table is lr else table.c[c]).label(n)
            for c, n in zip(columns, key_names)
        ]

    return _rolled_up(lr, keys(lr), keys(clicks), [cover.rollup_rows(lr), lr.c.campaign_id == campaign_id],
                      [cover.raw_clicks(), clicks.c.campaign_id == campaign_id])


def _day_rows(period: Period, campaign_id: int, dialect: str, unit: Unit) -> list[Select] | None:
    """One campaign's rows by local day, week or month, from its hourly roll-ups: each whole UTC
    hour falls in one local day when the zone's offsets in the period are whole hours. None
    otherwise (Asia/Kolkata, Australia/Lord_Howe...): the rows are then counted from the clicks."""
    if any(offset % 3600 for _, offset in offset_segments(period.tz, period.start, period.end)):
        return None
    cover = rollups.cover(period.start, period.end, days=False)
    ru = rollups.rollups
    return _rolled_up(
        ru,
        [day_bucket(ru.c.starts_at, period, dialect, unit).label("key")],
        [day_bucket(clicks.c.occurred_at, period, dialect, unit).label("key")],
        [cover.rollup_rows(ru), ru.c.campaign_id == campaign_id],
        [cover.raw_clicks(), clicks.c.campaign_id == campaign_id],
    )


def _converter_branches(order_rows: CTE, n_keys: int, period: Period) -> list[Select]:
    """Visitors who ordered through a click (the order carried its click id), per key of that
    click and in total: the numerator of the conversion rate. Only clicks of the period count,
    keyed like the clicks themselves (over the click's facts that attribution copied onto the
    order, so no join to the clicks), so that they are among the period's unique visitors of the
    same row and a rate never exceeds 1. Orders credited by coupon, UTM tags or an earlier
    identified customer count as orders and revenue, not here."""
    ckeys = [order_rows.c[n] for n in ("ckey", "ckey2")[:n_keys]]
    key_names = ("key", "key2")[:n_keys]
    ordering = [order_rows.c.attribution_method == "click_id", order_rows.c.click_visitor_hash.is_not(None),
                _in_period(order_rows.c.clicked_at, period)]
    converters = func.count(distinct(order_rows.c.click_visitor_hash))
    return [
        _branch("k", where=ordering, group=ckeys, from_=order_rows, **dict(zip(key_names, ckeys)), converters=converters),
        _branch("K", where=ordering, from_=order_rows, converters=converters),
    ]


def _metric_union(
    dialect: str,
    click_where: list[ColumnElement],
    click_keys: Sequence[ColumnElement],
    orders_of: OrderQuery,
    click_totals: list[Select] | None = None,
) -> list[Select]:
    """Per-key (one or two key columns) and total clicks counted from the clicks. Keys are
    computed in a derived table so that GROUP BY names a plain column on both engines. Click
    totals: `click_totals` (the roll-ups of one campaign), else counted from the clicks again (a
    second count of distinct visitors: as long again as the per-key one)."""
    key_names = ("key", "key2")[: len(click_keys)]
    click_rows = select(
        *(k.label(n) for k, n in zip(click_keys, key_names)), clicks.c.kind, clicks.c.visitor_hash
    ).where(*click_where).subquery("c")
    ck = [click_rows.c[n] for n in key_names]
    keyed_c = dict(zip(key_names, ck))
    if click_totals is None:
        click_totals = [_branch("C", where=click_where, from_=clicks, **_click_counts(dialect))]
    return [
        _branch("c", where=[], group=ck, from_=click_rows, **keyed_c, **_click_counts(dialect, click_rows)),
        *click_totals,
        *orders_of.branches(),
    ]


@dataclass(frozen=True)
class OrderQuery:
    """Which orders a report counts (`where`), what keys them (`keys`; the keys of their click:
    `click_keys`, for the conversion rate), and the currency revenue is converted to."""

    period: Period
    dialect: str
    currency: str
    where: list[ColumnElement]
    keys: Sequence[ColumnElement]
    click_keys: Sequence[ColumnElement]

    def branches(self) -> list[Select]:
        rows = _order_rows(self.where, self.keys, self.click_keys, self.dialect)
        return [
            *_order_branches(rows, len(self.keys), self.currency),
            *_converter_branches(rows, len(self.keys), self.period),
        ]


# The keys of an order's click, as attribution copied them onto the order.
CLICK_KEY = {"channel": orders.c.channel, "link": orders.c.link_id, "app": orders.c.app, "country": orders.c.click_country}
BUCKETS = ("day", "week", "month")


def campaign_report(campaign_id: int, group_by: GroupBy, period: Period, dialect: str, currency: str) -> CompoundSelect:
    """Rows and totals from the campaign's roll-ups (counts exact; unique visitors estimated
    beyond a few hundred), orders from the orders. Day, week and month rows of a zone with a
    half-hour offset, and country rows (the roll-ups keep no country), are counted from the
    clicks, exactly."""
    totals = _rollup_branches(period, campaign_id, per_campaign=False)
    of_campaign = [orders.c.campaign_id == campaign_id, *_attributed_orders(period)]
    if group_by in BUCKETS:
        click_key = day_bucket(clicks.c.occurred_at, period, dialect, group_by)
        orders_of = OrderQuery(period, dialect, currency, of_campaign,
                               [day_bucket(orders.c.ordered_at, period, dialect, group_by)],
                               [day_bucket(orders.c.clicked_at, period, dialect, group_by)])
        rows = _day_rows(period, campaign_id, dialect, group_by)
        if rows is None:
            return union_all(*_metric_union(
                dialect, [clicks.c.campaign_id == campaign_id, _in_period(clicks.c.occurred_at, period)],
                [click_key], orders_of, totals))
    elif group_by == "country":
        # An order's country is its click's; orders credited without a click have none (null).
        orders_of = OrderQuery(period, dialect, currency, of_campaign, [orders.c.click_country], [orders.c.click_country])
        return union_all(*_metric_union(
            dialect, [clicks.c.campaign_id == campaign_id, _in_period(clicks.c.occurred_at, period)],
            [clicks.c.country], orders_of, totals))
    else:
        column = {"channel": "channel", "link": "link_id", "app": "app"}[group_by]
        orders_of = OrderQuery(period, dialect, currency, of_campaign, [orders.c[column]], [CLICK_KEY[group_by]])
        rows = _link_rows(period, campaign_id, [column])
    return union_all(*rows, *totals, *orders_of.branches())


def overview(period: Period, dialect: str, currency: str, workspace_id: int) -> CompoundSelect:
    """One row per campaign of the workspace, all from the roll-ups and the orders."""
    orders_of = OrderQuery(period, dialect, currency, [orders.c.workspace_id == workspace_id,
                                                       orders.c.campaign_id.is_not(None), *_attributed_orders(period)],
                           [orders.c.campaign_id], [orders.c.campaign_id])
    return union_all(*_rollup_branches(period, None, per_campaign=True, workspace_id=workspace_id),
                     *orders_of.branches())


def forwarding(campaign_id: int | None, period: Period, dialect: str, currency: str, workspace_id: int) -> CompoundSelect:
    """Declared channel × detected app. Orders too, by the channel and app of their click.
    One campaign: from its roll-ups. Across all campaigns, from the clicks: that includes clicks
    of links in no campaign (any more), which the roll-ups leave out."""
    order_where = [orders.c.workspace_id == workspace_id, *_attributed_orders(period)]
    if campaign_id is not None:
        order_where.append(orders.c.campaign_id == campaign_id)
    orders_of = OrderQuery(period, dialect, currency, order_where, [orders.c.channel, orders.c.app],
                           [orders.c.channel, orders.c.app])
    if campaign_id is None:
        return union_all(*_metric_union(dialect, [clicks.c.workspace_id == workspace_id,
                                                  _in_period(clicks.c.occurred_at, period)],
                                        [clicks.c.channel, clicks.c.app], orders_of))
    return union_all(
        *_link_rows(period, campaign_id, ["channel", "app"]),
        *_rollup_branches(period, campaign_id, per_campaign=False),
        *orders_of.branches(),
    )


def unattributed(period: Period, dialect: str, currency: str, workspace_id: int) -> CompoundSelect:
    """Per order source: orders no method credited (with their revenue), orders still pending,
    and all orders of the period (cancelled and unpaid ones left out everywhere). Aggregated
    once per source, currency and day, like the orders of the other reports."""
    lost = orders.c.attribution_state == "unattributed"
    net = orders.c.amount_minor - orders.c.refunded_minor
    day = _order_day(orders.c.ordered_at, dialect)
    per_day = select(
        orders.c.source_id.label("key"), orders.c.currency, day.label("day"),
        func.count(case((lost, 1))).label("orders"),
        func.count(case((orders.c.attribution_state == "pending", 1))).label("pending"),
        func.count().label("all_orders"),
        func.sum(case((and_(lost, net > 0), net), else_=0)).label("revenue_minor"),
    ).where(
        orders.c.workspace_id == workspace_id, orders.c.status.not_in(NOT_SALES), _in_period(orders.c.ordered_at, period)
    ).group_by(orders.c.source_id, orders.c.currency, day).cte("ud")
    per_currency = _converted_per_currency(per_day, ["key"], currency, ["orders", "pending", "all_orders"], "uc")
    counts = {name: func.coalesce(func.sum(per_currency.c[name]), 0) for name in ("orders", "pending", "all_orders")}
    with_lost = [per_currency.c.orders > 0]  # a currency appears in the revenue once an order of it is lost
    money = {n: per_currency.c[n] for n in ("revenue_minor", "converted", "missing_rates")}
    return union_all(
        _branch("n", where=[], group=[per_currency.c.key], from_=per_currency, key=per_currency.c.key, **counts),
        _branch("N", where=[], from_=per_currency, **counts),
        _branch("o", where=with_lost, from_=per_currency, key=per_currency.c.key, currency=per_currency.c.currency,
                **money),
        _branch("O", where=with_lost, group=[per_currency.c.currency], from_=per_currency,
                currency=per_currency.c.currency, **{n: func.sum(c) for n, c in money.items()}),
    )


def campaign_revenue(dialect: str, currency: str, workspace_id: int | None = None) -> Subquery:
    """(campaign_id, amount): every campaign's net revenue of all time in `currency` (orders
    without a rate left out), to sort campaigns by. Scaled to major units here, in SQL, by a CASE
    over the few currencies whose minor unit is not 2 places."""
    day = _order_day(orders.c.ordered_at, dialect)
    per_day = select(
        orders.c.campaign_id, orders.c.currency, day.label("day"), _net_revenue().label("revenue_minor"),
    ).where(
        *([] if workspace_id is None else [orders.c.workspace_id == workspace_id]),
        orders.c.campaign_id.is_not(None), orders.c.attribution_state == "attributed", orders.c.status.not_in(NOT_SALES),
    ).group_by(orders.c.campaign_id, orders.c.currency, day).subquery("rd")
    places = unusual_minor_units()
    scale = case(*((per_day.c.currency == c, literal_column(str(10 ** p))) for c, p in places.items()),
                 else_=literal_column("100"))
    converted = per_day.c.revenue_minor * _factor(per_day.c.currency, per_day.c.day, currency)
    return select(per_day.c.campaign_id, func.sum(converted * literal_column("1.0") / scale).label("amount")).group_by(
        per_day.c.campaign_id).subquery("campaign_revenue")
