"""Reaping: zombies that came from jobs are reaped, the ones a runner waits for are left."""

from __future__ import annotations

import subprocess
import time

import pytest

from jobhost.engine.runners.process_tree import read_proc, reap_orphans


def exited_child() -> subprocess.Popen[bytes]:
    """A child in a session of its own, as job processes are, that exited unwaited."""
    child = subprocess.Popen(["true"], start_new_session=True)
    deadline = time.monotonic() + 5
    while (info := read_proc(child.pid)) is None or info.state != "Z":
        assert time.monotonic() < deadline, info
        time.sleep(0.01)
    return child


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_zombie_nobody_waits_for_is_reaped() -> None:
    child = exited_child()
    assert reap_orphans(owned=set()) >= 1
    assert read_proc(child.pid) is None
    child.returncode = 0  # already reaped: Popen must not wait for it


def test_a_zombie_its_runner_waits_for_is_left_to_it() -> None:
    child = exited_child()
    reap_orphans(owned={child.pid})
    info = read_proc(child.pid)
    assert info is not None and info.state == "Z"
    assert child.wait(timeout=5) == 0


def test_a_live_child_is_left_alone() -> None:
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        reap_orphans(owned=set())
        info = read_proc(sleeper.pid)
        assert info is not None and info.alive
    finally:
        sleeper.kill()
        sleeper.wait()
