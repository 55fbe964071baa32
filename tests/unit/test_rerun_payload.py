"""A rerun's submit body: the finished job's fields, parsed anew, without runAt and dependsOn."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from jobhost.errors import InvalidInput
from jobhost.models import JobSpec, Mode
from jobhost.service.submission import parse_rerun, parse_submission, rerun_payload

DEPENDENCY = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_every_field_but_run_at_and_depends_on_comes_back(tmp_path: Path) -> None:
    spec = JobSpec(
        name="nightly",
        command="make all",
        mode=Mode.BACKGROUND_JOB,
        description="the build",
        stop_grace_seconds=2.5,
        timeout_seconds=600.0,
        env={"A": "1", "B": ""},
        working_directory=str(tmp_path),
        priority=-7,
        depends_on=(DEPENDENCY,),
        run_at=1_800_000_000.0,
        max_retries=3,
        retry_delay_seconds=0.0,
        rerun_of=DEPENDENCY,
    )
    again = parse_submission(rerun_payload(spec))
    assert again == replace(spec, depends_on=(), run_at=None, rerun_of=None)


def test_a_plain_python_job_comes_back_plain() -> None:
    spec = JobSpec(name="p", command="print(1)", mode=Mode.RUNSPACE)
    assert rerun_payload(spec) == {
        "jobName": "p",
        "command": "print(1)",
        "executionMode": "Runspace",
        "priority": 0,
        "maxRetries": 0,
    }
    assert parse_submission(rerun_payload(spec)) == spec


def test_a_working_directory_gone_since_is_refused_as_on_submit(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    spec = JobSpec(name="p", command="ls", mode=Mode.BACKGROUND_JOB, working_directory=str(gone))
    with pytest.raises(InvalidInput, match="workingDirectory"):
        parse_submission(rerun_payload(spec))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing required field: jobId"),
        ({"jobId": 7}, "Invalid jobId: Input should be a valid string"),
        ({"jobId": DEPENDENCY, "more": 1}, "Unknown field: more"),
    ],
)
def test_a_rerun_body_names_what_is_wrong(body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rerun(body)
    assert refused.value.message == message
    assert parse_rerun({"jobId": DEPENDENCY}) == DEPENDENCY
