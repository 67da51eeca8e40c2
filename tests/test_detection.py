"""Reading a tap: the classifier against the labelled corpus of real user agents (API.md: What a
tap tells; the corpus and how it was labelled: src/clicktrail/clicks/data/README.md)."""

from __future__ import annotations

from collections import Counter

import pytest

from clicktrail.clicks import corpus
from clicktrail.clicks.detect import classify

ENTRIES = corpus.load()
BY_GROUP, BY_APP = corpus.score(ENTRIES, classify)


def _show(tally: corpus.Tally) -> str:
    return "\n".join(f"{got} <- {entry.ua!r} ({entry.source})" for entry, got in tally.mistaken)


def test_the_corpus_is_real_strings_from_six_public_sources() -> None:
    assert len(ENTRIES) >= 400
    hosts = Counter(e.source.split("/blob/")[0].split(" (")[0] for e in ENTRIES)
    big = [source for source, n in hosts.items() if n >= 20]
    assert len(big) >= 6, hosts
    assert len({e.ua for e in ENTRIES}) == len(ENTRIES)
    assert {group for group in BY_GROUP} == {"preview", "bot", "in-app tap", "browser tap"}


@pytest.mark.parametrize("group", ["in-app tap", "browser tap"])
def test_people_are_never_counted_as_bots_or_previews(group: str) -> None:
    assert BY_GROUP[group].mistaken == [], _show(BY_GROUP[group])


def test_previews_are_recognised_and_named() -> None:
    previews = BY_GROUP["preview"]
    assert previews.share(previews.recognised) >= 0.97, _show(previews)
    assert previews.share(previews.named) >= 0.93


def test_in_app_taps_are_named() -> None:
    taps = BY_GROUP["in-app tap"]
    assert taps.share(taps.named) >= 0.93


def test_bots_are_flagged() -> None:
    bots = BY_GROUP["bot"]
    assert bots.share(bots.recognised) >= 0.95


def test_every_app_of_the_preview_table_is_named_on_its_real_strings() -> None:
    for app in ("whatsapp", "telegram", "facebook", "imessage", "slack", "discord", "teams", "google",
                "kakaotalk", "line", "viber", "snapchat", "linkedin", "pinterest", "twitter"):
        previews = [e for e in ENTRIES if e.kind == "preview" and e.app == app]
        assert previews, app
        assert all(classify(e.ua) == ("preview", app) for e in previews), app


def test_what_no_source_can_tell_apart_stays_a_tap_with_no_app() -> None:
    # Telegram's in-app browser sending a plain browser string (inapp-spy finds it in JavaScript).
    hidden = [e for e in ENTRIES if e.note and "Telegram" in e.note]
    assert hidden
    for entry in hidden:
        assert (entry.kind, entry.app) == ("click", None)
        assert classify(entry.ua) == ("click", None)


def test_a_platforms_ai_catalogue_and_ads_crawlers_are_bots_not_previews() -> None:
    for token in ("meta-externalagent", "meta-externalfetcher", "meta-externalads", "meta-webindexer",
                  "facebookcatalog", "FacebookBot", "SnapchatAds", "Linespider", "ChatGPT-User", "Applebot"):
        strings = [e.ua for e in ENTRIES if token in e.ua]
        assert strings, token
        assert all(classify(ua).kind == "bot" for ua in strings), token


def test_only_the_first_512_characters_are_read() -> None:
    preview = "WhatsApp/2.23.20.0 A"
    assert classify(preview) == ("preview", "whatsapp")
    # A crawler's name past the 512th character does not turn a person into a bot.
    person = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
    assert classify(person + " " * (512 - len(person)) + " Googlebot/2.1") == ("click", None)
    assert classify("") == ("bot", None)
