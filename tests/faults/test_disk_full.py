"""A data dir on a small tmpfs filled to the last byte: writes answer 503 saying the disk is
full, reads keep answering, and once space is freed new submits succeed and run.

tests/full_disk.py simulates the same SQLITE_FULL inside one process (max_page_count);
this is the real thing, where the runner's files share the full disk with the store."""

from __future__ import annotations

import contextlib
import datetime
import errno
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobhost.engine.recorder import OUTPUT_LOST_NOTE
from tests.faults.side_effects import integrity
from tests.integration.server import Server, create_user, serving, wait_finished

_FULL = "The job store is unavailable: the disk is full."
_PADDING = "#" * 60_000  # a command this long fills pages fast
_DUE_SECONDS = 1.0


def fill(folder: Path) -> Path:
    """A file in ``folder`` grown until the file system has no byte left."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * chunk)
    with pytest.raises(OSError) as raised:
        (folder / "one-more").write_bytes(b"\0" * 4096)
    assert raised.value.errno == errno.ENOSPC
    return filler


def _submit(client: httpx.Client, command: str) -> httpx.Response:
    body = {"jobName": "full", "command": command, "executionMode": "BackgroundJob"}
    return client.post("/jobs/submit", json=body)


def _submit_until_refused(client: httpx.Client, tries: int = 300) -> tuple[int, httpx.Response]:
    """Submit long commands until one is refused; how many were accepted, and the refusal."""
    for accepted in range(tries):
        response = _submit(client, f"true {_PADDING}")
        if response.status_code != 200:
            return accepted, response
    raise AssertionError(f"{tries} submits to a full disk were all accepted")


def _due_soon(client: httpx.Client, command: str, mode: str) -> str:
    """A job that will start once the disk is full (in a second)."""
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=_DUE_SECONDS)
    run_at = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {"jobName": "due", "command": command, "executionMode": mode, "runAt": run_at}
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def _whole_or_said_lost(job: dict[str, Any], output: str) -> bool:
    """A job that ran while the disk was full either kept all its output and completed,
    or failed saying its output was lost; never Completed with output missing."""
    if job["Status"] == "Completed":
        return bool(job["Output"] == output)
    return bool(job["Status"] == "Failed" and job["Output"].endswith(OUTPUT_LOST_NOTE + "\n"))


def _health(server: Server) -> httpx.Response:
    return httpx.get(server.url + "/healthz", timeout=10)


def _refuses_writes_keeps_reads(server: Server, client: httpx.Client, job_id: str) -> int:
    """On the full disk: a submit is refused saying so, reads of ``job_id`` answer as
    before, /healthz says why; how many submits were still accepted."""
    accepted, refused = _submit_until_refused(client)
    assert (refused.status_code, refused.json()) == (
        503,
        {"success": False, "error": _FULL},
    ), server.log()
    job = client.get("/jobs", params={"jobId": job_id})
    assert (job.status_code, job.json()["job"]["Output"]) == (200, "before\n")
    assert client.get("/jobs").status_code == 200
    output = client.get("/jobs/output", params={"jobId": job_id})
    assert output.json()["output"] == "before\n"
    health = _health(server)
    assert health.status_code == 503
    assert "the disk is full" in health.json()["reason"]
    return accepted


@pytest.mark.timeout(90)
def test_a_full_disk_refuses_writes_keeps_reads_and_recovers_once_freed(
    tmp_path: Path, tmpfs: Callable[[str], Path]
) -> None:
    data_dir = tmpfs("8m") / "data"
    key = create_user(data_dir, "root", "system_admin")
    with serving(data_dir, {}, log_dir=tmp_path) as server, server.client(key) as client:
        before = _submit(client, "echo before")
        assert before.status_code == 200, before.text
        job_id = before.json()["jobId"]
        assert wait_finished(client, job_id)["Output"] == "before\n"
        due_python = _due_soon(client, "print('due')", "Runspace")
        due_shell = _due_soon(client, "echo due", "BackgroundJob")
        filler = fill(data_dir.parent)
        began = time.monotonic()
        accepted = _refuses_writes_keeps_reads(server, client, job_id)
        print(f"{accepted} submits accepted after the disk filled")

        time.sleep(max(0.0, began + _DUE_SECONDS + 1 - time.monotonic()))
        filler.unlink()
        after = _submit(client, "echo after")
        assert after.status_code == 200, after.text
        assert wait_finished(client, after.json()["jobId"])["Output"] == "after\n"
        # What started while the disk was full has ended, honestly.
        assert _whole_or_said_lost(wait_finished(client, due_python), "due\n")
        assert wait_finished(client, due_shell)["Status"] in {"Completed", "Failed"}
        deadline = time.monotonic() + 15
        while _health(server).status_code != 200:
            assert time.monotonic() < deadline, _health(server).text
            time.sleep(0.2)
    assert integrity(data_dir / "jobhost.db") == ["ok"]
