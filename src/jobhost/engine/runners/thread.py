"""Runspace: Python source run in a thread of the engine process.

Stopping raises JobStopped in the thread, which Python delivers at the thread's next
bytecode, and sets the job's ``stop_requested()`` flag, which also wakes the job's
``time.sleep`` (see python.py). A job blocked inside another long call (a socket read, a
lock's wait) gets it only when that call returns; until then the job shows ``Stopping``.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import queue
import threading

from jobhost.engine.runners import StopReason, stopped_outcome
from jobhost.engine.runners.python import JobStopped, StopSignal, run_source
from jobhost.engine.sources import BufferSource
from jobhost.models import Job, Outcome, Status

logger = logging.getLogger(__name__)

IDLE_SECONDS = 60.0


class ThreadRunner:
    """Runs each job on an idle worker thread, starting a new one only when none is idle.

    Starting a thread costs more than a short job does; a worker left idle for
    ``idle_seconds`` ends, so a burst of jobs does not leave its threads behind.
    """

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []

    def start(self, job: Job) -> ThreadRun:
        run = ThreadRun(job, asyncio.get_running_loop())
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(self)
            worker.give(run)
            worker.start()
        else:
            worker.give(run)
        return run

    @property
    def idle_workers(self) -> int:
        with self._lock:
            return len(self._idle)

    def _rest(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _retire(self, worker: _Worker) -> bool:
        """Take an idle worker out of the pool; False if a job was just handed to it."""
        with self._lock:
            if worker not in self._idle:
                return False
            self._idle.remove(worker)
            return True


class _Worker(threading.Thread):
    def __init__(self, pool: ThreadRunner) -> None:
        super().__init__(name="jobhost-runspace", daemon=True)
        self._pool = pool
        self._runs: queue.SimpleQueue[ThreadRun] = queue.SimpleQueue()

    def give(self, run: ThreadRun) -> None:
        self._runs.put(run)

    def run(self) -> None:
        while True:
            try:
                run = self._runs.get(timeout=self._pool._idle_seconds)
            except queue.Empty:
                if self._pool._retire(self):
                    return
                continue  # a job was handed over as the wait ran out: it is in the queue
            self.name = f"jobhost-runspace-{run.job_id[:8]}"
            run.execute()
            self.name = "jobhost-runspace"
            self._pool._rest(self)


class ThreadRun:
    def __init__(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        self._job = job
        self._loop = loop
        self.source = BufferSource()
        self._done: asyncio.Future[Outcome] = loop.create_future()
        self._stop_requested = StopSignal()
        self._stop_reason: StopReason | None = None
        # Guards the window in which an asynchronous exception may be delivered, so that
        # one is never raised into the thread after the job's code has returned: the
        # thread goes on to run other jobs.
        self._state = threading.Lock()
        self._thread_id: int | None = None
        self._raised = False

    @property
    def job_id(self) -> str:
        return self._job.job_id

    async def wait(self) -> Outcome:
        return await self._done

    def stop(self, grace: float, reason: StopReason) -> None:
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        # Raised before the signal wakes a sleeping job, so that it surfaces at the sleep.
        with self._state:
            if self._thread_id is not None:
                _raise_in_thread(self._thread_id, JobStopped)
                self._raised = True
        self._stop_requested.set()

    def execute(self) -> None:
        """Run the job on the calling thread and report how it ended."""
        try:
            outcome = self._execute()
        except BaseException:  # the job's thread must report, whatever happened
            logger.exception("runspace job crashed the runner", extra={"job_id": self._job.job_id})
            outcome = Outcome(Status.FAILED, None, "[jobhost: the runner failed; see server log]")
        self.source.close()
        self._loop.call_soon_threadsafe(_resolve, self._done, outcome)

    def _execute(self) -> Outcome:
        if self._stop_reason is None:
            try:
                try:
                    with self._state:
                        self._thread_id = threading.get_ident()
                    outcome = run_source(self._job, self.source, self._stop_requested)
                finally:
                    with self._state:
                        if self._raised:
                            _clear_pending()
                        self._thread_id = None
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


class _Cleared(BaseException):
    """Takes the place of a stop still pending when the job's code has returned."""


def _clear_pending() -> None:
    """Make sure no stop is left pending on the calling thread, which runs other jobs next.

    A raised stop may not have been delivered yet when the job's code returned. It is
    replaced by a marker that is delivered and swallowed here. Clearing it with NULL, the
    documented way, leaves CPython 3.11's interpreter-wide "asynchronous exception pending"
    signal set for good: every thread then takes the slow path at each check, and a
    dispatcher under a profiler stopped making progress.
    """
    try:
        _raise_in_thread(threading.get_ident(), _Cleared)
        while True:  # the loop's next check delivers the marker
            pass
    except _Cleared:
        return
