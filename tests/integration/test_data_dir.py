"""The data folder is private to the server's user whatever the umask: created so, and an
existing one tightened at startup with a log line saying what changed."""

from __future__ import annotations

import os
import re
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhost.service.spool import SPOOL_FOLDER
from tests.integration.server import (
    Server,
    create_key,
    free_port,
    kill_jobs_under,
    wait_for_output,
)
from tests.integration.test_api import submit

STORE_FILES = ("jobhost.db", "jobhost.db-wal", "jobhost.db-shm")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def started(tmp_path: Path, data: Path) -> Server:
    """A server on ``data``, logging outside it, so that nothing else makes the folder."""
    server = Server(tmp_path / "logs", free_port(), {"JOBHOST_DATA_DIR": str(data)})
    server.start()
    return server


def admin_key(server: Server) -> str:
    key: str = re.findall(r"API key:\s+(\S+)", server.log())[0]
    return key


@pytest.mark.usefixtures("loose_umask")
def test_a_fresh_server_makes_its_data_folder_and_store_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    server = started(tmp_path, data)
    try:
        with server.client(admin_key(server)) as client:
            job_id = submit(client, "echo started; sleep 30")
            wait_for_output(client, job_id, "started")
            assert mode_of(data / "runs" / job_id) == 0o700
            assert mode_of(data / "runs" / job_id / "output") == 0o600
        assert mode_of(data) == 0o700
        for name in STORE_FILES:
            assert mode_of(data / name) == 0o600, name
        for name in ("runs", SPOOL_FOLDER):
            assert mode_of(data / name) == 0o700, name
        assert "permissions" not in server.log()
    finally:
        server.stop()
        kill_jobs_under(data)


@pytest.mark.usefixtures("loose_umask")
def test_an_existing_loose_data_folder_is_tightened_at_startup_and_said_so(
    tmp_path: Path,
) -> None:
    data = tmp_path / "old"
    first = started(tmp_path, data)
    first.stop(signal.SIGKILL)  # leaves the log and shared-memory files behind
    loose = [data, data / "runs", data / "JobSubmission"]
    for path in loose:
        path.chmod(0o755)
    for name in STORE_FILES:
        (data / name).chmod(0o644)
    second = started(tmp_path, data)
    try:
        for path in loose:
            assert mode_of(path) == 0o700, path
        for name in STORE_FILES:
            assert mode_of(data / name) == 0o600, name
        lines = [line for line in second.log().splitlines() if "permissions" in line]
        assert len(lines) == 1, lines
        assert f"{data} 0755 -> 0700" in lines[0]
        assert "jobhost.db 0644 -> 0600" in lines[0]
        assert "runs 0755 -> 0700" in lines[0]
    finally:
        second.stop()
        kill_jobs_under(data)


def test_commands_run_beside_the_server_are_seen_by_it(tmp_path: Path) -> None:
    # The engine checks the store's mode with the store open: if that ever opened and closed
    # the file, the server's locks on it would go, a command closing its store could then
    # remove the log under the server, and the server would stop seeing what others commit.
    data = tmp_path / "data"
    server = started(tmp_path, data)
    try:
        for _ in range(3):
            key = create_key(data, "admin")
            with server.client(key) as client:
                assert client.get("/jobs").status_code == 200
    finally:
        server.stop()
