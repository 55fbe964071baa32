"""How the store's writes are faring, for ``/healthz``: writes held up behind the database
lock, or failing (the lock held elsewhere past the write budget, the disk full), make the
store degraded even while it still answers reads."""

from __future__ import annotations

import time

from jobhost.errors import StoreBusy, StoreFull, StoreUnavailable

STALLED_SECONDS = 2.0
"""A write holding the lock this long means the others queue behind it (a normal one takes
milliseconds)."""
FULL_MEMORY_SECONDS = 5.0
"""A write that failed for a full disk is reported this long even if others commit
meanwhile: a small update may fit where output cannot, and the answer should not flicker.
Other failures are over at the next commit."""


class WriteHealth:
    """Written by ``Database`` (under its write lock, on SQLite), read by ``/healthz``."""

    def __init__(self) -> None:
        self.began: float | None = None
        """When the write holding the lock began (SQLite only: PostgreSQL has no one lock)."""
        self.commits = 0
        self._failure: tuple[StoreUnavailable, float, int] | None = None

    def failed(self, error: StoreUnavailable) -> None:
        self._failure = (error, time.monotonic(), self.commits)

    def problem(self) -> str | None:
        """Why writes are not working now, or None."""
        now = time.monotonic()
        began = self.began
        if began is not None and now - began > STALLED_SECONDS:
            return f"writes have waited {now - began:.1f} s for the database lock"
        failure = self._failure
        if failure is None:
            return None
        error, at, commits = failure
        full = isinstance(error, StoreFull)
        if commits != self.commits and (not full or now - at > FULL_MEMORY_SECONDS):
            return None
        return f"a write failed {now - at:.1f} s ago: {_reason(error)}"


def _reason(error: StoreUnavailable) -> str:
    if isinstance(error, StoreFull):
        return "the disk is full"
    if isinstance(error, StoreBusy):
        return "the database lock stayed taken past the write budget (by another process?)"
    return "the store failed (see the server log)"
