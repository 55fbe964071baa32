"""What /proc says about the processes a server left: its zombies, and strays found by a
marker in their command line."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    state: str
    cmdline: bytes


def processes() -> Iterator[Process]:
    """Every process /proc shows now (those that vanish while being read are passed over)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ")".
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        yield Process(int(entry), int(ppid), state, cmdline)


def zombies_under(parents: set[int]) -> list[Process]:
    """The unreaped children (state Z) of any of ``parents``."""
    return [proc for proc in processes() if proc.ppid in parents and proc.state == "Z"]


def marked(marker: str) -> list[Process]:
    """The live processes whose command line holds ``marker`` as one of its arguments."""
    token = marker.encode()
    return [
        proc
        for proc in processes()
        if proc.state not in "ZX" and token in proc.cmdline.split(b"\0")
    ]


def kill_marked(marker: str) -> None:
    """SIGKILL every live process ``marked`` finds: what a failed test leaves behind."""
    for proc in marked(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


def job_parents_of(server_pid: int) -> set[int]:
    """The job parent processes the server ``server_pid`` started."""
    return {
        proc.pid
        for proc in processes()
        if proc.ppid == server_pid and b"job_parent_program.py" in proc.cmdline
    }


def settled(probe: Callable[[], list[Process]], timeout: float, poll: float = 0.1) -> list[Process]:
    """``probe()`` asked until it finds nothing or ``timeout`` runs out; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(poll)
