"""The schedule calls of the client without I/O: the requests to ``BASE/schedules`` and the
``Schedule`` values read from their answers (``wire.ScheduleRecord``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack, cast

from jobhost import wire
from jobhost.client import protocol
from jobhost.client.protocol import Call, SubmitOptions
from jobhost.client.values import _iso, _optional_str, _str, _time, message_of


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring job. ``next_run_at`` is None while paused; ``next_runs`` its next five
    firings; ``last_skipped_at`` the last firing that submitted nothing (overlap skip);
    ``last_error`` why the last failed firing failed, until a firing submits a job."""

    id: str
    name: str
    cron: str
    timezone: str
    overlap: str
    enabled: bool
    user_id: str
    template_id: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: str | None
    next_runs: tuple[datetime, ...]
    last_skipped_at: datetime | None
    last_error: str | None = None
    last_error_at: datetime | None = None

    def to_json(self) -> dict[str, object]:
        """The schedule as a JSON-ready dict: snake_case keys, ISO 8601 UTC times."""
        return {
            "id": self.id,
            "name": self.name,
            "cron": self.cron,
            "timezone": self.timezone,
            "overlap": self.overlap,
            "enabled": self.enabled,
            "user_id": self.user_id,
            "template_id": self.template_id,
            "next_run_at": _iso(self.next_run_at),
            "last_run_at": _iso(self.last_run_at),
            "last_job_id": self.last_job_id,
            "next_runs": [_iso(moment) for moment in self.next_runs],
            "last_skipped_at": _iso(self.last_skipped_at),
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
        }


class ScheduleOptions(TypedDict, total=False):
    """How a new schedule fires; by default in UTC, enabled, skipping while its last job
    has not finished."""

    timezone: str
    """An IANA time zone, e.g. Europe/Berlin."""
    overlap: str
    """skip (the default) or queue."""
    enabled: bool


def schedule_from_record(record: Mapping[str, Any]) -> Schedule:
    """A Schedule from the API's record; KeyError/ValueError/TypeError if malformed."""
    r = cast(wire.ScheduleRecord, record)
    return Schedule(
        id=_str(r["ScheduleID"]),
        name=_str(r["Name"]),
        cron=_str(r["Cron"]),
        timezone=_str(r["Timezone"]),
        overlap=_str(r["Overlap"]),
        enabled=bool(r["Enabled"]),
        user_id=_str(r["UserID"]),
        template_id=_optional_str(r.get("TemplateID")),
        next_run_at=_time(r.get("NextRunAt")),
        last_run_at=_time(r.get("LastRunAt")),
        last_job_id=_optional_str(r.get("LastJobID")),
        next_runs=tuple(_moment(text) for text in r.get("NextRuns") or ()),
        last_skipped_at=_time(r.get("LastSkippedAt")),
        last_error=_optional_str(r.get("LastError")),
        last_error_at=_time(r.get("LastErrorAt")),
    )


def _moment(text: object) -> datetime:
    moment = _time(text)
    if moment is None:
        raise TypeError("a time is null")
    return moment


def _one(body: Mapping[str, Any]) -> Schedule:
    return schedule_from_record(cast(wire.ScheduleResponse, body)["schedule"])


def _many(body: Mapping[str, Any]) -> tuple[Schedule, ...]:
    records = cast(wire.ScheduleListResponse, body)["schedules"]
    return tuple(schedule_from_record(record) for record in records)


def _created(body: Mapping[str, Any]) -> str:
    return _str(cast(wire.ScheduleCreatedResponse, body)["scheduleId"])


def _runs(body: Mapping[str, Any]) -> tuple[datetime, ...]:
    return tuple(_moment(text) for text in cast(wire.PreviewResponse, body)["nextRuns"])


def list_schedules(
    all_users: bool = False, user_id: str | None = None
) -> Call[tuple[Schedule, ...]]:
    params: protocol.Params = {"allUsers": "true"} if all_users else {}
    if user_id is not None:
        params["userId"] = user_id
    return Call("GET", "/schedules", _many, params=params)


def get_schedule(schedule_id: str) -> Call[Schedule]:
    return Call("GET", "/schedules", _one, params={"scheduleId": schedule_id})


def add_command_schedule(
    name: str,
    cron: str,
    command: str,
    job: SubmitOptions | None = None,
    **options: Unpack[ScheduleOptions],
) -> Call[str]:
    """A schedule whose firings submit ``command`` (``job``: as ``submit`` takes them; its
    job is named after the schedule). Its id."""
    job_body = protocol.submit(command, name, **(job or {})).body or {}
    return Call("POST", "/schedules", _created, body=_body(name, cron, options) | job_body)


def add_template_schedule(
    name: str,
    cron: str,
    template_id: str,
    variables: Mapping[str, str] | None = None,
    **options: Unpack[ScheduleOptions],
) -> Call[str]:
    """A schedule whose firings start a catalog template. Its id."""
    body = _body(name, cron, options) | {
        "templateId": template_id,
        "variables": dict(variables or {}),
    }
    return Call("POST", "/schedules", _created, body=body)


def update_schedule(schedule_id: str, changes: Mapping[str, object]) -> Call[Schedule]:
    """Change any of a schedule's body fields (a None value removes an optional one)."""
    params: protocol.Params = {"scheduleId": schedule_id}
    return Call("PATCH", "/schedules", _one, params=params, body=dict(changes))


def delete_schedule(schedule_id: str) -> Call[str]:
    return Call("DELETE", "/schedules", message_of, params={"scheduleId": schedule_id})


def preview(cron: str, timezone: str = "UTC") -> Call[tuple[datetime, ...]]:
    params: protocol.Params = {"cron": cron, "timezone": timezone}
    return Call("GET", "/schedules/preview", _runs, params=params)


def _body(name: str, cron: str, options: ScheduleOptions) -> dict[str, object]:
    body: dict[str, object] = {"name": name, "cron": cron}
    body.update({key: value for key, value in options.items()})
    return body
