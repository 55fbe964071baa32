"""The dispatcher's alarm: when the earliest Scheduled job is due, so that its sleep ends
then and the jobs due become Pending, with no scan of Scheduled jobs on every cycle.

The time is read from the store (one indexed query) only when something may have moved it:
a job made Scheduled through this process's store, the alarm going off, or, for writes by
another process sharing the store, RECHECK_SECONDS passing.
"""

from __future__ import annotations

import logging

from jobhost.clock import Clock
from jobhost.errors import JobhostError
from jobhost.store.protocol import JobStore

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 10.0
STORE_RETRY_SECONDS = 0.5
"""After the store refused, the alarm goes off again this much later (not at once: the
dispatcher would spin)."""


class Alarm:
    def __init__(self, jobs: JobStore, clock: Clock) -> None:
        self._jobs = jobs
        self._clock = clock
        self._due: float | None = None
        self._changes_seen = -1
        self._next_check = 0.0

    def seconds_left(self) -> float | None:
        """Until the earliest Scheduled job is due (0 or less: it is), None if none is."""
        return None if self._due is None else self._due - self._clock.now()

    def refresh(self) -> None:
        """Re-read the time if a job may have been Scheduled since it was last read (if the
        store refuses, at the next call)."""
        try:
            self._refresh()
        except JobhostError as exc:
            logger.warning("could not read when the next scheduled job is due: %s", exc)
            self._postpone()

    def _refresh(self) -> None:
        changes = self._jobs.schedule_changes
        if changes != self._changes_seen or self._clock.monotonic() >= self._next_check:
            self._read(changes)

    def promote_due(self) -> int:
        """Make the jobs that are due Pending, if any are; how many were. A store that
        refuses is tried again next cycle: the rest of the cycle must go on meanwhile."""
        try:
            self._refresh()
            if self._due is None or self._clock.now() < self._due:
                return 0
            changes = self._jobs.schedule_changes
            promoted = self._jobs.promote_due(self._clock.now())
            self._read(changes)
        except JobhostError as exc:
            logger.warning("could not start the scheduled jobs due: %s", exc)
            self._postpone()
            return 0
        if promoted:
            logger.info("%d scheduled jobs are due", promoted, extra={"action": "schedule"})
        return promoted

    def _postpone(self) -> None:
        # A read that failed left _changes_seen as it was, so the next call reads again.
        self._due = self._clock.now() + STORE_RETRY_SECONDS

    def _read(self, changes: int) -> None:
        # ``changes`` was read before the query: a job Scheduled meanwhile is read again.
        self._due = self._jobs.next_run_at()
        self._changes_seen = changes
        self._next_check = self._clock.monotonic() + RECHECK_SECONDS
