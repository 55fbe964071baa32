"""The data folder lock, between real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhost.engine.lock import (
    LOCK_FILE,
    DataFolderInUse,
    DataFolderUnwritable,
    lock_data_folder,
)

_HOLD = (
    "import pathlib, sys\n"
    "from jobhost.engine.lock import lock_data_folder\n"
    "lock_data_folder(pathlib.Path(sys.argv[1]))\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture
def holder(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the data folder until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.stdout.close()


def free_for_others(data_dir: Path) -> bool:
    """True if another process can take the lock now (it lets go of it at once)."""
    probe = subprocess.run(
        [sys.executable, "-c", _HOLD, str(data_dir)],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


def test_a_folder_held_by_another_process_is_refused_naming_its_pid(
    data_dir: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(DataFolderInUse) as refused:
        lock_data_folder(data_dir)
    assert str(refused.value) == f"another jobhost engine (pid {holder.pid}) is using {data_dir}"


def test_the_lock_goes_with_its_process_however_it_ends(
    data_dir: Path, holder: subprocess.Popen[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock = lock_data_folder(data_dir)  # the pid left in the file does not matter
    assert (data_dir / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()


def test_a_process_may_hold_its_folder_twice_and_keeps_it_until_both_let_go(
    data_dir: Path,
) -> None:
    first, second = lock_data_folder(data_dir), lock_data_folder(data_dir)
    first.release()
    first.release()  # once per hold: a second release of the same hold changes nothing
    assert not free_for_others(data_dir)
    second.release()
    assert free_for_others(data_dir)


def test_processes_started_while_it_is_held_do_not_inherit_it(data_dir: Path) -> None:
    # Jobs and the job parent outlive the server: they must not keep its folder locked.
    lock = lock_data_folder(data_dir)
    child = subprocess.Popen(["sleep", "30"], close_fds=False)
    try:
        lock.release()
        assert free_for_others(data_dir)
    finally:
        child.kill()
        child.wait()


def test_a_missing_data_folder_is_created_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    lock = lock_data_folder(data_dir)
    try:
        assert data_dir.stat().st_mode & 0o777 == 0o700
        assert (data_dir / LOCK_FILE).stat().st_mode & 0o777 == 0o600
    finally:
        lock.release()


def test_two_folders_sharing_one_sqlite_file_exclude_each_other(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    hold = _HOLD.replace("(sys.argv[1]))", "(sys.argv[1]), pathlib.Path(sys.argv[2]))")
    proc = subprocess.Popen(
        [sys.executable, "-c", hold, str(tmp_path / "one"), str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        with pytest.raises(DataFolderInUse) as refused:
            lock_data_folder(tmp_path / "two", database)
        assert str(refused.value) == f"another jobhost engine (pid {proc.pid}) is using {database}"
        # Refused whole: the second folder was let go again, not kept half-held.
        assert free_for_others(tmp_path / "two")
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.stdout.close()


def test_a_folder_that_cannot_be_made_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(DataFolderUnwritable) as refused:
        lock_data_folder(tmp_path / "file" / "data")
    assert refused.value.message == f"cannot create {tmp_path}/file/data: Not a directory"


def test_a_lock_file_that_cannot_be_written_is_refused_naming_it(data_dir: Path) -> None:
    """As on a read-only data folder (tests/faults/test_read_only_data_dir.py), without
    needing one: the lock file's name is taken by a folder."""
    (data_dir / LOCK_FILE).mkdir()
    with pytest.raises(DataFolderUnwritable) as refused:
        lock_data_folder(data_dir)
    folder = os.path.realpath(data_dir)
    assert refused.value.message == (
        f"cannot write {folder}/{LOCK_FILE}: Is a directory (the server writes in {folder})"
    )
