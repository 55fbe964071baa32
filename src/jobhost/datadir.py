"""The data folder's permissions: private to the server's user whatever the umask.

The folder holds every job's output, every command and the password hashes, so it is 0700,
and the SQLite store (with its ``-wal`` and ``-shm``) 0600. With ``JOBHOST_RUN_AS`` the folder
is 0711 instead: the run-as user may pass through it to ``workspace/``, which belongs to that
user, but can list nothing and open only what its own rights allow (docs/SECURITY.md).
An existing folder is brought to these modes at startup, with one log line saying what
changed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from jobhost.engine.runners.runas import RunAs, resolve_run_as
from jobhost.errors import InvalidInput
from jobhost.settings import Settings
from jobhost.store.database import sqlite_file

logger = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PASSABLE_DIR = 0o711  # with a run-as user: others may pass through, never list
PRIVATE_FILE = 0o600
WORKSPACE = "workspace"
# Folders only the server reads; the run-as user's way to its workspace passes beside them.
# The spool's name is service/spool.py's SPOOL_FOLDER, spelt out: importing that module would
# slow every store-opening command.
_PRIVATE_FOLDERS = ("runs", "JobSubmission")


def prepare_data_dir(settings: Settings) -> RunAs | None:
    """Create or tighten the data folder and the store's files; the run-as user, if set
    (InvalidInput if it cannot be used)."""
    run_as = resolve_run_as(settings.run_as) if settings.run_as else None
    data = settings.data_dir
    changed: list[str] = []
    _private_dir(data, PASSABLE_DIR if run_as else PRIVATE_DIR, changed, str(data))
    for name in _PRIVATE_FOLDERS:
        _private_dir(data / name, PRIVATE_DIR, changed, name)
    store = sqlite_file(settings.store_url)
    if store is not None:
        _private_store(store.absolute(), changed, data)
    if run_as is not None:
        _give_workspace(data / WORKSPACE, run_as, changed)
    if changed:
        logger.warning("set the data folder's permissions: %s", ", ".join(changed))
    return run_as


def _private_dir(path: Path, mode: int, changed: list[str], label: str) -> None:
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)  # the umask only takes bits
    _set_mode(path, mode, changed, label)


def _private_store(path: Path, changed: list[str], data: Path) -> None:
    # Made here, empty (SQLite takes an empty file for an empty database), so that it never
    # exists with the umask's mode; SQLite gives -wal and -shm the database file's mode.
    # O_EXCL: an existing store is never opened here. Closing a descriptor of it would drop
    # every POSIX lock this process holds on it, SQLite's too (the engine calls this with
    # the store open), and another process could then checkpoint and delete the log under
    # the server's readers, who would no longer see new commits.
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE))
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        label = part.name if part.parent == data else str(part)
        if part.exists():
            _set_mode(part, PRIVATE_FILE, changed, label)


def _set_mode(path: Path, mode: int, changed: list[str], label: str) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return  # its target's mode is its owner's business; a link has none of its own
    if stat.S_IMODE(info.st_mode) != mode:
        path.chmod(mode)
        changed.append(f"{label} {stat.S_IMODE(info.st_mode):04o} -> {mode:04o}")


def _give_workspace(path: Path, run_as: RunAs, changed: list[str]) -> None:
    """``workspace/`` made the run-as user's own (the folder, not what is already in it)."""
    path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        # A link would hand its target, wherever it is, to the run-as user.
        raise InvalidInput(f"{path} must be a folder, not a link, when JOBHOST_RUN_AS is set")
    if (info.st_uid, info.st_gid) != (run_as.uid, run_as.gid):
        try:
            os.chown(path, run_as.uid, run_as.gid, follow_symlinks=False)
        except OSError as exc:
            raise InvalidInput(f"cannot give {path} to {run_as.name}: {exc.strerror}") from None
        changed.append(f"{WORKSPACE} owner -> {run_as.name}")
    _set_mode(path, PRIVATE_DIR, changed, WORKSPACE)
    closed = _closed_to(path, run_as)
    if closed is not None:
        logger.warning(
            "JOBHOST_RUN_AS: %s may not pass through %s to reach %s; its jobs will not start"
            " there until it may (the data folder's parents need the x bit for it)",
            run_as.name,
            closed,
            path,
        )


def _closed_to(path: Path, run_as: RunAs) -> Path | None:
    """The first folder above ``path`` that ``run_as`` may not pass through, by the mode
    bits alone (an ACL may still let it), or None."""
    for folder in reversed(path.parents):
        info = folder.stat()
        if info.st_uid == run_as.uid:
            bit = stat.S_IXUSR
        elif info.st_gid in run_as.groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return folder
    return None
