"""The client reads the API's answers by ``jobhost.wire``'s keys: every key it looks up is
one the wire record declares, and it reads every key it has a field for.

Lookups by subscript are checked by mypy against the TypedDicts; ``.get`` lookups (for keys
an answer may lack) are not, so these tests record which keys the client asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, get_type_hints

import pytest

from jobhost import wire
from jobhost.client import schedules as schedule_calls
from jobhost.client import values
from jobhost.models import Job as StoredJob
from jobhost.models import JobSpec, Mode, Status
from jobhost.web.records import detailed_record

SEED_DUPLICATES = {"DateStarted", "DateCompleted"}
"""Kept for the seed's callers; the client reads StartedAt and CompletedAt."""


class Recording(Mapping[str, Any]):
    """A JSON object that notes the keys read from it (nested objects are recorded too)."""

    def __init__(self, data: Mapping[str, Any], read: set[str]) -> None:
        self._data, self.read = data, read

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        value = self._data[key]
        if isinstance(value, Mapping):
            return Recording(value, self.read)
        if isinstance(value, list):
            return [Recording(v, self.read) if isinstance(v, Mapping) else v for v in value]
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def keys_read(parse: Callable[[Mapping[str, Any]], object], body: Mapping[str, Any]) -> set[str]:
    read: set[str] = set()
    parse(Recording(body, read))
    return read


def keys_of(*records: Any) -> set[str]:
    return {key for record in records for key in get_type_hints(record)}


def a_record() -> wire.JobDetail:
    spec = JobSpec(name="n", command="make", mode=Mode.RUNSPACE, description="d")
    job = StoredJob("0f8fad5b-d9cb-469f-a165-70867728950e", "bob", spec, Status.FAILED,
                    1.0, 2.0, 3.0, exit_code=3, attempt=1, output_size=5)  # fmt: skip
    return detailed_record(job, 4.0, b"boom\n")


def test_a_job_record_is_read_by_its_wire_keys() -> None:
    read = keys_read(values.job_from_record, a_record())
    assert read == keys_of(wire.JobDetail) - SEED_DUPLICATES


@pytest.mark.parametrize(
    ("parse", "body", "wire_records"),
    [
        (values.job_from_answer, {"success": True, "job": a_record()}, [wire.JobResponse]),
        (values.results_from_body, {"success": True, "results": [a_record()], "count": 1},
         [wire.ResultsResponse]),
        (values.job_list_from_body,
         {"success": True, "jobs": {"pending": [], "running": [], "completed": [a_record()]},
          "counts": {"pending": 0, "running": 0, "completed": 1, "total": 1}},
         [wire.JobListResponse, wire.JobLists, wire.JobCounts]),
        (values.output_page_from_body,
         {"success": True, "jobId": "j", "output": "", "runtime": None, "state": "Running",
          "message": None, "nextOffset": 0}, [wire.OutputResponse]),
        (values.submitted_job_id, {"success": True, "jobId": "j", "message": "m",
                                   "executionMode": "Runspace"}, [wire.SubmitResponse]),
        (values.message_of, {"success": True, "message": "m"}, [wire.MessageResponse]),
        (values.error_of, {"success": False, "error": "e"}, [wire.ErrorResponse]),
    ],
)  # fmt: skip
def test_an_answer_is_read_by_its_wire_keys(
    parse: Callable[[Mapping[str, Any]], object], body: Mapping[str, Any], wire_records: list[Any]
) -> None:
    record_keys = keys_of(wire.JobDetail)
    read = keys_read(parse, body) - record_keys
    assert read, "the answer's own keys"
    assert read <= keys_of(*wire_records)


def a_schedule_record() -> wire.ScheduleRecord:
    return {
        "ScheduleID": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "Name": "n",
        "Cron": "0 3 * * *",
        "Timezone": "UTC",
        "Overlap": "skip",
        "Enabled": True,
        "UserID": "bob",
        "TemplateID": None,
        "NextRunAt": "2026-01-01T03:00:00.000Z",
        "LastRunAt": None,
        "LastJobID": None,
        "NextRuns": ["2026-01-01T03:00:00.000Z"],
        "LastSkippedAt": "2025-12-31T03:00:00.000Z",
        "LastError": "Access denied: You do not have permission to start this job",
        "LastErrorAt": "2025-12-30T03:00:00.000Z",
    }


def test_a_schedule_record_is_read_by_its_wire_keys() -> None:
    read = keys_read(schedule_calls.schedule_from_record, a_schedule_record())
    assert read == keys_of(wire.ScheduleRecord)
    schedule = schedule_calls.schedule_from_record(a_schedule_record())
    assert schedule.to_json()["last_skipped_at"] == "2025-12-31T03:00:00.000Z"
    assert schedule.last_error == "Access denied: You do not have permission to start this job"
    assert schedule.to_json()["last_error_at"] == "2025-12-30T03:00:00.000Z"


@pytest.mark.parametrize(
    ("call", "body", "wire_records"),
    [
        (schedule_calls.list_schedules(),
         {"success": True, "schedules": [a_schedule_record()], "count": 1},
         [wire.ScheduleListResponse]),
        (schedule_calls.get_schedule("s"), {"success": True, "schedule": a_schedule_record()},
         [wire.ScheduleResponse]),
        (schedule_calls.add_template_schedule("n", "0 3 * * *", "t"),
         {"success": True, "scheduleId": "s", "nextRunAt": None}, [wire.ScheduleCreatedResponse]),
        (schedule_calls.preview("0 3 * * *"),
         {"success": True, "nextRuns": ["2026-01-01T03:00:00.000Z"]}, [wire.PreviewResponse]),
    ],
)  # fmt: skip
def test_a_schedule_answer_is_read_by_its_wire_keys(
    call: Any, body: Mapping[str, Any], wire_records: list[Any]
) -> None:
    read = keys_read(call.parse, body) - keys_of(wire.ScheduleRecord)
    assert read and read <= keys_of(*wire_records)
