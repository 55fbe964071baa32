"""Stopping process trees and surviving a SIGKILL of the server, against real servers."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine.conftest import wait_until_gone
from tests.integration.server import (
    Server,
    create_user,
    free_port,
    kill_jobs_under,
    wait_finished,
    wait_for_output,
)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A server of this test's own (it will be killed), allowed one job at a time."""
    key = create_user(tmp_path, "root", "system_admin")
    server = Server(tmp_path, free_port(), {"JOBHOST_MAX_CONCURRENT_JOBS": "1"})
    server.start()
    try:
        yield server, key
    finally:
        server.stop()
        kill_jobs_under(tmp_path)


def submit(client: httpx.Client, command: str, mode: str = "BackgroundJob") -> str:
    response = client.post(
        "/jobs/submit", json={"jobName": "j", "command": command, "executionMode": mode}
    )
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def test_stop_kills_a_backgrounded_grandchild(own_server: tuple[Server, str]) -> None:
    server, key = own_server
    with server.client(key) as client:
        job_id = submit(client, "sleep 300 & echo child=$!; wait")
        output = wait_for_output(client, job_id, "child=")
        grandchild = int(re.findall(r"child=(\d+)", output)[0])
        assert client.delete("/jobs", params={"jobId": job_id}).status_code == 200
        assert wait_finished(client, job_id)["Status"] == "Stopped"
    assert wait_until_gone(grandchild)


def test_queued_jobs_all_run_after_the_server_is_killed(own_server: tuple[Server, str]) -> None:
    server, key = own_server
    with server.client(key) as client:
        running = submit(client, "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.25; done; exit 3")
        wait_for_output(client, running, "line 1")
        queued = [submit(client, f"echo queued {n}") for n in range(4)]
        assert all(
            client.get("/jobs", params={"jobId": j}).json()["job"]["Status"] == "Pending"
            for j in queued
        )
    server.stop(signal.SIGKILL)

    server.port = free_port()
    server.start()
    with server.client(key) as client:
        # The BackgroundJob kept running while no server was up, and was adopted again:
        # every line exactly once, and its real exit code.
        adopted = wait_finished(client, running)
        assert adopted["Status"] == "Failed"
        assert adopted["ExitCode"] == 3
        assert adopted["Output"] == "".join(f"line {i}\n" for i in range(1, 7))
        for n, job_id in enumerate(queued):
            job = wait_finished(client, job_id)
            assert job["Status"] == "Completed"
            assert job["Output"] == f"queued {n}\n"


def test_a_runspace_job_cut_off_by_a_kill_is_interrupted_with_its_output(
    own_server: tuple[Server, str],
) -> None:
    server, key = own_server
    with server.client(key) as client:
        job_id = submit(
            client, "import time\nprint('so far', flush=True)\ntime.sleep(60)", "Runspace"
        )
        wait_for_output(client, job_id, "so far")
    server.stop(signal.SIGKILL)
    server.start()
    with server.client(key) as client:
        job = wait_finished(client, job_id)
    assert job["Status"] == "Interrupted"
    assert job["Output"] == "so far\n[Job interrupted: the server stopped while it ran]\n"


def test_a_job_adopted_after_a_kill_still_records_its_resources(
    own_server: tuple[Server, str],
) -> None:
    # The job parent outlives the killed server: the exit file it writes carries them.
    server, key = own_server
    hold = "python3 -c 'x = b\"x\" * 50_000_000; import time; time.sleep(1)'"
    with server.client(key) as client:
        job_id = submit(client, f"echo started; {hold}; exit 4")
        wait_for_output(client, job_id, "started")
    server.stop(signal.SIGKILL)
    server.port = free_port()
    server.start()
    with server.client(key) as client:
        adopted = wait_finished(client, job_id)
    assert (adopted["Status"], adopted["ExitCode"]) == ("Failed", 4)
    assert isinstance(adopted["CpuSeconds"], float) and adopted["CpuSeconds"] > 0
    assert isinstance(adopted["MaxRssBytes"], int) and adopted["MaxRssBytes"] >= 40_000_000
