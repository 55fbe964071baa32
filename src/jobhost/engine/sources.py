"""Where a running job's output comes from: a file a process appends to, or a buffer
that a thread's captured writes fill. The recorder drains both the same way."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from typing import Protocol

logger = logging.getLogger(__name__)

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
# Disk space behind a job's output file is given back in steps of this size, once stored.
RELEASE_STEP_BYTES = 16 * 1024 * 1024


class OutputSource(Protocol):
    def read(self, limit: int) -> bytes:
        """Up to ``limit`` new bytes (empty when nothing is new)."""
        ...

    def discard(self) -> int:
        """Skip everything new without keeping it; returns how many bytes were skipped."""
        ...

    def release(self) -> None:
        """Everything read or discarded so far is safely stored; the source may forget it."""
        ...

    def close(self) -> None: ...


class EmptySource:
    """For a job whose output is already all stored (e.g. one interrupted by a restart)."""

    def read(self, limit: int) -> bytes:
        return b""

    def discard(self) -> int:
        return 0

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class FileTail:
    """Follows a file that a job's processes append to, from byte ``position``.

    Once the recorder has stored what was read, the file's start is turned into a hole, so a
    job that writes without end (past the output cap, say) does not fill the disk: the file
    keeps its size and offsets, but not the blocks.
    """

    def __init__(self, path: str | os.PathLike[str], position: int = 0) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self.position = position
        self._released = 0

    def read(self, limit: int) -> bytes:
        data = os.pread(self._fd, limit, self.position)
        self.position += len(data)
        return data

    def discard(self) -> int:
        end = os.fstat(self._fd).st_size
        skipped = max(0, end - self.position)
        self.position += skipped
        return skipped

    def release(self) -> None:
        upto = self.position - self.position % RELEASE_STEP_BYTES
        if upto > self._released and self._fd >= 0:
            if not punch_hole(self._fd, upto):
                upto = 1 << 62  # not supported here: stop trying
            self._released = upto

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            # Called once the output is stored (even in the transaction that claims the next
            # jobs): failing to close a file only read from must not undo that.
            with contextlib.suppress(OSError):
                os.close(fd)


class BufferSource:
    """Bytes written by a job's thread, waiting for the recorder.

    Writers block while ``high_water`` bytes are waiting, as a process blocks on a full
    pipe, so a job printing in a tight loop cannot exhaust the server's memory.
    """

    def __init__(self, high_water: int = 8 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._high_water = high_water
        self._closed = False
        self._cond = threading.Condition()

    def write(self, data: bytes) -> None:
        with self._cond:
            while len(self._buffer) >= self._high_water and not self._closed:
                self._cond.wait(0.5)
            self._buffer += data

    def read(self, limit: int) -> bytes:
        with self._cond:
            data = bytes(self._buffer[:limit])
            del self._buffer[:limit]
            self._cond.notify_all()
            return data

    def release(self) -> None:
        pass  # what was read is no longer held

    def discard(self) -> int:
        with self._cond:
            skipped = len(self._buffer)
            self._buffer.clear()
            self._cond.notify_all()
            return skipped

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def punch_hole(fd: int, length: int) -> bool:
    """Free the disk blocks of a file's first ``length`` bytes, keeping its size; False if
    the file system cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    mode = _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE
    if libc.fallocate(fd, mode, ctypes.c_long(0), ctypes.c_long(length)) == 0:
        return True
    logger.info("cannot free a job output file's blocks: %s", os.strerror(ctypes.get_errno()))
    return False
