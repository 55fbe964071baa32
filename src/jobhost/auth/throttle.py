"""Login throttling: a few failures per user name, more per address, within a window.

Kept in memory: it protects one server process from password guessing. Checked before the
password is, so a throttled guesser learns nothing and costs no argon2 work.
"""

from __future__ import annotations

import collections
import math
import threading

from jobhost.clock import Clock
from jobhost.errors import TooManyRequests

WINDOW_SECONDS = 15 * 60
FAILURES_PER_USER = 5
FAILURES_PER_ADDRESS = 20
# Bounds the memory a flood of made-up user names can take; the oldest entries go first.
MAX_TRACKED = 10_000


class LoginThrottle:
    def __init__(
        self,
        clock: Clock,
        per_user: int = FAILURES_PER_USER,
        per_address: int = FAILURES_PER_ADDRESS,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._clock = clock
        self._limits = {"user": per_user, "address": per_address}
        self._window = window
        self._failures: collections.OrderedDict[tuple[str, str], list[float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        """Raise TooManyRequests while either the name or the address is over its limit."""
        now = self._clock.monotonic()
        with self._lock:
            waits = [
                self._wait(("user", username.lower()), now),
                self._wait(("address", address), now),
            ]
        wait = max(waits)
        if wait > 0:
            raise TooManyRequests(
                f"Too many failed logins; try again in {math.ceil(wait)} s", math.ceil(wait)
            )

    def failed(self, username: str, address: str) -> None:
        now = self._clock.monotonic()
        with self._lock:
            for key in (("user", username.lower()), ("address", address)):
                times = self._failures.pop(key, [])
                times.append(now)
                self._failures[key] = times[-self._limits[key[0]] :]
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username.lower()), None)

    def _wait(self, key: tuple[str, str], now: float) -> float:
        """Seconds until ``key`` may try again (0 if it may now)."""
        times = [t for t in self._failures.get(key, []) if now - t < self._window]
        if len(times) < self._limits[key[0]]:
            return 0.0
        return times[-self._limits[key[0]]] + self._window - now
