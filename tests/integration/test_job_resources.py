"""Per-job resources (CONTRACT Part 2, "History"): what a finished BackgroundJob's process
tree used, as CpuSeconds and MaxRssBytes, against a real server and real processes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Keys
from tests.integration.server import Server, wait_finished, wait_for_output
from tests.integration.test_api import submit

# About a second of CPU, however busy the machine: bounded by the process's own CPU time.
BURN_ONE_CPU_SECOND = (
    "python3 -c 'import time\nt = time.process_time()\nwhile time.process_time() - t < 1: pass'"
)
# About 50 MB resident: the bytes are written, so every page is touched.
HOLD_50_MB = "python3 -c 'x = b\"x\" * 50_000_000; print(len(x))'"


def finished(client: httpx.Client, command: str, mode: str = "BackgroundJob") -> dict[str, Any]:
    return wait_finished(client, submit(client, command, mode))


def test_a_job_that_burns_a_cpu_second_records_about_that(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as client:
        job = finished(client, f"{BURN_ONE_CPU_SECOND}; echo done")
    assert job["Status"] == "Completed", job
    cpu = job["CpuSeconds"]
    assert isinstance(cpu, float) and 0.5 <= cpu <= 2, job  # the python a child of the shell
    rss = job["MaxRssBytes"]
    assert isinstance(rss, int) and rss > 1 << 20


def test_a_job_whose_child_holds_50_mb_records_its_peak(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as client:
        small = finished(client, "true")
        large = finished(client, f"{HOLD_50_MB}; echo the shell itself stays small")
        listed = client.get("/jobs", params={"jobId": large["JobID"]}).json()["job"]
    assert large["Status"] == "Completed", large
    rss = large["MaxRssBytes"]
    assert isinstance(rss, int) and rss >= 40_000_000, large
    assert isinstance(small["MaxRssBytes"], int) and small["MaxRssBytes"] < 40_000_000
    assert isinstance(small["CpuSeconds"], float) and small["CpuSeconds"] < 0.5
    assert (listed["CpuSeconds"], listed["MaxRssBytes"]) == (large["CpuSeconds"], rss)


def test_a_stopped_job_records_what_it_used_until_then(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as client:
        job_id = submit(client, f"{HOLD_50_MB}; sleep 300")
        wait_for_output(client, job_id, "50000000")
        assert client.delete("/jobs", params={"jobId": job_id}).status_code == 200
        job = wait_finished(client, job_id)
    assert job["Status"] == "Stopped", job
    assert isinstance(job["MaxRssBytes"], int) and job["MaxRssBytes"] >= 40_000_000


def test_runspace_and_main_loop_jobs_record_no_resources(server: Server, keys: Keys) -> None:
    # They run inside the server's process: nothing of its own to count.
    with server.client(keys.admin) as client:
        for mode in ("Runspace", "MainLoop"):
            job = finished(client, "x = b'x' * 1000", mode)
            assert job["Status"] == "Completed", job
            assert (job["CpuSeconds"], job["MaxRssBytes"]) == (None, None)
