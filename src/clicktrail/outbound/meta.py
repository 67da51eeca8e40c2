"""Meta Conversions API: a `Purchase` per paid attributed order.

`event_id` is the shop's order id, as the pixel's `eventID` on the thank-you page, so Meta keeps
one of the two; `fbc` is the `_fbc` cookie, else built from the `fbclid` of the click
(`fb.1.<click time ms>.<fbclid>`); the email, when the integration asks for it, goes hashed.
Meta refuses a whole request with an event older than 7 days, so those are skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from clicktrail.outbound.outgoing import JSON, Endpoints, Job, Outgoing, Skip, json_body

MAX_AGE = timedelta(days=7)


def fbc(job: Job) -> str | None:
    if job.signal("fbc"):
        return job.signal("fbc")
    fbclid = job.signal("fbclid")
    if not fbclid:
        return None
    clicked = job.signal("clicked_at")
    at = datetime.fromisoformat(clicked) if clicked else job.ordered_at
    return f"fb.1.{int(at.timestamp() * 1000)}.{fbclid}"


def build(job: Job, endpoints: Endpoints, now: datetime | None = None) -> Outgoing | Skip:
    now = now or datetime.now(timezone.utc)
    if job.ordered_at < now - MAX_AGE:
        return Skip("the order is older than the 7 days Meta accepts")
    attribution = job.order["attribution"]
    user_data = {"fbc": fbc(job), "fbp": job.signal("fbp"), "client_user_agent": job.signal("user_agent")}
    if job.email_sha256:
        user_data["em"] = [job.email_sha256]  # type: ignore[assignment]
    event = {
        "event_name": "Purchase",
        "event_time": int(min(job.ordered_at, now).timestamp()),
        "event_id": job.transaction_id,
        "action_source": "website",
        "event_source_url": job.signal("page_url"),
        "user_data": {k: v for k, v in user_data.items() if v},
        "custom_data": {
            k: v for k, v in {
                "currency": job.currency, "value": job.value, "order_id": job.transaction_id,
                "campaign": attribution.get("campaign"), "channel": attribution.get("channel"),
                "app": attribution.get("app"),
            }.items() if v is not None
        },
    }
    body: dict[str, object] = {"data": [{k: v for k, v in event.items() if v is not None}], "access_token": job.secret}
    if job.test_event_code:
        body["test_event_code"] = job.test_event_code
    url = f"{endpoints.meta_graph_url.rstrip('/')}/{job.account_id}/events"
    return Outgoing(url=url, body=json_body(body), headers=dict(JSON))
