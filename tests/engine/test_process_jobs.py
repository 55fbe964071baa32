"""BackgroundJob runs: real shells and processes, stop semantics, timeouts, re-adoption."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from jobhost.clock import SystemClock
from jobhost.engine.recorder import Recorder
from jobhost.engine.runners.process import ProcessRunner
from jobhost.errors import StoreUnavailable
from jobhost.models import Mode, Status
from jobhost.store.jobs import OutputChunk, OutputProgress
from tests.engine.conftest import Harness, wait_until_gone


def test_exit_status_decides_completed_or_failed(harness: Harness) -> None:
    ok = harness.submit("exit 0")
    bad = harness.submit("exit 3")
    harness.run()
    assert harness.job(ok).status is Status.COMPLETED
    assert harness.job(ok).exit_code == 0
    assert harness.job(bad).status is Status.FAILED
    assert harness.job(bad).exit_code == 3


def test_stdout_and_stderr_interleave_in_the_order_written(harness: Harness) -> None:
    job_id = harness.submit("echo 1; echo 2 >&2; echo 3; echo 4 >&2; printf 5")
    harness.run()
    assert harness.output(job_id) == "1\n2\n3\n4\n5"


def test_job_sees_a_minimal_environment_plus_its_own(harness: Harness) -> None:
    job_id = harness.submit("env | sort", env={"GREETING": "hello world"})
    harness.run()
    output = harness.output(job_id)
    assert "SERVER_SECRET" not in output
    assert "GREETING=hello world" in output
    assert f"JOBHOST_JOB_ID={job_id}" in output


def test_working_directory_defaults_to_the_workspace_or_is_chosen(
    harness: Harness, tmp_path: Path
) -> None:
    default = harness.submit("pwd")
    chosen = harness.submit("pwd", working_directory=str(tmp_path))
    harness.run()
    assert harness.output(default).strip() == str(harness.settings.data_dir / "workspace")
    assert harness.output(chosen).strip() == str(tmp_path)


def test_large_output_is_captured_whole_without_blocking_the_child(harness: Harness) -> None:
    job_id = harness.submit("head -c 5000000 /dev/zero | tr '\\0' x; echo; echo done")
    harness.run()
    job = harness.job(job_id)
    assert job.status is Status.COMPLETED
    assert job.output_size == 5_000_000 + len("\ndone\n")
    assert harness.store.jobs.read_output(job_id, 4_999_990, 100) == b"x" * 10 + b"\ndone\n"


def test_a_command_that_cannot_start_fails_with_a_reason(harness: Harness) -> None:
    job_id = harness.submit("true", working_directory="/nonexistent/dir")
    harness.run()
    assert harness.job(job_id).status is Status.FAILED
    assert "could not be started" in harness.output(job_id)


def test_stop_gives_a_sigterm_trapping_job_its_grace_then_kills_it(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(stop_grace_seconds=1.0)
    job_id = harness.submit("trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.05; done")
    stopped_at: list[float] = []

    async def stop_when_ready() -> None:
        await harness.wait_for_output(job_id, "ready")
        stopped_at.append(time.monotonic())
        await harness.stop(job_id)

    harness.run(stop_when_ready)
    elapsed = time.monotonic() - stopped_at[0]
    job = harness.job(job_id)
    assert job.status is Status.STOPPED
    assert not job.success
    assert "got TERM" in harness.output(job_id)
    assert harness.output(job_id).endswith("[Job stopped by user]\n")
    assert 0.9 <= elapsed < 1.0 + 1.0  # the grace, then SIGKILL; never more than grace + 1 s


def test_stop_kills_a_backgrounded_grandchild(harness: Harness) -> None:
    job_id = harness.submit("sleep 300 & echo pid=$!; wait")
    seen: dict[str, int] = {}

    async def stop_when_started() -> None:
        output = await harness.wait_for_output(job_id, "pid=")
        seen["pid"] = int(re.findall(r"pid=(\d+)", output)[0])
        await harness.stop(job_id)

    harness.run(stop_when_started)
    assert harness.job(job_id).status is Status.STOPPED
    assert wait_until_gone(seen["pid"])


def test_stop_kills_a_grandchild_that_left_the_group_with_setsid(harness: Harness) -> None:
    job_id = harness.submit("setsid sleep 300 & echo pid=$!; wait")
    seen: dict[str, int] = {}

    async def stop_when_started() -> None:
        output = await harness.wait_for_output(job_id, "pid=")
        seen["pid"] = int(re.findall(r"pid=(\d+)", output)[0])
        await harness.stop(job_id)

    harness.run(stop_when_started)
    assert harness.job(job_id).status is Status.STOPPED
    assert wait_until_gone(seen["pid"])


def test_stop_kills_a_double_forked_daemon_the_engine_adopted(harness: Harness) -> None:
    # The subshell exits at once, so the sleep is orphaned outside the job's session and
    # tree: only the job id in its environment ties it to the job.
    job_id = harness.submit("(setsid sleep 300 & echo pid=$!); sleep 300")
    seen: dict[str, int] = {}

    async def stop_when_started() -> None:
        output = await harness.wait_for_output(job_id, "pid=")
        seen["pid"] = int(re.findall(r"pid=(\d+)", output)[0])
        await harness.stop(job_id)

    harness.run(stop_when_started)
    assert harness.job(job_id).status is Status.STOPPED
    assert wait_until_gone(seen["pid"])


def test_a_daemon_left_behind_dies_when_the_job_ends(harness: Harness) -> None:
    job_id = harness.submit("(setsid sleep 300 & echo pid=$!)")
    harness.run()
    assert harness.job(job_id).status is Status.COMPLETED
    pid = int(re.findall(r"pid=(\d+)", harness.output(job_id))[0])
    assert wait_until_gone(pid)


def test_leftover_background_processes_die_when_the_job_ends(harness: Harness) -> None:
    job_id = harness.submit("sleep 300 & echo pid=$!")
    harness.run()
    assert harness.job(job_id).status is Status.COMPLETED
    pid = int(re.findall(r"pid=(\d+)", harness.output(job_id))[0])
    assert wait_until_gone(pid)


def test_timeout_stops_the_job_and_marks_it_timed_out(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(stop_grace_seconds=0.5)
    started = time.monotonic()
    job_id = harness.submit("echo begin; sleep 30", timeout_seconds=0.5)
    harness.run()
    job = harness.job(job_id)
    assert job.status is Status.TIMED_OUT
    assert harness.output(job_id).endswith("[Job timed out after 0.5 s]\n")
    assert time.monotonic() - started < 5


def test_the_servers_default_timeout_applies_to_jobs_that_set_none(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(stop_grace_seconds=0.5, default_timeout_seconds=0.5)
    defaulted = harness.submit("sleep 30")
    own = harness.submit("sleep 0.8; echo finished", timeout_seconds=20)
    harness.run()
    assert harness.job(defaulted).status is Status.TIMED_OUT
    assert harness.output(defaulted) == "[Job timed out after 0.5 s]\n"
    assert harness.job(own).status is Status.COMPLETED


# The first engine is abandoned mid-run on purpose, as a crash would abandon it, so its
# handle on the child is dropped while the child still runs.
@pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning")
def test_a_restarted_engine_adopts_a_running_job_without_losing_or_repeating_output(
    harness: Harness,
) -> None:
    job_id = harness.submit("echo one; sleep 1; echo two; exit 7")
    # The first engine claims and starts the job, records some output, and then vanishes
    # without finishing it, as a killed server would.
    [job] = harness.store.jobs.claim(1, harness.node)
    first_runner = ProcessRunner(
        harness.processes.runs_dir,
        harness.processes.workspace,
        harness.settings.shell_argv,
        SystemClock(),
        {},
    )
    run = first_runner.start(job)
    first = Recorder(harness.store.jobs, harness.settings.output_cap_bytes, 0.01)
    first.watch(job_id, run.source)
    first.start()
    deadline = time.monotonic() + 5
    while harness.output(job_id) != "one\n":
        assert time.monotonic() < deadline, harness.output(job_id)
        time.sleep(0.01)
    first.close()
    first_runner.close()  # as the killed server's end of its job parent would be

    harness.run()  # a new dispatcher over the same store and data dir
    job = harness.job(job_id)
    assert job.status is Status.FAILED
    assert job.exit_code == 7
    assert harness.output(job_id) == "one\ntwo\n"
    assert not (harness.settings.data_dir / "runs" / job_id).exists()


def test_a_restarted_engine_removes_run_folders_of_jobs_that_are_over(harness: Harness) -> None:
    finished = harness.submit("echo done")
    harness.run()
    queued = harness.submit("true", mode=Mode.MAIN_LOOP)  # never runs: nothing dispatches it
    # The first as a previous engine leaves it when it stops between storing a job's end
    # and removing the job's folder; the others belong to no job that is over.
    runs = harness.processes.runs_dir
    folders = {"finished": runs / finished, "queued": runs / queued, "unknown": runs / "other"}
    for folder in folders.values():
        folder.mkdir()
        (folder / "output").write_bytes(b"done\n")
    asyncio.run(harness.dispatcher.recover())  # what a starting engine does first
    assert {name: folder.exists() for name, folder in folders.items()} == {
        "finished": False,
        "queued": True,
        "unknown": True,
    }
    assert harness.output(finished) == "done\n"


def test_timeouts_hold_while_the_store_refuses_writes(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = make_harness(stop_grace_seconds=0.2)
    job_id = harness.submit("echo pid=$$; sleep 30", timeout_seconds=0.3)

    async def main() -> int:
        await harness.dispatcher.cycle()  # claims and starts the job
        output = await harness.wait_for_output(job_id, "pid=")
        await asyncio.sleep(0.4)  # past the job's timeout
        # From here on every write fails, as on a full disk: the claim of each cycle too.
        for verb in ("record", "record_and_claim", "claim"):
            monkeypatch.setattr(harness.store.jobs, verb, _refuse)
        with pytest.raises(StoreUnavailable):
            await harness.dispatcher.cycle()
        pid = int(re.findall(r"pid=(\d+)", output)[0])
        assert wait_until_gone(pid)  # stopped all the same
        monkeypatch.undo()  # the store works again: the end is recorded
        deadline = time.monotonic() + 10
        # Stopping meanwhile: the timeout's stop is under way.
        while not harness.job(job_id).status.is_finished and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            await harness.dispatcher.cycle()
        return pid

    asyncio.run(main())
    assert harness.job(job_id).status is Status.TIMED_OUT


def _refuse(*_args: object, **_kwargs: object) -> NoReturn:
    raise StoreUnavailable()


def test_a_restarted_engine_interrupts_python_jobs_and_keeps_their_output(
    harness: Harness,
) -> None:
    job_id = harness.submit("print('partial')", mode=Mode.RUNSPACE)
    harness.store.jobs.claim(1, harness.node)
    harness.store.jobs.record(
        [OutputChunk(job_id, 0, b"partial\n")], [OutputProgress(job_id, 8, 0)]
    )
    harness.run()
    assert harness.job(job_id).status is Status.INTERRUPTED
    assert harness.output(job_id) == (
        "partial\n[Job interrupted: the server stopped while it ran]\n"
    )


def test_a_job_writing_200_mb_past_the_cap_runs_on_and_keeps_its_exit_code(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = make_harness(output_cap_bytes=1024 * 1024)
    go_on = tmp_path / "go-on"
    job_id = harness.submit(
        "head -c 200000000 /dev/zero | tr '\\0' x; echo; echo still running"
        f"; while [ ! -e {go_on} ]; do sleep 0.02; done; exit 7"
    )
    output_file = harness.settings.data_dir / "runs" / job_id / "output"
    disk_use: list[int] = []

    async def measure_then_release() -> None:
        # Wait until the recorder has taken in everything written so far ...
        deadline = time.monotonic() + 60
        while harness.job(job_id).output_dropped < 200_000_000 - 1024 * 1024:
            assert time.monotonic() < deadline, "the recorder never caught up"
            await asyncio.sleep(0.05)
        info = output_file.stat()
        disk_use.append(info.st_blocks * 512)
        assert info.st_size > 200_000_000
        go_on.touch()

    harness.run(measure_then_release)

    job = harness.job(job_id)
    assert (job.status, job.exit_code) == (Status.FAILED, 7)
    dropped = 200_000_000 + len("\nstill running\n") - 1024 * 1024
    assert job.output_dropped == dropped
    output = harness.store.jobs.read_output(job_id, 0, 2 * 1024 * 1024)
    assert output[: 1024 * 1024] == b"x" * (1024 * 1024)
    assert output[1024 * 1024 :] == (
        f"\n[Output truncated: {dropped} more bytes were written and not kept]\n".encode()
    )
    # The blocks behind output already stored are freed while the job still runs.
    assert disk_use[0] < 64 * 1024 * 1024


def test_a_finished_jobs_run_folder_is_removed_whatever_it_holds(harness: Harness) -> None:
    plain = harness.submit("echo plain")
    # A job can find its run folder (beside the workspace it starts in, named by its id)
    # and leave files there: the folder still goes, whatever it holds.
    cluttered = harness.submit(
        'd="$PWD/../runs/$JOBHOST_JOB_ID"'
        ' && mkdir "$d/sub" && touch "$d/sub/file" "$d/extra" && echo cluttered'
    )
    harness.run()
    assert harness.output(cluttered) == "cluttered\n"
    for job_id in (plain, cluttered):
        assert harness.job(job_id).status is Status.COMPLETED
        assert not (harness.settings.data_dir / "runs" / job_id).exists()
