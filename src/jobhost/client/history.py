"""The history filters a listing sends (CONTRACT Part 2, "History"), as query parameters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypedDict


class HistoryFilters(TypedDict, total=False):
    """Narrow a listing; the server checks every value (an ApiError 400 names the field)."""

    status: str | Sequence[str]
    """Status values, e.g. ("Failed", "TimedOut") or "Failed,TimedOut"."""
    mode: str
    q: str
    """Case-insensitive substring of the name, description or command."""
    since: datetime | str
    """SubmittedAt from this time: a datetime (naive is local time) or ISO text with zone."""
    until: datetime | str
    template_id: str
    schedule_id: str
    cursor: str
    """A listing's ``next_cursor``: the completed jobs after that page."""


def filter_params(filters: HistoryFilters) -> dict[str, str]:
    """The query parameters of the filters given."""
    status = filters.get("status")
    values = {
        "status": status if isinstance(status, str) or status is None else ",".join(status),
        "mode": filters.get("mode"),
        "q": filters.get("q"),
        "since": _time_text(filters.get("since")),
        "until": _time_text(filters.get("until")),
        "templateId": filters.get("template_id"),
        "scheduleId": filters.get("schedule_id"),
        "cursor": filters.get("cursor"),
    }
    return {key: value for key, value in values.items() if value is not None}


def _time_text(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
