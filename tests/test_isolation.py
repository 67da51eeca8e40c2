"""Workspace isolation: every API route, called with a second workspace's key against the first
workspace's ids, answers 404 (exactly as for an id that never existed), an empty list, or B's own
data, never A's; and afterwards A's data is as it was. On both engines.

The routes are read from the app, so a new route is covered by itself, and a route with no rule
in ROUTE_RULES below fails: whoever adds it says what another workspace may see of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi.routing import APIRoute, iter_route_contexts
from test_conversions import deliver, generic_body
from test_workspaces import client_of, make_person

from clicktrail import migrate
from clicktrail.app import create_app
from clicktrail.conversions import service as conversions
from clicktrail.settings import Settings, async_database_url
from clicktrail.workspaces.service import create_workspace

pytestmark = pytest.mark.asyncio(loop_scope="module")

BASE_URL = "http://ct.test"
MISSING = 999_999
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None, database_url=database_url, data_dir=data_dir, secret_key="test-secret-key-not-for-production",
        base_url=BASE_URL, rates_url="", outbound_allow_private=True,
        ga4_collect_url="http://127.0.0.1:9/mp/collect",  # nothing is sent: the sender is stopped
        outbound_send_interval=3600.0, outbound_retry_base=3600.0,
    )


def _routes(app) -> list[tuple[str, str, APIRoute]]:
    found = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path.startswith("/api"):
            for method in context.methods - {"HEAD"}:
                found[(method, context.path)] = route
    return [(m, p, r) for (m, p), r in sorted(found.items(), key=lambda item: (item[0][1], item[0][0]))]


def _query_names(dependant) -> list[str]:
    names = [q.alias for q in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_names(sub)
    return names


# The routes, read from an app that is never started (collection needs them before any database).
ROUTES = _routes(create_app(_settings("sqlite:///unused.db", Path("unused-data"))))


# --- what workspace A has -------------------------------------------------------------------


@dataclass
class Alpha:
    path_ids: dict[str, Any]  # path and query parameter name -> A's value
    ids: dict[str, set]  # kind -> A's ids of that kind
    tokens: set[str]  # A's names, codes, secrets, emails: none may reach B
    click_id: str = ""
    customer_ref: str = "alpha-customer@alpha.example"
    measurement_id: str = "G-ALPHA12345"
    domain_host: str = "go.alpha-brand.example"
    FILTERS = ("campaign_id", "link_id", "click_id", "source_id", "order_id", "hook_id", "integration_id", "user_id")


@dataclass
class World:
    app: Any
    a: Alpha
    a_key: str
    b_key: str
    b_ids: dict[str, Any] = field(default_factory=dict)  # B's own webhook and integration
    snapshot: dict = field(default_factory=dict)


def _has(method: str, path: str) -> bool:
    return any(m == method and p == path for m, p, _ in ROUTES)


async def _ok(answer: httpx.Response, status: int = 201) -> Any:
    assert answer.status_code == status, (answer.request.method, answer.request.url, answer.status_code, answer.text)
    return answer.json() if answer.content else None


async def _wait_for_click(api: httpx.AsyncClient, click_id: str) -> None:
    for _ in range(100):
        if (await api.get(f"/api/clicks/{click_id}")).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the click never showed up")


async def build_alpha(app, api: httpx.AsyncClient, owner) -> Alpha:
    """One of everything in workspace A, made through the API."""
    ids: dict[str, set] = {k: set() for k in ("campaign", "link", "click", "source", "order", "destination",
                                              "delivery", "user", "key", "domain", "workspace")}
    tokens: set[str] = set()
    a = Alpha({}, ids, tokens)
    workspace = await _ok(await api.patch("/api/workspace", json={"name": "Alpha Brand Workspace"}), 200)
    ids["workspace"].add(workspace["id"])
    ids["user"].add(owner.user_id)
    tokens |= {owner.key, owner.email}

    if _has("POST", "/api/domains"):
        domain = await _ok(await api.post("/api/domains", json={
            "host": a.domain_host, "root_redirect": "https://alpha-shop.example/"}))
        ids["domain"].add(domain["id"])
        a.path_ids["domain_id"] = a.path_ids["id"] = domain["id"]
    campaign = await _ok(await api.post("/api/campaigns", json={
        "name": "Alpha Summer Sale", "destination_url": "https://alpha-shop.example/sale",
        "channels": ["whatsapp", "email"], "slug": "alpha-summer-sale"}))
    referrals = await _ok(await api.post(f"/api/campaigns/{campaign['id']}/referrals", json={
        "referrer": "alpha-referrer-ann", "coupon_code": "ALPHACOUPON10"}))
    solo = await _ok(await api.post("/api/links", json={
        "destination_url": "https://alpha-shop.example/solo", "channel": "sms", "slug": "alpha-solo-link"}))
    await _ok(await api.patch(f"/api/links/{solo['id']}", json={"preview": {"title": "Alpha card title"}}), 200)
    links = [*campaign["links"], *referrals["items"], solo]
    ids["campaign"].add(campaign["id"])
    for link in links:
        ids["link"].add(link["id"])
        tokens |= {link["code"], link["short_url"]}
    a.path_ids.update(campaign_id=campaign["id"], link_id=links[0]["id"])

    async with client_of(app) as visitor:  # a real tap on A's link
        tapped = await visitor.get(f"/{links[0]['code']}", headers={"User-Agent": "Mozilla/5.0 (iPhone) Mobile"})
    assert tapped.status_code == 302, tapped.text
    a.click_id = parse_qs(urlsplit(tapped.headers["location"]).query)["ct_id"][0]
    await _wait_for_click(api, a.click_id)
    ids["click"].add(a.click_id)
    tokens.add(a.click_id)
    a.path_ids["click_id"] = a.click_id
    await _ok(await api.post("/api/identify", json={"click_id": a.click_id, "customer_ref": a.customer_ref}), 204)

    source = await _ok(await api.post("/api/sources", json={"name": "Alpha Webshop", "platform": "generic"}))
    hook = await _ok(await api.post("/api/webhooks", json={"url": "http://127.0.0.1:9/alpha-hook"}))
    ga4 = await _ok(await api.post("/api/integrations", json={
        "kind": "ga4", "measurement_id": a.measurement_id, "api_secret": "alpha-mp-secret"}))
    ids["source"].add(source["id"])
    ids["destination"] |= {hook["id"], ga4["id"]}
    tokens |= {source["secret"], source["webhook_url"], hook["secret"]}
    a.path_ids.update(source_id=source["id"], hook_id=hook["id"], integration_id=ga4["id"])

    await app.state.outbound_sender.stop()  # deliveries stay pending: A's logs do not move under the test
    async with client_of(app) as shop:
        body = generic_body(a.click_id, order_id="ALPHA-ORDER-1001", customer_ref=a.customer_ref)
        await _ok(await deliver(shop, source, body), 200)
    orders = (await api.get("/api/orders")).json()["items"]
    assert orders and orders[0]["attribution"]["click_id"] == a.click_id
    ids["order"] |= {o["id"] for o in orders}
    tokens.add("ALPHA-ORDER-1001")
    a.path_ids["order_id"] = orders[0]["id"]
    for kind, destination in (("webhooks", hook), ("integrations", ga4)):
        deliveries = (await api.get(f"/api/{kind}/{destination['id']}/deliveries")).json()["items"]
        assert deliveries, f"no delivery for A's {kind}"
        ids["delivery"] |= {d["id"] for d in deliveries}
        tokens |= {d["event_id"] for d in deliveries}
        a.path_ids[f"{kind}:delivery_id"] = deliveries[0]["id"]

    key = await _ok(await api.post("/api/keys", json={"name": "Alpha CI key", "scope": "read"}))
    ids["key"].add(key["id"])
    tokens |= {key["key"], key["prefix"]}
    a.path_ids["key_id"] = key["id"]
    bo = await make_person(app, "bo@alpha.example", "editor", workspace["id"])
    ids["user"].add(bo.user_id)
    tokens |= {bo.key, bo.key[:10]}
    a.path_ids["user_id"] = bo.user_id
    invited = await _ok(await api.post("/api/members", json={"email": "invitee@alpha.example", "role": "viewer"}))
    tokens.add(invited["invite_url"].split("token=")[1])
    for listing in ("/api/keys",):
        tokens |= {k["prefix"] for k in (await api.get(listing)).json()["items"]}
    return a


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(backend, tmp_path_factory) -> AsyncIterator[World]:
    """Workspace A (the first) with one of everything, and workspace B whose owner's key calls."""
    tmp = tmp_path_factory.mktemp("isolation")
    if backend.name == "sqlite":
        shutil.copyfile(Path(backend.template_url.split(":///", 1)[1]), tmp / "clicktrail.db")
        database_url = async_database_url(f"sqlite:///{tmp / 'clicktrail.db'}")
    else:
        database_url = await asyncio.to_thread(backend.new_database)
        await asyncio.to_thread(migrate.upgrade, database_url)
    app = create_app(_settings(database_url, tmp / "data"))
    async with app.router.lifespan_context(app):
        owner_a = await make_person(app, "ana@alpha.example", "owner")
        async with app.state.sessionmaker() as session:
            beta = await create_workspace(session, "Beta Brand")
            await session.commit()
        owner_b = await make_person(app, "zed@beta.example", "owner", beta.id)
        async with client_of(app, owner_a.key) as api:
            a = await build_alpha(app, api, owner_a)
            world = World(app, a, owner_a.key, owner_b.key)
        async with client_of(app, owner_b.key) as b:
            hook = await _ok(await b.post("/api/webhooks", json={"url": "http://127.0.0.1:9/beta-own-hook"}))
            ga4 = await _ok(await b.post("/api/integrations", json={
                "kind": "ga4", "measurement_id": "G-BETA98765", "api_secret": "beta-mp-secret"}))
            world.b_ids.update(hook_id=hook["id"], integration_id=ga4["id"])
        async with client_of(app, owner_a.key) as api:
            world.snapshot = await snapshot(world, api)
        yield world


