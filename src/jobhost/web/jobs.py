"""The seed's job routes under ``/apps/WebHostTaskManagement/api/v1/jobs``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from jobhost.models import Category, Job
from jobhost.service.jobs import DELETED, WhoseJobs
from jobhost.service.submission import RerunRequest, SubmitRequest, parse_rerun
from jobhost.store.job_listing import JobListing
from jobhost.web.deps import (
    Caller,
    identity,
    json_object,
    optional_json_object,
    parse_json_object,
    services,
    store_work,
)
from jobhost.web.history import History, next_cursor
from jobhost.web.openapi import NEEDS_CREDENTIALS
from jobhost.web.operations import Ops, TemplateOps, job_operations
from jobhost.web.records import (
    MAX_OFFSET,
    RECORD_OUTPUT_BYTES,
    decode_stream,
    detailed_record,
    job_record,
)
from jobhost.web.schemas import ERROR_RESPONSES
from jobhost.web.templates import STOP_BODY, stop_template
from jobhost.wire import (
    JobCounts,
    JobListResponse,
    JobRecord,
    JobResponse,
    MessageResponse,
    OutputResponse,
    RerunResponse,
    ResultsResponse,
    SubmitResponse,
    TemplateStopResponse,
)

OUTPUT_PAGE_BYTES = 1024 * 1024
RESULT_OUTPUT_BYTES = 64 * 1024
# What one results response carries of output in all (128 full tails): maxResults=1000
# alone would otherwise make the server read and send 64 MiB. Past it, items carry
# shorter tails, down to none, each with its "earlier bytes omitted" line.
RESULTS_OUTPUT_BUDGET = 8 * 1024 * 1024

router = APIRouter(prefix="/jobs", responses=ERROR_RESPONSES)


# Documented as a UUID; the form is checked by the service, whose 400 names the field.
UUID_FORMAT = {"format": "uuid"}
JobId = Annotated[str, Query(description="The job's UUID", json_schema_extra=UUID_FORMAT)]
MaxResults = Annotated[int, Query(ge=1, le=1000)]
AllUsers = Annotated[bool, Query(description="Privileged roles: every user's jobs")]
UserId = Annotated[str | None, Query(description="Privileged roles: this user's jobs")]


@router.post(
    "/submit",
    response_model=SubmitResponse,
    openapi_extra=NEEDS_CREDENTIALS
    | {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SubmitRequest.model_json_schema()}},
        }
    },
)
async def submit(request: Request) -> Response:
    # The busiest write route, so its blocking work (who is asking, then the insert) is
    # one piece of store work rather than one threadpool hop per sync dependency (see
    # store_work for where it runs). Its operations are built here rather than resolved
    # as a dependency, which FastAPI would solve on every submit. The order
    # of checks is Caller's: credentials before the body.
    svc = services(request)
    ops = job_operations(svc)
    body = await request.body()

    def authenticate_and_submit() -> Job:
        user = identity(request).user
        return ops.submit(user, parse_json_object(body))

    job = await store_work(svc, authenticate_and_submit)
    return _unchecked(_submitted(job))


@router.post(
    "/rerun",
    response_model=RerunResponse,
    openapi_extra=NEEDS_CREDENTIALS
    | {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RerunRequest.model_json_schema()}},
        }
    },
)
def rerun(
    user: Caller, ops: TemplateOps, body: Annotated[dict[str, object], Depends(json_object)]
) -> Response:
    """Submit a finished job again as the caller's (without its runAt and dependsOn), under
    submit's role rules, or a template job through its template's start; 409 while it has
    not finished."""
    job = ops.rerun(user, parse_rerun(body))
    answer: RerunResponse = {**_submitted(job), "rerunOf": job.spec.rerun_of or ""}
    return _unchecked(answer)


def _submitted(job: Job) -> SubmitResponse:
    return {
        "success": True,
        "jobId": job.job_id,
        "message": "Job submitted successfully",
        "executionMode": job.mode.value,
    }


@router.get("", response_model=JobListResponse | JobResponse, openapi_extra=NEEDS_CREDENTIALS)
def get_jobs(
    user: Caller,
    ops: Ops,
    jobId: JobId | None = None,
    includePending: bool = True,
    includeRunning: bool = True,
    includeCompleted: bool = True,
    maxResults: MaxResults = 100,
    allUsers: AllUsers = False,
    userId: UserId = None,
    history: History = None,
) -> JobResponse | Response:
    """Without ``jobId``: the jobs by category, narrowed by the history filters. With it:
    that one job in full."""
    if jobId is not None:
        job = ops.get(user, jobId)
        output = ops.output_tail(job, RECORD_OUTPUT_BYTES) if job.status.is_finished else None
        answer: JobResponse = {
            "success": True,
            "job": detailed_record(job, ops.clock.now(), output),
        }
        return answer
    wanted = {
        Category.PENDING: includePending,
        Category.RUNNING: includeRunning,
        Category.COMPLETED: includeCompleted,
    }
    categories = frozenset(c for c, on in wanted.items() if on)
    listing = ops.listing(user, categories, maxResults, WhoseJobs(allUsers, userId), history)
    return _unchecked(_listing_body(listing, ops.clock.now()))


@router.get("/list", response_model=JobListResponse, openapi_extra=NEEDS_CREDENTIALS)
def list_jobs(
    user: Caller,
    ops: Ops,
    includePending: bool = True,
    includeRunning: bool = True,
    includeCompleted: bool = True,
    maxResults: MaxResults = 100,
    allUsers: AllUsers = False,
    userId: UserId = None,
    history: History = None,
) -> JobResponse | Response:
    """The same listing as ``GET jobs`` without ``jobId`` (the seed had both)."""
    return get_jobs(
        user,
        ops,
        None,
        includePending,
        includeRunning,
        includeCompleted,
        maxResults,
        allUsers,
        userId,
        history,
    )


@router.delete("", response_model=MessageResponse, openapi_extra=NEEDS_CREDENTIALS)
def delete_job(user: Caller, ops: Ops, jobId: JobId) -> MessageResponse:
    """Cancel a pending job, stop a running one, or delete a finished one's result."""
    message = ops.stop_or_remove(user, jobId)
    return {"success": True, "message": message, "jobId": jobId.lower()}


