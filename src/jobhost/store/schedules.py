"""Schedule verbs on the store: the recurring jobs, their next firing and what each firing did.

Not on the hot path (a firing at most once a minute per schedule), so written once with
SQLAlchemy Core for both dialects. The firing loop's alarm is ``earliest_next_run``, one
seek of ``ix_schedules_next_run_at``; paused schedules have no next_run_at.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from jobhost.clock import Clock
from jobhost.models import Overlap, Schedule
from jobhost.store.database import Database
from jobhost.store.schema import schedules

DUE_PER_PASS = 100
"""Schedules one ``due`` call returns at most (the loop asks again while some are due)."""

_OVERLAPS = {overlap.value: overlap for overlap in Overlap}
_C = schedules.c


@dataclass(frozen=True, slots=True)
class DeclaredRow:
    """A catalog template's ``schedule``, with the first firing its new row would take."""

    template_id: str
    cron: str
    timezone: str
    next_run_at: float | None
    name: str | None = None
    """The template's display name, the schedule's name; None: the template id."""

    @property
    def schedule_name(self) -> str:
        return self.name or self.template_id


class SqlScheduleStore:
    """Schedules (the ``ScheduleStore`` protocol)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, schedule: Schedule) -> Schedule:
        with self.db.write() as conn:
            conn.execute(insert(schedules).values(_values(schedule)))
        return schedule

    def get(self, schedule_id: str) -> Schedule | None:
        with self.db.read() as conn:
            row = conn.execute(select(schedules).where(_C.schedule_id == schedule_id)).first()
        return _schedule(row._mapping) if row is not None else None

    def listing(self, user_id: str | None) -> list[Schedule]:
        """``user_id``'s schedules (None: everyone's), oldest first."""
        query = select(schedules).order_by(_C.created_at, _C.schedule_id)
        if user_id is not None:
            query = query.where(_C.user_id == user_id)
        with self.db.read() as conn:
            return [_schedule(row._mapping) for row in conn.execute(query)]

    def count_owned(self, user_id: str) -> int:
        """How many schedules ``user_id`` owns (one seek of ix_schedules_user_id_created_at)."""
        query = select(func.count()).select_from(schedules).where(_C.user_id == user_id)
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def update(self, schedule: Schedule, *, retime: bool) -> Schedule | None:
        """Write the schedule's settings (name, cron, timezone, overlap, enabled and what
        it submits), with ``retime`` its next_run_at too; what its firings recorded is left
        alone. The schedule as stored now; None if it is gone."""
        values = _values(schedule)
        settings = {key: values[key] for key in _SETTINGS}
        if retime:
            settings["next_run_at"] = schedule.next_run_at
        with self.db.write() as conn:
            changed = conn.execute(
                update(schedules).where(_C.schedule_id == schedule.schedule_id).values(settings)
            ).rowcount
        return self.get(schedule.schedule_id) if changed else None

    def set_enabled(
        self, schedule_id: str, enabled: bool, next_run_at: float | None
    ) -> Schedule | None:
        """Pause or resume: only ``enabled`` and next_run_at are written, so a change made
        meanwhile (a catalog file's new cron) stands. The schedule now; None if it is gone."""
        values = {"enabled": enabled, "next_run_at": next_run_at}
        with self.db.write() as conn:
            changed = conn.execute(
                update(schedules).where(_C.schedule_id == schedule_id).values(values)
            ).rowcount
        return self.get(schedule_id) if changed else None

    def delete(self, schedule_id: str) -> bool:
        with self.db.write() as conn:
            return bool(
                conn.execute(delete(schedules).where(_C.schedule_id == schedule_id)).rowcount
            )

    def earliest_next_run(self) -> float | None:
        """When the next schedule is due, or None if none is enabled."""
        with self.db.read() as conn:
            value = conn.execute(select(func.min(_C.next_run_at))).scalar()
        return float(value) if value is not None else None

    def due(self, now: float, limit: int = DUE_PER_PASS) -> list[Schedule]:
        """The schedules whose next firing is ``now`` or earlier, the most overdue first."""
        query = (
            select(schedules)
            .where(_C.next_run_at <= now)
            .order_by(_C.next_run_at, _C.schedule_id)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [_schedule(row._mapping) for row in conn.execute(query)]

    def claim_firing(self, schedule_id: str, due_at: float, next_run_at: float | None) -> bool:
        """Take the firing due at ``due_at`` by moving next_run_at on to ``next_run_at``,
        only if it is still ``due_at`` (a compare-and-set): of several loops sharing the
        store, one wins; a change since (a pause, a new cron) makes it lose too."""
        claim = update(schedules).where(_C.schedule_id == schedule_id, _C.next_run_at == due_at)
        with self.db.write() as conn:
            return conn.execute(claim.values(next_run_at=next_run_at)).rowcount == 1

    def record_firing(self, schedule_id: str, fired_at: float, job_id: str) -> bool:
        """A claimed firing submitted ``job_id`` (a failure recorded before is cleared);
        False if the schedule is gone."""
        facts = {"last_run_at": fired_at, "last_job_id": job_id}
        return self._record(schedule_id, facts | {"last_error": None, "last_error_at": None})

    def record_failure(self, schedule_id: str, failed_at: float, error: str) -> bool:
        """A claimed firing submitted nothing because it was refused (``error`` says why);
        False if the schedule is gone."""
        return self._record(schedule_id, {"last_error": error, "last_error_at": failed_at})

    def record_skip(self, schedule_id: str, skipped_at: float) -> bool:
        """A claimed firing submitted nothing (overlap=skip, the previous job still
        running); False if the schedule is gone."""
        return self._record(schedule_id, {"last_skipped_at": skipped_at})

    def _record(self, schedule_id: str, facts: Mapping[str, object]) -> bool:
        with self.db.write() as conn:
            recorded = update(schedules).where(_C.schedule_id == schedule_id).values(facts)
            return bool(conn.execute(recorded).rowcount)

    def sync_declared(
        self, owner: str, declared: Sequence[DeclaredRow], keep: Collection[str] = ()
    ) -> None:
        """Make the catalog's schedules those of ``declared``, owned by ``owner``: new ones
        added, a changed cron or timezone updated (a paused one stays paused), and a
        changed name (the template's display name) too, the rows of
        templates that no longer declare one removed, but those of the template ids in
        ``keep`` (their files broken just now) left as they are; in one transaction."""
        wanted = {item.template_id: item for item in declared}
        with self.db.write() as conn:
            rows = conn.execute(select(schedules).where(_C.declared_by.is_not(None)))
            existing = {row._mapping["declared_by"]: _schedule(row._mapping) for row in rows}
            stay = wanted.keys() | set(keep)
            gone = [s.schedule_id for key, s in existing.items() if key not in stay]
            if gone:
                conn.execute(delete(schedules).where(_C.schedule_id.in_(gone)))
            for item in wanted.values():
                self._declare(conn, owner, item, existing.get(item.template_id))

    def _declare(
        self, conn: Connection, owner: str, item: DeclaredRow, current: Schedule | None
    ) -> None:
        if current is None:
            conn.execute(insert(schedules).values(_values(_declared(owner, item, self.clock))))
            return
        changes: dict[str, object] = {}
        if current.name != item.schedule_name:  # a new display name: no new firing time
            changes["name"] = item.schedule_name
        if (current.cron, current.timezone) != (item.cron, item.timezone):
            changes.update(cron=item.cron, timezone=item.timezone)
            if current.enabled:
                changes["next_run_at"] = item.next_run_at
        if changes:
            query = update(schedules).where(_C.schedule_id == current.schedule_id)
            conn.execute(query.values(changes))


_SETTINGS = ("name", "cron", "timezone", "overlap", "enabled", "template_id", "variables", "job")


def _declared(owner: str, item: DeclaredRow, clock: Clock) -> Schedule:
    return Schedule(
        schedule_id=str(uuid.uuid4()),
        user_id=owner,
        name=item.schedule_name,
        cron=item.cron,
        timezone=item.timezone,
        overlap=Overlap.SKIP,
        enabled=True,
        created_at=clock.now(),
        template_id=item.template_id,
        declared_by=item.template_id,
        next_run_at=item.next_run_at,
    )


def _values(schedule: Schedule) -> dict[str, Any]:
    return {
        "schedule_id": schedule.schedule_id,
        "user_id": schedule.user_id,
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "overlap": schedule.overlap.value,
        "enabled": schedule.enabled,
        "template_id": schedule.template_id,
        "variables": json.dumps(dict(schedule.variables), sort_keys=True)
        if schedule.variables
        else None,
        "job": json.dumps(dict(schedule.job), sort_keys=True) if schedule.job is not None else None,
        "declared_by": schedule.declared_by,
        "created_at": schedule.created_at,
        "next_run_at": schedule.next_run_at,
        "last_run_at": schedule.last_run_at,
        "last_job_id": schedule.last_job_id,
        "last_skipped_at": schedule.last_skipped_at,
        "last_error": schedule.last_error,
        "last_error_at": schedule.last_error_at,
    }


def _schedule(m: Mapping[Any, Any]) -> Schedule:
    return Schedule(
        schedule_id=m["schedule_id"],
        user_id=m["user_id"],
        name=m["name"],
        cron=m["cron"],
        timezone=m["timezone"],
        overlap=_OVERLAPS[m["overlap"]],
        enabled=bool(m["enabled"]),
        created_at=m["created_at"],
        template_id=m["template_id"],
        variables=json.loads(m["variables"]) if m["variables"] else {},
        job=json.loads(m["job"]) if m["job"] else None,
        declared_by=m["declared_by"],
        next_run_at=m["next_run_at"],
        last_run_at=m["last_run_at"],
        last_job_id=m["last_job_id"],
        last_skipped_at=m["last_skipped_at"],
        last_error=m["last_error"],
        last_error_at=m["last_error_at"],
    )
