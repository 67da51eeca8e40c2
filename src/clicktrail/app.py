"""The application factory: routes, and a lifespan that owns every long-lived resource."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from clicktrail import __version__
from clicktrail.db import create_engine, create_sessionmaker
from clicktrail.errors import install_error_handlers
from clicktrail.links.service import LinkContext
from clicktrail.links.router import router as links_router
from clicktrail.settings import Settings

log = logging.getLogger("clicktrail")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="Clicktrail", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.link_context = LinkContext.from_settings(settings)
    install_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            async with app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means "not ready"
            log.warning("readiness check failed: %s", exc)
            return JSONResponse({"status": "unavailable", "detail": "database unreachable"}, 503)
        return JSONResponse({"status": "ok"})

    app.include_router(links_router)
    return app


def app_factory() -> FastAPI:
    """Entry point for uvicorn workers (`--factory`): settings come from the environment."""
    return create_app(Settings())
