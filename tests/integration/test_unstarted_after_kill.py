"""A server killed after claiming a job and before starting it: the job runs after the restart."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.faults.processes import job_parents_of
from tests.integration.server import (
    Server,
    create_user,
    free_port,
    kill_jobs_under,
    wait_finished,
    wait_for,
)
from tests.integration.test_lifecycle import submit


def job_parent_of(pid: int) -> int:
    """The pid of the job parent the server ``pid`` started."""
    parents = job_parents_of(pid)
    assert len(parents) == 1, f"job parents under {pid}: {parents}"
    return parents.pop()


def test_a_job_claimed_when_the_server_was_killed_runs_after_the_restart_in_its_place(
    tmp_path: Path,
) -> None:
    key = create_user(tmp_path, "root", "system_admin")
    server = Server(tmp_path, free_port(), {"JOBHOST_MAX_CONCURRENT_JOBS": "1"})
    order = tmp_path / "order"
    server.start()
    try:
        assert server.proc is not None
        with server.client(key) as client:
            wait_finished(client, submit(client, "true"))  # the job parent is up
            parent = job_parent_of(server.proc.pid)
            # A job parent that does not answer holds the engine between claim and start.
            os.kill(parent, signal.SIGSTOP)
            first = submit(client, f"echo first; echo first >> {order}")
            wait_for(client, first, lambda job: job["Status"] == "Running")
            later = [submit(client, f"echo {n}; echo {n} >> {order}") for n in ("second", "third")]
        server.stop(signal.SIGKILL)
        os.kill(parent, signal.SIGKILL)  # before it could take the request

        server.port = free_port()
        server.start()
        with server.client(key) as client:
            jobs = [wait_finished(client, job_id) for job_id in [first, *later]]
        assert [(job["Status"], job["Output"]) for job in jobs] == [
            ("Completed", "first\n"),
            ("Completed", "second\n"),
            ("Completed", "third\n"),
        ]
        assert jobs[0]["Attempt"] == 1
        assert order.read_text().split() == ["first", "second", "third"]
    finally:
        server.stop()
        kill_jobs_under(tmp_path)
