"""What a signed-in user can do with the job catalog: see it, start a template, stop its
jobs, and run a template job again. Every permission decision about templates is here.

A start is how users without elevated roles run work: the template's author chose the
command, the starter only fills in checked variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from jobhost import policy
from jobhost.catalog import (
    COMMAND_TOO_LONG,
    Catalog,
    LoadError,
    Template,
    render_command,
    resolve_values,
)
from jobhost.errors import Forbidden, InvalidInput
from jobhost.models import Category, Job, JobSpec, Mode, User
from jobhost.service.jobs import JobOperations
from jobhost.service.submission import MAX_ARG_BYTES, MAX_COMMAND_CHARS, validated
from jobhost.store.job_listing import JobQuery

START_REFUSAL = "Access denied: You do not have permission to start this job"
STOP_REFUSAL = "Access denied: You do not have permission to stop this job"
STARTED = "Job started successfully"
STOP_QUEUED = "Job stop command queued successfully"

TemplateId = Annotated[str, Field(min_length=1, max_length=policy.MAX_TEMPLATE_ID_CHARS)]


class StartRequest(BaseModel):
    """The body of ``POST jobs/start``; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    jobId: TemplateId
    # Values are checked per variable (so the 400 names it), not by the schema.
    variables: dict[str, object] | None = None


class TemplateStopRequest(BaseModel):
    """The body of ``POST jobs/stop`` for a template: stop its jobs."""

    model_config = ConfigDict(extra="forbid", strict=True)

    jobId: TemplateId


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A template as one caller sees it."""

    template: Template
    can_start: bool
    can_stop: bool
    """May call jobs/stop on it: their own jobs, or everyone's with its stopRoles."""


@dataclass(frozen=True, slots=True)
class CatalogView:
    """The templates a caller may start or stop, in id order; the files that failed to
    load only for privileged callers."""

    entries: tuple[CatalogEntry, ...]
    user_roles: tuple[str, ...]
    errors: tuple[LoadError, ...]


def parse_start(payload: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """The template id and variables a start body asks for, or InvalidInput."""
    request = validated(StartRequest, payload)
    return request.jobId, request.variables or {}


def parse_template_stop(payload: Mapping[str, object]) -> str:
    return validated(TemplateStopRequest, payload).jobId


class TemplateOperations:
    def __init__(self, catalog: Catalog, jobs: JobOperations) -> None:
        self.catalog = catalog
        self.jobs = jobs

    def view(self, user: User) -> CatalogView:
        snapshot = self.catalog.snapshot()
        entries = []
        for template in snapshot.templates.values():
            can_start = policy.may_start_template(user, template.start_roles)
            can_stop = can_start or policy.may_stop_template_jobs(user, template.stop_roles)
            if can_stop:
                entries.append(CatalogEntry(template, can_start, can_stop))
        errors = snapshot.errors if policy.is_privileged(user) else ()
        return CatalogView(tuple(entries), tuple(policy.effective_roles(user)), errors)

    def start(
        self,
        user: User,
        template_id: str,
        variables: Mapping[str, object],
        *,
        schedule_id: str | None = None,
    ) -> Job:
        """A new job of the caller's from the template; 403 alike for a template that does
        not exist and one they may not start, then 400 naming each bad variable."""
        spec = self._spec(self._startable(user, template_id), variables)
        return self.jobs.submit_permitted(user, replace(spec, schedule_id=schedule_id))

    def validate_start(self, user: User, template_id: str, variables: Mapping[str, object]) -> None:
        """``start``'s checks without starting anything (a schedule of the template)."""
        self._spec(self._startable(user, template_id), variables)

    def rerun(self, user: User, job_id: str) -> Job:
        """A finished job again as the caller's: a template job through its template's
        start (same variables, the caller's roles, the template as it is now), any other
        through submit's rules."""
        old = self.jobs.finished(user, job_id)
        template_id = old.spec.template_id
        if template_id is None:
            return self.jobs.rerun(user, job_id)
        spec = self._spec(self._startable(user, template_id), old.spec.variables)
        return self.jobs.submit_permitted(user, replace(spec, rerun_of=old.job_id))

    def stop(self, user: User, template_id: str) -> list[str]:
        """Cancel the pending and stop the running jobs of the template: the caller's own,
        or everyone's for privileged roles and its stopRoles. The ids it acted on."""
        template = self.catalog.get(template_id)
        if template is None:
            raise Forbidden(STOP_REFUSAL)
        everyone = policy.may_stop_template_jobs(user, template.stop_roles)
        if not everyone and not policy.may_start_template(user, template.start_roles):
            raise Forbidden(STOP_REFUSAL)
        query = JobQuery(
            None if everyone else user.user_id,
            frozenset({Category.PENDING, Category.RUNNING}),
            template_id=template_id,
        )
        listing = self.jobs.jobs.listing(query)
        store = self.jobs.jobs
        stopped = [
            j.job_id for j in listing.by_category[Category.PENDING] if store.cancel(j.job_id)
        ]
        for job in listing.by_category[Category.RUNNING]:
            if job.mode is not Mode.MAIN_LOOP and store.request_stop(job.job_id):
                stopped.append(job.job_id)
        if stopped:
            self.jobs.wake_engine()
        return stopped

    def _startable(self, user: User, template_id: str) -> Template:
        template = self.catalog.get(template_id)
        if template is None or not policy.may_start_template(user, template.start_roles):
            raise Forbidden(START_REFUSAL)
        return template

    def _spec(self, template: Template, variables: Mapping[str, object]) -> JobSpec:
        values = resolve_values(template, variables)
        command = render_command(template.command, template.mode, values, MAX_COMMAND_CHARS)
        if len(command.encode()) > MAX_ARG_BYTES:
            raise InvalidInput(COMMAND_TOO_LONG)
        return JobSpec(
            name=template.name,
            command=command,
            mode=template.mode,
            description=template.description or None,
            timeout_seconds=template.timeout_seconds,
            priority=template.priority,
            max_retries=template.max_retries,
            retry_delay_seconds=template.retry_delay_seconds,
            template_id=template.template_id,
            variables=values,
        )
