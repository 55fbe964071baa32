"""ScheduleOperations: who may create, see, change and delete schedules, and the 400s that
name the field, against a real SQLite store on a fake clock."""

from __future__ import annotations

import re

import pytest

from jobhost.errors import Conflict, Forbidden, InvalidInput, NotFound
from jobhost.models import Overlap, User
from jobhost.policy import ELEVATED_REFUSAL, MAIN_LOOP_REFUSAL, PRIORITY_REFUSAL
from jobhost.service.schedules import (
    NOT_OWNER_REFUSAL,
    OTHERS_REFUSAL,
    ScheduleOperations,
)
from jobhost.service.templates import START_REFUSAL
from jobhost.store.schedules import DeclaredRow
from tests.service.schedule_fixtures import MANAGER, OTHER, PLAIN, SHELL_JOB, Harness
from tests.store.conftest import START

# START is 2023-11-14T22:13:20Z.
NEXT_FIVE_MINUTES = START + 100


def body(**fields: object) -> dict[str, object]:
    return {"name": "nightly", "cron": "*/5 * * * *", **SHELL_JOB, **fields}


def test_a_new_schedule_is_the_callers_with_its_first_firing_and_wakes_the_loop(h: Harness) -> None:
    made = h.ops.create(MANAGER, body(timezone="Europe/Berlin", overlap="queue"))

    assert (made.user_id, made.name, made.cron, made.timezone) == (
        "manager",
        "nightly",
        "*/5 * * * *",
        "Europe/Berlin",
    )
    assert made.overlap is Overlap.QUEUE and made.enabled
    assert made.next_run_at == NEXT_FIVE_MINUTES
    assert made.job == {"jobName": "nightly", **SHELL_JOB}
    assert h.store.schedules.get(made.schedule_id) == made
    assert h.wakes == [0]


def test_defaults_are_utc_skip_enabled_and_a_jobname_given_is_kept(h: Harness) -> None:
    made = h.ops.create(MANAGER, body(jobName="backup"))
    assert (made.timezone, made.overlap, made.enabled) == ("UTC", Overlap.SKIP, True)
    assert made.job is not None and made.job["jobName"] == "backup"


@pytest.mark.parametrize(
    ("user", "fields", "refusal"),
    [
        (PLAIN, {}, ELEVATED_REFUSAL),
        (MANAGER, {"executionMode": "MainLoop", "command": "x = 1"}, MAIN_LOOP_REFUSAL),
        (PLAIN, {"priority": 5}, PRIORITY_REFUSAL),
        (PLAIN, {"templateId": "admin"}, START_REFUSAL),
        (PLAIN, {"templateId": "unknown"}, START_REFUSAL),
    ],
)
def test_a_schedule_meets_the_rules_its_firings_would(
    h: Harness, user: User, fields: dict[str, object], refusal: str
) -> None:
    payload = body(**fields)
    if "templateId" in fields:
        payload = {"name": "n", "cron": "0 3 * * *", **fields}
    with pytest.raises(Forbidden, match=f"^{re.escape(refusal)}"):
        h.ops.create(user, payload)
    assert h.store.schedules.listing(None) == []


