"""The marketers' web app: pages and form posts (HTML only; the logic lives in the services).

Every page is a real route, so its single-segment path ("/login", "/setup", "/settings") is never
taken for a short code by the front door. Forms post back to the page's own path; a refused form
is shown again with the message beside its field, what was typed kept, and nothing stored (the
session is rolled back). Success redirects (303) so a reload never posts twice.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile

from clicktrail.auth import service as auth
from clicktrail.auth import throttle
from clicktrail.auth.models import User
from clicktrail.clicks.models import Click
from clicktrail.db import SessionDep, utcnow
from clicktrail.errors import Conflict, Forbidden, Invalid, NotFound
from clicktrail.links import duplicate
from clicktrail.links import service as links
from clicktrail.links.models import Campaign, Link
from clicktrail.links.schemas import CampaignCreate, CampaignUpdate, LinkCreate, LinkUpdate, ReferralCreate
from clicktrail.redirect.cache import links_changed
from clicktrail.params import IdPath
from clicktrail.reports.export import to_csv
from clicktrail.reports.queries import campaign_revenue
from clicktrail.reports.router import reporting_defaults
from clicktrail.settings import Settings
from clicktrail.vocabulary import CHANNELS
from clicktrail.conversions.models import Order
from clicktrail.web import bulk_pages, cards, orders, outbound, reporting, sources, workspace_pages
from clicktrail.web.countries import clicks_by_country
from clicktrail.web.format import channel_name
from clicktrail.web.forms import Errors, field_errors, invalid_error, missing_scheme, optional, parse_referral_csv, text
from clicktrail.web.qr import MEDIA_TYPES, render_qr
from clicktrail.web.session import (
    AdminDep, CsrfRefused, EditorDep, RefusedPage, SignInRequired, UserDep, add_session_middleware,
    checked_form, login_path, safe_next, sign_in, sign_out, signed_in_user, subject_of,
)
from clicktrail.web.templating import HERE, flash, render
from clicktrail.workspaces import members
from clicktrail.workspaces.models import Workspace
from clicktrail.workspaces.service import effective_settings, update_workspace

router = APIRouter(include_in_schema=False)

CSV_REPORTS = {"channel": "by channel", "link": "by link", "app": "by app", "day": "by day", "forwarding": "forwarding"}
NUMBER_COLUMNS = ["clicks", "unique_visitors", "previews", "bots", "orders", "conversion_rate", "taps_per_share"]


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the web app: its routes, static files, the session cookie and its error pages."""
    # Each route goes on the app itself, not through include_router: the short-link front door
    # knows only the app's own single-segment paths (/login, /setup, /settings), and would
    # otherwise take them for codes.
    # The bulk pages first: /links/import must not be taken for /links/{link_id}.
    for route in [*bulk_pages.router.routes, *cards.router.routes, *workspace_pages.router.routes, *router.routes]:
        assert isinstance(route, APIRoute)
        app.add_api_route(route.path, route.endpoint, methods=sorted(route.methods), name=route.name,
                          include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    add_session_middleware(app, settings)

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(login_path(exc.next_path), 303)

    @app.exception_handler(RefusedPage)  # no workspace, a role too low
    async def _refused(_request: Request, exc: RefusedPage) -> Response:
        return exc.response

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _exc: CsrfRefused) -> Response:
        return render(request, "error.html", 403, title="This form has expired",
                      message="The page was open too long or came from elsewhere. Go back, reload it and try again.")


def _tz(request: Request) -> str:
    """The time zone of every day, week and chart of the pages: the workspace's reporting time
    zone, else the installation's."""
    return reporting_defaults(request)[1]


async def _currency(request: Request, session: SessionDep) -> str:
    return await reporting.report_currency(session, reporting_defaults(request)[0])


def _ctx(request: Request) -> links.LinkContext:
    return links.context_for(request)


async def _changed(request: Request, session: SessionDep, *changed: Link) -> None:
    ctx = _ctx(request)
    await links_changed(session, request.app.state.link_cache, [ctx.change_of(l) for l in changed])


async def _rollback(session: SessionDep, user: User) -> None:
    """Store nothing of a refused form; the signed-in user stays usable for the page, and so do
    the workspaces its header names (the subject's among them)."""
    await session.rollback()
    await session.refresh(user)
    for workspace in [o for o in session.sync_session.identity_map.values() if isinstance(o, Workspace)]:
        await session.refresh(workspace)


