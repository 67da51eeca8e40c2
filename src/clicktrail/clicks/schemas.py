from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ClickOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    click_id: str
    link_id: int
    campaign_id: int | None
    kind: str
    channel: str
    app: str | None
    device: str
    os: str | None
    browser: str | None
    referrer_host: str | None
    country: str | None
    qr: bool
    occurred_at: datetime

    @classmethod
    def of(cls, click) -> ClickOut:
        return cls(**{f: getattr(click, f) for f in cls.model_fields if f != "qr"}, qr=click.is_qr)
