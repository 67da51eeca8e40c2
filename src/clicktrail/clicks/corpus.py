"""The labelled user-agent corpus (clicks/data/corpus.jsonl) and how well the classifier reads it.

Shared by tests/test_detection.py (which asserts the figures) and benchmarks/detection.py (which
prints them), so both count the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

CORPUS = Path(__file__).parent / "data" / "corpus.jsonl"


class Labelled(NamedTuple):
    ua: str
    kind: str
    app: str | None
    source: str
    note: str | None


def load(path: Path = CORPUS) -> list[Labelled]:
    with open(path, encoding="utf-8") as f:
        return [
            Labelled(row["ua"], row["kind"], row["app"], row["source"], row.get("note"))
            for row in map(json.loads, f)
        ]


def group(entry: Labelled) -> str:
    """What a marketer tells apart: previews, bots, taps in an app, taps in a plain browser."""
    if entry.kind == "click":
        return "in-app tap" if entry.app else "browser tap"
    return entry.kind


@dataclass
class Tally:
    total: int = 0
    recognised: int = 0  # the right kind
    named: int = 0  # the right kind and app
    mistaken: list[tuple[Labelled, tuple[str, str | None]]] = field(default_factory=list)  # another kind

    def add(self, entry: Labelled, got: tuple[str, str | None]) -> None:
        self.total += 1
        if got[0] == entry.kind:
            self.recognised += 1
            self.named += got[1] == entry.app
        else:
            self.mistaken.append((entry, got))

    def share(self, count: int) -> float:
        return count / self.total if self.total else 1.0


def score(entries: Iterable[Labelled], classify: Callable[[str], tuple[str, str | None]]) -> tuple[dict[str, Tally], dict[str, Tally]]:
    """Tallies by group (see `group`) and by expected app."""
    by_group: dict[str, Tally] = {}
    by_app: dict[str, Tally] = {}
    for entry in entries:
        got = tuple(classify(entry.ua))
        by_group.setdefault(group(entry), Tally()).add(entry, got)
        if entry.app:
            by_app.setdefault(entry.app, Tally()).add(entry, got)
    return by_group, by_app
