"""The API's JSON records, declared once: the web builds them, the OpenAPI document is made
from them and the client reads them, so a key named here is the key on the wire.

Envelopes are lowerCamel, job records PascalCase (as the seed's API had them). Times are
ISO 8601 UTC strings with milliseconds. ``typing_extensions.TypedDict`` because pydantic
builds schemas only from it on Python 3.11.
"""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict


class ErrorResponse(TypedDict):
    """Every refusal: ``success`` is false and ``error`` says why, in a sentence."""

    success: bool
    error: str


class JobRecord(TypedDict):
    JobID: str
    JobName: str
    Description: str | None
    ExecutionMode: str
    UserID: str
    Status: str
    SubmittedAt: str | None
    StartedAt: str | None
    CompletedAt: str | None
    DateStarted: str | None
    DateCompleted: str | None
    Runtime: float | None
    Success: bool | None
    ExitCode: int | None
    CpuSeconds: float | None
    MaxRssBytes: int | None
    CanStop: bool
    Priority: int
    DependsOn: list[str]
    Attempt: int
    PendingReason: str | None
    RunAt: str | None
    MaxRetries: int
    RerunOf: str | None
    TemplateID: str | None
    ScheduleID: str | None


class JobDetail(JobRecord):
    """One job in full; ``Output`` is null until the job has finished."""

    Command: str
    Output: str | None
    OutputBytes: int
    OutputTruncated: bool


class SubmitResponse(TypedDict):
    success: bool
    jobId: str
    message: str
    executionMode: str


class RerunResponse(SubmitResponse):
    """The new job's submit answer; ``rerunOf`` is the finished job it repeats."""

    rerunOf: str


class TemplateVariable(TypedDict):
    """One variable of a catalog template; ``pattern`` and ``choices`` are null when unset."""

    name: str
    description: str
    default: str | None
    required: bool
    pattern: str | None
    choices: list[str] | None


class TemplatePermissions(TypedDict):
    """``canStop``: may stop its jobs through jobs/stop (their own, or everyone's with the
    template's stop roles)."""

    canStart: bool
    canStop: bool


class TemplateRoles(TypedDict):
    start: list[str]
    stop: list[str]


class CatalogItem(TypedDict):
    """A template as the caller may use it; ``jobId`` is the template's id."""

    jobId: str
    displayName: str
    description: str
    executionMode: str
    schedule: str | None
    timezone: str
    templateVariables: list[TemplateVariable]
    permissions: TemplatePermissions
    roles: TemplateRoles


class CatalogLoadError(TypedDict):
    """A catalog file that could not be used: its path under the catalog folder, and why."""

    file: str
    error: str


class CatalogResponse(TypedDict):
    """``errors`` is empty unless the caller has a privileged role."""

    success: bool
    jobs: list[CatalogItem]
    count: int
    userRoles: list[str]
    errors: list[CatalogLoadError]


class StartResponse(TypedDict):
    """``jobId`` is the template's id, ``executionId`` the new job's."""

    success: bool
    message: str
    jobId: str
    executionId: str
    status: str


class TemplateStopResponse(TypedDict):
    """``stopped``: the jobs cancelled or asked to stop."""

    success: bool
    message: str
    jobId: str
    status: str
    stopped: list[str]


class JobLists(TypedDict):
    pending: list[JobRecord]
    running: list[JobRecord]
    completed: list[JobRecord]


class JobCounts(TypedDict):
    pending: int
    running: int
    completed: int
    total: int


class JobListResponse(TypedDict):
    success: bool
    jobs: JobLists
    counts: JobCounts
    nextCursor: str | None
    """Pass back as ``cursor`` for the next completed page; null at the end."""


class JobResponse(TypedDict):
    success: bool
    job: JobDetail


class MessageResponse(TypedDict):
    success: bool
    message: str
    jobId: NotRequired[str]


class OutputResponse(TypedDict):
    success: bool
    jobId: str
    output: str
    runtime: float | None
    state: str
    message: str | None
    nextOffset: int


class ResultsResponse(TypedDict):
    success: bool
    results: list[JobDetail]
    count: int
    nextCursor: str | None
    """Pass back as ``cursor`` for the next page; null at the end."""


class UserInfo(TypedDict):
    UserID: str
    Roles: list[str]


class MeResponse(TypedDict):
    """``csrfToken`` is there when signed in with a session cookie: send it as X-CSRF-Token
    on changes."""

    success: bool
    user: UserInfo
    csrfToken: NotRequired[str]


class LoginResponse(TypedDict):
    success: bool
    user: UserInfo
    csrfToken: str


class LogoutResponse(TypedDict):
    success: bool


class HealthResponse(TypedDict):
    status: str


class DegradedResponse(ErrorResponse):
    """/healthz while the store answers reads but cannot write."""

    status: str
    reason: str


class ScheduleRecord(TypedDict):
    """A recurring job. ``NextRunAt`` is null while paused; ``NextRuns`` its next five
    firings (none while paused); ``LastSkippedAt`` the last firing that submitted nothing
    because the previous job had not finished (overlap ``skip``); ``LastError`` why the
    last firing that failed did (a refusal, say), at ``LastErrorAt``: both null again once
    a firing submits a job."""

    ScheduleID: str
    Name: str
    Cron: str
    Timezone: str
    Overlap: str
    Enabled: bool
    UserID: str
    TemplateID: str | None
    NextRunAt: str | None
    LastRunAt: str | None
    LastJobID: str | None
    NextRuns: list[str]
    LastSkippedAt: str | None
    LastError: str | None
    LastErrorAt: str | None


class ScheduleCreatedResponse(TypedDict):
    success: bool
    scheduleId: str
    nextRunAt: str | None


class ScheduleListResponse(TypedDict):
    success: bool
    schedules: list[ScheduleRecord]
    count: int


class ScheduleResponse(TypedDict):
    success: bool
    schedule: ScheduleRecord


class ScheduleUpdatedResponse(ScheduleResponse):
    message: str


class ScheduleDeletedResponse(TypedDict):
    success: bool
    message: str
    scheduleId: str


class PreviewResponse(TypedDict):
    success: bool
    nextRuns: list[str]