@router.post(
    "/stop",
    response_model=MessageResponse | TemplateStopResponse,
    openapi_extra=NEEDS_CREDENTIALS | {"requestBody": STOP_BODY},
)
def stop_job(
    user: Caller,
    ops: TemplateOps,
    body: Annotated[dict[str, object] | None, Depends(optional_json_object)],
    jobId: JobId | None = None,
) -> MessageResponse | TemplateStopResponse:
    """With ``?jobId=``: cancel a pending job or stop a running one. Unlike DELETE, a job
    that has already finished is a 409 rather than deleted, so a stop that arrives late
    loses nothing. With a body ``{"jobId": "<template id>"}`` instead: stop that
    template's jobs (the caller's own; everyone's with its stopRoles or a privileged role)."""
    if jobId is None:
        return stop_template(ops, user, body or {})
    message = ops.jobs.stop(user, jobId)
    return {"success": True, "message": message, "jobId": jobId.lower()}


@router.get("/output", response_model=OutputResponse, openapi_extra=NEEDS_CREDENTIALS)
def get_output(
    user: Caller,
    ops: Ops,
    jobId: JobId,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many bytes")] = 0,
) -> Response:
    """Output so far (stdout and stderr interleaved), from byte ``offset``, in any mode."""
    job, data = ops.output(user, jobId, offset, OUTPUT_PAGE_BYTES)
    at_end = job.status.is_finished and offset + len(data) >= job.output_size
    text, used = decode_stream(data, at_end)
    message = None
    if job.output_dropped:
        message = f"Output truncated: {job.output_dropped} bytes past the cap were not kept"
    answer: OutputResponse = {
        "success": True,
        "jobId": job.job_id,
        "output": text,
        "runtime": job.runtime(ops.clock.now()),
        "state": job.status.value,
        "message": message,
        "nextOffset": offset + used,
    }
    return _unchecked(answer)


@router.get("/results", response_model=ResultsResponse, openapi_extra=NEEDS_CREDENTIALS)
def get_results(
    user: Caller,
    ops: Ops,
    maxResults: MaxResults = 100,
    allUsers: AllUsers = False,
    userId: UserId = None,
    history: History = None,
) -> Response:
    """Finished jobs, newest first (narrowed by the history filters), each with (the last
    64 KiB of) its output, and at most RESULTS_OUTPUT_BUDGET bytes of output in all."""
    completed = frozenset({Category.COMPLETED})
    listing = ops.listing(user, completed, maxResults, WhoseJobs(allUsers, userId), history)
    now = ops.clock.now()
    budget = RESULTS_OUTPUT_BUDGET
    results = []
    for job in listing.by_category[Category.COMPLETED]:
        take = min(RESULT_OUTPUT_BYTES, budget)
        output = ops.output_tail(job, take) if take else b""
        budget -= len(output)
        results.append(detailed_record(job, now, output))
    answer: ResultsResponse = {
        "success": True,
        "results": results,
        "count": len(results),
        "nextCursor": next_cursor(listing),
    }
    return _unchecked(answer)


@router.delete("/results", response_model=MessageResponse, openapi_extra=NEEDS_CREDENTIALS)
def delete_result(user: Caller, ops: Ops, jobId: JobId) -> MessageResponse:
    ops.delete_result(user, jobId)
    return {"success": True, "message": DELETED}


def _unchecked(
    content: SubmitResponse | JobListResponse | OutputResponse | ResultsResponse | RerunResponse,
) -> Response:
    """Our own body, sent without FastAPI checking it against the response model: for a
    thousand running jobs that check cost more than building the records, and for every
    route declared ``def`` it is one more hop to the threadpool and back per request (the
    busiest routes: submit, output, listings). Typing each body as its ``jobhost.wire``
    record holds it to the documented shape instead (mypy checks the keys)."""
    return JSONResponse(content)


def _listing_body(listing: JobListing, now: float) -> JobListResponse:
    def records(category: Category) -> list[JobRecord]:
        jobs: list[Job] = listing.by_category.get(category, [])
        return [job_record(job, now) for job in jobs]

    pending, running, completed = (
        listing.counts.get(category, 0)
        for category in (Category.PENDING, Category.RUNNING, Category.COMPLETED)
    )
    counts: JobCounts = {
        "pending": pending,
        "running": running,
        "completed": completed,
        "total": pending + running + completed,
    }
    return {
        "success": True,
        "jobs": {
            "pending": records(Category.PENDING),
            "running": records(Category.RUNNING),
            "completed": records(Category.COMPLETED),
        },
        "counts": counts,
        "nextCursor": next_cursor(listing),
    }
