"""The catalog routes under ``BASE/jobs``: ``catalog`` and ``start``; a template's half of
``jobs/stop`` (a JSON body naming a template) is here too, called by that route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from jobhost.catalog import Template
from jobhost.models import User
from jobhost.service.templates import (
    STARTED,
    STOP_QUEUED,
    CatalogView,
    StartRequest,
    TemplateOperations,
    TemplateStopRequest,
    parse_start,
    parse_template_stop,
)
from jobhost.web.deps import Caller, json_object
from jobhost.web.openapi import NEEDS_CREDENTIALS
from jobhost.web.operations import TemplateOps
from jobhost.web.schemas import ERROR_RESPONSES
from jobhost.wire import (
    CatalogItem,
    CatalogResponse,
    StartResponse,
    TemplateStopResponse,
    TemplateVariable,
)

router = APIRouter(prefix="/jobs", responses=ERROR_RESPONSES)


Body = Annotated[dict[str, object], Depends(json_object)]

STOP_BODY = {
    "required": False,
    "content": {"application/json": {"schema": TemplateStopRequest.model_json_schema()}},
}


@router.get("/catalog", response_model=CatalogResponse, openapi_extra=NEEDS_CREDENTIALS)
def catalog(user: Caller, ops: TemplateOps) -> CatalogResponse:
    """The templates the caller may start or stop, by id; the files that failed to load
    under ``errors`` (for privileged roles only)."""
    return catalog_body(ops.view(user))


@router.post(
    "/start",
    response_model=StartResponse,
    openapi_extra=NEEDS_CREDENTIALS
    | {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": StartRequest.model_json_schema()}},
        }
    },
)
def start(user: Caller, ops: TemplateOps, body: Body) -> StartResponse:
    """Start a catalog template as a new job of the caller's; 403 for a template that does
    not exist or that their roles may not start, 400 naming each bad variable."""
    template_id, variables = parse_start(body)
    job = ops.start(user, template_id, variables)
    return {
        "success": True,
        "message": STARTED,
        "jobId": template_id,
        "executionId": job.job_id,
        "status": "Queued",
    }


def stop_template(
    ops: TemplateOperations, user: User, body: dict[str, object]
) -> TemplateStopResponse:
    """``POST jobs/stop`` with a body: stop the jobs of the template it names."""
    template_id = parse_template_stop(body)
    stopped = ops.stop(user, template_id)
    return {
        "success": True,
        "message": STOP_QUEUED,
        "jobId": template_id,
        "status": "StopQueued",
        "stopped": stopped,
    }


def catalog_body(view: CatalogView) -> CatalogResponse:
    items: list[CatalogItem] = [
        {
            "jobId": entry.template.template_id,
            "displayName": entry.template.name,
            "description": entry.template.description,
            "executionMode": entry.template.mode.value,
            "schedule": entry.template.schedule,
            "timezone": entry.template.timezone,
            "templateVariables": _variables(entry.template),
            "permissions": {"canStart": entry.can_start, "canStop": entry.can_stop},
            "roles": {
                "start": list(entry.template.start_roles),
                "stop": list(entry.template.stop_roles),
            },
        }
        for entry in view.entries
    ]
    return {
        "success": True,
        "jobs": items,
        "count": len(items),
        "userRoles": list(view.user_roles),
        "errors": [{"file": error.file, "error": error.error} for error in view.errors],
    }


def _variables(template: Template) -> list[TemplateVariable]:
    return [
        {
            "name": variable.name,
            "description": variable.description,
            "default": variable.default,
            "required": variable.required,
            "pattern": variable.pattern,
            "choices": list(variable.choices) or None,
        }
        for variable in template.variables
    ]
