"""Click ids: 48-bit millisecond time + 80 random bits, base62, fixed width.

Fixed width makes string order time order, so ids page and partition by time; 80 random bits
make them unguessable.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WIDTH = 22  # 62**22 > 2**128
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def new_click_id(now_ms: int | None = None) -> str:
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(WIDTH):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def is_click_id(value: str) -> bool:
    return len(value) == WIDTH and all(c in _INDEX for c in value)


def click_time(click_id: str) -> datetime:
    value = 0
    for c in click_id:
        value = value * 62 + _INDEX[c]
    return datetime.fromtimestamp((value >> 80) / 1000, timezone.utc)
