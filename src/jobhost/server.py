"""The composition root: builds the store, the engine, the spool intake, the schedules'
firing loop and the web app, and owns their lifetimes. Started in that order and stopped in
reverse: the front doors close before the engine stops, and the engine stops before the
store closes."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from jobhost import policy
from jobhost.catalog import Catalog
from jobhost.catalog.folder import SUFFIX as CATALOG_SUFFIX
from jobhost.clock import Clock, SystemClock
from jobhost.datadir import prepare_data_dir
from jobhost.engine.engine import Engine
from jobhost.engine.lock import lock_data_folder
from jobhost.listening import bind_listeners, describe
from jobhost.service.jobs import JobOperations
from jobhost.service.schedule_firing import CatalogSchedules, ScheduleFiring
from jobhost.service.spool import SPOOL_FOLDER, SpoolIntake
from jobhost.service.templates import TemplateOperations
from jobhost.settings import Settings
from jobhost.store import SqlStore, Store
from jobhost.store.database import sqlite_file
from jobhost.web import app as web_app
from jobhost.web.access_log import AccessLog
from jobhost.web.redaction import redact_uvicorn_logs

if TYPE_CHECKING:
    from fastapi import FastAPI  # only the app's type: the framework stays web/'s

logger = logging.getLogger(__name__)


def create_app(settings: Settings, clock: Clock | None = None, run_engine: bool = True) -> FastAPI:
    """The web app whose lifespan runs the whole backend; with ``run_engine`` the engine and
    the spool intake run in the same process, else only the store is opened."""
    the_clock = clock or SystemClock()
    return web_app.create_app(settings, lambda: running(settings, the_clock, run_engine))


@contextlib.contextmanager
def running(settings: Settings, clock: Clock, run_engine: bool = True) -> Iterator[web_app.Backend]:
    """The store, then the engine, then the spool intake and the schedules' firing loop,
    open until the block ends."""
    with contextlib.ExitStack() as stack:
        store = SqlStore.open(settings.store_url, clock, background_checkpoints=True)
        stack.callback(store.close)
        _warn_of_a_stored_system_user(store)
        wake: Callable[[], None] = _nothing
        wake_schedules: Callable[[], None] = _nothing
        catalog = open_catalog(settings, clock)
        if run_engine:
            engine = Engine(settings, store, clock, os.environ)
            engine.start()
            stack.callback(engine.stop)
            intake = spool_intake(settings, store, clock, engine.wake)
            intake.start()
            stack.callback(intake.stop)
            firing = schedule_firing(settings, store, clock, engine.wake, catalog)
            firing.start()
            stack.callback(firing.stop)
            wake, wake_schedules = engine.wake, firing.wake
        yield web_app.Backend(store, clock, wake, catalog, wake_schedules)


def _warn_of_a_stored_system_user(store: Store) -> None:
    """A user stored as ``system`` before the name was reserved stays, but cannot sign in."""
    if store.users.get_user(policy.SYSTEM_USER_ID) is not None:
        logger.warning(
            "a stored user is named %s, the id of the catalog's schedules: it cannot sign "
            "in; remove it with: jobhost user rm %s",
            policy.SYSTEM_USER_ID,
            policy.SYSTEM_USER_ID,
            extra={"action": "startup"},
        )


def open_catalog(settings: Settings, clock: Clock) -> Catalog:
    """The job catalog, built once per process and shared by every front door."""
    return Catalog(settings.catalog_path, clock.monotonic)


def spool_intake(
    settings: Settings, store: Store, clock: Clock, wake_engine: Callable[[], None]
) -> SpoolIntake:
    """The spool folder's intake, submitting as the web does and waking the engine."""
    root = settings.data_dir / SPOOL_FOLDER
    root.mkdir(exist_ok=True)
    operations = JobOperations(store.jobs, clock, wake_engine, settings.stop_grace_seconds)
    return SpoolIntake(
        root,
        store.users,
        operations,
        clock,
        max_file_bytes=settings.max_body_bytes,
        # The cadence it had inside the dispatcher's cycle, at most every tick.
        min_interval=min(0.5, settings.tick_seconds),
    )


def schedule_firing(
    settings: Settings,
    store: Store,
    clock: Clock,
    wake_engine: Callable[[], None],
    catalog: Catalog,
) -> ScheduleFiring:
    """The schedules' firing loop, submitting and starting templates as the web does and
    waking the engine."""
    operations = JobOperations(store.jobs, clock, wake_engine, settings.stop_grace_seconds)
    templates = TemplateOperations(catalog, operations)

    def declared() -> CatalogSchedules:
        snapshot = catalog.snapshot()  # one scan: the generation and the schedules agree
        # A broken file's template id is its path under the catalog folder less .toml.
        broken = [error.file.removesuffix(CATALOG_SUFFIX) for error in snapshot.errors]
        return CatalogSchedules(snapshot.generation, snapshot.declared_schedules(), broken)

    return ScheduleFiring(store.schedules, store.users, operations, templates, clock, declared)


def serve(settings: Settings, first_start: Callable[[Store], None]) -> bool:
    """Run the web server, the engine and the spool intake until stopped; False if the
    app's startup failed. ``first_start`` runs with the store open before anything else
    starts (the CLI creates the first admin there)."""
    # Before anything touches the folder (store, bootstrap, recovery); held until exit.
    lock_data_folder(settings.data_dir, sqlite_file(settings.store_url))
    # Bound before the first start makes the admin: a busy port must not eat the
    # credentials, which are printed only once.
    sockets = bind_listeners(settings.host, settings.port)
    try:
        prepare_data_dir(settings)
        store = SqlStore.open(settings.store_url, SystemClock())
        try:
            first_start(store)
        finally:
            store.close()
        return _run_uvicorn(settings, sockets)
    finally:
        for sock in sockets:
            sock.close()


def _run_uvicorn(settings: Settings, sockets: list[socket.socket]) -> bool:
    import uvicorn

    redact_uvicorn_logs()
    app = create_app(settings)
    # Everything imported and built so far lives as long as the server: moved out of the
    # collector's reach, a full collection no longer walks it.
    gc.freeze()
    # Our own access log rather than uvicorn's (see web/access_log.py), at the same level.
    logged = settings.access_log and logging.getLogger().isEnabledFor(logging.INFO)
    access_log = AccessLog(app, sys.stdout) if logged else None
    trusted = settings.trusted_proxy_list
    config = uvicorn.Config(
        access_log or app,
        log_level=settings.log_level,
        access_log=False,
        # Forwarded headers only from the proxies named: anyone else could pick the client
        # address the login throttle counts.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
        timeout_graceful_shutdown=int(settings.stop_grace_seconds) + 5,
    )
    server = uvicorn.Server(config)
    for sock in sockets:
        logger.info("listening on %s", describe(sock))
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass  # uvicorn raises Ctrl-C again once it has shut down; a clean stop, as uvicorn.run
    finally:
        if access_log is not None:
            access_log.flush()
    return bool(server.started)


def _nothing() -> None:
    pass
