"""The application factory: routes, and a lifespan that owns every long-lived resource."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from clicktrail import __version__
from clicktrail.db import create_engine, create_sessionmaker
from clicktrail.errors import install_error_handlers
from clicktrail.loopmonitor import LoopMonitor
from clicktrail.openapi import install_docs, install_openapi
from clicktrail.links.service import LinkContext
from clicktrail.links.router import router as links_router
from clicktrail.clicks.country import CountryLookup
from clicktrail.links.card_router import router as card_image_router
from clicktrail.clicks.partitions import PartitionMaintenance
from clicktrail.clicks.recorder import Recorder
from clicktrail.clicks.retention import ClickRetention
from clicktrail.clicks.router import router as clicks_router
from clicktrail.clicks.visitors import VisitorHasher
from clicktrail.conversions.pending import PendingOrders
from clicktrail.conversions.router import public_router as conversions_public_router
from clicktrail.conversions.router import ct_js
from clicktrail.conversions.router import router as conversions_router
from clicktrail.redirect.cache import LinkCache
from clicktrail.reports.rates import RateRefresher
from clicktrail.reports.router import router as reports_router
from clicktrail.outbound.router import router as outbound_router
from clicktrail.outbound.sender import Sender
from clicktrail.periodic import Periodic
from clicktrail.redirect.hosts import HostMap
from clicktrail.redirect.invalidation import Listener
from clicktrail.redirect.route import ShortLinks
from clicktrail.settings import Settings
from clicktrail.web.router import install as install_web
from clicktrail.workspaces.domains import router as domains_router
from clicktrail.workspaces.router import router as workspaces_router

log = logging.getLogger("clicktrail")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        hosts: HostMap = app.state.hosts
        cache = LinkCache(app.state.sessionmaker, app.state.link_context.codec, settings.link_cache_ttl,
                          hosts=hosts.hosts)
        try:
            await hosts.load(app.state.sessionmaker)  # the branded domains the redirect answers on
        except Exception as exc:  # the database not up yet: the listener or the reload below retries
            log.warning("could not load the branded domains: %s", exc)
        recorder = Recorder(
            engine,
            settings.data_dir / "spool",
            interval=settings.recorder_flush_interval,
            max_buffer=settings.recorder_max_buffer,
            countries=CountryLookup(settings.geoip_db),
        )
        app.state.link_cache, app.state.recorder = cache, recorder
        app.state.visitors = VisitorHasher(settings.resolved_secret_key)
        listener = None
        if engine.dialect.name == "postgresql":
            listener = Listener(engine, cache, hosts, app.state.sessionmaker)
        else:  # no NOTIFY on SQLite: other workers' domain changes are picked up by a reload
            hosts_reload = Periodic("branded-domains-reload", lambda: hosts.load(app.state.sessionmaker),
                                    max(settings.link_cache_ttl, 1.0))
            hosts_reload.start()
        monitor = LoopMonitor() if settings.loop_monitor else None
        if monitor is not None:
            monitor.start()
        recorder.start()
        app.state.pending_orders = PendingOrders.for_app(app)
        app.state.pending_orders.start()
        app.state.outbound_sender = Sender.for_app(app)  # sales out: delivers the outbox
        app.state.outbound_sender.start()
        app.state.rates = RateRefresher(app.state.sessionmaker, settings.rates_url, settings.rates_refresh_interval)
        app.state.rates.start()
        if listener is not None:
            listener.start()
        click_partitions = PartitionMaintenance(engine) if engine.dialect.name == "postgresql" else None
        if click_partitions is not None:
            click_partitions.start()  # this month's and the next ones', now and then daily
        app.state.click_partitions = click_partitions
        retention = None
        if settings.click_retention_days is not None:
            retention = ClickRetention(engine, settings.click_retention_days, settings.retention_interval)
            retention.start()
        app.state.click_retention = retention
        try:
            yield
        finally:
            if retention is not None:
                await retention.stop()
            if click_partitions is not None:
                await click_partitions.stop()
            if listener is not None:
                await listener.stop()
            else:
                await hosts_reload.stop()
            await app.state.outbound_sender.stop()
            await app.state.rates.stop()
            await app.state.pending_orders.stop()
            await recorder.stop()
            await engine.dispose()
            if monitor is not None:
                await monitor.stop()

    app = FastAPI(title="Clicktrail", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.link_context = LinkContext.from_settings(settings)
    app.state.hosts = HostMap()  # branded short domains, loaded by the lifespan
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)  # /docs and /redoc with packaged assets, no CDN
    install_web(app, settings)  # the marketers' web app: pages, static files, session cookie

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
    app.include_router(clicks_router)
    app.include_router(conversions_router)
    app.include_router(conversions_public_router)
    app.add_api_route("/ct.js", ct_js, methods=["GET"], include_in_schema=False)
    app.include_router(reports_router)
    app.include_router(outbound_router)
    app.include_router(workspaces_router)
    app.include_router(domains_router)
    app.include_router(card_image_router)  # last: /{code}/preview.jpg must not shadow any route
    return app


def asgi_app(app: FastAPI) -> ShortLinks:
    """What is served: the short-link front door (every single-segment GET/HEAD path that no
    route serves is a short code) in front of the FastAPI app."""
    return ShortLinks(app)


def app_factory() -> ShortLinks:
    """Entry point for uvicorn workers (`--factory`): settings come from the environment."""
    served = asgi_app(create_app(Settings()))
    # The interpreter, FastAPI, SQLAlchemy and pydantic leave a million long-lived objects that
    # a full garbage collection would walk: 130 ms pauses of the redirect under load. They live
    # as long as the process, so move them out of the collector's sight, and collect the young
    # generation less often (most garbage here is acyclic and freed by reference counting).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    return served
