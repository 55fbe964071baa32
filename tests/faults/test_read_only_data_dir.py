"""A data dir on a read-only file system: ``jobhost serve`` refuses to start with one line
saying what it cannot write, not a traceback, and starts as before once it is writable."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import remount
from tests.integration.server import create_user, free_port, run_cli, serving, wait_finished


def _refusal(data_dir: Path) -> str:
    """The one line of stderr with which ``jobhost serve`` refused to start."""
    done = run_cli(data_dir, "serve", "--port", str(free_port()))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    return line


@pytest.mark.timeout(60)
def test_serve_refuses_a_read_only_data_dir_in_one_line_and_starts_once_writable(
    tmp_path: Path, tmpfs: Callable[[str], Path]
) -> None:
    disk = tmpfs("16m")
    data_dir = disk / "data"
    key = create_user(data_dir, "root", "system_admin")
    remount(disk, "ro")
    folder = os.path.realpath(data_dir)
    assert _refusal(data_dir) == (
        f"jobhost: cannot write {folder}/engine.lock: Read-only file system"
        f" (the server writes in {folder})"
    )
    assert _refusal(disk / "new") == (f"jobhost: cannot create {disk}/new: Read-only file system")

    remount(disk, "rw")
    with serving(data_dir, {}, log_dir=tmp_path) as server, server.client(key) as client:
        response = client.post(
            "/jobs/submit",
            json={"jobName": "rw", "command": "echo rw", "executionMode": "BackgroundJob"},
        )
        assert response.status_code == 200, response.text
        assert wait_finished(client, response.json()["jobId"])["Output"] == "rw\n"
