"""A server SIGKILLed with 20 jobs running and 100 pending: after the restart the
BackgroundJobs are adopted (those that ended while it was down and those still running)
and complete, the Runspace ones are Interrupted (docs/MODES.md), the pending ones run, and
every job ran exactly once."""

from __future__ import annotations

import shlex
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.faults.side_effects import Traces
from tests.integration.server import (
    Server,
    create_user,
    free_port,
    kill_jobs_under,
    wait_finished,
    wait_for,
)

_ENDS_WHILE_DOWN = 8  # BackgroundJobs whose gate opens while no server is up
_ENDS_AFTER = 8  # BackgroundJobs whose gate opens after the restart
_RUNSPACE_RUNNING = 4
_PENDING_SHELL = 90
_PENDING_PYTHON = 10
_SLOTS = _ENDS_WHILE_DOWN + _ENDS_AFTER + _RUNSPACE_RUNNING
_INTERRUPTED = "[Job interrupted: the server stopped while it ran]\n"


def _submit(client: httpx.Client, command: str, mode: str) -> str:
    body = {"jobName": "in-flight", "command": command, "executionMode": mode}
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def _gated_shell(traces: Traces, gate: Path, ended: Path) -> str:
    wait = f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.05; done"
    return traces.shell(f'{wait}; echo done; echo "$JOBHOST_JOB_ID" >> {shlex.quote(str(ended))}')


def _wait_lines(path: Path, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(path.read_text().split() if path.exists() else ()) < count:
        assert time.monotonic() < deadline, f"{path} never had {count} lines"
        time.sleep(0.05)


def _submit_python(client: httpx.Client, traces: Traces, keys: dict[str, str], then: str) -> str:
    """A Runspace job leaving its traces under a key of its own, noted in ``keys``."""
    trace_key = uuid.uuid4().hex
    job_id = _submit(client, traces.python(trace_key, then), "Runspace")
    keys[job_id] = trace_key
    return job_id


@pytest.mark.timeout(120)
def test_running_and_pending_jobs_all_end_correctly_after_a_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_user(data_dir, "root", "system_admin")
    traces = Traces(tmp_path)
    down_gate, up_gate, never = tmp_path / "down", tmp_path / "up", tmp_path / "never"
    ended = tmp_path / "ended.log"
    server = Server(data_dir, free_port(), {"JOBHOST_MAX_CONCURRENT_JOBS": str(_SLOTS)})
    server.start()
    keys: dict[str, str] = {}  # Runspace job id -> its trace key
    wait_never = f"import os, time\nwhile not os.path.exists({str(never)!r}):\n    time.sleep(0.05)"
    try:
        with server.client(key) as client:
            sh = "BackgroundJob"
            down_cmd, up_cmd = (_gated_shell(traces, gate, ended) for gate in (down_gate, up_gate))
            while_down = [_submit(client, down_cmd, sh) for _ in range(_ENDS_WHILE_DOWN)]
            after = [_submit(client, up_cmd, sh) for _ in range(_ENDS_AFTER)]
            cut_off = [
                _submit_python(client, traces, keys, wait_never) for _ in range(_RUNSPACE_RUNNING)
            ]
            _wait_lines(traces.log, _SLOTS)  # all of them have started
            pending = [
                _submit(client, traces.shell("echo done"), sh) for _ in range(_PENDING_SHELL)
            ]
            pending += [
                _submit_python(client, traces, keys, "print('done')")
                for _ in range(_PENDING_PYTHON)
            ]
            counts = client.get("/jobs").json()["counts"]
            assert (counts["running"], counts["pending"]) == (_SLOTS, len(pending))
            for job_id in while_down + after + cut_off:
                wait_for(client, job_id, lambda job: job["Status"] == "Running")
        server.stop(signal.SIGKILL)
        down_gate.touch()
        _wait_lines(ended, _ENDS_WHILE_DOWN)

        server.port = free_port()
        server.start()
        up_gate.touch()
        with server.client(key) as client:
            began = time.monotonic()
            shells = [wait_finished(client, job_id, 60) for job_id in while_down + after]
            cut = [wait_finished(client, job_id, 60) for job_id in cut_off]
            rest = [wait_finished(client, job_id, 60) for job_id in pending]
            print(f"all {len(shells + cut + rest)} ended {time.monotonic() - began:.1f} s in")
    finally:
        server.stop()
        kill_jobs_under(data_dir)
    assert [(job["Status"], job["ExitCode"], job["Output"]) for job in shells] == [
        ("Completed", 0, "done\n")
    ] * len(shells)
    assert {(job["Status"], job["Output"].endswith(_INTERRUPTED)) for job in cut} == {
        ("Interrupted", True)
    }
    assert {(job["Status"], job["Output"]) for job in rest} == {("Completed", "done\n")}
    assert {job["Attempt"] for job in shells + cut + rest} == {1}
    expected = [keys.get(job_id, job_id) for job_id in while_down + after + cut_off + pending]
    assert traces.runs() == dict.fromkeys(expected, 1)
