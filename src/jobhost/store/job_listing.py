"""Listing jobs by category for the API, with the totals per category."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from jobhost.models import Category, Job, Status, statuses_in
from jobhost.store.rows import job_from_row
from jobhost.store.schema import job_totals, jobs

ACTIVE_LIST_LIMIT = 1000


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


@dataclass(frozen=True, slots=True)
class JobListing:
    by_category: dict[Category, list[Job]] = field(default_factory=dict)
    counts: dict[Category, int] = field(default_factory=dict)


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


def list_category(conn: Connection, query: JobQuery, category: Category) -> list[Job]:
    statuses = [s.value for s in statuses_in(category)]
    order = jobs.c.seq.asc() if category is Category.PENDING else jobs.c.seq.desc()
    limit = query.limit if category is Category.COMPLETED else query.active_limit
    stmt = select(jobs).where(jobs.c.status.in_(statuses)).order_by(order).limit(limit)
    if query.user_id is not None:
        stmt = stmt.where(jobs.c.user_id == query.user_id)
    if query.template_id is not None:
        stmt = stmt.where(jobs.c.template_id == query.template_id)
    return [job_from_row(row) for row in conn.execute(stmt)]
