"""The bot lists beside monperrus' (clicks/detect.py), compiled for RE2: Matomo device-detector's
(from the `device-detector` package) and isbot's (from `is-bot`, its Python port).

They add the bots monperrus' list misses: health checkers, scanners, generic probes, HTTP
libraries. Their patterns are PCRE, matched case-insensitively (Matomo's after a word boundary of
its own making). RE2 takes all but a handful, which use lookarounds; see BotList.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import re2
import regex
import yaml
from is_bot._patterns import default_patterns

# Matomo anchors every pattern like this (device-detector's AbstractParser::matchUserAgent).
_MATOMO_PREFIX = r"(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)"


def re2_options(case_sensitive: bool) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.max_mem = 64 << 20  # a list's automaton needs more than RE2's default 8 MB
    return options


class PatternSet:
    """Many patterns as one RE2 set: which of them match, in one pass over the string. Faster
    than one alternation's search when all we need is whether (no match position to find)."""

    def __init__(self, patterns: list[str], *, case_sensitive: bool) -> None:
        self._set = re2.Set.SearchSet(re2_options(case_sensitive))
        for pattern in patterns:
            self._set.Add(pattern)
        self._set.Compile()

    def matches(self, text: str) -> list[int]:
        return self._set.Match(text) or []  # None when nothing matches


def _bots_file() -> Path:
    # Located, not imported: the data is all we use of the package.
    spec = importlib.util.find_spec("device_detector")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the device-detector package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "regexes" / "upstream" / "bots.yml"


def strip_lookarounds(pattern: str) -> str:
    """The pattern without its (?=..), (?!..), (?<=..), (?<!..) groups: matches a superset."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            depth, j = 0, i
            while j < len(pattern):
                if pattern[j] == "\\":
                    j += 2
                    continue
                depth += pattern[j] == "("
                depth -= pattern[j] == ")"
                j += 1
                if depth == 0:
                    break
            i = j
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def split_alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (PREFIX(?:a|b) matches as PREFIX(?:a)|PREFIX(?:b))."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: its | and ( are literal
            j = pattern.find("]", i + 2)
            i = (j if j != -1 else len(pattern)) + 1
            continue
        depth += c == "("
        depth -= c == ")"
        if c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


# Matomo's catch-all pattern starts with a run of word characters; after its word boundary that
# run can always be extended back to one, so dropping both matches the same strings, without the
# backtracking that made the `regex` module take milliseconds.
_WORD_RUN = "[a-z0-9_-]*"


_LOOKAROUND = regex.compile(r"(?<!\\)\(\?<?[=!]")


def _anchored(pattern: str) -> str:
    return pattern[len(_WORD_RUN):] if pattern.startswith(_WORD_RUN) else _MATOMO_PREFIX + f"(?:{pattern})"


class BotList:
    """Bot patterns as RE2 sets: most in one set; those with lookarounds (which RE2 cannot run)
    as a prefilter set of the patterns without them (a superset of their matches), the `regex`
    module checking, with the pattern as written, only the few strings that pass."""

    def __init__(self, patterns: list[str], anchor: Callable[[str], str] = lambda p: p) -> None:
        plain = [p for p in patterns if not _LOOKAROUND.search(p)]
        looking = [p for p in patterns if _LOOKAROUND.search(p)]
        self._plain = PatternSet([anchor(p) for p in plain], case_sensitive=False)
        prefilters = [anchor(strip_lookarounds(p)) for p in looking]
        self._prefilters = PatternSet(prefilters, case_sensitive=False)
        self._prefilter_at = [re2.compile(p, re2_options(case_sensitive=False)) for p in prefilters]
        self._exact = [regex.compile(anchor(p), regex.IGNORECASE) for p in looking]

    def search(self, ua: str) -> bool:
        if self._plain.matches(ua):
            return True
        for i in self._prefilters.matches(ua):
            # No match of the exact pattern starts before its prefilter's first one: start there
            # (lookbehinds still see the characters before it).
            start = self._prefilter_at[i].search(ua).start()
            if self._exact[i].search(ua, start):
                return True
        return False


def matomo_bots() -> BotList:
    """Matomo device-detector's bot list, as the `device-detector` package ships it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    entries = yaml.load(_bots_file().read_text(encoding="utf-8"), Loader=loader)
    return BotList([a for entry in entries for a in split_alternatives(entry["regex"])], _anchored)


def isbot_patterns(left_out: frozenset[str] = frozenset()) -> BotList:
    """omrilotan/isbot's patterns, as the `is-bot` package (its Python port) ships them: names and
    generic signs (a URL, an e-mail address) that catch bots no other list names."""
    return BotList(sorted(p for p in default_patterns if p not in left_out))
