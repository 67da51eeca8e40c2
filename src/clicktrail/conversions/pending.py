"""The background task that attributes orders which arrived before their click was written.

All its state is the orders table (`attribution_state = 'pending'`), so a restart loses
nothing: the next run picks the pending orders up again. On PostgreSQL several workers can run
it at once: rows are claimed with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import time
import logging
from contextlib import suppress

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.conversions import service
from clicktrail.conversions.service import ConversionContext

log = logging.getLogger("clicktrail.conversions")


def conversion_context(app: FastAPI) -> ConversionContext:
    """The app's conversion settings, made once from its settings and link codec."""
    ctx = getattr(app.state, "conversions", None)
    if ctx is None:
        ctx = ConversionContext.from_settings(app.state.settings, app.state.link_context.codec)
        app.state.conversions = ctx
    return ctx


class PendingOrders:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ctx: ConversionContext, interval: float) -> None:
        self._sessionmaker = sessionmaker
        self._ctx = ctx
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_app(cls, app: FastAPI) -> PendingOrders:
        return cls(app.state.sessionmaker, conversion_context(app), app.state.settings.pending_retry_interval)

    _next_cleanup = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="clicktrail-pending-orders")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """One pass over the pending orders; returns how many were settled."""
        async with self._sessionmaker() as session:
            done = await service.retry_pending(session, self._ctx)
            if time.monotonic() >= self._next_cleanup:  # delivery ids older than a week, hourly
                self._next_cleanup = time.monotonic() + 3600
                await service.forget_old_deliveries(session)
            await session.commit()
        return done

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                settled = await self.run_once()
                if settled:
                    log.info("settled %d pending orders", settled)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a while: try again next time
                log.exception("retrying pending orders failed")