# --- what B sends, and what it may get ------------------------------------------------------


@dataclass
class Rule:
    """B's call of a route: the request beyond A's ids in the path, and what may come back."""

    request: Callable[[Alpha], dict] = lambda a: {}
    statuses: frozenset[int] = frozenset({404})
    echo: Callable[[Alpha], tuple[str, ...]] = lambda a: ()  # A's values B sent itself (a clash test)
    check: Callable[[Any, Alpha], None] | None = None
    # Path parameters filled with B's own ids instead (A's delivery under B's own webhook), in a
    # second call after the one with A's ids only.
    own: tuple[str, ...] = ()
    variants: tuple[dict, ...] = ()  # more query strings to try (the CSV form of a report)


def _json(body: dict | None) -> Callable[[Alpha], dict]:
    return lambda a: {"json": body}


NOT_FOUND = Rule()
LIST = Rule(statuses=frozenset({200}))


def _made(body: dict) -> Rule:
    return Rule(request=_json(body), statuses=frozenset({201}))


def _erased_nothing(body: Any, _a: Alpha) -> None:
    assert body == {"identify_links_removed": 0, "orders_detached": 0}, body


def _b_workspace(body: Any, _a: Alpha) -> None:
    assert body["name"] == "Beta Brand", body


CSV = {"Content-Type": "text/csv"}
CSV_REPORT = ({"format": "csv"}, {"group_by": "link"}, {"group_by": "day", "format": "csv"})
ROUTE_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/campaigns"): LIST,
    ("POST", "/api/campaigns"): _made({"name": "Beta Launch", "destination_url": "https://beta-shop.example/",
                                       "channels": ["email"]}),
    ("GET", "/api/campaigns/{campaign_id}"): NOT_FOUND,
    ("PATCH", "/api/campaigns/{campaign_id}"): Rule(_json({"name": "Taken over by B"})),
    ("DELETE", "/api/campaigns/{campaign_id}"): NOT_FOUND,
    ("POST", "/api/campaigns/{campaign_id}/duplicate"): Rule(_json({"name": "Copied by B"})),
    ("POST", "/api/campaigns/{campaign_id}/referrals"): Rule(_json({"referrer": "beta-referrer"})),
    ("POST", "/api/campaigns/{campaign_id}/links"): Rule(lambda a: {"content": b"email,beta label\n", "headers": CSV}),
    ("GET", "/api/links"): LIST,
    ("POST", "/api/links"): Rule(lambda a: {"json": {
        "destination_url": "https://beta-shop.example/x", "channel": "sms", "campaign_id": a.path_ids["campaign_id"]}}),
    ("POST", "/api/links/import"): Rule(lambda a: {
        "params": {"format": "clicktrail", "campaign_id": a.path_ids["campaign_id"]}, "headers": CSV,
        "content": b"code,destination_url,channel\nbeta1,https://beta-shop.example/i,email\n"},
        statuses=frozenset({404, 422})),
    ("GET", "/api/links/export"): LIST,
    ("GET", "/api/links/{link_id}"): NOT_FOUND,
    ("PATCH", "/api/links/{link_id}"): Rule(_json({"disabled": True})),
    ("DELETE", "/api/links/{link_id}"): NOT_FOUND,
    ("GET", "/api/links/{link_id}/qr"): NOT_FOUND,
    ("PUT", "/api/links/{link_id}/preview-image"): Rule(lambda a: {"content": PNG, "headers": {"Content-Type": "image/png"}}),
    ("GET", "/api/clicks"): LIST,
    ("GET", "/api/clicks/{click_id}"): NOT_FOUND,
    ("GET", "/api/sources"): LIST,
    ("POST", "/api/sources"): _made({"name": "Beta store", "platform": "generic"}),
    ("GET", "/api/sources/{source_id}"): NOT_FOUND,
    ("POST", "/api/sources/{source_id}/rotate-secret"): NOT_FOUND,
    ("DELETE", "/api/sources/{source_id}"): NOT_FOUND,
    ("GET", "/api/orders"): LIST,
    ("GET", "/api/orders/{order_id}"): NOT_FOUND,
    # Identifying a click id says nothing either way (the same 204 for any id); that it credits B
    # nothing of A is test_b_cannot_credit_its_orders_to_a_click below.
    ("POST", "/api/identify"): Rule(lambda a: {"json": {"click_id": a.click_id, "customer_ref": "beta-customer"}},
                                    statuses=frozenset({204, 404})),
    ("POST", "/api/customers/erase"): Rule(lambda a: {"json": {"customer_ref": a.customer_ref}},
                                           statuses=frozenset({200}), check=_erased_nothing),
    ("GET", "/api/reports/campaigns/{campaign_id}"): Rule(variants=CSV_REPORT),
    ("GET", "/api/reports/overview"): Rule(statuses=frozenset({200}), variants=CSV_REPORT),
    ("GET", "/api/reports/forwarding"): Rule(statuses=frozenset({200, 404}), variants=CSV_REPORT),
    ("GET", "/api/reports/unattributed"): Rule(statuses=frozenset({200}), variants=CSV_REPORT),
    ("GET", "/api/webhooks"): LIST,
    ("POST", "/api/webhooks"): _made({"url": "http://127.0.0.1:9/beta-hook"}),
    ("GET", "/api/webhooks/{hook_id}"): NOT_FOUND,
    ("DELETE", "/api/webhooks/{hook_id}"): NOT_FOUND,
    ("POST", "/api/webhooks/{hook_id}/rotate-secret"): NOT_FOUND,
    ("GET", "/api/webhooks/{hook_id}/deliveries"): NOT_FOUND,
    ("POST", "/api/webhooks/{hook_id}/deliveries/{delivery_id}/retry"): Rule(own=("hook_id",)),
    ("POST", "/api/webhooks/{hook_id}/test"): NOT_FOUND,
    ("GET", "/api/integrations"): LIST,
    # The same GA4 property in two workspaces (two brands of one agency may share one).
    ("POST", "/api/integrations"): Rule(lambda a: {"json": {"kind": "ga4", "measurement_id": a.measurement_id,
                                                            "api_secret": "beta-secret"}},
                                        statuses=frozenset({201}), echo=lambda a: (a.measurement_id,)),
    ("GET", "/api/integrations/{integration_id}"): NOT_FOUND,
    ("DELETE", "/api/integrations/{integration_id}"): NOT_FOUND,
    ("GET", "/api/integrations/{integration_id}/deliveries"): NOT_FOUND,
    ("POST", "/api/integrations/{integration_id}/deliveries/{delivery_id}/retry"): Rule(own=("integration_id",)),
    ("POST", "/api/integrations/{integration_id}/test"): NOT_FOUND,
    ("GET", "/api/workspace"): Rule(statuses=frozenset({200}), check=_b_workspace),
    ("PATCH", "/api/workspace"): Rule(_json({"timezone": "Asia/Tokyo"}), statuses=frozenset({200}), check=_b_workspace),
    ("GET", "/api/members"): LIST,
    ("POST", "/api/members"): _made({"email": "newcomer@beta.example", "role": "viewer"}),
    ("PATCH", "/api/members/{user_id}"): Rule(_json({"role": "viewer"})),
    ("DELETE", "/api/members/{user_id}"): NOT_FOUND,
    ("GET", "/api/keys"): LIST,
    ("POST", "/api/keys"): _made({"name": "Beta key", "scope": "read"}),
    ("DELETE", "/api/keys/{key_id}"): NOT_FOUND,
    # Branded domains: a host is one workspace's in the whole installation (API.md), so B's claim
    # of A's host is a 409 that names only what B sent.
    ("GET", "/api/domains"): LIST,
    ("POST", "/api/domains"): Rule(lambda a: {"json": {"host": a.domain_host}}, statuses=frozenset({409}),
                                   echo=lambda a: (a.domain_host,)),
}
for _param in ("{domain_id}", "{id}"):  # whichever name the domains router gives its id
    ROUTE_RULES[("GET", f"/api/domains/{_param}")] = NOT_FOUND
    ROUTE_RULES[("PATCH", f"/api/domains/{_param}")] = Rule(_json({"root_redirect": "https://beta-shop.example/"}))
    ROUTE_RULES[("DELETE", f"/api/domains/{_param}")] = NOT_FOUND

