"""The ASGI application: routes, error envelope, body limit, security headers, and a lifespan
that opens the backend it is handed (``jobhost.server`` builds it: store, engine, intakes)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.types import ASGIApp

from jobhost import __version__
from jobhost.catalog import Catalog
from jobhost.clock import Clock
from jobhost.settings import Settings
from jobhost.store import Store
from jobhost.web import health, jobs, login, page, schedules, streams, templates
from jobhost.web.deps import Guards, Services, no_wake
from jobhost.web.errors import install_error_handlers
from jobhost.web.limits import BodySizeLimit
from jobhost.web.openapi import document_credentials
from jobhost.web.security_headers import SecurityHeaders

BASE = "/apps/WebHostTaskManagement/api/v1"


@dataclass(frozen=True)
class Backend:
    """What the routes need from the process that hosts them; the web never sees the engine,
    only a callable that asks it for a dispatch cycle."""

    store: Store
    clock: Clock
    wake_engine: Callable[[], None]
    catalog: Catalog
    wake_schedules: Callable[[], None] = no_wake
    """Asks the schedules' firing loop to look at the store again."""


class JobhostApp(FastAPI):
    """FastAPI with the security headers outermost: outside Starlette's error middleware,
    whose 500 answers bypass every middleware added with ``add_middleware``."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


OpenBackend = Callable[[], contextlib.AbstractContextManager[Backend]]


def create_app(settings: Settings, open_backend: OpenBackend) -> FastAPI:
    """The app; ``open_backend`` is entered for the lifespan and left at shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_backend() as backend:
            app.state.services = Services(
                settings,
                backend.store,
                backend.clock,
                backend.wake_engine,
                Guards.for_settings(settings, backend.clock),
                backend.catalog,
                backend.wake_schedules,
            )
            yield

    app = JobhostApp(
        title="jobhost",
        version=__version__,
        description="Submit jobs, watch their output live, stop them, keep the record.",
        lifespan=lifespan,
        # Both pages load their scripts from a CDN into this origin and run inline script,
        # which the policy forbids; the description stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    document_credentials(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Before jobs.router, whose routes are fixed paths too: no path of one shadows the other.
    app.include_router(templates.router, prefix=BASE)
    app.include_router(jobs.router, prefix=BASE)
    app.include_router(streams.router, prefix=BASE)
    app.include_router(schedules.router, prefix=BASE)
    app.include_router(health.router)
    app.include_router(login.router)
    app.include_router(page.router)
    return app
