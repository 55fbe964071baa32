"""The engine as a whole: recorder thread plus dispatcher thread with its own event loop.

In ``jobhost serve`` it runs beside the web server; MainLoop jobs therefore block dispatch,
as the seed intends, but never the web server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping

from jobhost.clock import Clock
from jobhost.datadir import prepare_data_dir
from jobhost.engine import capture
from jobhost.engine.dispatcher import Dispatcher, DispatchLimits
from jobhost.engine.lock import lock_data_folder
from jobhost.engine.recorder import Recorder
from jobhost.engine.retention import Retention, RunFolders
from jobhost.engine.runners.process import ProcessRunner
from jobhost.engine.runners.process_tree import become_subreaper
from jobhost.settings import Settings
from jobhost.store import Store
from jobhost.store.database import sqlite_file

logger = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        server_env: Mapping[str, str] | None = None,
    ) -> None:
        data_dir = settings.data_dir
        # First: a second engine must touch nothing.
        self._lock = lock_data_folder(data_dir, sqlite_file(settings.store_url))
        # Done first by the CLI when it opens the store; again here for an engine run
        # without it (a run-as user's workspace must be its own in any case).
        run_as = prepare_data_dir(settings)
        (data_dir / "workspace").mkdir(exist_ok=True)
        self.recorder = Recorder(
            store.jobs, settings.output_cap_bytes, settings.output_flush_seconds
        )
        processes = ProcessRunner(
            data_dir / "runs",
            data_dir / "workspace",
            settings.shell_argv,
            clock,
            os.environ if server_env is None else server_env,
            run_as,
        )
        folders = RunFolders(processes.run_dir_ids, processes.remove_run_dir)
        self.retention = Retention(store.jobs, clock, settings.retention_days, folders)
        limits = DispatchLimits(
            settings.max_concurrent_jobs,
            settings.stop_grace_seconds,
            settings.tick_seconds,
            settings.default_timeout_seconds,
            settings.max_jobs_per_user,
        )
        self.dispatcher = Dispatcher(
            store.jobs,
            self.recorder,
            processes,
            clock,
            limits,
            settings.node_name,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="jobhost-dispatcher", daemon=True)

    def start(self) -> None:
        if not become_subreaper():
            logger.warning("could not become a child subreaper; orphaned job processes escape")
        capture.install()
        self.recorder.start()
        self._thread.start()
        self._ready.wait()
        self.retention.start()

    def wake(self) -> None:
        """Ask for a dispatch cycle now (thread-safe)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.dispatcher.wake)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self.retention.stop()
        self._thread.join(timeout)
        self.recorder.close()
        capture.uninstall()
        self._lock.release()

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        try:
            await self.dispatcher.run_forever(self._stopping)
        except Exception:
            logger.exception("the dispatcher failed", extra={"action": "dispatch"})
            raise
