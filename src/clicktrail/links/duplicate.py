"""Duplicating a campaign: the next season's sale starts from this one's setup.

The copy gets its own name and slug (so its own utm_campaign), the same destination, medium and
domain, and one new link per channel link of the original with its label, UTM overrides and
preview card. Referral links are people's own and are not copied; clicks and orders never are.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.links import service
from clicktrail.links.models import Campaign, Link
from clicktrail.links.schemas import CampaignCreate

COPIED = ("label", "utm_term", "preview_title", "preview_description", "preview_image_url", "expires_at",
          "max_clicks")


def copy_name(name: str) -> str:
    return (name[:193] + " (copy)") if not name.endswith(" (copy)") else name


async def duplicate_campaign(
    session: AsyncSession, ctx: service.LinkContext, campaign_id: int, name: str | None = None
) -> tuple[Campaign, list[Link]]:
    original = await service.get_campaign(session, campaign_id)  # another workspace's: NotFound
    links = (await session.scalars(
        select(Link).where(Link.campaign_id == original.id, Link.referrer.is_(None)).order_by(Link.id))).all()
    data = CampaignCreate(name=(name or copy_name(original.name))[:200], destination_url=original.destination_url,
                          channels=[], utm_medium=original.utm_medium)
    campaign, _ = await service.create_campaign(session, ctx, data)
    campaign.domain = original.domain  # the workspace's already: no check needed
    made = []
    for link in links:
        copy = Link(campaign_id=campaign.id, channel=link.channel,
                    destination_url=campaign.destination_url if link.destination_url == original.destination_url
                    else link.destination_url,
                    utm_source=link.utm_source, utm_medium=link.utm_medium,
                    utm_campaign=campaign.slug if link.utm_campaign == original.slug else link.utm_campaign,
                    domain=link.domain, **{f: getattr(link, f) for f in COPIED})
        made.append(await service.new_link(session, ctx, copy))
    return campaign, made
