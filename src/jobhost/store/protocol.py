"""The store as the engine, the web and the CLI see it: domain verbs, no SQL.

``SqlStore`` (over SQLite or PostgreSQL) is the implementation; mypy checks that it
satisfies these. A consumer that needs only a few verbs takes the narrow protocol
(``Recording``, ``ApiKeys``), which a test can fake in a few lines.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol, TypeVar

from jobhost.models import ApiKey, Job, JobSpec, Mode, QueueState, Schedule, User
from jobhost.store.changes import Hub
from jobhost.store.claims import ClaimOrder
from jobhost.store.job_listing import JobListing, JobQuery
from jobhost.store.jobs import Finish, OutputChunk, OutputProgress
from jobhost.store.schedules import DeclaredRow

_T = TypeVar("_T")


class Recording(Protocol):
    """What the engine's recorder writes: output and outcomes, and the claim that goes with
    them."""

    def record(
        self,
        chunks: Sequence[OutputChunk] = (),
        progress: Sequence[OutputProgress] = (),
        finishes: Sequence[Finish] = (),
    ) -> None:
        """Store output and outcomes in one commit (a reader never sees a gap)."""

    def record_and_claim(
        self,
        order: ClaimOrder,
        chunks: Sequence[OutputChunk] = (),
        progress: Sequence[OutputProgress] = (),
        finishes: Sequence[Finish] = (),
    ) -> list[Job]:
        """Store output and outcomes, then claim the next jobs for ``order``, all in one
        commit; the jobs claimed, in dispatch order."""


class JobStore(Recording, Protocol):
    """Jobs and their output."""

    @property
    def hub(self) -> Hub:
        """The change feed: who wrote what, for readers that follow jobs live."""

    @property
    def stop_requests(self) -> int:
        """How many stops were asked through this store (grows; the engine compares)."""

    @property
    def schedule_changes(self) -> int:
        """How many writes through this store made a job Scheduled (grows; the engine
        compares, to re-read its alarm only then)."""

    def submit(
        self, user_id: str, spec: JobSpec, visible: Callable[[Job], bool] | None = None
    ) -> Job:
        """Store a new job; ``visible``: the jobs its ``depends_on`` may name (None: any).
        Pending, Scheduled while its ``run_at`` is ahead, Waiting on unfinished
        dependencies, or Cancelled at once if one ended otherwise than Completed;
        UnknownDependency (nothing stored) for a missing one."""

    def get(self, job_id: str) -> Job | None: ...

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]: ...

    def listing(self, query: JobQuery) -> JobListing: ...

    def publish_queue_state(self, state: QueueState) -> None:
        """What the dispatcher decided, for the PendingReason of the jobs it left Pending."""

    def claim(self, limit: int, node: str, barrier: Mode | None = None) -> list[Job]:
        """Mark up to ``limit`` pending jobs Running on ``node``; them, in dispatch order."""

    def unstart(self, job_ids: Sequence[str]) -> list[str]: ...

    def request_stop(self, job_id: str) -> bool: ...

    def cancel(self, job_id: str) -> bool: ...

    def delete(self, job_id: str) -> bool: ...

    def purge_finished(self, before: float, limit: int) -> list[str]:
        """Delete up to ``limit`` jobs that finished before ``before`` with their output, in
        one short transaction; the ids deleted."""

    def stopping_on(self, node: str) -> list[str]: ...

    def unfinished_on(self, node: str) -> list[Job]: ...

    def ping(self) -> None: ...

    def has_pending(self) -> bool: ...

    def next_run_at(self) -> float | None:
        """When the earliest Scheduled job is due, or None if none is Scheduled."""

    def promote_due(self, now: float) -> int:
        """Make the Scheduled jobs due by ``now`` Pending; how many there were."""

    def read_output(self, job_id: str, offset: int, limit: int) -> bytes: ...


class ApiKeys(Protocol):
    """What creating and checking API keys needs (``auth/keys.py``)."""

    def add_key(
        self,
        key_id: str,
        user_id: str,
        token_hash: str,
        label: str | None,
        expires_at: float | None,
    ) -> ApiKey: ...

    def user_for_token(self, token_hash: str) -> User | None: ...


class UserStore(ApiKeys, Protocol):
    """Users, their API keys and browser sessions."""

    def add_user(self, user_id: str, roles: frozenset[str], password_hash: str | None) -> User: ...

    def get_user(self, user_id: str) -> User | None: ...

    def password_hash(self, user_id: str) -> str | None: ...

    def list_users(self) -> list[User]: ...

    def count_users(self) -> int: ...

    def change_roles(self, user_id: str, add: frozenset[str], remove: frozenset[str]) -> User: ...

    def set_password(self, user_id: str, password_hash: str) -> None: ...

    def remove_user(self, user_id: str) -> None: ...

    def list_keys(self) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str) -> ApiKey: ...

    def add_session(
        self, session_hash: str, user_id: str, csrf_token: str, expires_at: float
    ) -> None: ...

    def session_user(self, session_hash: str) -> tuple[User, str] | None: ...

    def end_session(self, session_hash: str) -> None: ...


class ScheduleStore(Protocol):
    """Recurring jobs: their settings, next firing and what the last firings did."""

    def create(self, schedule: Schedule) -> Schedule: ...

    def get(self, schedule_id: str) -> Schedule | None: ...

    def listing(self, user_id: str | None) -> list[Schedule]:
        """``user_id``'s schedules (None: everyone's), oldest first."""

    def count_owned(self, user_id: str) -> int: ...

    def update(self, schedule: Schedule, *, retime: bool) -> Schedule | None:
        """Write its settings (``retime``: and its next_run_at); None if it is gone."""

    def set_enabled(
        self, schedule_id: str, enabled: bool, next_run_at: float | None
    ) -> Schedule | None:
        """Pause or resume (nothing else written); None if it is gone."""

    def delete(self, schedule_id: str) -> bool: ...

    def earliest_next_run(self) -> float | None:
        """When the next schedule is due, or None if none is enabled."""

    def due(self, now: float, limit: int = ...) -> list[Schedule]:
        """The schedules due by ``now``, the most overdue first."""

    def claim_firing(self, schedule_id: str, due_at: float, next_run_at: float | None) -> bool:
        """Move next_run_at from ``due_at`` on to ``next_run_at`` if it is still ``due_at``;
        whether this call did (only the claimer of a firing submits it)."""

    def record_firing(self, schedule_id: str, fired_at: float, job_id: str) -> bool:
        """A claimed firing submitted ``job_id``; False if the schedule is gone."""

    def record_skip(self, schedule_id: str, skipped_at: float) -> bool:
        """A claimed firing submitted nothing (overlap=skip)."""

    def record_failure(self, schedule_id: str, failed_at: float, error: str) -> bool:
        """A claimed firing was refused, ``error`` saying why; cleared by record_firing."""

    def sync_declared(
        self, owner: str, declared: Sequence[DeclaredRow], keep: Collection[str] = ()
    ) -> None:
        """Make the catalog-declared schedules (owned by ``owner``) those of ``declared``;
        the rows of the template ids in ``keep`` stay as they are."""


class Store(Protocol):
    """The single source of truth: jobs, output, users, keys and schedules."""

    @property
    def jobs(self) -> JobStore: ...

    @property
    def users(self) -> UserStore: ...

    @property
    def schedules(self) -> ScheduleStore: ...

    def run_at_once(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` on this thread if the store can answer it without waiting, its
        writes refused rather than queued behind another's; StoreBusy if it cannot (then
        ``work`` wrote nothing, or only what it may write again)."""

    def write_problem(self) -> str | None:
        """Why writes are failing or slow right now, or None while they are well."""

    def close(self) -> None: ...