def test_a_plain_user_may_schedule_a_template_they_may_start(h: Harness) -> None:
    made = h.ops.create(
        PLAIN, {"name": "du", "cron": "0 3 * * *", "templateId": "disk", "variables": {"path": "/"}}
    )
    assert (made.template_id, made.variables, made.job) == ("disk", {"path": "/"}, None)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"cron": "0 3 * * *", **SHELL_JOB}, "Missing required field: name"),
        ({"name": "n", **SHELL_JOB}, "Missing required field: cron"),
        (body(name=""), "Invalid name: must be 1-200 printable characters"),
        (body(name=3), "Invalid name: Input should be a valid string"),
        (body(cron="every day"), "Invalid cron: must be 5 fields"),
        (body(timezone="Mars/Base"), "Invalid timezone: unknown time zone 'Mars/Base'"),
        (body(timezone=""), "Invalid timezone: must be an IANA time zone"),
        (body(overlap="sometimes"), "Invalid overlap: Input should be 'skip' or 'queue'"),
        (body(enabled="yes"), "Invalid enabled: Input should be a valid boolean"),
        (body(colour="red"), "Unknown field: colour"),
        (body(runAt="2030-01-01T00:00:00Z"), "Invalid runAt: a schedule's jobs run at"),
        (body(dependsOn=["x"]), "Invalid dependsOn: a schedule's jobs cannot depend"),
        (body(variables={"a": "b"}), "Invalid variables: only a schedule of a template"),
        (body(timeoutSeconds=-1), "Invalid timeoutSeconds: Input should be greater than 0"),
        (
            {"name": "n", "cron": "0 3 * * *", "command": "x"},
            "Missing required field: executionMode",
        ),
        (
            {"name": "n", "cron": "0 3 * * *", "templateId": "disk", "command": "x"},
            "Invalid command: a schedule of a template takes no job fields",
        ),
        (
            {"name": "n", "cron": "0 3 * * *", "templateId": "disk", "variables": {"path": "x"}},
            "Invalid value for path: must start with /",
        ),
        (
            {"name": "n", "cron": "0 3 * * *", "templateId": "disk", "variables": {"path": None}},
            "Invalid variables.path: Input should be a valid string",
        ),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(
    h: Harness, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        h.ops.create(MANAGER, payload)
    assert caught.value.message.startswith(message), caught.value.message


def test_an_empty_timezone_is_refused_by_a_patch_too_not_read_as_utc(h: Harness) -> None:
    made = h.ops.create(MANAGER, body(timezone="Europe/Berlin"))
    with pytest.raises(InvalidInput, match=r"^Invalid timezone: must be an IANA time zone"):
        h.ops.patch(MANAGER, made.schedule_id, {"timezone": ""})
    assert h.ops.patch(MANAGER, made.schedule_id, {"timezone": None}).timezone == "UTC"


def test_another_users_schedule_is_not_found_but_a_privileged_role_sees_it(h: Harness) -> None:
    mine = h.ops.create(PLAIN, {"name": "du", "cron": "0 3 * * *", "templateId": "disk"})

    with pytest.raises(NotFound, match=f"^Schedule not found: {mine.schedule_id}$"):
        h.ops.get(OTHER, mine.schedule_id)
    with pytest.raises(NotFound):
        h.ops.patch(OTHER, mine.schedule_id, {"enabled": False})
    with pytest.raises(NotFound):
        h.ops.delete(OTHER, mine.schedule_id)
    assert h.ops.get(MANAGER, mine.schedule_id.upper()) == mine
    with pytest.raises(InvalidInput, match=r"^Invalid scheduleId: must be a UUID$"):
        h.ops.get(PLAIN, "../etc")


def test_a_plain_user_lists_their_own_and_is_refused_everyones(h: Harness) -> None:
    mine = h.ops.create(PLAIN, {"name": "du", "cron": "0 3 * * *", "templateId": "disk"})
    h.ops.create(MANAGER, body())

    assert h.ops.listing(PLAIN, all_users=False) == [mine]
    with pytest.raises(Forbidden, match=f"^{re.escape(OTHERS_REFUSAL)}$"):
        h.ops.listing(PLAIN, all_users=True)
    assert len(h.ops.listing(MANAGER, all_users=True)) == 2


def test_a_privileged_role_lists_one_users_schedules_as_for_jobs(h: Harness) -> None:
    mine = h.ops.create(PLAIN, {"name": "du", "cron": "0 3 * * *", "templateId": "disk"})
    h.ops.create(MANAGER, body())

    assert h.ops.listing(MANAGER, user_id="plain") == [mine]
    assert h.ops.listing(MANAGER, user_id="nobody") == []
    assert h.ops.listing(PLAIN, user_id="plain") == [mine]  # one's own needs no role
    with pytest.raises(Forbidden, match=f"^{re.escape(OTHERS_REFUSAL)}$"):
        h.ops.listing(PLAIN, user_id="manager")
    with pytest.raises(InvalidInput, match=r"^Invalid userId$"):
        h.ops.listing(MANAGER, user_id="../x")


def test_pause_clears_the_next_run_and_resume_starts_from_now(h: Harness) -> None:
    made = h.ops.create(MANAGER, body())
    paused = h.ops.patch(MANAGER, made.schedule_id, {"enabled": False})
    assert (paused.enabled, paused.next_run_at) == (False, None)
    assert h.ops.upcoming(paused) == []

    h.clock.advance(3600)
    resumed = h.ops.patch(MANAGER, made.schedule_id, {"enabled": True})
    assert resumed.next_run_at == NEXT_FIVE_MINUTES + 3600
    assert h.ops.upcoming(resumed) == [NEXT_FIVE_MINUTES + 3600 + 300 * n for n in range(5)]
    assert h.wakes == [0, 1, 2]


def test_a_patch_changes_any_field_and_is_checked_as_a_create(h: Harness) -> None:
    made = h.ops.create(MANAGER, body(description="old"))

    changed = h.ops.patch(
        MANAGER, made.schedule_id, {"cron": "0 * * * *", "name": "hourly", "description": None}
    )
    assert (changed.cron, changed.name, changed.next_run_at) == (
        "0 * * * *",
        "hourly",
        START + 2800,
    )
    assert changed.job == {"jobName": "nightly", **SHELL_JOB}
    with pytest.raises(InvalidInput, match=r"^Invalid cron"):
        h.ops.patch(MANAGER, made.schedule_id, {"cron": "nope"})
    with pytest.raises(InvalidInput, match=r"^Unknown field: colour$"):
        h.ops.patch(MANAGER, made.schedule_id, {"colour": "red"})
    # Switching to a template drops the job, and the template's rules apply.
    templated = h.ops.patch(MANAGER, made.schedule_id, {"templateId": "admin"})
    assert (templated.template_id, templated.job) == ("admin", None)
    assert h.ops.patch(MANAGER, made.schedule_id, SHELL_JOB).template_id is None


def test_an_unknown_field_in_a_patch_is_refused_even_as_null_and_changes_nothing(
    h: Harness,
) -> None:
    made = h.ops.create(MANAGER, body())
    for patch in ({"UserID": None}, {"enabled": False, "Status": None}):
        with pytest.raises(InvalidInput, match=r"^Unknown field: (UserID|Status)$"):
            h.ops.patch(MANAGER, made.schedule_id, patch)
    assert h.store.schedules.get(made.schedule_id) == made
    h.store.schedules.sync_declared("system", [DeclaredRow("disk", "0 3 * * *", "UTC", START)])
    [declared] = h.store.schedules.listing("system")
    with pytest.raises(InvalidInput, match=r"^Unknown field: UserID$"):  # not the 409
        h.ops.patch(MANAGER, declared.schedule_id, {"UserID": "manager"})


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"name": None}, "Invalid name: cannot be removed, a schedule needs one"),
        ({"cron": None}, "Invalid cron: cannot be removed, a schedule needs one"),
        ({"enabled": None}, "Invalid enabled: must be true or false"),
        ({"enabled": None, "name": "x"}, "Invalid enabled: must be true or false"),
        ({"command": None}, "Invalid command: cannot be removed, a schedule of a job needs one"),
        ({"executionMode": None}, "Invalid executionMode: cannot be removed"),
    ],
)
def test_a_patchs_null_cannot_remove_what_a_schedule_needs(
    h: Harness, patch: dict[str, object], message: str
) -> None:
    made = h.ops.create(MANAGER, body(enabled=False))
    with pytest.raises(InvalidInput) as caught:
        h.ops.patch(MANAGER, made.schedule_id, patch)
    assert caught.value.message.startswith(message), caught.value.message
    assert h.store.schedules.get(made.schedule_id) == made  # paused still: null never resumes


