"""BackgroundJob: the command runs under the configured shell as a separate OS process.

Each job gets a run folder (``<data>/runs/<job id>/``). The engine's job parent
(``job_parent_program.py``, one process per engine) starts the job's shell in a new session, so that
the job has a process group of its own, with stdout and stderr appended to ``output`` (one
file, so the two stay in the order written and the child never blocks on a full pipe); it
writes the job's pid to ``pid`` and, once the job has ended, its exit status to ``exit``.
Nothing about the job lives only in the engine's memory, so an engine that is killed and
restarted adopts the job again: it follows ``output`` from the byte it had stored and takes
the exit status from ``exit``, which the parent, outliving the engine, still writes (the
pattern of Jenkins' durable tasks and container shims).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from jobhost import policy
from jobhost.clock import Clock
from jobhost.engine.runners import StopReason, stopped_outcome
from jobhost.engine.runners.job_parent import JobExit, JobParent, ParentGone, parse_exit
from jobhost.engine.runners.process_tree import (
    ProcInfo,
    adopted_escapees,
    all_processes,
    cmdline,
    families,
    job_of,
    kill_tree,
    my_children,
    read_proc,
    signal_group,
    signal_processes,
    tree_of,
)
from jobhost.engine.runners.runas import RunAs
from jobhost.engine.sources import FileTail
from jobhost.models import Job, Outcome, Status

logger = logging.getLogger(__name__)

# Jobs started before the job parent existed ran under this wrapper, which wrote their exit
# status; an engine adopting such a job finds it by the wrapper's command line.
_LEGACY_WRAPPER_NAME = "jobhost-job"
_GROUP_POLL_SECONDS = 0.05
# After an adopted job ends, its parent (of the engine before) writes the exit file at once.
_EXIT_FILE_WAIT_SECONDS = 2.0
_EXIT_FILE_POLL_SECONDS = 0.01
# How long after a job's end its adopted leftovers are still looked for (kill_leftovers).
_LEFTOVER_WATCH_SECONDS = 30.0
# A look for leftovers this soon after a job's end, beside the dispatcher's once a tick: a
# process that was being exec'd at the end shows its job id by then.
_LEFTOVER_FOLLOW_UP_SECONDS = 0.05


def minimal_environment(
    server_env: Mapping[str, str], job: Job, run_as: RunAs | None = None
) -> dict[str, str]:
    """What a job's process sees: a few basics, never the server's own settings or secrets."""
    env = {
        "PATH": server_env.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": run_as.home if run_as else server_env.get("HOME", "/"),
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
        run_as: RunAs | None = None,
    ) -> None:
        """``run_as``: the user jobs run as (``JOBHOST_RUN_AS``); None: the server's."""
        self.runs_dir = runs_dir
        self.run_as = run_as
        self._user = None if run_as is None else run_as.request()
        self.workspace = workspace
        self.shell_argv = shell_argv
        self.clock = clock
        self.server_env = dict(server_env)
        self.children: set[int] = set()
        """Pids this engine waits for itself (its jobs and its job parent), which the
        reaping of orphans and the search for escaped processes leave alone."""
        self._children_now: tuple[asyncio.AbstractEventLoop, list[int]] | None = None
        self._ended: dict[str, float] = {}  # job id -> when it ended, oldest first
        self._follow_up: asyncio.TimerHandle | None = None
        self._parent: JobParent | None = None

    def start(self, job: Job) -> ProcessRun:
        # Plain strings rather than pathlib: this runs for every job on the dispatcher.
        run_dir = os.path.join(self.runs_dir, job.job_id)
        os.makedirs(run_dir, mode=0o700, exist_ok=True)  # the job's output: the server's only
        argv = [*self.shell_argv, job.spec.command]
        env = minimal_environment(self.server_env, job, self.run_as)
        cwd = str(job.spec.working_directory or self.workspace)
        parent = self._job_parent()
        try:
            pid = parent.start(argv, env, cwd, run_dir, self._user)
        except ParentGone:
            logger.warning("the job parent is gone; starting another")
            parent = self._job_parent(replace=True)
            pid = parent.start(argv, env, cwd, run_dir, self._user)
        self.children.add(pid)
        tail = FileTail(os.path.join(run_dir, "output"))
        return ProcessRun(self, job, run_dir, pid, parent, tail)

    def close(self) -> None:
        """Start no more jobs; the job parent exits once the jobs it runs have ended."""
        self._let_go_of_parent(JobParent.close)

    def _let_go_of_parent(self, how: Callable[[JobParent], None]) -> None:
        if self._parent is not None:
            how(self._parent)
            self.children.discard(self._parent.pid)
            self._parent = None

    def _job_parent(self, replace: bool = False) -> JobParent:
        if replace:
            self._let_go_of_parent(JobParent.abandon)
        if self._parent is None:
            self._parent = JobParent()
            self.children.add(self._parent.pid)
        return self._parent

    def adopt(self, job: Job) -> ProcessRun | None:
        """Take over a job a previous engine started, or None if nothing of it is left."""
        run_dir = self.runs_dir / job.job_id
        output = run_dir / "output"
        if not output.exists():
            return None
        pid = running_job_pid(run_dir)
        if pid is None and not (run_dir / "exit").exists():
            return None
        tail = FileTail(output, job.output_size + job.output_dropped)
        return ProcessRun(self, job, str(run_dir), pid, None, tail)

    def remove_run_dir(self, job_id: str) -> None:
        # The folder normally holds just the three files the job parent writes; unlinking
        # them by name costs a fraction of rmtree's walk, which remains for anything else.
        run_dir = os.path.join(self.runs_dir, job_id)
        try:
            for name in ("output", "pid", "exit"):
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

    def watch_for_leftovers(self, job_id: str) -> None:
        """Watch the ended job's id for leftovers for a while; call from the event loop."""
        self._ended[job_id] = self.clock.monotonic()
        if self._follow_up is None:  # one look for the ends of a burst, not one per end
            loop = asyncio.get_running_loop()
            self._follow_up = loop.call_later(_LEFTOVER_FOLLOW_UP_SECONDS, self._look_again)

    def _look_again(self) -> None:
        self._follow_up = None
        self.kill_leftovers()

    def kill_leftovers(self) -> None:
        """SIGKILL the adopted processes of jobs that ended in the last half minute.

        A job's end kills what it finds at once, but a process being exec'd then reads as
        having no environment, and one being forked is not there yet: both are adopted, or
        show their job id, a moment later. Called by the dispatcher once a tick.
        """
        if not self._ended:
            return
        cutoff = self.clock.monotonic() - _LEFTOVER_WATCH_SECONDS
        while self._ended and next(iter(self._ended.values())) < cutoff:
            del self._ended[next(iter(self._ended))]
        strays = [pid for pid in self.my_children() if pid not in self.children]
        tops = [pid for pid in strays if job_of(pid) in self._ended]
        signal_processes(families(tops), signal.SIGKILL)

    def run_dir_ids(self) -> list[str]:
        """The job ids that have a run folder here."""
        with contextlib.suppress(FileNotFoundError), os.scandir(self.runs_dir) as entries:
            return [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
        return []


def running_job_pid(run_dir: Path) -> int | None:
    """The pid of the job still running in ``run_dir``: the one its ``pid`` file names, if
    that process started when the file says (a pid can be reused)."""
    try:
        pid, start_ticks = map(int, (run_dir / "pid").read_text("ascii").split())
    except FileNotFoundError:
        return _find_legacy_wrapper(run_dir)
    except (OSError, ValueError):
        return None
    proc = read_proc(pid)
    return pid if proc is not None and proc.alive and proc.start_ticks == start_ticks else None


def _find_legacy_wrapper(run_dir: Path) -> int | None:
    """The pid of a wrapper (jobhost before the job parent) still running in ``run_dir``."""
    exit_path = str(run_dir / "exit")
    for proc in all_processes():
        if proc.pid == proc.sid and proc.alive:
            args = cmdline(proc.pid)
            if len(args) > 4 and args[3] == _LEGACY_WRAPPER_NAME and args[4] == exit_path:
                return proc.pid
    return None


class ProcessRun:
    def __init__(
        self,
        runner: ProcessRunner,
        job: Job,
        run_dir: str,
        pid: int | None,
        parent: JobParent | None,
        source: FileTail,
    ) -> None:
        """``parent``: the job parent that started the job, None for an adopted job."""
        self._runner = runner
        self._job = job
        self._run_dir = run_dir
        self._pid = pid
        self._parent = parent
        self.source = source
        self._stop_reason: StopReason | None = None
        self._kill_at: float | None = None
        self._seen: list[ProcInfo] = []

    async def wait(self) -> Outcome:
        exit_path = os.path.join(self._run_dir, "exit")
        if self._pid is None:  # adopted after it had ended
            return self._outcome(_read_exit(exit_path))
        if self._parent is not None:
            ended = await self._parent.end_of(self._pid)
            if ended is None:  # the parent died first: the engine, as subreaper, inherited it
                await _exited(self._pid)
                ended = _reap(self._pid)
        else:
            await _exited(self._pid)
            ended = await _exit_file(exit_path)
        await self._clear_leftovers()
        self._runner.watch_for_leftovers(self._job.job_id)
        self._runner.children.discard(self._pid)
        return self._outcome(ended)

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
        """Once the job's shell is gone, nothing the job started may outlive it.

        After a normal end, leftovers in the job's group (``cmd &`` never waited for) and
        those that left it and were adopted by the engine are killed at once. After a stop,
        processes that trapped SIGTERM keep their grace period, then all of them are killed:
        the adopted ones too, before the job counts as stopped.
        """
        assert self._pid is not None
        if self._kill_at is None:
            signal_group(self._pid, signal.SIGKILL)
            signal_processes(self._escapees(), signal.SIGKILL)
            return
        clock = self._runner.clock
        while clock.monotonic() < self._kill_at:
            if not tree_of(self._pid, all_processes()) and not self._escapees():
                return
            await asyncio.sleep(_GROUP_POLL_SECONDS)
        self._kill()

    def _outcome(self, ended: JobExit | None) -> Outcome:
        if self._stop_reason is not None:
            # No exit status after a stop: the signal, not the job, decided it (docs/MODES.md).
            outcome = stopped_outcome(self._stop_reason, None, self._job.spec.timeout_seconds)
        elif ended is None:
            note = "[Job ended without an exit status: its parent process was killed]"
            return Outcome(Status.FAILED, None, note)
        else:
            outcome = Outcome(policy.finished_status_for_exit(ended.code), ended.code)
        if ended is None:
            return outcome
        return replace(outcome, cpu_seconds=ended.cpu_seconds, max_rss_bytes=ended.max_rss_bytes)


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


def _reap(pid: int) -> JobExit | None:
    """How a child of the engine that has ended did, as its job parent would have said."""
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:  # not the engine's after all: no status to be had
        return None
    code = os.waitstatus_to_exitcode(status)
    cpu = round(usage.ru_utime + usage.ru_stime, 6)
    return JobExit(code if code >= 0 else 128 - code, cpu, usage.ru_maxrss * 1024)


async def _exit_file(path: str) -> JobExit | None:
    """The end recorded in ``path``, waiting briefly for the job's parent to write it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _EXIT_FILE_WAIT_SECONDS
    while (ended := _read_exit(path)) is None and loop.time() < deadline:
        await asyncio.sleep(_EXIT_FILE_POLL_SECONDS)
    return ended


def _read_exit(path: str) -> JobExit | None:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return parse_exit(file.read())
    except OSError:
        return None
