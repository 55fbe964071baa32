"""What each claim may take (slots, and each user's share under JOBHOST_MAX_JOBS_PER_USER),
and the decision the dispatcher publishes for the jobs it leaves Pending (their reason)."""

from __future__ import annotations

import collections
from collections.abc import Iterable

from jobhost.models import Mode, QueueState
from jobhost.store.claims import ClaimOrder
from jobhost.store.protocol import JobStore


class QueueDecisions:
    """One node's claims: ``slots`` jobs at once, ``per_user`` of one user's (None: any)."""

    def __init__(self, jobs: JobStore, node: str, slots: int, per_user: int | None) -> None:
        self._jobs = jobs
        self._node = node
        self._slots = slots
        self._per_user = per_user
        self._published: QueueState | None = None

    def order(self, running: int, owners: Iterable[str]) -> ClaimOrder:
        """The next claim, with ``running`` jobs on the node, owned by ``owners`` (read only
        with a per-user limit)."""
        free = self._slots - running
        if self._per_user is None:
            return ClaimOrder(free, self._node, barrier=Mode.MAIN_LOOP)
        counts = collections.Counter(owners)
        return ClaimOrder(free, self._node, Mode.MAIN_LOOP, self._per_user, counts)

    def publish(self, running: int, owners: Iterable[str]) -> None:
        """Tell the store what the claim left: ``running`` jobs (by ``owners``), and which
        users are at their limit; only when that changed."""
        at_limit: dict[str, int] = {}
        if self._per_user is not None:
            counts = collections.Counter(owners)
            at_limit = {user: n for user, n in counts.items() if n >= self._per_user}
        state = QueueState(running, self._slots, self._per_user, at_limit)
        if state != self._published:
            self._jobs.publish_queue_state(state)
            self._published = state
