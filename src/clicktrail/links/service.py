"""Campaigns and links: creation with UTM defaults, codes, referral links, updates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from typing import Any, Literal

from sqlalchemy import Subquery, delete, exists, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.clicks.models import Click
from clicktrail.errors import Conflict, Invalid, NotFound, violates_unique
from clicktrail.links.codes import CodeCodec, new_nonce, slug_problem
from clicktrail.links.destinations import destination_problem
from clicktrail.db import utcnow
from clicktrail.links.models import Campaign, Link, LinkPreviewImage
from clicktrail.links.schemas import (
    CampaignCreate, CampaignUpdate, LinkCreate, LinkOut, LinkUpdate, PreviewIn, PreviewOut, ReferralCreate,
)
from clicktrail.settings import Settings
from clicktrail.vocabulary import default_utm_medium
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.domains import clean_host, workspace_has_domain

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True)
class LinkContext:
    """What link logic needs from the installation: the codec and a few settings.

    A link's `domain` is the host of one of its workspace's branded domains, or '' for the
    installation's default domain, the base URL's (shown as that host)."""

    codec: CodeCodec
    base_url: str
    allowed_hosts: list[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkContext:
        return cls(CodeCodec(settings.resolved_secret_key), settings.base_url, settings.allowed_destination_hosts)

    @property
    def default_host(self) -> str:
        """The default domain's host, as short URLs show it (with a port the base URL names)."""
        return urlsplit(self.base_url).netloc.lower()

    def host_of(self, domain: str) -> str:
        return domain or self.default_host

    def base_of(self, domain: str) -> str:
        """Where the short URLs of a domain start: the base URL's scheme on a branded host."""
        return f"{urlsplit(self.base_url).scheme}://{domain}" if domain else self.base_url

    def code_of(self, link: Link) -> str:
        return link.slug or self.codec.encode(link.id, link.nonce)

    def short_url(self, link: Link) -> str:
        return f"{self.base_of(link.domain)}/{self.code_of(link)}"

    def change_of(self, link: Link) -> tuple[int, str, str]:
        """What the link cache must forget when this link changes: (id, domain, code)."""
        return link.id, link.domain, self.code_of(link)

    async def domain_for(self, session: AsyncSession, host: str, field: str | tuple[str, ...] = "domain") -> str:
        """The `domain` a link or campaign stores for the host a caller named: '' for the
        default host, else one of the caller's workspace's branded domains (422 otherwise)."""
        cleaned = clean_host(host)
        parts = urlsplit(self.base_url)
        if cleaned is not None and cleaned in (parts.netloc.lower(), (parts.hostname or "").lower()):
            return ""
        if cleaned is None or not await workspace_has_domain(session, cleaned):
            raise Invalid(field, f"the domain {host[:253]!r} is not one of this workspace's domains "
                                 f"(add it with POST /api/domains) nor {self.default_host}")
        return cleaned

    def preview_of(self, link: Link) -> PreviewOut | None:
        if link.preview_title is None:
            return None
        image = link.preview_image_url
        if link.preview_image_version:
            image = f"{self.short_url(link)}/preview.jpg?v={link.preview_image_version}"
        return PreviewOut(title=link.preview_title, description=link.preview_description, image_url=image)

    def out(self, link: Link) -> LinkOut:
        code = self.code_of(link)
        return LinkOut(
            id=link.id,
            code=code,
            short_url=f"{self.base_of(link.domain)}/{code}",
            domain=self.host_of(link.domain),
            destination_url=link.destination_url,
            channel=link.channel,
            campaign_id=link.campaign_id,
            utm={f[4:]: v for f in UTM_FIELDS if (v := getattr(link, f))},
            coupon_code=link.coupon_code,
            referrer=link.referrer,
            created_at=link.created_at,
            expires_at=link.expires_at,
            max_clicks=link.max_clicks,
            disabled=link.disabled,
            clicks=link.click_count,
            label=link.label,
            preview=self.preview_of(link),
        )

    def check_preview(self, preview: PreviewIn, field: tuple[str, ...] = ("preview",)) -> PreviewIn:
        if preview.image_url is not None:
            # Chat apps fetch it, not us: any absolute http(s) URL will do, ours included.
            problem = destination_problem(preview.image_url, [])
            if problem:
                raise Invalid((*field, "image_url"), problem)
        return preview

    def check_destination(self, url: str, field: str | tuple[str | int, ...] = "destination_url") -> str:
        problem = destination_problem(url, self.allowed_hosts, urlsplit(self.base_url).netloc)
        if problem:
            raise Invalid(field, problem)
        return url


