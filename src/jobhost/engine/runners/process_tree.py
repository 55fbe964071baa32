"""Linux process bookkeeping: the subreaper flag, process trees read from /proc, killing, reaping.

The engine makes itself a child subreaper so that a job's orphaned grandchildren become its
children rather than PID 1's (which, on our machines, never reaps them). It reaps them, and
finds the ones that left their job's session by the job id in their environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")
_JOB_ID_IS = b"JOBHOST_JOB_ID="


@dataclass(frozen=True, slots=True)
class ProcInfo:
    pid: int
    ppid: int
    pgrp: int
    sid: int
    state: str
    start_ticks: int

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def become_subreaper() -> bool:
    """Adopt orphaned descendants; False where the kernel refuses (not Linux, too old)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def read_proc(pid: int) -> ProcInfo | None:
    try:
        raw = _read(f"/proc/{pid}/stat")
    except OSError:
        return None
    # The command name sits in parentheses and may itself contain spaces or parentheses.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return ProcInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        sid=int(fields[3]),
        state=fields[0].decode(),
        start_ticks=int(fields[19]),
    )


def _read(path: str) -> bytes:
    # Plain strings and raw reads: pathlib's path handling, and open()'s buffering (an fstat,
    # an isatty ioctl and a seek per file), cost more than the read itself; the dispatcher
    # reads one of these files per thread of the server for every process job that ends.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = []
        while part := os.read(fd, 65536):
            parts.append(part)
        return b"".join(parts)
    finally:
        os.close(fd)


def all_processes() -> list[ProcInfo]:
    found = []
    for entry in os.scandir(_PROC):
        if entry.name.isdigit():
            info = read_proc(int(entry.name))
            if info is not None:
                found.append(info)
    return found


def tree_of(root: int, processes: Iterable[ProcInfo]) -> list[ProcInfo]:
    """Live processes belonging to the job whose session leader is ``root``.

    That is everything in its session (which covers its process group) plus every
    descendant by parentage, which also covers grandchildren that called setsid while
    their parent was still alive.
    """
    return _family(root, root, list(processes))


def _family(root: int, session: int | None, procs: list[ProcInfo]) -> list[ProcInfo]:
    """``root`` itself, every live process in ``session`` and every descendant of ``root``."""
    children: dict[int, list[ProcInfo]] = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc)
    found = {
        p.pid: p for p in procs if p.alive and (p.pid == root or (session and p.sid == session))
    }
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child.pid not in found and child.alive:
                found[child.pid] = child
            stack.append(child.pid)
    return list(found.values())


def adopted_escapees(job_id: str, owned: set[int], children: Iterable[int]) -> list[ProcInfo]:
    """A job's processes that left its session and lost their parent, with their sessions
    and descendants.

    As subreaper the engine inherits such orphans (``(setsid cmd &)``, daemons that
    double-fork); the job id every job process inherits in its environment says whose they
    are. An orphan need not lead its session: in ``setsid sh -c 'daemon &'`` the leader has
    exited and the daemon is an ordinary member. Only what a job clears its environment of,
    or moves out of reach of the subreaper (through another service), escapes this.
    ``children``: the engine's (``my_children``).
    """
    marker = f"JOBHOST_JOB_ID={job_id}".encode()
    return families([pid for pid in children if pid not in owned and marker in _environ(pid)])


def job_of(pid: int) -> str | None:
    """The ``JOBHOST_JOB_ID`` a process started with (None: none, or it is mid-exec, when
    its environment reads empty)."""
    for entry in _environ(pid):
        if entry.startswith(_JOB_ID_IS):
            return entry[len(_JOB_ID_IS) :].decode(errors="replace")
    return None


def families(tops: list[int]) -> list[ProcInfo]:
    """Each live process of ``tops`` with its session (unless that is the engine's) and its
    descendants."""
    if not tops:
        return []
    procs = all_processes()
    sessions = {proc.pid: proc.sid for proc in procs}
    # Only a job's processes can be in a session a job's process made; the engine's own
    # session (never a job's) is not taken whole.
    mine = os.getsid(0)
    found: dict[int, ProcInfo] = {}
    for top in tops:
        session = sessions.get(top)
        found.update((p.pid, p) for p in _family(top, None if session == mine else session, procs))
    return list(found.values())


def _environ(pid: int) -> list[bytes]:
    try:
        return _read(f"/proc/{pid}/environ").split(b"\0")
    except OSError:
        return []


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def signal_processes(procs: Iterable[ProcInfo], sig: int) -> None:
    """Signal each process unless its pid now names a different process."""
    for proc in procs:
        current = read_proc(proc.pid)
        if current is not None and current.start_ticks == proc.start_ticks:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, sig)


def kill_tree(root: int, remembered: Iterable[ProcInfo] = ()) -> None:
    """SIGKILL a job's group, its session, its descendants and what was seen of it before."""
    signal_group(root, signal.SIGKILL)
    signal_processes([*tree_of(root, all_processes()), *remembered], signal.SIGKILL)


def my_children() -> list[int]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.scandir("/proc/self/task"):
            with contextlib.suppress(OSError):
                pids.extend(int(p) for p in _read(f"{task.path}/children").split())
    return pids


def reap_orphans(owned: set[int]) -> int:
    """Reap zombie children that came from jobs and that nobody else will wait for.

    ``owned`` are the pids the runners wait for themselves. Children in the engine's own
    session are left alone: code in a Runspace job may have started them and wait for them.
    """
    if not _has_zombie_child():
        return 0  # the usual case: spares reading every thread's children from /proc
    my_sid = os.getsid(0)
    reaped = 0
    for pid in my_children():
        if pid in owned:  # waited for by its runner; skip reading /proc for it
            continue
        info = read_proc(pid)
        if info is None or info.state != "Z" or info.sid == my_sid:
            continue
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
            reaped += 1
    return reaped


def _has_zombie_child() -> bool:
    """Whether any thread of this process has a child that exited and was not waited for
    (one system call; the child is left as it is)."""
    try:
        found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False  # no children at all
    return found is not None


def cmdline(pid: int) -> list[str]:
    try:
        raw = _read(f"/proc/{pid}/cmdline")
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
