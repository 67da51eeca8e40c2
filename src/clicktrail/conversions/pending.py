"""The background task that attributes orders which arrived before their click was written.

All its state is the orders table (`attribution_state = 'pending'`), so a restart loses
nothing: the next run picks the pending orders up again. On PostgreSQL several workers can run
it at once: rows are claimed with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import time
import logging

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.conversions import service
from clicktrail.conversions.service import ConversionContext
from clicktrail.periodic import Periodic

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
        self._periodic = Periodic("pending-orders", self.run_once, interval)

    @classmethod
    def for_app(cls, app: FastAPI) -> PendingOrders:
        return cls(app.state.sessionmaker, conversion_context(app), app.state.settings.pending_retry_interval)

    _next_cleanup = 0.0

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_once(self) -> int:
        """One pass over the pending orders; returns how many were settled."""
        async with self._sessionmaker() as session:
            done = await service.retry_pending(session, self._ctx)
            if time.monotonic() >= self._next_cleanup:  # delivery ids older than a week, hourly
                self._next_cleanup = time.monotonic() + 3600
                await service.forget_old_deliveries(session)
            await session.commit()
        if done:
            log.info("settled %d pending orders", done)
        return done