def context_for(request: Any) -> LinkContext:
    """The installation's link context with the caller's workspace's allowed destination hosts
    (its own list, else CLICKTRAIL_ALLOWED_DESTINATION_HOSTS)."""
    ctx: LinkContext = request.app.state.link_context
    subject = getattr(request.state, "subject", None)
    if subject is None:
        return ctx
    hosts = subject.allowed_hosts(request.app.state.settings)
    return ctx if hosts == ctx.allowed_hosts else replace(ctx, allowed_hosts=hosts)


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48].strip("-")
    return slug or "campaign"


async def _free_campaign_slug(session: AsyncSession, base: str) -> str:
    taken = set(
        (await session.scalars(select(Campaign.slug).where(Campaign.slug.like(f"{base}%")))).all()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


_UNIQUE_CLASHES = (
    (("links", "domain", "slug"), "that slug is taken on this domain"),
    (("campaigns", "slug"), "that campaign slug is taken"),
    (("links", "campaign_id", "coupon_code"), "that coupon code is already used in this campaign"),
)


async def _flush(session: AsyncSession) -> None:
    """Flush; a concurrent request that took the same slug or coupon first is a 409, any other
    integrity error stays an error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        for (table, *columns), message in _UNIQUE_CLASHES:
            if violates_unique(exc, table, *columns):
                raise Conflict(message) from None
        raise


async def _check_slug(session: AsyncSession, slug: str, domain: str, field: str = "slug") -> None:
    problem = slug_problem(slug)
    if problem:
        raise Invalid(field, problem)
    # Slugs are unique per domain in the whole installation: the default domain is everyone's.
    taken = select(exists().where(Link.domain == domain, Link.slug == slug))
    if await session.scalar(taken.execution_options(**{tenancy.ALL_WORKSPACES: True})):
        raise Conflict(f"the slug '{slug}' is taken on this domain")


def _label(label: str | None) -> str | None:
    return label.strip() or None if label else None


def normalise_coupon(code: str | None) -> str | None:
    # Shops compare coupon codes without case (WooCommerce even lower-cases them).
    return code.strip().upper() if code and code.strip() else None


async def _check_coupons(session: AsyncSession, campaign_id: int | None, codes: Sequence[str]) -> None:
    if len(set(codes)) != len(codes):
        raise Conflict("the same coupon code is given twice")
    if not codes:
        return
    clash = await session.scalar(
        select(Link.coupon_code)
        .where(Link.coupon_code.in_(codes), Link.campaign_id.is_(campaign_id) if campaign_id is None
               else Link.campaign_id == campaign_id)
        .limit(1)
    )
    if clash:
        raise Conflict(f"the coupon code '{clash}' is already used in this campaign")


async def new_link(session: AsyncSession, ctx: LinkContext, link: Link) -> Link:
    """Store a link and fill utm_content with its code (known once the id is)."""
    link.nonce = new_nonce()
    session.add(link)
    await _flush(session)
    if link.utm_content is None:
        link.utm_content = ctx.code_of(link)
    await _flush(session)
    return link


def _utm_defaults(channel: str, medium: str | None, campaign: Campaign | None) -> dict[str, str | None]:
    return {
        "utm_source": channel,
        "utm_medium": medium or (campaign.utm_medium if campaign else None) or default_utm_medium(channel),
        "utm_campaign": campaign.slug if campaign else None,
    }


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign not found")
    return campaign


async def create_campaign(session: AsyncSession, ctx: LinkContext, data: CampaignCreate) -> tuple[Campaign, list[Link]]:
    ctx.check_destination(data.destination_url)
    if data.slug is not None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]", data.slug):
            raise Invalid("slug", "a campaign slug is 3 to 64 lower-case letters, digits or '-'")
        if await session.scalar(select(exists().where(Campaign.slug == data.slug))):
            raise Conflict(f"the campaign slug '{data.slug}' is taken")
        slug = data.slug
    else:
        slug = await _free_campaign_slug(session, slugify(data.name))
    domain = await ctx.domain_for(session, data.domain) if data.domain is not None else ""
    campaign = Campaign(name=data.name.strip(), slug=slug, destination_url=data.destination_url,
                        utm_medium=data.utm_medium, domain=domain)
    session.add(campaign)
    await _flush(session)
    links = [
        await new_link(
            session,
            ctx,
            Link(campaign_id=campaign.id, destination_url=campaign.destination_url, channel=channel,
                 domain=campaign.domain, **_utm_defaults(channel, data.utm_medium, campaign)),
        )
        for channel in data.channels
    ]
    return campaign, links


CampaignSort = Literal["created", "name", "revenue"]


async def list_campaigns(
    session: AsyncSession, limit: int, after: int | None, *, q: str | None = None, archived: bool | None = None,
    sort: CampaignSort = "created", revenue: Subquery | None = None,
) -> list[Campaign]:
    """A page of campaigns. `after`: for `created` (newest first) the last id seen; for `name`
    and `revenue` (highest first, `revenue`: campaign_id → amount) how many were seen.
    `q` finds the text in the name or slug, without case; `archived` None lists both kinds."""
    query = select(Campaign).limit(limit)
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(func.lower(Campaign.name).like(pattern, escape="\\"),
                                Campaign.slug.like(pattern, escape="\\")))
    if archived is not None:
        query = query.where(Campaign.archived_at.is_not(None) if archived else Campaign.archived_at.is_(None))
    if sort == "created":
        query = query.order_by(Campaign.id.desc())
        if after is not None:
            query = query.where(Campaign.id < after)
        return list((await session.scalars(query)).all())
    if sort == "revenue" and revenue is not None:
        query = query.outerjoin(revenue, revenue.c.campaign_id == Campaign.id).order_by(
            func.coalesce(revenue.c.amount, 0).desc(), Campaign.id.desc())
    else:
        query = query.order_by(func.lower(Campaign.name), Campaign.id)
    return list((await session.scalars(query.offset(after or 0))).all())


async def update_campaign(session: AsyncSession, ctx: LinkContext, campaign_id: int,
                          data: CampaignUpdate) -> tuple[Campaign, list[Link]]:
    """Rename, move or archive a campaign; returns it and the links whose destination moved
    with it (those that still used the campaign's destination)."""
    campaign = await get_campaign(session, campaign_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "destination_url", "archived"):
        if field in changes and changes[field] is None:
            raise Invalid(field, f"{field} cannot be null")
    moved: list[Link] = []
    if "destination_url" in changes:
        new = ctx.check_destination(changes["destination_url"])
        old = campaign.destination_url
        moved = list((await session.scalars(
            select(Link).where(Link.campaign_id == campaign_id, Link.destination_url == old))).all())
        for link in moved:
            link.destination_url = new
        campaign.destination_url = new
    if "name" in changes:
        name = changes["name"].strip()
        if not name:
            raise Invalid("name", "a campaign needs a name")
        campaign.name = name
    if "archived" in changes:
        if changes["archived"] and campaign.archived_at is None:
            campaign.archived_at = utcnow()
        elif not changes["archived"]:
            campaign.archived_at = None
    await session.flush()
    return campaign, moved


async def delete_campaign(session: AsyncSession, campaign_id: int) -> list[Link]:
    """Erase a campaign that nobody clicked, with its links (returned, for the link cache). One
    with any hit is refused: its numbers are history; archive it instead."""
    campaign = await get_campaign(session, campaign_id)
    links = list((await session.scalars(select(Link).where(Link.campaign_id == campaign_id))).all())
    link_ids = [link.id for link in links]
    clicked = await session.scalar(select(exists().where(
        or_(Click.campaign_id == campaign_id, Click.link_id.in_(link_ids) if link_ids else false()))))
    if clicked or any(link.click_count for link in links):
        raise Conflict("the campaign's links were clicked: archive it instead (its numbers stay)")
    if link_ids:
        await session.execute(delete(Link).where(Link.id.in_(link_ids)))
    await session.delete(campaign)
    await session.flush()
    return links


async def links_of_campaigns(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, list[Link]]:
    result: dict[int, list[Link]] = {cid: [] for cid in campaign_ids}
    if campaign_ids:
        rows = await session.scalars(select(Link).where(Link.campaign_id.in_(campaign_ids)).order_by(Link.id))
        for link in rows:
            result[link.campaign_id].append(link)  # type: ignore[index]
    return result


async def create_link(session: AsyncSession, ctx: LinkContext, data: LinkCreate) -> Link:
    campaign = await get_campaign(session, data.campaign_id) if data.campaign_id is not None else None
    destination = data.destination_url or (campaign.destination_url if campaign else None)
    if destination is None:
        raise Invalid("destination_url", "a destination URL is needed for a link outside a campaign")
    ctx.check_destination(destination)
    # A link in a campaign is on the campaign's domain unless it names its own.
    domain = await ctx.domain_for(session, data.domain) if data.domain is not None else (
        campaign.domain if campaign else "")
    if data.slug is not None:
        await _check_slug(session, data.slug, domain)
    coupon = normalise_coupon(data.coupon_code)
    if coupon:
        await _check_coupons(session, data.campaign_id, [coupon])
    utm = _utm_defaults(data.channel, None, campaign)
    utm.update({f: getattr(data, f) for f in UTM_FIELDS if getattr(data, f) is not None})
    link = Link(
        campaign_id=data.campaign_id, destination_url=destination, channel=data.channel, slug=data.slug,
        domain=domain, coupon_code=coupon, referrer=data.referrer, expires_at=data.expires_at, max_clicks=data.max_clicks,
        label=_label(data.label), **utm,
    )
    if data.preview is not None:
        set_preview(link, ctx.check_preview(data.preview))
    return await new_link(session, ctx, link)


def set_preview(link: Link, preview: PreviewIn | None) -> None:
    """Give the link this card (None: no card). An uploaded image stays unless another is named."""
    if preview is None:
        link.preview_title = link.preview_description = link.preview_image_url = None
        link.preview_image_version = None
        return
    link.preview_title = preview.title.strip()
    link.preview_description = preview.description.strip() if preview.description else None
    if preview.image_url is not None:
        link.preview_image_url = preview.image_url
        link.preview_image_version = None


async def create_referrals(
    session: AsyncSession, ctx: LinkContext, campaign_id: int, rows: Sequence[ReferralCreate]
) -> list[Link]:
    """Personal links for customers to share; all rows are stored or none."""
    campaign = await get_campaign(session, campaign_id)
    coupons = [c for r in rows if (c := normalise_coupon(r.coupon_code))]
    await _check_coupons(session, campaign_id, coupons)
    links = []
    for row in rows:
        link = Link(
            campaign_id=campaign_id, destination_url=campaign.destination_url, channel=row.channel,
            domain=campaign.domain, coupon_code=normalise_coupon(row.coupon_code), referrer=row.referrer.strip(), label=_label(row.label),
            **_utm_defaults(row.channel, None, campaign),
        )
        links.append(await new_link(session, ctx, link))
    return links


async def get_link(session: AsyncSession, link_id: int) -> Link:
    link = await session.get(Link, link_id)
    if link is None:
        raise NotFound("link not found")
    return link


async def list_links(
    session: AsyncSession, *, campaign_id: int | None, channel: str | None, limit: int, before_id: int | None
) -> list[Link]:
    query = select(Link).order_by(Link.id.desc()).limit(limit)
    if campaign_id is not None:
        query = query.where(Link.campaign_id == campaign_id)
    if channel is not None:
        query = query.where(Link.channel == channel)
    if before_id is not None:
        query = query.where(Link.id < before_id)
    return list((await session.scalars(query)).all())


async def update_link(session: AsyncSession, ctx: LinkContext, link_id: int, data: LinkUpdate) -> Link:
    link = await get_link(session, link_id)
    changes = data.model_dump(exclude_unset=True)
    if "destination_url" in changes:
        if changes["destination_url"] is None:
            raise Invalid("destination_url", "a link needs a destination")
        ctx.check_destination(changes["destination_url"])
    if changes.get("disabled", False) is None:
        raise Invalid("disabled", "disabled is true or false")
    if "preview" in changes:
        changes.pop("preview")
        if data.preview is not None:
            ctx.check_preview(data.preview)
        had_image = link.preview_image_version is not None
        set_preview(link, data.preview)
        if had_image and link.preview_image_version is None:
            await session.execute(delete(LinkPreviewImage).where(LinkPreviewImage.link_id == link.id))
    if "label" in changes:
        changes["label"] = _label(changes["label"])
    for field, value in changes.items():
        setattr(link, field, value)
    await _flush(session)
    return link


async def delete_link(session: AsyncSession, link_id: int) -> Link | None:
    """Erase a link nobody used; a link with any hit is only disabled (its history stays)."""
    link = await get_link(session, link_id)
    used = await session.scalar(select(exists().where(Click.link_id == link_id)))
    if used or link.click_count:
        link.disabled = True
        await _flush(session)
        return link
    await session.execute(delete(Link).where(Link.id == link_id))
    return None


async def count_links(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Link)) or 0)
