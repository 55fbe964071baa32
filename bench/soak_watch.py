"""What the soak watches: the server's and its job parent's RSS, open fds and threads, once a
second from /proc, and the processes under the server (the job parent and running jobs)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.server import read_memory

JOB_PARENT_PROGRAM = "job_parent_program.py"


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the server, ``at`` seconds after the load started."""

    at: float
    rss_kib: int
    fds: int
    sockets: int
    """Of ``fds``: sockets (the clients' connections, the job parent's channels)."""
    job_files: int
    """Of ``fds``: files of the jobs' run folders (running jobs' output)."""
    store_files: int
    """Of ``fds``: the database's files (a pair per open connection)."""
    threads: int
    parent_rss_kib: int
    """The job parent's (0 while there is none)."""
    parent_fds: int
    processes: int
    """Processes under the server: the job parent and the jobs it runs."""
    zombies: int

    def as_json(self) -> dict[str, float]:
        return {key: round(value, 2) for key, value in asdict(self).items()}


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_files(pid: int, data_dir: Path) -> tuple[int, int, int, int]:
    """The process's open fds: (all, sockets, files under ``data_dir``/runs, store files)."""
    runs, store = f"{data_dir}/runs/", f"{data_dir}/jobhost.db"
    fds = sockets = job_files = store_files = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        fds += 1
        sockets += target.startswith("socket:")
        job_files += target.startswith(runs)
        store_files += target.startswith(store)
    return fds, sockets, job_files, store_files


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process visible in /proc."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ")".
        state, ppid = stat.rpartition(")")[2].split()[:2]
        table[int(entry)] = (int(ppid), state)
    return table


def descendants(pid: int, table: dict[int, tuple[int, str]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, (parent, _state) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _is_job_parent(pid: int) -> bool:
    try:
        return JOB_PARENT_PROGRAM in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def sample(server_pid: int, data_dir: Path, at: float) -> Sample:
    """The server's and its job parent's figures now (a job parent that just went: zeros)."""
    status = read_memory(server_pid, ("VmRSS", "Threads"))
    fds, sockets, job_files, store_files = open_files(server_pid, data_dir.resolve())
    table = _process_table()
    under = descendants(server_pid, table)
    parents = [pid for pid in under if table[pid][0] == server_pid and _is_job_parent(pid)]
    parent_rss = parent_fds = 0
    for pid in parents:
        try:
            parent_rss += read_memory(pid, ("VmRSS",))["VmRSS"]
            parent_fds += _fds(pid)
        except (OSError, KeyError):
            pass
    return Sample(
        at=at,
        rss_kib=status["VmRSS"],
        fds=fds,
        sockets=sockets,
        job_files=job_files,
        store_files=store_files,
        threads=status["Threads"],
        parent_rss_kib=parent_rss,
        parent_fds=parent_fds,
        processes=len(under),
        zombies=sum(1 for pid in under if table[pid][1] == "Z"),
    )


async def watch(
    server_pid: int, data_dir: Path, started: float, into: list[Sample], every: float = 1.0
) -> None:
    """Append a sample to ``into`` every ``every`` seconds until cancelled."""
    next_at = time.monotonic()
    while True:
        at = time.monotonic() - started
        into.append(await asyncio.to_thread(sample, server_pid, data_dir, at))
        next_at += every
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
