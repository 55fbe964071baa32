"""A server SIGKILLed while clients submit as fast as they can: after the restart every
submit it acknowledged is in the store, the SQLite file is sound, and no job ran twice."""

from __future__ import annotations

import collections
import random
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.faults.side_effects import Traces, integrity, stored_jobs
from tests.integration.server import (
    Server,
    create_user,
    free_port,
    kill_jobs_under,
)

_CLIENTS = 4
_BEFORE_KILL = 100  # acknowledged submits at least, so that the kill lands mid-stream
_ROUNDS_SLOW = 5  # kills at as many random moments with --slow


class Submitters:
    """Client threads that submit until the server stops answering."""

    def __init__(self, server: Server, key: str, command: str) -> None:
        self.acknowledged: list[str] = []
        self.refused: list[httpx.Response] = []
        self._threads = [
            threading.Thread(target=self._submit, args=(server, key, command), daemon=True)
            for _ in range(_CLIENTS)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(30)
            assert not thread.is_alive()

    def _submit(self, server: Server, key: str, command: str) -> None:
        body = {"jobName": "burst", "command": command, "executionMode": "BackgroundJob"}
        with server.client(key) as client:
            while True:
                try:
                    response = client.post("/jobs/submit", json=body)
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    self.acknowledged.append(response.json()["jobId"])
                else:
                    self.refused.append(response)


def _wait_all_finished(client: httpx.Client, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    params = {"includeCompleted": "false", "allUsers": "true"}
    while True:
        counts = client.get("/jobs", params=params).json()["counts"]
        if counts["pending"] + counts["running"] == 0:
            return
        assert time.monotonic() < deadline, f"jobs still unfinished: {counts}"
        time.sleep(0.2)


@dataclass(frozen=True)
class Round:
    """What one kill left: the figures, and what the restarted server found."""

    figures: str
    acknowledged: list[str]
    missing: list[str]
    stored: dict[str, str]
    runs: collections.Counter[str]


def _kill_round(folder: Path, delay: float) -> Round:
    """Submit from several clients, SIGKILL the server ``delay`` s after the first
    acknowledged submits, check the file it left, restart and run what was stored."""
    data_dir = folder / "data"
    key = create_user(data_dir, "root", "system_admin")
    traces = Traces(folder)
    server = Server(data_dir, free_port(), {"JOBHOST_MAX_CONCURRENT_JOBS": "20"})
    server.start()
    try:
        assert server.proc is not None
        submitters = Submitters(server, key, traces.shell())
        began = time.monotonic()
        submitters.start()
        while len(submitters.acknowledged) < _BEFORE_KILL:
            assert time.monotonic() - began < 30, server.log()
            time.sleep(0.005)
        time.sleep(delay)
        server.proc.send_signal(signal.SIGKILL)
        acknowledged_at_kill = len(submitters.acknowledged)
        killed_after = time.monotonic() - began
        server.stop()  # reaps it
        submitters.join()
        acknowledged = list(submitters.acknowledged)
        assert submitters.refused == []
        assert integrity(data_dir / "jobhost.db") == ["ok"]

        server.port = free_port()
        server.start()
        with server.client(key) as client:
            _wait_all_finished(client, 90)
            missing = [
                job_id
                for job_id in acknowledged
                if client.get("/jobs", params={"jobId": job_id}).status_code != 200
            ]
        stored = stored_jobs(data_dir / "jobhost.db")
    finally:
        server.stop()
        kill_jobs_under(data_dir)
    figures = (
        f"killed {killed_after:.2f} s in, {acknowledged_at_kill} acknowledged then,"
        f" {len(acknowledged)} in all, {len(stored)} stored"
    )
    return Round(figures, acknowledged, missing, stored, traces.runs())


@pytest.mark.timeout(600)
def test_every_acknowledged_submit_survives_a_sigkill_and_runs_once(
    tmp_path: Path, slow: bool
) -> None:
    seed = random.randrange(1 << 32)
    pick = random.Random(seed)
    for n in range(_ROUNDS_SLOW if slow else 1):
        done = _kill_round(tmp_path / f"round{n}", pick.uniform(0.0, 1.0))
        figures = f"seed {seed}, round {n}: {done.figures}"
        print(figures)
        assert done.missing == [], figures
        runs, stored = done.runs, done.stored
        assert {job_id for job_id, times in runs.items() if times > 1} == set(), figures
        # Every acknowledged job ran, once, and ended well; so did every other stored one.
        assert {stored[job_id] for job_id in done.acknowledged} == {"Completed"}, figures
        assert set(stored.values()) == {"Completed"}, figures
        assert set(runs) == set(stored), figures
