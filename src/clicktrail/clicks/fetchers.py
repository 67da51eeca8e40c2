"""The researched tables that say what a user agent is: preview fetchers, in-app browsers, and
the few entries of the maintained crawler list that people's browsers also match.

Bots in general come from the crawler list shipped as the `crawler-user-agents` package (see
detect.py); what that list cannot say is *which* of a platform's fetchers draws a share card
(a preview, a share signal) and which crawls for its AI, catalogue or ads (a bot). Each rule
here names the public source that says so. Patterns are RE2 syntax, matched case-insensitively;
within a table the first rule that matches wins, so the more specific comes first.

The labelled corpus that checks these tables is clicks/data/corpus.jsonl (see its README).
"""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    pattern: str
    app: str | None
    source: str


META_CRAWLERS = "https://developers.facebook.com/docs/sharing/webmasters/web-crawlers"
CUA = "https://github.com/monperrus/crawler-user-agents (tag social-preview)"
UAPJS_FETCHERS = "https://github.com/faisalman/ua-parser-js/blob/18d39b53dd803710cb8e76856d18c1dcf7533d11/test/data/ua/extension/fetcher.json"
MM_BOTS = "https://github.com/matomo-org/device-detector/blob/3856a28692d45317d3f15f6f81ca31a06067182a/Tests/fixtures/bots.yml"
ISBOT_CRAWLERS = "https://github.com/omrilotan/isbot/blob/344052da664bde49579e21f1e62349280791efb3/fixtures/crawlers.yml"

# A chat or social app building a card for a link that someone is sharing in it.
PREVIEW_FETCHERS: list[Rule] = [
    # Apple's LinkPresentation, on the sender's own device, wears Facebook's and Twitter's names.
    Rule(r"facebookexternalhit/1\.1 facebot twitterbot/1\.0", "imessage",
         "https://github.com/faisalman/ua-parser-js/issues/661"),
    # LINE, KakaoTalk and Naver put their own name after facebookexternalhit: before Meta's rule.
    Rule(r"line-poker", "line", "https://github.com/monperrus/crawler-user-agents/pull/306"),
    Rule(r"kakaotalk-scrap", "kakaotalk", "https://devtalk.kakao.com/t/scrap/33984 (named in the string); " + UAPJS_FETCHERS),
    Rule(r"blueno/", "other", "http://naver.me/scrap (Naver's scraper, named in the string); " + UAPJS_FETCHERS),
    # WhatsApp's client-side fetcher. Signal sends "WhatsApp/2" on purpose: it counts as WhatsApp
    # (https://github.com/signalapp/Signal-Android/issues/13522).
    Rule(r"^whatsapp(?:/\d|$)", "whatsapp", CUA + "; " + UAPJS_FETCHERS),
    Rule(r"telegrambot", "telegram", "https://core.telegram.org/bots/webapps; " + CUA),
    # Meta: only FacebookExternalHit draws share cards (Facebook, Instagram, Messenger, Threads).
    # facebookcatalog (catalogue), meta-externalagent (AI training), meta-externalfetcher (Meta AI
    # fetching for a user), meta-externalads, meta-webindexer and FacebookBot are bots.
    Rule(r"facebookexternalhit|meta-externalhit/|facebookscraper/", "facebook", META_CRAWLERS),
    # Slack: LinkExpanding unfurls, ImgProxy fetches the card's image; plain "Slackbot 1.0" is
    # Slack's other fetching (feeds, apps), a bot.
    Rule(r"slackbot-linkexpanding|slack-imgproxy", "slack", "https://api.slack.com/robots"),
    Rule(r"discordbot", "discord", CUA + "; " + UAPJS_FETCHERS),
    # Discord's second fetch of a preview (its media proxy) wears a 2015 Firefox, on purpose
    # ("we provide a user agent of a user"); no person browses with exactly this string today.
    Rule(r"^Mozilla/5\.0 \(Macintosh; Intel Mac OS X 10\.10; rv:38\.0\) Gecko/20100101 Firefox/38\.0$", "discord",
         "https://github.com/discord/discord-api-docs/issues/1600; https://github.com/discord/discord-api-docs/issues/3872"),
    Rule(r"twitterbot", "twitter", "https://developer.x.com/en/docs/x-for-websites/cards/guides/getting-started"),
    Rule(r"linkedinbot", "linkedin", "https://www.linkedin.com/robots.txt; " + CUA),
    Rule(r"pinterestbot|^pinterest/0\.", "pinterest", "https://help.pinterest.com/en/business/article/pinterest-crawler"),
    # Viber's fetcher sends a bare "Viber" (its desktop app *ends* with " Viber": a person).
    Rule(r"^viber$|viberurldownloader", "viber", CUA + "; " + MM_BOTS + " (Viber Url Downloader)"),
    # Snapchat's previewer; SnapchatAds is its ads crawler, a bot.
    Rule(r"snap url preview service|snapurlpreview/", "snapchat", "https://developers.snap.com/robots"),
    # Microsoft: Skype's and Teams' previewer, and the snapshots Microsoft 365 (Teams, Outlook) draws.
    Rule(r"skypeuripreview|microsoftpreview/", "teams",
         "https://aka.ms/MicrosoftPreview; " + UAPJS_FETCHERS + " (SkypeUriPreview, MicrosoftPreview)"),
    # Google Messages draws RCS link previews; Google-PageRenderer renders snippets of shared links.
    Rule(r"googlemessages/|google-pagerenderer|developers\.google\.com/\+/web/snippet", "google", ISBOT_CRAWLERS + "; " + UAPJS_FETCHERS),
    Rule(r"yahoo link preview", "email", "https://help.yahoo.com/kb/mail/yahoo-link-preview-SLN23615.html"),
    # Social networks and unfurl services outside the vocabulary.
    Rule(r"vkshare|mastodon/|redditbot|bluesky cardyb|blueskypreviewbot|zoombot/|chatwork linkpreview|"
         r"bufferlinkpreviewbot|iframely|embedly|mediumbot-metatagfetcher|orlo-linkpreview", "other",
         CUA + "; " + UAPJS_FETCHERS),
]

