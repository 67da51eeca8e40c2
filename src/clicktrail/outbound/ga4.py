"""GA4 Measurement Protocol: `purchase` once per paid attributed order, `refund` per refund.

`transaction_id` is the shop's order id, which GA4 deduplicates against the site's own tag;
`client_id` is the visitor's from the `_ga` cookie when the shop passed it, else one derived from
our click id (stable, so the purchase and its refunds land on one pseudo-user).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from clicktrail.outbound.outgoing import JSON, Endpoints, Job, Outgoing, json_body

MAX_AGE = timedelta(hours=72)  # GA4 takes timestamp_micros up to 72 hours in the past


def client_id_of_ga_cookie(cookie: str | None) -> str | None:
    """`GA1.1.1234567890.1700000000` → `1234567890.1700000000` (what gtag reports as client_id)."""
    if not cookie:
        return None
    parts = cookie.split(".")
    if len(parts) >= 4 and parts[-2].isdigit() and parts[-1].isdigit():
        return f"{parts[-2]}.{parts[-1]}"
    return None


def client_id_of_click(click_id: str, clicked_at: datetime | None) -> str:
    """The shape of a GA client id (random number . first-seen unix seconds), from our click."""
    number = int.from_bytes(hashlib.sha256(b"clicktrail-ga:" + click_id.encode()).digest()[:4], "big") & 0x7FFFFFFF
    seconds = int((clicked_at or datetime.now(timezone.utc)).timestamp())
    return f"{number}.{seconds}"


def _client_id(job: Job) -> str:
    from_cookie = client_id_of_ga_cookie(job.signal("ga"))
    if from_cookie:
        return from_cookie
    click_id = job.order["attribution"].get("click_id") or f"order-{job.order['id']}"
    clicked = job.signal("clicked_at")
    return client_id_of_click(click_id, datetime.fromisoformat(clicked) if clicked else None)


def build(job: Job, endpoints: Endpoints, now: datetime | None = None, *, debug: bool = False) -> Outgoing:
    now = now or datetime.now(timezone.utc)
    attribution = job.order["attribution"]
    params: dict[str, object] = {"transaction_id": job.transaction_id, "value": job.value, "currency": job.currency}
    if job.action == "purchase":
        params.update({
            "campaign": attribution.get("campaign"), "campaign_id": attribution.get("campaign_id"),
            "source": attribution.get("channel"), "medium": job.signal("medium"), "app": attribution.get("app"),
            "engagement_time_msec": 1,
        })
    event = {"name": job.action, "params": {k: v for k, v in params.items() if v is not None}}
    body: dict[str, object] = {"client_id": _client_id(job), "events": [event]}
    happened = job.ordered_at if job.action == "purchase" else datetime.fromisoformat(job.signals["changed_at"])
    # Older than GA4 accepts: sent without a time, so GA4 records it when it arrives.
    if now - MAX_AGE < happened <= now:
        body["timestamp_micros"] = int(happened.timestamp() * 1_000_000)
    url = endpoints.ga4_collect_url
    if debug:
        url = url.replace("/mp/collect", "/debug/mp/collect")
    query = urlencode({"measurement_id": job.account_id, "api_secret": job.secret})
    return Outgoing(url=f"{url}?{query}", body=json_body(body), headers=dict(JSON))
