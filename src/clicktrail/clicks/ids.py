"""Click ids: 9 base62 characters of millisecond time, then 13 random ones (77 bits).

Fixed width makes string order time order, so ids page and partition by time; 77 random bits
make them unguessable. Built with bytes.translate so the redirect pays about a microsecond.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TIME_WIDTH, RANDOM_WIDTH = 9, 13  # 62**9 ms reach past the year 10000
WIDTH = TIME_WIDTH + RANDOM_WIDTH
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
# Random bytes map to characters four-to-one below 248; bytes 248..255 are dropped, so every
# character is equally likely.
_TABLE = bytes(ALPHABET[i % 62].encode()[0] for i in range(256))
_DROP = bytes(range(248, 256))
_last_ms = -1
_last_prefix = ""


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


_pool = b""
_pos = 0


def _random_part() -> str:
    # One getrandom() call per few hundred ids instead of one per id.
    global _pool, _pos
    if _pos + RANDOM_WIDTH > len(_pool):
        _pool = _pool[_pos:] + os.urandom(4096).translate(_TABLE, _DROP)
        _pos = 0
    part = _pool[_pos:_pos + RANDOM_WIDTH]
    _pos += RANDOM_WIDTH
    return part.decode()


def new_click_id(now_ms: int | None = None) -> str:
    global _last_ms, _last_prefix
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if ms != _last_ms:
        _last_ms, _last_prefix = ms, _base62(ms, TIME_WIDTH)
    return _last_prefix + _random_part()


def is_click_id(value: str) -> bool:
    return len(value) == WIDTH and all(c in _INDEX for c in value)


def click_time(click_id: str) -> datetime:
    ms = 0
    for c in click_id[:TIME_WIDTH]:
        ms = ms * 62 + _INDEX[c]
    return datetime.fromtimestamp(ms / 1000, timezone.utc)
