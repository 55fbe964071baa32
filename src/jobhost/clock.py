"""Time behind a seam, so tests can replace it."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (what the store records)."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals (timeouts, grace periods)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
