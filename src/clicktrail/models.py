"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from clicktrail.auth.models import ApiKey, Installation, SetupToken, SignInThrottle, User, WebSession
from clicktrail.clicks.models import Click, ClickHorizon, CustomerClick
from clicktrail.conversions.models import Order, OrderEvent, OrderSource, WebhookDelivery
from clicktrail.db import Base
from clicktrail.links.models import Campaign, Link, LinkPreviewImage
from clicktrail.outbound.models import Delivery, Destination, OrderSignals, OutboxEvent
from clicktrail.workspaces.models import Domain, Invitation, Member, Workspace
from clicktrail.reports.models import ClickRollup, ExchangeRate, LinkRollup  # and the reports' covering index on clicks

__all__ = ["ApiKey", "Base", "Campaign", "Click", "ClickHorizon", "ClickRollup", "CustomerClick", "ExchangeRate", "Delivery", "Destination", "Installation", "Link", "LinkPreviewImage", "LinkRollup", "Order", "OrderEvent", "OrderSignals", "OrderSource", "OutboxEvent", "SetupToken", "SignInThrottle", "User", "WebSession", "WebhookDelivery", "Domain", "Invitation", "Member", "Workspace"]
