"""HTTP API of the reports: JSON by default, CSV with `?format=csv` or `Accept: text/csv`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from clicktrail.auth.deps import writes_need
from clicktrail.db import SessionDep
from clicktrail.reports import service
from clicktrail.reports.export import to_csv
from clicktrail.reports.period import Period, PeriodError, parse_period
from clicktrail.reports.queries import GroupBy
from clicktrail.reports.schemas import ForwardingReport, Report, UnattributedReport
from clicktrail.params import IdFilter, IdPath

router = APIRouter(prefix="/api/reports", tags=["reports"], dependencies=[writes_need("viewer")])

NUMBER_COLUMNS = ["clicks", "unique_visitors", "previews", "bots", "orders", "orders_via_coupon", "orders_via_customer",
                  "ordering_visitors", "conversion_rate", "taps_per_share"]


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["query", field], "msg": message, "type": "value_error"}])


def reporting_defaults(request: Request) -> tuple[str, str]:
    """(currency, time zone) of reports that name none: the caller's workspace's, else the
    installation's settings (CLICKTRAIL_REPORTING_CURRENCY, CLICKTRAIL_TIMEZONE)."""
    settings = request.app.state.settings
    subject = getattr(request.state, "subject", None)
    return subject.reporting(settings) if subject is not None else (settings.reporting_currency, settings.timezone)


def period(
    request: Request,
    from_: Annotated[str | None, Query(alias="from", max_length=40, description="Date (local, inclusive) or ISO time.")] = None,
    to: Annotated[str | None, Query(max_length=40, description="Date (local, inclusive) or ISO time (exclusive).")] = None,
    tz: Annotated[str | None, Query(max_length=64, description="IANA time zone of dates, days, weeks and months "
                                                          "(default: the reporting time zone).")] = None,
) -> Period:
    try:
        return parse_period(from_, to, tz or reporting_defaults(request)[1])
    except PeriodError as exc:
        raise _invalid(exc.field, str(exc)) from None


def currency(
    request: Request,
    currency: Annotated[str | None, Query(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$",
                                          description="ISO 4217 code revenue is converted to (revenue_converted).")] = None,
) -> str:
    return (currency or reporting_defaults(request)[0]).upper()


PeriodDep = Annotated[Period, Depends(period)]
CurrencyDep = Annotated[str, Depends(currency)]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv, or send Accept: text/csv")]


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    best_csv = best_json = 0.0
    for item in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for p in params:
            name, _, value = p.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media.lower() == "text/csv":
            best_csv = max(best_csv, q)
        elif media.lower() in ("application/json", "*/*", "application/*"):
            best_json = max(best_json, q if media.lower() == "application/json" else q - 0.001)
    return best_csv > 0 and best_csv >= best_json


def _csv_response(report: dict[str, Any], columns: list[str], name: str, period: Period) -> Response:
    days = period.local_days()
    filename = f"clicktrail-{name}-{days[0].isoformat()}-to-{days[-1].isoformat()}.csv"
    return Response(
        to_csv(report, columns),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _run(coro: Any) -> dict[str, Any]:
    try:
        return await coro
    except PeriodError as exc:
        raise _invalid(exc.field, str(exc)) from None


@router.get("/campaigns/{campaign_id}", response_model=Report, responses={200: {"content": {"text/csv": {}}}})
async def campaign_report(
    campaign_id: IdPath,
    request: Request,
    session: SessionDep,
    period: PeriodDep,
    currency: CurrencyDep,
    group_by: GroupBy = "channel",
    format: Format = None,
) -> Any:
    """Clicks, unique visitors, previews, bots, orders and revenue of one campaign, per channel,
    link, detected app, country (of the click), or local day, week (from Monday) or month."""
    report = await _run(service.campaign_report(session, request.app.state.link_context, campaign_id, group_by,
                                                period, currency))
    if _wants_csv(request, format):
        labels = ["code", "channel", "referrer"] if group_by == "link" else []
        if group_by == "day" and report["raw_clicks_since"]:
            labels = ["rollup_only"]  # some days are counted from the roll-ups alone
        return _csv_response(report, ["key", *labels, *NUMBER_COLUMNS], f"campaign-{campaign_id}-by-{group_by}", period)
    return report


@router.get("/overview", response_model=Report, responses={200: {"content": {"text/csv": {}}}})
async def overview(request: Request, session: SessionDep, period: PeriodDep, currency: CurrencyDep,
                   format: Format = None) -> Any:
    """The same numbers with one row per campaign."""
    report = await _run(service.overview(session, period, currency))
    if _wants_csv(request, format):
        return _csv_response(report, ["key", "name", "slug", *NUMBER_COLUMNS], "overview", period)
    return report


@router.get("/forwarding", response_model=ForwardingReport, responses={200: {"content": {"text/csv": {}}}, 404: {"description": "no such campaign"}})
async def forwarding(
    request: Request, session: SessionDep, period: PeriodDep, currency: CurrencyDep, campaign_id: IdFilter = None,
    format: Format = None,
) -> Any:
    """Declared channel × detected app: where links made for one chat were opened or shared."""
    report = await _run(service.forwarding(session, campaign_id, period, currency))
    if _wants_csv(request, format):
        name = f"forwarding-campaign-{campaign_id}" if campaign_id is not None else "forwarding"
        return _csv_response(report, ["channel", "app", "forwarded", *NUMBER_COLUMNS], name, period)
    return report


@router.get("/unattributed", response_model=UnattributedReport, responses={200: {"content": {"text/csv": {}}}})
async def unattributed(request: Request, session: SessionDep, period: PeriodDep, currency: CurrencyDep,
                       format: Format = None) -> Any:
    """Orders of the period that no attribution method credited, per order source."""
    report = await _run(service.unattributed(session, period, currency))
    if _wants_csv(request, format):
        return _csv_response(report, ["key", "name", "platform", "orders", "pending", "all_orders"], "unattributed", period)
    return report
