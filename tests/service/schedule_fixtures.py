"""What the schedule tests share: a SQLite store with users of each kind on a fake clock,
the operations over it, and a small catalog implementing TemplateStarts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from jobhost import policy
from jobhost.errors import Forbidden, InvalidInput, StoreUnavailable
from jobhost.models import Job, JobSpec, Mode, User
from jobhost.service.jobs import JobOperations
from jobhost.service.schedule_firing import Declared, ScheduleFiring
from jobhost.service.schedules import ScheduleOperations
from jobhost.service.templates import START_REFUSAL
from jobhost.store import SqlStore
from jobhost.store.schema import jobs as jobs_table
from tests.store.conftest import FakeClock

MANAGER = User("manager", frozenset({"task_manager"}))
PLAIN = User("plain", frozenset())
OTHER = User("other", frozenset())
SHELL_JOB = {"command": "echo hi", "executionMode": "BackgroundJob"}


@dataclass
class FakeTemplates:
    """Two templates: ``disk`` anyone may start (``path`` must start with /), ``admin``
    only privileged roles; ``gone`` lists ids removed since."""

    jobs: JobOperations
    gone: set[str] = field(default_factory=set)
    started: list[tuple[str, str | None]] = field(default_factory=list)
    busy: bool = False
    """Every start finds the store too busy to take the job."""

    def validate_start(self, user: User, template_id: str, variables: Mapping[str, str]) -> None:
        allowed = template_id == "disk" or (template_id == "admin" and policy.is_privileged(user))
        if template_id in self.gone or not allowed:
            raise Forbidden(START_REFUSAL)
        if not variables.get("path", "/").startswith("/"):
            raise InvalidInput("Invalid value for path: must start with /")

    def start(
        self,
        user: User,
        template_id: str,
        variables: Mapping[str, str],
        *,
        schedule_id: str | None = None,
    ) -> Job:
        self.validate_start(user, template_id, variables)
        if self.busy:
            raise StoreUnavailable("database is locked")
        self.started.append((template_id, schedule_id))
        spec = JobSpec(
            name=template_id,
            command=f"du -sh {variables.get('path', '/')}",
            mode=Mode.BACKGROUND_JOB,
            template_id=template_id,
            variables=dict(variables),
            schedule_id=schedule_id,
        )
        return self.jobs.jobs.submit(user.user_id, spec)


@dataclass
class Harness:
    store: SqlStore
    clock: FakeClock
    jobs: JobOperations
    templates: FakeTemplates
    ops: ScheduleOperations
    wakes: list[int]

    def firing(self, declared: Declared | None = None) -> ScheduleFiring:
        return ScheduleFiring(
            self.store.schedules, self.store.users, self.jobs, self.templates, self.clock, declared
        )

    def schedule_jobs(self, schedule_id: str) -> list[Job]:
        """The jobs a schedule submitted, oldest first."""
        query = select(jobs_table.c.job_id).where(jobs_table.c.schedule_id == schedule_id)
        query = query.order_by(jobs_table.c.seq)
        with self.store.db.read() as conn:
            ids = [job_id for (job_id,) in conn.execute(query)]
        return [job for job_id in ids if (job := self.store.jobs.get(job_id)) is not None]


def harness(store: SqlStore, clock: FakeClock, *, add_users: bool = True) -> Harness:
    """The operations over ``store`` (``add_users``: with MANAGER, PLAIN and OTHER in it)."""
    for user in (MANAGER, PLAIN, OTHER) if add_users else ():
        store.users.add_user(user.user_id, user.roles, None)
    jobs = JobOperations(store.jobs, clock, lambda: None, 5.0)
    templates = FakeTemplates(jobs)
    wakes: list[int] = []
    ops = ScheduleOperations(
        store.schedules, jobs, templates, clock, lambda: wakes.append(len(wakes))
    )
    return Harness(store, clock, jobs, templates, ops, wakes)
