"""Per-thread capture of sys.stdout and sys.stderr for Python jobs (Runspace and MainLoop).

The streams are replaced once, process-wide, by a router that sends each write to the sink
of the job running on the writing thread, or to the original stream when none is. So many
jobs can print at once without their output mixing. Output that bypasses sys.stdout
(``os.write(1, ...)``, C extensions, threads the job itself starts) reaches the server's
own stdout instead.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

Sink = Callable[[bytes], None]

_local = threading.local()
_install_lock = threading.Lock()
_installed = 0


class _RoutedStream(io.TextIOBase):
    encoding = "utf-8"

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        sink: Sink | None = getattr(_local, "sink", None)
        if sink is None:
            return self.fallback.write(text)
        sink(text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        if getattr(_local, "sink", None) is None:
            self.fallback.flush()

    def isatty(self) -> bool:
        return False


def install() -> None:
    """Route sys.stdout and sys.stderr through per-thread sinks (counted; see uninstall)."""
    global _installed
    with _install_lock:
        if _installed == 0:
            sys.stdout = _RoutedStream(sys.stdout)
            sys.stderr = _RoutedStream(sys.stderr)
        _installed += 1


def uninstall() -> None:
    global _installed
    with _install_lock:
        _installed -= 1
        if _installed == 0:
            for name in ("stdout", "stderr"):
                stream = getattr(sys, name)
                if isinstance(stream, _RoutedStream):
                    setattr(sys, name, stream.fallback)


@contextlib.contextmanager
def routed_to(sink: Sink) -> Iterator[None]:
    """Send this thread's sys.stdout and sys.stderr writes to ``sink`` for the duration."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = previous
