"""Running a real ``jobhost serve`` in a subprocess on a loopback port, and its CLI."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# The loopback port, the clean environment and the clean-up of left-behind jobs are the
# benchmark harness's too: one copy, in bench/server.py.
from bench.server import clean_env
from bench.server import free_port as free_port
from bench.server import kill_jobs_under as kill_jobs_under

BASE = "/apps/WebHostTaskManagement/api/v1"
cli_env = clean_env
_STARTUP_SECONDS = 30.0


def run_cli(
    data_dir: Path,
    *args: str,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobhost", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(data_dir, env),
        timeout=60,
        check=False,
    )


def create_user(data_dir: Path, name: str, *roles: str) -> str:
    """Create a user with the CLI and return a fresh API key for it."""
    role_args = [arg for role in roles for arg in ("--role", role)]
    added = run_cli(data_dir, "user", "add", name, *role_args)
    assert added.returncode == 0, added.stderr
    return create_key(data_dir, name)


def create_key(data_dir: Path, name: str, *options: str) -> str:
    made = run_cli(data_dir, "key", "create", name, *options)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    data_dir: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log_dir: Path | None = None
    """Where the server's log goes: the data dir unless given (a full or read-only data
    dir must not take the log with it)."""

    @property
    def log_path(self) -> Path:
        return (self.log_dir or self.data_dir) / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobhost", "serve", "--port", str(self.port)],
                env=cli_env(self.data_dir, self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url + BASE, headers=headers, timeout=30)


@contextlib.contextmanager
def serving(
    data_dir: Path, env: Mapping[str, str] | None = None, log_dir: Path | None = None
) -> Iterator[Server]:
    """A started server on a free port, stopped afterwards with the jobs it left behind."""
    srv = Server(data_dir, free_port(), dict(env or {}), log_dir=log_dir)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        kill_jobs_under(data_dir)


@contextlib.contextmanager
def clients(server: Server, tokens: Mapping[str, str]) -> Iterator[dict[str, httpx.Client]]:
    """An API client for each named key, closed afterwards."""
    made = {name: server.client(token) for name, token in tokens.items()}
    try:
        yield made
    finally:
        for client in made.values():
            client.close()


def wait_for(
    client: httpx.Client, job_id: str, predicate: Any, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll a job until ``predicate(job_record)`` holds; returns the record."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/jobs", params={"jobId": job_id})
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()["job"]
        if predicate(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never reached the expected state: {job}")
        time.sleep(0.02)


FINISHED = {"Completed", "Failed", "Stopped", "TimedOut", "Interrupted", "Cancelled"}


def wait_finished(client: httpx.Client, job_id: str, timeout: float = 20.0) -> dict[str, Any]:
    return wait_for(client, job_id, lambda job: job["Status"] in FINISHED, timeout)


def wait_for_output(client: httpx.Client, job_id: str, text: str, timeout: float = 20.0) -> str:
    """Poll a job's output until it contains ``text``; returns the output."""
    deadline = time.monotonic() + timeout
    while True:
        output: str = client.get("/jobs/output", params={"jobId": job_id}).json()["output"]
        if text in output:
            return output
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in job {job_id}: {output!r}")
        time.sleep(0.02)
