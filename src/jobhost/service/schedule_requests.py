"""A schedule's body (``POST`` or ``PATCH BASE/schedules``) checked field by field.

A body holds the schedule's own fields and either ``templateId`` + ``variables`` or the
submit fields of its job (checked by ``submission.parse_submission`` when the caller's
roles are). Every refusal is an InvalidInput that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from jobhost import policy
from jobhost.errors import InvalidInput
from jobhost.models import Overlap, Schedule
from jobhost.schedules import cron
from jobhost.service.submission import SubmitRequest, describe_validation_error

MAX_NAME_CHARS = 200
# A schedule's job runs at its firings, alone: a fixed time or fixed jobs to wait on would
# mean nothing from the second firing on.
_NOT_FOR_SCHEDULES = {
    "runAt": "Invalid runAt: a schedule's jobs run at its firings",
    "dependsOn": "Invalid dependsOn: a schedule's jobs cannot depend on other jobs",
}
_JOB_FIELDS = frozenset(SubmitRequest.model_fields)
# What a PATCH's null cannot remove: a schedule has no default name, cron or state.
_NOT_REMOVABLE = {
    "name": "Invalid name: cannot be removed, a schedule needs one",
    "cron": "Invalid cron: cannot be removed, a schedule needs one",
    "enabled": "Invalid enabled: must be true or false",
}
# What a schedule of a job cannot do without, so long as it stays one.
_REQUIRED_JOB_FIELDS = ("command", "executionMode")
_TEMPLATE_REMOVED_ALONE = (
    "Invalid templateId: cannot be removed alone; give the job's fields (command, "
    "executionMode) to make it a schedule of a job"
)


class ScheduleFields(BaseModel):
    """A schedule's own fields; all optional here (create requires name and cron)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = None
    cron: str | None = None
    timezone: str | None = None
    overlap: Literal["skip", "queue"] | None = None
    enabled: bool | None = None
    templateId: str | None = None
    variables: dict[str, str] | None = None


_SCHEDULE_FIELDS = frozenset(ScheduleFields.model_fields)


@dataclass(frozen=True, slots=True)
class ScheduleBody:
    """A checked body: the schedule's settings and what its firings submit."""

    name: str
    cron: str
    timezone: str
    overlap: Overlap
    enabled: bool
    template_id: str | None
    variables: dict[str, str]
    job: dict[str, object] | None
    """The submit body of a free-form schedule's job (jobName defaults to the name)."""


def parse_body(payload: Mapping[str, object]) -> ScheduleBody:
    """The body of a new schedule, or InvalidInput naming the first bad field. The job's
    fields are only split off here; the service parses them with the caller's roles."""
    own = {key: value for key, value in payload.items() if key in _SCHEDULE_FIELDS}
    job = {key: value for key, value in payload.items() if key not in _SCHEDULE_FIELDS}
    try:
        fields = ScheduleFields.model_validate(own)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None
    name = _check_name(fields.name)
    template_id = _check_template_id(fields.templateId)
    return ScheduleBody(
        name=name,
        cron=cron.parse_cron(_required("cron", fields.cron)),
        timezone=_checked_timezone("UTC" if fields.timezone is None else fields.timezone),
        overlap=Overlap(fields.overlap or Overlap.SKIP.value),
        enabled=True if fields.enabled is None else fields.enabled,
        template_id=template_id,
        variables=_check_variables(template_id, fields.variables),
        job=_job_fields(name, job) if template_id is None else _without_job(job),
    )


def parse_enabled(value: object) -> bool:
    """A pause's or resume's ``enabled``, or InvalidInput naming it (null too: a patch
    that meant neither must not resume)."""
    if value is None:
        raise InvalidInput(_NOT_REMOVABLE["enabled"])
    try:
        fields = ScheduleFields.model_validate({"enabled": value})
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None
    assert fields.enabled is not None
    return fields.enabled


