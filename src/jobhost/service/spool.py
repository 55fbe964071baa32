"""The spool intake: the seed's ``JobSubmission/<UserID>/`` folder, kept as a way in.

A JSON file holding a submit body, dropped into a user's folder, is submitted as that user
with that user's *current* roles checked (the seed trusted roles written inside the file).
Accepted files are removed; a bad one is moved to ``.rejected/`` with a ``.error.txt`` beside
it and never retried. Only folders named by a valid user id are read, only ``*.json`` regular
files in them, and nothing outside the spool folder is touched. A front door like the web: it
runs on its own thread, submits through the service layer and wakes the engine.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from jobhost import policy
from jobhost.clock import Clock
from jobhost.errors import JobhostError, StoreUnavailable
from jobhost.service.jobs import JobOperations
from jobhost.service.submission import InvalidJson, load_json
from jobhost.store.protocol import UserStore

logger = logging.getLogger(__name__)

SPOOL_FOLDER = "JobSubmission"
REJECTED_FOLDER = ".rejected"
# A file that does not parse yet may still be being written; it is rejected only once it has
# been left alone this long. Writers that rename a finished file into place never hit this.
SETTLE_SECONDS = 2.0
# How many files one pass takes in, so that a flood cannot hold up other users' files long.
FILES_PER_PASS = 100


class _Rejected(Exception):
    """A file that can never be submitted; the message says why."""


class _NotReady(Exception):
    """A file to look at again on a later pass."""


@dataclass(frozen=True, slots=True)
class _Entry:
    user_id: str
    path: Path


class SpoolIntake:
    def __init__(
        self,
        root: Path,
        users: UserStore,
        operations: JobOperations,
        clock: Clock,
        max_file_bytes: int,
        min_interval: float,
    ) -> None:
        self.root = root
        self.rejected = root / REJECTED_FOLDER
        self._users = users
        self._operations = operations
        self._clock = clock
        self._max_file_bytes = max_file_bytes
        self._min_interval = min_interval
        self._next_pass = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the spool in on a thread of its own, a pass every ``min_interval``."""
        self._thread = threading.Thread(target=self._run, name="jobhost-spool", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread after the pass under way, if any."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(max(0.0, self._next_pass - self._clock.monotonic())):
            # The spool is a side door: whatever goes wrong in a pass, the next one runs.
            try:
                self.take_in()
            except Exception:
                logger.exception("spool pass failed", extra={"action": "spool"})

    def due(self) -> bool:
        """True when a pass is due; passes are spaced so an idle spool costs little."""
        return self._clock.monotonic() >= self._next_pass

    def take_in(self) -> int:
        """Submit what the spool holds; returns how many files were accepted."""
        self._next_pass = self._clock.monotonic() + self._min_interval
        accepted = 0
        for entry in _fair_share(self._entries(), FILES_PER_PASS):
            try:
                self._submit(entry)
            except _NotReady:
                continue
            except _Rejected as exc:
                self._reject(entry, str(exc))
                continue
            except Exception as exc:
                # One entry must never stop the pass.
                logger.exception("spool file %s could not be submitted", entry.path)
                self._reject(entry, f"Could not be submitted: {type(exc).__name__}: {exc}")
                continue
            accepted += 1
        return accepted

    def _entries(self) -> list[list[_Entry]]:
        """Each user's entries in name order, one list a user, in user order."""
        per_user: list[list[_Entry]] = []
        for folder in sorted(_scan(self.root), key=lambda folder: folder.name):
            if not folder.is_dir(follow_symlinks=False) or not policy.is_valid_user_id(folder.name):
                continue
            names = sorted(
                file.name
                for file in _scan(Path(folder.path))
                if file.name.endswith(".json") and not file.name.startswith(".")
            )
            if names:
                per_user.append([_Entry(folder.name, Path(folder.path, name)) for name in names])
        return per_user

    def _submit(self, entry: _Entry) -> None:
        payload = self._read(entry.path)
        try:
            user = self._users.get_user(entry.user_id)
            if user is None or not policy.may_sign_in(user.user_id):
                raise _Rejected(f"Unknown user: {entry.user_id}")
            job = self._operations.submit(user, payload)
        except StoreUnavailable:
            raise _NotReady() from None
        except JobhostError as exc:
            raise _Rejected(exc.message) from None
        # Removed only after the job is stored: a crash in between submits the file twice
        # rather than losing it.
        entry.path.unlink(missing_ok=True)
        logger.info(
            "spool file %s submitted as job %s",
            entry.path,
            job.job_id,
            extra={"action": "spool_accept", "job_id": job.job_id},
        )

    def _read(self, path: Path) -> dict[str, object]:
        data, mtime = self._read_bytes(path)
        try:
            payload = load_json(data)
        except InvalidJson as exc:
            if self._clock.now() - mtime < SETTLE_SECONDS:
                raise _NotReady() from None
            raise _Rejected(f"Invalid JSON: {exc.message}") from None
        if not isinstance(payload, dict):
            raise _Rejected("Invalid submission: the file must hold a JSON object")
        return payload

    def _read_bytes(self, path: Path) -> tuple[bytes, float]:
        # O_NOFOLLOW and fstat on the open file: a symlink or FIFO swapped in after the
        # directory scan is refused rather than followed or blocked on.
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise _NotReady() from None
        except OSError as exc:
            reason = "Not a regular file" if exc.errno == errno.ELOOP else exc.strerror
            raise _Rejected(f"Cannot read the file: {reason}") from None
        # The raw descriptor is checked before any file object wraps it: fdopen refuses a
        # folder without closing the descriptor it was given.
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _Rejected("Cannot read the file: Not a regular file")
            if info.st_size > self._max_file_bytes:
                raise _Rejected(f"File too large: over {self._max_file_bytes} bytes")
            return _read_at_most(fd, self._max_file_bytes + 1), info.st_mtime
        except OSError as exc:
            raise _Rejected(f"Cannot read the file: {exc.strerror}") from None
        finally:
            os.close(fd)

    def _reject(self, entry: _Entry, reason: str) -> None:
        try:
            self.rejected.mkdir(exist_ok=True)
            target = _free_name(self.rejected, f"{entry.user_id}.{entry.path.name}")
            entry.path.rename(target)
            Path(f"{target}.error.txt").write_text(reason + "\n", encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            # Left in place and tried again on a later pass; the pass itself goes on.
            logger.error("spool file %s could not be moved aside: %s", entry.path, exc)
            return
        logger.warning(
            "spool file %s rejected: %s",
            entry.path,
            reason,
            extra={"action": "spool_reject", "user_id": entry.user_id},
        )


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        logger.error("spool folder %s cannot be read: %s", folder, exc)
        return []


def _fair_share(per_user: list[list[_Entry]], limit: int) -> list[_Entry]:
    """Up to ``limit`` entries taken in turn from each user, so that one user's flood
    (of good files or bad ones) cannot keep another's out of the pass."""
    rounds = itertools.zip_longest(*per_user)
    taken = (entry for round_ in rounds for entry in round_ if entry is not None)
    return list(itertools.islice(taken, limit))


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0 and (chunk := os.read(fd, size)):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or with a numbered suffix when a rejected file of that name exists."""
    candidate = folder / name
    number = 1
    while os.path.lexists(candidate) or os.path.lexists(f"{candidate}.error.txt"):
        candidate = folder / f"{name}.{number}"
        number += 1
    return candidate
