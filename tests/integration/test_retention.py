"""Retention on a real server: 100,000 finished jobs purged while the API keeps answering.

The rows are written straight into the store before the server starts (the API would only
measure submission); the server's retention pass at start then deletes them in batches
while a client lists jobs without pause. The 200 ms bound on its p99 is a bound on
blocking (a purge holding the store for seconds), not a benchmark.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert

from jobhost.store.schema import job_output, job_totals, jobs
from tests.integration.server import Server, create_user, free_port, kill_jobs_under

OLD_JOBS = 100_000
BATCH_ROWS = 20_000
DAY = 86400.0
P99_BOUND_SECONDS = 0.2


def old_job(i: int, finished_at: float) -> dict[str, Any]:
    return {
        "job_id": f"00000000-0000-4000-8000-{i:012x}",
        "user_id": "root",
        "name": f"old-{i}",
        "command": "true",
        "mode": "BackgroundJob",
        "status": "Completed" if i % 5 else "Failed",
        "submitted_at": finished_at - 1,
        "started_at": finished_at - 0.5,
        "completed_at": finished_at,
        "exit_code": 0 if i % 5 else 1,
        "attempt": 1,
        "output_size": 4,
    }


def load(db_path: Path, count: int, young: int, now: float) -> list[str]:
    """``count`` jobs finished 31+ days ago with 4 bytes of output each, and ``young`` ones
    finished an hour ago; the young ones' ids."""
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.begin() as conn:
            for first in range(0, count + young, BATCH_ROWS):
                rows = [
                    old_job(i, now - (31 * DAY if i < count else 3600) - i * 0.01)
                    for i in range(first, min(first + BATCH_ROWS, count + young))
                ]
                conn.execute(insert(jobs), rows)
                chunks = [{"job_id": r["job_id"], "start": 0, "data": b"out\n"} for r in rows]
                conn.execute(insert(job_output), chunks)
            conn.execute(insert(job_totals), [{"user_id": "root", "finished": count + young}])
    finally:
        engine.dispose()
    return [old_job(i, 0)["job_id"] for i in range(count, count + young)]


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@pytest.mark.timeout(300)  # about 40 s alone; the machine may be shared
def test_retention_purges_a_long_history_in_batches_while_listings_stay_quick(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    key = create_user(data_dir, "root", "system_admin")  # also creates the store
    young = load(data_dir / "jobhost.db", OLD_JOBS, 3, time.time())
    leftover = data_dir / "runs" / old_job(7, 0)["job_id"]
    leftover.mkdir(parents=True)
    (leftover / "output").write_bytes(b"out\n")

    server = Server(data_dir, free_port(), {})
    server.start()
    try:
        latencies: list[float] = []
        seen: list[int] = []
        with server.client(key) as client:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                began = time.perf_counter()
                response = client.get("/jobs")
                latencies.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text
                seen.append(response.json()["counts"]["completed"])
                if seen[-1] == len(young):
                    break
            body = client.get("/jobs").json()
            output = client.get("/jobs/output", params={"jobId": young[0]}).json()["output"]
            gone = client.get("/jobs", params={"jobId": old_job(0, 0)["job_id"]})
    finally:
        server.stop()
        kill_jobs_under(data_dir)

    assert seen[-1] == len(young), f"still {seen[-1]} finished jobs after 4 minutes"
    during = [count for count in seen if len(young) < count < OLD_JOBS + len(young)]
    assert len(during) >= 5, "the listings must be measured while the purge runs"
    assert seen == sorted(seen, reverse=True)  # the count only goes down, batch by batch
    assert p99(latencies) < P99_BOUND_SECONDS, f"p99 {p99(latencies) * 1000:.0f} ms"
    assert sorted(job["JobID"] for job in body["jobs"]["completed"]) == sorted(young)
    assert output == "out\n"
    assert gone.status_code == 404
    assert not leftover.exists()
    assert "retention deleted 100000 finished jobs" in server.log()
