"""runAt and retries in the engine: the dispatcher's alarm on a clock the test moves, attempt
headers, which ends are retried, and jobs a restart interrupted."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobhost.clock import SystemClock
from jobhost.engine.alarm import STORE_RETRY_SECONDS
from jobhost.engine.dispatcher import _Active
from jobhost.engine.recorder import Recorder
from jobhost.engine.runners.process import ProcessRunner, running_job_pid
from jobhost.engine.runners.process_tree import become_subreaper
from jobhost.errors import StoreUnavailable
from jobhost.models import Mode, Status
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.engine.conftest import Harness
from tests.integration.server import kill_jobs_under

INTERRUPTED = "[Job interrupted: the server stopped while it ran]"


class JumpClock:
    """The system's time, plus however far a test has jumped it forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    def jump(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def make_timed(settings: Settings) -> Iterator[Callable[[float], tuple[Harness, JumpClock]]]:
    """Harnesses whose store and dispatcher keep time by a JumpClock, with a given tick."""
    become_subreaper()
    clock = JumpClock()
    store = SqlStore.open(settings.store_url, clock)
    made: list[Harness] = []

    def make(tick: float) -> tuple[Harness, JumpClock]:
        made.append(Harness(settings, store, clock=clock, tick=tick))
        return made[-1], clock

    try:
        yield make
    finally:
        for harness in made:
            harness.close()
        store.close()
        kill_jobs_under(settings.data_dir)


def test_a_scheduled_job_starts_when_its_time_comes_and_not_before(
    make_timed: Callable[[float], tuple[Harness, JumpClock]],
) -> None:
    # A tick of 5 s: a job due sooner can only start in time if the alarm wakes the loop.
    harness, clock = make_timed(5.0)
    run_at = clock.now() + 3600
    job_id = harness.submit("echo ran", run_at=run_at)

    async def during() -> None:
        await asyncio.sleep(0.3)
        assert harness.job(job_id).status is Status.SCHEDULED
        clock.jump(run_at - 0.3 - clock.now())  # due 0.3 s from now, well within a tick
        harness.dispatcher.wake()
        await asyncio.sleep(0.1)
        assert harness.job(job_id).status is Status.SCHEDULED

    harness.run(during)
    job = harness.job(job_id)
    assert (job.status, harness.output(job_id)) == (Status.COMPLETED, "ran\n")
    assert job.started_at is not None
    assert run_at <= job.started_at <= run_at + 0.05


