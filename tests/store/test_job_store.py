"""The job half of the store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from jobhost.models import Category, Job, JobSpec, Mode, Outcome, Status
from jobhost.store import JobStore, SqlStore
from jobhost.store.claims import ClaimOrder
from jobhost.store.job_listing import JobQuery
from jobhost.store.jobs import CHUNK_BYTES, Finish, OutputChunk, OutputProgress
from jobhost.store.schema import job_output
from tests.store.conftest import FakeClock

C = CHUNK_BYTES


def spec(name: str, mode: Mode = Mode.BACKGROUND_JOB, priority: int = 0) -> JobSpec:
    return JobSpec(name=name, command=f"echo {name}", mode=mode, priority=priority)


def submit(store: SqlStore, name: str, user_id: str = "alice", **options: object) -> Job:
    return store.jobs.submit(user_id, spec(name, **options))  # type: ignore[arg-type]


def names(jobs: list[Job]) -> list[str]:
    return [job.spec.name for job in jobs]


def current(store: SqlStore, job: Job) -> Job:
    found = store.jobs.get(job.job_id)
    assert found is not None
    return found


def finish(store: SqlStore, job: Job, status: Status, exit_code: int | None = None) -> None:
    store.jobs.record(finishes=[Finish(job.job_id, Outcome(status, exit_code))])


def claim_all(store: SqlStore, count: int, node: str = "node-a") -> list[Job]:
    claimed = store.jobs.claim(count, node)
    assert len(claimed) == count
    return claimed


# --- submit and get ---------------------------------------------------------------------------

FULL_SPEC = JobSpec(
    name="nightly report",
    command="python -c 'print(1)' && echo ünïcødé",
    mode=Mode.RUNSPACE,
    description="builds the report\nsecond line",
    stop_grace_seconds=2.5,
    timeout_seconds=30.25,
    env={"A": "1", "SPACED": "two words", "EMPTY": "", "UNICODE": "é"},
    working_directory="/srv/work dir",
    priority=-3,
)
MINIMAL_SPEC = JobSpec(name="x", command="true", mode=Mode.MAIN_LOOP)


@pytest.mark.parametrize("job_spec", [FULL_SPEC, MINIMAL_SPEC], ids=["full", "minimal"])
def test_submit_then_get_returns_every_field(
    store: SqlStore, clock: FakeClock, job_spec: JobSpec
) -> None:
    submitted = store.jobs.submit("alice", job_spec)

    assert submitted.spec == job_spec
    assert submitted.status is Status.PENDING
    assert submitted.submitted_at == clock.now()
    assert store.jobs.get(submitted.job_id) == submitted
    fetched = current(store, submitted)
    assert fetched.spec == job_spec
    assert dict(fetched.spec.env) == dict(job_spec.env)
    assert (fetched.user_id, fetched.attempt, fetched.node) == ("alice", 0, None)
    assert (fetched.started_at, fetched.completed_at, fetched.exit_code) == (None, None, None)
    assert (fetched.output_size, fetched.output_dropped) == (0, 0)


def test_submit_gives_each_job_its_own_id(store: SqlStore) -> None:
    ids = {submit(store, f"job{i}").job_id for i in range(5)}
    assert len(ids) == 5


def test_get_of_an_unknown_job_is_none(store: SqlStore) -> None:
    submit(store, "other")
    assert store.jobs.get("00000000-0000-0000-0000-000000000000") is None


# --- claim ------------------------------------------------------------------------------------


def test_claim_takes_higher_priority_first_then_fifo(store: SqlStore) -> None:
    for name, priority in [("a", 0), ("b", 0), ("c", 5), ("d", -1), ("e", 5), ("f", 0)]:
        submit(store, name, priority=priority)

    assert names(store.jobs.claim(10, "n")) == ["c", "e", "a", "b", "f", "d"]


def test_claim_one_at_a_time_follows_the_same_order(store: SqlStore) -> None:
    for name, priority in [("a", 0), ("b", 2), ("c", 0), ("d", 2)]:
        submit(store, name, priority=priority)

    order = [names(store.jobs.claim(1, "n")) for _ in range(5)]

    assert order == [["b"], ["d"], ["a"], ["c"], []]


def test_claim_respects_the_limit(store: SqlStore) -> None:
    for i in range(5):
        submit(store, f"j{i}")

    assert store.jobs.claim(0, "n") == []
    assert store.jobs.claim(-1, "n") == []
    assert store.jobs.listing(JobQuery(None)).counts[Category.PENDING] == 5
    assert names(store.jobs.claim(2, "n")) == ["j0", "j1"]
    assert names(store.jobs.claim(10, "n")) == ["j2", "j3", "j4"]
    assert store.jobs.claim(10, "n") == []


def test_claim_stops_after_the_first_main_loop_job(store: SqlStore) -> None:
    submit(store, "bg1")
    submit(store, "main1", mode=Mode.MAIN_LOOP)
    submit(store, "bg2", mode=Mode.RUNSPACE)
    submit(store, "main2", mode=Mode.MAIN_LOOP)
    submit(store, "main3", mode=Mode.MAIN_LOOP)
    submit(store, "bg3")

    claim = store.jobs.claim
    assert names(claim(10, "n", barrier=Mode.MAIN_LOOP)) == ["bg1", "main1"]
    assert names(claim(10, "n", barrier=Mode.MAIN_LOOP)) == ["bg2", "main2"]
    assert names(claim(10, "n", barrier=Mode.MAIN_LOOP)) == ["main3"]
    listing = store.jobs.listing(JobQuery(None))
    assert names(listing.by_category[Category.PENDING]) == ["bg3"]


def test_claim_without_a_barrier_passes_main_loop_jobs(store: SqlStore) -> None:
    submit(store, "main1", mode=Mode.MAIN_LOOP)
    submit(store, "main2", mode=Mode.MAIN_LOOP)
    submit(store, "bg")

    assert names(store.jobs.claim(10, "n")) == ["main1", "main2", "bg"]


def test_record_claims_a_slot_for_each_job_it_finishes(store: SqlStore) -> None:
    for i in range(3):
        submit(store, f"r{i}")
    running = store.jobs.claim(3, "n")
    for i in range(6):
        submit(store, f"q{i}")
    finishes = [Finish(job.job_id, Outcome(Status.COMPLETED, 0)) for job in running[:2]]

    claimed = store.jobs.record_and_claim(ClaimOrder(free=1, node="n"), finishes=finishes)

    assert names(claimed) == ["q0", "q1", "q2"]
    listing = store.jobs.listing(JobQuery(None))
    assert names(listing.by_category[Category.RUNNING]) == ["q2", "q1", "q0", "r2"]
    assert listing.counts[Category.COMPLETED] == 2


def test_claim_marks_jobs_running_on_the_node(store: SqlStore, clock: FakeClock) -> None:
    job = submit(store, "a")
    submitted_at = clock.now()
    clock.advance(12.5)

    [claimed] = store.jobs.claim(5, "node-a")

    assert claimed.job_id == job.job_id
    assert claimed.status is Status.RUNNING
    assert claimed.started_at == submitted_at + 12.5
    assert claimed.submitted_at == submitted_at
    assert (claimed.attempt, claimed.node) == (1, "node-a")
    assert current(store, job) == claimed


def _claim_until_empty(
    jobs: JobStore, node: str, limit: int, barrier: Mode | None, start: threading.Barrier
) -> list[str]:
    start.wait()
    claimed: list[str] = []
    while batch := jobs.claim(limit, node, barrier):
        claimed.extend(job.job_id for job in batch)
    return claimed


def claim_concurrently(
    store: SqlStore, clock: FakeClock, shared: bool, barrier: Mode | None = None
) -> dict[str, list[str]]:
    """Job ids that each of four threads claimed (in its order) until the queue was empty.

    The threads share ``store`` or each open their own, like engines in separate processes.
    """
    threads = 4
    start = threading.Barrier(threads, timeout=30)
    with ExitStack() as stack:
        stores = [store] * threads
        if not shared:
            stores = [
                stack.enter_context(closing(SqlStore.open(store.db.url, clock))) for _ in stores
            ]
        with ThreadPoolExecutor(threads) as pool:
            futures = {
                f"node-{i}": pool.submit(
                    _claim_until_empty, s.jobs, f"node-{i}", i + 1, barrier, start
                )
                for i, s in enumerate(stores)
            }
            return {node: future.result(timeout=60) for node, future in futures.items()}


def assert_each_job_claimed_once(
    store: SqlStore, claimed: dict[str, list[str]], ids: list[str]
) -> None:
    every_claim = [job_id for node_ids in claimed.values() for job_id in node_ids]
    assert len(every_claim) == len(set(every_claim)), "a job was claimed twice"
    assert sorted(every_claim) == sorted(ids), "a job was never claimed"
    for node, node_ids in claimed.items():
        for job_id in node_ids:
            job = store.jobs.get(job_id)
            assert job is not None
            assert (job.status, job.node, job.attempt) == (Status.RUNNING, node, 1)
    assert not store.jobs.has_pending()


SHARING = pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])


@SHARING
def test_concurrent_claims_take_every_job_exactly_once(
    store: SqlStore, clock: FakeClock, shared: bool
) -> None:
    ids = [submit(store, f"j{i}").job_id for i in range(200)]

    claimed = claim_concurrently(store, clock, shared)

    assert_each_job_claimed_once(store, claimed, ids)
    position = {job_id: i for i, job_id in enumerate(ids)}
    for node_ids in claimed.values():
        # Each claimer takes from the head of the queue, so its own claims stay in FIFO order.
        assert node_ids == sorted(node_ids, key=position.__getitem__)


@SHARING
def test_concurrent_claims_up_to_a_barrier_take_every_job_exactly_once(
    store: SqlStore, clock: FakeClock, shared: bool
) -> None:
    # A claim that stops at a MainLoop job leaves some rows it looked at pending.
    modes = [Mode.MAIN_LOOP if i % 5 == 0 else Mode.BACKGROUND_JOB for i in range(200)]
    ids = [submit(store, f"j{i}", mode=mode).job_id for i, mode in enumerate(modes)]

    claimed = claim_concurrently(store, clock, shared, barrier=Mode.MAIN_LOOP)

    assert_each_job_claimed_once(store, claimed, ids)


# --- output -----------------------------------------------------------------------------------


def stored_chunks(store: SqlStore, job_id: str) -> list[tuple[int, int]]:
    """(start, length) of each stored row of a job's output."""
    query = (
        select(job_output.c.start, job_output.c.data)
        .where(job_output.c.job_id == job_id)
        .order_by(job_output.c.start)
    )
    with store.db.read() as conn:
        return [(start, len(data)) for start, data in conn.execute(query)]


