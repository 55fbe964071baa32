"""What the client returns: frozen values parsed from the API's JSON, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from jobhost import wire
from jobhost.models import Category, Mode, Status


@dataclass(frozen=True, slots=True)
class Job:
    """A job record. ``command`` is set by ``get`` and ``results`` (not in listings);
    ``output`` is set for a finished job by ``get`` and ``results``: its last 1 MiB (``get``)
    or 64 KiB (``results``); page through all of it with ``output``/``follow``."""

    id: str
    name: str
    status: Status
    mode: Mode
    user_id: str
    description: str | None
    submitted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    runtime: float | None
    """Seconds spent running: so far while running, in total once finished."""
    success: bool | None
    """True exactly for Completed; None until the job has finished."""
    exit_code: int | None
    can_stop: bool
    priority: int
    attempt: int
    depends_on: tuple[str, ...] = ()
    pending_reason: str | None = None
    """Why a pending-category job is not running yet, as the dispatcher decided."""
    run_at: datetime | None = None
    max_retries: int = 0
    rerun_of: str | None = None
    template_id: str | None = None
    schedule_id: str | None = None
    cpu_seconds: float | None = None
    """User + system CPU of a finished BackgroundJob's process tree; None: unknown."""
    max_rss_bytes: int | None = None
    """Peak resident size of its largest process; None: unknown."""
    command: str | None = None
    output: str | None = None
    output_bytes: int | None = None
    output_truncated: bool = False

    @property
    def finished(self) -> bool:
        return self.status.is_finished

    @property
    def category(self) -> Category:
        return self.status.category

    def to_json(self) -> dict[str, object]:
        """The job as a JSON-ready dict: snake_case keys, ISO 8601 UTC times."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status.value,
            "category": self.category.value,
            "mode": self.mode.value,
            "user_id": self.user_id,
            "description": self.description,
            "submitted_at": _iso(self.submitted_at),
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "runtime": self.runtime,
            "success": self.success,
            "exit_code": self.exit_code,
            "can_stop": self.can_stop,
            "priority": self.priority,
            "attempt": self.attempt,
            "depends_on": list(self.depends_on),
            "pending_reason": self.pending_reason,
            "run_at": _iso(self.run_at),
            "max_retries": self.max_retries,
            "rerun_of": self.rerun_of,
            "template_id": self.template_id,
            "schedule_id": self.schedule_id,
            "cpu_seconds": self.cpu_seconds,
            "max_rss_bytes": self.max_rss_bytes,
            "command": self.command,
            "output": self.output,
            "output_bytes": self.output_bytes,
            "output_truncated": self.output_truncated,
        }


@dataclass(frozen=True, slots=True)
class JobCounts:
    """How many jobs the caller may see in each category (not capped by ``max_results``)."""

    pending: int
    running: int
    completed: int
    total: int


@dataclass(frozen=True, slots=True)
class JobList:
    """Jobs by category; ``completed`` is newest first and capped by ``max_results``."""

    pending: tuple[Job, ...]
    running: tuple[Job, ...]
    completed: tuple[Job, ...]
    counts: JobCounts
    next_cursor: str | None = None
    """Pass as ``cursor`` (with the same filters) for the next completed page; None at the end."""

    @property
    def jobs(self) -> tuple[Job, ...]:
        """Every listed job: pending, then running, then completed."""
        return self.pending + self.running + self.completed


@dataclass(frozen=True, slots=True)
class OutputPage:
    """Output from one offset on; pass ``next_offset`` back to get only what is new."""

    job_id: str
    output: str
    state: Status
    """The job's status when the page was read: all output is in once it is finished."""
    runtime: float | None
    message: str | None
    """Set when output past the server's cap was dropped."""
    next_offset: int

    @property
    def finished(self) -> bool:
        return self.state.is_finished


