"""Reading user agents: accuracy on the labelled corpus, and the time to classify a new string.

    python benchmarks/detection.py

Prints, per group (previews, bots, taps in an app, taps in a browser) and per app, how many
strings were recognised (right kind), named (right kind and app) and mistaken (another kind), then
the p50/p99 time to classify a string never seen before (the cache bypassed) against a baseline
measured in the same run: the crawler-user-agents package's own `is_crawler`, which runs its
1,500 patterns with Python's `re` and answers only "crawler or not".
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from crawleruseragents import is_crawler  # noqa: E402

from clicktrail.clicks import corpus  # noqa: E402
from clicktrail.clicks.detect import classify  # noqa: E402

TARGETS = {"preview": ("recognised", 0.97, "named", 0.93), "in-app tap": ("named", 0.93), "bot": ("recognised", 0.95)}


def _row(name: str, tally: corpus.Tally) -> str:
    pct = lambda n: f"{n:5d} {100 * tally.share(n):5.1f}%"  # noqa: E731
    return f"{name:<14} {tally.total:6d}  {pct(tally.recognised)}  {pct(tally.named)}  {pct(len(tally.mistaken))}"


def _times(fn, strings: list[str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for ua in strings:
            started = time.perf_counter()
            fn(ua)
            samples.append(time.perf_counter() - started)
    return sorted(samples)


def main() -> None:
    entries = corpus.load()
    by_group, by_app = corpus.score(entries, classify)
    header = f"{'':<14} {'total':>6}  {'recognised':>12}  {'named':>12}  {'mistaken':>12}"
    print(f"corpus: {len(entries)} strings ({corpus.CORPUS.name})\n\n{header}")
    for name in ("preview", "bot", "in-app tap", "browser tap"):
        print(_row(name, by_group[name]))
    print(f"\nby app\n{header}")
    for app in sorted(by_app):
        print(_row(app, by_app[app]))

    print("\ntargets (issue 14)")
    ok = True
    for name, spec in TARGETS.items():
        tally = by_group[name]
        for what, floor in zip(spec[::2], spec[1::2]):
            share = tally.share(getattr(tally, what))
            ok &= share >= floor
            print(f"  {name} {what} {100 * share:.1f}% (>= {100 * floor:.0f}%)")
    people_mistaken = len(by_group["in-app tap"].mistaken) + len(by_group["browser tap"].mistaken)
    ok &= people_mistaken == 0
    print(f"  people mistaken for bots or previews: {people_mistaken} (must be 0)")

    strings = [e.ua for e in entries]
    uncached = classify.__wrapped__  # a new string: what the recorder pays once per distinct agent
    for ua in strings:  # warm up: the first call of each compiled pattern set
        uncached(ua), is_crawler(ua)
    ours = _times(uncached, strings, rounds=5)
    base = _times(is_crawler, strings, rounds=1)
    p = lambda s, q: s[min(len(s) - 1, int(len(s) * q))] * 1e6  # noqa: E731
    print(f"\nclassify a new string: p50 {p(ours, .5):.1f} µs, p99 {p(ours, .99):.1f} µs, mean {statistics.fmean(ours) * 1e6:.1f} µs (target p50 < 50 µs)")
    print(f"baseline is_crawler:   p50 {p(base, .5):.1f} µs, p99 {p(base, .99):.1f} µs")
    print(f"ratio (baseline / ours) p50 {p(base, .5) / p(ours, .5):.1f}x, p99 {p(base, .99) / p(ours, .99):.1f}x")
    ok &= p(ours, .5) < 50
    print("\nall targets met" if ok else "\nTARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
