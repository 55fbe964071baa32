"""Response shapes, for the OpenAPI document and for checking what handlers return."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobhost.auth.passwords import MAX_PASSWORD_CHARS


class ErrorResponse(BaseModel):
    success: bool = False
    error: str


class JobRecord(BaseModel):
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
    CanStop: bool
    Priority: int
    DependsOn: list[str]
    Attempt: int


class JobDetail(JobRecord):
    """One job in full; ``Output`` is null until the job has finished."""

    Command: str
    Output: str | None
    OutputBytes: int
    OutputTruncated: bool


class SubmitResponse(BaseModel):
    success: bool
    jobId: str
    message: str
    executionMode: str


class JobLists(BaseModel):
    pending: list[JobRecord]
    running: list[JobRecord]
    completed: list[JobRecord]


class JobCounts(BaseModel):
    pending: int
    running: int
    completed: int
    total: int


class JobListResponse(BaseModel):
    success: bool
    jobs: JobLists
    counts: JobCounts


class JobResponse(BaseModel):
    success: bool
    job: JobDetail


class MessageResponse(BaseModel):
    success: bool
    message: str
    jobId: str | None = None


class OutputResponse(BaseModel):
    success: bool
    jobId: str
    output: str
    runtime: float | None
    state: str
    message: str | None
    nextOffset: int


class ResultsResponse(BaseModel):
    success: bool
    results: list[JobDetail]
    count: int


class UserInfo(BaseModel):
    UserID: str
    Roles: list[str]


class MeResponse(BaseModel):
    success: bool
    user: UserInfo
    csrfToken: str | None = Field(
        None, description="Signed in with a session cookie: send it as X-CSRF-Token on changes"
    )


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: str = Field(max_length=200)
    password: str = Field(max_length=MAX_PASSWORD_CHARS)


class LoginResponse(BaseModel):
    success: bool
    user: UserInfo
    csrfToken: str


class LogoutResponse(BaseModel):
    success: bool


class HealthResponse(BaseModel):
    status: str


class DegradedResponse(ErrorResponse):
    """/healthz while the store answers reads but cannot write."""

    status: str = "degraded"
    reason: str


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in [
        (400, "Bad input"),
        (401, "No or invalid credentials"),
        (403, "Not allowed"),
        (404, "No such job, or a job the caller may not see"),
        (409, "The job's state forbids the action"),
        (413, "Body too large"),
        (503, "Store unavailable"),
    ]
}
