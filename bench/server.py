"""A real ``jobhost serve`` in a subprocess on a loopback port, as the benchmarks drive it.

Like tests/integration/server.py: the user and its key are made with the CLI, the server
gets its own data dir, and every BackgroundJob it started is killed afterwards (they
outlive the server by design). Tokens are kept in memory and never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.http import API, Connection, submit_body
from jobhost.engine.runners.process import running_job_pid
from jobhost.engine.runners.process_tree import signal_group

USER = "bench"
_STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBHOST_")}
    env["JOBHOST_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


def run_cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jobhost", *args],
        capture_output=True,
        text=True,
        env=clean_env(data_dir),
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"jobhost {args[0]} {args[1]} failed: {done.stderr.strip()}")
    return done.stdout


class BenchServer:
    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = dict(env or {})
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""

    @property
    def db_path(self) -> Path:
        return self.data_dir / "jobhost.db"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def prepare(self) -> None:
        """Create the data dir, the store, and the benchmark user with a key."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_cli(self.data_dir, "user", "add", USER, "--role", "system_admin", "--role", "debug")
        self.token = run_cli(self.data_dir, "key", "create", USER).strip().splitlines()[-1]

    def start(self) -> None:
        if not self.token:
            self.prepare()
        with open(self.data_dir / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobhost", "serve", "--port", str(self.port)],
                env=clean_env(self.data_dir, self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start: {self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready: {self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        kill_jobs_under(self.data_dir)

    def log_tail(self, lines: int = 20) -> str:
        path = self.data_dir / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def connect(self) -> Connection:
        return Connection(self.port, self.token)

    def memory_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, in KiB."""
        return read_memory(self.pid)

    def reset_peak(self) -> bool:
        """Restart VmHWM from the current RSS (Linux clear_refs "5"); False if refused."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Read the server's SQLite store directly (read-only) for exact timestamps."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def __enter__(self) -> BenchServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def read_memory(pid: int, keys: Sequence[str] = ("VmRSS", "VmHWM")) -> dict[str, int]:
    """The first number of each of ``keys`` in /proc/<pid>/status (sizes are in KiB)."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in keys:
            found[key] = int(rest.split()[0])
    return found


def kill_jobs_under(data_dir: Path) -> None:
    """Kill the process groups of the BackgroundJobs still running in ``data_dir``."""
    runs = data_dir / "runs"
    for run_dir in runs.iterdir() if runs.is_dir() else ():
        pid = running_job_pid(run_dir)
        if pid is not None:
            signal_group(pid, signal.SIGKILL)


class Gate:
    """A MainLoop job that holds the dispatcher until released.

    MainLoop jobs run inside the dispatcher's loop and nothing else is dispatched until they
    return, so jobs submitted behind the gate all wait as Pending: a drain then starts with
    the whole workload queued, and a submit benchmark measures submission alone.
    """

    def __init__(self, server: BenchServer, name: str) -> None:
        self.path = server.data_dir / f"gate-{name}"
        self.name = name
        self.job_id = ""

    async def close(self, conn: Connection) -> None:
        os.mkfifo(self.path)
        # A blocking read of a FIFO waits without touching the GIL; the gate polled a file
        # every 0.5 ms before, taking the GIL from the server it measures 2,000 times a
        # second for the whole of submit-rate.
        command = f"open({str(self.path)!r}, 'rb').read()\n"
        body = submit_body(f"gate-{self.name}", command, "MainLoop")
        self.job_id = (await conn.call("POST", f"{API}/jobs/submit", body))["jobId"]
        while True:
            job = (await conn.call("GET", f"{API}/jobs?jobId={self.job_id}"))["job"]
            if job["Status"] == "Running":
                return
            await asyncio.sleep(0.01)

    def release(self, timeout: float = 30.0) -> None:
        """Open the FIFO's writing end and close it: the gate's read returns at once. The
        job may not have opened its end yet (it shows Running first), so wait for it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError as error:
                if error.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
            time.sleep(0.001)


async def wait_idle(conn: Connection, timeout: float, poll: float = 0.05) -> dict[str, int]:
    """Poll until nothing is pending or running; returns the final counts."""
    deadline = time.monotonic() + timeout
    path = f"{API}/jobs?includePending=false&includeRunning=false&includeCompleted=false"
    await asyncio.sleep(poll)
    while True:
        counts: dict[str, int] = (await conn.call("GET", path))["counts"]
        if counts["pending"] + counts["running"] == 0:
            return counts
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still unfinished after {timeout:g} s: {counts}")
        await asyncio.sleep(poll)