def merged(schedule: Schedule, patch: Mapping[str, object]) -> dict[str, object]:
    """The body ``schedule`` would have with ``patch`` applied (a null value removes an
    optional field). A templateId switches it to that template; job fields to a job.
    InvalidInput for a key that is neither, even as null, which would otherwise vanish
    unseen (a ``UserID`` or ``Status`` is no field of a schedule's)."""
    for key in patch:
        if key not in _SCHEDULE_FIELDS and key not in _JOB_FIELDS:
            raise InvalidInput(f"Unknown field: {_shown(key)}")
    _check_removals(schedule, patch)
    body = as_body(schedule)
    if patch.get("templateId") is not None:
        body = {key: value for key, value in body.items() if key in _SCHEDULE_FIELDS}
    elif _gives_job(patch):
        body = {k: v for k, v in body.items() if k not in ("templateId", "variables")}
    for key, value in patch.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def _check_removals(schedule: Schedule, patch: Mapping[str, object]) -> None:
    """InvalidInput for a null that would leave the schedule without what it needs, which
    the create's checks would report as missing, as if the PATCH had forgotten it."""
    removed = {key for key, value in patch.items() if value is None}
    fixed = sorted(removed & _NOT_REMOVABLE.keys())
    if fixed:
        raise InvalidInput(_NOT_REMOVABLE[fixed[0]])
    if "templateId" in removed and schedule.template_id is not None and not _gives_job(patch):
        raise InvalidInput(_TEMPLATE_REMOVED_ALONE)
    stays_a_job = schedule.template_id is None and patch.get("templateId") is None
    for key in _REQUIRED_JOB_FIELDS:
        if key in removed and stays_a_job:
            raise InvalidInput(f"Invalid {key}: cannot be removed, a schedule of a job needs one")


def _gives_job(patch: Mapping[str, object]) -> bool:
    """Whether a patch sets a job field (a null one removes it, which switches nothing)."""
    return any(key in _JOB_FIELDS and value is not None for key, value in patch.items())


def as_body(schedule: Schedule) -> dict[str, object]:
    """The schedule as the body that would create it."""
    body: dict[str, object] = {
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "overlap": schedule.overlap.value,
        "enabled": schedule.enabled,
    }
    if schedule.template_id is not None:
        body["templateId"] = schedule.template_id
        body["variables"] = dict(schedule.variables)
    else:
        body.update(schedule.job or {})
    return body


def _required(field: str, value: str | None) -> str:
    if value is None:
        raise InvalidInput(f"Missing required field: {field}")
    return value


def _check_name(name: str | None) -> str:
    text = _required("name", name)
    if not 1 <= len(text) <= MAX_NAME_CHARS or not text.isprintable() or not text.strip():
        raise InvalidInput(f"Invalid name: must be 1-{MAX_NAME_CHARS} printable characters")
    return text


def _checked_timezone(name: str) -> str:
    cron.parse_timezone(name)
    return name


def _check_template_id(template_id: str | None) -> str | None:
    if template_id is None:
        return None
    if not 1 <= len(template_id) <= policy.MAX_TEMPLATE_ID_CHARS or not template_id.isprintable():
        raise InvalidInput("Invalid templateId: must be a template id such as backups/nightly")
    return template_id


def _check_variables(template_id: str | None, variables: dict[str, str] | None) -> dict[str, str]:
    if variables is not None and template_id is None:
        raise InvalidInput("Invalid variables: only a schedule of a template takes variables")
    return variables or {}


def body_json_schema(*required: str) -> dict[str, object]:
    """The JSON Schema of a schedule body, for the API's document: the schedule's own
    fields and the submit fields a free-form schedule's job takes (not runAt, dependsOn).
    Which of the two kinds a body is, and a job's own required fields, are checked here."""
    job = SubmitRequest.model_json_schema()["properties"]
    own = ScheduleFields.model_json_schema()["properties"]
    fields = {key: value for key, value in job.items() if key not in _NOT_FOR_SCHEDULES}
    return {
        "type": "object",
        "properties": fields | own,
        "required": list(required),
        "additionalProperties": False,
    }


def _job_fields(name: str, job: dict[str, object]) -> dict[str, object]:
    """The submit body of a free-form schedule: unknown keys and the fields that mean
    nothing for a recurring job are refused here, the rest by parse_submission."""
    for key in job:
        if key not in _JOB_FIELDS:
            raise InvalidInput(f"Unknown field: {_shown(key)}")
        if key in _NOT_FOR_SCHEDULES:
            raise InvalidInput(_NOT_FOR_SCHEDULES[key])
    return {"jobName": name, **job}


def _without_job(job: dict[str, object]) -> dict[str, object] | None:
    """None (a template schedule has no job), or InvalidInput naming a job field given."""
    for key in job:
        if key not in _JOB_FIELDS:
            raise InvalidInput(f"Unknown field: {_shown(key)}")
        raise InvalidInput(f"Invalid {key}: a schedule of a template takes no job fields")
    return None


def _shown(key: str) -> str:
    """A field name fit for a message (escaped unless printable)."""
    return key if key.isprintable() else repr(key)[1:-1]
