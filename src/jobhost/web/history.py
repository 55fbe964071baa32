"""The history filters' query parameters (CONTRACT Part 2, "History"), shared by the job
listings; what they mean and every check of them live in service/job_filters.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from jobhost.service.job_filters import HistoryParams, encode_cursor
from jobhost.store.job_listing import JobListing

_STATUS = "Comma-separated Status values, e.g. Failed,TimedOut"
_Q = "Case-insensitive substring of the name, description or command (matched literally)"
_TIME = "An ISO time with its zone, e.g. 2026-12-03T15:00:00Z; bounds SubmittedAt"
# Documented as a UUID (as jobId is), so that a fuzzer's ids reach the filter.
_ScheduleId = Annotated[
    str, Query(description="Only this schedule's jobs", json_schema_extra={"format": "uuid"})
]
_CURSOR = "The nextCursor of the previous page: the completed jobs after it"


async def history_params(
    status: Annotated[str | None, Query(description=_STATUS)] = None,
    mode: Annotated[str | None, Query(description="Only jobs of this execution mode")] = None,
    q: Annotated[str | None, Query(description=_Q)] = None,
    since: Annotated[str | None, Query(description=_TIME + " (from)")] = None,
    until: Annotated[str | None, Query(description=_TIME + " (to, inclusive)")] = None,
    templateId: Annotated[str | None, Query(description="Only this template's jobs")] = None,
    scheduleId: _ScheduleId | None = None,
    cursor: Annotated[str | None, Query(description=_CURSOR)] = None,
) -> HistoryParams | None:
    """The filters given, or None when there are none (the seed's listing)."""
    given = HistoryParams(status, mode, q, since, until, templateId, scheduleId, cursor)
    return given if given != HistoryParams() else None


History = Annotated[HistoryParams | None, Depends(history_params)]


def next_cursor(listing: JobListing) -> str | None:
    """The ``nextCursor`` of a listing's completed page (None: it was the last)."""
    return encode_cursor(listing.next_before_seq)