def test_removing_a_template_takes_the_jobs_fields_and_drops_the_variables(h: Harness) -> None:
    made = h.ops.create(
        MANAGER, {"name": "du", "cron": "0 3 * * *", "templateId": "disk", "variables": {}}
    )
    with pytest.raises(InvalidInput, match=r"^Invalid templateId: cannot be removed alone;"):
        h.ops.patch(MANAGER, made.schedule_id, {"templateId": None})
    # A null job field is no job given: the schedule stays the template's.
    with pytest.raises(InvalidInput, match=r"^Invalid templateId: cannot be removed alone;"):
        h.ops.patch(MANAGER, made.schedule_id, {"templateId": None, "description": None})
    assert h.ops.patch(MANAGER, made.schedule_id, {"description": None}).template_id == "disk"
    switched = h.ops.patch(MANAGER, made.schedule_id, {"templateId": None, **SHELL_JOB})
    assert (switched.template_id, switched.variables) == (None, {})
    assert switched.job == {"jobName": "du", **SHELL_JOB}


def test_an_empty_command_reads_as_on_submit(h: Harness) -> None:
    with pytest.raises(InvalidInput, match=r"^Missing required field: command$"):
        h.ops.create(MANAGER, body(command=""))
    with pytest.raises(InvalidInput, match=r"^Missing required field: command$"):
        h.jobs.submit(MANAGER, {"jobName": "x", **SHELL_JOB, "command": ""})


def test_a_patch_by_someone_who_lost_the_roles_is_refused(h: Harness) -> None:
    made = h.ops.create(MANAGER, body())
    demoted = User("manager", frozenset())
    with pytest.raises(Forbidden, match=f"^{re.escape(ELEVATED_REFUSAL)}"):
        h.ops.patch(demoted, made.schedule_id, {"name": "x"})


