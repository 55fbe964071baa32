"""Arguments, stdin and working directories that are not UTF-8, and passwords too long to
sign in with: one line on stderr and exit 1, never a traceback or a password nobody can use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.server import cli_env, run_cli

URL = "http://127.0.0.1:9"  # loopback; every case here is refused before it is asked


def jobhost(
    data_dir: Path, *args: bytes, stdin: bytes = b"", cwd: Path | bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"jobhost", *args],
        input=stdin,
        capture_output=True,
        env={**cli_env(data_dir, None), "JOBHOST_URL": URL, "JOBHOST_TOKEN": "jh_x"},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def refused_with(result: subprocess.CompletedProcess[bytes]) -> str:
    """The one stderr line of a refusal (exit 1, nothing on stdout)."""
    stderr = result.stderr.decode("utf-8", "replace")
    assert (result.returncode, result.stdout) == (1, b""), stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return stderr


@pytest.mark.parametrize(
    "args",
    [
        [b"submit", b"--env", b"A=\xff", b"--", b"true"],
        [b"submit", b"--", b"echo \xff"],
        [b"submit", b"--name", b"n\xfe", b"--", b"true"],
        [b"submit", b"--cwd", b"/tmp/\xff", b"--", b"true"],
        [b"user", b"add", b"al\xffce"],
    ],
)
def test_an_argument_that_is_not_utf8_is_named(tmp_path: Path, args: list[bytes]) -> None:
    stderr = refused_with(jobhost(tmp_path, *args))
    assert "is not valid UTF-8" in stderr
    assert stderr.startswith("jobhost: Argument ")


def test_a_current_directory_that_is_not_utf8_asks_for_cwd(tmp_path: Path) -> None:
    here = os.path.join(os.fsencode(tmp_path), b"dir-\xff")
    os.mkdir(here)
    stderr = refused_with(jobhost(tmp_path, b"submit", b"--", b"true", cwd=here))
    assert "current directory's path is not valid UTF-8; pass --cwd" in stderr


@pytest.mark.parametrize("command", [[b"user", b"add", b"alice"], [b"user", b"passwd", b"root"]])
def test_a_password_on_stdin_that_is_not_utf8_is_refused(
    tmp_path: Path, command: list[bytes]
) -> None:
    assert run_cli(tmp_path, "user", "add", "root").returncode == 0
    result = jobhost(tmp_path, *command, b"--password-stdin", stdin=b"pass\xffword-long\n")
    assert refused_with(result) == "jobhost: Password on stdin is not valid UTF-8\n"


@pytest.mark.parametrize("command", [["user", "add", "alice"], ["user", "passwd", "root"]])
def test_a_password_longer_than_sign_in_takes_is_refused(
    tmp_path: Path, command: list[str]
) -> None:
    assert run_cli(tmp_path, "user", "add", "root").returncode == 0
    longest = run_cli(tmp_path, *command, "--password-stdin", stdin="p" * 1000 + "\n")
    assert longest.returncode == 0, longest.stderr
    too_long = run_cli(tmp_path, "user", "passwd", "root", "--password-stdin", stdin="p" * 1001)
    assert (too_long.returncode, too_long.stderr) == (
        1,
        "jobhost: Password must be at most 1000 characters\n",
    )
