"""What every figure is given: sizes, repetitions, a work folder, and the profiler switch."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.profile import Recording, summarize
from bench.server import BenchServer


@dataclass(frozen=True, slots=True)
class Sizes:
    drain_process: int
    drain_runspace: int
    submits: int
    latency_samples: int
    output_lines: int
    output_mb: int
    concurrent_jobs: int
    history_rows: int
    history_requests: int
    history_seconds: float
    """A listing variant stops after this long (with at least a few samples)."""
    get_requests: int
    cycle_seconds: float
    fanin_dependents: int
    waiting_jobs: int
    soak_seconds: float
    """How long the soak's load runs (bench/soak.py; run only when asked for)."""


FULL = Sizes(
    drain_process=2_000,
    drain_runspace=10_000,
    submits=10_000,
    latency_samples=500,
    output_lines=300,
    output_mb=200,
    concurrent_jobs=1_000,
    history_rows=1_000_000,
    history_requests=200,
    history_seconds=5.0,
    get_requests=300,
    cycle_seconds=4.0,
    fanin_dependents=1_000,
    waiting_jobs=10_000,
    soak_seconds=1800.0,
)
QUICK = Sizes(
    drain_process=200,
    drain_runspace=500,
    submits=500,
    latency_samples=100,
    output_lines=100,
    output_mb=50,
    concurrent_jobs=200,
    history_rows=100_000,
    history_requests=20,
    history_seconds=1.0,
    get_requests=100,
    cycle_seconds=2.0,
    fanin_dependents=300,
    waiting_jobs=2_000,
    soak_seconds=120.0,
)
# Trivial sizes for the smoke test (tests/bench): checks the machinery, measures nothing.
TINY = Sizes(
    drain_process=10,
    drain_runspace=20,
    submits=40,
    latency_samples=5,
    output_lines=5,
    output_mb=1,
    concurrent_jobs=5,
    history_rows=1_000,
    history_requests=5,
    history_seconds=0.5,
    get_requests=5,
    cycle_seconds=0.5,
    fanin_dependents=10,
    waiting_jobs=50,
    soak_seconds=15.0,
)


@dataclass
class Context:
    quick: bool
    reps: int
    sizes: Sizes
    workdir: Path
    profile_dir: Path | None = None
    server_env: dict[str, str] = field(default_factory=dict)
    """JOBHOST_* settings for every server (``--set``), over a figure's own: what-if runs."""
    shared: dict[str, object] = field(default_factory=dict)
    """Numbers one figure measured for another to reuse (the peers table)."""
    _servers: int = 0

    _template: BenchServer | None = None

    def server(self, name: str, env: dict[str, str] | None = None) -> BenchServer:
        """A server with its own data dir, holding the benchmark user and key.

        The CLI makes them once, in a template data dir that every server's dir is copied
        from (each CLI call costs seconds of interpreter start on a busy machine).
        """
        if self._template is None:
            self._template = BenchServer(self.workdir / "template")
            self._template.prepare()
        self._servers += 1
        server = BenchServer(
            self.workdir / f"{self._servers:02d}-{name}", (env or {}) | self.server_env
        )
        shutil.copytree(self._template.data_dir, server.data_dir)
        server.token = self._template.token
        return server

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def recording(
        self, figure: str, server: BenchServer, notes: list[str]
    ) -> contextlib.AbstractContextManager[object]:
        """py-spy on the server for the block (GIL holders only: where the CPU goes); its
        findings are added to ``notes``. A no-op unless profiles were asked for."""
        if self.profile_dir is None:
            return contextlib.nullcontext()
        return _recorded(self.profile_dir / f"{figure}.raw", server.pid, notes)

    async def profile_once(
        self,
        figure: str,
        server: BenchServer,
        notes: list[str],
        run: Callable[[contextlib.AbstractContextManager[object]], Awaitable[object]],
    ) -> None:
        """If profiles were asked for, run one extra, unmeasured repetition; ``run`` wraps
        the part to profile in the context manager it is given."""
        if self.profile_dir is None:
            return
        self.log(f"{figure}: profiling one extra repetition")
        await run(self.recording(figure, server, notes))


@contextlib.contextmanager
def _recorded(raw: Path, pid: int, notes: list[str]) -> Iterator[object]:
    with Recording(pid, raw, gil=True) as recording:
        yield recording
    if recording.error:
        notes.append(f"profile: {recording.error}")
    else:
        notes.append("profile: " + " | ".join(summarize(raw)))


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every bench command takes: --json, --keep and --set."""
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="JOBHOST_X=VALUE",
        help="a setting for every server (repeatable), for what-if runs",
    )


def server_settings(args: argparse.Namespace) -> dict[str, str]:
    """The ``--set`` settings as a mapping."""
    return dict(item.partition("=")[::2] for item in args.set)
