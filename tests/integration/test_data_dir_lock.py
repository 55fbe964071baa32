"""One server per data folder: a second one refuses to start and leaves the first alone."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.integration.server import (
    Server,
    create_user,
    free_port,
    kill_jobs_under,
    run_cli,
    wait_finished,
    wait_for_output,
)
from tests.integration.test_lifecycle import submit


def test_a_second_server_on_the_same_data_folder_refuses_to_start(tmp_path: Path) -> None:
    key = create_user(tmp_path, "root", "system_admin")
    first = Server(tmp_path, free_port(), {"JOBHOST_STOP_GRACE_SECONDS": "1"})
    first.start()
    try:
        assert first.proc is not None
        with first.client(key) as client:
            # A Runspace job is what a second engine's start would have marked Interrupted.
            running = submit(
                client, "import time\nprint('started', flush=True)\ntime.sleep(1.5)", "Runspace"
            )
            process = submit(client, "echo started; sleep 30; echo done")
            wait_for_output(client, running, "started")
            wait_for_output(client, process, "started")

            second = run_cli(tmp_path, "serve", "--port", str(free_port()))

            assert second.returncode != 0
            assert second.stdout == ""  # no first-start credentials, nothing served
            assert second.stderr == (
                f"jobhost: another jobhost engine (pid {first.proc.pid}) is using {tmp_path}\n"
            )
            job = wait_finished(client, running)
            assert (job["Status"], job["Output"]) == ("Completed", "started\n")
        # The admin commands do not take the lock: they work beside a running server.
        assert run_cli(tmp_path, "user", "add", "alice").returncode == 0

        # The lock goes with its process however it ends, even while the job it started
        # (and the job parent running it) live on.
        first.stop(signal.SIGKILL)
        first.port = free_port()
        first.start()
        with first.client(key) as client:
            assert client.delete("/jobs", params={"jobId": process}).status_code == 200
            assert wait_finished(client, process)["Status"] == "Stopped"
    finally:
        first.stop()
        kill_jobs_under(tmp_path)


def test_a_second_server_on_another_folder_but_the_same_sqlite_file_refuses_to_start(
    tmp_path: Path,
) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    create_user(first_dir, "root", "system_admin")
    first = Server(first_dir, free_port(), {})
    first.start()
    try:
        assert first.proc is not None
        database = first_dir / "jobhost.db"
        second = run_cli(
            second_dir,
            "serve",
            "--port",
            str(free_port()),
            env={"JOBHOST_DATABASE_URL": f"sqlite:///{database}"},
        )
        assert second.returncode != 0
        assert second.stdout == ""
        assert second.stderr == (
            f"jobhost: another jobhost engine (pid {first.proc.pid}) is using {database}\n"
        )
    finally:
        first.stop()
