"""Fixtures of the fault tests: a small tmpfs to serve from, when this process may mount one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``tmpfs(size)`` mounts a tmpfs of that size (as ``mount -o size=`` takes it) and
    returns its folder; unmounted afterwards. Skipped where this process cannot mount."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("needs root to mount a tmpfs")
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point))
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def remount(point: Path, *options: str) -> None:
    """Change a mounted tmpfs's options (``ro``, ``rw``) in place."""
    done = _mount("-o", ",".join(["remount", *options]), str(point))
    assert done.returncode == 0, done.stderr