# Mail services fetching images and links on a reader's behalf: not a person, not a share card.
MAIL_PROXIES: list[Rule] = [
    Rule(r"googleimageproxy", "google", "https://support.google.com/mail/answer/145919 (Gmail's image proxy)"),
    Rule(r"yahoomailproxy", "email", CUA),
]

# A person tapping the link inside an app. Sources: tests/data/user_agents.py cites a string for
# each; shalanah/inapp-spy, faisalman/ua-parser-js (test/data/ua/extension/inapp.json) and matomo
# device-detector's fixtures are where the tokens come from.
IN_APP_BROWSERS: list[Rule] = [
    Rule(r"fban/messenger|fb_iab/messenger|orca-android|fbpn/com\.facebook\.orca", "messenger", "matomo mobile_apps.yml"),
    Rule(r"barcelona \d", "threads", "shalanah/inapp-spy src/tests/mobile.ts (THREADS)"),
    Rule(r"instagram[ /]\d", "instagram", "shalanah/inapp-spy; ua-parser-js browser-all.json"),
    Rule(r"fban/|fb_iab/|fbav/|metaiab facebook|\[fb", "facebook", "shalanah/inapp-spy; matomo fixtures"),
    Rule(r"micromessenger/|wxwork/", "wechat", "f2etw/detect-inapp; isbot browsers.yml"),
    Rule(r"\[wa(?:ios|4a)/", "whatsapp", "shalanah/inapp-spy (WHATSAPP)"),
    Rule(r"kakaotalk", "kakaotalk", "ua-parser-js browser-all.json (KAKAOTALK); uap-core #605"),
    Rule(r"\bline/\d", "line", "matomo mobile_apps.yml; f2etw/detect-inapp"),
    Rule(r"viber/\d| viber$", "viber", "isbot browsers.yml (Viber)"),
    Rule(r"snapchat", "snapchat", "isbot browsers.yml; shalanah/inapp-spy"),
    Rule(r"musical_ly|bytedancewebview|trill_|tiktok[ /]|bytelocale", "tiktok", "shalanah/inapp-spy; ua-parser-js"),
    Rule(r"twitter for ip|twitterandroid", "twitter", "f2etw/detect-inapp; isbot browsers.yml"),
    Rule(r"linkedinapp", "linkedin", "isbot browsers.yml"),
    Rule(r"\[pinterest/", "pinterest", "isbot browsers.yml"),
    Rule(r"telegram-android/|telegram/\d", "telegram", "https://github.com/intoli/user-agents/issues/78"),
    Rule(r"slack_ssb|slack/\d", "slack", "isbot browsers.yml; ua-parser-js inapp.json"),
    Rule(r"discord/\d", "discord", "isbot browsers.yml; ua-parser-js inapp.json"),
    Rule(r"teams/\d|teamsmobile-", "teams", "ua-parser-js inapp.json (Microsoft Teams)"),
    Rule(r"\bgsa/\d|googleapp/\d", "google", "shalanah/inapp-spy (GSA); ua-parser-js browser-all.json (GSA)"),
    Rule(r"naver\(inapp", "other", "isbot browsers.yml (Naver)"),
]

