"""Jobs a stopped engine had claimed but not started: a restarted engine puts them back in
the queue, in their place, once; jobs that did start are adopted or interrupted as before."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from jobhost.engine import unstarted
from jobhost.engine.runners.process import ProcessRunner
from jobhost.engine.runners.thread import ThreadRunner
from jobhost.models import Job, Mode, Status
from tests.engine.conftest import Harness

BEFORE_IT_STARTED = "[Job interrupted: the server stopped before it started]\n"
WHILE_IT_RAN = "[Job interrupted: the server stopped while it ran]\n"


def claim(harness: Harness, count: int) -> list[Job]:
    """Claim as a dispatcher does, then stop there, as a server killed right after would."""
    claimed = harness.store.jobs.claim(count, harness.node)
    assert len(claimed) == count
    return claimed


def recover(harness: Harness) -> None:
    """What a starting engine does first, and nothing else."""
    asyncio.run(harness.dispatcher.recover())


def test_claimed_jobs_that_never_started_run_after_a_restart_in_their_place(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = make_harness(max_concurrent_jobs=1)
    order = tmp_path / "order"

    def submit(name: str, priority: int = 0) -> str:
        return harness.submit(f"echo {name}; echo {name} >> {order}", priority=priority)

    low, high = submit("low"), submit("high", priority=5)
    claim(harness, 2)
    # The first engine had made one job's run folder and was killed before it asked its
    # job parent to start it; the other it had not reached.
    (harness.processes.runs_dir / low).mkdir()
    later = [submit("later-high", priority=5), submit("later-low")]

    harness.run()

    assert order.read_text().split() == ["high", "later-high", "low", "later-low"]
    for job_id, name in [(low, "low"), (high, "high")]:
        job = harness.job(job_id)
        assert (job.status, job.exit_code, job.attempt) == (Status.COMPLETED, 0, 1)
        assert harness.output(job_id) == f"{name}\n"
    assert all(harness.job(job_id).status is Status.COMPLETED for job_id in later)


def test_a_job_its_parent_took_but_could_not_start_is_put_back(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job parent creates the output file as it takes the request and writes the pid
    # file once the job runs: a restarted engine waits for it a moment, then knows.
    monkeypatch.setattr(unstarted, "PID_FILE_WAIT_SECONDS", 0.2)
    job_id = harness.submit("echo ran")
    claim(harness, 1)
    run_dir = harness.processes.runs_dir / job_id
    run_dir.mkdir()
    (run_dir / "output").touch()

    recover(harness)
    assert harness.job(job_id).status is Status.PENDING
    assert not run_dir.exists()
    harness.run()
    assert harness.job(job_id).status is Status.COMPLETED
    assert harness.output(job_id) == "ran\n"


def test_a_job_put_back_that_again_never_starts_is_interrupted_saying_so(
    harness: Harness,
) -> None:
    job_id = harness.submit("echo never")
    claim(harness, 1)
    recover(harness)
    assert harness.job(job_id).status is Status.PENDING
    claim(harness, 1)  # and the server dies again before starting it

    harness.run()

    job = harness.job(job_id)
    assert (job.status, job.started_at, job.attempt) == (Status.INTERRUPTED, None, 0)
    assert harness.output(job_id) == BEFORE_IT_STARTED


def test_a_job_stopped_before_it_started_is_cancelled(harness: Harness) -> None:
    job_id = harness.submit("echo never")
    claim(harness, 1)
    assert harness.store.jobs.request_stop(job_id)

    harness.run()

    job = harness.job(job_id)
    assert (job.status, job.started_at) == (Status.CANCELLED, None)
    assert harness.output(job_id) == "[Job stopped by user before it started]\n"


def test_a_job_whose_process_ended_while_the_engine_was_down_without_an_exit_file_is_interrupted(
    harness: Harness,
) -> None:
    job_id = harness.submit("sleep 300")
    claim(harness, 1)
    # Started (its pid file says so), but gone without a trace, as after a reboot.
    gone = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    run_dir = harness.processes.runs_dir / job_id
    run_dir.mkdir()
    (run_dir / "pid").write_text(f"{gone.stdout.strip()} 1\n")

    harness.run()

    assert harness.job(job_id).status is Status.INTERRUPTED
    assert harness.output(job_id) == WHILE_IT_RAN


def test_a_mainloop_job_is_marked_begun_in_its_run_folder_while_its_code_runs(
    harness: Harness,
) -> None:
    runs = harness.processes.runs_dir
    job_id = harness.submit(
        f"import os\nprint(os.path.isdir(os.path.join({str(runs)!r}, JOB_ID)))", Mode.MAIN_LOOP
    )
    harness.run()
    assert harness.output(job_id) == "True\n"
    assert not (runs / job_id).exists()


def test_a_mainloop_job_not_yet_begun_is_put_back_and_one_begun_is_interrupted(
    harness: Harness,
) -> None:
    begun = harness.submit("print('ran')", Mode.MAIN_LOOP)
    claim(harness, 1)
    (harness.processes.runs_dir / begun).mkdir()  # the mark a MainLoop job's run leaves
    not_begun = harness.submit("print('ran')", Mode.MAIN_LOOP)
    claim(harness, 1)

    harness.run()

    assert harness.job(begun).status is Status.INTERRUPTED
    assert harness.output(begun) == WHILE_IT_RAN
    assert harness.job(not_begun).status is Status.COMPLETED
    assert harness.output(not_begun) == "ran\n"


def test_a_runspace_job_counts_as_started_once_claimed(harness: Harness) -> None:
    # Nothing outlives the server to tell "claimed" from "handed to its thread", and the
    # dispatcher hands it over at once: run again, its code could repeat what it did.
    job_id = harness.submit("print('ran')", Mode.RUNSPACE)
    claim(harness, 1)

    harness.run()

    assert harness.job(job_id).status is Status.INTERRUPTED
    assert harness.output(job_id) == WHILE_IT_RAN


def test_runspace_jobs_are_handed_to_their_threads_before_processes_start(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []

    def noting(start: Callable[..., object]) -> Callable[..., object]:
        def note(self: object, job: Job) -> object:
            started.append(job.spec.command)
            return start(self, job)

        return note

    monkeypatch.setattr(ProcessRunner, "start", noting(ProcessRunner.start))
    monkeypatch.setattr(ThreadRunner, "start", noting(ThreadRunner.start))
    harness.submit("true")
    harness.submit("pass", Mode.RUNSPACE)
    harness.submit("exit 0")
    harness.submit("x = 1", Mode.RUNSPACE)

    harness.run()

    assert started == ["pass", "x = 1", "true", "exit 0"]