# Leaks found and not yet fixed (each is one case below, expected to fail until it is fixed).
KNOWN_LEAKS: dict[tuple[str, str], str] = {}


def _fill(path: str, ids: dict[str, Any] | None) -> str:
    """The path with these ids (A's), or ids that never existed (None)."""
    kind = path.split("/")[2]

    def value(match: re.Match) -> str:
        name = match.group(1)
        if ids is None:
            return "ckdoesnotexist01" if name == "click_id" else str(MISSING)
        per_kind = f"{kind}:{name}"  # deliveries: the webhook's or the integration's
        return str(ids[per_kind] if per_kind in ids else ids[name])

    return re.sub(r"\{(\w+)\}", value, path)


def _query(route: APIRoute, a: Alpha | None) -> dict:
    """A's ids in every query filter the route takes (campaign_id=, source_id=, ...), or (a =
    None) ids that never existed in the same filters."""
    names = [name for name in _query_names(route.dependant) if name in Alpha.FILTERS]
    if a is None:
        return {name: "ckdoesnotexist01" if name == "click_id" else MISSING for name in names}
    return {name: a.path_ids[name] for name in names if name in a.path_ids}


ID_FIELDS = {"campaign_id": "campaign", "link_id": "link", "click_id": "click", "source_id": "source",
             "order_id": "order", "delivery_id": "delivery", "hook_id": "destination", "integration_id": "destination",
             "destination_id": "destination", "user_id": "user", "workspace_id": "workspace", "key_id": "key",
             "domain_id": "domain"}
