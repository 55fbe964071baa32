"""The schedule routes under ``BASE/schedules``: a thin skin over ScheduleOperations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from jobhost import policy
from jobhost.models import Schedule
from jobhost.schedules.cron import MAX_CRON_CHARS, MAX_TIMEZONE_CHARS
from jobhost.service.schedule_requests import body_json_schema
from jobhost.service.schedules import ScheduleOperations
from jobhost.web.deps import Caller, Svc, json_object
from jobhost.web.jobs import UUID_FORMAT
from jobhost.web.openapi import NEEDS_CREDENTIALS
from jobhost.web.operations import job_operations, template_operations
from jobhost.web.records import iso
from jobhost.web.schemas import ERROR_RESPONSES
from jobhost.wire import (
    PreviewResponse,
    ScheduleCreatedResponse,
    ScheduleDeletedResponse,
    ScheduleListResponse,
    ScheduleRecord,
    ScheduleResponse,
    ScheduleUpdatedResponse,
)

UPDATED = "Schedule updated successfully"
DELETED = "Schedule deleted successfully"

router = APIRouter(prefix="/schedules", responses=ERROR_RESPONSES)


async def operations(svc: Svc) -> ScheduleOperations:
    return ScheduleOperations(
        svc.store.schedules,
        job_operations(svc),
        template_operations(svc),
        svc.clock,
        svc.wake_schedules,
        svc.settings.max_schedules_per_user,
    )


Ops = Annotated[ScheduleOperations, Depends(operations)]
Body = Annotated[dict[str, object], Depends(json_object)]
ScheduleId = Annotated[str, Query(description="The schedule's UUID", json_schema_extra=UUID_FORMAT)]
_BODY_TEXT = (
    "The schedule's fields, and either templateId + variables or the submit fields of its "
    "job (jobName defaults to name; not runAt nor dependsOn)"
)


def _body_doc(*required: str) -> dict[str, object]:
    schema = body_json_schema(*required)
    content = {"application/json": {"schema": schema}}
    return NEEDS_CREDENTIALS | {
        "requestBody": {"required": True, "description": _BODY_TEXT, "content": content}
    }


def schedule_record(ops: ScheduleOperations, schedule: Schedule) -> ScheduleRecord:
    return {
        "ScheduleID": schedule.schedule_id,
        "Name": schedule.name,
        "Cron": schedule.cron,
        "Timezone": schedule.timezone,
        "Overlap": schedule.overlap.value,
        "Enabled": schedule.enabled,
        "UserID": schedule.user_id,
        "TemplateID": schedule.template_id,
        "NextRunAt": iso(schedule.next_run_at),
        "LastRunAt": iso(schedule.last_run_at),
        "LastJobID": schedule.last_job_id,
        "NextRuns": [policy.utc_text(when) for when in ops.upcoming(schedule)],
        "LastSkippedAt": iso(schedule.last_skipped_at),
        "LastError": schedule.last_error,
        "LastErrorAt": iso(schedule.last_error_at),
    }


@router.post("", response_model=ScheduleCreatedResponse, openapi_extra=_body_doc("name", "cron"))
def create_schedule(user: Caller, ops: Ops, body: Body) -> ScheduleCreatedResponse:
    """A new schedule of the caller's, under the rules its firings meet: submit's roles
    for a job, the template's start roles for a template."""
    schedule = ops.create(user, body)
    return {
        "success": True,
        "scheduleId": schedule.schedule_id,
        "nextRunAt": iso(schedule.next_run_at),
    }


@router.get(
    "",
    response_model=ScheduleListResponse | ScheduleResponse,
    openapi_extra=NEEDS_CREDENTIALS,
)
def get_schedules(
    user: Caller,
    ops: Ops,
    scheduleId: ScheduleId | None = None,
    allUsers: Annotated[bool, Query(description="Privileged roles: everyone's")] = False,
    userId: Annotated[str | None, Query(description="Privileged roles: this user's")] = None,
) -> ScheduleListResponse | ScheduleResponse:
    """The caller's schedules, oldest first; or the one ``scheduleId`` names."""
    if scheduleId is not None:
        return {"success": True, "schedule": schedule_record(ops, ops.get(user, scheduleId))}
    listed = ops.listing(user, allUsers, userId)
    records = [schedule_record(ops, schedule) for schedule in listed]
    return {"success": True, "schedules": records, "count": len(records)}


@router.patch("", response_model=ScheduleUpdatedResponse, openapi_extra=_body_doc())
def patch_schedule(
    user: Caller, ops: Ops, scheduleId: ScheduleId, body: Body
) -> ScheduleUpdatedResponse:
    """Change any of the body's fields (null removes an optional one): ``enabled`` false
    pauses, true resumes from now."""
    schedule = ops.patch(user, scheduleId, body)
    return {"success": True, "message": UPDATED, "schedule": schedule_record(ops, schedule)}


@router.delete("", response_model=ScheduleDeletedResponse, openapi_extra=NEEDS_CREDENTIALS)
def delete_schedule(user: Caller, ops: Ops, scheduleId: ScheduleId) -> ScheduleDeletedResponse:
    """Delete a schedule; the jobs it submitted stay."""
    return {"success": True, "message": DELETED, "scheduleId": ops.delete(user, scheduleId)}


@router.get("/preview", response_model=PreviewResponse, openapi_extra=NEEDS_CREDENTIALS)
def preview(
    _user: Caller,
    ops: Ops,
    # The lengths are documented, not enforced here: parse_cron and parse_timezone refuse
    # a long one with the words a POST gets.
    cron: Annotated[
        str, Query(description="5-field cron", json_schema_extra={"maxLength": MAX_CRON_CHARS})
    ],
    timezone: Annotated[str, Query(json_schema_extra={"maxLength": MAX_TIMEZONE_CHARS})] = "UTC",
) -> PreviewResponse:
    """The next five firings of ``cron`` in ``timezone``; a bad one is a 400 naming it."""
    runs = ops.preview(cron, timezone)
    return {"success": True, "nextRuns": [policy.utc_text(when) for when in runs]}
