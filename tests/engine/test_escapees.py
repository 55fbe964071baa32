"""Daemons that double-fork out of a job (a new session, their parent gone) die with it.

Orphaned, they are adopted by the engine as subreaper, outside the job's session and tree:
only ``JOBHOST_JOB_ID`` in their environment ties them to the job. Each form is tried at
the three ends a job can have: a stop, a timeout and its own normal end.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from collections.abc import Callable

import pytest

from jobhost.models import Status
from tests.engine.conftest import Harness, wait_until_gone

# The intermediate leads a new session and exits at once, leaving its child behind.
_SHELL_DAEMON = "setsid sh -c 'sleep 7785 & echo pid=$!; exit'"
_PYTHON_DAEMON = " ".join(
    [
        shlex.quote(sys.executable),
        "-c",
        shlex.quote(
            "import os, sys, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        time.sleep(7785)\n"
            "    else:\n"
            "        print(f'pid={pid}', flush=True)\n"
            "    os._exit(0)\n"
            "os.wait()\n"
        ),
    ]
)
FORMS = pytest.mark.parametrize("daemon", [_SHELL_DAEMON, _PYTHON_DAEMON], ids=["sh", "python"])


def _daemon_pid(output: str) -> int:
    return int(re.findall(r"pid=(\d+)", output)[0])


def _run_and_stop_once_started(harness: Harness, job_id: str) -> int:
    """Run the queue, stopping the job once its daemon has printed its pid; that pid."""
    seen: list[int] = []

    async def stop_when_started() -> None:
        seen.append(_daemon_pid(await harness.wait_for_output(job_id, "pid=")))
        await harness.stop(job_id)

    harness.run(stop_when_started)
    return seen[0]


@FORMS
def test_a_stop_kills_a_double_forked_daemon(harness: Harness, daemon: str) -> None:
    job_id = harness.submit(f"{daemon}; sleep 7785")
    pid = _run_and_stop_once_started(harness, job_id)
    assert harness.job(job_id).status is Status.STOPPED
    assert wait_until_gone(pid)


@FORMS
def test_a_timeout_kills_a_double_forked_daemon(
    make_harness: Callable[..., Harness], daemon: str
) -> None:
    harness = make_harness(stop_grace_seconds=0.5)
    job_id = harness.submit(f"{daemon}; sleep 7785", timeout_seconds=1.0)
    harness.run()
    assert harness.job(job_id).status is Status.TIMED_OUT
    assert wait_until_gone(_daemon_pid(harness.output(job_id)))


@FORMS
def test_a_normal_end_kills_a_double_forked_daemon(harness: Harness, daemon: str) -> None:
    job_id = harness.submit(f"{daemon}; echo done")
    harness.run()
    assert harness.job(job_id).status is Status.COMPLETED
    assert harness.output(job_id).endswith("done\n")
    assert wait_until_gone(_daemon_pid(harness.output(job_id)))


def test_the_daemon_outlives_nothing_even_when_the_loop_goes_on(harness: Harness) -> None:
    # A server's loop keeps running after a job ends: nothing scheduled for later may be
    # what kills the daemon, since the job's end is recorded before then.
    job_id = harness.submit(f"{_SHELL_DAEMON}; echo done")

    async def linger() -> None:
        await harness.wait_for_output(job_id, "done")
        await asyncio.sleep(0.2)

    harness.run(linger)
    assert wait_until_gone(_daemon_pid(harness.output(job_id)), timeout=1.0)


def test_a_daemon_ignoring_sigterm_is_killed_before_the_job_counts_as_stopped(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(stop_grace_seconds=0.5)
    # SIG_IGN is inherited: the sleep ignores the SIGTERM of the stop as its parent did.
    job_id = harness.submit("setsid sh -c \"trap '' TERM; sleep 7785 & echo pid=\\$!\"; sleep 7785")
    pid = _run_and_stop_once_started(harness, job_id)
    assert harness.job(job_id).status is Status.STOPPED
    assert wait_until_gone(pid, timeout=1.0)


def test_a_daemon_that_shows_its_job_id_only_after_the_end_is_still_killed(
    harness: Harness,
) -> None:
    # While a process is in exec its environment reads empty, so the end's scan can miss it;
    # here the daemon has no environment at the end and takes the job's id back a moment
    # later, as such a process does once its exec is done. The dispatcher looks again once
    # a tick (kept going here by a second job).
    job_id = harness.submit(
        "setsid sh -c 'env -i /bin/sh -c \"sleep 1;"
        " exec env JOBHOST_JOB_ID=$JOBHOST_JOB_ID sleep 7785\" & echo pid=$!; exit'; echo done"
    )
    harness.submit("sleep 2.5")
    harness.run()
    assert harness.job(job_id).status is Status.COMPLETED
    assert wait_until_gone(_daemon_pid(harness.output(job_id)), timeout=1.0)
