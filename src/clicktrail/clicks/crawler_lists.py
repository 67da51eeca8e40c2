"""Matomo device-detector's bot list, as shipped in the `device-detector` package, compiled for RE2.

The list adds the bots that monperrus' list misses (health checkers, scanners, generic probes).
Its patterns are PCRE, matched case-insensitively after a word boundary of Matomo's own making.
RE2 takes all but a handful; those use lookarounds (RE2 has none), so RE2 runs them with the
lookarounds stripped as a prefilter (a superset of their matches) and the `regex` module checks
the few strings that pass, with the patterns as written.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import re2
import regex
import yaml

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


class MatomoBots:
    def __init__(self, patterns: list[str]) -> None:
        plain, looking = [], []
        for alternative in (a for p in patterns for a in split_alternatives(p)):
            (looking if _LOOKAROUND.search(alternative) else plain).append(alternative)
        self._plain = PatternSet([_MATOMO_PREFIX + f"(?:{p})" for p in plain], case_sensitive=False)
        self._prefilters = PatternSet([_anchored(strip_lookarounds(p)) for p in looking], case_sensitive=False)
        self._exact = [regex.compile(_anchored(p), regex.IGNORECASE) for p in looking]

    @classmethod
    def load(cls) -> MatomoBots:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
        entries = yaml.load(_bots_file().read_text(encoding="utf-8"), Loader=loader)
        return cls([entry["regex"] for entry in entries])

    def search(self, ua: str) -> bool:
        if self._plain.matches(ua):
            return True
        return any(self._exact[i].search(ua) for i in self._prefilters.matches(ua))
