"""Telling people from link previews and bots, and which app a request came from.

Three tables decide, in this order: preview fetchers (clicks/fetchers.py, researched, each rule
citing its source), the maintained crawler list of the `crawler-user-agents` package (monperrus,
updated monthly) plus a few generic signs of automation, and in-app browser tokens. Each is
compiled once into an RE2 set: one pass over the string whatever the number of patterns (the
crawler list alone has 1,500; Python's `re` takes ~0.5 ms per string on it, an RE2 set ~2 µs).
Never classify on a bare "bot" substring: carriers (FBCR/OrangeBotswana) and phones (CUBOT)
contain it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import re2
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from ua_parser import parse_os, parse_user_agent

from clicktrail.clicks.crawler_lists import PatternSet, isbot_patterns, matomo_bots, re2_options
from clicktrail.clicks.fetchers import IN_APP_BROWSERS, MAIL_PROXIES, NOT_CRAWLERS, NOT_ISBOT, PREVIEW_FETCHERS, Rule

MAX_USER_AGENT = 512  # API.md: classified on its first 512 characters


class Detected(NamedTuple):
    kind: str  # click | preview | bot
    app: str | None


class _RuleSet:
    """A table of rules as one RE2 set: every match in one pass, the first rule listed wins."""

    def __init__(self, rules: list[Rule]) -> None:
        self._apps = [rule.app for rule in rules]
        self._set = PatternSet([rule.pattern for rule in rules], case_sensitive=False)

    def first(self, ua: str) -> tuple[bool, str | None]:
        matched = self._set.matches(ua)
        return (True, self._apps[min(matched)]) if matched else (False, None)


_PREVIEWS = _RuleSet(PREVIEW_FETCHERS)
_MAIL = _RuleSet(MAIL_PROXIES)
_IN_APP = _RuleSet(IN_APP_BROWSERS)

# The maintained crawler list, case-sensitive as its maintainers test it.
_CRAWLERS = PatternSet(
    [e["pattern"] for e in CRAWLER_USER_AGENTS_DATA if e["pattern"] not in NOT_CRAWLERS], case_sensitive=True
)
_MATOMO_BOTS = matomo_bots()
_ISBOT = isbot_patterns(left_out=NOT_ISBOT)
# What both lists leave out but no browser sends: HTTP libraries, scanners, a robot's URL. (The
# words bot, spider, crawler, monitor are Matomo's catch-all, which spares phones named so.)
_AUTOMATION = re2.compile(
    r"slurp|curl/|wget/|python-|go-http-client|okhttp|^java/|libwww-perl|httpclient|axios/|node-fetch|"
    r"headlesschrome|phantomjs|pingdom|check_http|zgrab|nmap|masscan|nuclei|httpx|aiohttp|postmanruntime|"
    r"insomnia|\(\+?https?:|; \+?https?://|"
    r"^(?:bun|dart|deno|hackney|http\.rb|undici|cursor)\b|powershell/|cypress/|-http-client/",
    re2_options(case_sensitive=False),
)
# Carrier names (FBCR/OrangeBotswana) and phones (CUBOT) that the lists' "bot" patterns would catch.
_NOT_BOT = re.compile(r"fbcr/[^;\]]*|cubot[^;)]*", re.IGNORECASE)

# Since 2024 Messenger's in-app browser sends the Facebook app's tokens; the Facebook and
# Instagram apps add IABMV/1, Messenger does not (the rule shalanah/inapp-spy uses).
_FBAV = re.compile(r"fbav/(\d+)")


def _is_automated(ua: str) -> bool:
    lower = ua.lower()
    if "fbcr/" in lower or "cubot" in lower:
        ua = _NOT_BOT.sub("", ua)  # a carrier or phone named *bot* is not a robot
    # Cheapest first: most bots are caught before Matomo's few lookaround patterns run.
    return bool(_CRAWLERS.matches(ua) or _AUTOMATION.search(ua) or _MATOMO_BOTS.search(ua) or _ISBOT.search(ua))


@lru_cache(maxsize=8192)
def classify(user_agent: str) -> Detected:
    """Kind of hit and app, from the user agent alone (HEAD requests are bots regardless)."""
    ua = user_agent[:MAX_USER_AGENT].strip()
    if not ua:
        return Detected("bot", None)
    found, app = _PREVIEWS.first(ua)
    if found:
        return Detected("preview", app)
    found, app = _MAIL.first(ua)
    if found:
        return Detected("bot", app)
    if _is_automated(ua):
        return Detected("bot", None)
    found, app = _IN_APP.first(ua)
    if found and app == "facebook" and _looks_like_new_messenger(ua.lower()):
        app = "messenger"
    return Detected("click", app)


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
