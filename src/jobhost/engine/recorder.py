"""The recorder: one thread that moves running jobs' output, and their outcomes, into the store.

It drains every watched source each ``flush_seconds`` (or sooner when woken) and writes all
of it in one transaction, so output costs one commit per interval rather than one per line.
A job's outcome is written in the same transaction as the last of its output, and its note
(``[Job stopped by user]``) is appended there, so readers never see a finished job with
output still to come. When the store is full, a job that has ended gives up its output and
ends at once (see ``_end_without_output``) rather than wait for room that may never come.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from jobhost.engine.sources import OutputSource
from jobhost.errors import JobhostError, StoreFull
from jobhost.models import Job, Outcome, Status
from jobhost.store.claims import ClaimOrder
from jobhost.store.jobs import Finish, OutputChunk, OutputProgress
from jobhost.store.protocol import Recording

logger = logging.getLogger(__name__)

_READ_BYTES = 1024 * 1024
_BUDGET_PER_FLUSH = 4 * 1024 * 1024
# What finish_here reads of a job's remaining output on the caller's thread; a job with more
# is left to the recorder thread, so the caller (the dispatcher) is never held up for long.
_BUDGET_HERE = 256 * 1024
_RETRY_SECONDS = 0.5
# A job that printed nothing lately is read less often, doubling up to this: a thousand
# quiet jobs then cost a few thousand reads a second instead of one each per flush.
QUIET_READ_MAX_SECONDS = 0.4
OUTPUT_LOST_NOTE = "[Output lost: the disk is full]"


@dataclass(slots=True)
class _Watch:
    job_id: str
    source: OutputSource
    stored: int
    dropped: int
    ends_with_newline: bool = True
    pending: bytearray = field(default_factory=bytearray)
    pending_dropped: int = 0
    quiet_reads: int = 0
    next_read: float = 0.0


@dataclass(frozen=True, slots=True)
class FinishedHere:
    left: list[tuple[str, Outcome]]
    """The ends left to the recorder thread (``finish``)."""
    claimed: list[Job] | None
    """The jobs the claim took, or None if it was not made (nothing was written)."""


@dataclass(slots=True)
class _Finishing:
    job_id: str
    outcome: Outcome
    future: concurrent.futures.Future[None] | None


class Recorder:
    def __init__(self, jobs: Recording, cap_bytes: int, flush_seconds: float) -> None:
        self._jobs = jobs
        self._cap = cap_bytes
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        # Held while output is read and written, by the recorder thread or finish_here,
        # so that a job's output is never read by both at once.
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._watches: dict[str, _Watch] = {}
        self._finishing: list[_Finishing] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="jobhost-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is left, then stop the thread."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)

    def watch(
        self,
        job_id: str,
        source: OutputSource,
        stored: int = 0,
        dropped: int = 0,
        header: bytes = b"",
    ) -> None:
        """Start following a job's output; ``stored`` bytes of it are already in the store,
        and ``header`` comes before what ``source`` gives."""
        with self._lock:
            self._watches[job_id] = _Watch(
                job_id, source, stored, dropped, pending=bytearray(header)
            )

    def finish(self, job_id: str, outcome: Outcome) -> concurrent.futures.Future[None]:
        """Record the job's remaining output and its outcome; the future resolves once stored."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._finishing.append(_Finishing(job_id, outcome, future))
        self._wake.set()
        return future

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            closing = self._closing
            try:
                more = self._flush()
            except StoreFull:
                logger.warning("could not record output: the store is full", exc_info=True)
                self._end_without_output()
                self._wake.wait(_RETRY_SECONDS)
                continue
            except JobhostError:
                logger.warning("could not record output; retrying", exc_info=True)
                self._wake.wait(_RETRY_SECONDS)
                continue
            except Exception:
                logger.exception("recorder failed; retrying", extra={"action": "record"})
                self._wake.wait(_RETRY_SECONDS)
                continue
            if closing and not more:
                return

    def finish_here(
        self, ends: Sequence[tuple[str, Outcome]], claim: ClaimOrder | None = None
    ) -> FinishedHere:
        """Record these jobs' remaining output and outcomes now, on the calling thread, in one
        transaction with ``claim``; the ends it leaves to ``finish`` (too much output still
        to read, the recorder busy writing, or the store unavailable) are in the result.

        The dispatcher calls this for the jobs that ended since its last cycle: handing
        every end to the recorder thread and back cost two thread switches per job.
        """
        if not self._flushing.acquire(blocking=False):
            return FinishedHere(list(ends), None)
        try:
            with self._lock:
                watches = {
                    job_id: watch
                    for job_id, _ in ends
                    if (watch := self._watches.get(job_id)) is not None
                }
            finishing = [_Finishing(job_id, outcome, None) for job_id, outcome in ends]
            try:
                backlog, claimed = self._write(watches, finishing, _BUDGET_HERE, claim)
            except JobhostError:
                return FinishedHere(list(ends), None)  # the recorder thread retries them
            with self._lock:
                self._forget(watches.keys() - backlog)
        finally:
            self._flushing.release()
        return FinishedHere([end for end in ends if end[0] in backlog], claimed)

    def _flush(self) -> bool:
        with self._flushing:
            return self._flush_locked()

    def _flush_locked(self) -> bool:
        """One transaction's worth; True if output is still waiting (flush again at once)."""
        with self._lock:
            finishing = self._finishing
            self._finishing = []
            watches = dict(self._watches)
        try:
            backlog, _ = self._write(watches, finishing, _BUDGET_PER_FLUSH)
        except BaseException:
            with self._lock:
                self._finishing[:0] = finishing
            raise
        done = [item for item in finishing if item.job_id not in backlog]
        with self._lock:
            # A finishing job with more output than one flush takes stays for the next one.
            self._finishing[:0] = [item for item in finishing if item.job_id in backlog]
            self._forget(item.job_id for item in done)
        if backlog:
            self._wake.set()
        for item in done:
            if item.future is not None:
                item.future.set_result(None)
        return bool(backlog)

    def _end_without_output(self) -> None:
        """The store is full: end the jobs whose process has exited now, their output not
        stored (counted as dropped) and a note saying so, rather than leave them Running
        until space is freed. Running jobs keep their output and are retried as before."""
        with self._flushing:
            with self._lock:
                finishing, self._finishing = self._finishing, []
                watches = {
                    item.job_id: watch
                    for item in finishing
                    if (watch := self._watches.get(item.job_id)) is not None
                }
            # Their output is given up from here: should even these ends not fit, the ends
            # retried later are these, not the ones the jobs would have had.
            for item in finishing:
                item.outcome = _output_lost(item.outcome)
            try:
                self._record_lost(watches, finishing)
            except JobhostError:
                with self._lock:
                    self._finishing[:0] = finishing
                logger.warning("could not record the ends of jobs whose output was lost")
                return
            with self._lock:
                self._forget(watches)
        for item in finishing:
            if item.future is not None:
                item.future.set_result(None)

    def _record_lost(self, watches: dict[str, _Watch], finishing: list[_Finishing]) -> None:
        """Store the outcomes and notes of jobs whose output is given up; if not even the
        notes fit, the outcomes alone."""
        for watch in watches.values():
            watch.pending_dropped += len(watch.pending) + watch.source.discard()
            watch.pending.clear()
        ends = [Finish(item.job_id, item.outcome) for item in finishing]
        chunks: list[OutputChunk] = []
        progress: list[OutputProgress] = []
        for end in ends:
            if (kept := watches.get(end.job_id)) is not None:
                note = _note_bytes(kept, end.outcome)
                chunks.append(OutputChunk(kept.job_id, kept.stored, note))
                dropped = kept.dropped + kept.pending_dropped
                progress.append(OutputProgress(kept.job_id, kept.stored + len(note), dropped))
        try:
            self._jobs.record(chunks, progress, ends)
        except StoreFull:
            self._jobs.record(finishes=ends)

    def _forget(self, job_ids: Iterable[str]) -> None:
        """Stop following finished jobs (their output and outcome are stored); hold _lock."""
        for job_id in job_ids:
            watch = self._watches.pop(job_id, None)
            if watch is not None:
                watch.source.close()

    def _write(
        self,
        watches: dict[str, _Watch],
        finishing: list[_Finishing],
        budget: int,
        claim: ClaimOrder | None = None,
    ) -> tuple[set[str], list[Job]]:
        """Store one flush's worth of output, and the outcomes of the jobs whose output is
        all in, and make ``claim``; returns the ids of jobs with output still waiting, and
        the jobs claimed."""
        ending = {item.job_id for item in finishing}
        now = time.monotonic()
        # Only the jobs due for a read can have new output; the others are left alone.
        due = [w for w in watches.values() if w.job_id in ending or now >= w.next_read]
        backlog = {watch.job_id for watch in due if self._collect(watch, now, budget)}
        final = [item for item in finishing if item.job_id not in backlog]
        chunks: list[OutputChunk] = []
        progress: list[OutputProgress] = []
        notes = {item.job_id: _note_bytes(watches.get(item.job_id), item.outcome) for item in final}
        for watch in due:
            data = bytes(watch.pending) + notes.get(watch.job_id, b"")
            if data or watch.pending_dropped:
                chunks.append(OutputChunk(watch.job_id, watch.stored, data))
                progress.append(
                    OutputProgress(
                        watch.job_id,
                        watch.stored + len(data),
                        watch.dropped + watch.pending_dropped,
                    )
                )
        finishes = [Finish(item.job_id, item.outcome) for item in final]
        claimed = self._store(chunks, progress, finishes, claim)
        for chunk in chunks:
            _commit(watches[chunk.job_id], chunk.data)
        for watch in due:
            watch.source.release()
        return backlog, claimed

    def _store(
        self,
        chunks: list[OutputChunk],
        progress: list[OutputProgress],
        finishes: list[Finish],
        claim: ClaimOrder | None,
    ) -> list[Job]:
        """One commit: the output and outcomes, then, with ``claim``, the next jobs."""
        if claim is None:
            self._jobs.record(chunks, progress, finishes)
            return []
        return self._jobs.record_and_claim(claim, chunks, progress, finishes)

    def _collect(self, watch: _Watch, now: float, budget: int) -> bool:
        """Read up to ``budget`` bytes; True if the budget ran out (more may be waiting)."""
        full = budget
        while budget > 0:
            room = self._cap - watch.stored - len(watch.pending)
            if room <= 0:
                watch.pending_dropped += watch.source.discard()
                return False
            data = watch.source.read(min(_READ_BYTES, room, budget))
            if not data:
                self._note_quiet(watch, now, budget == full)
                return False
            watch.pending += data
            budget -= len(data)
        return True

    def _note_quiet(self, watch: _Watch, now: float, quiet: bool) -> None:
        """Schedule the next read: at the next flush after output, later after silence."""
        watch.quiet_reads = watch.quiet_reads + 1 if quiet else 0
        if watch.quiet_reads:
            pause = self._flush_seconds * 2 ** min(watch.quiet_reads, 8)
            watch.next_read = now + min(pause, QUIET_READ_MAX_SECONDS)


