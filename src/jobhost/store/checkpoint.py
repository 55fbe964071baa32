"""Moving SQLite's write-ahead log into the database file from a thread of its own.

By default SQLite does this in whichever connection commits once the log passes 1,000 pages,
so that commit pays for copying about 4 MiB and an fsync: a submit now and then, and the
recorder on nearly every flush while it captures a large output. The server instead
checkpoints from this thread a few times a second, without blocking readers or writers
(PASSIVE), and raises the automatic checkpoint to a safety net the thread normally keeps
the log well below.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from jobhost.errors import JobhostError

logger = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 0.25
SAFETY_NET_PAGES = 16384
"""The automatic checkpoint while the thread runs: 64 MiB of log at 4 KiB pages."""


class WalCheckpointer:
    """Calls ``checkpoint`` every ``interval`` seconds until stopped."""

    def __init__(self, checkpoint: Callable[[], object], interval: float = CHECKPOINT_SECONDS):
        self._checkpoint = checkpoint
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobhost-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._checkpoint()
            except JobhostError:
                logger.warning("could not checkpoint the store's log; retrying", exc_info=True)
