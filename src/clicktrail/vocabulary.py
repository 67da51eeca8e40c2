"""The shared vocabulary of channels (declared on a link) and apps (detected from a request)."""

from typing import Literal, get_args

Channel = Literal[
    "whatsapp", "messenger", "facebook", "instagram", "wechat", "telegram", "line", "viber",
    "signal", "snapchat", "tiktok", "imessage", "sms", "email", "slack", "discord", "twitter",
    "linkedin", "pinterest", "kakaotalk", "threads", "google", "teams", "qr", "other",
]
CHANNELS: tuple[str, ...] = get_args(Channel)

# utm_medium when the link does not say: what analytics tools expect for each kind of channel.
DEFAULT_MEDIUM = {"email": "email", "sms": "sms", "qr": "qr"}


def default_utm_medium(channel: str) -> str:
    return DEFAULT_MEDIUM.get(channel, "social")
