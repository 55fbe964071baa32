"""Failure throttling: a few failures per key within a window, then 429 until it passes.

Kept in memory: it protects one server process from guessing. The login throttle counts per
user name and per address and is checked before the password is, so a throttled guesser
learns nothing and costs no argon2 work. The bad-key throttle counts invalid API keys per
peer (see ``deps.identify``).
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Mapping

from jobhost.clock import Clock
from jobhost.errors import TooManyRequests

WINDOW_SECONDS = 15 * 60
FAILURES_PER_USER = 5
FAILURES_PER_ADDRESS = 20
BAD_KEYS_PER_PEER = 20
BAD_KEY_WINDOW_SECONDS = 60
# Bounds the memory a flood of made-up user names can take; the oldest entries go first.
MAX_TRACKED = 10_000

Key = tuple[str, str]
"""A kind (with its own limit) and a name: ``("user", "erin")``, ``("peer", "10.0.0.1")``."""


class FailureThrottle:
    """The recent failures of each key; a key at its kind's limit waits out the window."""

    def __init__(self, clock: Clock, limits: Mapping[str, int], window: float, what: str) -> None:
        self._clock = clock
        self._limits = dict(limits)
        self._window = window
        self._what = what
        self._failures: collections.OrderedDict[Key, list[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def check(self, *keys: Key) -> None:
        """Raise TooManyRequests while any of ``keys`` is at its limit."""
        now = self._clock.monotonic()
        with self._lock:
            wait = max(self._wait(key, now) for key in keys)
        if wait > 0:
            seconds = math.ceil(wait)
            raise TooManyRequests(f"Too many {self._what}; try again in {seconds} s", seconds)

    def failed(self, *keys: Key) -> None:
        now = self._clock.monotonic()
        with self._lock:
            for key in keys:
                times = self._failures.pop(key, [])
                times.append(now)
                self._failures[key] = times[-self._limits[key[0]] :]
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def forget(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def tracked(self) -> int:
        with self._lock:
            return len(self._failures)

    def _wait(self, key: Key, now: float) -> float:
        """Seconds until ``key`` may try again (0 if it may now)."""
        limit = self._limits[key[0]]
        times = [t for t in self._failures.get(key, []) if now - t < self._window]
        if len(times) < limit:
            return 0.0
        return times[-limit] + self._window - now


class LoginThrottle:
    """Failed logins, per user name (case-insensitive) and per client address."""

    def __init__(
        self,
        clock: Clock,
        per_user: int = FAILURES_PER_USER,
        per_address: int = FAILURES_PER_ADDRESS,
        window: float = WINDOW_SECONDS,
    ) -> None:
        limits = {"user": per_user, "address": per_address}
        self.failures = FailureThrottle(clock, limits, window, "failed logins")

    def check(self, username: str, address: str) -> None:
        """Raise TooManyRequests while either the name or the address is over its limit."""
        self.failures.check(("user", username.lower()), ("address", address))

    def failed(self, username: str, address: str) -> None:
        self.failures.failed(("user", username.lower()), ("address", address))

    def succeeded(self, username: str) -> None:
        self.failures.forget(("user", username.lower()))


def bad_key_throttle(
    clock: Clock, per_peer: int = BAD_KEYS_PER_PEER, window: float = BAD_KEY_WINDOW_SECONDS
) -> FailureThrottle:
    """Invalid API keys per peer address: ``check`` and ``failed`` with ``("peer", address)``."""
    return FailureThrottle(clock, {"peer": per_peer}, window, "invalid API keys")
