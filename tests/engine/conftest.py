"""An in-process engine run in burst mode against a real SQLite store and real processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from jobhost.clock import Clock, SystemClock
from jobhost.engine import capture
from jobhost.engine.dispatcher import Dispatcher, DispatchLimits
from jobhost.engine.recorder import Recorder
from jobhost.engine.runners.process import ProcessRunner
from jobhost.engine.runners.process_tree import become_subreaper
from jobhost.models import Job, JobSpec, Mode
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.integration.server import kill_jobs_under

SERVER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "SERVER_SECRET": "do-not-leak"}


class Harness:
    """A dispatcher and recorder over one store; ``run`` drains the queue in burst mode.
    The dispatcher keeps time by ``clock`` and sleeps a ``tick`` at most."""

    def __init__(
        self,
        settings: Settings,
        store: SqlStore,
        node: str = "test-node",
        clock: Clock | None = None,
        tick: float = 0.05,
    ) -> None:
        self.settings = settings
        self.store = store
        self.node = node
        self.recorder = Recorder(store.jobs, settings.output_cap_bytes, 0.01)
        self.processes = ProcessRunner(
            settings.data_dir / "runs",
            settings.data_dir / "workspace",
            settings.shell_argv,
            SystemClock(),
            SERVER_ENV,
        )
        (settings.data_dir / "runs").mkdir(exist_ok=True)
        (settings.data_dir / "workspace").mkdir(exist_ok=True)
        limits = DispatchLimits(
            settings.max_concurrent_jobs,
            settings.stop_grace_seconds,
            tick,
            settings.default_timeout_seconds,
            settings.max_jobs_per_user,
        )
        self.dispatcher = Dispatcher(
            store.jobs, self.recorder, self.processes, clock or SystemClock(), limits, node
        )
        self.recorder.start()

    def submit(
        self,
        command: str,
        mode: Mode = Mode.BACKGROUND_JOB,
        user: str = "tester",
        **options: object,
    ) -> str:
        spec = JobSpec(name="test", command=command, mode=mode, **options)  # type: ignore[arg-type]
        return self.store.jobs.submit(user, spec).job_id

    def run(self, during: Callable[[], Awaitable[None]] | None = None) -> None:
        """Dispatch until nothing is pending or running; ``during`` runs alongside."""

        async def main() -> None:
            burst = asyncio.create_task(self.dispatcher.run_burst())
            if during is not None:
                await during()
            await asyncio.wait_for(burst, timeout=60)

        # Installed here rather than in a fixture: pytest swaps sys.stdout between a test's
        # phases, which would undo an install made during setup.
        capture.install()
        try:
            asyncio.run(main())
        finally:
            capture.uninstall()

    def job(self, job_id: str) -> Job:
        job = self.store.jobs.get(job_id)
        assert job is not None
        return job

    def output(self, job_id: str) -> str:
        return self.store.jobs.read_output(job_id, 0, 1 << 30).decode()

    async def wait_for_output(self, job_id: str, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in (current := self.output(job_id)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; output so far: {current!r}")
            await asyncio.sleep(0.01)
        return current

    async def stop(self, job_id: str) -> None:
        assert self.store.jobs.request_stop(job_id)
        self.dispatcher.wake()

    def close(self) -> None:
        self.recorder.close()
        self.processes.close()


@pytest.fixture
def make_harness(settings: Settings, sqlite_store: SqlStore) -> Iterator[Callable[..., Harness]]:
    become_subreaper()
    made: list[Harness] = []

    def make(**overrides: object) -> Harness:
        harness = Harness(settings.model_copy(update=overrides), sqlite_store)
        made.append(harness)
        return harness

    try:
        yield make
    finally:
        for harness in made:
            harness.close()
        kill_jobs_under(settings.data_dir)


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()


def pid_is_gone(pid: int) -> bool:
    """True when ``pid`` no longer names a live process (gone, or a zombie awaiting reaping)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def wait_until_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pid_is_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
