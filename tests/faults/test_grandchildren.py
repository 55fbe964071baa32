"""Many jobs that each leave a grandchild behind, backgrounded (``sleep &``) or double-forked
out of the job's session (``( setsid sleep & ) &``): once they have ended, no process of
theirs is left and neither the server nor its job parent holds a zombie.

The sleeps carry a marker argument of this run (a duration no other process uses), which
is how /proc tells a stray of these jobs from anything else on the machine."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.processes import job_parents_of, kill_marked, marked, settled, zombies_under
from tests.integration.server import Server, create_user, serving

_FULL = 1000  # jobs with --slow
_QUICK = 200  # jobs in an ordinary run
_SETTLE_SECONDS = 5.0  # a tick or two of the engine's sweep for orphans, with a margin


def _forms(marker: str) -> list[str]:
    return [f"sleep {marker} & echo left", f"( setsid sleep {marker} & ) & echo left"]


@pytest.fixture
def marker() -> Iterator[str]:
    """A sleep duration of this run alone; what still carries it afterwards is killed."""
    marker = f"30.{random.randrange(10**8, 10**9)}"
    yield marker
    kill_marked(marker)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    key = create_user(tmp_path, "root", "system_admin")
    with serving(tmp_path, {"JOBHOST_MAX_CONCURRENT_JOBS": "20"}) as srv:
        yield srv, key


def _submit_all(client: httpx.Client, commands: list[str]) -> list[str]:
    ids = []
    for command in commands:
        body = {"jobName": "leaver", "command": command, "executionMode": "BackgroundJob"}
        response = client.post("/jobs/submit", json=body)
        assert response.status_code == 200, response.text
        ids.append(response.json()["jobId"])
    return ids


def _wait_idle(client: httpx.Client, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts: dict[str, int] = client.get("/jobs", params={"maxResults": "1"}).json()["counts"]
        if counts["pending"] + counts["running"] == 0:
            return counts
        assert time.monotonic() < deadline, f"jobs still unfinished: {counts}"
        time.sleep(0.2)


@pytest.mark.timeout(240)
def test_jobs_that_leave_grandchildren_leave_no_zombie_and_no_stray(
    server: tuple[Server, str], marker: str, slow: bool
) -> None:
    srv, key = server
    assert srv.proc is not None
    jobs = _FULL if slow else _QUICK
    forms = _forms(marker)
    began = time.monotonic()
    with srv.client(key) as client:
        ids = _submit_all(client, [forms[n % len(forms)] for n in range(jobs)])
        counts = _wait_idle(client, 200)
        took = time.monotonic() - began
        statuses = {
            client.get("/jobs", params={"jobId": job_id}).json()["job"]["Status"] for job_id in ids
        }
    parents = {srv.proc.pid, *job_parents_of(srv.proc.pid)}
    strays = settled(lambda: marked(marker), _SETTLE_SECONDS)
    zombies = settled(lambda: zombies_under(parents), _SETTLE_SECONDS)
    print(f"{jobs} jobs ended in {took:.1f} s, settled {time.monotonic() - began - took:.1f} s")
    assert counts["completed"] == jobs
    assert statuses == {"Completed"}
    assert strays == []
    assert zombies == []
