"""The job commands (submit, jobs, status, logs, stop, rm) run as subprocesses against a real
``jobhost serve``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhost import Client
from jobhost.cli.submit import is_loopback_url
from jobhost.models import Status
from tests.integration.conftest import Keys
from tests.integration.server import Server, cli_env, free_port, run_cli
from tests.integration.test_client import STOP_ANSWERS

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
GATED = "echo started; while [ ! -e {gate} ]; do sleep 0.02; done; echo gate open"
HOSTILE = r"printf 'safe \033]0;pwned\007\033[2J\033[31mred\033[0m \033]52;c;cHduZWQ=\033\\end\n'"


def connection(server: Server, token: str | None) -> dict[str, str]:
    return {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": token or ""}


@pytest.fixture(scope="module")
def jh(server: Server, keys: Keys) -> Iterator[Client]:
    """A client for setting up and checking what the CLI did."""
    with Client(server.url, keys.admin) as client:
        yield client


def cli(
    server: Server, keys: Keys, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(server.data_dir, *args, stdin=stdin, env=connection(server, keys.admin))


def start_cli(server: Server, keys: Keys, *args: str) -> subprocess.Popen[str]:
    """The CLI in the background, with pipes for stdin, stdout and stderr."""
    return subprocess.Popen(
        [sys.executable, "-m", "jobhost", *args],
        env=cli_env(server.data_dir, connection(server, keys.admin)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_submit_prints_the_job_id(server: Server, keys: Keys, jh: Client) -> None:
    result = cli(server, keys, "submit", "--name", "plain", "--", "echo hi")
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    assert re.fullmatch(UUID, job_id)
    job = jh.wait(job_id)
    assert (job.name, job.status, job.output) == ("plain", Status.COMPLETED, "hi\n")


def test_submit_follow_prints_the_output_and_exits_with_the_jobs_code(
    server: Server, keys: Keys
) -> None:
    result = cli(server, keys, "submit", "--follow", "--", "echo out; echo err >&2; exit 7")
    assert result.returncode == 7
    assert result.stdout == "out\nerr\n"
    job_id = re.findall(f"submitted job ({UUID})", result.stderr)[0]
    assert f"job {job_id} Failed after" in result.stderr
    assert result.stderr.rstrip().endswith("exit code 7")


def test_several_arguments_reach_the_program_unchanged(server: Server, keys: Keys) -> None:
    result = cli(server, keys, "submit", "-f", "printf", "[%s]", "a b", "$HOME", "'")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[a b][$HOME][']"


def test_submit_follow_in_python_mode(server: Server, keys: Keys) -> None:
    result = cli(server, keys, "submit", "--mode", "thread", "-f", "print('py')")
    assert (result.returncode, result.stdout) == (0, "py\n")


def test_submit_wait_shows_the_last_lines_of_a_job_that_did_not_complete(
    server: Server, keys: Keys, jh: Client
) -> None:
    script = f"for i in $(seq 30); do echo line $i; done; {HOSTILE}; exit 4"
    result = cli(server, keys, "submit", "--wait", "--", script)

    assert result.returncode == 4
    job_id = result.stdout.strip()  # only the id on stdout, for scripts
    assert re.fullmatch(UUID, job_id)
    lines = result.stderr.splitlines()
    assert lines[0] == f"last 20 lines of job {job_id}'s output:"
    assert lines[1:20] == [f"line {i}" for i in range(12, 31)]
    assert lines[20] == "safe \x1b[31mred\x1b[0m end"  # made safe, as --follow does
    assert f"job {job_id} Failed" in lines[-1]
    assert jh.get(job_id).exit_code == 4


def test_submit_wait_shows_no_output_of_a_job_that_completed(server: Server, keys: Keys) -> None:
    result = cli(server, keys, "submit", "--wait", "--", "echo hidden")
    assert result.returncode == 0
    assert "hidden" not in result.stderr and "lines" not in result.stderr


def cli_in(
    directory: Path, server: Server, keys: Keys, *args: str
) -> subprocess.CompletedProcess[str]:
    """The CLI started in ``directory``, as a user would start it there."""
    return run_cli(server.data_dir, *args, env=connection(server, keys.admin), cwd=directory)


def test_a_job_runs_where_the_cli_is_when_the_server_is_local(
    server: Server, keys: Keys, tmp_path: Path
) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    here = cli_in(tmp_path / "here", server, keys, "submit", "-f", "--", "pwd")
    there = cli_in(tmp_path / "here", server, keys, "submit", "--cwd", "../there", "-f", "pwd")

    assert (here.returncode, here.stdout) == (0, f"{tmp_path / 'here'}\n"), here.stderr
    assert (there.returncode, there.stdout) == (0, f"{tmp_path / 'there'}\n"), there.stderr
    # Python modes refuse a working directory: none is sent for them by default.
    python = cli_in(tmp_path, server, keys, "submit", "--mode", "Runspace", "-f", "print('py')")
    assert (python.returncode, python.stdout) == (0, "py\n"), python.stderr


def test_env_options_reach_the_job(server: Server, keys: Keys) -> None:
    result = cli(server, keys, "submit", "--env", "GREETING=hello", "--env", "PAIR=a=b",
                 "--env", "EMPTY=", "-f", "--", 'echo "$GREETING $PAIR [$EMPTY]"')  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "hello a=b []\n"), result.stderr


@pytest.mark.parametrize("bad", ["NOEQUALS", "=value"])
def test_a_malformed_env_option_is_a_clear_error(server: Server, keys: Keys, bad: str) -> None:
    result = cli(server, keys, "submit", "--env", bad, "--", "true")
    assert result.returncode == 1
    assert result.stderr == f"jobhost: Invalid --env {bad!r}: use NAME=VALUE\n"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--priority", "101"], "Invalid --priority 101: must be -100..100"),
        (["--priority", "-101"], "Invalid --priority -101: must be -100..100"),
        (["--retries", "11"], "Invalid --retries 11: must be 0..10"),
        (["--retry-delay", "-0.5"], "Invalid --retry-delay -0.5: must be 0..86400"),
        (["--retry-delay", "nan"], "Invalid --retry-delay nan: must be 0..86400"),
    ],
)
def test_an_option_out_of_its_range_is_named_with_its_range_and_nothing_is_submitted(
    server: Server, keys: Keys, jh: Client, option: list[str], message: str
) -> None:
    before = jh.list().counts
    result = cli(server, keys, "submit", *option, "--", "true")
    # Bad input, like a malformed --at or --env: exit 1, not the usage error's 2.
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"jobhost: {message}\n"
    assert jh.list().counts == before


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.3.4.5", True),
        ("http://[::1]:8080/", True),
        ("https://localhost:8443", True),
        ("http://LOCALHOST", True),
        ("http://10.0.0.1:8080", False),
        ("https://jobs.example.com", False),
        ("http://[2001:db8::1]:8080", False),
    ],
)
def test_which_server_urls_count_as_this_machine(url: str, local: bool) -> None:
    assert is_loopback_url(url) is local


def test_a_timed_out_job_has_its_documented_exit_code(server: Server, keys: Keys) -> None:
    result = cli(server, keys, "submit", "--timeout", "0.2", "--wait", "--", "sleep 30")
    assert result.returncode == 124, result.stderr
    assert "TimedOut" in result.stderr


def test_logs_follow_streams_a_running_job_until_it_ends(
    server: Server, keys: Keys, jh: Client, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job_id = jh.submit(GATED.format(gate=gate), "gated")
    proc = start_cli(server, keys, "logs", "-f", job_id)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"  # shown while the job waits at the gate
    assert jh.get(job_id).status is Status.RUNNING
    gate.touch()
    rest, errors = proc.communicate(timeout=30)
    assert proc.returncode == 0, errors
    assert rest == "gate open\n"
    assert f"job {job_id} Completed" in errors


def test_jobs_json_parses_and_filters(
    server: Server, keys: Keys, jh: Client, tmp_path: Path
) -> None:
    done = jh.submit("true", "listed done")
    jh.wait(done)
    held = jh.submit(GATED.format(gate=tmp_path / "gate"), "listed running")
    next(job for job in jh.watch(held) if job.status is Status.RUNNING)
    try:
        everything = json.loads(cli(server, keys, "jobs", "--json").stdout)
        by_id = {job["id"]: job for job in everything}
        assert by_id[done]["status"] == "Completed" and by_id[done]["exit_code"] == 0
        assert by_id[held]["status"] == "Running" and by_id[held]["category"] == "running"
        running = json.loads(cli(server, keys, "jobs", "--running", "--json").stdout)
        assert held in [job["id"] for job in running]
        assert {job["category"] for job in running} == {"running"}
        completed = json.loads(cli(server, keys, "jobs", "--status", "completed", "--json").stdout)
        assert done in [job["id"] for job in completed] and held not in str(completed)
        table = cli(server, keys, "jobs")
        assert table.returncode == 0 and done in table.stdout and held in table.stdout
        assert "listed running" in table.stdout
    finally:
        (tmp_path / "gate").touch()


def test_stop_status_and_rm(server: Server, keys: Keys, jh: Client, tmp_path: Path) -> None:
    job_id = jh.submit(GATED.format(gate=tmp_path / "never"), "to stop")
    next(job for job in jh.watch(job_id) if job.status is Status.RUNNING)
    assert "Running (can be stopped)" in cli(server, keys, "status", job_id).stdout

    stopped = cli(server, keys, "stop", job_id)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() in STOP_ANSWERS
    assert jh.wait(job_id).status is Status.STOPPED

    again = cli(server, keys, "stop", job_id)  # a finished job: refused, not deleted
    assert again.returncode == 1
    assert again.stderr == f"jobhost: Job has already finished: {job_id} is Stopped\n"
    status = json.loads(cli(server, keys, "status", "--json", job_id).stdout)
    assert status["status"] == "Stopped" and status["output"].endswith("[Job stopped by user]\n")

    removed = cli(server, keys, "rm", job_id)
    assert (removed.returncode, removed.stdout) == (0, "Job result deleted successfully\n")
    assert cli(server, keys, "status", job_id).stderr == f"jobhost: Job not found: {job_id}\n"


def test_logs_show_no_terminal_sequences_unless_raw(server: Server, keys: Keys, jh: Client) -> None:
    job_id = jh.submit(HOSTILE, "hostile")
    jh.wait(job_id)
    shown = cli(server, keys, "logs", job_id)
    assert shown.returncode == 0
    assert shown.stdout == "safe \x1b[31mred\x1b[0m end\n"  # colours kept, nothing else
    raw = cli(server, keys, "logs", "--raw", job_id)
    assert "\x1b]0;pwned\x07" in raw.stdout and "\x1b[2J" in raw.stdout
    assert "\x1b]52;c;cHduZWQ=\x1b\\" in raw.stdout


def test_submit_follow_filters_too(server: Server, keys: Keys) -> None:
    result = cli(server, keys, "submit", "-f", "--", HOSTILE)
    assert result.stdout == "safe \x1b[31mred\x1b[0m end\n"


def test_ctrl_c_then_no_detaches_and_leaves_the_job_running(
    server: Server, keys: Keys, jh: Client, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job_id = jh.submit(GATED.format(gate=gate), "detach")
    proc = start_cli(server, keys, "logs", "-f", job_id)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    _, errors = proc.communicate("n\n", timeout=30)
    assert proc.returncode == 130, errors
    assert f"Stop job {job_id}? [y/N]" in errors
    assert f"jobhost logs -f {job_id}" in errors
    assert jh.get(job_id).status is Status.RUNNING
    gate.touch()
    assert jh.wait(job_id).status is Status.COMPLETED


def test_ctrl_c_then_yes_stops_the_job_and_follows_it_to_the_end(
    server: Server, keys: Keys, jh: Client, tmp_path: Path
) -> None:
    command = GATED.format(gate=tmp_path / "never")
    proc = start_cli(server, keys, "submit", "--follow", "--", command)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    output, errors = proc.communicate("y\n", timeout=30)
    assert proc.returncode == 143, errors
    assert output == "[Job stopped by user]\n"
    job_id = re.findall(f"submitted job ({UUID})", errors)[0]
    assert any(answer in errors for answer in STOP_ANSWERS)
    assert jh.get(job_id).status is Status.STOPPED


def test_ctrl_c_while_waiting_without_an_answer_detaches(
    server: Server, keys: Keys, jh: Client
) -> None:
    proc = start_cli(server, keys, "submit", "--wait", "--", "sleep 30")
    assert proc.stdout is not None
    job_id = proc.stdout.readline().strip()  # the id comes first, then the spinner
    proc.send_signal(signal.SIGINT)
    _, errors = proc.communicate("", timeout=30)  # stdin closed: no answer means no
    assert proc.returncode == 130, errors
    assert jh.get(job_id).status is Status.RUNNING
    jh.stop(job_id)


@pytest.mark.parametrize(
    ("token", "args", "message"),
    [
        ("jh_not-a-valid-key", ["jobs"],
         "jobhost: Invalid API key (HTTP 401): set JOBHOST_TOKEN to a valid API key"),
        (None, ["jobs"], "jobhost: Unauthorized (HTTP 401): set JOBHOST_TOKEN to a valid API key"),
        ("admin", ["status", "0f8fad5b-d9cb-469f-a165-70867728950e"],
         "jobhost: Job not found: 0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("admin", ["logs", "not-a-job"], "jobhost: Invalid jobId: must be a UUID"),
        ("admin", ["jobs", "--status", "Sleeping"], "jobhost: Unknown status 'Sleeping'"),
        ("alice", ["submit", "true"], "jobhost: Runspace/BackgroundJob execution requires"),
    ],
)  # fmt: skip
def test_errors_are_one_line_on_stderr(
    server: Server, keys: Keys, token: str | None, args: list[str], message: str
) -> None:
    key = {"admin": keys.admin, "alice": keys.alice}.get(token or "", token)
    result = run_cli(server.data_dir, *args, env=connection(server, key))
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(message)


def test_an_unreachable_server_is_one_line_on_stderr(server: Server, keys: Keys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli(server.data_dir, "jobs", "--url", url, env=connection(server, keys.admin))
    assert result.returncode == 1
    assert result.stderr.startswith(f"jobhost: Cannot reach the jobhost server at {url}: ")
    assert len(result.stderr.splitlines()) == 1
