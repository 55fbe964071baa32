"""The recorder: output cap, notes, and surviving a store that fails for a while."""

from __future__ import annotations

import time
from collections.abc import Sequence

from jobhost.engine.recorder import QUIET_READ_MAX_SECONDS, FinishedHere, Recorder
from jobhost.engine.sources import BufferSource
from jobhost.errors import StoreUnavailable
from jobhost.models import Job, JobSpec, Mode, Outcome, Status
from jobhost.store import SqlStore
from jobhost.store.claims import ClaimOrder
from jobhost.store.jobs import Finish, OutputChunk, OutputProgress
from jobhost.store.protocol import Recording


def _running_job(store: SqlStore) -> str:
    job_id = store.jobs.submit("u", JobSpec("cap", "x", Mode.RUNSPACE)).job_id
    store.jobs.claim(1, "n")
    return job_id


def test_output_past_the_cap_is_counted_not_kept_and_the_job_says_so(
    sqlite_store: SqlStore,
) -> None:
    job_id = _running_job(sqlite_store)
    recorder = Recorder(sqlite_store.jobs, cap_bytes=4096, flush_seconds=0.01)
    buffer = BufferSource()
    recorder.watch(job_id, buffer)
    recorder.start()
    for _ in range(100):
        buffer.write(b"y" * 1000)
    recorder.finish(job_id, Outcome(Status.COMPLETED, 0)).result(timeout=10)
    recorder.close()

    job = sqlite_store.jobs.get(job_id)
    assert job is not None
    assert job.status is Status.COMPLETED
    assert job.exit_code == 0
    assert job.output_dropped == 100_000 - 4096
    output = sqlite_store.jobs.read_output(job_id, 0, 1 << 20)
    assert output[:4096] == b"y" * 4096
    assert output[4096:] == b"\n[Output truncated: 95904 more bytes were written and not kept]\n"


class FlakyJobs:
    """The recorder's view of a real store (``Recording``), unavailable for its first few
    writes (raising ``error``)."""

    def __init__(
        self, inner: Recording, failures: int, error: type[StoreUnavailable] = StoreUnavailable
    ) -> None:
        self.inner = inner
        self.failures = failures
        self.error = error

    def record(
        self,
        chunks: Sequence[OutputChunk] = (),
        progress: Sequence[OutputProgress] = (),
        finishes: Sequence[Finish] = (),
    ) -> None:
        self._fail_at_first()
        self.inner.record(chunks, progress, finishes)

    def record_and_claim(
        self,
        order: ClaimOrder,
        chunks: Sequence[OutputChunk] = (),
        progress: Sequence[OutputProgress] = (),
        finishes: Sequence[Finish] = (),
    ) -> list[Job]:
        self._fail_at_first()
        return self.inner.record_and_claim(order, chunks, progress, finishes)

    def _fail_at_first(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise self.error()


def test_nothing_is_lost_while_the_store_is_briefly_unavailable(sqlite_store: SqlStore) -> None:
    job_id = _running_job(sqlite_store)
    flaky = FlakyJobs(sqlite_store.jobs, failures=2)
    recorder = Recorder(flaky, cap_bytes=1 << 20, flush_seconds=0.01)
    buffer = BufferSource()
    recorder.watch(job_id, buffer)
    recorder.start()
    buffer.write(b"first\n")
    time.sleep(0.05)
    buffer.write(b"second\n")
    recorder.finish(job_id, Outcome(Status.FAILED, 2, "[note]")).result(timeout=10)
    recorder.close()

    assert flaky.failures == 0
    job = sqlite_store.jobs.get(job_id)
    assert job is not None and job.status is Status.FAILED and job.exit_code == 2
    assert sqlite_store.jobs.read_output(job_id, 0, 1000) == b"first\nsecond\n[note]\n"


class CountingSource(BufferSource):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, limit: int) -> bytes:
        self.reads += 1
        return super().read(limit)


def test_a_quiet_job_is_read_less_often_but_its_output_is_never_lost(
    sqlite_store: SqlStore,
) -> None:
    job_id = _running_job(sqlite_store)
    recorder = Recorder(sqlite_store.jobs, cap_bytes=1 << 20, flush_seconds=0.01)
    source = CountingSource()
    recorder.watch(job_id, source)
    recorder.start()
    time.sleep(1.0)
    # Read at every flush that would be about 100 reads; backing off, a handful.
    assert source.reads < 20, source.reads
    source.write(b"late line\n")
    deadline = time.monotonic() + QUIET_READ_MAX_SECONDS + 2
    while sqlite_store.jobs.read_output(job_id, 0, 100) != b"late line\n":
        assert time.monotonic() < deadline, "quiet output was never stored"
        time.sleep(0.01)
    source.write(b"last words\n")  # written just before the end: read at once, not later
    recorder.finish(job_id, Outcome(Status.COMPLETED, 0)).result(timeout=10)
    recorder.close()
    assert sqlite_store.jobs.read_output(job_id, 0, 100) == b"late line\nlast words\n"


