"""Runspace: Python source run in a thread of the engine process.

Stopping sets the job's ``stop_requested()`` flag for code that checks it, and raises
JobStopped in the thread, which Python delivers at the thread's next bytecode. A job
blocked inside one long call (``time.sleep(600)``, a socket read) gets it only when that
call returns; until then the job shows ``Stopping``.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading

from jobhost.engine.runners import StopReason, stopped_outcome
from jobhost.engine.runners.python import JobStopped, run_source
from jobhost.engine.sources import BufferSource
from jobhost.models import Job, Outcome, Status

logger = logging.getLogger(__name__)


class ThreadRunner:
    def start(self, job: Job) -> ThreadRun:
        run = ThreadRun(job, asyncio.get_running_loop())
        run.start()
        return run


class ThreadRun:
    def __init__(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        self._job = job
        self._loop = loop
        self.source = BufferSource()
        self._done: asyncio.Future[Outcome] = loop.create_future()
        self._stop_requested = threading.Event()
        self._stop_reason: StopReason | None = None
        # Guards the window in which an asynchronous exception may be delivered, so that
        # one is never raised into the thread after the job's code has returned.
        self._state = threading.Lock()
        self._running_code = False
        self._thread = threading.Thread(
            target=self._main, name=f"jobhost-runspace-{job.job_id[:8]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    async def wait(self) -> Outcome:
        return await self._done

    def stop(self, grace: float, reason: StopReason) -> None:
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        self._stop_requested.set()
        with self._state:
            if self._running_code and self._thread.ident is not None:
                _raise_in_thread(self._thread.ident, JobStopped)

    def _main(self) -> None:
        try:
            outcome = self._execute()
        except BaseException:  # the job's thread must report, whatever happened
            logger.exception("runspace job crashed the runner", extra={"job_id": self._job.job_id})
            outcome = Outcome(Status.FAILED, None, "[jobhost: the runner failed; see server log]")
        self.source.close()
        self._loop.call_soon_threadsafe(_resolve, self._done, outcome)

    def _execute(self) -> Outcome:
        try:
            with self._state:
                self._running_code = True
            try:
                outcome = run_source(self._job, self.source, self._stop_requested)
            finally:
                with self._state:
                    self._running_code = False
                    if self._thread.ident is not None:
                        _clear_pending(self._thread.ident)
        except JobStopped:
            outcome = Outcome(Status.STOPPED)
        if self._stop_reason is not None:
            return stopped_outcome(self._stop_reason, None, self._job.spec.timeout_seconds)
        return outcome


def _resolve(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)


def _raise_in_thread(thread_id: int, exc: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


def _clear_pending(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
