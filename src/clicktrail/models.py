"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from clicktrail.auth.models import ApiKey, Installation, SetupToken, SignInThrottle, User, WebSession
from clicktrail.clicks.models import Click, CustomerClick
from clicktrail.conversions.models import Order, OrderEvent, OrderSource, WebhookDelivery
from clicktrail.db import Base
from clicktrail.links.models import Campaign, Link
from clicktrail.reports.models import ClickRollup, LinkRollup  # and the reports' covering index on clicks

__all__ = ["ApiKey", "Base", "Campaign", "Click", "Installation", "ClickRollup", "CustomerClick", "Link", "LinkRollup", "Order", "OrderEvent", "OrderSource", "SetupToken", "SignInThrottle", "User", "WebSession", "WebhookDelivery"]
