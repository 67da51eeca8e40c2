from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
    ad_click_ids: dict[str, str] = Field(
        default_factory=dict, description="fbclid, gclid, gbraid, wbraid, ttclid, msclkid, ctwa_clid of the tap."
    )

    @classmethod
    def of(cls, click) -> ClickOut:
        fields = {f: getattr(click, f) for f in cls.model_fields if f not in ("qr", "ad_click_ids")}
        return cls(**fields, qr=click.is_qr, ad_click_ids=click.ad_click_ids or {})
