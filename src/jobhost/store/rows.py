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
        "depends_on": json.dumps(list(spec.depends_on)) if spec.depends_on else None,
        "run_at": spec.run_at,
        "max_retries": spec.max_retries,
        "retry_delay_seconds": spec.retry_delay_seconds,
        "rerun_of": spec.rerun_of,
        "template_id": spec.template_id,
        "variables": json.dumps(dict(spec.variables), sort_keys=True) if spec.variables else None,
        "schedule_id": spec.schedule_id,
    }


JOB_COLUMNS = tuple(column.name for column in jobs.c)
_MODES = {mode.value: mode for mode in Mode}
_STATUSES = {status.value: status for status in Status}


def job_from_row(row: Sequence[Any]) -> Job:
    """A job from a row of every jobs column in table order (``select(jobs)``, or
    ``returning(*jobs.c)``), as SQLAlchemy or the sqlite3 driver returns it.

    Unpacked by position: a listing converts up to a thousand rows per category and the
    dispatcher every job it claims; looking each column up by name (``Row._mapping``, or a
    dict of the row) cost more than the rest.
    """
    (
        _seq,
        job_id,
        user_id,
        name,
        description,
        command,
        mode,
        status,
        priority,
        submitted_at,
        started_at,
        completed_at,
        _stop_requested_at,
        exit_code,
        attempt,
        stop_grace_seconds,
        timeout_seconds,
        env,
        working_directory,
        output_size,
        output_dropped,
        node,
        _requeues,
        depends_on,
        run_at,
        max_retries,
        retry_delay_seconds,
        pending_reason,
        rerun_of,
        template_id,
        variables,
        schedule_id,
        _last_status,
        _last_started_at,
        _last_exit_code,
        _last_completed_at,
        cpu_seconds,
        max_rss_bytes,
    ) = row
    spec = JobSpec(
        name=name,
        command=command,
        mode=_MODES[mode],
        description=description,
        stop_grace_seconds=stop_grace_seconds,
        timeout_seconds=timeout_seconds,
        env=json.loads(env) if env else {},
        working_directory=working_directory,
        priority=priority,
        depends_on=tuple(json.loads(depends_on)) if depends_on else (),
        run_at=run_at,
        max_retries=max_retries,
        retry_delay_seconds=retry_delay_seconds,
        rerun_of=rerun_of,
        template_id=template_id,
        variables=json.loads(variables) if variables else {},
        schedule_id=schedule_id,
    )
    return Job(
        job_id=job_id,
        user_id=user_id,
        spec=spec,
        status=_STATUSES[status],
        submitted_at=submitted_at,
        started_at=started_at,
        completed_at=completed_at,
        exit_code=exit_code,
        attempt=attempt,
        output_size=output_size,
        output_dropped=output_dropped,
        node=node,
        pending_reason=pending_reason,
        cpu_seconds=cpu_seconds,
        max_rss_bytes=max_rss_bytes,
    )


# job_from_row unpacks a row into locals named after the columns, in order: a column added
# or moved must stop the import here, not shift the fields silently.
_UNPACKED = job_from_row.__code__.co_varnames[1 : 1 + len(JOB_COLUMNS)]
if tuple(name.lstrip("_") for name in _UNPACKED) != JOB_COLUMNS:
    raise RuntimeError(f"job_from_row unpacks {_UNPACKED}, the jobs table has {JOB_COLUMNS}")