def write_output(store: SqlStore, job_id: str, data: bytes, sizes: list[int]) -> None:
    """Record ``data`` as consecutive chunks of the given sizes, one record() per chunk."""
    pos = 0
    for size in sizes:
        store.jobs.record(chunks=[OutputChunk(job_id, pos, data[pos : pos + size])])
        pos += size
    assert pos == len(data)


def test_record_splits_chunks_longer_than_chunk_bytes(store: SqlStore) -> None:
    job = submit(store, "a")
    data = random.Random(1).randbytes(2 * C + C // 2 + 10)

    write_output(store, job.job_id, data, [2 * C + C // 2, 10])

    assert stored_chunks(store, job.job_id) == [
        (0, C),
        (C, C),
        (2 * C, C // 2),
        (2 * C + C // 2, 10),
    ]
    assert store.jobs.read_output(job.job_id, 0, len(data) + 1) == data


def test_record_several_chunks_in_one_call(store: SqlStore) -> None:
    a, b = submit(store, "a"), submit(store, "b")

    store.jobs.record(
        chunks=[
            OutputChunk(a.job_id, 0, b"hello "),
            OutputChunk(b.job_id, 0, b"other"),
            OutputChunk(a.job_id, 6, b"world"),
        ]
    )

    assert store.jobs.read_output(a.job_id, 0, 100) == b"hello world"
    assert store.jobs.read_output(b.job_id, 0, 100) == b"other"


def _interesting_offsets(boundaries: list[int], total: int) -> list[int]:
    offsets = {0, 1, total - 1, total, total + 1, total + C, total + 3 * C}
    for b in boundaries:
        offsets.update({b - 1, b, b + 1})
    return sorted(o for o in offsets if o >= 0)


def test_read_output_returns_exactly_the_requested_bytes(store: SqlStore) -> None:
    job = submit(store, "a")
    sizes = [2 * C + 100, 10, 1, C + 500, C]
    data = random.Random(2).randbytes(sum(sizes))
    write_output(store, job.job_id, data, sizes)
    boundaries = [start for start, _ in stored_chunks(store, job.job_id)]
    assert boundaries == [
        0,
        C,
        2 * C,
        2 * C + 100,
        2 * C + 110,
        2 * C + 111,
        3 * C + 111,
        3 * C + 611,
    ]
    limits = [0, 1, 5, C - 1, C, C + 1, 2 * C + 7, len(data) + 1]

    for offset in _interesting_offsets(boundaries, len(data)):
        for limit in limits:
            got = store.jobs.read_output(job.job_id, offset, limit)
            assert got == data[offset : offset + limit], (offset, limit)


def test_read_output_of_a_job_without_output_is_empty(store: SqlStore) -> None:
    job = submit(store, "a")
    submit_other = submit(store, "b")
    store.jobs.record(chunks=[OutputChunk(submit_other.job_id, 0, b"not mine")])

    assert store.jobs.read_output(job.job_id, 0, 1000) == b""


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sizes=st.lists(st.integers(1, 3 * C), min_size=1, max_size=5),
    offset=st.integers(0, 16 * C),
    limit=st.integers(0, 5 * C),
)
def test_read_output_matches_slicing(
    store: SqlStore, sizes: list[int], offset: int, limit: int
) -> None:
    job = submit(store, "a")
    data = random.Random(sum(sizes)).randbytes(sum(sizes))
    write_output(store, job.job_id, data, sizes)

    assert store.jobs.read_output(job.job_id, offset, limit) == data[offset : offset + limit]


def test_record_progress_sets_output_size_and_dropped(store: SqlStore) -> None:
    a, b = submit(store, "a"), submit(store, "b")

    store.jobs.record(progress=[OutputProgress(a.job_id, 1234, 0), OutputProgress(b.job_id, 9, 77)])

    assert (current(store, a).output_size, current(store, a).output_dropped) == (1234, 0)
    assert (current(store, b).output_size, current(store, b).output_dropped) == (9, 77)


# --- finishing, stopping, cancelling, deleting ------------------------------------------------


def test_record_finishes_running_and_stopping_jobs(store: SqlStore, clock: FakeClock) -> None:
    running, stopping = submit(store, "run"), submit(store, "stop")
    claim_all(store, 2)
    assert store.jobs.request_stop(stopping.job_id)
    clock.advance(3)

    store.jobs.record(
        finishes=[
            Finish(running.job_id, Outcome(Status.FAILED, 2)),
            Finish(stopping.job_id, Outcome(Status.STOPPED, -15)),
        ]
    )

    for job, status, code in [(running, Status.FAILED, 2), (stopping, Status.STOPPED, -15)]:
        done = current(store, job)
        assert (done.status, done.exit_code, done.completed_at) == (status, code, clock.now())


def test_record_does_not_finish_a_pending_job(store: SqlStore) -> None:
    job = submit(store, "a")

    finish(store, job, Status.COMPLETED, 0)

    assert current(store, job) == job


def test_record_does_not_overwrite_a_finished_job(store: SqlStore, clock: FakeClock) -> None:
    job = submit(store, "a")
    claim_all(store, 1)
    finish(store, job, Status.COMPLETED, 0)
    done = current(store, job)
    clock.advance(60)

    finish(store, job, Status.FAILED, 1)
    finish(store, job, Status.INTERRUPTED)

    assert current(store, job) == done
    assert (done.status, done.exit_code) == (Status.COMPLETED, 0)


def test_request_stop_only_stops_running_jobs_that_can_stop(store: SqlStore) -> None:
    background = submit(store, "bg")
    main = submit(store, "main", mode=Mode.MAIN_LOOP)
    claim_all(store, 2)
    finished = submit(store, "finished")
    claim_all(store, 1)
    finish(store, finished, Status.COMPLETED, 0)
    pending = submit(store, "pending")

    assert store.jobs.request_stop(background.job_id)
    assert current(store, background).status is Status.STOPPING
    assert not store.jobs.request_stop(background.job_id), "already stopping"
    assert not store.jobs.request_stop(main.job_id)
    assert current(store, main).status is Status.RUNNING
    assert not store.jobs.request_stop(pending.job_id)
    assert current(store, pending).status is Status.PENDING
    assert not store.jobs.request_stop(finished.job_id)
    assert current(store, finished).status is Status.COMPLETED
    assert not store.jobs.request_stop("no-such-job")


def test_cancel_only_cancels_pending_jobs(store: SqlStore, clock: FakeClock) -> None:
    running = submit(store, "running")
    claim_all(store, 1)
    pending = submit(store, "pending")
    clock.advance(4)

    assert not store.jobs.cancel(running.job_id)
    assert current(store, running).status is Status.RUNNING
    assert store.jobs.cancel(pending.job_id)
    cancelled = current(store, pending)
    assert (cancelled.status, cancelled.completed_at) == (Status.CANCELLED, clock.now())
    assert not store.jobs.cancel(pending.job_id), "already cancelled"
    assert not store.jobs.cancel("no-such-job")
    assert store.jobs.claim(10, "n") == []


def test_delete_removes_a_finished_job_and_only_its_output(store: SqlStore) -> None:
    done, kept = submit(store, "done"), submit(store, "kept")
    claim_all(store, 2)
    store.jobs.record(
        chunks=[OutputChunk(done.job_id, 0, b"x" * (C + 1)), OutputChunk(kept.job_id, 0, b"keep")],
        finishes=[Finish(done.job_id, Outcome(Status.COMPLETED, 0))],
    )

    assert store.jobs.delete(done.job_id)

    assert store.jobs.get(done.job_id) is None
    assert stored_chunks(store, done.job_id) == []
    assert store.jobs.read_output(kept.job_id, 0, 100) == b"keep"
    assert not store.jobs.delete(done.job_id), "already gone"


def test_delete_refuses_unfinished_jobs(store: SqlStore) -> None:
    running = submit(store, "running")
    claim_all(store, 1)
    stopping = submit(store, "stopping")
    claim_all(store, 1)
    store.jobs.request_stop(stopping.job_id)
    pending = submit(store, "pending")
    store.jobs.record(chunks=[OutputChunk(running.job_id, 0, b"out")])

    for job in (running, stopping, pending):
        assert not store.jobs.delete(job.job_id)
        assert store.jobs.get(job.job_id) is not None
    assert store.jobs.read_output(running.job_id, 0, 10) == b"out"
    assert not store.jobs.delete("no-such-job")


def test_cancelled_jobs_can_be_deleted(store: SqlStore) -> None:
    job = submit(store, "a")
    store.jobs.cancel(job.job_id)

    assert store.jobs.delete(job.job_id)
    assert store.jobs.get(job.job_id) is None


# --- per-node views ---------------------------------------------------------------------------


def test_stopping_on_and_unfinished_on_filter_by_node(store: SqlStore) -> None:
    a1, a2, a3 = submit(store, "a1"), submit(store, "a2"), submit(store, "a3")
    claim_all(store, 3, node="node-a")
    b1, b2 = submit(store, "b1"), submit(store, "b2")
    claim_all(store, 2, node="node-b")
    submit(store, "pending")
    store.jobs.request_stop(a2.job_id)
    store.jobs.request_stop(b2.job_id)
    finish(store, a3, Status.COMPLETED, 0)

    assert store.jobs.stopping_on("node-a") == [a2.job_id]
    assert store.jobs.stopping_on("node-b") == [b2.job_id]
    assert store.jobs.stopping_on("node-c") == []
    assert names(store.jobs.unfinished_on("node-a")) == ["a1", "a2"]
    assert names(store.jobs.unfinished_on("node-b")) == ["b1", "b2"]
    assert [j.status for j in store.jobs.unfinished_on("node-b")] == [
        Status.RUNNING,
        Status.STOPPING,
    ]
    assert store.jobs.unfinished_on("node-c") == []
    assert b1.job_id in {j.job_id for j in store.jobs.unfinished_on("node-b")}
    assert a1.job_id not in store.jobs.stopping_on("node-a")


# --- listing ----------------------------------------------------------------------------------


@pytest.fixture
def history(store: SqlStore, clock: FakeClock) -> SqlStore:
    """Jobs of alice and bob in every category, finished in an order unlike submission's.

    pending: p1 p2(bob) p3; running: r1 r2(bob, stopping) r3;
    completed: c1 c2(bob) c3 c4 x(cancelled).
    """
    started = {}
    for name, user in [("r1", "alice"), ("r2", "bob"), ("r3", "alice"), ("c1", "alice")]:
        started[name] = submit(store, name, user)
    for name, user in [("c2", "bob"), ("c3", "alice"), ("c4", "alice")]:
        started[name] = submit(store, name, user)
    claim_all(store, 7)
    for name in ["c3", "c1", "c4", "c2"]:
        clock.advance(1)
        finish(store, started[name], Status.COMPLETED if name != "c2" else Status.FAILED, 0)
    store.jobs.request_stop(started["r2"].job_id)
    for name, user in [("p1", "alice"), ("p2", "bob"), ("p3", "alice"), ("x", "alice")]:
        job = submit(store, name, user)
    store.jobs.cancel(job.job_id)
    return store


def listed(store: SqlStore, query: JobQuery) -> dict[Category, list[str]]:
    return {cat: names(jobs) for cat, jobs in store.jobs.listing(query).by_category.items()}


def test_listing_of_every_user(history: SqlStore) -> None:
    listing = history.jobs.listing(JobQuery(None))

    assert listing.counts == {Category.PENDING: 3, Category.RUNNING: 3, Category.COMPLETED: 5}
    assert listed(history, JobQuery(None)) == {
        Category.PENDING: ["p1", "p2", "p3"],
        Category.RUNNING: ["r3", "r2", "r1"],
        Category.COMPLETED: ["x", "c4", "c3", "c2", "c1"],
    }


@pytest.mark.parametrize(
    ("user_id", "counts", "expected"),
    [
        ("alice", (2, 2, 4), (["p1", "p3"], ["r3", "r1"], ["x", "c4", "c3", "c1"])),
        ("bob", (1, 1, 1), (["p2"], ["r2"], ["c2"])),
        ("carol", (0, 0, 0), ([], [], [])),
    ],
)
def test_listing_of_one_user(
    history: SqlStore,
    user_id: str,
    counts: tuple[int, int, int],
    expected: tuple[list[str], list[str], list[str]],
) -> None:
    categories = [Category.PENDING, Category.RUNNING, Category.COMPLETED]

    listing = history.jobs.listing(JobQuery(user_id))

    assert listing.counts == dict(zip(categories, counts, strict=True))
    assert listed(history, JobQuery(user_id)) == dict(zip(categories, expected, strict=True))
    every_job = [job for jobs in listing.by_category.values() for job in jobs]
    assert all(job.user_id == user_id for job in every_job)


def test_listing_limit_caps_the_completed_list_but_not_the_counts(history: SqlStore) -> None:
    listing = history.jobs.listing(JobQuery(None, limit=2))

    assert listing.counts == {Category.PENDING: 3, Category.RUNNING: 3, Category.COMPLETED: 5}
    assert listed(history, JobQuery(None, limit=2)) == {
        Category.PENDING: ["p1", "p2", "p3"],
        Category.RUNNING: ["r3", "r2", "r1"],
        Category.COMPLETED: ["x", "c4"],
    }
    assert listed(history, JobQuery("alice", limit=1)) == {
        Category.PENDING: ["p1", "p3"],
        Category.RUNNING: ["r3", "r1"],
        Category.COMPLETED: ["x"],
    }


def test_the_active_limit_caps_the_pending_and_running_lists(history: SqlStore) -> None:
    assert listed(history, JobQuery(None, limit=1, active_limit=2)) == {
        Category.PENDING: ["p1", "p2"],
        Category.RUNNING: ["r3", "r2"],
        Category.COMPLETED: ["x"],
    }


def test_listing_shows_only_the_asked_categories_but_counts_all(history: SqlStore) -> None:
    query = JobQuery(None, categories=frozenset({Category.RUNNING}))

    listing = history.jobs.listing(query)

    assert listed(history, query) == {Category.RUNNING: ["r3", "r2", "r1"]}
    assert listing.counts == {Category.PENDING: 3, Category.RUNNING: 3, Category.COMPLETED: 5}


def test_listing_returns_whole_jobs(history: SqlStore) -> None:
    listing = history.jobs.listing(JobQuery("bob"))

    for jobs in listing.by_category.values():
        for job in jobs:
            assert job == history.jobs.get(job.job_id)
    [stopping] = listing.by_category[Category.RUNNING]
    assert stopping.status is Status.STOPPING


# --- runnable work ----------------------------------------------------------------------------


def test_has_pending_reflects_the_queue(store: SqlStore) -> None:
    assert not store.jobs.has_pending()
    a = submit(store, "a")
    assert store.jobs.has_pending()
    claim_all(store, 1)
    assert not store.jobs.has_pending()
    b = submit(store, "b")
    assert store.jobs.has_pending()
    store.jobs.cancel(b.job_id)
    assert not store.jobs.has_pending()
    assert current(store, a).status is Status.RUNNING


def completed_count(store: SqlStore, user_id: str | None) -> int:
    return store.jobs.listing(JobQuery(user_id)).counts[Category.COMPLETED]


def test_finished_counts_follow_finish_cancel_and_delete(store: SqlStore) -> None:
    a1, a2, b1 = submit(store, "a1"), submit(store, "a2"), submit(store, "b1", "bob")
    cancelled = submit(store, "a3")
    claim_all(store, 3)
    finish(store, a1, Status.COMPLETED, 0)
    finish(store, b1, Status.FAILED, 1)
    store.jobs.cancel(cancelled.job_id)

    assert (completed_count(store, "alice"), completed_count(store, "bob")) == (2, 1)
    assert completed_count(store, None) == 3

    finish(store, a1, Status.FAILED, 1)  # not running any more: changes nothing
    assert not store.jobs.cancel(cancelled.job_id)
    assert completed_count(store, None) == 3

    assert store.jobs.delete(a1.job_id)
    assert not store.jobs.delete(a2.job_id)  # still running: kept, not counted
    assert (completed_count(store, "alice"), completed_count(store, "bob")) == (1, 1)
    finish(store, a2, Status.STOPPED)
    assert completed_count(store, "alice") == 2
    assert completed_count(store, "carol") == 0


def test_get_many_returns_the_existing_jobs_by_id(store: SqlStore) -> None:
    spec = JobSpec(name="j", command="true", mode=Mode.BACKGROUND_JOB)
    first, second = store.jobs.submit("u", spec), store.jobs.submit("u", spec)
    unknown = "00000000-0000-4000-8000-000000000000"
    found = store.jobs.get_many([second.job_id, unknown, first.job_id])
    assert found == {first.job_id: store.jobs.get(first.job_id), second.job_id: second}
    assert store.jobs.get_many([]) == {}


def test_get_many_takes_more_ids_than_one_statement_may_bind(store: SqlStore) -> None:
    job = store.jobs.submit("u", JobSpec(name="j", command="true", mode=Mode.BACKGROUND_JOB))
    strays = [f"00000000-0000-4000-8000-{n:012d}" for n in range(40_000)]
    assert store.jobs.get_many([*strays, job.job_id]) == {job.job_id: job}
