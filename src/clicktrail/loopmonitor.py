"""An event-loop lag monitor: how long the loop was kept from running a ready task.

Anything that holds the loop (a big batch encoded in one go, a full garbage collection, a slow
synchronous call) delays every redirect behind it: this is the redirect's tail. Enabled with
CLICKTRAIL_LOOP_MONITOR=true (the redirect benchmark does); it logs the worst stall at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

log = logging.getLogger("clicktrail.loop")

TICK = 0.005


class LoopMonitor:
    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_at = 0.0  # seconds after start: tells a start-up stall from one under load
        self.stalls_over_10ms = 0
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="clicktrail-loop-monitor")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        # A fixed format: benchmarks/redirect.py reads this line.
        log.warning("event loop: worst stall %.1f ms (%.1f s after start), %d stalls over 10 ms in %.0f s",
                    self.worst * 1000, self.worst_at, self.stalls_over_10ms, time.monotonic() - self._started)

    async def _run(self) -> None:
        while True:
            expected = time.monotonic() + TICK
            await asyncio.sleep(TICK)
            late = time.monotonic() - expected
            if late > 0.010:
                self.stalls_over_10ms += 1
            if late > self.worst:
                self.worst, self.worst_at = late, time.monotonic() - self._started
