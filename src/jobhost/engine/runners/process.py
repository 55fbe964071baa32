"""BackgroundJob: the command runs under the configured shell as a separate OS process.

Each job gets a run folder (``<data>/runs/<job id>/``). A small /bin/sh wrapper, started in a
new session so that the job has a process group of its own, runs the command with stdout
and stderr appended to ``output`` (one file, so the two stay in the order written and the
child never blocks on a full pipe) and then writes the command's exit status to ``exit``.
Nothing about the job lives only in the engine's memory, so an engine that is killed and
restarted adopts the job again: it follows ``output`` from the byte it had stored and takes
the exit status from ``exit`` (the pattern of Jenkins' durable tasks and container shims).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from jobhost.clock import Clock
from jobhost.engine.runners import StopReason, stopped_outcome
from jobhost.engine.runners.procs import (
    ProcInfo,
    adopted_escapees,
    all_processes,
    cmdline,
    kill_tree,
    my_children,
    signal_group,
    signal_processes,
    tree_of,
)
from jobhost.engine.sources import FileTail
from jobhost.models import Job, Outcome, Status

logger = logging.getLogger(__name__)

# $1: where to write the exit status; the rest: the shell and the command to run.
_WRAPPER = 'e=$1; shift; "$@"; echo $? >"$e"'
_WRAPPER_NAME = "jobhost-job"
_GROUP_POLL_SECONDS = 0.05


def minimal_environment(server_env: Mapping[str, str], job: Job) -> dict[str, str]:
    """What a job's process sees: a few basics, never the server's own settings or secrets."""
    env = {
        "PATH": server_env.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": server_env.get("HOME", "/"),
        "LANG": server_env.get("LANG", "C.UTF-8"),
        "JOBHOST_JOB_ID": job.job_id,
        "JOBHOST_JOB_NAME": job.spec.name,
    }
    env.update(job.spec.env)
    return env


class ProcessRunner:
    def __init__(
        self,
        runs_dir: Path,
        workspace: Path,
        shell_argv: list[str],
        clock: Clock,
        server_env: Mapping[str, str],
    ) -> None:
        self.runs_dir = runs_dir
        self.workspace = workspace
        self.shell_argv = shell_argv
        self.clock = clock
        self.server_env = dict(server_env)
        self.children: set[int] = set()
        """Pids of wrappers this engine started and will wait for itself."""
        self._children_now: tuple[asyncio.AbstractEventLoop, list[int]] | None = None

    def start(self, job: Job) -> ProcessRun:
        # Plain strings rather than pathlib: this runs for every job on the dispatcher.
        run_dir = os.path.join(self.runs_dir, job.job_id)
        os.makedirs(run_dir, exist_ok=True)
        output = os.path.join(run_dir, "output")
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            argv = ["/bin/sh", "-c", _WRAPPER, _WRAPPER_NAME, os.path.join(run_dir, "exit")]
            proc = subprocess.Popen(
                [*argv, *self.shell_argv, job.spec.command],
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                start_new_session=True,
                cwd=job.spec.working_directory or self.workspace,
                env=minimal_environment(self.server_env, job),
            )
        finally:
            os.close(fd)
        self.children.add(proc.pid)
        return ProcessRun(self, job, run_dir, proc.pid, proc, FileTail(output))

    def adopt(self, job: Job) -> ProcessRun | None:
        """Take over a job a previous engine started, or None if nothing of it is left."""
        run_dir = self.runs_dir / job.job_id
        output = run_dir / "output"
        if not output.exists():
            return None
        pid = _find_wrapper(run_dir)
        if pid is None and not (run_dir / "exit").exists():
            return None
        tail = FileTail(output, job.output_size + job.output_dropped)
        return ProcessRun(self, job, str(run_dir), pid, None, tail)

    def remove_run_dir(self, job_id: str) -> None:
        # The folder normally holds just the two files the wrapper writes; unlinking them
        # by name costs a fraction of rmtree's walk, which remains for anything else.
        run_dir = os.path.join(self.runs_dir, job_id)
        try:
            for name in ("output", "exit"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(run_dir, name))
            os.rmdir(run_dir)
        except FileNotFoundError:
            pass
        except OSError:
            shutil.rmtree(run_dir, ignore_errors=True)

    def my_children(self) -> list[int]:
        """The engine's child processes, read from /proc once per turn of the event loop:
        the jobs that end together (several per turn while a queue drains) share one
        reading, which opens a file per thread of the server."""
        loop = asyncio.get_running_loop()
        if self._children_now is None or self._children_now[0] is not loop:
            self._children_now = (loop, my_children())
            loop.call_soon(self._forget_children)
        return self._children_now[1]

    def _forget_children(self) -> None:
        self._children_now = None

    def run_dir_ids(self) -> list[str]:
        """The job ids that have a run folder here."""
        with contextlib.suppress(FileNotFoundError), os.scandir(self.runs_dir) as entries:
            return [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
        return []


def _find_wrapper(run_dir: Path) -> int | None:
    """The pid of the wrapper still running in ``run_dir``, checked against its command line."""
    exit_path = str(run_dir / "exit")
    for proc in all_processes():
        if proc.pid == proc.sid and proc.alive:
            args = cmdline(proc.pid)
            if len(args) > 4 and args[3] == _WRAPPER_NAME and args[4] == exit_path:
                return proc.pid
    return None


class ProcessRun:
    def __init__(
        self,
        runner: ProcessRunner,
        job: Job,
        run_dir: str,
        pid: int | None,
        popen: subprocess.Popen[bytes] | None,
        source: FileTail,
    ) -> None:
        self._runner = runner
        self._job = job
        self._run_dir = run_dir
        self._pid = pid
        self._popen = popen
        self.source = source
        self._stop_reason: StopReason | None = None
        self._kill_at: float | None = None
        self._seen: list[ProcInfo] = []

    async def wait(self) -> Outcome:
        if self._pid is not None:
            await _exited(self._pid)
        if self._popen is not None:
            self._popen.wait()
            self._runner.children.discard(self._popen.pid)
        if self._pid is not None:
            await self._clear_leftovers()
        return self._outcome(_read_exit_code(os.path.join(self._run_dir, "exit")))

    def stop(self, grace: float, reason: StopReason) -> None:
        if self._stop_reason is not None or self._pid is None:
            return
        self._stop_reason = reason
        self._kill_at = self._runner.clock.monotonic() + grace
        self._seen = tree_of(self._pid, all_processes()) + self._escapees()
        signal_group(self._pid, signal.SIGTERM)
        for proc in self._seen:
            if proc.pgrp != self._pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(proc.pid, signal.SIGTERM)
        asyncio.get_running_loop().call_later(grace, self._kill)

    def _kill(self) -> None:
        if self._pid is not None:
            kill_tree(self._pid, [*self._seen, *self._escapees()])

    def _escapees(self) -> list[ProcInfo]:
        return adopted_escapees(self._job.job_id, self._runner.children, self._runner.my_children())

    async def _clear_leftovers(self) -> None:
        """Once the wrapper is gone, nothing the job started may outlive it.

        After a normal end, leftovers in the job's group (``cmd &`` never waited for) and
        those that left it and were adopted by the engine are killed at once. After a stop,
        processes that trapped SIGTERM keep their grace period, then all of them are killed.
        """
        assert self._pid is not None
        if self._kill_at is None:
            signal_group(self._pid, signal.SIGKILL)
            signal_processes(self._escapees(), signal.SIGKILL)
            return
        clock = self._runner.clock
        while clock.monotonic() < self._kill_at:
            if not tree_of(self._pid, all_processes()):
                return
            await asyncio.sleep(_GROUP_POLL_SECONDS)
        self._kill()

    def _outcome(self, exit_code: int | None) -> Outcome:
        if self._stop_reason is not None:
            return stopped_outcome(self._stop_reason, exit_code, self._job.spec.timeout_seconds)
        if exit_code is None:
            return Outcome(
                Status.FAILED, None, "[Job ended without an exit status: its shell was killed]"
            )
        return Outcome(Status.COMPLETED if exit_code == 0 else Status.FAILED, exit_code)


async def _exited(pid: int) -> None:
    """Wait until ``pid`` exits, via a pidfd (works for adopted processes that are not ours)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def exited() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, exited)
    try:
        await done
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


def _read_exit_code(path: str) -> int | None:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            text = file.read().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None
