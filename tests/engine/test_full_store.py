"""A store that cannot grow (a full disk, see tests/full_disk.py): a job whose process has
exited still ends, Failed, saying its output was lost, and the store reports that it cannot
write."""

from __future__ import annotations

import sys
import time

import pytest

from jobhost.engine.recorder import OUTPUT_LOST_NOTE, Recorder
from jobhost.engine.sources import BufferSource
from jobhost.errors import StoreFull
from jobhost.models import JobSpec, Mode, Outcome, Status
from jobhost.store import SqlStore
from tests.engine.conftest import Harness
from tests.engine.test_recorder import FlakyJobs
from tests.full_disk import cap_the_file

# Room for a note line and an outcome, not for a megabyte of output.
_SPARE_PAGES = 8


def _running_job(store: SqlStore) -> str:
    job_id = store.jobs.submit("u", JobSpec("full", "x", Mode.RUNSPACE)).job_id
    store.jobs.claim(1, "n")
    return job_id


def test_a_job_that_ends_while_its_output_cannot_be_stored_ends_failed(
    sqlite_store: SqlStore,
) -> None:
    job_id = _running_job(sqlite_store)
    recorder = Recorder(sqlite_store.jobs, cap_bytes=64 << 20, flush_seconds=0.01)
    buffer = BufferSource()
    recorder.watch(job_id, buffer)
    recorder.start()
    try:
        buffer.write(b"kept\n")
        deadline = time.monotonic() + 10
        while sqlite_store.jobs.read_output(job_id, 0, 100) != b"kept\n":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        cap_the_file(sqlite_store, _SPARE_PAGES)
        buffer.write(b"x" * 2_000_000)
        recorder.finish(job_id, Outcome(Status.COMPLETED, 0)).result(timeout=10)
    finally:
        recorder.close()
    job = sqlite_store.jobs.get(job_id)
    assert job is not None
    assert (job.status, job.exit_code) == (Status.FAILED, 0)
    assert job.output_dropped == 2_000_000
    output = sqlite_store.jobs.read_output(job_id, 0, 1 << 22)
    assert output == (
        b"kept\n[Output truncated: 2000000 more bytes were written and not kept]\n"
        + OUTPUT_LOST_NOTE.encode()
        + b"\n"
    )
    assert "disk is full" in (sqlite_store.db.health.problem() or "")


@pytest.mark.timeout(30)
def test_a_job_that_filled_the_store_ends_once_its_process_has_exited(
    harness: Harness,
) -> None:
    printer = "import sys\nfor _ in range(40): sys.stdout.write('y' * 65536 + '\\n')"
    job_id = harness.submit(f'{sys.executable} -c "{printer}"')

    async def fill_the_disk_first() -> None:
        cap_the_file(harness.store, _SPARE_PAGES)

    harness.run(fill_the_disk_first)  # returns once the job has ended
    job = harness.job(job_id)
    assert job.status is Status.FAILED
    assert job.exit_code == 0
    assert job.output_dropped > 0
    assert "disk is full" in (harness.store.db.health.problem() or "")


@pytest.mark.parametrize("rounds", [1, 2])
def test_a_job_whose_end_did_not_fit_either_still_ends_failed_once_there_is_room(
    sqlite_store: SqlStore, rounds: int
) -> None:
    """Found on a real full tmpfs (tests/faults/test_disk_full.py): when not even the end
    of a job whose output was given up fitted, the end stored once space came back was the
    job's own (Completed), with its lost output counted as if truncated by the cap."""
    job_id = _running_job(sqlite_store)
    # The flush, the end with its note, and the end alone all meet a full disk, ``rounds``
    # times over.
    full = FlakyJobs(sqlite_store.jobs, failures=3 * rounds, error=StoreFull)
    recorder = Recorder(full, cap_bytes=64 << 20, flush_seconds=0.01)
    buffer = BufferSource()
    recorder.watch(job_id, buffer)
    buffer.write(b"lost\n")
    finished = recorder.finish(job_id, Outcome(Status.COMPLETED, 0))
    recorder.start()
    try:
        finished.result(timeout=10)
    finally:
        recorder.close()
    assert full.failures == 0
    job = sqlite_store.jobs.get(job_id)
    assert job is not None
    assert (job.status, job.exit_code, job.output_dropped) == (Status.FAILED, 0, 5)
    assert sqlite_store.jobs.read_output(job_id, 0, 1000) == (
        b"[Output truncated: 5 more bytes were written and not kept]\n"
        + OUTPUT_LOST_NOTE.encode()
        + b"\n"
    )
