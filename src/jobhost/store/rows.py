"""Converting table rows to domain values and back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jobhost.models import Job, JobSpec, Mode, Status
from jobhost.store.schema import jobs


def job_values(spec: JobSpec) -> dict[str, Any]:
    """Column values for a new job's spec."""
    return {
        "name": spec.name,
        "description": spec.description,
        "command": spec.command,
        "mode": spec.mode.value,
        "priority": spec.priority,
        "stop_grace_seconds": spec.stop_grace_seconds,
        "timeout_seconds": spec.timeout_seconds,
        "env": json.dumps(dict(spec.env), sort_keys=True) if spec.env else None,
        "working_directory": spec.working_directory,
    }


JOB_COLUMNS = tuple(column.name for column in jobs.c)
_MODES = {mode.value: mode for mode in Mode}
_STATUSES = {status.value: status for status in Status}


def job_from_row(row: Sequence[Any]) -> Job:
    """A job from a row of every jobs column in table order (``select(jobs)``, or
    ``returning(*jobs.c)``), as SQLAlchemy or the sqlite3 driver returns it.

    By position into a plain dict: a listing converts up to a thousand rows per category,
    and looking each column up through ``Row._mapping`` cost more than the rest.
    """
    m = dict(zip(JOB_COLUMNS, row, strict=True))
    spec = JobSpec(
        name=m["name"],
        command=m["command"],
        mode=_MODES[m["mode"]],
        description=m["description"],
        stop_grace_seconds=m["stop_grace_seconds"],
        timeout_seconds=m["timeout_seconds"],
        env=json.loads(m["env"]) if m["env"] else {},
        working_directory=m["working_directory"],
        priority=m["priority"],
    )
    return Job(
        job_id=m["job_id"],
        user_id=m["user_id"],
        spec=spec,
        status=_STATUSES[m["status"]],
        submitted_at=m["submitted_at"],
        started_at=m["started_at"],
        completed_at=m["completed_at"],
        exit_code=m["exit_code"],
        attempt=m["attempt"],
        output_size=m["output_size"],
        output_dropped=m["output_dropped"],
        node=m["node"],
    )
