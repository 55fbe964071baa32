"""One engine per data folder: an exclusive lock on ``<data>/engine.lock``.

Two engines on one folder adopt, interrupt and record each other's jobs. The lock is an
``flock``, not a pid file: the kernel lets go of it when its process ends, however it
ends, so a crashed server leaves nothing stale behind. The file holds the holder's pid, to
name it. Its descriptor is close-on-exec, so the job parent and the jobs, which outlive
the server, never hold it. Taken per data folder with PostgreSQL too: ``runs/`` and the
spool folder are local. With SQLite a second lock sits beside the database file, so two
data folders sharing one database file cannot both run its jobs. The admin commands
(``jobhost user ...``) take neither.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from jobhost.errors import JobhostError

LOCK_FILE = "engine.lock"
# Beside a SQLite database file: ``<file>`` + this.
DATABASE_LOCK_SUFFIX = ".engine-lock"
# The holder writes its pid right after it takes the lock: a reader between the two waits.
_PID_WAIT_SECONDS = 0.5
_PID_POLL_SECONDS = 0.01


class DataFolderInUse(JobhostError):
    """Another jobhost engine is using this data folder."""


class DataFolderUnwritable(JobhostError):
    """The data folder cannot be written (a read-only file system, or no permission)."""


@dataclass(slots=True)
class _Held:
    fd: int
    holders: int


# One lock per folder and process: flock locks of two descriptors of one process exclude
# each other too, and ``jobhost serve`` takes it before its engine does.
_held: dict[str, _Held] = {}
_guard = threading.Lock()


class DataFolderLock:
    """This process's hold on a data folder; ``release`` once per ``lock_data_folder``."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = keys

    def release(self) -> None:
        with _guard:
            for key in self._keys:
                held = _held[key]
                held.holders -= 1
                if held.holders == 0:
                    del _held[key]
                    os.close(held.fd)  # and with it the lock
        self._keys = []


def lock_data_folder(data_dir: Path, database_file: Path | None = None) -> DataFolderLock:
    """Hold ``data_dir`` (and a SQLite ``database_file``) for this process, again if it
    does already, creating the folder if needed; DataFolderInUse, naming the holder's
    pid, if another process holds either; DataFolderUnwritable if the lock cannot be
    written there."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFolderUnwritable(f"cannot create {data_dir}: {exc.strerror}") from None
    paths = [(os.path.join(os.path.realpath(data_dir), LOCK_FILE), data_dir)]
    if database_file is not None:
        paths.append((os.path.realpath(database_file) + DATABASE_LOCK_SUFFIX, database_file))
    keys: list[str] = []
    try:
        for path, what in paths:
            _hold(path, what)
            keys.append(path)
    except BaseException:
        DataFolderLock(keys).release()
        raise
    return DataFolderLock(keys)


def _hold(path: str, what: Path) -> None:
    with _guard:
        held = _held.get(path)
        if held is None:
            held = _held[path] = _Held(_take(path, what), 0)
        held.holders += 1


def _take(path: str, what: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        folder = os.path.dirname(path)
        raise DataFolderUnwritable(
            f"cannot write {path}: {exc.strerror} (the server writes in {folder})"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise DataFolderInUse(f"another jobhost engine (pid {holder}) is using {what}") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _holder(fd: int) -> str:
    """The pid in the lock file, as written by the process holding the lock."""
    deadline = time.monotonic() + _PID_WAIT_SECONDS
    while True:
        with contextlib.suppress(OSError):
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            if text.isdigit():
                return text
        if time.monotonic() >= deadline:
            return "unknown"
        time.sleep(_PID_POLL_SECONDS)
