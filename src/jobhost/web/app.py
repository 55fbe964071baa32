"""The ASGI application: routes, error envelope, body limit, and the lifespan that opens
the store and starts the engine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI

from jobhost import __version__
from jobhost.auth.throttle import LoginThrottle
from jobhost.clock import Clock, SystemClock
from jobhost.engine.engine import Engine
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.web import health, jobs, login, page, streams
from jobhost.web.deps import Services
from jobhost.web.errors import install_error_handlers
from jobhost.web.limits import BodySizeLimit
from jobhost.web.openapi import document_credentials

BASE = "/apps/WebHostTaskManagement/api/v1"


def create_app(settings: Settings, clock: Clock | None = None, run_engine: bool = True) -> FastAPI:
    """The app; with ``run_engine`` the job engine runs in the same process."""
    the_clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SqlStore.open(settings.store_url, the_clock, background_checkpoints=True)
        engine = Engine(settings, store, the_clock, os.environ) if run_engine else None
        if engine is not None:
            engine.start()
        wake = engine.wake if engine is not None else _nothing
        app.state.services = Services(settings, store, the_clock, wake, LoginThrottle(the_clock))
        try:
            yield
        finally:
            if engine is not None:
                engine.stop()
            store.close()

    app = FastAPI(
        title="jobhost",
        version=__version__,
        description="Submit jobs, watch their output live, stop them, keep the record.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    document_credentials(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(jobs.router, prefix=BASE)
    app.include_router(streams.router, prefix=BASE)
    app.include_router(health.router)
    app.include_router(login.router)
    app.include_router(page.router)
    return app


def _nothing() -> None:
    pass
