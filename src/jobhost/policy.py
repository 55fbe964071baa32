"""Pure rules: who may do what, and what a job's state allows. No I/O here."""

from __future__ import annotations

import re
import uuid

from jobhost.models import Category, Job, Mode, Status, User

PRIVILEGED_ROLES = frozenset({"task_manager", "debug", "system_admin", "site_admin"})
# The roles jobhost itself gives meaning to; operators may invent others for catalog entries.
BUILT_IN_ROLES = PRIVILEGED_ROLES
AUTHENTICATED = "authenticated"

MAIN_LOOP_REFUSAL = "MainLoop execution mode requires 'debug' role"
ELEVATED_REFUSAL = (
    "Runspace/BackgroundJob execution requires elevated roles "
    "(task_manager, debug, system_admin, or site_admin)"
)
MAIN_LOOP_STOP_REFUSAL = "Cannot stop MainLoop jobs - they execute synchronously"

# User ids name folders in the spool (JobSubmission/<UserID>/), so they must be path-safe:
# no separators, no leading dot. E-mail-like ids, as the seed used, are allowed.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def is_privileged(user: User) -> bool:
    return not PRIVILEGED_ROLES.isdisjoint(user.roles)


def effective_roles(user: User) -> list[str]:
    """Stored roles plus the pseudo-role every signed-in user has, sorted."""
    return sorted(user.roles | {AUTHENTICATED})


def submit_refusal(user: User, mode: Mode) -> str | None:
    """Why ``user`` may not submit a free-form command in ``mode``, or None if allowed."""
    if mode is Mode.MAIN_LOOP and "debug" not in user.roles:
        return MAIN_LOOP_REFUSAL
    if not is_privileged(user):
        return ELEVATED_REFUSAL
    return None


def may_see(user: User, job: Job) -> bool:
    return job.user_id == user.user_id or is_privileged(user)


def can_stop(job: Job) -> bool:
    """True while the job is running in a mode that can be stopped."""
    return job.status.category is Category.RUNNING and job.mode is not Mode.MAIN_LOOP


def is_valid_job_id(text: str) -> bool:
    """A job id is a canonical UUID string; anything else (paths, globs) is refused."""
    try:
        return str(uuid.UUID(text)) == text.lower() and len(text) == 36
    except ValueError:
        return False


def is_valid_user_id(text: str) -> bool:
    return _USER_ID.fullmatch(text) is not None


def is_valid_role(text: str) -> bool:
    return _ROLE.fullmatch(text) is not None


def finished_status_for_exit(exit_code: int) -> Status:
    """How a job that ran to its end is recorded: Completed on exit code 0, else Failed."""
    return Status.COMPLETED if exit_code == 0 else Status.FAILED


def waiting_reason(job_id: str) -> str:
    """The PendingReason of a Waiting job: the first of its dependencies still unfinished."""
    return f"waiting for {job_id}"


def dependency_ended_note(job_id: str, status: Status) -> str:
    """The output line of a job cancelled because its dependency ``job_id`` ended ``status``."""
    return f"[Job cancelled: dependency {job_id} ended {status.value}]"
