"""The job parent: the one process that starts an engine's BackgroundJobs and records their
exit status, also when the engine or the parent itself goes away."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from jobhost.engine.runners.job_parent import JobExit, JobParent, parse_exit
from jobhost.engine.runners.process import running_job_pid
from jobhost.models import Status
from jobhost.service.submission import MAX_ARG_BYTES, MAX_COMMAND_CHARS, MAX_ENV_BYTES
from tests.engine.conftest import Harness, pid_is_gone, wait_until_gone


def _parent_pid(harness: Harness) -> int:
    parent = harness.processes._parent
    assert parent is not None
    return parent.pid


def test_one_parent_starts_every_job_and_exits_once_the_engine_is_done(harness: Harness) -> None:
    ids = [harness.submit(f"echo $PPID; exit {n}") for n in range(3)]
    harness.run()
    parents = {harness.output(job_id) for job_id in ids}
    assert len(parents) == 1  # one parent for all of them, and not the engine itself
    parent = int(parents.pop())
    assert parent != os.getpid()
    assert [harness.job(job_id).exit_code for job_id in ids] == [0, 1, 2]
    assert wait_until_gone(parent)  # closed at the burst's end with no job left: exits


def test_a_request_larger_than_a_socket_packet_reaches_the_job_whole(harness: Harness) -> None:
    # The longest command allowed and a 120,000-byte variable: 220 KB in one request.
    command = f"printf %s \"$BIG\" | wc -c; : '{'x' * (MAX_COMMAND_CHARS - 40)}'"
    job_id = harness.submit(command, env={"BIG": "y" * 120_000})
    harness.run()
    assert harness.output(job_id).strip() == "120000"


def test_the_largest_env_submit_accepts_is_one_exec_takes(harness: Harness) -> None:
    # Each entry at the per-string limit, and together at the submitted env's share.
    value = "y" * (MAX_ARG_BYTES - len("BIG0="))
    count = MAX_ENV_BYTES // (MAX_ARG_BYTES + 1)
    env = {f"BIG{n}": value for n in range(count)}
    job_id = harness.submit('printf %s "$BIG0" | wc -c', env=env)
    harness.run()
    assert harness.output(job_id).strip() == str(len(value))


def test_a_job_outlives_its_parent_and_its_exit_status_is_still_recorded(
    harness: Harness,
) -> None:
    job_id = harness.submit("echo started; sleep 0.5; exit 5")

    async def kill_the_parent() -> None:
        await harness.wait_for_output(job_id, "started")
        os.kill(_parent_pid(harness), signal.SIGKILL)

    harness.run(kill_the_parent)
    job = harness.job(job_id)
    assert (job.status, job.exit_code) == (Status.FAILED, 5)  # the engine reaped it itself
    assert job.cpu_seconds is not None and job.max_rss_bytes  # with wait4's rusage, as the parent

    after = harness.submit("echo next")  # a new parent starts the next job
    harness.run()
    assert harness.job(after).status is Status.COMPLETED


def test_a_parent_writes_the_exit_file_after_its_engine_has_gone(tmp_path: Path) -> None:
    (tmp_path / "runs" / "job").mkdir(parents=True)
    parent = JobParent()
    pid = parent.start(
        ["/bin/sh", "-c", "sleep 0.3; exit 9"], {}, str(tmp_path), str(tmp_path / "runs" / "job")
    )
    deadline = time.monotonic() + 10
    while running_job_pid(tmp_path / "runs" / "job") != pid:  # written right after the answer
        assert time.monotonic() < deadline
        time.sleep(0.01)
    parent.close()  # as the engine's death would: the parent stays for its job
    assert not pid_is_gone(parent.pid)
    exit_file = tmp_path / "runs" / "job" / "exit"
    # Polled as an adopting engine does: the file may be seen between its open and write.
    while not (exit_file.exists() and exit_file.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    code, cpu, rss = exit_file.read_text().split()  # and what the job's shell used
    assert (code, float(cpu) >= 0, int(rss) > 1 << 20) == ("9", True, True)
    assert running_job_pid(tmp_path / "runs" / "job") is None  # the pid names no job now
    assert wait_until_gone(parent.pid)  # and, its last job done, the parent is too


def test_a_job_that_cannot_start_is_an_error_not_a_lost_parent(tmp_path: Path) -> None:
    parent = JobParent()
    try:
        (tmp_path / "runs").mkdir()
        try:
            parent.start(["/bin/sh", "-c", "true"], {}, "/nonexistent/dir", str(tmp_path / "runs"))
        except FileNotFoundError as exc:
            assert exc.filename == "/nonexistent/dir"
        else:
            raise AssertionError("started in a directory that does not exist")
        try:
            parent.start(["/bin/sh", "-c", "true"], {"X": "a\0b"}, str(tmp_path), str(tmp_path))
        except OSError as exc:
            assert "null byte" in str(exc)
        else:
            raise AssertionError("started with a NUL in its environment")
        assert asyncio.run(_started_and_ended(parent, tmp_path)) == 0  # still answering
    finally:
        parent.close()


async def _started_and_ended(parent: JobParent, tmp_path: Path) -> int | None:
    pid = parent.start(["/bin/sh", "-c", "true"], {}, str(tmp_path), str(tmp_path / "runs"))
    ended = await parent.end_of(pid)
    return None if ended is None else ended.code


def test_a_job_under_the_old_per_job_wrapper_is_still_adopted(harness: Harness) -> None:
    # Started as jobhost did before the job parent, then the server was upgraded.
    job_id = harness.submit("unused: the wrapper below runs the command")
    harness.store.jobs.claim(1, harness.node)
    run_dir = harness.settings.data_dir / "runs" / job_id
    run_dir.mkdir(parents=True)
    wrapper = 'e=$1; shift; "$@"; echo $? >"$e"'
    with open(run_dir / "output", "ab") as output:
        old = subprocess.Popen(
            ["/bin/sh", "-c", wrapper, "jobhost-job", str(run_dir / "exit"), "/bin/sh", "-c",
             "echo old; sleep 0.3; exit 4"],
            stdout=output, stderr=output, start_new_session=True,
        )  # fmt: skip
    harness.run()
    old.wait(timeout=10)  # the test's own child, whatever the engine did
    job = harness.job(job_id)
    assert (job.status, job.exit_code) == (Status.FAILED, 4)
    assert harness.output(job_id) == "old\n"


def test_a_parent_found_gone_when_starting_a_job_leaves_no_end_unawaited(
    harness: Harness,
) -> None:
    first_id = harness.submit("echo started; sleep 0.5; exit 5")
    second_id = harness.submit("exit 0")
    first, second = harness.store.jobs.claim(2, harness.node)
    runner = harness.processes

    async def main() -> tuple[int | None, int | None]:
        first_run = runner.start(first)
        first_end = asyncio.ensure_future(first_run.wait())
        await asyncio.sleep(0.1)  # its end is awaited from the parent now
        dead = _parent_pid(harness)
        os.kill(dead, signal.SIGKILL)
        assert wait_until_gone(dead)  # without a turn of the loop: the loss is not seen yet
        second_run = runner.start(second)  # finds the parent gone and starts another
        ends = await asyncio.wait_for(asyncio.gather(first_end, second_run.wait()), 10)
        return ends[0].exit_code, ends[1].exit_code

    assert asyncio.run(main()) == (5, 0)  # the first job's end came from the engine itself
    assert {first_id, second_id} == {first.job_id, second.job_id}


def test_an_exit_file_gives_its_status_and_resources_and_an_old_one_its_status() -> None:
    assert parse_exit("9 1.25 4096\n") == JobExit(9, 1.25, 4096)
    assert parse_exit("9\n") == JobExit(9, None, None)  # written before resources were kept
    assert parse_exit("") is None  # seen between the parent's open and write
    assert parse_exit("x 1 2") is None