def test_delete_removes_the_schedule_and_keeps_its_jobs(h: Harness) -> None:
    made = h.ops.create(MANAGER, body())
    h.clock.advance(100)
    h.firing().fire_due()
    [job] = h.schedule_jobs(made.schedule_id)

    assert h.ops.delete(MANAGER, made.schedule_id.upper()) == made.schedule_id
    assert h.store.schedules.get(made.schedule_id) is None
    assert h.store.jobs.get(job.job_id) == job


def test_the_catalogs_schedules_may_be_paused_but_not_otherwise_changed(h: Harness) -> None:
    h.store.schedules.sync_declared("system", [DeclaredRow("disk", "0 3 * * *", "UTC", START)])
    [declared] = h.store.schedules.listing("system")

    with pytest.raises(NotFound):
        h.ops.get(PLAIN, declared.schedule_id)
    assert h.ops.patch(MANAGER, declared.schedule_id, {"enabled": False}).next_run_at is None
    with pytest.raises(Conflict, match="declared by the catalog template disk"):
        h.ops.patch(MANAGER, declared.schedule_id, {"cron": "0 4 * * *"})
    with pytest.raises(Conflict):
        h.ops.delete(MANAGER, declared.schedule_id)


def test_preview_gives_the_next_five_and_names_what_is_bad(h: Harness) -> None:
    assert h.ops.preview("*/5 * * * *", "UTC") == [NEXT_FIVE_MINUTES + 300 * n for n in range(5)]
    with pytest.raises(InvalidInput, match=r"^Invalid cron"):
        h.ops.preview("* *", "UTC")
    with pytest.raises(InvalidInput, match=r"^Invalid timezone"):
        h.ops.preview("* * * * *", "Nowhere/Land")


def test_an_owner_who_lost_the_roles_may_still_pause_and_resume(h: Harness) -> None:
    made = h.ops.create(MANAGER, body())
    demoted = User("manager", frozenset())

    paused = h.ops.patch(demoted, made.schedule_id, {"enabled": False})
    assert (paused.enabled, paused.next_run_at) == (False, None)
    resumed = h.ops.patch(demoted, made.schedule_id, {"enabled": True})
    assert (resumed.enabled, resumed.next_run_at) == (True, NEXT_FIVE_MINUTES)
    assert resumed.job == made.job


def test_a_schedule_whose_template_is_gone_may_still_be_paused(h: Harness) -> None:
    made = h.ops.create(PLAIN, {"name": "du", "cron": "*/5 * * * *", "templateId": "disk"})
    h.templates.gone.add("disk")

    assert h.ops.patch(PLAIN, made.schedule_id, {"enabled": False}).next_run_at is None
    with pytest.raises(InvalidInput, match=r"^Invalid enabled"):
        h.ops.patch(PLAIN, made.schedule_id, {"enabled": "no"})
    with pytest.raises(Forbidden):
        h.ops.patch(PLAIN, made.schedule_id, {"enabled": True, "name": "x"})


def test_a_privileged_user_may_pause_resume_and_delete_anothers_schedule_but_not_change_it(
    h: Harness,
) -> None:
    theirs = h.ops.create(PLAIN, {"name": "du", "cron": "*/5 * * * *", "templateId": "disk"})
    root = User("root", frozenset({"system_admin"}))

    for change in ({"templateId": "admin"}, {"name": "x"}, {"enabled": False, **SHELL_JOB}):
        with pytest.raises(Forbidden, match=f"^{re.escape(NOT_OWNER_REFUSAL)}$"):
            h.ops.patch(root, theirs.schedule_id, change)
    assert h.ops.get(PLAIN, theirs.schedule_id) == theirs

    assert h.ops.patch(root, theirs.schedule_id, {"enabled": False}).enabled is False
    assert h.ops.patch(root, theirs.schedule_id, {"enabled": True}).user_id == "plain"
    assert h.ops.delete(root, theirs.schedule_id) == theirs.schedule_id


def test_a_user_at_the_schedule_limit_is_refused_a_new_one_with_a_409(h: Harness) -> None:
    ops = ScheduleOperations(
        h.store.schedules, h.jobs, h.templates, h.clock, lambda: None, max_per_user=2
    )
    first = ops.create(MANAGER, body())
    ops.create(MANAGER, body(name="second"))

    with pytest.raises(Conflict) as caught:
        ops.create(MANAGER, body(name="third"))
    assert caught.value.message == (
        "Schedule limit reached: manager has 2 schedules, the most "
        "JOBHOST_MAX_SCHEDULES_PER_USER allows; delete one first"
    )
    ops.create(PLAIN, {"name": "du", "cron": "0 3 * * *", "templateId": "disk"})  # per user
    ops.delete(MANAGER, first.schedule_id)
    ops.create(MANAGER, body(name="third"))
