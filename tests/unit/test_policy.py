"""Pure rules: who may submit in which mode, who sees what, and what a job's state allows."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobhost import policy
from jobhost.models import Job, JobSpec, Mode, QueueState, Status, User
from jobhost.policy import (
    can_stop,
    effective_roles,
    is_valid_job_id,
    is_valid_role,
    is_valid_user_id,
    may_see,
    pending_reason,
    priority_refusal,
    queue_reason,
    submit_refusal,
)
from jobhost.store import ends

# The texts are copied from CONTRACT.md on purpose, not imported: they are API.
MAIN_LOOP = "MainLoop execution mode requires 'debug' role"
ELEVATED = (
    "Runspace/BackgroundJob execution requires elevated roles "
    "(task_manager, debug, system_admin, or site_admin)"
)
PRIVILEGED = ["task_manager", "debug", "system_admin", "site_admin"]
SAMPLE_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _user(*roles: str, user_id: str = "bob") -> User:
    return User(user_id, frozenset(roles))


def _job(status: Status = Status.RUNNING, mode: Mode = Mode.BACKGROUND_JOB) -> Job:
    spec = JobSpec(name="n", command="true", mode=mode)
    return Job(SAMPLE_ID, "alice", spec, status, 100.0)


@pytest.mark.parametrize(
    ("roles", "main_loop", "runspace", "background_job"),
    [
        ((), MAIN_LOOP, ELEVATED, ELEVATED),
        (("task_manager",), MAIN_LOOP, None, None),
        (("debug",), None, None, None),
        (("system_admin",), MAIN_LOOP, None, None),
        (("site_admin",), MAIN_LOOP, None, None),
        (("some_custom_role",), MAIN_LOOP, ELEVATED, ELEVATED),
    ],
)
def test_submit_refusal_role_matrix(
    roles: tuple[str, ...], main_loop: str | None, runspace: str | None, background_job: str | None
) -> None:
    user = _user(*roles)
    assert submit_refusal(user, Mode.MAIN_LOOP) == main_loop
    assert submit_refusal(user, Mode.RUNSPACE) == runspace
    assert submit_refusal(user, Mode.BACKGROUND_JOB) == background_job


def test_debug_with_other_roles_may_submit_in_every_mode() -> None:
    user = _user("debug", "system_admin", "some_custom_role")
    assert [submit_refusal(user, mode) for mode in Mode] == [None, None, None]


def test_an_owner_may_see_their_own_job() -> None:
    assert may_see(_user(user_id="alice"), _job())


def test_another_unprivileged_user_may_not_see_a_job() -> None:
    assert not may_see(_user(user_id="bob"), _job())
    assert not may_see(_user("some_custom_role", user_id="bob"), _job())


@pytest.mark.parametrize("role", PRIVILEGED)
def test_a_privileged_user_may_see_every_job(role: str) -> None:
    assert may_see(_user(role, user_id="bob"), _job())


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("status", list(Status))
def test_can_stop_only_running_jobs_outside_the_main_loop(status: Status, mode: Mode) -> None:
    running = status in {Status.RUNNING, Status.STOPPING}
    assert can_stop(_job(status, mode)) is (running and mode is not Mode.MAIN_LOOP)


@pytest.mark.parametrize("status", list(Status))
def test_a_main_loop_job_can_never_be_stopped(status: Status) -> None:
    assert can_stop(_job(status, Mode.MAIN_LOOP)) is False


def test_effective_roles_add_authenticated_and_sort() -> None:
    assert effective_roles(_user()) == ["authenticated"]
    assert effective_roles(_user("task_manager", "debug")) == [
        "authenticated",
        "debug",
        "task_manager",
    ]


def test_effective_roles_do_not_duplicate_authenticated() -> None:
    assert effective_roles(_user("authenticated", "zeta")) == ["authenticated", "zeta"]


@pytest.mark.parametrize(
    "text", [SAMPLE_ID, str(uuid.uuid4()), str(uuid.UUID(int=0)), str(uuid.UUID(int=2**128 - 1))]
)
def test_is_valid_job_id_accepts_canonical_lowercase_uuids(text: str) -> None:
    assert is_valid_job_id(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "../x",
        "..",
        "/etc/passwd",
        SAMPLE_ID.replace("-", ""),
        "{" + SAMPLE_ID + "}",
        "urn:uuid:" + SAMPLE_ID,
        SAMPLE_ID + "/..",
        "../" + SAMPLE_ID,
        SAMPLE_ID + "\n",
        " " + SAMPLE_ID,
        SAMPLE_ID + "0",
        SAMPLE_ID[:-1],
        SAMPLE_ID[:-1] + "g",
        SAMPLE_ID[:8] + SAMPLE_ID[9] + "-" + SAMPLE_ID[10:],  # a dash moved one place
        SAMPLE_ID.replace("0", "\u0660"),  # ARABIC-INDIC DIGIT ZERO: int() would take it
        SAMPLE_ID.replace("-", "_"),
    ],
)
def test_is_valid_job_id_rejects_everything_else(text: str) -> None:
    assert not is_valid_job_id(text)


@pytest.mark.parametrize(
    "text", ["bob", "admin", "bob@example.com", "first.last+tag@mail-host.org", "a", "a" * 64]
)
def test_is_valid_user_id_accepts_path_safe_ids(text: str) -> None:
    assert is_valid_user_id(text)


@pytest.mark.parametrize(
    "text",
    ["", ".", "..", ".hidden", "a/b", "a\\b", "/abs", "a b", "bob\n", "a" * 65, "-rf", "ünï"],
)
def test_is_valid_user_id_rejects_unsafe_ids(text: str) -> None:
    assert not is_valid_user_id(text)


@pytest.mark.parametrize("text", [*PRIVILEGED, "authenticated", "a", "ops2", "r" * 32])
def test_is_valid_role_accepts_lowercase_identifiers(text: str) -> None:
    assert is_valid_role(text)


@pytest.mark.parametrize(
    "text", ["", "Admin", "1role", "_role", "role-x", "role x", "role\n", "r" * 33, "röle"]
)
def test_is_valid_role_rejects_everything_else(text: str) -> None:
    assert not is_valid_role(text)


PRIORITY = "Priority above 0 requires elevated roles"


@pytest.mark.parametrize("priority", [1, 50, 100])
def test_priority_above_zero_is_refused_without_a_privileged_role(priority: int) -> None:
    assert priority_refusal(_user(), priority) == PRIORITY
    assert priority_refusal(_user("viewer"), priority) == PRIORITY


@pytest.mark.parametrize("role", PRIVILEGED)
def test_priority_above_zero_is_allowed_to_each_privileged_role(role: str) -> None:
    assert priority_refusal(_user(role), 100) is None


@pytest.mark.parametrize("priority", [-100, -1, 0])
def test_priority_of_zero_or_below_is_anyone_s(priority: int) -> None:
    assert priority_refusal(_user(), priority) is None


def test_pending_reasons_read_as_the_contract_says() -> None:
    at = 1_767_225_600.25  # 2026-01-01T00:00:00.250Z
    assert pending_reason(slots=(10, 10)) == "waiting for a free slot (10 of 10 running)"
    assert pending_reason(user_limit=(3, 3)) == "user limit reached (3 of 3 running)"
    assert pending_reason(waiting_for=SAMPLE_ID) == f"waiting for {SAMPLE_ID}"
    assert pending_reason(scheduled_for=at) == "scheduled for 2026-01-01T00:00:00.250Z"
    assert pending_reason(retry=(2, 3, at)) == "retry 2 of 3 at 2026-01-01T00:00:00.250Z"
    with pytest.raises(ValueError):
        pending_reason()


def test_a_queued_job_is_told_its_user_s_limit_before_the_slots() -> None:
    state = QueueState(running=4, slots=4, user_limit=2, users_at_limit={"alice": 2})
    assert queue_reason(state, "alice") == "user limit reached (2 of 2 running)"
    assert queue_reason(state, "bob") == "waiting for a free slot (4 of 4 running)"
    assert queue_reason(QueueState(1, 1), "alice") == "waiting for a free slot (1 of 1 running)"


# --- retries --------------------------------------------------------------------------------


def test_the_retry_delay_doubles_with_each_retry() -> None:
    assert [policy.retry_delay(10, n, 0.0) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert policy.retry_delay(0, 5, 0.09) == 0


def test_jitter_stretches_the_delay_by_less_than_a_tenth() -> None:
    assert policy.retry_delay(10, 2, 0.05) == pytest.approx(21.0)
    assert policy.retry_delay(10, 1, 0.0999) < 11
    for bad in (-0.01, 0.1, 1.0):
        with pytest.raises(ValueError):
            policy.retry_delay(10, 1, bad)
    with pytest.raises(ValueError):
        policy.retry_delay(10, 0, 0.0)


@given(st.floats(0, 86400), st.integers(1, 10))
def test_the_stored_jitter_keeps_every_delay_within_its_bounds(first: float, retry: int) -> None:
    low = first * 2 ** (retry - 1)
    for _ in range(20):
        delay = policy.retry_delay(first, retry, ends.jitter())
        assert low <= delay <= low * 1.1


def test_only_failures_timeouts_and_interruptions_are_retried() -> None:
    retried = {status for status in Status if policy.is_retried(status)}
    assert retried == {Status.FAILED, Status.TIMED_OUT, Status.INTERRUPTED}


def test_the_texts_of_attempts_and_reasons() -> None:
    assert policy.attempt_header(2, 2) == "[Attempt 2 of 3]"
    assert policy.scheduled_reason(1_700_000_000.5) == "scheduled for 2023-11-14T22:13:20.500Z"
    assert policy.retry_reason(1, 3, 1_700_000_000) == "retry 1 of 3 at 2023-11-14T22:13:20.000Z"


def test_authenticated_in_a_templates_roles_means_every_signed_in_user() -> None:
    plain = User("alice", frozenset())
    assert policy.may_start_template(plain, ["authenticated"])
    assert not policy.may_start_template(plain, ["operator"])
    assert policy.may_start_template(User("o", frozenset({"operator"})), ["operator"])


def test_privileged_roles_may_start_and_stop_every_template() -> None:
    manager = User("m", frozenset({"task_manager"}))
    assert policy.may_start_template(manager, ["operator"])
    assert policy.may_stop_template_jobs(manager, [])
    assert not policy.may_stop_template_jobs(User("a", frozenset()), ["task_manager"])
