"""What a signed-in user can do with schedules (recurring jobs), every permission decision
in one place: a schedule is created under the rules its firings will meet (submit's roles
for a job, the template's start roles for a template), and only its owner (or a privileged
role) sees, changes or deletes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from jobhost import policy
from jobhost.clock import Clock
from jobhost.errors import Conflict, Forbidden, InvalidInput, NotFound
from jobhost.models import Job, Schedule, User
from jobhost.schedules import cron
from jobhost.service.jobs import JobOperations, WhoseJobs, scoped_user_id
from jobhost.service.schedule_requests import ScheduleBody, merged, parse_body, parse_enabled
from jobhost.service.submission import parse_submission
from jobhost.store.protocol import ScheduleStore, UserStore

OTHERS_REFUSAL = (
    "Viewing other users' schedules requires elevated roles "
    "(task_manager, debug, system_admin, or site_admin)"
)

NOT_OWNER_REFUSAL = (
    "Only a schedule's owner may change what it runs or when: it fires as them. "
    "Others' schedules may be paused, resumed (enabled) or deleted"
)


class TemplateStarts(Protocol):
    """Starting catalog templates, as ``POST BASE/jobs/start`` does (service/templates.py)."""

    def validate_start(self, user: User, template_id: str, variables: Mapping[str, str]) -> None:
        """Forbidden or InvalidInput exactly when a start by ``user`` would be refused."""

    def start(
        self,
        user: User,
        template_id: str,
        variables: Mapping[str, str],
        *,
        schedule_id: str | None = None,
    ) -> Job:
        """Start the template as ``user``'s job (its ScheduleID set when a firing starts it)."""


def owner_of(users: UserStore, schedule: Schedule) -> User | None:
    """A schedule's owner as of now, or None: the built-in ``system`` for the catalog's
    (and only for those: a stored user named so before the name was reserved gets no
    more than its own roles)."""
    if schedule.declared_by is not None:
        return policy.SYSTEM_USER
    return users.get_user(schedule.user_id)


def job_spec_of(schedule: Schedule) -> Mapping[str, object]:
    """The submit body a free-form schedule's firings send."""
    if schedule.job is None:
        raise InvalidInput("The schedule has no job")
    return schedule.job


