"""Runspace (thread) and MainLoop (inline) jobs: capture, failures, stop, timeouts, blocking."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jobhost.clock import SystemClock
from jobhost.models import Mode, Status
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.engine.conftest import Harness

PRINT_MANY = """
import sys, time
for i in range(200):
    print("{tag}", i)
    if i % 50 == 0:
        print("{tag} err", i, file=sys.stderr)
        time.sleep(0.001)
"""


def test_concurrent_runspace_jobs_capture_only_their_own_prints(harness: Harness) -> None:
    tags = [f"job{n}" for n in range(6)]
    ids = {tag: harness.submit(PRINT_MANY.format(tag=tag), Mode.RUNSPACE) for tag in tags}
    harness.run()
    for tag, job_id in ids.items():
        assert harness.job(job_id).status is Status.COMPLETED
        lines = harness.output(job_id).splitlines()
        assert len(lines) == 204
        assert all(line.startswith(tag + " ") for line in lines), lines[:5]
        assert [line for line in lines if " err " not in line] == [f"{tag} {i}" for i in range(200)]


def test_an_exception_keeps_earlier_output_and_appends_the_traceback(harness: Harness) -> None:
    job_id = harness.submit("print('before')\nraise ValueError('boom')", Mode.RUNSPACE)
    harness.run()
    job = harness.job(job_id)
    output = harness.output(job_id)
    assert job.status is Status.FAILED
    assert job.exit_code == 1
    assert output.startswith("before\nTraceback (most recent call last):\n")
    assert output.endswith("ValueError: boom\n")
    assert "jobhost/engine" not in output  # the job's frames only, not the runner's


def test_a_syntax_error_fails_the_job_with_the_error_shown(harness: Harness) -> None:
    job_id = harness.submit("def broken(:\n    pass", Mode.RUNSPACE)
    harness.run()
    assert harness.job(job_id).status is Status.FAILED
    assert "SyntaxError" in harness.output(job_id)


def test_annotations_in_a_job_are_not_evaluated(harness: Harness) -> None:
    # As jobs have always been compiled (PEP 563): a name used only in an annotation
    # need not exist.
    job_id = harness.submit("def f(x: NoSuchName) -> None:\n    print('ok')\nf(1)", Mode.RUNSPACE)
    harness.run()
    assert (harness.job(job_id).status, harness.output(job_id)) == (Status.COMPLETED, "ok\n")


def test_sys_exit_ends_the_job_not_the_server(harness: Harness) -> None:
    failed = harness.submit("import sys\nsys.exit(4)", Mode.RUNSPACE)
    fine = harness.submit("import sys\nsys.exit()", Mode.RUNSPACE)
    worded = harness.submit("raise SystemExit('bye')", Mode.RUNSPACE)
    harness.run()
    assert (harness.job(failed).status, harness.job(failed).exit_code) == (Status.FAILED, 4)
    assert (harness.job(fine).status, harness.job(fine).exit_code) == (Status.COMPLETED, 0)
    assert harness.job(worded).status is Status.FAILED
    assert harness.output(worded) == "bye\n"


def test_a_busy_looping_runspace_job_stops_within_seconds(harness: Harness) -> None:
    job_id = harness.submit("print('spinning', flush=True)\nwhile True:\n    pass", Mode.RUNSPACE)
    asked: list[float] = []

    async def stop_when_spinning() -> None:
        await harness.wait_for_output(job_id, "spinning")
        asked.append(time.monotonic())
        await harness.stop(job_id)

    harness.run(stop_when_spinning)
    assert time.monotonic() - asked[0] < 5
    assert harness.job(job_id).status is Status.STOPPED
    assert harness.output(job_id) == "spinning\n[Job stopped by user]\n"


def test_a_stopped_runspace_job_cannot_swallow_the_stop(harness: Harness) -> None:
    code = (
        "import time\nprint('go')\nwhile True:\n"
        "    try:\n        time.sleep(0.01)\n    except Exception:\n        print('caught')\n"
    )
    job_id = harness.submit(code, Mode.RUNSPACE)

    async def stop_when_going() -> None:
        await harness.wait_for_output(job_id, "go")
        await harness.stop(job_id)

    harness.run(stop_when_going)
    assert harness.job(job_id).status is Status.STOPPED
    assert "caught" not in harness.output(job_id)


def test_runspace_timeout_ends_the_job_timed_out(harness: Harness) -> None:
    job_id = harness.submit("while True:\n    pass", Mode.RUNSPACE, timeout_seconds=0.3)
    harness.run()
    assert harness.job(job_id).status is Status.TIMED_OUT


def test_mainloop_output_is_captured(harness: Harness) -> None:
    job_id = harness.submit("print('inline says hi')", Mode.MAIN_LOOP)
    harness.run()
    assert harness.job(job_id).status is Status.COMPLETED
    assert harness.output(job_id) == "inline says hi\n"


def test_mainloop_blocks_dispatch_until_it_returns(harness: Harness) -> None:
    blocker = harness.submit("import time\ntime.sleep(0.5)", Mode.MAIN_LOOP)
    behind = harness.submit("true")
    harness.run()
    first, second = harness.job(blocker), harness.job(behind)
    assert first.completed_at is not None and second.started_at is not None
    assert second.started_at >= first.completed_at


def test_mainloop_output_is_live_while_it_runs(harness: Harness) -> None:
    job_id = harness.submit(
        "import time\nprint('early', flush=True)\ntime.sleep(1.0)\nprint('late')", Mode.MAIN_LOOP
    )
    seen_while_running: list[str] = []

    def watch() -> None:
        # The job blocks the dispatcher's loop (and the harness runs on that loop), so watch
        # from another thread: the store must hold the early line while the job still sleeps.
        deadline = time.monotonic() + 10
        while "early" not in harness.output(job_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_while_running.append(harness.job(job_id).status.value)

    watcher = threading.Thread(target=watch)
    watcher.start()
    harness.run()
    watcher.join()
    assert seen_while_running == ["Running"]
    assert harness.output(job_id) == "early\nlate\n"


def test_the_concurrency_limit_holds(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(max_concurrent_jobs=2)
    ids = [harness.submit("import time\ntime.sleep(0.15)", Mode.RUNSPACE) for _ in range(6)]
    harness.run()
    spans = [(harness.job(i).started_at, harness.job(i).completed_at) for i in ids]
    for start, _end in spans:
        assert start is not None
        overlapping = [s for s, e in spans if s is not None and e is not None and s <= start < e]
        assert len(overlapping) <= 2
    assert all(harness.job(i).status is Status.COMPLETED for i in ids)


def test_jobs_run_in_submission_order(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(max_concurrent_jobs=1)
    ids = [harness.submit(f"print({n})", Mode.RUNSPACE) for n in range(5)]
    harness.run()
    starts = [harness.job(i).started_at for i in ids]
    assert starts == sorted(s for s in starts if s is not None)


COUNT_THREAD_USES = """
import threading
thread = threading.current_thread()
print(getattr(thread, "jobs_before", 0))
thread.jobs_before = getattr(thread, "jobs_before", 0) + 1
"""


def test_runspace_jobs_reuse_idle_threads(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(max_concurrent_jobs=2)
    ids = [harness.submit(COUNT_THREAD_USES, Mode.RUNSPACE) for _ in range(20)]
    harness.run()
    assert all(harness.job(i).status is Status.COMPLETED for i in ids)
    earlier = [int(harness.output(i)) for i in ids]
    # Each job sees how many ran on its thread before it: with a thread per job, all 0.
    assert sum(1 for n in earlier if n > 0) >= 10, earlier


def test_a_stop_never_reaches_the_next_job_on_the_same_thread(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(max_concurrent_jobs=1)
    spinners = []
    followers = []
    for n in range(3):
        spinners.append(harness.submit(f"print('spin{n}')\nwhile True:\n    pass", Mode.RUNSPACE))
        followers.append(
            harness.submit("x = 0\nfor i in range(200000):\n    x += i\nprint(x)", Mode.RUNSPACE)
        )

    async def stop_each_spinner() -> None:
        for n, job_id in enumerate(spinners):
            await harness.wait_for_output(job_id, f"spin{n}")
            await harness.stop(job_id)

    harness.run(stop_each_spinner)
    assert [harness.job(i).status for i in spinners] == [Status.STOPPED] * 3
    assert [harness.job(i).status for i in followers] == [Status.COMPLETED] * 3
    assert {harness.output(i) for i in followers} == {f"{sum(range(200000))}\n"}


def test_a_stop_asked_through_another_store_is_found_without_a_wake_up(
    harness: Harness, settings: Settings
) -> None:
    # Another process (or node) sharing the database: its request reaches this engine only
    # through the store, found by the dispatcher's once-per-tick look.
    elsewhere = SqlStore.open(settings.store_url, SystemClock())
    job_id = harness.submit("print('spinning', flush=True)\nwhile True:\n    pass", Mode.RUNSPACE)

    async def stop_from_elsewhere() -> None:
        await harness.wait_for_output(job_id, "spinning")
        assert elsewhere.jobs.request_stop(job_id)

    try:
        harness.run(stop_from_elsewhere)
    finally:
        elsewhere.close()
    assert harness.job(job_id).status is Status.STOPPED
