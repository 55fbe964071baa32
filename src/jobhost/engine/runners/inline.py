"""MainLoop: Python source run synchronously inside the dispatcher's loop.

Nothing else is dispatched until it returns (the seed's semantics); the web server, in
its own thread, keeps answering, and the recorder keeps storing the job's output live.
It cannot be stopped.
"""

from __future__ import annotations

from jobhost.engine.runners.python import JobStopped, StopSignal, run_source
from jobhost.engine.sources import BufferSource
from jobhost.models import Job, Outcome, Status


def run_inline(job: Job, buffer: BufferSource) -> Outcome:
    try:
        return run_source(job, buffer, StopSignal())
    except JobStopped:  # nobody raises it here, but the contract of run_source allows it
        return Outcome(Status.STOPPED)
    finally:
        buffer.close()