# Entries of the crawler list that people's own browsers and phones also match: left out of the
# bot pattern. Found by running the list over the 30,000 browsers of Matomo device-detector's
# device fixtures (Tests/fixtures/smartphone-*.yml, tablet-*.yml, ...). Matomo's own bot list still
# catches the crawlers these were meant for, with patterns that spare the phones.
MM_DEVICES = "matomo-org/device-detector Tests/fixtures/smartphone-*.yml"
NOT_CRAWLERS: dict[str, str] = {
    "AP3A\\.240617\\.008": "an Android 15 build id that dozens of real phones send (" + MM_DEVICES + ")",
    "Sogou": "matches the Sogou Mobile Browser (SogouMSE); Sogou's spiders say 'Spider' (" + MM_DEVICES + ")",
    "Butterfly": "matches HTC Butterfly phones (" + MM_DEVICES + ")",
    "Fever": "matches Fever_Plus phones (" + MM_DEVICES + ")",
    "Expanse": "matches the Expanse phone (" + MM_DEVICES + ")",
    "008\\/": "matches model numbers such as DESAY TS1008/1.0 (" + MM_DEVICES + ")",
    "Fluid": "a site-specific browser, a person (" + MM_DEVICES + "; omrilotan/isbot browsers.yml)",
    "MetaIAB Facebook": "the Facebook app's in-app browser since 2025 (shalanah/inapp-spy issue #57)",
    "Sonic": "matches Slack's Windows Store app (omrilotan/isbot fixtures/browsers.yml, Electron Application)",
    "Viber": "matches Viber's in-app browser and desktop app; the bare fetcher is a preview rule above",
}

# isbot's patterns (the `is-bot` package) that match real browsers and in-app browsers among
# Matomo device-detector's 30,000 device fixtures (MM_DEVICES): its structural guesses (a bare name/version, 50 characters
# without a space) and words that phones and browsers contain (Sogou, news, radar, server, ...).
# Left out; the rest of isbot's list catches bots no other list names.
NOT_ISBOT: frozenset[str] = frozenset({
    'manager',  # LG webOS TVs' WebAppManager, apps' FreeWheelAdManager (uap-core tests)
    'agent\\b',  # Nokia 6300's 'USER AGENT' (uap-core tests/test_device.yaml)
    '@[a-z][\\w-]+\\.',  # Android builds named @ROM, @TAB (uap-core tests/test_device.yaml)
    '24x7',  # inside an Instagram in-app string (Matomo's fixtures)
    'tools',  # WeChat's in-app browser says Process/tools (Matomo's fixtures)
    '(?:^|[^g])news(?!sapphire)',
    '(?<! channel/|google/)google(?!(?:wv|app|/google| pixel))',
    '(?<! cu)bots?(?:\\b|_)',
    '(?<!lib)http',
    ';\\s\\w+;$',
    '\\(\\)',
    '\\.com\\b',
    '\\b\\w+\\.ai',
    '\\|',
    '^[\\w \\.\\-\\(?:\\):%]+(?:/v?\\d+(?:\\.\\d+)?(?:\\.\\d{1,10})*?)?(?:,|$)',
    '^[^ ]{50,}$',
    '^\\d+\\b',
    'browsex',
    'capture',
    'chromeframe',
    'discovery',
    'download',
    'firephp',
    'java(?!;)',
    'offbyone',
    'proxy',
    'radar',
    'server',
    'sogou',
    'spider',
    'virtuoso',
})
