"""The Runspace worker threads: reused while busy, gone once idle."""

from __future__ import annotations

import asyncio
import threading
import time

from jobhost.engine.runners.thread import ThreadRunner
from jobhost.models import Job, JobSpec, Mode, Outcome, Status


def job(n: int) -> Job:
    spec = JobSpec(name="j", command="pass", mode=Mode.RUNSPACE)
    return Job(
        job_id=f"00000000-0000-4000-8000-{n:012d}",
        user_id="u",
        spec=spec,
        status=Status.RUNNING,
        submitted_at=0.0,
    )


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("jobhost-runspace")]


def test_idle_workers_are_reused_then_end() -> None:
    before = len(workers())
    runner = ThreadRunner(idle_seconds=0.2)

    async def run_in_turn() -> list[Outcome]:
        outcomes = []
        for n in range(5):
            outcomes.append(await runner.start(job(n)).wait())
            deadline = time.monotonic() + 5
            while runner.idle_workers == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.001)  # the worker goes back to the pool after reporting
        return outcomes

    outcomes = asyncio.run(run_in_turn())
    assert [o.status for o in outcomes] == [Status.COMPLETED] * 5
    assert runner.idle_workers == 1  # one thread ran all five
    assert len(workers()) == before + 1
    deadline = time.monotonic() + 5
    while runner.idle_workers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.idle_workers == 0
    while len(workers()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers()) == before
