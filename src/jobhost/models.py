"""Domain values: jobs, their modes and states, users and API keys. No I/O here."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Mode(enum.StrEnum):
    """How a job's command is executed."""

    MAIN_LOOP = "MainLoop"
    RUNSPACE = "Runspace"
    BACKGROUND_JOB = "BackgroundJob"


_MODE_NAMES: dict[str, Mode] = {
    "mainloop": Mode.MAIN_LOOP,
    "inline": Mode.MAIN_LOOP,
    "runspace": Mode.RUNSPACE,
    "thread": Mode.RUNSPACE,
    "backgroundjob": Mode.BACKGROUND_JOB,
    "process": Mode.BACKGROUND_JOB,
}


def parse_mode(text: str) -> Mode | None:
    """The mode a user typed (any case, canonical name or alias), or None."""
    return _MODE_NAMES.get(text.strip().lower())


class Category(enum.StrEnum):
    """The three sections the seed shows jobs in."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"


class Status(enum.StrEnum):
    """A job's state; the value is what the store keeps and the API returns."""

    PENDING = "Pending"
    WAITING = "Waiting"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"
    TIMED_OUT = "TimedOut"
    INTERRUPTED = "Interrupted"
    CANCELLED = "Cancelled"

    @property
    def category(self) -> Category:
        return _CATEGORY_OF[self]

    @property
    def is_finished(self) -> bool:
        return _CATEGORY_OF[self] is Category.COMPLETED


_CATEGORY_OF: dict[Status, Category] = {
    Status.PENDING: Category.PENDING,
    Status.WAITING: Category.PENDING,
    Status.SCHEDULED: Category.PENDING,
    Status.RUNNING: Category.RUNNING,
    Status.STOPPING: Category.RUNNING,
    Status.COMPLETED: Category.COMPLETED,
    Status.FAILED: Category.COMPLETED,
    Status.STOPPED: Category.COMPLETED,
    Status.TIMED_OUT: Category.COMPLETED,
    Status.INTERRUPTED: Category.COMPLETED,
    Status.CANCELLED: Category.COMPLETED,
}


def statuses_in(category: Category) -> tuple[Status, ...]:
    """Every status that belongs to a category, in declaration order."""
    return tuple(status for status, cat in _CATEGORY_OF.items() if cat is category)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a submitter asks for; validated before it becomes a Job."""

    name: str
    command: str
    mode: Mode
    description: str | None = None
    stop_grace_seconds: float | None = None
    timeout_seconds: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    priority: int = 0
    depends_on: tuple[str, ...] = ()
    run_at: float | None = None
    """Not before this time (seconds since the epoch; a retry's time once one is due)."""
    max_retries: int = 0
    retry_delay_seconds: float | None = None
    """The first retry's delay; None: the default (policy.DEFAULT_RETRY_DELAY_SECONDS)."""
    rerun_of: str | None = None
    template_id: str | None = None
    """The catalog template this job was started from (its command already substituted)."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """A template start's variables: Python modes read them as ``variables``."""
    schedule_id: str | None = None
    """The schedule whose firing submitted this job."""


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the store knows it. Times are seconds since the epoch (UTC)."""

    job_id: str
    user_id: str
    spec: JobSpec
    status: Status
    submitted_at: float
    started_at: float | None = None
    completed_at: float | None = None
    exit_code: int | None = None
    attempt: int = 0
    output_size: int = 0
    output_dropped: int = 0
    node: str | None = None
    pending_reason: str | None = None
    """Why a pending-category job is not running, as the dispatcher last decided."""
    cpu_seconds: float | None = None
    """What the finished run used (``Outcome.cpu_seconds``); None: unknown or not finished."""
    max_rss_bytes: int | None = None
    """Peak resident size of the finished run's largest process; None: unknown."""

    @property
    def mode(self) -> Mode:
        return self.spec.mode

    @property
    def success(self) -> bool:
        return self.status is Status.COMPLETED

    def runtime(self, now: float) -> float | None:
        """Seconds spent running so far, or in total once finished."""
        if self.started_at is None:
            return None
        end = self.completed_at if self.completed_at is not None else now
        return max(0.0, end - self.started_at)


@dataclass(frozen=True, slots=True)
class QueueState:
    """What the dispatcher decided at its last claim, from which the jobs left ``Pending``
    take their reason: ``running`` of ``slots`` taken, and the users it passed over for
    their ``user_limit`` with how many they run."""

    running: int
    slots: int
    user_limit: int | None = None
    users_at_limit: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended: the facts a runner reports and the store records."""

    status: Status
    exit_code: int | None = None
    note: str | None = None
    """A line appended to the job's output, e.g. ``[Job stopped by user]``."""
    may_retry: bool = True
    """False for an end that must be final even if the job has retries left (a job that
    never started, put back once already: it may be what stops the server)."""
    cpu_seconds: float | None = None
    """User + system CPU of the job's process tree (BackgroundJob only); None: unknown."""
    max_rss_bytes: int | None = None
    """Peak resident size of the job's largest process (BackgroundJob only); None: unknown."""


@dataclass(frozen=True, slots=True)
class User:
    """Someone who may call the API; ``roles`` holds stored roles only."""

    user_id: str
    roles: frozenset[str]
    created_at: float = 0.0
    has_password: bool = False


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's public facts; the token itself is never kept."""

    key_id: str
    user_id: str
    label: str | None
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None

    def is_usable(self, now: float) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


class Overlap(enum.StrEnum):
    """What a schedule's firing does while its previous job has not finished."""

    SKIP = "skip"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring job: a cron expression in a time zone, and what each firing submits
    (a template start, or ``job``: a free-form submit body). Times are epoch seconds."""

    schedule_id: str
    user_id: str
    name: str
    cron: str
    timezone: str
    overlap: Overlap
    enabled: bool
    created_at: float
    template_id: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    job: Mapping[str, object] | None = None
    declared_by: str | None = None
    """The catalog template whose ``schedule`` declares it (owned by ``system``)."""
    next_run_at: float | None = None
    """None while paused."""
    last_run_at: float | None = None
    last_job_id: str | None = None
    last_skipped_at: float | None = None
    last_error: str | None = None
    """Why the last firing that failed did (cleared by the next that submits a job)."""
    last_error_at: float | None = None
