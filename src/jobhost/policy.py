"""Pure rules: who may do what, and what a job's state allows. No I/O here."""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterable

from jobhost.models import Category, Job, Mode, QueueState, Status, User

PRIVILEGED_ROLES = frozenset({"task_manager", "debug", "system_admin", "site_admin"})
# The roles jobhost itself gives meaning to; operators may invent others for catalog entries.
BUILT_IN_ROLES = PRIVILEGED_ROLES
AUTHENTICATED = "authenticated"
SYSTEM_USER_ID = "system"
SYSTEM_USER = User(SYSTEM_USER_ID, frozenset({"system_admin", "debug"}))
"""The built-in owner of the catalog's schedules: never stored, never signs in."""

MAIN_LOOP_REFUSAL = "MainLoop execution mode requires 'debug' role"
ELEVATED_REFUSAL = (
    "Runspace/BackgroundJob execution requires elevated roles "
    "(task_manager, debug, system_admin, or site_admin)"
)
MAIN_LOOP_STOP_REFUSAL = "Cannot stop MainLoop jobs - they execute synchronously"
PRIORITY_REFUSAL = "Priority above 0 requires elevated roles"

DEFAULT_RETRY_DELAY_SECONDS = 10.0
# The ranges of submit's queue-control fields, checked by the API and by the CLI's options.
PRIORITY_RANGE = (-100, 100)
RETRIES_RANGE = (0, 10)
RETRY_DELAY_RANGE = (0, 86400)
MAX_TIMEOUT_SECONDS = 30 * 86400
MAX_TEMPLATE_ID_CHARS = 200
"""A catalog template id (its file's path under the catalog folder, without .toml)."""
MAX_RETRY_JITTER = 0.1
"""A retry's delay is stretched by a random fraction below this, so that jobs that failed
together do not all come back at the same moment."""
_RETRIED = frozenset({Status.FAILED, Status.TIMED_OUT, Status.INTERRUPTED})

# User ids name folders in the spool (JobSubmission/<UserID>/), so they must be path-safe:
# no separators, no leading dot. E-mail-like ids, as the seed used, are allowed.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def is_privileged(user: User) -> bool:
    return not PRIVILEGED_ROLES.isdisjoint(user.roles)


def effective_roles(user: User) -> list[str]:
    """Stored roles plus the pseudo-role every signed-in user has, sorted."""
    return sorted(user.roles | {AUTHENTICATED})


def holds_role(user: User, roles: Iterable[str]) -> bool:
    """Whether ``user`` holds one of ``roles``, counting ``authenticated`` (everyone)."""
    return not (user.roles | {AUTHENTICATED}).isdisjoint(roles)


def may_start_template(user: User, start_roles: Iterable[str]) -> bool:
    """A catalog template's start: privileged roles always, others by its ``startRoles``."""
    return is_privileged(user) or holds_role(user, start_roles)


def may_stop_template_jobs(user: User, stop_roles: Iterable[str]) -> bool:
    """Whether ``user`` may stop everyone's jobs of a template (anyone may stop their own):
    privileged roles always, others by its ``stopRoles``."""
    return is_privileged(user) or holds_role(user, stop_roles)


def submit_refusal(user: User, mode: Mode) -> str | None:
    """Why ``user`` may not submit a free-form command in ``mode``, or None if allowed."""
    if mode is Mode.MAIN_LOOP and "debug" not in user.roles:
        return MAIN_LOOP_REFUSAL
    if not is_privileged(user):
        return ELEVATED_REFUSAL
    return None


def priority_refusal(user: User, priority: int) -> str | None:
    """Why ``user`` may not ask for ``priority``, or None if allowed: above 0 is for
    privileged roles (a submit, and later a template start, check it alike)."""
    if priority > 0 and not is_privileged(user):
        return PRIORITY_REFUSAL
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


def is_reserved_user_id(text: str) -> bool:
    """Whether a user id is jobhost's own (``system``) and may not be created."""
    return text.lower() == SYSTEM_USER_ID