class ScheduleOperations:
    def __init__(
        self,
        schedules: ScheduleStore,
        jobs: JobOperations,
        templates: TemplateStarts,
        clock: Clock,
        wake_firing: Callable[[], None],
        max_per_user: int | None = None,
    ) -> None:
        self.schedules = schedules
        self.jobs = jobs
        self.templates = templates
        self.clock = clock
        self.wake_firing = wake_firing
        self.max_per_user = max_per_user

    def create(self, user: User, payload: Mapping[str, object]) -> Schedule:
        """A new schedule of the caller's; its firings will submit as them."""
        body = self._admitted(user, payload)
        self._check_limit(user)
        now = self.clock.now()
        schedule = Schedule(
            schedule_id=str(uuid.uuid4()),
            user_id=user.user_id,
            name=body.name,
            cron=body.cron,
            timezone=body.timezone,
            overlap=body.overlap,
            enabled=body.enabled,
            created_at=now,
            template_id=body.template_id,
            variables=body.variables,
            job=body.job,
            next_run_at=self._first_firing(body, now),
        )
        created = self.schedules.create(schedule)
        self.wake_firing()
        return created

    def listing(
        self, user: User, all_users: bool = False, user_id: str | None = None
    ) -> list[Schedule]:
        """The caller's schedules; everyone's (``all_users``) or one user's (``user_id``)
        for privileged roles only, as for jobs."""
        scope = WhoseJobs(all_users, user_id)
        return self.schedules.listing(scoped_user_id(user, scope, OTHERS_REFUSAL))

    def get(self, user: User, schedule_id: str) -> Schedule:
        """A schedule the caller may see; 404 alike for missing and for someone else's."""
        if not policy.is_valid_job_id(schedule_id):
            raise InvalidInput("Invalid scheduleId: must be a UUID")
        schedule = self.schedules.get(schedule_id.lower())
        if schedule is None or not _may_see(user, schedule):
            raise NotFound(f"Schedule not found: {schedule_id}")
        return schedule

    def patch(self, user: User, schedule_id: str, patch: Mapping[str, object]) -> Schedule:
        """Change any of the body's fields, checked as on create; ``enabled`` false pauses
        (no next firing), true resumes from now. The schedule as it is now."""
        current = self.get(user, schedule_id)
        merged_body = merged(current, patch)  # unknown fields first: a 400, never a 409
        if set(patch) == {"enabled"}:
            return self._pause_or_resume(current, parse_enabled(patch["enabled"]))
        if current.declared_by is not None:
            raise Conflict(_declared_refusal(current))
        if current.user_id != user.user_id:
            # Its firings would run the caller's content under the owner's name.
            raise Forbidden(NOT_OWNER_REFUSAL)
        body = self._admitted(user, merged_body)
        retime = (body.cron, body.timezone, body.enabled) != (
            current.cron,
            current.timezone,
            current.enabled,
        )
        changed = replace(
            current,
            name=body.name,
            cron=body.cron,
            timezone=body.timezone,
            overlap=body.overlap,
            enabled=body.enabled,
            template_id=body.template_id,
            variables=body.variables,
            job=body.job,
            next_run_at=self._first_firing(body, self.clock.now()) if retime else None,
        )
        stored = self.schedules.update(changed, retime=retime)
        if stored is None:
            raise NotFound(f"Schedule not found: {schedule_id}")
        self.wake_firing()
        return stored

    def _pause_or_resume(self, current: Schedule, enabled: bool) -> Schedule:
        """A patch of ``enabled`` alone is not admitted again: it changes nothing a firing
        would submit, and each firing checks its owner's roles as of then. So a schedule
        can always be paused, even once its owner lost the role or its template went, and
        resumed too (its firings then fail, logged, until the cause is mended)."""
        if enabled == current.enabled:
            return current
        now = self.clock.now()
        following = cron.next_firing(current.cron, current.timezone, now) if enabled else None
        stored = self.schedules.set_enabled(current.schedule_id, enabled, following)
        if stored is None:
            raise NotFound(f"Schedule not found: {current.schedule_id}")
        self.wake_firing()
        return stored

    def delete(self, user: User, schedule_id: str) -> str:
        """Delete a schedule (the jobs it submitted stay); its id."""
        schedule = self.get(user, schedule_id)
        if schedule.declared_by is not None:
            raise Conflict(_declared_refusal(schedule))
        if not self.schedules.delete(schedule.schedule_id):
            raise NotFound(f"Schedule not found: {schedule_id}")
        self.wake_firing()
        return schedule.schedule_id

    def preview(self, cron_text: str, timezone: str) -> list[float]:
        """The next firings of an expression from now, checked as on create."""
        expression = cron.parse_cron(cron_text)
        cron.parse_timezone(timezone)
        return cron.next_firings(expression, timezone, self.clock.now(), cron.PREVIEW_COUNT)

    def upcoming(self, schedule: Schedule) -> list[float]:
        """A schedule's next firings, from its next one on (none while paused)."""
        first = schedule.next_run_at
        if first is None:
            return []
        later = cron.next_firings(schedule.cron, schedule.timezone, first, cron.PREVIEW_COUNT - 1)
        return [first, *later]

    def _admitted(self, user: User, payload: Mapping[str, object]) -> ScheduleBody:
        """The body checked, and the caller allowed what its firings will submit."""
        body = parse_body(payload)
        if body.template_id is not None:
            self.templates.validate_start(user, body.template_id, body.variables)
        else:
            assert body.job is not None
            self.jobs.check(user, parse_submission(body.job))
        return body

    def _check_limit(self, user: User) -> None:
        """Conflict once the caller owns ``max_per_user`` schedules (privileged roles too:
        the limit bounds the store and the firing loop, not what a role may do). Counted
        before the write, so creates racing each other may pass it by a few."""
        if self.max_per_user is None:
            return
        owned = self.schedules.count_owned(user.user_id)
        if owned >= self.max_per_user:
            raise Conflict(
                f"Schedule limit reached: {user.user_id} has {owned} schedules, the most "
                "JOBHOST_MAX_SCHEDULES_PER_USER allows; delete one first"
            )

    def _first_firing(self, body: ScheduleBody, now: float) -> float | None:
        if not body.enabled:
            return None
        return cron.next_firing(body.cron, body.timezone, now)


def _may_see(user: User, schedule: Schedule) -> bool:
    return schedule.user_id == user.user_id or policy.is_privileged(user)


def _declared_refusal(schedule: Schedule) -> str:
    return (
        f"Schedule {schedule.schedule_id} is declared by the catalog template "
        f"{schedule.declared_by}: change its file, or pause it with enabled"
    )
