"""Outbound webhooks per Standard Webhooks (standardwebhooks.com): `webhook-id` is the event's id
on every try, `webhook-timestamp` the try's time, `webhook-signature` `v1,<base64 HMAC-SHA256>` of
`<id>.<timestamp>.<body>`, signed by the `standardwebhooks` package."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

from clicktrail.outbound.outgoing import JSON, Job, Outgoing

EVENT_TYPES = ("order.attributed", "order.updated", "order.refunded")
USER_AGENT = "Clicktrail-Webhooks/0.2"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes: the format the spec and its libraries read."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def build(job: Job, now: datetime | None = None) -> Outgoing:
    assert job.url is not None
    now = now or datetime.now(timezone.utc)
    signature = Webhook(job.secret).sign(job.event_id, now, job.body)
    if job.previous_secret:  # space-separated signatures: the receiver's old or new secret matches
        signature += " " + Webhook(job.previous_secret).sign(job.event_id, now, job.body)
    headers = {
        **JSON, "User-Agent": USER_AGENT, "webhook-id": job.event_id,
        "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature,
    }
    return Outgoing(url=job.url, body=job.body.encode(), headers=headers)
