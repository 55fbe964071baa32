"""What a signed-in user can do with jobs, with every permission check in one place.

Framework-free: the web routes are a thin skin over these methods.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from jobhost import policy
from jobhost.clock import Clock
from jobhost.errors import Conflict, Forbidden, InvalidInput, JobNotFound
from jobhost.models import Category, Job, JobSpec, Mode, User
from jobhost.service.job_filters import HistoryParams, parse_history
from jobhost.service.submission import check_python, parse_submission, rerun_payload
from jobhost.store.changes import ChangeKind, JobChange, Subscription
from jobhost.store.job_listing import JobListing, JobQuery
from jobhost.store.protocol import JobStore

CANCELLED = "Job cancelled successfully"
STOPPED = "Job stopped successfully"
STILL_STOPPING = "Job stop requested; it is still stopping"
DELETED = "Job result deleted successfully"
OTHERS_REFUSAL = (
    "Viewing other users' jobs requires elevated roles "
    "(task_manager, debug, system_admin, or site_admin)"
)

_STOP_WAIT_EXTRA_SECONDS = 2.0
_STOP_WAIT_MAX_SECONDS = 60.0
# A stop waits on the change feed; this is how often it reads the job even without a change
# (a write from another process publishes nothing here).
_STOP_RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WhoseJobs:
    """Whose jobs (or schedules) a listing covers: the caller's own unless widened."""

    all_users: bool = False
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutputRead:
    """One look at a followed job: its output from an offset, and the job as it is now."""

    data: bytes
    job: Job | None
    """None: the job was deleted."""
    at_end: bool
    """The job has finished and ``data`` reaches its last byte."""


@dataclass(frozen=True, slots=True)
class SeenChange:
    """A job change a caller may see: the job as it is now, or None if it was deleted."""

    job_id: str
    job: Job | None


class OutputFollow:
    """One caller following one job's output; each look checks they may still see the job."""

    def __init__(self, jobs: JobStore, job: Job, requested: str) -> None:
        self._jobs = jobs
        self.job = job
        self._requested = requested

    def subscribe(self) -> Subscription:
        """The job's changes; call from the event loop that will wait on them."""
        return self._jobs.hub.subscribe(self.job.job_id)

    def read(self, user: User, offset: int, limit: int) -> OutputRead:
        """Up to ``limit`` bytes from ``offset`` and the job now; 404 once ``user`` may no
        longer see it (say, their roles changed)."""
        data = self._jobs.read_output(self.job.job_id, offset, limit)
        current = self._jobs.get(self.job.job_id)
        if current is None:
            return OutputRead(data, None, at_end=False)
        if not policy.may_see(user, current):
            raise JobNotFound(self._requested)
        at_end = current.status.is_finished and offset + len(data) >= current.output_size
        return OutputRead(data, current, at_end)


class JobEvents:
    """One caller's feed of job changes: their own jobs', or everyone's if privileged."""

    def __init__(self, jobs: JobStore, all_users: bool) -> None:
        self._jobs = jobs
        self._all_users = all_users

    def subscribe(self) -> Subscription:
        """Every job's changes; call from the event loop that will wait on them."""
        return self._jobs.hub.subscribe()

    def check(self, user: User) -> None:
        """403 if ``user`` (as of now) may not watch what this feed covers."""
        scoped_user_id(user, WhoseJobs(self._all_users))

    def seen(self, user: User, batch: list[JobChange]) -> list[SeenChange]:
        """The jobs whose state changed in ``batch`` that ``user`` watches, each once, in the
        order of its last change."""
        owner = scoped_user_id(user, WhoseJobs(self._all_users))
        latest: dict[str, JobChange] = {}
        for change in batch:
            if change.kind is not ChangeKind.OUTPUT:
                latest.pop(change.job_id, None)
                latest[change.job_id] = change
        # One query for the batch: a busy engine changes thousands of jobs a second.
        changed = [c.job_id for c in latest.values() if c.kind is not ChangeKind.DELETED]
        jobs = self._jobs.get_many(changed)
        seen: list[SeenChange] = []
        for change in latest.values():
            if change.kind is ChangeKind.DELETED:
                if owner in (None, change.user_id):
                    seen.append(SeenChange(change.job_id, None))
            elif (job := jobs.get(change.job_id)) is not None and owner in (None, job.user_id):
                seen.append(SeenChange(change.job_id, job))
        return seen


