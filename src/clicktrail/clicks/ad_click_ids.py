"""Click ids that ad platforms append to the links they show, kept with the click.

The redirect passes the short URL's query on to the destination untouched; the recorder reads
these from the same raw query string, off the request path.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

# Meta (fbclid), Google Ads (gclid; gbraid and wbraid on iOS), TikTok (ttclid), Microsoft Ads
# (msclkid), WhatsApp click-to-chat ads (ctwa_clid).
AD_CLICK_ID_NAMES = ("fbclid", "gclid", "gbraid", "wbraid", "ttclid", "msclkid", "ctwa_clid")
_NAMES = frozenset(AD_CLICK_ID_NAMES)
MAX_LENGTH = 512  # real ids are under 200 characters; a longer value is cut, not refused


def ad_click_ids(query: bytes) -> dict[str, str] | None:
    """{name: value} of the ad click ids in a raw query string (the first of each), or None."""
    if not query:
        return None
    found: dict[str, str] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=False):
        if name in _NAMES and name not in found:
            found[name] = value[:MAX_LENGTH]
    return found or None