def job_from_record(record: Mapping[str, Any]) -> Job:
    """A Job from the API's record (``wire.JobRecord``, or ``wire.JobDetail`` from ``get``
    and ``results``); KeyError/ValueError/TypeError if malformed."""
    r = cast(wire.JobDetail, record)  # a listing's record lacks the detail keys: .get them
    return Job(
        id=_str(r["JobID"]),
        name=_str(r["JobName"]),
        status=Status(r["Status"]),
        mode=Mode(r["ExecutionMode"]),
        user_id=_str(r["UserID"]),
        description=_optional_str(r.get("Description")),
        submitted_at=_time(r.get("SubmittedAt")),
        started_at=_time(r.get("StartedAt")),
        completed_at=_time(r.get("CompletedAt")),
        runtime=_optional_float(r.get("Runtime")),
        success=_optional_bool(r.get("Success")),
        exit_code=_optional_int(r.get("ExitCode")),
        can_stop=bool(r.get("CanStop", False)),
        priority=int(r.get("Priority") or 0),
        attempt=int(r.get("Attempt") or 0),
        depends_on=tuple(_str(item) for item in r.get("DependsOn") or ()),
        pending_reason=_optional_str(r.get("PendingReason")),
        run_at=_time(r.get("RunAt")),
        max_retries=int(r.get("MaxRetries") or 0),
        rerun_of=_optional_str(r.get("RerunOf")),
        template_id=_optional_str(r.get("TemplateID")),
        schedule_id=_optional_str(r.get("ScheduleID")),
        cpu_seconds=_optional_float(r.get("CpuSeconds")),
        max_rss_bytes=_optional_int(r.get("MaxRssBytes")),
        command=_optional_str(r.get("Command")),
        output=_optional_str(r.get("Output")),
        output_bytes=_optional_int(r.get("OutputBytes")),
        output_truncated=bool(r.get("OutputTruncated", False)),
    )


def job_from_answer(body: Mapping[str, Any]) -> Job:
    return job_from_record(cast(wire.JobResponse, body)["job"])


def results_from_body(body: Mapping[str, Any]) -> tuple[Job, ...]:
    return tuple(job_from_record(record) for record in cast(wire.ResultsResponse, body)["results"])


@dataclass(frozen=True, slots=True)
class ResultsPage:
    """A page of finished jobs with their output, and the cursor of the next page."""

    jobs: tuple[Job, ...]
    next_cursor: str | None


def results_page_from_body(body: Mapping[str, Any]) -> ResultsPage:
    return ResultsPage(results_from_body(body), _optional_str(body.get("nextCursor")))


def job_list_from_body(body: Mapping[str, Any]) -> JobList:
    answer = cast(wire.JobListResponse, body)
    jobs, counts = answer["jobs"], answer["counts"]
    return JobList(
        pending=tuple(job_from_record(item) for item in jobs["pending"]),
        running=tuple(job_from_record(item) for item in jobs["running"]),
        completed=tuple(job_from_record(item) for item in jobs["completed"]),
        counts=JobCounts(
            pending=int(counts["pending"]),
            running=int(counts["running"]),
            completed=int(counts["completed"]),
            total=int(counts["total"]),
        ),
        next_cursor=_optional_str(answer.get("nextCursor")),
    )


def output_page_from_body(body: Mapping[str, Any]) -> OutputPage:
    answer = cast(wire.OutputResponse, body)
    return OutputPage(
        job_id=_str(answer["jobId"]),
        output=_str(answer["output"]),
        state=Status(answer["state"]),
        runtime=_optional_float(answer.get("runtime")),
        message=_optional_str(answer.get("message")),
        next_offset=int(answer["nextOffset"]),
    )


def submitted_job_id(body: Mapping[str, Any]) -> str:
    job_id = cast(wire.SubmitResponse, body)["jobId"]
    if not isinstance(job_id, str):
        raise TypeError("jobId is not a string")
    return job_id


def message_of(body: Mapping[str, Any]) -> str:
    return str(cast(wire.MessageResponse, body).get("message") or "")


def error_of(body: Mapping[str, Any]) -> object:
    """The refusal's ``error``, unchecked: the server may not be jobhost at all."""
    return cast(wire.ErrorResponse, body).get("error")


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _optional_bool(value: object) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(_str(value)).astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