class JobOperations:
    def __init__(
        self, jobs: JobStore, clock: Clock, wake_engine: Callable[[], None], stop_grace: float
    ) -> None:
        self.jobs = jobs
        self.clock = clock
        self.wake_engine = wake_engine
        self.stop_grace = stop_grace

    def submit(self, user: User, payload: Mapping[str, object]) -> Job:
        return self.submit_spec(user, parse_submission(payload))

    def rerun(self, user: User, job_id: str) -> Job:
        """Submit a finished job again as the caller's, through submit's own checks: its
        fields are parsed anew (a working directory gone since is a 400), under the
        caller's roles. runAt and dependsOn are not carried over (they were about then)."""
        old = self.finished(user, job_id)
        spec = parse_submission(rerun_payload(old.spec))
        return self.submit_spec(user, replace(spec, rerun_of=old.job_id))

    def finished(self, user: User, job_id: str) -> Job:
        """A finished job the caller may see (``get``'s refusals); 409 while it runs."""
        old = self.get(user, job_id)
        if not old.status.is_finished:
            raise Conflict(f"Job has not finished: {old.job_id} is {old.status.value}")
        return old

    def check(self, user: User, spec: JobSpec) -> None:
        """Forbidden or InvalidInput if ``user`` may not submit ``spec`` (submit's own
        checks: roles, priority, Python that compiles), without submitting it."""
        refusal = policy.priority_refusal(user, spec.priority) or policy.submit_refusal(
            user, spec.mode
        )
        if refusal is not None:
            raise Forbidden(refusal)
        check_python(spec)

    def submit_spec(self, user: User, spec: JobSpec) -> Job:
        """Submit an already parsed spec under submit's checks (a rerun, a firing)."""
        self.check(user, spec)
        return self._store(user, spec)

    def submit_permitted(self, user: User, spec: JobSpec) -> Job:
        """Store a job whose permission the caller decided (a catalog template's start,
        which is how users without elevated roles run work): none of submit's role rules."""
        check_python(spec)
        return self._store(user, spec)

    def _store(self, user: User, spec: JobSpec) -> Job:
        job = self.jobs.submit(user.user_id, spec, functools.partial(policy.may_see, user))
        self.wake_engine()
        return job

    def get(self, user: User, job_id: str) -> Job:
        """A job the caller may see; 404 alike for missing and for someone else's."""
        if not policy.is_valid_job_id(job_id):
            raise InvalidInput("Invalid jobId: must be a UUID")
        job = self.jobs.get(job_id.lower())
        if job is None or not policy.may_see(user, job):
            raise JobNotFound(job_id)
        return job

    def listing(
        self,
        user: User,
        categories: frozenset[Category],
        limit: int,
        scope: WhoseJobs,
        history: HistoryParams | None = None,
    ) -> JobListing:
        """The jobs by category; ``history`` narrows them (CONTRACT Part 2, "History")."""
        user_id = scoped_user_id(user, scope)
        narrowed = parse_history(history) if history is not None else None
        query = JobQuery(user_id, categories, limit, history=narrowed)
        return self.jobs.listing(query)

    def output(self, user: User, job_id: str, offset: int, limit: int) -> tuple[Job, bytes]:
        job = self.get(user, job_id)
        return job, self.jobs.read_output(job.job_id, offset, limit)

    def follow(self, user: User, job_id: str) -> OutputFollow:
        """Follow the output of a job the caller may see (``get``'s refusals)."""
        return OutputFollow(self.jobs, self.get(user, job_id), job_id)

    def events(self, user: User, all_users: bool) -> JobEvents:
        """The caller's feed of job changes; 403 for everyone's unless privileged."""
        feed = JobEvents(self.jobs, all_users)
        feed.check(user)
        return feed

    def output_tail(self, job: Job, limit: int) -> bytes:
        return self.jobs.read_output(job.job_id, max(0, job.output_size - limit), limit)

    def stop_or_remove(self, user: User, job_id: str) -> str:
        """DELETE on a job: cancel it if pending, stop it if running, delete it if finished."""
        return self._cancel_or_stop(user, job_id, self._remove)

    def stop(self, user: User, job_id: str) -> str:
        """Cancel a pending job or stop a running one; never deletes a finished one."""
        return self._cancel_or_stop(user, job_id, _refuse_finished)

    def _cancel_or_stop(
        self, user: User, job_id: str, finished: Callable[[Job], str | None]
    ) -> str:
        """Cancel or stop by the job's state; ``finished`` decides for a finished job (None:
        it changed state under us, look again)."""
        job = self.get(user, job_id)
        for _attempt in range(3):
            category = job.status.category
            if category is Category.PENDING and self.jobs.cancel(job.job_id):
                self.wake_engine()
                return CANCELLED
            if category is Category.RUNNING:
                return self._stop(job)
            if category is Category.COMPLETED and (message := finished(job)) is not None:
                return message
            job = self.get(user, job_id)  # it changed state under us: look again
        raise Conflict("The job kept changing state; try again")

    def _remove(self, job: Job) -> str | None:
        return DELETED if self.jobs.delete(job.job_id) else None

    def delete_result(self, user: User, job_id: str) -> None:
        job = self.get(user, job_id)
        if not job.status.is_finished:
            raise Conflict(f"Job has not finished: {job_id} is {job.status.value}")
        if not self.jobs.delete(job.job_id):
            raise JobNotFound(job_id)

    def _stop(self, job: Job) -> str:
        if job.mode is Mode.MAIN_LOOP:
            raise Conflict(policy.MAIN_LOOP_STOP_REFUSAL)
        if not self.jobs.request_stop(job.job_id):
            current = self.jobs.get(job.job_id)
            if current is None or current.status.is_finished:
                raise Conflict(f"Job finished before it could be stopped: {job.job_id}")
        self.wake_engine()
        return STOPPED if self._wait_until_finished(job) else STILL_STOPPING

    def _wait_until_finished(self, job: Job) -> bool:
        grace = job.spec.stop_grace_seconds
        grace = self.stop_grace if grace is None else grace
        wait = min(grace + _STOP_WAIT_EXTRA_SECONDS, _STOP_WAIT_MAX_SECONDS)
        deadline = self.clock.monotonic() + wait
        # Watch first, then read: an end published between the two is not missed.
        with self.jobs.hub.watch(job.job_id) as changes:
            while True:
                current = self.jobs.get(job.job_id)
                if current is None or current.status.is_finished:
                    return True
                left = deadline - self.clock.monotonic()
                if left <= 0:
                    return False
                changes.wait(min(left, _STOP_RECHECK_SECONDS))


def _refuse_finished(job: Job) -> str:
    raise Conflict(f"Job has already finished: {job.job_id} is {job.status.value}")


def scoped_user_id(user: User, scope: WhoseJobs, refusal: str = OTHERS_REFUSAL) -> str | None:
    """The user id a listing is limited to, or None for everyone's; Forbidden(``refusal``)
    for a widened one unless privileged (jobs' and schedules' listings alike)."""
    if not scope.all_users and scope.user_id in (None, user.user_id):
        return user.user_id
    if not policy.is_privileged(user):
        raise Forbidden(refusal)
    if scope.all_users:
        return None
    assert scope.user_id is not None
    if not policy.is_valid_user_id(scope.user_id):
        raise InvalidInput("Invalid userId")
    return scope.user_id
