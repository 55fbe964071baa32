"""Claiming the next pending jobs for a node, in dispatch order, on either dialect."""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text, update

from jobhost.models import Mode, Status
from jobhost.store.database import in_batches
from jobhost.store.dialects import Statements
from jobhost.store.rows import JOB_COLUMNS
from jobhost.store.schema import PENDING_CONDITION, jobs


@dataclass(frozen=True, slots=True)
class ClaimOrder:
    """Jobs to mark Running on ``node``: up to ``free`` of them, plus one for each job that
    the same ``record_and_claim`` finishes (its slot is free again). The claim ends with the
    first job in the ``barrier`` mode (MainLoop jobs block the dispatcher, so the jobs
    queued behind one must not be marked as started yet)."""

    free: int
    node: str
    barrier: Mode | None = None
    per_user: int | None = None
    """At most this many of one user's jobs running on ``node``; None: no limit."""
    running: Mapping[str, int] | None = None
    """With ``per_user``: how many jobs each user runs on ``node``, counting those this
    commit finishes (it subtracts them)."""


# Left to choose, SQLite's planner takes ix_jobs_status and sorts every pending job on each
# claim (quadratic draining); named, it walks the queue index and stops after LIMIT rows.
# PostgreSQL locks the rows it takes, skipping those another node is claiming.
_QUEUE = (
    select(jobs.c.seq, jobs.c.mode)
    .where(text(PENDING_CONDITION))
    .order_by(jobs.c.priority.desc(), jobs.c.seq)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
    .with_hint(jobs, "INDEXED BY ix_jobs_queue", "sqlite")
)
# With a per-user limit: the same walk, with each job's owner, past the users at theirs.
_QUEUE_WITH_USERS = _QUEUE.add_columns(jobs.c.user_id)
_QUEUE_PAST_USERS = _QUEUE_WITH_USERS.where(
    jobs.c.user_id.not_in(bindparam("b_full", expanding=True))
)
_CLAIM = (
    update(jobs)
    .where(jobs.c.seq.in_(bindparam("b_seqs", expanding=True)))
    .values(
        status=Status.RUNNING.value,
        started_at=bindparam("b_now"),
        attempt=jobs.c.attempt + 1,
        node=bindparam("b_node"),
    )
    .returning(*jobs.c)
)

_PRIORITY = JOB_COLUMNS.index("priority")
_SEQ = JOB_COLUMNS.index("seq")


def dispatch_order(row: Sequence[Any]) -> tuple[int, int]:
    return (-row[_PRIORITY], row[_SEQ])


def claim_next(
    run: Statements,
    limit: int,
    order: ClaimOrder,
    now: float,
    finished: Mapping[str, int] | None = None,
) -> list[Sequence[Any]]:
    """Mark the next ``limit`` pending jobs (up to ``order``'s barrier, within its per-user
    limit) Running on its node; their rows, every column in table order, in no particular
    order. ``finished``: how many running jobs of each user this commit just ended."""
    if order.per_user is None:
        seqs = _up_to_barrier(run.rows(_QUEUE, {"b_limit": limit}), order.barrier)
    else:
        seqs = _within_user_limit(run, limit, order, finished or {})
    rows: list[Sequence[Any]] = []
    for batch in in_batches(seqs):
        params = {"b_seqs": list(batch), "b_now": now, "b_node": order.node}
        rows += run.rows(_CLAIM, params)
    return rows


def _up_to_barrier(rows: Sequence[Sequence[Any]], barrier: Mode | None) -> list[int]:
    seqs = []
    for seq, mode in rows:
        seqs.append(seq)
        if barrier is not None and mode == barrier.value:
            break
    return seqs


def _within_user_limit(
    run: Statements, limit: int, order: ClaimOrder, finished: Mapping[str, int]
) -> list[int]:
    """The queue's next ``limit`` jobs whose users are under ``order.per_user``.

    Walked in rounds: a user who reaches the limit midway is left out of the next round's
    statement, which reads the queue again from its head (the jobs taken are still Pending
    until the update); each round past the first has a user more to leave out."""
    assert order.per_user is not None
    running = collections.Counter(order.running or {})
    running.subtract(finished)
    full = {user for user, count in running.items() if count >= order.per_user}
    taken: dict[int, None] = {}  # in queue order
    while True:
        rows = _queue_past(run, full, limit)  # the jobs taken come again, hence all of limit
        passed_over = False
        for seq, mode, user in rows:
            if seq in taken:
                continue
            if user in full:
                passed_over = True
                continue
            taken[seq] = None
            running[user] += 1
            if running[user] >= order.per_user:
                full.add(user)
            if len(taken) == limit or (order.barrier is not None and mode == order.barrier.value):
                return list(taken)
        if not passed_over or len(rows) < limit:
            return list(taken)


def _queue_past(run: Statements, full: set[str], limit: int) -> Sequence[Sequence[Any]]:
    if not full:
        return run.rows(_QUEUE_WITH_USERS, {"b_limit": limit})
    return run.rows(_QUEUE_PAST_USERS, {"b_limit": limit, "b_full": sorted(full)})
