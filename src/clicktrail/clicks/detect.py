"""Telling people from link previews and bots, and which app a request came from.

Rules come from real user agents (tests/data/user_agents.py cites each string's source).
Order matters: the first rule that matches wins. Never classify on a bare "bot" substring:
carriers (FBCR/OrangeBotswana) and phones (CUBOT) contain it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ua_parser import parse_os, parse_user_agent


class Detected(NamedTuple):
    kind: str  # click | preview | bot
    app: str | None


# Rules are lower-case substrings, checked in order (C-speed `in`, not one regex scan per
# rule): the recorder classifies thousands of new strings a second.

# Link-preview fetchers: a chat app drawing a card for a shared link, i.e. a share signal.
# Most specific first: iMessage, LINE and KakaoTalk all carry facebookexternalhit too.
_PREVIEW_RULES: list[tuple[tuple[str, ...], str]] = [
    (("line-poker",), "line"),
    (("kakaotalk-scrap",), "other"),
    (("telegrambot",), "telegram"),
    (("facebookexternalhit", "facebot", "meta-externalagent", "facebookcatalog"), "facebook"),
    (("slackbot", "slack-imgproxy"), "slack"),
    (("discordbot",), "discord"),
    (("twitterbot",), "twitter"),
    (("linkedinbot",), "linkedin"),
    (("pinterestbot",), "pinterest"),
    (("viberbot", "viber-preview"), "viber"),
    (("snap url preview",), "snapchat"),
    (("google-pagerenderer", "yahoo link preview", "iframely", "embedly"), "email"),
    (("skypeuripreview", "vkshare", "redditbot", "mastodon/"), "other"),
]
_PREVIEW_ANCHORED = re.compile(r"^(?:(whatsapp)/\d|(pinterest)/0\.|(viber)$)")  # whole-string forms

# Mail services fetching links or images on a reader's behalf: not a person, but an app.
_MAIL_PROXIES = ("googleimageproxy", "yahoomailproxy", "outlook-iOS-android-link-preview".lower())

# Crawlers, scanners, monitors and HTTP libraries.
_BOT_TOKENS = (
    "spider", "crawl", "slurp", "scrap", "curl/", "wget/", "python-", "go-http-client", "okhttp",
    "java/", "libwww", "httpclient", "axios/", "node-fetch", "headlesschrome", "phantomjs", "uptime",
    "pingdom", "monitor", "check_http", "zgrab", "nmap", "masscan", "nuclei", "bingpreview",
    "bytespider", "googleother", "google-inspectiontool", "feedfetcher", "mediapartners",
    "lighthouse", "semrush", "ahrefs", "mj12", "yandex", "httpx", "aiohttp", "postmanruntime",
    "insomnia", "brandverity", "(+http", "(http",
)
_BOT_WORD = re.compile(r"bot\b")
# Words in user agents of real phones and carriers that "bot" would catch.
_NOT_BOT = re.compile(r"fbcr/[^;\]]*|cubot[^;)]*")

_INAPP_RULES: list[tuple[tuple[str, ...], str]] = [
    (("fban/messenger", "fb_iab/messenger", "orca-android", "fbpn/com.facebook.orca"), "messenger"),
    (("instagram ", "instagram/"), "instagram"),
    (("fban/", "fb_iab/", "fbav/", "metaiab facebook", "[fb"), "facebook"),
    (("micromessenger/", "wxwork/"), "wechat"),
    (("[waios/", "[wa4a/"), "whatsapp"),
    (("line/",), "line"),
    (("viber/",), "viber"),
    (("snapchat",), "snapchat"),
    (("musical_ly", "bytedancewebview", "trill_", "tiktok ", "tiktok/", "bytelocale"), "tiktok"),
    (("twitter for ip", "twitterandroid"), "twitter"),
    (("linkedinapp",), "linkedin"),
    (("[pinterest/",), "pinterest"),
    (("telegram-android/", "telegram/"), "telegram"),
    (("slack_ssb", "slack/"), "slack"),
    (("discord/",), "discord"),
    (("kakaotalk", "naver(inapp", "barcelona "), "other"),
]
# Where a bare token would be too loose, the match is confirmed with a regex.
_CONFIRM = {
    "instagram": re.compile(r"instagram[ /]\d"),
    "line": re.compile(r"\bline/\d"),
    "whatsapp": re.compile(r"\[wa(?:ios|4a)/"),
}

# Since 2024 Messenger's in-app browser sends the Facebook app's tokens; the Facebook and
# Instagram apps add IABMV/1, Messenger does not (the rule shalanah/inapp-spy uses).
_FBAV = re.compile(r"fbav/(\d+)")


# Every preview, mail-proxy and bot rule above contains one of these: a browser's string, the
# common case, skips those rules after one scan.
_SUSPECT = re.compile(
    r"bot|hit|facebo|meta-|slack|preview|viber|pinterest|embedly|iframely|vkshare|mastodon|line-|kakao|"
    r"render|proxy|spider|crawl|slurp|scrap|curl|wget|python|http|java|libwww|axios|fetch|headless|"
    r"phantom|uptime|pingdom|monitor|zgrab|nmap|masscan|nuclei|bytespider|google|lighthouse|semrush|"
    r"ahrefs|mj12|yandex|insomnia|brandverity|whatsapp/"
)


@lru_cache(maxsize=8192)
def classify(user_agent: str) -> Detected:
    """Kind of hit and app, from the user agent alone (HEAD requests are bots regardless)."""
    ua = user_agent.strip().lower()
    if ua and not _SUSPECT.search(ua):
        return _in_app(ua)
    if "facebookexternalhit" in ua and "twitterbot" in ua:
        return Detected("preview", "imessage")  # Apple's previewer wears both hats
    anchored = _PREVIEW_ANCHORED.match(ua)
    if anchored:  # Signal fetches as WhatsApp/2 too: indistinguishable, so counted as whatsapp
        return Detected("preview", anchored.group(1) or anchored.group(2) or anchored.group(3))
    for tokens, app in _PREVIEW_RULES:
        if any(t in ua for t in tokens):
            return Detected("preview", app)
    if any(t in ua for t in _MAIL_PROXIES):
        return Detected("bot", "email")
    if not ua or any(t in ua for t in _BOT_TOKENS):
        return Detected("bot", None)
    if "bot" in ua and _BOT_WORD.search(_NOT_BOT.sub("", ua)):
        return Detected("bot", None)
    return _in_app(ua)


def _in_app(ua: str) -> Detected:
    for tokens, app in _INAPP_RULES:
        if any(t in ua for t in tokens):
            confirm = _CONFIRM.get(app)
            if confirm is not None and not confirm.search(ua):
                continue
            if app == "facebook" and _looks_like_new_messenger(ua):
                return Detected("click", "messenger")
            return Detected("click", app)
    if ua.endswith(" viber"):  # the desktop app appends a bare "Viber"
        return Detected("click", "viber")
    return Detected("click", None)


def _looks_like_new_messenger(ua: str) -> bool:
    if not ("fban/fbios" in ua or "fb_iab/fb4a" in ua) or "iabmv" in ua:
        return False
    version = _FBAV.search(ua)
    return version is not None and int(version.group(1)) >= 450


class Device(NamedTuple):
    device: str  # mobile | tablet | desktop | bot | other
    os: str | None
    browser: str | None


_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD", "macOS"}


@lru_cache(maxsize=8192)
def parse_device(user_agent: str, kind: str) -> Device:
    """Device class, OS and browser of a person's click, cached per string.

    OS and browser come from ua-parser (its Rust resolver when installed). Its device parser
    would cost as much again, and the device class shows in the string itself.
    """
    if kind != "click":
        return Device("bot", None, None)  # previews and bots: what they are is all we need
    ua = user_agent[:512]
    os_family = parse_os(ua)
    browser = parse_user_agent(ua)
    os_name = os_family.family if os_family and os_family.family != "Other" else None
    browser_name = browser.family if browser and browser.family != "Other" else None
    lower = ua.lower()
    if "ipad" in lower or "tablet" in lower or "kindle" in lower or "silk/" in lower or (
        os_name == "Android" and "mobile" not in lower
    ):
        device = "tablet"
    elif "mobi" in lower or "iphone" in lower or os_name in ("iOS", "Android"):
        device = "mobile"
    elif os_name in _DESKTOP_OS:
        device = "desktop"
    else:
        device = "other"
    return Device(device, os_name, browser_name)
