"""The store's change feed: "job X changed" fanned out from whoever wrote it to whoever watches.

The store publishes after each committed write (submit, claim, output, finish, stop request,
cancel, delete). WebSocket handlers subscribe (asyncio tasks); a stop waits on a ``StateWatch``
(a blocked thread); publishers may be on any thread. A change only says *which* job changed and
how; subscribers read the store for the facts, so a lost or merged notification costs latency,
never correctness.
"""

from __future__ import annotations

import asyncio
import enum
import threading
from collections.abc import Iterable
from dataclasses import dataclass

# A subscriber further behind than this is told to resynchronise rather than buffered for.
QUEUE_LIMIT = 1000


class ChangeKind(enum.StrEnum):
    STATE = "state"
    OUTPUT = "output"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class JobChange:
    job_id: str
    kind: ChangeKind
    user_id: str | None = None
    """The job's owner where the publisher knew it without another query."""


class Subscription:
    """Changes for one subscriber, read on its own event loop."""

    def __init__(self, hub: Hub, loop: asyncio.AbstractEventLoop, job_id: str | None) -> None:
        self._hub = hub
        self._loop = loop
        self.job_id = job_id
        self._queue: asyncio.Queue[JobChange] = asyncio.Queue()
        self.lagged = False

    def _deliver(self, changes: list[JobChange]) -> None:
        # Raises RuntimeError if the loop has closed.
        self._loop.call_soon_threadsafe(self._offer, changes)

    def _offer(self, changes: list[JobChange]) -> None:
        # Runs on the subscriber's loop.
        for change in changes:
            if self._queue.qsize() >= QUEUE_LIMIT:
                self.lagged = True
                return
            self._queue.put_nowait(change)

    async def next_batch(self, timeout: float) -> list[JobChange]:
        """The changes waiting, after waiting up to ``timeout`` seconds for the first."""
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return []
        batch = [first]
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    def close(self) -> None:
        self._hub._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class StateWatch:
    """Wakes a thread blocked in ``wait`` when one job changes state or goes (not on output)."""

    def __init__(self, hub: Hub, job_id: str) -> None:
        self._hub = hub
        self.job_id = job_id
        self._changed = threading.Event()

    def _deliver(self, changes: list[JobChange]) -> None:
        if any(change.kind is not ChangeKind.OUTPUT for change in changes):
            self._changed.set()

    def wait(self, timeout: float) -> bool:
        """Block until a change since the last ``wait`` or for ``timeout`` seconds; True if
        one came. Read the store after subscribing and after each wait, not before."""
        changed = self._changed.wait(timeout)
        self._changed.clear()
        return changed

    def close(self) -> None:
        self._hub._remove(self)

    def __enter__(self) -> StateWatch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Hub:
    def __init__(self) -> None:
        self._subscribers: list[Subscription | StateWatch] = []
        self._lock = threading.Lock()

    def subscribe(self, job_id: str | None = None) -> Subscription:
        """Follow every change, or only ``job_id``'s; call from the subscriber's event loop."""
        subscription = Subscription(self, asyncio.get_running_loop(), job_id)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def watch(self, job_id: str) -> StateWatch:
        """Follow ``job_id``'s state changes from a thread that blocks while it waits."""
        watch = StateWatch(self, job_id)
        with self._lock:
            self._subscribers.append(watch)
        return watch

    def publish(self, changes: Iterable[JobChange]) -> None:
        """Hand changes to every subscriber that wants them; safe from any thread."""
        batch = list(changes)
        if not batch:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            wanted = [c for c in batch if subscription.job_id in (None, c.job_id)]
            if not wanted:
                continue
            try:
                subscription._deliver(wanted)
            except RuntimeError:  # its loop has closed
                self._remove(subscription)

    def _remove(self, subscription: Subscription | StateWatch) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)
