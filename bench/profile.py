"""py-spy, attached to the server: where the time goes, and how long dispatcher cycles take.

``Recording`` runs ``py-spy record`` against a pid until stopped (SIGINT makes py-spy write
its file). ``summarize`` turns py-spy's raw (collapsed) output into the few lines the report
needs: the share of samples per thread, the hottest functions by self time, and jobhost's
own functions by inclusive time. ``cycle_times`` reads a speedscope recording taken with
``--idle`` and measures each dispatcher cycle as a run of consecutive samples inside
``Dispatcher.cycle``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

PROFILE_RATE = 250


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Recording:
    """``with Recording(pid, path):`` samples ``pid`` for the duration of the block."""

    def __init__(
        self,
        pid: int,
        output: Path,
        fmt: str = "raw",
        idle: bool = False,
        rate: int = 0,
        gil: bool = False,
    ) -> None:
        self.pid = pid
        self.output = output
        self.fmt = fmt
        self.idle = idle
        self.rate = rate or PROFILE_RATE
        self.gil = gil
        self.proc: subprocess.Popen[bytes] | None = None
        self.error = ""

    def __enter__(self) -> Recording:
        exe = py_spy()
        if exe is None:
            self.error = "py-spy is not installed (scripts/install bench)"
            return self
        argv = [exe, "record", "--pid", str(self.pid), "--format", self.fmt, "--threads"]
        argv += ["--rate", str(self.rate), "--output", str(self.output)]
        if self.idle:
            argv.append("--idle")
        if self.gil:
            argv.append("--gil")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        log = self.output.with_suffix(".log")
        with open(log, "wb") as sink:
            self.proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if not self.output.exists():
            log = self.output.with_suffix(".log")
            self.error = "py-spy wrote nothing: " + log.read_text(errors="replace")[-300:]


def summarize(raw: Path, top: int = 8) -> list[str]:
    """Short findings from a raw py-spy recording (see the module docstring)."""
    threads: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        threads[_thread_name(frames[0])] += count
        leaves[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames[1:] if "jobhost/" in f}:
            ours[frame] += count
    if not total:
        return ["no samples"]
    lines = [f"{total} samples; threads: " + _shares(threads, total, 4)]
    lines.append("self: " + _shares(leaves, total, top))
    lines.append("jobhost inclusive: " + _shares(ours, total, top))
    return lines


def cycle_times(speedscope: Path, thread: str = "jobhost-dispatcher") -> list[float]:
    """Durations (s) of the dispatcher's cycles seen in an ``--idle`` speedscope recording."""
    data = json.loads(speedscope.read_text())
    frames = data["shared"]["frames"]
    cycle_ids = {i for i, f in enumerate(frames) if f["name"] == "Dispatcher.cycle"}
    for profile in data["profiles"]:
        if f'"{thread}"' not in profile["name"]:
            continue
        durations: list[float] = []
        run = 0.0
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if cycle_ids.intersection(stack):
                run += weight
            elif run:
                durations.append(run)
                run = 0.0
        unit = profile.get("unit", "seconds")
        scale = {"seconds": 1.0, "milliseconds": 1e-3, "microseconds": 1e-6}.get(unit, 1.0)
        return [d * scale for d in durations]
    return []


def _thread_name(frame: str) -> str:
    # "thread (12345): jobhost-recorder" -> "jobhost-recorder"
    return frame.partition(": ")[2] or frame


def _short(frame: str) -> str:
    # "Recorder._flush (/path/to/jobhost/engine/recorder.py:97)" -> "Recorder._flush (recorder.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rpartition(":")[0]
    return f"{name} ({Path(path).name})" if path else name


def _shares(counter: collections.Counter[str], total: int, top: int) -> str:
    return ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in counter.most_common(top))