def _commit(watch: _Watch, data: bytes) -> None:
    watch.stored += len(data)
    watch.dropped += watch.pending_dropped
    watch.pending_dropped = 0
    watch.pending.clear()
    if data:
        watch.ends_with_newline = data.endswith(b"\n")


def _output_lost(outcome: Outcome) -> Outcome:
    """The outcome of a job whose output could not be stored: a job that completed has
    failed (its output is gone); another end keeps its status, and both notes. An outcome
    that says so already is kept as it is."""
    if outcome.note is not None and outcome.note.endswith(OUTPUT_LOST_NOTE):
        return outcome
    status = Status.FAILED if outcome.status is Status.COMPLETED else outcome.status
    note = OUTPUT_LOST_NOTE if outcome.note is None else f"{outcome.note}\n{OUTPUT_LOST_NOTE}"
    return Outcome(status, outcome.exit_code, note)


def _note_bytes(watch: _Watch | None, outcome: Outcome) -> bytes:
    lines = []
    if watch is not None and watch.dropped + watch.pending_dropped:
        lost = watch.dropped + watch.pending_dropped
        lines.append(f"[Output truncated: {lost} more bytes were written and not kept]")
    if outcome.note:
        lines.append(outcome.note)
    if not lines:
        return b""
    at_line_start = watch is None or (
        watch.pending.endswith(b"\n") if watch.pending else watch.ends_with_newline
    )
    text = ("" if at_line_start else "\n") + "\n".join(lines) + "\n"
    return text.encode()
