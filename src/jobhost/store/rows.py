"""Converting table rows to domain values and back."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from jobhost.models import Job, JobSpec, Mode, Status


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


def job_from_row(row: Row[Any]) -> Job:
    m = row._mapping
    spec = JobSpec(
        name=m["name"],
        command=m["command"],
        mode=Mode(m["mode"]),
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
        status=Status(m["status"]),
        submitted_at=m["submitted_at"],
        started_at=m["started_at"],
        completed_at=m["completed_at"],
        exit_code=m["exit_code"],
        attempt=m["attempt"],
        output_size=m["output_size"],
        output_dropped=m["output_dropped"],
        node=m["node"],
    )
