"""The per-user limit in the claim, and the PendingReason read from the dispatcher's
published decision, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import collections

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobhost.models import Category, Job, JobSpec, Mode, Outcome, QueueState, Status
from jobhost.store import SqlStore
from jobhost.store.claims import ClaimOrder
from jobhost.store.job_listing import JobQuery
from jobhost.store.jobs import Finish
from tests.store.conftest import empty


def submit(
    store: SqlStore, name: str, user: str, priority: int = 0, mode: Mode | None = None
) -> Job:
    spec = JobSpec(name, f"echo {name}", mode or Mode.BACKGROUND_JOB, priority=priority)
    return store.jobs.submit(user, spec)


def claim(
    store: SqlStore, free: int, per_user: int, running: dict[str, int] | None = None
) -> list[str]:
    order = ClaimOrder(free, "n", Mode.MAIN_LOOP, per_user, running or {})
    return [job.spec.name for job in store.jobs.record_and_claim(order)]


def test_a_user_at_the_limit_is_passed_over_for_the_next_user(store: SqlStore) -> None:
    for i in range(4):
        submit(store, f"a{i}", "alice")
    submit(store, "b0", "bob")
    submit(store, "b1", "bob")

    assert claim(store, 10, per_user=2) == ["a0", "a1", "b0", "b1"]
    assert claim(store, 10, per_user=2, running={"alice": 2, "bob": 2}) == []
    assert claim(store, 10, per_user=3, running={"alice": 2, "bob": 2}) == ["a2"]


def test_the_limit_counts_the_jobs_already_running(store: SqlStore) -> None:
    submit(store, "a0", "alice")
    submit(store, "b0", "bob")

    assert claim(store, 10, per_user=1, running={"alice": 1}) == ["b0"]
    listing = store.jobs.listing(JobQuery(None))
    assert [job.spec.name for job in listing.by_category[Category.PENDING]] == ["a0"]


def test_a_job_finished_in_the_same_commit_frees_its_user_s_share(store: SqlStore) -> None:
    first = submit(store, "a0", "alice")
    [running] = store.jobs.claim(1, "n")
    assert running.job_id == first.job_id
    submit(store, "a1", "alice")
    submit(store, "a2", "alice")
    order = ClaimOrder(0, "n", Mode.MAIN_LOOP, 1, {"alice": 1})
    ended = Finish(first.job_id, Outcome(Status.COMPLETED, 0))

    claimed = store.jobs.record_and_claim(order, finishes=[ended])

    assert [job.spec.name for job in claimed] == ["a1"]


def test_the_limit_keeps_priority_order_and_stops_at_the_barrier(store: SqlStore) -> None:
    submit(store, "a-low", "alice", priority=-1)
    submit(store, "a-high", "alice", priority=5)
    submit(store, "a-high2", "alice", priority=5)
    submit(store, "b-main", "bob", mode=Mode.MAIN_LOOP)
    submit(store, "c0", "carol")

    assert claim(store, 10, per_user=1) == ["a-high", "b-main"]
    assert claim(store, 10, per_user=1, running={"alice": 1}) == ["c0"]


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    queue=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(-1, 1)), max_size=25),
    running=st.dictionaries(st.sampled_from("abcd"), st.integers(0, 3)),
    free=st.integers(1, 12),
    per_user=st.integers(1, 3),
)
def test_the_claim_takes_what_a_walk_of_the_queue_would(
    store: SqlStore,
    queue: list[tuple[str, int]],
    running: dict[str, int],
    free: int,
    per_user: int,
) -> None:
    empty(store)
    for i, (user, priority) in enumerate(queue):
        submit(store, f"j{i}", user, priority)
    expected: list[str] = []
    counts = collections.Counter(running)
    by_order = sorted(enumerate(queue), key=lambda item: (-item[1][1], item[0]))
    for i, (user, _priority) in by_order:
        if len(expected) < free and counts[user] < per_user:
            expected.append(f"j{i}")
            counts[user] += 1

    assert claim(store, free, per_user, running) == expected


# --- PendingReason ------------------------------------------------------------------------------


def test_pending_jobs_are_read_with_the_published_reason(store: SqlStore) -> None:
    waiting = submit(store, "a1", "alice")
    other = submit(store, "b1", "bob")
    store.jobs.publish_queue_state(QueueState(2, 2, 1, {"alice": 1}))

    by_alice = "user limit reached (1 of 1 running)"
    by_bob = "waiting for a free slot (2 of 2 running)"
    assert store.jobs.get(waiting.job_id).pending_reason == by_alice  # type: ignore[union-attr]
    found = store.jobs.get_many([waiting.job_id, other.job_id])
    assert [found[waiting.job_id].pending_reason, found[other.job_id].pending_reason] == [
        by_alice,
        by_bob,
    ]
    pending = store.jobs.listing(JobQuery(None)).by_category[Category.PENDING]
    assert [job.pending_reason for job in pending] == [by_alice, by_bob]


def test_a_job_not_pending_has_no_queue_reason(store: SqlStore) -> None:
    job = submit(store, "a", "alice")
    store.jobs.claim(1, "n")
    store.jobs.publish_queue_state(QueueState(1, 1))

    assert store.jobs.get(job.job_id).pending_reason is None  # type: ignore[union-attr]
