"""Retention: a thread of the engine deleting finished jobs older than
``JOBHOST_RETENTION_DAYS``, with their output and any run folder left of them.

A pass runs at start and then once a minute, never in the dispatcher's cycle. It deletes
in small batches (one short transaction each) with a pause between them, so that the
dispatcher's and the API's writes never wait long behind it, and reads not at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from jobhost.clock import Clock
from jobhost.errors import StoreUnavailable

logger = logging.getLogger(__name__)

DAY_SECONDS = 86400.0
BATCH_JOBS = 500
PAUSE_SECONDS = 0.05
INTERVAL_SECONDS = 60.0


class Purging(Protocol):
    def purge_finished(self, before: float, limit: int) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class RunFolders:
    """The engine's run folders: which job ids have one, and removing one."""

    ids: Callable[[], list[str]]
    remove: Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Pace:
    """How a pass goes: jobs per transaction, the pause between them, the time between passes."""

    batch: int = BATCH_JOBS
    pause: float = PAUSE_SECONDS
    interval: float = INTERVAL_SECONDS


class Retention:
    """Call ``start`` and ``stop``; ``purge_once`` runs one pass on the caller's thread."""

    def __init__(
        self,
        jobs: Purging,
        clock: Clock,
        days: float,
        folders: RunFolders | None = None,
        pace: Pace = Pace(),
    ) -> None:
        self.jobs = jobs
        self.clock = clock
        self.days = days
        self.folders = folders
        self.pace = pace
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """False for 0 days: everything is kept and no thread runs."""
        return self.days > 0

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jobhost-retention", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread, within one batch."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def purge_once(self) -> int:
        """Delete every job that finished more than ``days`` ago, batch by batch; how many."""
        if not self.enabled:
            return 0
        before = self.clock.now() - self.days * DAY_SECONDS
        # Read once a pass: run folders normally go when their job ends, so few are left.
        folders = set(self.folders.ids()) if self.folders is not None else set()
        total = 0
        while not self._stopping.is_set():
            purged = self.jobs.purge_finished(before, self.pace.batch)
            if not purged:
                break
            total += len(purged)
            self._remove_folders(folders.intersection(purged))
            self._stopping.wait(self.pace.pause)
        if total:
            logger.info(
                "retention deleted %d finished jobs older than %g days",
                total,
                self.days,
                extra={"action": "retention"},
            )
        return total

    def _remove_folders(self, job_ids: set[str]) -> None:
        if self.folders is not None:
            for job_id in job_ids:
                self.folders.remove(job_id)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.purge_once()
            except StoreUnavailable:
                pass  # logged by the store; the next pass tries again
            except Exception:
                logger.exception("retention pass failed", extra={"action": "retention"})
            self._stopping.wait(self.pace.interval)