def _not_found(request: Request, user: User, what: str) -> Response:
    return render(request, "error.html", 404, user=user, title=f"{what} not found",
                  message=f"This {what.lower()} does not exist (any more).")


# --- signing in -------------------------------------------------------------------------------

@router.get("/login")
async def login_page(request: Request, session: SessionDep, next: str = "/") -> Response:
    if not await auth.count_users(session):
        return RedirectResponse("/setup", 303)
    if await signed_in_user(request, session):
        return RedirectResponse(safe_next(next), 303)
    return render(request, "login.html", values={"next": safe_next(next)})


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    form = await checked_form(request)
    email, password = auth.normalise_email(text(form, "email")), str(form.get("password") or "")
    values = {"email": email, "next": safe_next(text(form, "next"))}
    errors: Errors = {}
    if not email:
        errors["email"] = "Enter your email address."
    if not password:
        errors["password"] = "Enter your password."
    if errors:
        return render(request, "login.html", 422, errors=errors, values=values)
    # Counted before the password is checked, for unknown emails exactly as for known ones.
    client = request.client.host if request.client else ""
    attempt = await throttle.count_try(session, throttle.keys(request.app.state.settings.resolved_secret_key,
                                                              email[:320], client))
    if attempt.wait_seconds:
        wait = attempt.wait_seconds
        return render(request, "login.html", 429, values=values, errors={
            "form": f"Too many wrong passwords. Wait {wait} second{'s' * (wait != 1)} and try again."
        })
    user = await session.scalar(select(User).where(User.email == email[:320]))
    if await auth.verify_password_async(user.password_hash if user else None, password):
        assert user is not None
        await throttle.succeeded(session, attempt)
        await sign_in(request, session, user)
        return RedirectResponse(values["next"], 303)
    await throttle.failed(session, attempt)
    return render(request, "login.html", 401, values=values,
                  errors={"password": "Wrong email or password. Check both and try again."})


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    await checked_form(request)
    await sign_out(request, session)
    flash(request, "You are signed out.")
    return RedirectResponse("/login", 303)


@router.get("/setup")
async def setup_page(request: Request, session: SessionDep, token: str = "") -> Response:
    if await auth.count_users(session):
        return RedirectResponse("/login", 303)
    if not await auth.setup_token_valid(session, token):
        return _setup_link_needed(request)
    return render(request, "setup.html", values={"token": token})


def _setup_link_needed(request: Request) -> Response:
    # Whoever reaches /setup first must not become the admin: the link `clicktrail serve` logged
    # (or `clicktrail user create`) is the proof of owning the installation.
    return render(request, "error.html", 403, title="Setup link needed",
                  message="Open the one-time setup link that `clicktrail serve` wrote to its log, or make the "
                          "first account with `clicktrail user create --email you@example.com`.")


@router.post("/setup")
async def setup(request: Request, session: SessionDep) -> Response:
    form = await checked_form(request)
    if await auth.count_users(session):  # only while no account exists, ever
        return RedirectResponse("/login", 303)
    token = text(form, "token")
    if not await auth.setup_token_valid(session, token):
        return _setup_link_needed(request)
    email, password = text(form, "email"), str(form.get("password") or "")
    errors = _account_errors(email, password, str(form.get("password_again") or ""))
    if not errors:
        if not await auth.claim_setup(session):  # another setup won the race: it made the admin
            return RedirectResponse("/login", 303)
        await auth.use_setup_token(session, token)
        user = await auth.create_first_admin(session, email, password)
        await sign_in(request, session, user)
        flash(request, "Welcome! Your admin account is ready. Start with a campaign.")
        return RedirectResponse("/", 303)
    return render(request, "setup.html", 422, errors=errors, values={"email": email, "token": token})


def _account_errors(email: str, password: str, again: str | None) -> Errors:
    errors: Errors = {}
    email = auth.normalise_email(email)
    if "@" not in email or len(email) > 320 or " " in email:
        errors["email"] = "Enter a valid email address."
    if len(password) < 8:
        errors["password"] = "Use at least 8 characters."
    elif len(password) > 1024:
        errors["password"] = "Use at most 1,024 characters."
    elif again is not None and again != password:
        errors["password_again"] = "The two passwords differ."
    return errors


# --- home and campaigns -------------------------------------------------------------------------

HOME_PAGE = 25
HOME_SORTS = {"created": "Newest", "name": "Name", "revenue": "Revenue"}


