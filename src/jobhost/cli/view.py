"""How the job commands show jobs: the ``jobs`` table, ``status`` lines, one-line summaries.

Every value that came from a job (names, commands, messages) goes through
``without_sequences`` and into rich as ``Text``, so neither escape sequences nor rich markup
in it take effect.
"""

from __future__ import annotations

from datetime import datetime

from rich.table import Column, Table
from rich.text import Text

from jobhost.client import Job, JobList
from jobhost.models import Status
from jobhost.terminal import without_sequences

STATUS_STYLES: dict[Status, str] = {
    Status.PENDING: "blue",
    Status.WAITING: "blue",
    Status.SCHEDULED: "blue",
    Status.RUNNING: "cyan",
    Status.STOPPING: "yellow",
    Status.COMPLETED: "green",
    Status.FAILED: "red",
    Status.STOPPED: "yellow",
    Status.TIMED_OUT: "red",
    Status.INTERRUPTED: "magenta",
    Status.CANCELLED: "yellow",
}


def id_column() -> Column:
    """A table's id column: a UUID printed whole however narrow the terminal or pipe (the
    other columns wrap instead), as scripts and copy-paste need it."""
    return Column("id", no_wrap=True, min_width=36)


def safe(value: str | None) -> Text:
    return Text(without_sequences(value or ""))


def one_line(value: str, limit: int = 60) -> str:
    text = " ".join(without_sequences(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def status_text(job: Job) -> Text:
    return Text(job.status.value, style=STATUS_STYLES.get(job.status, ""))


def jobs_table(listing: JobList, jobs: list[Job], show_user: bool) -> Table:
    """The jobs, one section per category, with a caption of the totals."""
    table = Table(
        id_column(), "name", "status", "mode", *(["user"] if show_user else []), "submitted",
        "runtime", "exit", caption=_counts_caption(listing, len(jobs)),
    )  # fmt: skip
    previous = None
    for job in jobs:
        if previous is not None and job.category is not previous:
            table.add_section()
        previous = job.category
        user = [safe(job.user_id)] if show_user else []
        exit_code = "-" if job.exit_code is None else str(job.exit_code)
        table.add_row(
            job.id, Text(one_line(job.name, 40)), _status_cell(job), job.mode.value, *user,
            when(job.submitted_at), duration(job.runtime), exit_code,
        )  # fmt: skip
    return table


def _status_cell(job: Job) -> Text:
    """The status, with a pending job's reason under it."""
    cell = status_text(job)
    if job.pending_reason:
        cell += Text("\n") + Text(one_line(job.pending_reason), style="dim")
    return cell


def _counts_caption(listing: JobList, shown: int) -> str:
    counts = listing.counts
    return (
        f"{counts.pending} pending, {counts.running} running, {counts.completed} completed"
        f" (showing {shown})"
    )


def status_lines(job: Job) -> list[tuple[str, Text]]:
    """``status``'s human view: one labelled line per fact (queue control's only when set)."""
    exit_code = "-" if job.exit_code is None else str(job.exit_code)
    stop_note = " (can be stopped)" if job.can_stop else ""
    return [
        ("job", Text(job.id)),
        ("name", safe(job.name)),
        ("status", status_text(job) + Text(stop_note)),
        *([("reason", safe(job.pending_reason))] if job.pending_reason else []),
        ("mode", Text(job.mode.value)),
        ("user", safe(job.user_id)),
        *_queue_lines(job),
        ("submitted", Text(when(job.submitted_at))),
        ("started", Text(when(job.started_at))),
        ("finished", Text(when(job.completed_at))),
        ("runtime", Text(duration(job.runtime))),
        ("exit code", Text(exit_code)),
        *([("resources", Text(resources))] if (resources := _resources(job)) else []),
        ("attempt", Text(_attempt(job))),
        ("description", safe(job.description or "-")),
        ("command", safe(job.command or "-")),
    ]


def _queue_lines(job: Job) -> list[tuple[str, Text]]:
    """A job's priority, dependencies and run-at time, those it has."""
    lines = [("priority", Text(str(job.priority)))] if job.priority else []
    lines += [("depends on", Text(job_id)) for job_id in job.depends_on]
    if job.run_at is not None:
        lines.append(("run at", Text(when(job.run_at))))
    return lines


def _resources(job: Job) -> str | None:
    """What a finished job used, ``cpu 1.02 s, max RSS 12.3 MiB``; None if nothing is known."""
    if job.cpu_seconds is None and job.max_rss_bytes is None:
        return None
    cpu = "-" if job.cpu_seconds is None else f"{job.cpu_seconds:.2f} s"
    rss = "-" if job.max_rss_bytes is None else f"{job.max_rss_bytes / (1 << 20):.1f} MiB"
    return f"cpu {cpu}, max RSS {rss}"


def _attempt(job: Job) -> str:
    """The attempts made, and of how many when it may retry: ``2 of 4``."""
    return f"{job.attempt} of {1 + job.max_retries}" if job.max_retries else str(job.attempt)


def summary(job: Job) -> Text:
    """One line on how a job ended (or where it is)."""
    line = Text(f"job {job.id} ")
    line += status_text(job)
    line += Text(f" after {duration(job.runtime)}")
    if job.exit_code is not None:
        line += Text(f", exit code {job.exit_code}")
    return line