KIND_OF_SEGMENT = {"campaigns": "campaign", "links": "link", "clicks": "click", "sources": "source", "orders": "order",
                   "webhooks": "destination", "integrations": "destination", "deliveries": "delivery", "keys": "key",
                   "workspace": "workspace", "domains": "domain", "members": None, "reports": None}


def leaks(answer: httpx.Response, path: str, a: Alpha, echo: tuple[str, ...] = ()) -> list[str]:
    """What of A the answer shows: A's names, codes and secrets anywhere in it, or A's ids."""
    text = answer.text
    for sent in echo:
        text = text.replace(sent, "")
    found = sorted(t for t in a.tokens if t and t in text)
    if "alpha" in text.lower():  # every name A has says so
        found.append(f"'alpha' in {text[max(0, text.lower().index('alpha') - 60):][:160]!r}")
    try:
        body = answer.json()
    except ValueError:
        return found
    segments = [s for s in path.split("/") if s and not s.startswith("{")]
    kind = next((KIND_OF_SEGMENT[s] for s in reversed(segments) if s in KIND_OF_SEGMENT), None)

    def walk(node: Any, kind: str | None, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "id" and kind and value in a.ids[kind]:
                    found.append(f"{where}.id = A's {kind} {value}")
                elif key in ID_FIELDS and isinstance(value, (int, str)) and value in a.ids[ID_FIELDS[key]]:
                    found.append(f"{where}.{key} = A's {ID_FIELDS[key]} {value}")
                walk(value, "link" if key == "links" else kind, f"{where}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, kind, f"{where}[{i}]")

    walk(body, kind, "body")
    return found


def _cases() -> list:
    cases = []
    for method, path, _route in ROUTES:
        marks = []
        if (method, path) in KNOWN_LEAKS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_LEAKS[(method, path)]))
        cases.append(pytest.param(method, path, id=f"{method} {path}", marks=marks))
    return cases


