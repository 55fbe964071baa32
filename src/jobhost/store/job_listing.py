"""Listing jobs by category for the API, with the totals per category."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, or_, select

from jobhost.models import Category, Job, Mode, Status, statuses_in
from jobhost.store.rows import job_from_row
from jobhost.store.schema import job_totals, jobs

ACTIVE_LIST_LIMIT = 1000
_Select = Select[Any]


@dataclass(frozen=True, slots=True)
class JobQuery:
    """Which jobs a listing shows; ``user_id`` None means every user's."""

    user_id: str | None
    categories: frozenset[Category] = frozenset(Category)
    limit: int = 100
    """Caps the completed list (the contract's ``maxResults``)."""
    active_limit: int = ACTIVE_LIST_LIMIT
    """Caps the pending and running lists, which the contract leaves uncapped: a bound on
    what one request can make the server read."""
    template_id: str | None = None
    """Only the jobs started from this catalog template (the counts stay the user's)."""
    history: HistoryFilter | None = None
    """The history filters (CONTRACT Part 2); the counts stay the user's, unfiltered."""


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Filters already validated by the service; None or empty means no filter."""

    statuses: frozenset[Status] = frozenset()
    mode: Mode | None = None
    text: str | None = None
    """Case-insensitive substring of name, description or command, matched literally."""
    since: float | None = None
    until: float | None = None
    """Bounds on SubmittedAt (inclusive), as epoch seconds."""
    template_id: str | None = None
    schedule_id: str | None = None
    before_seq: int | None = None
    """The cursor: only completed jobs older (by seq) than the last one already sent."""


@dataclass(frozen=True, slots=True)
class JobListing:
    by_category: dict[Category, list[Job]] = field(default_factory=dict)
    counts: dict[Category, int] = field(default_factory=dict)
    next_before_seq: int | None = None
    """Where the next completed page starts (its cursor); None when this page is the last."""


def count_by_category(conn: Connection, user_id: str | None) -> dict[Category, int]:
    """Totals per category: pending and running jobs counted (few), finished ones kept."""
    unfinished = [s.value for s in Status if not s.is_finished]
    query = (
        select(jobs.c.status, func.count())
        .where(jobs.c.status.in_(unfinished))
        .group_by(jobs.c.status)
    )
    finished = select(func.coalesce(func.sum(job_totals.c.finished), 0))
    if user_id is not None:
        query = query.where(jobs.c.user_id == user_id)
        finished = finished.where(job_totals.c.user_id == user_id)
    counts = dict.fromkeys(Category, 0)
    for status, count in conn.execute(query):
        counts[Status(status).category] += count
    counts[Category.COMPLETED] = int(conn.execute(finished).scalar_one())
    return counts


def list_category_page(
    conn: Connection, query: JobQuery, category: Category
) -> tuple[list[Job], int | None]:
    """A category's jobs and, when the page is full, the seq the next page starts below."""
    statuses = [s.value for s in statuses_in(category)]
    order = jobs.c.seq.asc() if category is Category.PENDING else jobs.c.seq.desc()
    limit = query.limit if category is Category.COMPLETED else query.active_limit
    stmt = select(jobs).where(jobs.c.status.in_(statuses)).order_by(order).limit(limit)
    if query.user_id is not None:
        stmt = stmt.where(jobs.c.user_id == query.user_id)
    if query.template_id is not None:
        stmt = stmt.where(jobs.c.template_id == query.template_id)
    if query.history is not None:
        stmt = _filtered(stmt, query.history, category)
    rows = conn.execute(stmt).all()
    full = len(rows) == limit and limit > 0
    return [job_from_row(row) for row in rows], (int(rows[-1].seq) if full else None)


def _filtered(stmt: _Select, history: HistoryFilter, category: Category) -> _Select:
    """``stmt`` narrowed by the history filters; the cursor applies to the completed list."""
    if history.statuses:
        stmt = stmt.where(jobs.c.status.in_(sorted(s.value for s in history.statuses)))
    conditions: list[ColumnElement[bool]] = []
    if history.mode is not None:
        conditions.append(jobs.c.mode == history.mode.value)
    if history.text:
        conditions.append(_text_matches(history.text))
    if history.since is not None:
        conditions.append(jobs.c.submitted_at >= history.since)
    if history.until is not None:
        conditions.append(jobs.c.submitted_at <= history.until)
    if history.template_id is not None:
        conditions.append(jobs.c.template_id == history.template_id)
    if history.schedule_id is not None:
        conditions.append(jobs.c.schedule_id == history.schedule_id)
    if history.before_seq is not None and category is Category.COMPLETED:
        conditions.append(jobs.c.seq < history.before_seq)
    return stmt.where(*conditions)


def _text_matches(text: str) -> ColumnElement[bool]:
    """Any of name, description, command contains ``text`` (any case; ``%``, ``_`` and
    ``\\`` match themselves): lower() on both sides, the same on SQLite and PostgreSQL."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    columns = (jobs.c.name, jobs.c.description, jobs.c.command)
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))
