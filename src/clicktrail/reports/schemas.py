"""Response shapes of the reports (API.md: Reports). Money is a decimal string per currency."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


ESTIMATED = (
    "True when a unique visitor count here (and so its conversion rate) is an estimate: totals, and "
    "the overview's rows, come from the hourly roll-ups' HyperLogLog sketches, exact up to a few "
    "hundred visitors and about 1.6% standard error beyond. Rows of the other reports are exact."
)

RAW_CLICKS_SINCE = (
    "Since when raw clicks are kept (ISO time), null when all are: the click retention "
    "(CLICKTRAIL_CLICK_RETENTION_DAYS) dropped older ones. Days before it are counted from the roll-ups "
    "only (day rows say `rollup_only`): whole UTC hours and days keep their numbers; minutes at the edges "
    "of a period given to the minute, and days of zones with half-hour offsets, are no longer counted."
)


class Converted(BaseModel):
    currency: str = Field(description="The report's currency (`currency=`, default the reporting currency).")
    amount: str = Field(description="Net revenue converted at each order's date (the ECB rate of that day or "
                                    "the latest before), rounded once to the currency's places.")
    missing_rates: int = Field(description="Orders left out of `amount`: no rate of their currency on or before "
                                           "their date. Never silently zero.")


class Numbers(BaseModel):
    clicks: int = Field(description="Hits of kind `click` (people).")
    unique_visitors: int = Field(description="Distinct visitors among the clicks.")
    previews: int = Field(description="Link previews fetched by chat apps: the link was shared.")
    bots: int
    orders: int = Field(description="Attributed orders, cancelled and unpaid ones excluded; every method.")
    orders_via_coupon: int = Field(description="Of `orders`, those credited by a referral link's coupon code.")
    orders_via_customer: int = Field(description="Of `orders`, those credited to the customer's earlier identified click.")
    ordering_visitors: int = Field(description="Visitors of this row's clicks who ordered through that click "
                                               "(the order carried its click id).")
    revenue: dict[str, str] = Field(description="Net of refunds, per currency, exact decimal strings.")
    revenue_converted: Converted
    conversion_rate: float | None = Field(description="ordering_visitors / unique_visitors (at most 1); null "
                                                      "without visitors. Coupon, UTM and customer orders count in "
                                                      "orders and revenue, not here.")
    taps_per_share: float | None = Field(
        description="clicks / previews: people who tapped per chat preview drawn (each share in a chat "
        "draws one); null without previews.")
    revenue_per_click: dict[str, str] = Field(description="revenue / clicks per currency; {} without clicks.")


class _Key(BaseModel):
    key: str | int | None = Field(description="Channel, link id, app (null: none detected), local date, campaign id.")


class Row(Numbers, _Key):  # (fields of the last base come first: the key leads)
    model_config = ConfigDict(extra="allow")  # labels: a link's code and channel, a campaign's name


class Report(BaseModel):
    model_config = ConfigDict(extra="allow")

    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    tz: str
    raw_clicks_since: str | None = Field(None, description=RAW_CLICKS_SINCE)
    currency: str
    unique_visitors_estimated: bool = Field(description=ESTIMATED)
    rows: list[Row]
    totals: Numbers


class ForwardingRow(Numbers):
    channel: str | None = Field(description="The link's declared channel.")
    app: str | None = Field(description="The app the request came from; null when none was detected.")
    forwarded: bool = Field(description="Opened in (or previewed by) another app than the link was made for.")


class ForwardingReport(BaseModel):
    campaign_id: int | None
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    tz: str
    raw_clicks_since: str | None = Field(None, description=RAW_CLICKS_SINCE)
    currency: str
    unique_visitors_estimated: bool = Field(description=ESTIMATED)
    rows: list[ForwardingRow]
    totals: Numbers


class UnattributedNumbers(BaseModel):
    orders: int = Field(description="Orders no attribution method credited.")
    pending: int = Field(description="Orders still waiting for their click.")
    all_orders: int = Field(description="Every order of the source in the period.")
    revenue: dict[str, str] = Field(description="Net revenue of the unattributed orders, per currency.")
    revenue_converted: Converted


class UnattributedRow(UnattributedNumbers):
    key: int = Field(description="Order source id.")
    name: str | None
    platform: str | None


class UnattributedReport(BaseModel):
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    tz: str
    currency: str
    rows: list[UnattributedRow]
    totals: UnattributedNumbers
