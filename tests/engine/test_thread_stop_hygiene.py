"""A stopped Runspace job leaves nothing behind that slows or stalls the interpreter.

Clearing a not-yet-delivered stop with ``PyThreadState_SetAsyncExc(id, NULL)`` left CPython
3.11's interpreter-wide "asynchronous exception pending" signal set; under a profiler the
dispatcher then stalled in ``Thread.start`` and never started another job. The scenario runs
in a subprocess so that a stall fails the test by its timeout instead of hanging the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent(
    """
    import asyncio, cProfile, threading
    from jobhost.engine.runners import StopReason
    from jobhost.engine.runners.thread import ThreadRunner
    from jobhost.models import Job, JobSpec, Mode, Status

    def job(n, command):
        spec = JobSpec(name="j", command=command, mode=Mode.RUNSPACE)
        return Job(job_id=f"00000000-0000-4000-8000-{n:012d}", user_id="u", spec=spec,
                   status=Status.RUNNING, submitted_at=0.0)

    async def main():
        runner = ThreadRunner()
        stopped = 0
        for n in range(5):  # each stop is raised into the running code
            run = runner.start(job(n, "while True:\\n    pass"))
            await asyncio.sleep(0.01)
            run.stop(0, StopReason.USER)
            stopped += (await run.wait()).status is Status.STOPPED
        for n in range(5, 60):
            assert (await runner.start(job(n, "pass")).wait()).status is Status.COMPLETED
        print("ok", stopped)

    def dispatcher():
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(main())
        profile.disable()

    thread = threading.Thread(target=dispatcher)
    thread.start()
    thread.join()
    """
)


def test_jobs_keep_starting_after_stops_even_under_a_profiler() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok "), done.stdout
    assert done.stdout.split()[1] == "5"