def may_sign_in(user_id: str) -> bool:
    """False for ``system``: the catalog's schedules and their jobs are that id's, so a user
    stored under it before the name was reserved must never act as it (by key, password,
    session or spool folder)."""
    return user_id != SYSTEM_USER_ID


def is_valid_role(text: str) -> bool:
    return _ROLE.fullmatch(text) is not None


def finished_status_for_exit(exit_code: int) -> Status:
    """How a job that ran to its end is recorded: Completed on exit code 0, else Failed."""
    return Status.COMPLETED if exit_code == 0 else Status.FAILED


def pending_reason(
    *,
    slots: tuple[int, int] | None = None,
    user_limit: tuple[int, int] | None = None,
    waiting_for: str | None = None,
    scheduled_for: float | None = None,
    retry: tuple[int, int, float] | None = None,
) -> str:
    """The PendingReason sentence, from exactly one of: ``slots`` or ``user_limit``
    (running, limit), ``waiting_for`` (a job id), ``scheduled_for`` (a time), ``retry``
    (retry number, retries allowed, its time). Every writer of a reason shares it."""
    if slots is not None:
        return f"waiting for a free slot ({slots[0]} of {slots[1]} running)"
    if user_limit is not None:
        return f"user limit reached ({user_limit[0]} of {user_limit[1]} running)"
    if waiting_for is not None:
        return f"waiting for {waiting_for}"
    if scheduled_for is not None:
        return f"scheduled for {utc_text(scheduled_for)}"
    if retry is not None:
        return f"retry {retry[0]} of {retry[1]} at {utc_text(retry[2])}"
    raise ValueError("pending_reason needs one reason")


def queue_reason(state: QueueState, user_id: str) -> str:
    """Why a Pending job of ``user_id`` is not running, by the dispatcher's last decision."""
    running = state.users_at_limit.get(user_id)
    if running is not None and state.user_limit is not None:
        return pending_reason(user_limit=(running, state.user_limit))
    return pending_reason(slots=(state.running, state.slots))


def is_retried(status: Status) -> bool:
    """Whether a job ending in ``status`` runs again while it has retries left (Stopped and
    Cancelled never do)."""
    return status in _RETRIED


def retry_delay(first_delay: float, retry: int, jitter: float) -> float:
    """Seconds before retry number ``retry`` (from 1): ``first_delay`` doubled for each
    retry before it, stretched by ``jitter`` (a fraction in [0, MAX_RETRY_JITTER))."""
    if retry < 1 or not 0 <= jitter < MAX_RETRY_JITTER:
        raise ValueError(f"retry {retry} with jitter {jitter}")
    return first_delay * 2.0 ** (retry - 1) * (1 + jitter)


def attempt_header(attempt: int, max_retries: int) -> str:
    """The line that opens the output of every attempt after the first."""
    return f"[Attempt {attempt} of {1 + max_retries}]"


def retry_cancelled_note(attempt: int, max_retries: int) -> str:
    """The output line of a job whose pending retry, attempt ``attempt``, was cancelled: it
    ends as its last attempt did."""
    return f"[Retry cancelled: attempt {attempt} of {1 + max_retries} will not run]"


def scheduled_reason(run_at: float) -> str:
    return pending_reason(scheduled_for=run_at)


def retry_reason(retry: int, max_retries: int, run_at: float) -> str:
    return pending_reason(retry=(retry, max_retries, run_at))


def utc_text(timestamp: float) -> str:
    """A time as the API writes it: ISO 8601 in UTC, to the millisecond, with a Z."""
    # Rounded to the microsecond as datetime.fromtimestamp does, then cut to milliseconds,
    # without building a datetime: a listing of 100 jobs calls this 500 times.
    whole = math.floor(timestamp)
    micros = round((timestamp - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    t = time.gmtime(whole)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{micros // 1000:03d}Z"
    )


def waiting_reason(job_id: str) -> str:
    """The PendingReason of a Waiting job: the first of its dependencies still unfinished."""
    return pending_reason(waiting_for=job_id)


def dependency_ended_note(job_id: str, status: Status) -> str:
    """The output line of a job cancelled because its dependency ``job_id`` ended ``status``."""
    return f"[Job cancelled: dependency {job_id} ended {status.value}]"
