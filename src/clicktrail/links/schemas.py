from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clicktrail.params import Id, Moment
from clicktrail.vocabulary import CHANNELS, Channel

UtmValue = Field(default=None, min_length=1, max_length=255)
# A branded domain of the workspace (POST /api/domains) or the base URL's host; omitted: the default.
DomainIn = Field(default=None, min_length=1, max_length=253,
                 description="The short domain: one of the workspace's domains, or the base URL's host (the default).")


class PreviewIn(BaseModel):
    """The card chat apps draw for a link: what the link answers their preview fetchers."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=500)
    image_url: str | None = Field(
        default=None, min_length=1, max_length=2048,
        description="An image hosted elsewhere; leave it out to keep an uploaded one (PUT .../preview-image).",
    )


class PreviewOut(BaseModel):
    title: str
    description: str | None
    image_url: str | None = Field(description="The uploaded image at /{code}/preview.jpg, else the given URL.")


Label = Field(default=None, min_length=1, max_length=100)


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    destination_url: str = Field(min_length=1, max_length=4096)
    channels: list[Channel] = Field(default_factory=list, max_length=len(CHANNELS))
    slug: str | None = Field(default=None, min_length=3, max_length=64)
    utm_medium: str | None = UtmValue
    domain: str | None = DomainIn

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each channel may appear once")
        return value



class CampaignDuplicate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description='The copy\'s name; omitted: the original\'s with " (copy)".')


class CampaignUpdate(BaseModel):
    """Fields present in the body are changed."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    destination_url: str | None = Field(
        default=None, min_length=1, max_length=4096,
        description="The new destination of the campaign and of every link that still used the old one.")
    archived: bool | None = Field(default=None, description="Archived campaigns leave the home list; links keep working.")


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destination_url: str | None = Field(default=None, min_length=1, max_length=4096)
    channel: Channel
    campaign_id: Id | None = None
    domain: str | None = Field(default=None, min_length=1, max_length=253,
                               description="The short domain; omitted: the campaign's, else the default one.")
    slug: str | None = Field(default=None, max_length=64, description="Unique on its domain.")
    utm_source: str | None = UtmValue
    utm_medium: str | None = UtmValue
    utm_campaign: str | None = UtmValue
    utm_content: str | None = UtmValue
    utm_term: str | None = UtmValue
    coupon_code: str | None = Field(default=None, min_length=1, max_length=100)
    referrer: str | None = Field(default=None, min_length=1, max_length=255)
    expires_at: Moment | None = None
    max_clicks: int | None = Field(default=None, ge=1, le=2**31 - 1)
    label: str | None = Label
    preview: PreviewIn | None = None



class LinkUpdate(BaseModel):
    """Fields present in the body are changed; `null` clears the optional ones."""

    model_config = ConfigDict(extra="forbid")

    destination_url: str | None = Field(default=None, min_length=1, max_length=4096)
    utm_source: str | None = UtmValue
    utm_medium: str | None = UtmValue
    utm_campaign: str | None = UtmValue
    utm_content: str | None = UtmValue
    utm_term: str | None = UtmValue
    expires_at: Moment | None = None
    max_clicks: int | None = Field(default=None, ge=1, le=2**31 - 1)
    disabled: bool | None = None
    label: str | None = Label
    preview: PreviewIn | None = Field(default=None, description="The new card; null removes it (and its image).")



class ReferralCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referrer: str = Field(min_length=1, max_length=255)
    coupon_code: str | None = Field(default=None, min_length=1, max_length=100)
    channel: Channel = "other"
    label: str | None = Label


class LinkOut(BaseModel):
    id: int
    code: str
    short_url: str
    domain: str = Field(description="The host of its short URL.")
    destination_url: str
    channel: str
    campaign_id: int | None
    utm: dict[str, str]
    coupon_code: str | None
    referrer: str | None
    created_at: datetime
    expires_at: datetime | None
    max_clicks: int | None
    disabled: bool
    clicks: int
    label: str | None
    preview: PreviewOut | None


class CampaignOut(BaseModel):
    id: int
    name: str
    slug: str
    domain: str = Field(description="The host its links get unless they name another.")
    destination_url: str
    utm_medium: str | None
    created_at: datetime
    archived: bool
    archived_at: datetime | None
    links: list[LinkOut]
