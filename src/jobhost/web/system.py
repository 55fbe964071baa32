"""Routes outside the job API: health and who-am-I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Security

from jobhost import policy
from jobhost.web.deps import Caller, Svc, bearer_scheme
from jobhost.web.schemas import ERROR_RESPONSES, HealthResponse, MeResponse

router = APIRouter()


@router.get("/healthz", response_model=HealthResponse)
def healthz(svc: Svc) -> dict[str, Any]:
    """200 once the server is ready and its store answers; needs no credentials."""
    svc.store.jobs.ping()
    return {"status": "ok"}


@router.get(
    "/api/v1/auth/me",
    response_model=MeResponse,
    dependencies=[Security(bearer_scheme)],
    responses=ERROR_RESPONSES,
)
def me(user: Caller) -> dict[str, Any]:
    return {
        "success": True,
        "user": {"UserID": user.user_id, "Roles": policy.effective_roles(user)},
    }
