"""Telling people from link previews and bots, and which app a request came from.

Rules come from real user agents (tests/data/user_agents.py cites each string's source).
Order matters: the first rule that matches wins. Never classify on a bare "bot" substring:
carriers (FBCR/OrangeBotswana) and phones (CUBOT) contain it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ua_parser import parse


class Detected(NamedTuple):
    kind: str  # click | preview | bot
    app: str | None


# Link-preview fetchers: a chat app drawing a card for a shared link, i.e. a share signal.
# Most specific first: iMessage, LINE and KakaoTalk all carry facebookexternalhit too.
_PREVIEW_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"facebookexternalhit.*twitterbot|facebot twitterbot", re.I), "imessage"),
    (re.compile(r"line-poker", re.I), "line"),
    (re.compile(r"kakaotalk-scrap", re.I), "other"),
    (re.compile(r"^WhatsApp/\d"), "whatsapp"),  # Signal fetches as WhatsApp/2 too: indistinguishable
    (re.compile(r"TelegramBot", re.I), "telegram"),
    (re.compile(r"facebookexternalhit|Facebot|meta-externalagent|facebookcatalog", re.I), "facebook"),
    (re.compile(r"Slackbot-LinkExpanding|Slack-ImgProxy|Slackbot", re.I), "slack"),
    (re.compile(r"Discordbot", re.I), "discord"),
    (re.compile(r"Twitterbot", re.I), "twitter"),
    (re.compile(r"LinkedInBot", re.I), "linkedin"),
    (re.compile(r"Pinterestbot|^Pinterest/0\.", re.I), "pinterest"),
    (re.compile(r"^Viber$|ViberBot|Viber-Preview", re.I), "viber"),
    (re.compile(r"Snap URL Preview|Snapchat.*Preview", re.I), "snapchat"),
    (re.compile(r"WeChat.*Preview|MicroMessenger.*Preview", re.I), "wechat"),
    (re.compile(r"Google-PageRenderer|Yahoo Link Preview|Iframely|Embedly", re.I), "email"),
    (re.compile(r"SkypeUriPreview|vkShare|redditbot|Mastodon/", re.I), "other"),
]

# Crawlers, scanners, monitors and HTTP libraries.
_BOT = re.compile(
    r"bot\b|bot/|bot;|bot-|spider|crawl|slurp|scrap|curl/|wget/|python-|go-http-client|okhttp|"
    r"java/|libwww|httpclient|axios/|node-fetch|headlesschrome|phantomjs|uptime|pingdom|"
    r"monitor|check_http|zgrab|nmap|masscan|nuclei|bingpreview|bytespider|ccbot|"
    r"googleother|google-inspectiontool|feedfetcher|mediapartners|lighthouse|gptbot|"
    r"petalbot|semrush|ahrefs|mj12|dotbot|yandex|baiduspider|applebot|duckduckbot|"
    r"facebookbot|httpx|aiohttp|scrapy|postmanruntime|insomnia|brandverity|\(\+?https?://|^$",
    re.I,
)
# Mail services fetching links or images on a reader's behalf: not a person, but an app.
_MAIL_PROXIES = re.compile(r"GoogleImageProxy|YahooMailProxy|Outlook-iOS-Android-Link-Preview", re.I)

# Words in user agents of real phones and carriers that the bot pattern would catch.
_NOT_BOT = re.compile(r"FBCR/[^;\]]*|CUBOT[^;)]*", re.I)

_INAPP_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"FBAN/Messenger|FBAN/MessengerLite|FB_IAB/MESSENGER|Orca-Android|FB\w*/Messenger", re.I), "messenger"),
    (re.compile(r"Instagram[ /]\d", re.I), "instagram"),
    (re.compile(r"FBAN/|FB_IAB/|FBAV/|MetaIAB Facebook|\[FB", re.I), "facebook"),
    (re.compile(r"MicroMessenger/|wxwork/", re.I), "wechat"),
    (re.compile(r"\[WAiOS/|\[WA4A/|WhatsApp/\d+\.\d+.*(Android|iOS)", re.I), "whatsapp"),
    (re.compile(r"\bLine/\d", re.I), "line"),
    (re.compile(r"Viber(/\d|$)", re.I), "viber"),
    (re.compile(r"Snapchat", re.I), "snapchat"),
    (re.compile(r"musical_ly|BytedanceWebview|trill_|TikTok[ /]\d|ByteLocale", re.I), "tiktok"),
    (re.compile(r"Twitter for iP|TwitterAndroid", re.I), "twitter"),
    (re.compile(r"LinkedInApp", re.I), "linkedin"),
    (re.compile(r"\[Pinterest/", re.I), "pinterest"),
    (re.compile(r"Telegram-Android/|Telegram/\d", re.I), "telegram"),
    (re.compile(r"Slack_SSB|Slack/\d", re.I), "slack"),
    (re.compile(r"discord/\d", re.I), "discord"),
    (re.compile(r"KAKAOTALK|NAVER\(inapp|Barcelona \d", re.I), "other"),
]

# Since 2024 Messenger's in-app browser sends the Facebook app's tokens; the Facebook and
# Instagram apps add IABMV/1, Messenger does not (the rule shalanah/inapp-spy uses).
_FB_TOKENS = re.compile(r"FBAN/FBIOS|FB_IAB/FB4A", re.I)
_FBAV = re.compile(r"FBAV/(\d+)")


@lru_cache(maxsize=8192)
def classify(user_agent: str) -> Detected:
    """Kind of hit and app, from the user agent alone (HEAD requests are bots regardless)."""
    ua = user_agent.strip()
    for pattern, app in _PREVIEW_RULES:
        if pattern.search(ua):
            return Detected("preview", app)
    if _MAIL_PROXIES.search(ua):
        return Detected("bot", "email")
    if _BOT.search(_NOT_BOT.sub("", ua)):
        return Detected("bot", None)
    for pattern, app in _INAPP_RULES:
        if pattern.search(ua):
            if app == "facebook" and _looks_like_new_messenger(ua):
                return Detected("click", "messenger")
            return Detected("click", app)
    return Detected("click", None)


def _looks_like_new_messenger(ua: str) -> bool:
    if not _FB_TOKENS.search(ua) or "IABMV" in ua:
        return False
    version = _FBAV.search(ua)
    return version is not None and int(version.group(1)) >= 450


class Device(NamedTuple):
    device: str  # mobile | tablet | desktop | bot | other
    os: str | None
    browser: str | None


_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD", "macOS"}


@lru_cache(maxsize=16384)
def parse_device(user_agent: str, kind: str) -> Device:
    """Device class, OS and browser: ua-parser (Rust resolver when installed), cached per string."""
    result = parse(user_agent[:512])
    os_family = result.os.family if result.os and result.os.family != "Other" else None
    browser = result.user_agent.family if result.user_agent and result.user_agent.family != "Other" else None
    if kind != "click":
        return Device("bot", os_family, browser)
    device_family = result.device.family if result.device else ""
    if device_family == "Spider":
        return Device("bot", os_family, browser)
    if device_family == "iPad" or "Tablet" in user_agent or (
        os_family == "Android" and "Mobile" not in user_agent
    ):
        return Device("tablet", os_family, browser)
    if "Mobi" in user_agent or os_family in ("iOS", "Android") or device_family == "iPhone":
        return Device("mobile", os_family, browser)
    if os_family in _DESKTOP_OS:
        return Device("desktop", os_family, browser)
    return Device("other", os_family, browser)
