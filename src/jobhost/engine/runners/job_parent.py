"""The engine's handle on its job parent (``job_parent_program.py``): start jobs there, learn of
their ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from jobhost.engine.runners.job_parent_program import receive, send

logger = logging.getLogger(__name__)

_PROGRAM = os.path.join(os.path.dirname(__file__), "job_parent_program.py")
_ANSWER_SECONDS = 30.0
_MESSAGE_BYTES = 1 << 20


class JobExit(NamedTuple):
    """How a job's shell ended: its exit status as a shell reports it, and what its process
    tree used by ``wait4``'s rusage (None where unknown)."""

    code: int
    cpu_seconds: float | None = None
    max_rss_bytes: int | None = None


def parse_exit(text: str) -> JobExit | None:
    """A job's ``exit`` file: ``code [cpu rss]``, the two last absent from files written by
    jobhost before it recorded resources; None if it holds no exit status (yet)."""
    fields = text.split()
    try:
        code = int(fields[0])
        if len(fields) < 3:
            return JobExit(code)
        return JobExit(code, float(fields[1]), int(fields[2]))
    except (IndexError, ValueError):
        return None


class ParentGone(OSError):
    """The job parent exited or stopped answering."""


class JobParent:
    """One job parent process. ``start`` is called by one thread at a time (the
    dispatcher's); ``end_of`` is awaited on that thread's event loop."""

    def __init__(self) -> None:
        requests, their_requests = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ends, their_ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fds = (their_requests.fileno(), their_ends.fileno())
        try:
            for fd in fds:
                os.set_inheritable(fd, True)
            # A bare pid rather than a Popen: the parent outlives this object whenever jobs
            # still run when the engine stops, and the engine's reaping of orphans takes it
            # once it has exited and close() has let go of it.
            self.pid = os.posix_spawn(
                sys.executable,
                # -I -S: nothing from the server's environment or site-packages; the
                # program needs the standard library only, and starts in milliseconds.
                [sys.executable, "-I", "-S", _PROGRAM, *map(str, fds)],
                {"PATH": os.environ.get("PATH", os.defpath)},  # jobs get theirs per request
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
                setsid=True,  # out of reach of signals meant for the server's group
            )
        finally:
            their_requests.close()
            their_ends.close()
        requests.settimeout(_ANSWER_SECONDS)
        ends.setblocking(False)
        self._requests = requests
        self._ends = ends
        self._reading_on: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[int, asyncio.Future[JobExit | None]] = {}
        self._early: dict[int, JobExit] = {}
        self.gone = False

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        run_dir: str,
        user: Sequence[object] | None = None,
    ) -> int:
        """Start a job, as ``user`` (``RunAs.request()``) if given; its pid. OSError if it
        could not start (ParentGone: the parent is not there to start it)."""
        request: dict[str, object] = {"argv": list(argv), "env": dict(env), "cwd": cwd}
        request["run_dir"] = run_dir
        if user is not None:
            request["user"] = list(user)
        try:
            send(self._requests, request)
            answer: dict[str, Any] | None = receive(self._requests)
        except (OSError, ValueError) as exc:
            raise ParentGone(f"the job parent did not answer: {exc}") from exc
        if answer is None:
            raise ParentGone("the job parent exited")
        if "pid" not in answer:
            raise OSError(answer.get("errno", 0), answer.get("error"), answer.get("file"))
        return int(answer["pid"])

    async def end_of(self, pid: int) -> JobExit | None:
        """How a job started here ended; None if the parent went away first."""
        loop = asyncio.get_running_loop()
        if self._reading_on is not loop:
            # A loop that closed took its reader with it; this one reads from now on.
            loop.add_reader(self._ends, self._read_ends)
            self._reading_on = loop
        self._read_ends()
        if pid in self._early:
            return self._early.pop(pid)
        if self.gone:
            return None
        future: asyncio.Future[JobExit | None] = loop.create_future()
        self._waiting[pid] = future
        return await future

    def close(self) -> None:
        """No more jobs: the parent exits once the ones it runs have ended. Their ends are
        no longer awaited here (the engine is stopping; the next one adopts the jobs)."""
        self._stop_reading()
        self._requests.close()
        self._ends.close()

    def abandon(self) -> None:
        """Give up on a parent that stopped answering: whoever awaits the end of one of its
        jobs is told it will not come (and waits for the job directly), then ``close``."""
        self._lost()
        self.close()

    def _read_ends(self) -> None:
        while True:
            try:
                message = self._ends.recv(_MESSAGE_BYTES)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:
                self._lost()
                return
            end = json.loads(message)
            ended = JobExit(int(end["code"]), end.get("cpu"), end.get("rss"))
            waiter = self._waiting.pop(end["pid"], None)
            if waiter is None:
                self._early[end["pid"]] = ended
            elif not waiter.done():
                waiter.set_result(ended)

    def _lost(self) -> None:
        if self.gone:
            return
        self.gone = True
        logger.warning(
            "the job parent (pid %d) is gone; jobs it ran are waited for directly", self.pid
        )
        self._stop_reading()
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_result(None)
        self._waiting.clear()

    def _stop_reading(self) -> None:
        if self._reading_on is not None and not self._reading_on.is_closed():
            with contextlib.suppress(RuntimeError):
                self._reading_on.remove_reader(self._ends)
