"""Validating a submitted JSON object into a JobSpec, with the contract's error texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobhost.errors import InvalidInput
from jobhost.models import Mode
from jobhost.service.submission import (
    MAX_ARG_BYTES,
    MAX_COMMAND_CHARS,
    MAX_ENV_BYTES,
    parse_submission,
)

INVALID_MODE = "Invalid execution mode. Must be one of: MainLoop, Runspace, BackgroundJob"
REQUIRED = ["jobName", "command", "executionMode"]

# Python's notion of printable: everything but the Other and Separator categories (space is
# the one printable separator).
_PRINTABLE = st.characters(
    exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"),
    include_characters=" ",
)


def _payload(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "jobName": "nightly",
        "command": "echo hi",
        "executionMode": "process",
    }
    body.update(extra)
    return body


def _refusal(payload: dict[str, object]) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_submission(payload)
    return caught.value.message


def test_minimal_submission() -> None:
    spec = parse_submission(_payload())
    assert (spec.name, spec.command, spec.mode) == ("nightly", "echo hi", Mode.BACKGROUND_JOB)
    assert spec.description is None
    assert spec.stop_grace_seconds is None
    assert spec.timeout_seconds is None
    assert dict(spec.env) == {}
    assert spec.working_directory is None


def test_submission_with_every_optional_field(tmp_path: Path) -> None:
    spec = parse_submission(
        {
            "jobName": "Backup: /srv → s3",
            "command": "tar czf - /srv | upload",
            "executionMode": "BackgroundJob",
            "description": "  kept exactly,\nincluding newlines  ",
            "stopGraceSeconds": 2.5,
            "timeoutSeconds": 60,
            "env": {"AWS_REGION": "eu-west-1", "_X1": ""},
            "workingDirectory": str(tmp_path),
        }
    )
    assert spec.name == "Backup: /srv → s3"
    assert spec.command == "tar czf - /srv | upload"
    assert spec.mode is Mode.BACKGROUND_JOB
    assert spec.description == "  kept exactly,\nincluding newlines  "
    assert spec.stop_grace_seconds == 2.5
    assert spec.timeout_seconds == 60.0
    assert dict(spec.env) == {"AWS_REGION": "eu-west-1", "_X1": ""}
    assert spec.working_directory == str(tmp_path)


@pytest.mark.parametrize(
    ("text", "mode"),
    [("MainLoop", Mode.MAIN_LOOP), (" INLINE ", Mode.MAIN_LOOP), ("runspace", Mode.RUNSPACE)],
)
def test_mode_is_parsed_leniently(text: str, mode: Mode) -> None:
    assert parse_submission(_payload(executionMode=text)).mode is mode


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_required_field_is_named(name: str) -> None:
    payload = _payload()
    del payload[name]
    assert _refusal(payload) == f"Missing required field: {name}"


def test_an_empty_body_names_a_required_field() -> None:
    assert _refusal({}) in {f"Missing required field: {name}" for name in REQUIRED}


@pytest.mark.parametrize("name", ["jobname", "Priority", "Command", "runat", "bogus"])
def test_an_unknown_field_is_named(name: str) -> None:
    assert _refusal(_payload(**{name: "x"})) == f"Unknown field: {name}"


@pytest.mark.parametrize("mode", ["", "   ", "shell", "Main Loop", "runspaces"])
def test_a_bad_mode_gets_the_contract_text(mode: str) -> None:
    assert _refusal(_payload(executionMode=mode)) == INVALID_MODE


@pytest.mark.parametrize("mode", [5, None, True, ["thread"], {"mode": "thread"}])
def test_a_non_string_mode_gets_the_contract_text(mode: object) -> None:
    assert _refusal(_payload(executionMode=mode)) == INVALID_MODE


@pytest.mark.parametrize(
    "extra",
    [
        {"jobName": 5},
        {"jobName": None},
        {"command": ["echo", "hi"]},
        {"description": 7},
        {"stopGraceSeconds": True},
        {"stopGraceSeconds": "3"},
        {"stopGraceSeconds": -1},
        {"stopGraceSeconds": 3601},
        {"timeoutSeconds": 0},
        {"timeoutSeconds": "10"},
        {"env": {"A": 1}},
        {"env": {"A": None}},
        {"env": ["A=1"]},
        {"workingDirectory": 3},
    ],
)
def test_wrong_types_and_ranges_are_invalid_input(extra: dict[str, object]) -> None:
    message = _refusal(_payload(**extra))
    assert message.startswith(f"Invalid {next(iter(extra))}")


@pytest.mark.parametrize("name", ["", " ", "   \t ", "x" * 201, "line\nbreak", "tab\there", "\x00"])
def test_a_bad_job_name_is_invalid_input(name: str) -> None:
    assert _refusal(_payload(jobName=name)).startswith("Invalid jobName")


def test_a_job_name_of_200_characters_is_accepted() -> None:
    assert parse_submission(_payload(jobName="x" * 200)).name == "x" * 200


@pytest.mark.parametrize("command", ["", " ", "\n\t  "])
def test_a_blank_command_is_refused(command: str) -> None:
    assert _refusal(_payload(command=command)) == "Missing required field: command"


def test_a_command_with_nul_is_refused() -> None:
    assert "NUL" in _refusal(_payload(command="echo a\0b"))


def test_a_command_at_the_length_limit_is_accepted_and_one_more_is_not() -> None:
    command = "x" * MAX_COMMAND_CHARS
    assert parse_submission(_payload(command=command)).command == command
    assert _refusal(_payload(command=command + "x")).startswith("Invalid command")


@pytest.mark.parametrize("name", ["", "1ABC", "A-B", "A B", "A=B", "Ä", "X" * 129])
def test_a_bad_env_name_is_refused(name: str) -> None:
    assert _refusal(_payload(env={name: "v"})).startswith("Invalid env")


def test_an_env_entry_exec_would_refuse_is_400_naming_it() -> None:
    # NAME=VALUE may take MAX_ARG_BYTES bytes, counted in UTF-8: exec fails with E2BIG past it.
    value = "v" * (MAX_ARG_BYTES - len("BIG="))
    assert parse_submission(_payload(env={"BIG": value})).env == {"BIG": value}
    assert _refusal(_payload(env={"BIG": value + "v"})) == (
        f"Invalid env: BIG=VALUE is longer than {MAX_ARG_BYTES} bytes"
    )
    assert _refusal(_payload(env={"BIG": "\u20ac" * (MAX_ARG_BYTES // 3)})).startswith(
        "Invalid env: BIG=VALUE is longer"
    )


def test_an_env_larger_than_its_share_of_arg_max_is_refused() -> None:
    share = MAX_ENV_BYTES // 10
    env = {f"V{n}": "v" * share for n in range(11)}
    assert _refusal(_payload(env=env)) == f"Invalid env: more than {MAX_ENV_BYTES} bytes in all"


def test_a_command_counts_its_bytes_too() -> None:
    # Fewer characters than the limit, but more bytes than one exec argument holds.
    command = "\u20ac" * (MAX_ARG_BYTES // 3 + 1)
    assert len(command) < MAX_COMMAND_CHARS
    assert _refusal(_payload(command=command)) == (
        f"Invalid command: longer than {MAX_ARG_BYTES} bytes in UTF-8"
    )


def test_an_env_value_with_nul_is_refused() -> None:
    assert _refusal(_payload(env={"A": "x\0y"})).startswith("Invalid env")


def test_a_long_description_is_refused() -> None:
    assert _refusal(_payload(description="d" * 10_001)).startswith("Invalid description")


def test_a_description_with_nul_is_refused() -> None:
    assert _refusal(_payload(description="a\0b")).startswith("Invalid description")


def test_a_relative_working_directory_is_refused() -> None:
    assert _refusal(_payload(workingDirectory=".")).startswith("Invalid workingDirectory")


def test_a_missing_working_directory_is_refused(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    assert _refusal(_payload(workingDirectory=missing)).startswith("Invalid workingDirectory")


def test_a_file_as_working_directory_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert _refusal(_payload(workingDirectory=str(file))).startswith("Invalid workingDirectory")


def test_an_existing_absolute_directory_is_accepted(tmp_path: Path) -> None:
    spec = parse_submission(_payload(workingDirectory=str(tmp_path)))
    assert spec.working_directory == str(tmp_path)


@settings(max_examples=60, deadline=None, database=None)
@given(st.text(_PRINTABLE, min_size=1, max_size=200).filter(lambda s: s.strip() != ""))
def test_any_printable_non_blank_name_is_stored_exactly(name: str) -> None:
    assert name.isprintable()
    assert parse_submission(_payload(jobName=name)).name == name


@pytest.mark.parametrize("mode", ["Runspace", "MainLoop"])
@pytest.mark.parametrize(
    ("option", "error"),
    [
        ({"env": {"A": "1"}}, "Invalid env: only BackgroundJob jobs take env, not "),
        (
            {"workingDirectory": "/tmp"},
            "Invalid workingDirectory: only BackgroundJob jobs take one",
        ),
    ],
)
def test_process_options_are_refused_for_python_jobs(
    mode: str, option: dict[str, object], error: str
) -> None:
    assert _refusal(_payload(executionMode=mode, **option)).startswith(error)


def test_a_mainloop_job_cannot_have_a_timeout() -> None:
    refusal = _refusal(_payload(executionMode="MainLoop", timeoutSeconds=5))
    assert refusal == "Invalid timeoutSeconds: MainLoop jobs cannot be stopped, so cannot time out"
    assert (
        parse_submission(_payload(executionMode="Runspace", timeoutSeconds=5)).timeout_seconds == 5
    )


def test_the_queue_control_fields_reach_the_spec() -> None:
    a, b = "0f1c2d3e-4a5b-4c6d-8e9f-a0b1c2d3e4f5", "1f1c2d3e-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
    spec = parse_submission(
        _payload(
            priority=-5,
            dependsOn=[a.upper(), b, a],
            runAt="2026-12-03T15:00:00.250Z",
            maxRetries=3,
            retryDelaySeconds=2.5,
        )
    )
    assert spec.priority == -5
    assert spec.depends_on == (a, b)  # lower-cased, each once, in the order given
    assert spec.run_at == 1796310000.25
    assert (spec.max_retries, spec.retry_delay_seconds) == (3, 2.5)
    plain = parse_submission(_payload())
    assert (plain.priority, plain.depends_on, plain.run_at, plain.max_retries) == (0, (), None, 0)
    assert plain.retry_delay_seconds is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"priority": 101}, "Invalid priority"),
        ({"priority": -101}, "Invalid priority"),
        ({"priority": "1"}, "Invalid priority"),
        ({"priority": True}, "Invalid priority"),
        ({"priority": 1.5}, "Invalid priority"),
        ({"dependsOn": []}, "Invalid dependsOn"),
        ({"dependsOn": "x"}, "Invalid dependsOn"),
        ({"dependsOn": [1]}, "Invalid dependsOn.0"),
        ({"dependsOn": ["../x"]}, "Invalid dependsOn: ../x is not a job id (a UUID)"),
        ({"dependsOn": [f"{n:08x}-0000-4000-8000-000000000000" for n in range(101)]},
         "Invalid dependsOn: at most 100 different job ids"),
        ({"runAt": "tomorrow"}, "Invalid runAt: must be a UTC time such as"),
        ({"runAt": "2026-12-03T15:00:00"}, "Invalid runAt: must say its time zone"),
        ({"runAt": 1796310000}, "Invalid runAt"),
        ({"runAt": "9999-12-31T23:59:59-23:59"}, "Invalid runAt"),
        ({"maxRetries": 11}, "Invalid maxRetries"),
        ({"maxRetries": -1}, "Invalid maxRetries"),
        ({"retryDelaySeconds": -1}, "Invalid retryDelaySeconds"),
        ({"retryDelaySeconds": 86401}, "Invalid retryDelaySeconds"),
        ({"runAt": "2026-12-03T15:00:00\udfffZ"}, "Invalid runAt"),
    ],
)  # fmt: skip
def test_a_bad_queue_control_field_is_named(fields: dict[str, object], message: str) -> None:
    assert _refusal(_payload(**fields)).startswith(message)


def test_null_queue_fields_mean_their_defaults_and_repeats_count_once() -> None:
    nulls = {"priority": None, "dependsOn": None, "runAt": None, "maxRetries": None}
    spec = parse_submission(_payload(**nulls, retryDelaySeconds=None))
    assert (spec.priority, spec.depends_on, spec.run_at, spec.max_retries) == (0, (), None, 0)
    same = "0f1c2d3e-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
    assert parse_submission(_payload(dependsOn=[same] * 101)).depends_on == (same,)


def test_a_run_at_long_past_in_any_zone_means_now() -> None:
    spec = parse_submission(_payload(runAt="0001-01-01T00:00:00+01:00"))
    assert spec.run_at is not None and spec.run_at < 0
