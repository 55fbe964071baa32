"""The dispatcher: the seed's "main loop", woken at once by a submit rather than polling.

Each cycle it reaps orphaned processes, honours stop requests, enforces timeouts, then
records the jobs that ended and claims as many pending jobs as the concurrency limit allows
(in one transaction), handing each to the runner of its mode. ``run_burst`` runs cycles
until nothing is left to do, which is what tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from jobhost import policy
from jobhost.clock import Clock
from jobhost.engine.alarm import Alarm
from jobhost.engine.queue_decisions import QueueDecisions
from jobhost.engine.recorder import FinishedHere, Recorder
from jobhost.engine.runners import FailedRun, Run, StopReason, not_started_outcome
from jobhost.engine.runners.inline import run_inline
from jobhost.engine.runners.process import ProcessRunner
from jobhost.engine.runners.process_tree import reap_orphans
from jobhost.engine.runners.thread import ThreadRunner
from jobhost.engine.sources import BufferSource, EmptySource, OutputSource
from jobhost.engine.unstarted import mark_begun, never_started, put_back
from jobhost.errors import JobhostError
from jobhost.models import Job, Mode, Outcome, Status
from jobhost.store.claims import ClaimOrder
from jobhost.store.protocol import JobStore

logger = logging.getLogger(__name__)

INTERRUPTED_BY_RESTART = Outcome(
    Status.INTERRUPTED, None, "[Job interrupted: the server stopped while it ran]"
)
_SUPERVISION_FAILED = "[jobhost: supervising the job failed: {error}]"
_FINISH_AT_SHUTDOWN_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class DispatchLimits:
    max_concurrent: int
    stop_grace: float
    tick: float
    default_timeout: float | None = None
    max_per_user: int | None = None


@dataclass(slots=True)
class _Active:
    job: Job
    run: Run | None
    deadline: float | None


class Dispatcher:
    def __init__(
        self,
        jobs: JobStore,
        recorder: Recorder,
        processes: ProcessRunner,
        clock: Clock,
        limits: DispatchLimits,
        node: str,
    ) -> None:
        self._jobs = jobs
        self._recorder = recorder
        self._processes = processes
        self._threads = ThreadRunner()
        self._clock = clock
        self._limits = limits
        self._node = node
        self._active: dict[str, _Active] = {}
        self._queue = QueueDecisions(jobs, node, limits.max_concurrent, limits.max_per_user)
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended: list[tuple[Job, Outcome]] = []
        self._wake: asyncio.Event | None = None
        self._stops_seen = -1
        self._next_stop_check = 0.0
        self._next_reap = 0.0
        self._next_sweep = 0.0
        self._process_ended = False
        self._alarm = Alarm(jobs, clock)

    def wake(self) -> None:
        """Run a cycle soon; call from the dispatcher's own loop."""
        if self._wake is not None:
            self._wake.set()

    async def run_forever(self, stopping: asyncio.Event) -> None:
        self._wake = asyncio.Event()
        # One waiter for the whole run, rather than one per sleep: a sleep ends on a wake-up.
        shutdown = asyncio.ensure_future(stopping.wait())
        shutdown.add_done_callback(lambda _: self.wake())
        await self.recover()
        while not stopping.is_set():
            self._wake.clear()
            try:
                await self.cycle()
            except Exception:
                # The store may be briefly unavailable; the loop must outlive that.
                logger.exception("dispatch cycle failed; retrying", extra={"action": "dispatch"})
            await self._sleep()
        await self.shutdown()

    async def run_burst(self) -> None:
        """Recover, then dispatch until no job is pending or running."""
        self._wake = asyncio.Event()
        await self.recover()
        while True:
            self._wake.clear()
            await self.cycle()
            idle = not self._active and not self._jobs.has_pending()
            if idle and self._jobs.next_run_at() is None:
                self._processes.close()
                return
            await self._sleep()

    async def recover(self) -> None:
        """Adopt BackgroundJobs a previous engine left running; the rest were interrupted,
        but for the jobs it had claimed and never started, which go back to the queue."""
        unfinished = self._jobs.unfinished_on(self._node)
        unstarted = await never_started(unfinished, self._processes.runs_dir)
        if unstarted:
            await put_back(self._jobs, self._recorder, self._processes, unstarted)
        gone = {job.job_id for job in unstarted}
        for job in map(self._with_default_timeout, unfinished):
            if job.job_id in gone:
                continue
            run = self._processes.adopt(job) if job.mode is Mode.BACKGROUND_JOB else None
            if run is None:  # nothing of it runs: it ends here, or waits for its retry
                self._recorder.watch(job.job_id, EmptySource(), job.output_size, job.output_dropped)
                await asyncio.wrap_future(self._recorder.finish(job.job_id, INTERRUPTED_BY_RESTART))
                self._processes.remove_run_dir(job.job_id)
                continue
            logger.info(
                "adopted job %s", job.job_id, extra={"action": "adopt", "job_id": job.job_id}
            )
            self._recorder.watch(job.job_id, run.source, job.output_size, job.output_dropped)
            self._supervise(job, run)
        self._remove_leftover_run_dirs()

    def _remove_leftover_run_dirs(self) -> None:
        """Remove the run folders of jobs that are over or wait for a retry: a previous
        engine stopped between storing a job's end (or retry) and removing its folder, or
        interrupted a job it could not adopt. A folder the store knows no job of is left
        alone (another store's job, say)."""
        leftovers = [i for i in self._processes.run_dir_ids() if i not in self._active]
        for job in self._jobs.get_many(leftovers).values():
            if job.status.is_finished or job.status is Status.SCHEDULED:
                self._processes.remove_run_dir(job.job_id)

    async def cycle(self) -> None:
        # Stops and timeouts first: they must hold even while the store refuses the writes
        # below, and a MainLoop job started there holds the loop until it ends.
        self._reap_orphans()
        self._honour_stop_requests()
        self._enforce_timeouts()
        self._alarm.promote_due()
        await self._finish_and_start()
        self._alarm.refresh()  # the ends just recorded may have scheduled retries

    async def shutdown(self) -> None:
        """Stop Python jobs (they cannot outlive the process); BackgroundJobs keep running."""
        for active in self._active.values():
            if active.run is not None and active.job.mode is Mode.RUNSPACE:
                active.run.stop(self._grace(active.job), StopReason.SHUTDOWN)
        python_tasks = [
            task for task in self._tasks if task.get_name().startswith(Mode.RUNSPACE.value)
        ]
        if python_tasks:
            await asyncio.wait(python_tasks, timeout=self._limits.stop_grace + 1)
        self._record_ends()
        finishing = [task for task in self._tasks if task.get_name().startswith("finish:")]
        if finishing:
            await asyncio.wait(finishing, timeout=_FINISH_AT_SHUTDOWN_SECONDS)
        self._processes.close()  # the BackgroundJobs run on; the next engine adopts them

    async def _sleep(self) -> None:
        """Until woken, the next deadline, the alarm, or a tick, whichever comes first."""
        assert self._wake is not None
        timeout = self._limits.tick
        deadlines = [a.deadline for a in self._active.values() if a.deadline is not None]
        if deadlines:
            timeout = min(timeout, min(deadlines) - self._clock.monotonic())
        alarm = self._alarm.seconds_left()
        if alarm is not None:
            timeout = min(timeout, alarm)
        timeout = max(0.0, timeout)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    def _reap_orphans(self) -> None:
        # After a process job ended (its orphans become our zombies, and every zombie left
        # makes the next job end's scan for escapees longer), else once per tick: reading
        # every thread's children from /proc on each cycle was a tenth of a busy
        # dispatcher's time when only Python jobs ran.
        now = self._clock.monotonic()
        if now >= self._next_sweep:  # once a tick: it reads every thread's children
            self._next_sweep = now + self._limits.tick
            self._processes.kill_leftovers()
        if self._process_ended or now >= self._next_reap:
            self._process_ended = False
            self._next_reap = now + self._limits.tick
            reap_orphans(self._processes.children)

    def _honour_stop_requests(self) -> None:
        # Stops asked in this process bump the store's counter; those asked elsewhere (a
        # store shared with another node) are found by looking once per tick.
        now = self._clock.monotonic()
        asked = self._jobs.stop_requests
        if asked == self._stops_seen and now < self._next_stop_check:
            return
        self._stops_seen = asked
        self._next_stop_check = now + self._limits.tick
        if not self._active:
            return
        for job_id in self._jobs.stopping_on(self._node):
            active = self._active.get(job_id)
            if active is not None and active.run is not None:
                active.run.stop(self._grace(active.job), StopReason.USER)

    def _enforce_timeouts(self) -> None:
        now = self._clock.monotonic()
        for active in self._active.values():
            if active.deadline is not None and now >= active.deadline and active.run is not None:
                active.deadline = None
                active.run.stop(self._grace(active.job), StopReason.TIMEOUT)
                self._show_stopping(active.job)

    def _show_stopping(self, job: Job) -> None:
        # The record says Stopping while the job ends, as after a user's stop. Only a label:
        # the stop is already under way, and a store that refuses the write cannot hold it up.
        try:
            self._jobs.request_stop(job.job_id)
        except JobhostError as exc:
            logger.warning("could not mark timed-out job %s Stopping: %s", job.job_id, exc)

    async def _finish_and_start(self) -> None:
        """Record the jobs that ended and claim as many as the freed slots allow, in one
        transaction, then start the claimed jobs."""
        claimed = self._record_ends(self._queue.order(len(self._active), self._owners()))
        if claimed is None:  # nothing ended, or the claim could not go with the ends
            order = self._queue.order(len(self._active), self._owners())
            claimed = self._jobs.record_and_claim(order)
        owners = itertools.chain(self._owners(), (job.user_id for job in claimed))
        self._queue.publish(len(self._active) + len(claimed), owners)
        # Runspace jobs first: handed to a thread in microseconds, they count as started
        # once claimed (engine/unstarted.py), where a process takes half a millisecond.
        claimed.sort(key=_is_not_runspace)
        for job in map(self._with_default_timeout, claimed):
            if job.mode is Mode.MAIN_LOOP:
                await self._run_inline(job)
            else:
                self._start(job)

    def _owners(self) -> Iterator[str]:
        return (active.job.user_id for active in self._active.values())

    def _with_default_timeout(self, job: Job) -> Job:
        """The job with the server's default timeout filled in where it set none."""
        default = self._limits.default_timeout
        if default is None or job.spec.timeout_seconds is not None:
            return job
        return dataclasses.replace(job, spec=dataclasses.replace(job.spec, timeout_seconds=default))

    def _start(self, job: Job) -> None:
        try:
            run: Run = (
                self._processes.start(job)
                if job.mode is Mode.BACKGROUND_JOB
                else self._threads.start(job)
            )
        except OSError as exc:
            logger.warning("could not start job %s: %s", job.job_id, exc)
            run = FailedRun(exc)
        self._watch_attempt(job, run.source)
        self._supervise(job, run)

    def _watch_attempt(self, job: Job, source: OutputSource) -> None:
        """Follow the output of the attempt starting: after the first, it continues the
        job's output, opening with the attempt's header line."""
        if job.attempt <= 1:
            self._recorder.watch(job.job_id, source)
            return
        header = policy.attempt_header(job.attempt, job.spec.max_retries) + "\n"
        if job.output_size and not self._ends_a_line(job):
            header = "\n" + header
        stored, dropped = job.output_size, job.output_dropped
        self._recorder.watch(job.job_id, source, stored, dropped, header.encode())

    def _ends_a_line(self, job: Job) -> bool:
        """Whether the job's stored output ends with a newline (yes, if it cannot be read:
        the attempt must start regardless)."""
        try:
            return self._jobs.read_output(job.job_id, job.output_size - 1, 1) in (b"\n", b"")
        except JobhostError:
            return True

    def _supervise(self, job: Job, run: Run) -> None:
        timeout = job.spec.timeout_seconds
        deadline = self._clock.monotonic() + timeout if timeout else None
        self._active[job.job_id] = _Active(job, run, deadline)
        self._spawn(self._follow(job, run), f"{job.mode.value}:{job.job_id}")

    async def _follow(self, job: Job, run: Run) -> None:
        try:
            outcome = await run.wait()
        except Exception as exc:
            logger.exception("supervising job %s failed", job.job_id, extra={"job_id": job.job_id})
            outcome = Outcome(Status.FAILED, None, _SUPERVISION_FAILED.format(error=exc))
        # Recorded by the next cycle, together with every other job that ended meanwhile;
        # until then there is nothing left to stop or time out.
        active = self._active.get(job.job_id)
        if active is not None:
            active.run, active.deadline = None, None
        self._ended.append((job, outcome))
        self._process_ended |= job.mode is Mode.BACKGROUND_JOB
        self.wake()

    def _record_ends(self, claim: ClaimOrder | None = None) -> list[Job] | None:
        """Store the outcomes of the jobs that ended, freeing their slots, and make ``claim``
        in the same transaction; the few ends with much output still to store are left to
        the recorder thread. Returns the jobs claimed, or None if the claim was not made."""
        if not self._ended:
            return None
        ended, self._ended = self._ended, []
        jobs = {job.job_id: job for job, _ in ended}
        ends = [(job.job_id, outcome) for job, outcome in ended]
        try:
            here = self._recorder.finish_here(ends, claim)
        except Exception:
            # Never lose an end: whatever went wrong, the recorder thread retries them all.
            logger.exception("recording job ends failed", extra={"action": "record"})
            here = FinishedHere(ends, None)
        later = {job_id for job_id, _ in here.left}
        for job_id, outcome in here.left:
            self._spawn(self._finish_later(jobs[job_id], outcome), f"finish:{job_id}")
        for job in jobs.values():
            if job.job_id not in later:
                self._release(job)
        return here.claimed

    async def _finish_later(self, job: Job, outcome: Outcome) -> None:
        await asyncio.wrap_future(self._recorder.finish(job.job_id, outcome))
        self._release(job)
        self.wake()

    def _release(self, job: Job) -> None:
        """The job's outcome is stored: forget it and free its slot, unless a retry of it
        (a later attempt, same id and run folder) was claimed meanwhile."""
        active = self._active.get(job.job_id)
        if active is not None and active.job.attempt != job.attempt:
            return
        if job.mode is Mode.BACKGROUND_JOB:
            self._processes.remove_run_dir(job.job_id)
        self._active.pop(job.job_id, None)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_inline(self, job: Job) -> None:
        buffer = BufferSource()
        self._watch_attempt(job, buffer)
        self._active[job.job_id] = _Active(job, None, None)
        try:
            mark_begun(self._processes.runs_dir, job.job_id)
            outcome = run_inline(job, buffer)  # reports the job's own errors, raises none
        except OSError as exc:  # no mark made: after a crash the job would run again
            buffer.close()
            outcome = not_started_outcome(exc)
        finally:
            self._active.pop(job.job_id, None)
        await asyncio.wrap_future(self._recorder.finish(job.job_id, outcome))
        self._processes.remove_run_dir(job.job_id)
        self.wake()  # its end may have released jobs waiting on it

    def _grace(self, job: Job) -> float:
        grace = job.spec.stop_grace_seconds
        return self._limits.stop_grace if grace is None else grace


def _is_not_runspace(job: Job) -> bool:
    return job.mode is not Mode.RUNSPACE