def test_the_alarm_is_read_when_a_job_is_scheduled_not_on_every_cycle(
    make_timed: Callable[[float], tuple[Harness, JumpClock]], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, clock = make_timed(0.01)  # a hundred cycles a second
    reads: list[float] = []
    next_run_at = harness.store.jobs.next_run_at

    def counted() -> float | None:
        reads.append(clock.now())
        return next_run_at()

    monkeypatch.setattr(harness.store.jobs, "next_run_at", counted)
    harness.submit("true", run_at=clock.now() + 3600)

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.create_task(harness.dispatcher.run_forever(stopping))
        await asyncio.sleep(0.5)  # some fifty cycles
        assert len(reads) == 1
        harness.submit("true", run_at=clock.now() + 1800)
        harness.dispatcher.wake()
        await asyncio.sleep(0.1)
        assert len(reads) == 2
        stopping.set()
        await loop

    asyncio.run(main())


def test_a_store_that_refuses_to_promote_is_tried_again_without_spinning(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_at = time.time() + 0.1
    job_id = harness.submit("echo ran", run_at=run_at)
    tries: list[float] = []
    promote_due = harness.store.jobs.promote_due

    def refusing(now: float) -> int:
        tries.append(now)
        if len(tries) <= 2:
            raise StoreUnavailable()
        return promote_due(now)

    monkeypatch.setattr(harness.store.jobs, "promote_due", refusing)
    harness.run()

    assert harness.output(job_id) == "ran\n"
    assert len(tries) == 3
    assert tries[2] - tries[0] >= 2 * STORE_RETRY_SECONDS - 0.01


def test_a_failing_job_runs_again_with_attempt_headers_until_its_retries_are_spent(
    harness: Harness,
) -> None:
    job_id = harness.submit("echo try; exit 3", max_retries=2, retry_delay_seconds=0)
    harness.run()

    job = harness.job(job_id)
    assert (job.status, job.attempt, job.exit_code) == (Status.FAILED, 3, 3)
    assert harness.output(job_id) == "try\n[Attempt 2 of 3]\ntry\n[Attempt 3 of 3]\ntry\n"


def test_an_attempt_header_starts_on_a_line_of_its_own(harness: Harness) -> None:
    job_id = harness.submit("printf partial; exit 1", max_retries=1, retry_delay_seconds=0)
    harness.run()

    assert harness.output(job_id) == "partial\n[Attempt 2 of 2]\npartial"


def test_a_job_that_succeeds_on_a_retry_completes(harness: Harness, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    command = f"if [ -e {flag} ]; then echo second; else touch {flag}; echo first; exit 1; fi"
    job_id = harness.submit(command, mode=Mode.BACKGROUND_JOB, max_retries=3, retry_delay_seconds=0)
    harness.run()

    job = harness.job(job_id)
    assert (job.status, job.attempt) == (Status.COMPLETED, 2)
    assert harness.output(job_id) == "first\n[Attempt 2 of 4]\nsecond\n"


def test_python_jobs_are_retried_too(harness: Harness) -> None:
    job_id = harness.submit("print('go'); raise SystemExit(2)", mode=Mode.RUNSPACE, max_retries=1)
    harness.store.jobs.retry_jitter = lambda: 0.0

    async def during() -> None:
        while (job := harness.job(job_id)).status is not Status.SCHEDULED:
            await asyncio.sleep(0.01)
        assert job.pending_reason is not None and job.pending_reason.startswith("retry 1 of 1 at ")
        harness.store.jobs.promote_due(time.time() + 10)  # the default first delay: 10 s
        harness.dispatcher.wake()

    harness.run(during)
    job = harness.job(job_id)
    assert (job.status, job.attempt) == (Status.FAILED, 2)
    assert harness.output(job_id).count("go\n") == 2
    assert "[Attempt 2 of 2]\ngo\n" in harness.output(job_id)


def test_a_timed_out_job_is_retried(harness: Harness) -> None:
    job_id = harness.submit(
        "echo start; sleep 30", timeout_seconds=0.2, max_retries=1, retry_delay_seconds=0
    )
    harness.run()

    job = harness.job(job_id)
    assert (job.status, job.attempt) == (Status.TIMED_OUT, 2)
    assert harness.output(job_id).count("[Attempt 2 of 2]\nstart\n") == 1


def test_a_stopped_job_is_never_retried(harness: Harness) -> None:
    job_id = harness.submit("echo start; sleep 30", max_retries=3, retry_delay_seconds=0)

    async def during() -> None:
        await harness.wait_for_output(job_id, "start")
        await harness.stop(job_id)

    harness.run(during)
    job = harness.job(job_id)
    assert (job.status, job.attempt) == (Status.STOPPED, 1)
    assert "[Attempt" not in harness.output(job_id)


def test_a_python_job_a_restart_interrupted_is_retried(harness: Harness) -> None:
    job_id = harness.submit(
        "print('done')", mode=Mode.RUNSPACE, max_retries=1, retry_delay_seconds=0
    )
    harness.store.jobs.claim(1, harness.node)  # a previous engine's, cut off by its end

    harness.run()
    job = harness.job(job_id)
    assert (job.status, job.attempt) == (Status.COMPLETED, 2)
    assert harness.output(job_id) == f"{INTERRUPTED}\n[Attempt 2 of 2]\ndone\n"


def start_as_a_previous_engine(harness: Harness, job_id: str, first_line: str) -> int:
    """Claim and start the job as an engine that then vanished without finishing it, as a
    killed server does (the job runs on under its job parent); the job's pid."""
    [job] = harness.store.jobs.claim(1, harness.node)
    assert job.job_id == job_id
    runner = ProcessRunner(
        harness.processes.runs_dir,
        harness.processes.workspace,
        harness.settings.shell_argv,
        SystemClock(),
        {},
    )
    run = runner.start(job)
    recorder = Recorder(harness.store.jobs, harness.settings.output_cap_bytes, 0.01)
    recorder.watch(job_id, run.source)
    recorder.start()
    deadline = time.monotonic() + 5
    while harness.output(job_id) != first_line:
        assert time.monotonic() < deadline, harness.output(job_id)
        time.sleep(0.01)
    recorder.close()
    runner.close()
    pid = running_job_pid(harness.processes.runs_dir / job_id)
    assert pid is not None
    return pid


def test_a_running_job_a_new_engine_adopts_is_not_also_retried(
    harness: Harness, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    command = f"echo start >> {starts}; echo one; sleep 1; echo two"
    job_id = harness.submit(command, max_retries=2, retry_delay_seconds=0)
    start_as_a_previous_engine(harness, job_id, "one\n")

    harness.run()
    job = harness.job(job_id)
    assert (job.status, job.attempt) == (Status.COMPLETED, 1)
    assert harness.output(job_id) == "one\ntwo\n"
    assert starts.read_text() == "start\n"


def test_a_job_whose_process_died_with_the_engine_is_retried_once_it_is_gone(
    harness: Harness, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    command = f"echo start >> {starts}; echo one; sleep 30"
    job_id = harness.submit(command, max_retries=2, retry_delay_seconds=0)
    pid = start_as_a_previous_engine(harness, job_id, "one\n")
    # The job and its parent died with the engine: nothing is left to adopt.
    os.killpg(pid, signal.SIGKILL)
    run_dir = harness.processes.runs_dir / job_id
    deadline = time.monotonic() + 5
    while not (run_dir / "exit").exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for name in ("exit", "pid"):
        (run_dir / name).unlink(missing_ok=True)

    async def during() -> None:
        await harness.wait_for_output(job_id, "[Attempt 2 of 3]\none\n")
        await harness.stop(job_id)

    harness.run(during)
    job = harness.job(job_id)
    assert (job.status, job.attempt) == (Status.STOPPED, 2)
    assert harness.output(job_id).startswith(f"one\n{INTERRUPTED}\n[Attempt 2 of 3]\none\n")
    assert starts.read_text() == "start\nstart\n"


def test_a_late_release_of_an_attempt_leaves_its_retry_running(harness: Harness) -> None:
    # The end of attempt 1 may be stored by the recorder after the retry (attempt 2, due
    # at once) was claimed: releasing attempt 1 then must not forget attempt 2 or its folder.
    job_id = harness.submit("true", max_retries=1, retry_delay_seconds=0)
    job = harness.store.jobs.get(job_id)
    assert job is not None
    first, retry = dataclasses.replace(job, attempt=1), dataclasses.replace(job, attempt=2)
    folder = harness.settings.data_dir / "runs" / job_id
    folder.mkdir(parents=True)
    dispatcher = harness.dispatcher
    dispatcher._active[job_id] = _Active(retry, None, None)

    dispatcher._release(first)
    assert dispatcher._active[job_id].job is retry and folder.exists()

    dispatcher._release(retry)
    assert job_id not in dispatcher._active and not folder.exists()
