"""Job records as the API shows them: PascalCase keys, ISO 8601 UTC times with milliseconds."""

from __future__ import annotations

from jobhost import policy
from jobhost.models import Category, Job
from jobhost.wire import JobDetail, JobRecord

RECORD_OUTPUT_BYTES = 1024 * 1024
# The largest output offset taken: with a page added it still fits the int64 that SQLite and
# PostgreSQL compare it with (no job's output comes near it).
MAX_OFFSET = 10**18 - 1
"""Output included in a single job's record; more is paged through ``jobs/output``."""


def iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else policy.utc_text(timestamp)


def job_record(job: Job, now: float) -> JobRecord:
    started, completed = iso(job.started_at), iso(job.completed_at)
    return {
        "JobID": job.job_id,
        "JobName": job.spec.name,
        "Description": job.spec.description,
        "ExecutionMode": job.mode.value,
        "UserID": job.user_id,
        "Status": job.status.value,
        "SubmittedAt": iso(job.submitted_at),
        "StartedAt": started,
        "CompletedAt": completed,
        "DateStarted": started,
        "DateCompleted": completed,
        "Runtime": job.runtime(now),
        "Success": job.success if job.status.is_finished else None,
        "ExitCode": job.exit_code,
        "CpuSeconds": job.cpu_seconds,
        "MaxRssBytes": job.max_rss_bytes,
        "CanStop": policy.can_stop(job),
        "Priority": job.spec.priority,
        "DependsOn": list(job.spec.depends_on),
        "Attempt": job.attempt,
        "PendingReason": job.pending_reason if job.status.category is Category.PENDING else None,
        "RunAt": iso(job.spec.run_at),
        "MaxRetries": job.spec.max_retries,
        "RerunOf": job.spec.rerun_of,
        "TemplateID": job.spec.template_id,
        "ScheduleID": job.spec.schedule_id,
    }


def detailed_record(job: Job, now: float, output: bytes | None) -> JobDetail:
    """The record plus the command and (for a finished job) the output.

    ``output`` is the tail of the stored output; when it is not all of it, a first line
    says how much was left out.
    """
    text = None
    if output is not None:
        text = output.decode("utf-8", "replace")
        omitted = job.output_size - len(output)
        if omitted > 0:
            text = f"[{omitted} earlier bytes omitted; read them from jobs/output]\n" + text
    return {
        **job_record(job, now),
        "Command": job.spec.command,
        "Output": text,
        "OutputBytes": job.output_size,
        "OutputTruncated": job.output_dropped > 0,
    }


def decode_stream(data: bytes, at_end: bool) -> tuple[str, int]:
    """Text for ``data`` and how many of its bytes it used.

    Unless this is the end of the output, an incomplete UTF-8 sequence at the end is held
    back for the next read, so that a character split across reads is not mangled.
    """
    if at_end:
        return data.decode("utf-8", "replace"), len(data)
    cut = len(data)
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte or ASCII: where the last sequence starts
            needed = (
                1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            )
            if back < needed:
                cut = len(data) - back
            break
    return data[:cut].decode("utf-8", "replace"), cut
