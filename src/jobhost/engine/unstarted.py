"""Which of the jobs a stopped engine left Running or Stopping it had claimed but never
started, told from what outlives it (no write on the way to a start, which is hot).

- BackgroundJob: started once its job parent started the process. The parent creates
  ``runs/<id>/output`` as it takes the request, starts the job and writes ``runs/<id>/pid``
  straight after, then ``exit`` at the end. No ``output`` (the engine died before asking,
  with or without an empty run folder made) means not started; an empty ``output`` and no
  ``pid`` means the parent took it and could not start it, once it has had a moment to
  write the pid (it may still be at it, outliving the engine that asked).
- MainLoop: started once its code began, which first makes its run folder (``mark_begun``).
- Runspace: started once claimed. The dispatcher hands it to its thread straight after the
  claim, before any process job of the same claim starts, and nothing outlives the server
  to tell the two moments apart; its code may have run, so it is never run twice.

Any job with output stored has started.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from jobhost.engine.recorder import Recorder
from jobhost.engine.runners.process import ProcessRunner, running_job_pid
from jobhost.engine.sources import EmptySource
from jobhost.models import Job, Mode, Outcome, Status
from jobhost.store.protocol import JobStore

logger = logging.getLogger(__name__)

BEFORE_IT_STARTED = Outcome(
    Status.INTERRUPTED,
    None,
    "[Job interrupted: the server stopped before it started]",
    may_retry=False,
)
"""For a job put back once already that again never started: it may be what stops the
server, so it is not put back a second time, nor retried."""
STOPPED_BEFORE_IT_STARTED = Outcome(
    Status.CANCELLED, None, "[Job stopped by user before it started]"
)
PID_FILE_WAIT_SECONDS = 1.0
_PID_FILE_POLL_SECONDS = 0.01


def mark_begun(runs_dir: Path, job_id: str) -> None:
    """Leave the mark that a MainLoop job's code has begun (OSError if it cannot)."""
    os.makedirs(os.path.join(runs_dir, job_id), exist_ok=True)


async def put_back(
    jobs: JobStore, recorder: Recorder, processes: ProcessRunner, unstarted: list[Job]
) -> None:
    """Return jobs that never started to the queue; those returned once before, or
    stopped meanwhile, end saying they never started."""
    returned = set(jobs.unstart([job.job_id for job in unstarted]))
    for job in unstarted:
        processes.remove_run_dir(job.job_id)
        if job.job_id in returned:
            logger.info(
                "job %s never started; back in the queue",
                job.job_id,
                extra={"action": "requeue", "job_id": job.job_id},
            )
            continue
        stopped = job.status is Status.STOPPING
        outcome = STOPPED_BEFORE_IT_STARTED if stopped else BEFORE_IT_STARTED
        recorder.watch(job.job_id, EmptySource(), job.output_size, job.output_dropped)
        await asyncio.wrap_future(recorder.finish(job.job_id, outcome))


async def never_started(jobs: Iterable[Job], runs_dir: Path) -> list[Job]:
    """The jobs among ``jobs`` (left unfinished by a stopped engine) that never started."""
    unstarted: list[Job] = []
    taken: list[Job] = []  # by a job parent, which may still be writing the pid file
    for job in jobs:
        if job.output_size or job.output_dropped or job.mode is Mode.RUNSPACE:
            continue
        run_dir = runs_dir / job.job_id
        if job.mode is Mode.MAIN_LOOP:
            if not run_dir.exists():
                unstarted.append(job)
            continue
        trace = _process_trace(run_dir)
        if trace == "none":
            unstarted.append(job)
        elif trace == "taken":
            taken.append(job)
    return unstarted + await _without_pid_file(taken, runs_dir)


def _process_trace(run_dir: Path) -> str:
    """'started', 'taken' (an empty output file and no pid file yet) or 'none'."""
    if (run_dir / "pid").exists() or (run_dir / "exit").exists():
        return "started"
    try:
        size = (run_dir / "output").stat().st_size
    except FileNotFoundError:
        return "none"
    return "started" if size else "taken"


async def _without_pid_file(jobs: list[Job], runs_dir: Path) -> list[Job]:
    """Those of ``jobs`` whose pid file does not come within PID_FILE_WAIT_SECONDS, and that
    no job wrapper of an older jobhost runs (it wrote none)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PID_FILE_WAIT_SECONDS
    while jobs:
        jobs = [job for job in jobs if _process_trace(runs_dir / job.job_id) == "taken"]
        if loop.time() >= deadline:
            break
        await asyncio.sleep(_PID_FILE_POLL_SECONDS)
    return [job for job in jobs if running_job_pid(runs_dir / job.job_id) is None]
