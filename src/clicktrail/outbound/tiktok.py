"""TikTok Events API 2.0: a `CompletePayment` per paid attributed order, `event_id` the shop's
order id (as the pixel's), with the `ttclid` of the click and the `_ttp` cookie. Events older than
7 days are skipped, as for Meta."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from clicktrail.outbound.outgoing import JSON, Endpoints, Job, Outgoing, Skip, json_body

MAX_AGE = timedelta(days=7)


def build(job: Job, endpoints: Endpoints, now: datetime | None = None) -> Outgoing | Skip:
    now = now or datetime.now(timezone.utc)
    if job.ordered_at < now - MAX_AGE:
        return Skip("the order is older than the 7 days TikTok accepts")
    user = {"ttclid": job.signal("ttclid"), "ttp": job.signal("ttp"), "user_agent": job.signal("user_agent"),
            "email": job.email_sha256}
    event = {
        "event": "CompletePayment",
        "event_time": int(min(job.ordered_at, now).timestamp()),
        "event_id": job.transaction_id,
        "user": {k: v for k, v in user.items() if v},
        "properties": {"currency": job.currency, "value": job.value, "order_id": job.transaction_id,
                       "content_type": "product"},
    }
    if job.signal("page_url"):
        event["page"] = {"url": job.signal("page_url")}
    body: dict[str, object] = {"event_source": "web", "event_source_id": job.account_id, "data": [event]}
    if job.test_event_code:
        body["test_event_code"] = job.test_event_code
    return Outgoing(url=endpoints.tiktok_events_url, body=json_body(body), headers={**JSON, "Access-Token": job.secret})