@pytest.mark.parametrize(("method", "path"), _cases())
async def test_another_workspace_gets_nothing_of_a(world: World, method: str, path: str) -> None:
    rule = ROUTE_RULES.get((method, path))
    assert rule is not None, f"{method} {path} has no rule in tests/test_isolation.py ROUTE_RULES: add one"
    route = next(r for m, p, r in ROUTES if (m, p) == (method, path))
    a = world.a
    extra = rule.request(a)
    params = {**_query(route, a), **extra.pop("params", {})}
    async with client_of(world.app, world.b_key) as b:
        answer = await b.request(method, _fill(path, a.path_ids), params=params, **extra)
        assert answer.status_code in rule.statuses, (answer.status_code, answer.text[:500])
        assert not leaks(answer, path, a, rule.echo(a)), leaks(answer, path, a, rule.echo(a))
        if rule.check is not None:
            rule.check(answer.json(), a)
        if "{" in path and answer.status_code == 404:
            # Exactly what an id that never existed gets: A's ids tell B nothing.
            never = await b.request(method, _fill(path, None), **rule.request(a))
            assert (never.status_code, never.json()) == (answer.status_code, answer.json())
        if method == "GET" and _query(route, a):
            # Filtered by A's ids: what filtering by ids that never existed gets. And unfiltered.
            never = await b.get(_fill(path, a.path_ids), params=_query(route, None))
            assert (never.status_code, never.text) == (answer.status_code, answer.text)
            unfiltered = await b.get(_fill(path, a.path_ids))
            assert unfiltered.status_code in rule.statuses and not leaks(unfiltered, path, a), unfiltered.text[:500]
        for variant in rule.variants:
            other = await b.request(method, _fill(path, a.path_ids), params={**params, **variant}, **extra)
            assert other.status_code in rule.statuses and not leaks(other, path, a), (variant, other.text[:500])
        if rule.own:
            ids = {**a.path_ids, **{name: world.b_ids[name] for name in rule.own}}
            mixed = await b.request(method, _fill(path, ids), **rule.request(a))
            assert mixed.status_code == 404 and not leaks(mixed, path, a), (mixed.status_code, mixed.text[:500])


