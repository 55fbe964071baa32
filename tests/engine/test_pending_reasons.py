"""The PendingReason the dispatcher gives the jobs it leaves Pending, and the per-user limit
it claims under, with real processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from jobhost.models import Status
from tests.engine.conftest import Harness

WAIT_FOR_GATE = "while [ ! -e {gate} ]; do sleep 0.01; done"


async def until_running(harness: Harness, job_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while harness.job(job_id).status is not Status.RUNNING:
        assert time.monotonic() < deadline, f"{job_id} never started"
        await asyncio.sleep(0.01)


def test_a_job_behind_a_full_server_waits_for_a_free_slot(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = make_harness(max_concurrent_jobs=1)
    gate = tmp_path / "gate"
    first = harness.submit(WAIT_FOR_GATE.format(gate=gate))
    second = harness.submit("true")
    seen: list[str | None] = []

    async def during() -> None:
        await until_running(harness, first)
        seen.append(harness.job(second).pending_reason)
        gate.touch()

    harness.run(during)

    assert seen == ["waiting for a free slot (1 of 1 running)"]
    assert harness.job(second).status is Status.COMPLETED
    assert harness.job(second).pending_reason is None  # no longer pending


def test_a_user_at_the_limit_waits_while_another_user_s_job_starts(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = make_harness(max_concurrent_jobs=4, max_jobs_per_user=1)
    gate = tmp_path / "gate"
    first = harness.submit(WAIT_FOR_GATE.format(gate=gate))
    second = harness.submit("true")
    other = harness.submit(WAIT_FOR_GATE.format(gate=gate), user="someone-else")
    seen: list[object] = []

    async def during() -> None:
        await until_running(harness, first)
        await until_running(harness, other)
        seen.append((harness.job(second).status, harness.job(second).pending_reason))
        gate.touch()

    harness.run(during)

    assert seen == [(Status.PENDING, "user limit reached (1 of 1 running)")]
    assert harness.job(second).status is Status.COMPLETED
    assert harness.job(second).started_at >= harness.job(first).completed_at  # type: ignore[operator]
