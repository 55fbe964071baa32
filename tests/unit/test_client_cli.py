"""The pure parts of the job commands: exit codes, command lines, how values are shown."""

from __future__ import annotations

import dataclasses
import datetime
import io

import pytest

from jobhost.cli.attach import OutputWriter, exit_code_for
from jobhost.cli.main import main
from jobhost.cli.submit import _command_text, _default_name, parse_at
from jobhost.cli.view import duration, one_line, status_lines
from jobhost.client import Job
from jobhost.errors import InvalidInput
from jobhost.models import Mode, Status

JOB = Job(
    id="0f8fad5b-d9cb-469f-a165-70867728950e", name="n", status=Status.RUNNING,
    mode=Mode.BACKGROUND_JOB, user_id="bob", description=None, submitted_at=None,
    started_at=None, completed_at=None, runtime=None, success=None, exit_code=None,
    can_stop=True, priority=0, attempt=1,
)  # fmt: skip


@pytest.mark.parametrize(
    ("status", "exit_code", "expected"),
    [
        (Status.COMPLETED, 0, 0),
        (Status.FAILED, 3, 3),
        (Status.FAILED, 255, 255),
        (Status.FAILED, None, 1),  # a Python job that raised, or a job that never started
        (Status.FAILED, 300, 1),  # not representable as an exit status
        (Status.FAILED, -9, 1),
        (Status.STOPPED, 143, 143),
        (Status.STOPPED, None, 143),  # a stopped Runspace job has no exit code
        (Status.CANCELLED, None, 143),
        (Status.TIMED_OUT, 143, 124),
        (Status.INTERRUPTED, None, 75),
    ],
)
def test_exit_codes_are_the_documented_ones(
    status: Status, exit_code: int | None, expected: int
) -> None:
    job = dataclasses.replace(JOB, status=status, exit_code=exit_code)
    assert exit_code_for(job) == expected


def test_several_arguments_are_quoted_for_the_shell_one_is_used_as_is() -> None:
    assert _command_text(["echo $HOME | wc -c"], "BackgroundJob") == "echo $HOME | wc -c"
    assert _command_text(["printf", "%s", "a b", "$X"], "process") == "printf %s 'a b' '$X'"
    assert _command_text(["print(1);", "print(2)"], "Runspace") == "print(1); print(2)"


def test_default_names_are_one_printable_line() -> None:
    assert _default_name("for i in 1 2\ndo\techo $i\ndone") == "for i in 1 2 do echo $i done"
    assert _default_name("\x1b]0;x\x07\u2028") == "job"
    assert len(_default_name("x" * 500)) == 60


def test_values_shown_in_the_layout_lose_every_sequence() -> None:
    job = dataclasses.replace(JOB, name="\x1b[2Jn\ra", command="rm -rf /\rls\x1b]0;t\x07")
    shown = dict(status_lines(job))
    assert shown["name"].plain == "na" and shown["command"].plain == "rm -rf /ls"
    assert one_line("a\n\x1b[31mb\x1b[0m  c") == "a b c"


def test_status_shows_the_queue_control_fields_a_job_has() -> None:
    first, second = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    run_at = datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.UTC)
    job = dataclasses.replace(
        JOB, status=Status.SCHEDULED, priority=-5, depends_on=(first, second), run_at=run_at,
        attempt=1, max_retries=3, pending_reason="retry 1 of 3 at 2026-12-03T15:00:00.000Z",
    )  # fmt: skip
    lines = [(label, text.plain) for label, text in status_lines(job)]

    assert ("priority", "-5") in lines
    assert [value for label, value in lines if label == "depends on"] == [first, second]
    assert ("run at", "2026-12-03 15:00:00Z") in lines
    assert ("attempt", "1 of 4") in lines
    assert ("reason", "retry 1 of 3 at 2026-12-03T15:00:00.000Z") in lines


def test_status_leaves_out_the_queue_control_fields_a_job_does_not_have() -> None:
    labels = [label for label, _ in status_lines(JOB)]
    assert not {"priority", "depends on", "run at", "reason"} & set(labels)
    assert dict(status_lines(JOB))["attempt"].plain == "1"


def test_status_shows_what_a_finished_job_used_and_nothing_when_unknown() -> None:
    used = dataclasses.replace(
        JOB, status=Status.COMPLETED, cpu_seconds=1.0234, max_rss_bytes=12_897_484
    )
    assert dict(status_lines(used))["resources"].plain == "cpu 1.02 s, max RSS 12.3 MiB"
    half = dataclasses.replace(used, cpu_seconds=None)
    assert dict(status_lines(half))["resources"].plain == "cpu -, max RSS 12.3 MiB"
    assert "resources" not in dict(status_lines(JOB))  # a Runspace job's, or a running one's


def test_durations_read_easily() -> None:
    assert [duration(s) for s in (None, 0.04, 59.94, 61, 3599, 3600 * 5 + 125)] == [
        "-", "0.0s", "59.9s", "1m 01s", "59m 59s", "5h 02m",
    ]  # fmt: skip


def test_the_writer_filters_unless_raw_and_resets_colours_it_left_on() -> None:
    shown = io.BytesIO()
    writer = OutputWriter(raw=False, stream=io.TextIOWrapper(shown, encoding="ascii"))
    writer.write("\x1b]0;t\x07é \x1b[3")
    writer.write("1mred")
    writer.close()
    assert shown.getvalue() == b"? \x1b[31mred\x1b[0m"  # é is not ASCII: shown as ?
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")  # kept: collecting it would close raw
    OutputWriter(raw=True, stream=stream).write("\x1b]0;t\x07é")
    assert raw.getvalue() == "\x1b]0;t\x07é".encode()  # bytes as they are, UTF-8


def test_at_takes_iso_times_in_utc_with_an_offset_or_in_local_time() -> None:
    utc = datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.UTC)
    assert parse_at("2026-12-03T15:00:00Z") == utc
    assert parse_at("2026-12-03T16:00:00+01:00") == utc
    local = parse_at("2026-12-03T15:00:00")
    assert local.tzinfo is not None
    assert local.replace(tzinfo=None) == datetime.datetime(2026, 12, 3, 15, 0)
    with pytest.raises(InvalidInput, match="Invalid --at 'tomorrow'"):
        parse_at("tomorrow")


@pytest.mark.parametrize("option", ["--var", "-v", "--variable"])
def test_schedule_add_takes_template_variables_as_start_does(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused before any server is asked: the option is known, but only for --template.
    argv = ["schedule", "add", "n", "--cron", "0 3 * * *", "--command", "true", option, "a=b"]
    assert main(argv) == 1
    assert capsys.readouterr().err == "jobhost: -v/--var is for --template\n"
