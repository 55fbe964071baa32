"""Requests per credential: a token bucket each, in memory, for one server process.

A bucket holds up to ``burst`` requests and refills at ``per_minute / 60`` a second; a request
that finds it empty is refused with the seconds until the next one may come. A bucket that has
refilled is the same as none, so idle ones are dropped first when the table is full.
"""

from __future__ import annotations

import collections
import functools
import ipaddress
import math
import threading

from jobhost.clock import Clock
from jobhost.errors import TooManyRequests

# Bounds the memory: past this many credentials, the least recently seen are forgotten.
MAX_TRACKED = 10_000


@functools.lru_cache(maxsize=1024)
def is_local_peer(host: str) -> bool:
    """A loopback address, or no address at all (a Unix socket's peer, an in-process client)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class RequestRate:
    """``take(key, peer)`` once per request; off when ``per_minute`` is 0."""

    def __init__(
        self,
        clock: Clock,
        per_minute: int,
        burst: int,
        include_loopback: bool = False,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self._clock = clock
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._include_loopback = include_loopback
        self._max_tracked = max_tracked
        # key -> [tokens left, monotonic time they were counted]
        self._buckets: collections.OrderedDict[str, list[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, peer: str) -> None:
        """Count one request of ``key``; raise TooManyRequests when its bucket is empty."""
        if self._rate == 0 or (not self._include_loopback and is_local_peer(peer)):
            return
        now = self._clock.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._evict(now)
                bucket = self._buckets[key] = [self._burst, now]
            else:
                self._buckets.move_to_end(key)
                bucket[0] = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
                bucket[1] = now
            if bucket[0] < 1.0:
                wait = math.ceil((1.0 - bucket[0]) / self._rate)
                raise TooManyRequests(f"Too many requests; try again in {wait} s", wait)
            bucket[0] -= 1.0

    def tracked(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _evict(self, now: float) -> None:
        """Make room for one more: drop the least recently used buckets while they have
        refilled (they are the same as none), and any beyond ``max_tracked``."""
        while self._buckets:
            tokens, since = next(iter(self._buckets.values()))
            refilled = tokens + (now - since) * self._rate >= self._burst
            if not refilled and len(self._buckets) < self._max_tracked:
                return
            self._buckets.popitem(last=False)
