"""``/healthz``: whether the server is ready and its store can write; needs no credentials."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from jobhost.web.deps import Svc, store_work
from jobhost.wire import DegradedResponse, HealthResponse

router = APIRouter()


@router.get(
    "/healthz",
    response_model=HealthResponse,
    responses={503: {"model": DegradedResponse, "description": "The store cannot write"}},
)
async def healthz(svc: Svc) -> HealthResponse | JSONResponse:
    """200 once the server is ready and its store answers; needs no credentials. 503
    ``degraded``, with the reason, while the store reads but cannot write."""
    await store_work(svc, svc.store.jobs.ping)
    problem = svc.store.write_problem()
    if problem is None:
        return {"status": "ok"}
    body: DegradedResponse = {
        "success": False,
        "error": f"The job store cannot write: {problem}",
        "status": "degraded",
        "reason": problem,
    }
    return JSONResponse(body, 503)