@router.get("/")
async def home(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Active campaigns (or the archived ones), found by name, sorted, a page at a time."""
    q_params = request.query_params
    q = (q_params.get("q") or "").strip()[:200]
    sort = q_params.get("sort") if q_params.get("sort") in HOME_SORTS else "created"
    show_archived = q_params.get("archived") == "1"
    try:
        after = max(int(q_params.get("after") or 0), 0) or None
    except ValueError:
        after = None
    period = reporting.parse_period(None, None, _tz(request))
    currency = await _currency(request, session)
    revenue = campaign_revenue(session.bind.dialect.name, currency) if sort == "revenue" else None
    campaigns = await links.list_campaigns(session, HOME_PAGE + 1, after, q=q or None, archived=show_archived,
                                           sort=sort, revenue=revenue)
    more, campaigns = len(campaigns) > HOME_PAGE, campaigns[:HOME_PAGE]
    numbers, totals = await reporting.overview(session, period, currency)
    channels = await links.links_of_campaigns(session, [c.id for c in campaigns])
    rows = [
        {"campaign": c, "numbers": numbers.get(c.id, reporting.zero(currency)),
         "channels": sorted({l.channel for l in channels[c.id] if l.referrer is None})}
        for c in campaigns
    ]
    following = None
    if more:
        following = campaigns[-1].id if sort == "created" else (after or 0) + len(campaigns)
    query = {"q": q, "sort": sort, **({"archived": "1"} if show_archived else {})}
    any_campaign = bool(rows) or bool(q) or show_archived or bool(await session.scalar(select(func.count()).select_from(Campaign)))
    return render(request, "home.html", user=user, rows=rows, totals=totals, q=q, sort=sort, sorts=HOME_SORTS,
                  show_archived=show_archived, any_campaign=any_campaign, currency=currency,
                  next_query=urlencode({**query, "after": following}) if following else None,
                  first_query=urlencode(query) if after else None, tz_name=_tz(request))


@router.get("/campaigns/new")
async def new_campaign_page(request: Request, user: EditorDep) -> Response:
    return render(request, "campaign_new.html", user=user, values={"channels": []})


@router.post("/campaigns/new")
async def new_campaign(request: Request, session: SessionDep, user: EditorDep) -> Response:
    form = await checked_form(request)
    values: dict[str, Any] = {
        "name": text(form, "name"), "destination_url": text(form, "destination_url"),
        "channels": [c for c in form.getlist("channels") if isinstance(c, str)], "utm_medium": optional(form, "utm_medium"),
    }
    errors: Errors = {}
    if not values["channels"]:
        errors["channels"] = "Pick at least one channel: each gets its own short link."
    try:
        data = CampaignCreate(**values)
    except ValidationError as exc:
        errors = {**field_errors(exc), **errors}
    if not errors:
        try:
            campaign, made = await links.create_campaign(session, _ctx(request), data)
        except Invalid as exc:
            errors = invalid_error(exc)
        except Conflict as exc:
            errors = {"name": str(exc)}
    if errors:
        await _rollback(session, user)
        return render(request, "campaign_new.html", 422, user=user, errors=errors, values=values)
    await _changed(request, session, *made)
    flash(request, f"“{campaign.name}” is ready: {len(made)} short link{'s' * (len(made) != 1)} to share.")
    return RedirectResponse(f"/campaigns/{campaign.id}", 303)


async def _campaign_page(request: Request, session: SessionDep, user: User, campaign_id: int, status: int = 200,
                         **extra: Any) -> Response:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return _not_found(request, user, "Campaign")
    q = request.query_params
    period_errors: Errors = {}
    try:
        period = reporting.parse_period(q.get("from") or None, q.get("to") or None, _tz(request))
    except reporting.PeriodError as exc:
        period_errors[exc.field] = str(exc)[:1].upper() + str(exc)[1:]
        period = reporting.parse_period(None, None, _tz(request))
    ctx = _ctx(request)
    currency = await _currency(request, session)
    all_links = (await links.links_of_campaigns(session, [campaign.id]))[campaign.id]
    numbers = await reporting.campaign_numbers(session, ctx, campaign.id, period, currency)
    extra.setdefault("countries", await clicks_by_country(session, campaign_id=campaign.id, period=period))
    days = period.local_days()
    range_query = f"from={days[0].isoformat()}&to={days[-1].isoformat()}"
    link_rows = [{"link": l, "out": ctx.out(l), "numbers": numbers.by_link.get(l.id, reporting.zero(currency)),
                  "state": _state(l)} for l in all_links]
    return render(
        request, "campaign.html", status, user=user, campaign=campaign, numbers=numbers,
        channel_links=[r for r in link_rows if r["link"].referrer is None],
        referral_links=[r for r in link_rows if r["link"].referrer is not None],
        period_from=days[0].isoformat(), period_to=days[-1].isoformat(), period_days=len(days),
        period_errors=period_errors, range_query=range_query, csv_reports=CSV_REPORTS, tz_name=_tz(request),
        presets=_presets(),
        **extra,
    )


@router.post("/campaigns/{campaign_id}/edit")
async def edit_campaign(campaign_id: IdPath, request: Request, session: SessionDep, user: EditorDep) -> Response:
    """Rename and move the campaign; every field's problem is shown at once, nothing is stored."""
    form = await checked_form(request)
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return _not_found(request, user, "Campaign")
    values = {"name": text(form, "name"), "destination_url": text(form, "destination_url")}
    errors: Errors = {}
    if not values["name"]:
        errors["name"] = "Give the campaign a name."
    if not values["destination_url"]:
        errors["destination_url"] = "Where should the links send people? Add https://…"
    elif hint := missing_scheme(values["destination_url"]):
        errors["destination_url"] = hint
    moved: list[Link] = []
    try:
        data = CampaignUpdate(**{k: v for k, v in values.items() if v})
    except ValidationError as exc:
        errors = {**field_errors(exc), **errors}
    else:
        try:
            _campaign, moved = await links.update_campaign(session, _ctx(request), campaign_id, data)
        except Invalid as exc:
            errors = {**errors, **invalid_error(exc)}
    if errors:
        await _rollback(session, user)
        if hint := missing_scheme(values["destination_url"]):
            errors["destination_url"] = hint
        return await _campaign_page(request, session, user, campaign_id, 422, edit_errors=errors, edit_values=values,
                                    open_form="edit")
    await _changed(request, session, *moved)
    note = f" {len(moved)} link{'s' * (len(moved) != 1)} now send people there." if moved else ""
    flash(request, f"Saved.{note}")
    return RedirectResponse(f"/campaigns/{campaign_id}", 303)


@router.post("/campaigns/{campaign_id}/archive")
async def archive_campaign(campaign_id: IdPath, request: Request, session: SessionDep, user: EditorDep) -> Response:
    form = await checked_form(request)
    if await session.get(Campaign, campaign_id) is None:
        return _not_found(request, user, "Campaign")
    archive = text(form, "archived") != "false"
    campaign, _moved = await links.update_campaign(session, _ctx(request), campaign_id, CampaignUpdate(archived=archive))
    flash(request, f"“{campaign.name}” archived: it left the campaigns list, its links keep working."
          if archive else f"“{campaign.name}” is back in the campaigns list.")
    return RedirectResponse(f"/campaigns/{campaign_id}", 303)


@router.post("/campaigns/{campaign_id}/duplicate")
async def duplicate_campaign(campaign_id: IdPath, request: Request, session: SessionDep, user: EditorDep) -> Response:
    await checked_form(request)
    if await session.get(Campaign, campaign_id) is None:
        return _not_found(request, user, "Campaign")
    campaign, made = await duplicate.duplicate_campaign(session, _ctx(request), campaign_id)
    await _changed(request, session, *made)
    flash(request, f"“{campaign.name}” made, with {len(made)} link{'s' * (len(made) != 1)} like the original's. "
                   "Rename it below.")
    return RedirectResponse(f"/campaigns/{campaign.id}", 303)


@router.post("/campaigns/{campaign_id}/delete")
async def delete_campaign(campaign_id: IdPath, request: Request, session: SessionDep, user: EditorDep) -> Response:
    await checked_form(request)
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return _not_found(request, user, "Campaign")
    name = campaign.name
    try:
        removed = await links.delete_campaign(session, campaign_id)
    except Conflict:
        flash(request, f"“{name}” cannot be deleted: its links were clicked, and those numbers are history. "
                       "Archive it instead.", "error")
        return RedirectResponse(f"/campaigns/{campaign_id}", 303)
    await links_changed(session, request.app.state.link_cache, [_ctx(request).change_of(l) for l in removed])
    flash(request, f"“{name}” and its {len(removed)} link{'s' * (len(removed) != 1)} were deleted.")
    return RedirectResponse("/", 303)


def _presets() -> list[tuple[str, str]]:
    today = datetime.now(timezone.utc).date()
    return [(label, f"from={(today - timedelta(days=n - 1)).isoformat()}&to={today.isoformat()}")
            for n, label in ((7, "7 days"), (30, "30 days"), (90, "90 days"))]


def _state(link: Link) -> str | None:
    if link.disabled:
        return "Disabled"
    if link.expires_at is not None and link.expires_at <= utcnow():
        return "Expired"
    if link.max_clicks is not None and link.click_count >= link.max_clicks:
        return "Used up"
    return None


@router.get("/campaigns/{campaign_id}")
async def campaign_page(campaign_id: int, request: Request, session: SessionDep, user: UserDep) -> Response:
    return await _campaign_page(request, session, user, campaign_id)


@router.post("/campaigns/{campaign_id}/links")
async def add_link(campaign_id: int, request: Request, session: SessionDep, user: EditorDep) -> Response:
    form = await checked_form(request)
    values = {"channel": text(form, "channel"), "slug": optional(form, "slug"),
              "destination_url": optional(form, "destination_url"), "label": optional(form, "label")}
    errors: Errors = {}
    try:
        data = LinkCreate(campaign_id=campaign_id, **values)
        link = await links.create_link(session, _ctx(request), data)
    except ValidationError as exc:
        errors = field_errors(exc)
    except Invalid as exc:
        errors = invalid_error(exc)
    except Conflict as exc:
        errors = {"slug": str(exc)[:1].upper() + str(exc)[1:] + "."}
    except NotFound:
        return _not_found(request, user, "Campaign")
    if errors:
        await _rollback(session, user)
        return await _campaign_page(request, session, user, campaign_id, 422, link_errors=errors, link_values=values,
                                    open_form="link")
    await _changed(request, session, link)
    flash(request, f"Added a {channel_name(link.channel)} link.")
    return RedirectResponse(f"/campaigns/{campaign_id}#links", 303)


@router.post("/campaigns/{campaign_id}/referrals")
async def add_referrals(campaign_id: int, request: Request, session: SessionDep, user: EditorDep) -> Response:
    form = await checked_form(request)
    upload = form.get("file")
    pasted = text(form, "rows")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(2_000_000)
        pasted = raw.decode("utf-8", "replace")
    values = {"referrer": text(form, "referrer"), "coupon_code": optional(form, "coupon_code"),
              "channel": text(form, "channel") or "other", "rows": text(form, "rows")}
    errors: Errors = {}
    rows: list[dict[str, Any]] = []
    if pasted:
        parsed, problem = parse_referral_csv(pasted)
        if problem:
            errors["rows"] = problem
        rows = [{**r, "channel": values["channel"]} for r in parsed]
    elif values["referrer"]:
        rows = [{"referrer": values["referrer"], "coupon_code": values["coupon_code"], "channel": values["channel"]}]
    else:
        errors["referrer"] = "Enter who shares the link, or paste/upload a CSV of referrer,coupon_code."
    made: list[Link] = []
    if not errors:
        try:
            data = [ReferralCreate(**r) for r in rows]
            made = await links.create_referrals(session, _ctx(request), campaign_id, data)
        except ValidationError as exc:
            errors = field_errors(exc, "")
            if pasted:
                errors = {"rows": "A row is not valid: " + "; ".join(errors.values())}
        except (Conflict, IntegrityError) as exc:
            message = str(exc) if isinstance(exc, Conflict) else "A coupon code is already used in this campaign"
            errors = {"rows" if pasted else "coupon_code": message[:1].upper() + message[1:] + "."}
        except NotFound:
            return _not_found(request, user, "Campaign")
    if errors:
        await _rollback(session, user)
        return await _campaign_page(request, session, user, campaign_id, 422, referral_errors=errors,
                                    referral_values=values, open_form="referral")
    await _changed(request, session, *made)
    flash(request, f"Made {len(made):,} referral link{'s' * (len(made) != 1)}.")
    return RedirectResponse(f"/campaigns/{campaign_id}#referrals", 303)


@router.get("/campaigns/{campaign_id}/export")
async def export_csv(campaign_id: int, request: Request, session: SessionDep, user: UserDep,
                     report: str = "channel") -> Response:
    if report not in CSV_REPORTS or await session.get(Campaign, campaign_id) is None:
        return _not_found(request, user, "Report")
    q = request.query_params
    try:
        period = reporting.parse_period(q.get("from") or None, q.get("to") or None, _tz(request))
    except reporting.PeriodError:
        period = reporting.parse_period(None, None, _tz(request))
    currency = await _currency(request, session)
    data = await reporting.report_for_csv(session, _ctx(request), campaign_id, report, period, currency)
    if report == "forwarding":
        columns = ["channel", "app", "forwarded", *NUMBER_COLUMNS]
    else:
        columns = ["key", *(["code", "channel", "referrer"] if report == "link" else []), *NUMBER_COLUMNS]
    days = period.local_days()
    name = f"clicktrail-campaign-{campaign_id}-{report}-{days[0].isoformat()}-to-{days[-1].isoformat()}.csv"
    return Response(to_csv(data, columns), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


# --- links ----------------------------------------------------------------------------------------

def _link_values(link: Link) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(link, f) or "" for f in ("destination_url", *links.UTM_FIELDS)}
    values["expires_at"] = link.expires_at.strftime("%Y-%m-%dT%H:%M") if link.expires_at else ""
    values["max_clicks"] = str(link.max_clicks) if link.max_clicks else ""
    values["label"] = link.label or ""
    return values


async def _link_page(request: Request, session: SessionDep, user: User, link: Link, status: int = 200,
                     **extra: Any) -> Response:
    clicks = (await session.scalars(
        select(Click).where(Click.link_id == link.id).order_by(Click.click_id.desc()).limit(50)
    )).all()
    kinds = dict((await session.execute(
        select(Click.kind, func.count()).where(Click.link_id == link.id).group_by(Click.kind)
    )).all())
    campaign = await session.get(Campaign, link.campaign_id) if link.campaign_id else None
    extra.setdefault("values", _link_values(link))
    extra.setdefault("countries", await clicks_by_country(session, link_id=link.id))
    extra.setdefault("card_values", cards.card_values(link))
    extra = {**cards.card_context(request, link), **extra}
    numbers = None
    if campaign is not None:  # the link's row of its campaign's report: the same numbers as there
        currency = await _currency(request, session)
        numbers = await reporting.link_numbers(session, _ctx(request), campaign.id, link.id,
                                               reporting.parse_period(None, None, _tz(request)), currency)
    link_orders = (await session.scalars(
        select(Order).where(Order.link_id == link.id).order_by(Order.id.desc()).limit(10))).all()
    page = render(request, "link.html", status, user=user, link=link, out=_ctx(request).out(link), clicks=clicks,
                  kinds=kinds, campaign=campaign, state=_state(link), numbers=numbers, link_orders=link_orders,
                  statuses=orders.STATUSES, **extra)
    return cards.allow_card_images(page)


@router.get("/links/{link_id}")
async def link_page(link_id: int, request: Request, session: SessionDep, user: UserDep) -> Response:
    link = await session.get(Link, link_id)
    if link is None:
        return _not_found(request, user, "Link")
    return await _link_page(request, session, user, link)


@router.post("/links/{link_id}")
async def edit_link(link_id: int, request: Request, session: SessionDep, user: EditorDep) -> Response:
    form = await checked_form(request)
    link = await session.get(Link, link_id)
    if link is None:
        return _not_found(request, user, "Link")
    values = {f: text(form, f) for f in ("destination_url", "label", *links.UTM_FIELDS, "expires_at", "max_clicks")}
    errors: Errors = {}
    changes: dict[str, Any] = {f: values[f] or None for f in ("destination_url", "label", *links.UTM_FIELDS)}
    if not values["destination_url"]:
        errors["destination_url"] = "A link needs a destination URL."
    if values["expires_at"]:
        try:
            changes["expires_at"] = datetime.fromisoformat(values["expires_at"]).replace(tzinfo=timezone.utc)
        except ValueError:
            errors["expires_at"] = "Enter a date and time, like 2030-12-31T23:59."
    else:
        changes["expires_at"] = None
    if values["max_clicks"]:
        if not values["max_clicks"].isdigit() or int(values["max_clicks"]) < 1:
            errors["max_clicks"] = "Enter a whole number of at least 1, or leave it empty for no limit."
        else:
            changes["max_clicks"] = int(values["max_clicks"])
    else:
        changes["max_clicks"] = None
    if not errors:
        try:
            await links.update_link(session, _ctx(request), link_id, LinkUpdate(**changes))
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = invalid_error(exc)
    if errors:
        await _rollback(session, user)
        link = await session.get(Link, link_id)
        return await _link_page(request, session, user, link, 422, errors=errors, values=values)  # type: ignore[arg-type]
    await _changed(request, session, link)
    flash(request, "Saved. The short link sends people to the new settings from now on.")
    return RedirectResponse(f"/links/{link_id}", 303)


@router.post("/links/{link_id}/toggle")
async def toggle_link(link_id: int, request: Request, session: SessionDep, user: EditorDep) -> Response:
    await checked_form(request)
    link = await session.get(Link, link_id)
    if link is None:
        return _not_found(request, user, "Link")
    await links.update_link(session, _ctx(request), link_id, LinkUpdate(disabled=not link.disabled))
    await _changed(request, session, link)
    flash(request, "Link disabled: it answers “gone” (410) now." if link.disabled else "Link enabled again.")
    return RedirectResponse(f"/links/{link_id}", 303)


@router.get("/links/{link_id}/qr.{kind}")
async def link_qr(link_id: int, kind: str, request: Request, session: SessionDep, user: UserDep,
                  download: bool = False) -> Response:
    link = await session.get(Link, link_id)
    if link is None or kind not in MEDIA_TYPES:
        return _not_found(request, user, "QR code")
    out = _ctx(request).out(link)
    headers = {"Cache-Control": "private, max-age=3600"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="clicktrail-{out.code}.{kind}"'
    return Response(render_qr(out.short_url, kind), media_type=MEDIA_TYPES[kind], headers=headers)


# --- orders ---------------------------------------------------------------------------------------

@router.get("/orders")
async def orders_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    listing = await orders.order_list(session, request, _tz(request))
    return render(request, "orders.html", 422 if listing.errors else 200, user=user, listing=listing,
                  states=orders.STATES, statuses=orders.STATUSES)


@router.get("/orders/{order_id}")
async def order_page(order_id: IdPath, request: Request, session: SessionDep, user: UserDep) -> Response:
    order = await session.get(Order, order_id)
    if order is None:
        return _not_found(request, user, "Order")
    return render(request, "order.html", user=user, order=order, path_=await orders.order_path(session, order),
                  states=orders.STATES, statuses=orders.STATUSES)


# --- settings -------------------------------------------------------------------------------------

def _workspace_values(request: Request) -> dict[str, str]:
    """The workspace's own settings as the form shows them ('' = the installation's)."""
    workspace = subject_of(request).workspace
    hosts = workspace.allowed_destination_hosts
    return {"name": workspace.name, "reporting_currency": workspace.reporting_currency or "",
            "timezone": workspace.timezone or "",
            "attribution_window_days": str(workspace.attribution_window_days or ""),
            "allowed_destination_hosts": "\n".join(hosts) if hosts is not None else ""}


async def _settings_page(request: Request, session: SessionDep, user: User, status: int = 200, **extra: Any) -> Response:
    subject = subject_of(request)
    settings = request.app.state.settings
    extra.setdefault("workspace_values", _workspace_values(request))
    makers = {u.id: u.email for _m, u in await members.list_members(session)} if subject.can("admin") else None
    return render(request, "settings.html", status, user=user, keys=await members.list_keys(session, subject), makers=makers,
                  sources=await sources.list_sources(session, request) if subject.can("admin") else [],
                  platforms=sources.PLATFORMS, platform_names=dict(sources.PLATFORMS),
                  sources_ready=sources.READY, destinations=await outbound.destinations(session),
                  key_scopes=[s for s in members.KEY_SCOPES if s == "read" or subject.can("editor")],
                  installation=effective_settings(Workspace(), settings), base_url=settings.base_url,
                  base_url_warning=settings.base_url_warning, **extra)


@router.get("/settings")
async def settings_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    return await _settings_page(request, session, user)


@router.post("/settings/workspace")
async def save_workspace(request: Request, session: SessionDep, user: AdminDep) -> Response:
    """The workspace's name and settings; an empty field goes back to the installation's."""
    form = await checked_form(request)
    values = {f: text(form, f) for f in ("name", "reporting_currency", "timezone", "attribution_window_days")}
    values["allowed_destination_hosts"] = str(form.get("allowed_destination_hosts") or "").strip()
    errors: Errors = {}
    changes: dict[str, Any] = {"name": values["name"], "reporting_currency": values["reporting_currency"].upper() or None,
                               "timezone": values["timezone"] or None, "attribution_window_days": None}
    window = values["attribution_window_days"]
    if window:
        if window.isdigit() and len(window) < 6:
            changes["attribution_window_days"] = int(window)
        else:
            errors["attribution_window_days"] = "Enter a whole number of days, or leave it empty."
    hosts = [h for h in re.split(r"[\s,]+", values["allowed_destination_hosts"]) if h]
    changes["allowed_destination_hosts"] = hosts or None
    if not errors:
        try:
            await update_workspace(session, subject_of(request).workspace, changes)
        except Invalid as exc:
            errors = invalid_error(exc)
    if errors:
        await _rollback(session, user)
        return await _settings_page(request, session, user, 422, workspace_errors=errors, workspace_values=values)
    flash(request, "Workspace settings saved.")
    return RedirectResponse("/settings#workspace", 303)


@router.post("/settings/keys")
async def create_key(request: Request, session: SessionDep, user: UserDep) -> Response:
    """A key of the signed-in member in this workspace: read for anyone, write from editors up."""
    form = await checked_form(request)
    name, scope = text(form, "name"), text(form, "scope") or "write"
    errors: Errors = {}
    if not name or len(name) > 100:
        errors["name"] = "Name the key after where it is used, e.g. “shop backend” (at most 100 characters)."
    else:
        try:
            key, plain = await members.create_key(session, subject_of(request), name, scope)
        except Invalid as exc:
            errors = invalid_error(exc)
        except Forbidden:
            errors = {"scope": "Your role lets you make read keys only."}
    if errors:
        await _rollback(session, user)
        return await _settings_page(request, session, user, 422, key_errors=errors,
                                    key_values={"name": name, "scope": scope})
    return await _settings_page(request, session, user, new_key=(key, plain))


@router.post("/settings/keys/{key_id}/revoke")
async def revoke_key(key_id: IdPath, request: Request, session: SessionDep, user: UserDep) -> Response:
    await checked_form(request)
    try:
        key = await members.revoke_key(session, subject_of(request), key_id)
    except NotFound:
        return _not_found(request, user, "API key")
    except Forbidden:
        return render(request, "error.html", 403, user=user, title="Not your key",
                      message="Only an admin can revoke another person's key.")
    flash(request, f"Revoked the key “{key.name}”: it stops working now.")
    return RedirectResponse("/settings#keys", 303)


@router.post("/settings/password")
async def change_password(request: Request, session: SessionDep, user: UserDep) -> Response:
    form = await checked_form(request)
    current, new = str(form.get("current_password") or ""), str(form.get("new_password") or "")
    errors: Errors = {}
    if not await auth.verify_password_async(user.password_hash, current):
        errors["current_password"] = "That is not your current password."
    errors.update({("new_password" if k == "password" else k): v
                   for k, v in _account_errors(user.email, new, str(form.get("new_password_again") or "")).items()
                   if k != "email"})
    if "password_again" in errors:
        errors["new_password_again"] = errors.pop("password_again")
    if errors:
        return await _settings_page(request, session, user, 422, password_errors=errors)
    await auth.change_password(session, user, new)  # every session of the account ends here
    await sign_in(request, session, user)  # and this browser gets a new one
    flash(request, "Your password is changed. Every other session is signed out.")
    return RedirectResponse("/settings#password", 303)


@router.post("/settings/sources")
async def create_source(request: Request, session: SessionDep, user: AdminDep) -> Response:
    form = await checked_form(request)
    values = {"name": text(form, "name"), "platform": text(form, "platform")}
    values["secret"] = text(form, "secret")
    errors, revealed = await sources.create_source(session, request, values)
    if errors:
        await _rollback(session, user)
        values.pop("secret")
        return await _settings_page(request, session, user, 422, source_errors=errors, source_values=values)
    return await _settings_page(request, session, user, revealed=revealed)


@router.post("/settings/destinations/{destination_id}/test")
async def test_destination(destination_id: int, request: Request, session: SessionDep, user: AdminDep) -> Response:
    form = await checked_form(request)
    result = await outbound.send_test_event(session, request, destination_id, text(form, "test_event_code"))
    if result is None:
        return _not_found(request, user, "Destination")
    kind, message = result
    flash(request, message, kind)
    return RedirectResponse(f"/settings#destination-{destination_id}", 303)


@router.post("/settings/sources/{source_id}/rotate")
async def rotate_source(source_id: int, request: Request, session: SessionDep, user: AdminDep) -> Response:
    await checked_form(request)
    revealed = await sources.rotate_secret(session, request, source_id)
    if revealed is None:
        return _not_found(request, user, "Order source")
    return await _settings_page(request, session, user, revealed=revealed)