async def snapshot(world: World, api: httpx.AsyncClient) -> dict:
    """What A's key reads on every GET route, A's ids filled in (last use of keys left out)."""
    seen = {}
    for method, path, route in ROUTES:
        if method != "GET" or path.startswith("/api/domains") and not _has("POST", "/api/domains"):
            continue
        answer = await api.get(_fill(path, world.a.path_ids), params=_query(route, world.a))
        try:
            body = _without_last_use(answer.json())
        except ValueError:
            body = answer.content
        seen[path] = (answer.status_code, body)
    return seen


def _without_last_use(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_last_use(v) for k, v in node.items() if k != "last_used_at"}
    if isinstance(node, list):
        return [_without_last_use(v) for v in node]
    return node


async def test_a_is_unchanged_afterwards(world: World) -> None:
    async with client_of(world.app, world.a_key) as api:
        after = await snapshot(world, api)
    assert set(after) == set(world.snapshot)
    changed = {path: (world.snapshot[path], now) for path, now in after.items() if now != world.snapshot[path]}
    assert not changed, changed
    assert all(status == 200 for status, _ in after.values()), {p: s for p, (s, _) in after.items() if s != 200}


async def test_b_cannot_credit_its_orders_to_a_click(world: World) -> None:
    """B names A's click id in its own order and identifies a customer with it: B's order is not
    credited to A's click, link or campaign."""
    a = world.a
    async with client_of(world.app, world.b_key) as b, client_of(world.app) as shop:
        source = (await b.post("/api/sources", json={"name": "Beta till", "platform": "generic"})).json()
        assert (await b.post("/api/identify", json={"click_id": a.click_id, "customer_ref": "beta-buyer"})).status_code \
            in (204, 404)
        for order_id, extra in (("BETA-1", {"click_id": a.click_id}), ("BETA-2", {"customer_ref": "beta-buyer"}),
                                ("BETA-3", {"coupon_codes": ["ALPHACOUPON10"]})):
            body = generic_body(order_id=order_id, **extra)
            assert (await deliver(shop, source, body)).status_code == 200
        # An order naming a click B does not have waits for it (pending); past the wait, the
        # retry credits it within B's workspace only.
        ctx = dataclasses.replace(world.app.state.conversions, pending_timeout=timedelta(0))
        async with world.app.state.sessionmaker() as session:
            await conversions.retry_pending(session, ctx)
            await session.commit()
        orders = (await b.get("/api/orders", params={"source_id": source["id"]})).json()["items"]
        assert len(orders) == 3
        for order in orders:
            assert not leaks(httpx.Response(200, json=order), "/api/orders", a, ("ALPHACOUPON10",)), order
            assert order["attribution"]["method"] is None and order["attribution"]["state"] == "unattributed", order
