"""Job records as the API shows them, and decoding output that arrives in pieces."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobhost.models import Job, JobSpec, Mode, Status
from jobhost.web.records import decode_stream, detailed_record, iso, job_record

T0 = datetime(2026, 1, 25, 10, 0, 0, tzinfo=UTC).timestamp()
RECORD_KEYS = {
    "JobID",
    "JobName",
    "Description",
    "ExecutionMode",
    "UserID",
    "Status",
    "SubmittedAt",
    "StartedAt",
    "CompletedAt",
    "DateStarted",
    "DateCompleted",
    "Runtime",
    "Success",
    "ExitCode",
    "CpuSeconds",
    "MaxRssBytes",
    "CanStop",
    "Priority",
    "DependsOn",
    "Attempt",
    "PendingReason",
    "RunAt",
    "MaxRetries",
    "RerunOf",
    "TemplateID",
    "ScheduleID",
}
NOT_STARTED = {Status.PENDING, Status.WAITING, Status.SCHEDULED, Status.CANCELLED}
RUNNING = {Status.RUNNING, Status.STOPPING}


def _job(
    status: Status,
    mode: Mode = Mode.BACKGROUND_JOB,
    *,
    exit_code: int | None = None,
    attempt: int = 0,
    output_size: int = 0,
    output_dropped: int = 0,
) -> Job:
    started = None if status in NOT_STARTED else T0 + 1.5
    completed = None if status in NOT_STARTED | RUNNING else T0 + 4.0
    spec = JobSpec(name="nightly", command="echo hi", mode=mode, description="d", priority=3)
    return Job(
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "bob",
        spec,
        status,
        T0,
        started,
        completed,
        exit_code=exit_code,
        attempt=attempt,
        output_size=output_size,
        output_dropped=output_dropped,
    )


@st.composite
def _split_utf8(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    """Some text (never U+FFFD itself) and its UTF-8 bytes cut into consecutive reads."""
    text = draw(st.text(st.characters(codec="utf-8", exclude_characters="\ufffd"), max_size=60))
    data = text.encode("utf-8")
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return text, [data[start:end] for start, end in pairwise(bounds)]


def test_iso_has_milliseconds_and_a_z_suffix() -> None:
    assert iso(T0 + 0.123) == "2026-01-25T10:00:00.123Z"
    assert iso(T0) == "2026-01-25T10:00:00.000Z"
    assert iso(T0 + 0.005) == "2026-01-25T10:00:00.005Z"
    assert iso(0.0) == "1970-01-01T00:00:00.000Z"


def test_iso_of_none_is_none() -> None:
    assert iso(None) is None


@settings(max_examples=100, deadline=None, database=None)
@given(st.integers(0, 4_102_444_800_000))  # up to 2100, in milliseconds
def test_iso_round_trips_whole_milliseconds_in_utc(ms: int) -> None:
    text = iso(ms / 1000)
    assert text is not None and len(text) == 24 and text.endswith("Z")
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None and parsed.utcoffset() == UTC.utcoffset(None)
    assert round(parsed.timestamp() * 1000) == ms


@pytest.mark.parametrize("status", list(Status))
def test_a_record_has_exactly_the_contract_keys(status: Status) -> None:
    record = job_record(_job(status), now=T0 + 10)
    assert set(record) == RECORD_KEYS
    assert isinstance(record["DependsOn"], list)
    assert record["DateStarted"] == record["StartedAt"]
    assert record["DateCompleted"] == record["CompletedAt"]


@pytest.mark.parametrize("status", list(Status))
def test_success_is_true_only_for_completed_and_null_until_finished(status: Status) -> None:
    success = job_record(_job(status), now=T0 + 10)["Success"]
    if not status.is_finished:
        assert success is None
    else:
        assert success is (status is Status.COMPLETED)


def test_a_finished_record_shows_its_values() -> None:
    job = _job(Status.FAILED, Mode.RUNSPACE, exit_code=2, attempt=1)
    assert job_record(job, now=T0 + 100) == {
        "JobID": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "JobName": "nightly",
        "Description": "d",
        "ExecutionMode": "Runspace",
        "UserID": "bob",
        "Status": "Failed",
        "SubmittedAt": "2026-01-25T10:00:00.000Z",
        "StartedAt": "2026-01-25T10:00:01.500Z",
        "CompletedAt": "2026-01-25T10:00:04.000Z",
        "DateStarted": "2026-01-25T10:00:01.500Z",
        "DateCompleted": "2026-01-25T10:00:04.000Z",
        "Runtime": 2.5,
        "Success": False,
        "ExitCode": 2,
        "CpuSeconds": None,
        "MaxRssBytes": None,
        "CanStop": False,
        "Priority": 3,
        "DependsOn": [],
        "Attempt": 1,
        "PendingReason": None,
        "RunAt": None,
        "MaxRetries": 0,
        "RerunOf": None,
        "TemplateID": None,
        "ScheduleID": None,
    }


def test_a_running_record_counts_runtime_to_now_and_can_stop() -> None:
    record = job_record(_job(Status.RUNNING), now=T0 + 11.5)
    assert record["Runtime"] == 10.0
    assert record["CanStop"] is True
    assert record["CompletedAt"] is None
    assert record["Success"] is None


def test_a_pending_record_has_no_times_or_runtime() -> None:
    record = job_record(_job(Status.PENDING), now=T0 + 10)
    assert (record["StartedAt"], record["DateStarted"], record["Runtime"]) == (None, None, None)
    assert record["CanStop"] is False


def test_a_running_main_loop_record_cannot_stop() -> None:
    assert job_record(_job(Status.RUNNING, Mode.MAIN_LOOP), now=T0)["CanStop"] is False


def test_a_detailed_record_adds_command_and_output() -> None:
    job = _job(Status.COMPLETED, output_size=len("héllo\n".encode()))
    record = detailed_record(job, now=T0 + 10, output="héllo\n".encode())
    assert set(record) == RECORD_KEYS | {"Command", "Output", "OutputBytes", "OutputTruncated"}
    assert record["Command"] == "echo hi"
    assert record["Output"] == "héllo\n"
    assert record["OutputBytes"] == 7
    assert record["OutputTruncated"] is False


def test_a_detailed_record_without_output_has_null_output() -> None:
    record = detailed_record(_job(Status.RUNNING, output_size=5), now=T0, output=None)
    assert record["Output"] is None
    assert record["OutputBytes"] == 5


def test_a_detailed_record_says_how_much_output_it_left_out() -> None:
    job = _job(Status.COMPLETED, output_size=1000)
    record = detailed_record(job, now=T0, output=b"last line\n")
    assert record["Output"] == (
        "[990 earlier bytes omitted; read them from jobs/output]\nlast line\n"
    )


def test_a_detailed_record_reports_dropped_output() -> None:
    job = _job(Status.COMPLETED, output_size=4, output_dropped=10)
    assert detailed_record(job, now=T0, output=b"tail")["OutputTruncated"] is True


@settings(max_examples=200, deadline=None, database=None)
@given(_split_utf8())
def test_decode_stream_reassembles_text_split_anywhere(case: tuple[str, list[bytes]]) -> None:
    text, reads = case
    pieces: list[str] = []
    carry = b""
    for index, read in enumerate(reads):
        data = carry + read
        decoded, used = decode_stream(data, at_end=index == len(reads) - 1)
        assert 0 <= used <= len(data)
        pieces.append(decoded)
        carry = data[used:]
    assert carry == b""
    assert "\ufffd" not in "".join(pieces)
    assert "".join(pieces) == text


@pytest.mark.parametrize("char", ["é", "€", "😀"])
def test_decode_stream_holds_back_a_split_character(char: str) -> None:
    data = b"a" + char.encode()
    for cut in range(2, len(data)):
        assert decode_stream(data[:cut], at_end=False) == ("a", 1)
    assert decode_stream(data, at_end=False) == ("a" + char, len(data))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"ab\xff", "ab\ufffd"),
        (b"a\xe2\x82", "a\ufffd"),
        (b"\x80x", "\ufffdx"),
        (b"\xf0", "\ufffd"),
    ],
)
def test_decode_stream_at_the_end_replaces_invalid_bytes(data: bytes, expected: str) -> None:
    assert decode_stream(data, at_end=True) == (expected, len(data))


def test_decode_stream_of_nothing_is_nothing() -> None:
    assert decode_stream(b"", at_end=False) == ("", 0)
    assert decode_stream(b"", at_end=True) == ("", 0)


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_iso_agrees_with_datetime_to_the_millisecond(timestamp: float) -> None:
    moment = datetime.fromtimestamp(timestamp, UTC)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert iso(timestamp) == expected
