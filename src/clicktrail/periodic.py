"""A background task that runs one pass of some maintenance every so often, for the app's
lifespan: a failing pass (the database away for a while) is logged and tried again next time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

log = logging.getLogger("clicktrail")


class Periodic:
    def __init__(self, name: str, run_once: Callable[[], Awaitable[object]], interval: float, *,
                 first_delay: float | None = None) -> None:
        self._name = name
        self._run_once = run_once
        self._interval = interval
        self._first_delay = interval if first_delay is None else first_delay
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"clicktrail-{self._name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = self._first_delay
        while True:
            await asyncio.sleep(delay)
            delay = self._interval
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; trying again in %.0f s", self._name, self._interval)
