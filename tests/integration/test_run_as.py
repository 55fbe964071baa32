"""JOBHOST_RUN_AS: BackgroundJobs run as another OS user, who cannot read the store.

These run as root (as this machine's tests do) and use ``nobody`` as the run-as user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobhost.datadir import prepare_data_dir
from jobhost.errors import InvalidInput
from jobhost.settings import Settings
from tests.engine.conftest import wait_until_gone
from tests.integration.server import (
    Server,
    cli_env,
    free_port,
    kill_jobs_under,
    run_cli,
    wait_finished,
)
from tests.integration.test_api import submit
from tests.integration.test_data_dir import admin_key, mode_of

NOBODY = pwd.getpwnam("nobody")
_WITHOUT_SETUID = ["setpriv", "--bounding-set", "-setuid,-setgid", "--"]


@pytest.fixture(scope="module")
def outside_tmp() -> Iterator[Path]:
    """A folder the run-as user may pass through (pytest's own temporary folder is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="jobhost-run-as-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def server(outside_tmp: Path) -> Iterator[Server]:
    data = outside_tmp / "data"
    srv = Server(outside_tmp / "logs", free_port(), {"JOBHOST_DATA_DIR": str(data)})
    srv.env["JOBHOST_RUN_AS"] = "nobody"
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        kill_jobs_under(data)


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client(admin_key(server)) as made:
        yield made


def run(client: httpx.Client, command: str, **extra: str) -> tuple[str, str]:
    job_id = submit(client, command, **extra)
    status = wait_finished(client, job_id)["Status"]
    output: str = client.get("/jobs/output", params={"jobId": job_id}).json()["output"]
    return status, output


def data_of(server: Server) -> Path:
    return Path(server.env["JOBHOST_DATA_DIR"])


def test_a_job_runs_as_the_run_as_user_with_its_groups_and_home(client: httpx.Client) -> None:
    status, output = run(client, 'id -u; id -g; id -G; echo "$HOME"')
    groups = " ".join(map(str, os.getgrouplist("nobody", NOBODY.pw_gid)))
    assert (status, output.split("\n")) == (
        "Completed",
        [str(NOBODY.pw_uid), str(NOBODY.pw_gid), groups, NOBODY.pw_dir, ""],
    )


def test_a_job_cannot_read_the_store_or_other_jobs_output(client: httpx.Client) -> None:
    status, output = run(
        client,
        "cat ../jobhost.db > /dev/null || echo no-db;"
        " cat ../jobhost.db-wal > /dev/null || echo no-wal;"
        ' cat "../runs/$JOBHOST_JOB_ID/output" > /dev/null || echo no-output;'
        " ls .. > /dev/null || echo no-listing",
    )
    assert status == "Completed"
    for refused in ("no-db", "no-wal", "no-output", "no-listing"):
        assert refused in output, output


def test_a_job_writes_in_its_workspace_which_the_user_owns(
    server: Server, client: httpx.Client
) -> None:
    status, output = run(client, "echo hi > mine && cat mine && stat -c %U mine && pwd")
    workspace = data_of(server) / "workspace"
    assert (status, output) == ("Completed", f"hi\nnobody\n{workspace}\n")
    assert workspace.stat().st_uid == NOBODY.pw_uid
    assert mode_of(workspace) == 0o700
    assert mode_of(data_of(server)) == 0o711


def test_a_job_cannot_start_in_a_folder_its_user_may_not_enter(
    server: Server, client: httpx.Client
) -> None:
    # The server may enter runs/ (it checked the folder at submit); the job's user may not.
    runs = str(data_of(server) / "runs")
    status, output = run(client, "ls", workingDirectory=runs)
    assert status == "Failed"
    assert "could not be started" in output and "Permission denied" in output


@pytest.mark.parametrize(
    ("user", "says"),
    [
        ("no-such-user-here", "there is no OS user 'no-such-user-here'"),
        ("root", "is the server's own user"),
    ],
)
def test_a_run_as_user_that_cannot_be_used_is_refused_at_startup(
    tmp_path: Path, user: str, says: str
) -> None:
    result = run_cli(
        tmp_path / "data", "serve", "--port", str(free_port()), env={"JOBHOST_RUN_AS": user}
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert "API key" not in result.stdout  # refused before the first start's admin


def test_a_server_that_cannot_switch_users_refuses_a_run_as_user(tmp_path: Path) -> None:
    # Root without CAP_SETUID and CAP_SETGID, as in a container that dropped them.
    result = subprocess.run(
        [*_WITHOUT_SETUID, sys.executable, "-m", "jobhost", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path / "data", {"JOBHOST_RUN_AS": "nobody"}),
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot switch users" in result.stderr


def test_a_data_folder_the_run_as_user_cannot_reach_is_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # pytest's temporary folders sit under a 0700 folder of root's.
    settings = Settings(data_dir=tmp_path / "data", run_as="nobody")
    assert prepare_data_dir(settings) is not None
    closed = next(p for p in reversed(tmp_path.parents) if not p.stat().st_mode & stat.S_IXOTH)
    assert f"nobody may not pass through {closed} to reach" in caplog.text


def test_a_workspace_that_is_a_link_is_not_given_to_the_run_as_user(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "workspace").symlink_to("/etc")
    with pytest.raises(InvalidInput, match="must be a folder, not a link"):
        prepare_data_dir(Settings(data_dir=data, run_as="nobody"))
    assert Path("/etc").stat().st_uid == 0


def test_a_daemon_a_job_left_behind_as_the_run_as_user_dies_with_the_job(
    client: httpx.Client,
) -> None:
    status, output = run(client, "setsid sh -c 'sleep 7786 & echo pid=$!; exit'; echo done")
    assert status == "Completed"
    pid = int(output.split("pid=")[1].split()[0])
    assert wait_until_gone(pid)