def _finished(store: SqlStore, job_id: str) -> tuple[Status, bytes]:
    job = store.jobs.get(job_id)
    assert job is not None
    return job.status, store.jobs.read_output(job_id, 0, 1 << 24)


def test_finish_here_records_small_ends_at_once_on_the_calling_thread(
    sqlite_store: SqlStore,
) -> None:
    recorder = Recorder(sqlite_store.jobs, cap_bytes=1 << 20, flush_seconds=60)  # never flushes
    ids = [_running_job(sqlite_store) for _ in range(3)]
    for n, job_id in enumerate(ids):
        buffer = BufferSource()
        recorder.watch(job_id, buffer)
        buffer.write(f"job {n}\n".encode())
    ends = [(job_id, Outcome(Status.COMPLETED, 0)) for job_id in ids[:2]]
    ends.append((ids[2], Outcome(Status.STOPPED, None, "[Job stopped by user]")))
    # The recorder thread was never started.
    assert recorder.finish_here(ends) == FinishedHere(left=[], claimed=[])
    assert _finished(sqlite_store, ids[0]) == (Status.COMPLETED, b"job 0\n")
    assert _finished(sqlite_store, ids[2]) == (Status.STOPPED, b"job 2\n[Job stopped by user]\n")


def test_finish_here_leaves_a_job_with_much_output_to_the_recorder_thread(
    sqlite_store: SqlStore,
) -> None:
    recorder = Recorder(sqlite_store.jobs, cap_bytes=1 << 24, flush_seconds=60)
    job_id = _running_job(sqlite_store)
    buffer = BufferSource(high_water=1 << 24)
    recorder.watch(job_id, buffer)
    data = bytes(range(256)) * 8192  # 2 MiB
    buffer.write(data)
    end = (job_id, Outcome(Status.COMPLETED, 0))
    assert recorder.finish_here([end]).left == [end]
    status, stored = _finished(sqlite_store, job_id)
    assert status is Status.RUNNING and data.startswith(stored) and len(stored) < len(data)
    recorder.start()
    recorder.finish(*end).result(timeout=10)
    recorder.close()
    assert _finished(sqlite_store, job_id) == (Status.COMPLETED, data)


def test_finish_here_leaves_everything_while_the_store_is_unavailable(
    sqlite_store: SqlStore,
) -> None:
    job_id = _running_job(sqlite_store)
    flaky = FlakyJobs(sqlite_store.jobs, failures=1)
    recorder = Recorder(flaky, cap_bytes=1 << 20, flush_seconds=0.01)
    buffer = BufferSource()
    recorder.watch(job_id, buffer)
    buffer.write(b"kept\n")
    end = (job_id, Outcome(Status.FAILED, 3))
    assert recorder.finish_here([end], ClaimOrder(1, "n")) == FinishedHere([end], None)
    recorder.start()
    recorder.finish(*end).result(timeout=10)
    recorder.close()
    assert _finished(sqlite_store, job_id) == (Status.FAILED, b"kept\n")


def test_finish_here_claims_the_freed_slots_in_the_same_transaction(sqlite_store: SqlStore) -> None:
    recorder = Recorder(sqlite_store.jobs, cap_bytes=1 << 24, flush_seconds=60)
    small, large = _running_job(sqlite_store), _running_job(sqlite_store)
    for job_id, size in [(small, 10), (large, 2 << 20)]:
        buffer = BufferSource(high_water=1 << 24)
        recorder.watch(job_id, buffer)
        buffer.write(b"x" * size)
    queued = [sqlite_store.jobs.submit("u", JobSpec(f"q{n}", "x", Mode.RUNSPACE)) for n in range(5)]
    ends = [(job_id, Outcome(Status.COMPLETED, 0)) for job_id in (small, large)]

    here = recorder.finish_here(ends, ClaimOrder(free=1, node="n"))

    # One slot was free, and finishing `small` freed another; `large` still holds its own
    # (its output is left to the recorder thread).
    assert here.left == [ends[1]]
    assert here.claimed is not None
    assert [job.job_id for job in here.claimed] == [job.job_id for job in queued[:2]]
    assert all(job.status is Status.RUNNING for job in here.claimed)
    assert _finished(sqlite_store, small)[0] is Status.COMPLETED
