"""The firing loop: on its own thread, it sleeps until the earliest next firing in the store
and submits one job for each schedule due, as the schedule's owner with its ScheduleID.

Everything it needs to know is in the store (the next firing, the last job), so a restarted
loop carries on where the last one stopped. After downtime a schedule fires once, then
moves on to its first firing after now. A firing that fails (the template gone, the owner
without the roles any more) is logged and the schedule moves on: the loop never stops.
Creating, changing or deleting a schedule wakes it (``wake``), and so does the catalog.
Each firing is claimed before it is submitted (a compare-and-set on next_run_at), so loops
sharing a store (servers on one PostgreSQL) submit it once: at most once per firing, and a
claimed firing whose submit fails is lost rather than doubled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from jobhost import policy
from jobhost.catalog import DeclaredSchedule
from jobhost.clock import Clock
from jobhost.errors import InvalidInput, JobhostError, StoreUnavailable
from jobhost.models import Job, Overlap, Schedule
from jobhost.schedules import cron
from jobhost.service.jobs import JobOperations
from jobhost.service.schedules import TemplateStarts, job_spec_of, owner_of
from jobhost.service.submission import parse_submission
from jobhost.store.protocol import JobStore, ScheduleStore, UserStore
from jobhost.store.schedules import DeclaredRow

logger = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 60.0
"""The loop looks at the store at least this often, for writes it was not woken for
(another process's, a clock that jumped)."""
DECLARED_CHECK_SECONDS = 2.0
"""With a catalog, how often the loop looks for its templates' schedules (a stat of the
catalog folder's files; a file edit reaches the schedules within this)."""
RETRY_SECONDS = 1.0
"""How soon a pass that failed (say, the store was busy) is tried again."""
MAX_ERROR_CHARS = 1000
"""How much of a refusal a schedule's LastError keeps."""


@dataclass(frozen=True, slots=True)
class CatalogSchedules:
    """The catalog's schedules as of one scan."""

    generation: int
    """Changes whenever the catalog does."""
    declared: Sequence[DeclaredSchedule]
    """Each template that declares a schedule: its id, cron, timezone and name."""
    broken: Collection[str] = ()
    """The ids of templates whose files do not load just now: their schedules are kept as
    they are (pause, last job), not removed by a typo."""


Declared = Callable[[], CatalogSchedules]


class ScheduleFiring:
    def __init__(
        self,
        schedules: ScheduleStore,
        users: UserStore,
        jobs: JobOperations,
        templates: TemplateStarts,
        clock: Clock,
        declared: Declared | None = None,
    ) -> None:
        self._schedules = schedules
        self._users = users
        self._operations = jobs
        self._jobs: JobStore = jobs.jobs
        self._templates = templates
        self._clock = clock
        self._declared = declared
        self._max_sleep = MAX_SLEEP_SECONDS if declared is None else DECLARED_CHECK_SECONDS
        self._generation: int | None = None
        self._woken = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="jobhost-schedules", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread after the firing under way, if any."""
        self._stopping = True
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look at the store again now (thread-safe): a schedule or the catalog changed."""
        self._woken.set()

    def _run(self) -> None:
        while not self._stopping:
            self._woken.clear()
            try:
                self.sync_declared()
            except Exception:  # the catalog's schedules wait; the stored ones still fire
                logger.exception("catalog schedules not synced", extra={"action": "schedule"})
            try:
                self.fire_due()
                pause = self.seconds_to_next()
            except Exception:
                logger.exception("schedule pass failed", extra={"action": "schedule"})
                pause = RETRY_SECONDS
            self._woken.wait(pause)

    def seconds_to_next(self) -> float:
        """How long the loop may sleep: until the earliest next firing, at most a minute
        (a few seconds when it keeps the catalog's schedules)."""
        earliest = self._schedules.earliest_next_run()
        if earliest is None:
            return self._max_sleep
        return min(self._max_sleep, max(0.0, earliest - self._clock.now()))

    def sync_declared(self) -> bool:
        """Bring the catalog's schedules into the store if its generation changed; whether
        it had."""
        if self._declared is None:
            return False
        catalog = self._declared()
        if catalog.generation == self._generation:
            return False
        now = self._clock.now()
        rows, keep = [], set(catalog.broken)
        for item in catalog.declared:
            row = _declared(item, now)
            if row is None:
                keep.add(item.template_id)  # a cron we refuse: kept as it was, as a broken file
            else:
                rows.append(row)
        self._schedules.sync_declared(policy.SYSTEM_USER_ID, rows, keep)
        self._generation = catalog.generation
        return True

    def fire_due(self) -> int:
        """Fire every schedule due now (burst mode: tests call it); how many were due."""
        count = 0
        while due := self._schedules.due(self._clock.now()):
            for schedule in due:
                self._fire(schedule)
            count += len(due)
            if self._stopping:
                break
        return count

    def _fire(self, schedule: Schedule) -> None:
        """Claim the firing, then submit its job: at most one job per firing, however many
        loops share the store. A claimed firing whose submit fails is lost, not retried."""
        assert schedule.next_run_at is not None  # due() returns scheduled ones only
        due_at, now = schedule.next_run_at, self._clock.now()
        following = self._following(schedule, now)
        if not self._schedules.claim_firing(schedule.schedule_id, due_at, following):
            return  # another loop took it, or a pause or a new cron moved it since
        if schedule.overlap is Overlap.SKIP and self._still_active(schedule.last_job_id):
            self._schedules.record_skip(schedule.schedule_id, now)
            logger.info(
                "schedule %s skipped: its last job %s has not finished",
                schedule.schedule_id,
                schedule.last_job_id,
                extra={"action": "schedule_skip", "schedule_id": schedule.schedule_id},
            )
            return
        try:
            job = self._submit(schedule)
        except StoreUnavailable as exc:
            logger.error(
                "schedule %s: the firing due at %s is lost, its job not taken: %s",
                schedule.schedule_id,
                policy.utc_text(due_at),
                exc,
                extra={"action": "schedule_failed", "schedule_id": schedule.schedule_id},
            )
            raise  # the store is busy: the pass (the firings still due) is tried again soon
        except Exception as exc:
            _log_failure(schedule, exc)
            self._schedules.record_failure(schedule.schedule_id, now, _shown_error(exc))
            return
        self._schedules.record_firing(schedule.schedule_id, now, job.job_id)
        logger.info(
            "schedule %s fired job %s",
            schedule.schedule_id,
            job.job_id,
            extra={"action": "schedule_fire", "job_id": job.job_id},
        )

    def _following(self, schedule: Schedule, now: float) -> float | None:
        """The firing after ``now``: missed ones collapse into the one firing now. None
        (the schedule stops, logged) if its cron or zone no longer parse (a zone gone from
        tzdata) or it has no firing left."""
        try:
            following = cron.next_firing(schedule.cron, schedule.timezone, now)
        except InvalidInput as exc:
            reason = exc.message
        else:
            if following is not None:
                return following
            reason = "its cron has no firing left"
        logger.error(
            "schedule %s stops: %s (it stays enabled, with no next run)",
            schedule.schedule_id,
            reason,
            extra={"action": "schedule_failed", "schedule_id": schedule.schedule_id},
        )
        return None

    def _still_active(self, job_id: str | None) -> bool:
        """Whether the schedule's last job is still pending or running."""
        job = self._jobs.get(job_id) if job_id is not None else None
        return job is not None and not job.status.is_finished

    def _submit(self, schedule: Schedule) -> Job:
        """One job as the schedule's owner, under the owner's roles as of now."""
        owner = owner_of(self._users, schedule)
        if owner is None:
            raise InvalidInput(f"its owner {schedule.user_id} no longer exists")
        if schedule.template_id is not None:
            return self._templates.start(
                owner, schedule.template_id, schedule.variables, schedule_id=schedule.schedule_id
            )
        spec = parse_submission(job_spec_of(schedule))
        return self._operations.submit_spec(owner, replace(spec, schedule_id=schedule.schedule_id))


def _log_failure(schedule: Schedule, exc: Exception) -> None:
    """A refusal is said in a line; anything else (a bug) with its traceback."""
    extra = {"action": "schedule_failed", "schedule_id": schedule.schedule_id}
    if isinstance(exc, JobhostError):
        logger.warning("schedule %s could not fire: %s", schedule.schedule_id, exc, extra=extra)
    else:
        logger.exception("schedule %s could not fire", schedule.schedule_id, extra=extra)


def _shown_error(exc: Exception) -> str:
    """What the owner is told of a failed firing: a refusal's own words (written for the
    caller, as an API answer would be); of anything else only that it happened."""
    if isinstance(exc, JobhostError):
        return exc.message[:MAX_ERROR_CHARS]
    return "Internal error: the firing failed, see the server's log"


def _declared(item: DeclaredSchedule, now: float) -> DeclaredRow | None:
    """A catalog schedule with its first firing; None (logged) if it does not parse."""
    zone = item.timezone
    try:
        expression = cron.parse_cron(item.cron)
        first = cron.next_firing(expression, zone, now)
        return DeclaredRow(item.template_id, expression, zone, first, item.name)
    except InvalidInput as exc:
        logger.warning(
            "template %s declares a schedule that does not parse: %s",
            item.template_id,
            exc.message,
            extra={"action": "schedule_declared"},
        )
        return None
