"""A Runspace job asleep in time.sleep ends as soon as a stop, timeout or shutdown asks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from jobhost.engine import capture
from jobhost.models import Mode, Status
from tests.engine.conftest import Harness

SLEEPERS = {
    "import time": "import time\nprint('asleep', flush=True)\ntime.sleep(30)",
    "from time import sleep": "from time import sleep\nprint('asleep', flush=True)\nsleep(30)",
    "import time as t": "import time as t\nprint('asleep', flush=True)\nt.sleep(30)",
    "in a function": (
        "def nap():\n    import time\n    time.sleep(30)\nprint('asleep', flush=True)\nnap()"
    ),
}


def test_a_sleeping_runspace_job_times_out_on_time(harness: Harness) -> None:
    job_id = harness.submit(SLEEPERS["import time"], Mode.RUNSPACE, timeout_seconds=1)
    started = time.monotonic()
    harness.run()
    assert time.monotonic() - started < 5
    assert harness.job(job_id).status is Status.TIMED_OUT
    assert harness.output(job_id) == "asleep\n[Job timed out after 1 s]\n"


@pytest.mark.parametrize("form", list(SLEEPERS))
def test_a_sleeping_runspace_job_stops_at_once(harness: Harness, form: str) -> None:
    job_id = harness.submit(SLEEPERS[form], Mode.RUNSPACE)
    shown: list[Status] = []
    asked: list[float] = []

    async def stop_when_asleep() -> None:
        await harness.wait_for_output(job_id, "asleep")
        await harness.stop(job_id)
        asked.append(time.monotonic())
        shown.append(harness.job(job_id).status)

    harness.run(stop_when_asleep)
    assert time.monotonic() - asked[0] < 3
    assert shown == [Status.STOPPING]
    assert harness.job(job_id).status is Status.STOPPED
    assert harness.output(job_id) == "asleep\n[Job stopped by user]\n"


def test_a_timeout_shows_stopping_while_the_job_is_still_ending(harness: Harness) -> None:
    # A lock wait is not interrupted (see MODES.md), so this job takes a while to end after
    # its timeout: long enough for the record to be seen while it does.
    code = "import threading\nprint('waiting', flush=True)\nthreading.Event().wait(2)"
    job_id = harness.submit(code, Mode.RUNSPACE, timeout_seconds=0.3)
    seen: list[Status] = []

    async def watch() -> None:
        await harness.wait_for_output(job_id, "waiting")
        while not (status := harness.job(job_id).status).is_finished:
            if not seen or seen[-1] is not status:
                seen.append(status)
            await asyncio.sleep(0.01)

    harness.run(watch)
    assert seen == [Status.RUNNING, Status.STOPPING]
    assert harness.job(job_id).status is Status.TIMED_OUT


def test_shutdown_is_not_held_up_by_a_sleeping_job(harness: Harness) -> None:
    job_id = harness.submit(SLEEPERS["import time"], Mode.RUNSPACE)
    took: list[float] = []

    async def serve_then_shut_down() -> None:
        stopping = asyncio.Event()
        serving = asyncio.create_task(harness.dispatcher.run_forever(stopping))
        await harness.wait_for_output(job_id, "asleep")
        started = time.monotonic()
        stopping.set()
        await asyncio.wait_for(serving, timeout=30)
        took.append(time.monotonic() - started)

    capture.install()
    try:
        asyncio.run(serve_then_shut_down())
    finally:
        capture.uninstall()
    assert took[0] < 3  # the stop grace is 5 s: before, shutdown waited it out
    assert harness.job(job_id).status is Status.INTERRUPTED
    assert harness.output(job_id) == "asleep\n[Job interrupted: the server shut down]\n"


SLEEPS_STILL_SLEEP = """
import threading, time
from time import sleep
started = time.monotonic()
sleep(0.2)
time.sleep(0)
print(time.monotonic() - started >= 0.2)
for bad in (-1, float("nan"), "1"):
    try:
        time.sleep(bad)
    except (ValueError, TypeError) as exc:
        print(type(exc).__name__)
worker = threading.Thread(target=lambda: time.sleep(0.05))
worker.start()
worker.join()
print(time.sleep is sleep, time.time() > 0, time.strftime("%Y") >= "2024")
"""


def test_sleep_in_a_job_still_sleeps_and_the_rest_of_time_is_there(harness: Harness) -> None:
    job_id = harness.submit(SLEEPS_STILL_SLEEP, Mode.RUNSPACE)
    main_loop = harness.submit(SLEEPS_STILL_SLEEP, Mode.MAIN_LOOP)
    harness.run()
    expected = "True\nValueError\nValueError\nTypeError\nTrue True True\n"
    assert (harness.job(job_id).status, harness.output(job_id)) == (Status.COMPLETED, expected)
    assert (harness.job(main_loop).status, harness.output(main_loop)) == (
        Status.COMPLETED,
        expected,
    )


def test_the_next_job_on_the_thread_sleeps_in_full(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(max_concurrent_jobs=1)
    sleeper = harness.submit(SLEEPERS["import time"], Mode.RUNSPACE)
    follower = harness.submit(
        "import time\nstarted = time.monotonic()\ntime.sleep(0.3)\n"
        "print(time.monotonic() - started >= 0.3)",
        Mode.RUNSPACE,
    )

    async def stop_when_asleep() -> None:
        await harness.wait_for_output(sleeper, "asleep")
        await harness.stop(sleeper)

    harness.run(stop_when_asleep)
    assert harness.job(sleeper).status is Status.STOPPED
    assert (harness.job(follower).status, harness.output(follower)) == (Status.COMPLETED, "True\n")


def test_a_job_that_swallows_the_stop_sleeps_no_more(harness: Harness) -> None:
    code = (
        "import time\nprint('asleep', flush=True)\nfor n in range(3):\n    try:\n"
        "        time.sleep(30)\n    except BaseException as exc:\n"
        "        print(type(exc).__name__, flush=True)\n"
    )
    job_id = harness.submit(code, Mode.RUNSPACE)
    asked: list[float] = []

    async def stop_when_asleep() -> None:
        await harness.wait_for_output(job_id, "asleep")
        asked.append(time.monotonic())
        await harness.stop(job_id)

    harness.run(stop_when_asleep)
    assert time.monotonic() - asked[0] < 3
    assert harness.output(job_id) == "asleep\n" + "JobStopped\n" * 3 + "[Job stopped by user]\n"
