"""The user and API-key half of the store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jobhost.errors import Conflict, NotFound
from jobhost.models import ApiKey, JobSpec, Mode, User
from jobhost.store import SqlStore
from jobhost.store.schedules import DeclaredRow
from jobhost.store.schema import sessions
from jobhost.store.users import LAST_USED_RESOLUTION_SECONDS
from tests.store.conftest import FakeClock
from tests.store.test_schedule_store import schedule

TOKEN = "a" * 64
OTHER_TOKEN = "b" * 64


def only_key(store: SqlStore) -> ApiKey:
    [key] = store.users.list_keys()
    return key


@pytest.fixture
def alice(store: SqlStore) -> User:
    return store.users.add_user("alice", frozenset({"task_manager", "debug"}), "argon-hash")


def test_add_user_then_get_user(store: SqlStore, clock: FakeClock) -> None:
    added = store.users.add_user("alice", frozenset({"task_manager", "debug"}), "argon-hash")

    assert added == User("alice", frozenset({"task_manager", "debug"}), clock.now(), True)
    assert store.users.get_user("alice") == added


def test_a_user_without_password_or_roles(store: SqlStore) -> None:
    added = store.users.add_user("bob@example.com", frozenset(), None)

    assert (added.roles, added.has_password) == (frozenset(), False)
    assert store.users.get_user("bob@example.com") == added
    assert store.users.password_hash("bob@example.com") is None


def test_get_user_of_an_unknown_user_is_none(store: SqlStore, alice: User) -> None:
    assert store.users.get_user("mallory") is None
    assert store.users.get_user("ALICE") is None


def test_list_and_count_users(store: SqlStore, clock: FakeClock) -> None:
    assert (store.users.list_users(), store.users.count_users()) == ([], 0)
    for user_id in ["carol", "alice", "bob"]:
        store.users.add_user(user_id, frozenset({"debug"}), None)
        clock.advance(1)

    assert [u.user_id for u in store.users.list_users()] == ["alice", "bob", "carol"]
    assert store.users.count_users() == 3
    assert store.users.list_users()[2] == store.users.get_user("carol")


def test_adding_a_user_twice_is_a_conflict(store: SqlStore, alice: User) -> None:
    with pytest.raises(Conflict, match="alice"):
        store.users.add_user("alice", frozenset(), None)

    assert store.users.get_user("alice") == alice
    assert store.users.count_users() == 1


def test_password_hash(store: SqlStore, alice: User) -> None:
    assert store.users.password_hash("alice") == "argon-hash"
    assert store.users.password_hash("mallory") is None


# --- keys -------------------------------------------------------------------------------------


def test_add_key_for_a_missing_user_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="mallory"):
        store.users.add_key("key_1", "mallory", TOKEN, None, None)

    assert store.users.list_keys() == []


def test_add_key_then_list_keys(store: SqlStore, clock: FakeClock, alice: User) -> None:
    key = store.users.add_key("key_1", "alice", TOKEN, "laptop", clock.now() + 3600)
    clock.advance(1)
    second = store.users.add_key("key_2", "alice", OTHER_TOKEN, None, None)

    assert key == ApiKey("key_1", "alice", "laptop", clock.now() - 1, clock.now() - 1 + 3600)
    assert store.users.list_keys() == [key, second]


def test_adding_a_key_id_twice_is_a_conflict(store: SqlStore, alice: User) -> None:
    first = store.users.add_key("key_1", "alice", TOKEN, None, None)

    with pytest.raises(Conflict, match="key_1"):
        store.users.add_key("key_1", "alice", OTHER_TOKEN, None, None)

    assert store.users.list_keys() == [first]


def test_user_for_token_finds_the_owner_of_the_hash(store: SqlStore, alice: User) -> None:
    store.users.add_key("key_1", "alice", TOKEN, None, None)

    user = store.users.user_for_token(TOKEN)

    assert user is not None
    assert (user.user_id, user.roles, user.created_at) == (
        alice.user_id,
        alice.roles,
        alice.created_at,
    )
    assert store.users.user_for_token(OTHER_TOKEN) is None
    assert store.users.user_for_token("") is None


def test_user_for_token_returns_the_same_user_as_get_user(store: SqlStore, alice: User) -> None:
    store.users.add_key("key_1", "alice", TOKEN, None, None)

    assert store.users.user_for_token(TOKEN) == store.users.get_user("alice")


def test_an_expired_key_finds_no_one(store: SqlStore, clock: FakeClock, alice: User) -> None:
    store.users.add_key("key_1", "alice", TOKEN, None, clock.now() + 100)

    clock.advance(99.5)
    assert store.users.user_for_token(TOKEN) is not None
    clock.advance(0.5)
    assert store.users.user_for_token(TOKEN) is None
    clock.advance(1000)
    assert store.users.user_for_token(TOKEN) is None


def test_a_revoked_key_finds_no_one(store: SqlStore, clock: FakeClock, alice: User) -> None:
    store.users.add_key("key_1", "alice", TOKEN, None, None)
    store.users.add_key("key_2", "alice", OTHER_TOKEN, None, None)
    clock.advance(5)

    revoked = store.users.revoke_key("key_1")

    assert (revoked.key_id, revoked.revoked_at) == ("key_1", clock.now())
    assert store.users.user_for_token(TOKEN) is None
    assert store.users.user_for_token(OTHER_TOKEN) is not None, "only key_1 was revoked"


def test_revoking_twice_keeps_the_first_revocation_time(store: SqlStore, clock: FakeClock) -> None:
    store.users.add_user("alice", frozenset(), None)
    store.users.add_key("key_1", "alice", TOKEN, None, None)
    first = store.users.revoke_key("key_1")
    clock.advance(10)

    again = store.users.revoke_key("key_1")

    assert again == first
    assert only_key(store) == first


def test_revoking_an_unknown_key_is_not_found(store: SqlStore, alice: User) -> None:
    store.users.add_key("key_1", "alice", TOKEN, None, None)

    with pytest.raises(NotFound, match="key_2"):
        store.users.revoke_key("key_2")

    assert only_key(store).revoked_at is None


def test_last_used_at_is_written_at_most_once_per_resolution(
    store: SqlStore, clock: FakeClock, alice: User
) -> None:
    store.users.add_key("key_1", "alice", TOKEN, None, None)
    assert only_key(store).last_used_at is None
    clock.advance(1)
    first_use = clock.now()

    assert store.users.user_for_token(TOKEN) is not None
    assert only_key(store).last_used_at == first_use

    clock.advance(LAST_USED_RESOLUTION_SECONDS / 2)
    assert store.users.user_for_token(TOKEN) is not None
    clock.advance(LAST_USED_RESOLUTION_SECONDS / 2)
    assert store.users.user_for_token(TOKEN) is not None
    assert only_key(store).last_used_at == first_use, "written again within the resolution"

    clock.advance(0.5)
    assert store.users.user_for_token(TOKEN) is not None
    assert only_key(store).last_used_at == clock.now()


def test_a_failed_lookup_does_not_touch_last_used_at(
    store: SqlStore, clock: FakeClock, alice: User
) -> None:
    store.users.add_key("key_1", "alice", TOKEN, None, clock.now() + 10)
    clock.advance(20)

    assert store.users.user_for_token(TOKEN) is None
    assert only_key(store).last_used_at is None


def test_a_session_finds_its_user_until_it_expires(
    store: SqlStore, clock: FakeClock, alice: User
) -> None:
    store.users.add_session("hash-1", "alice", "csrf-1", clock.now() + 60)

    assert store.users.session_user("hash-1") == (alice, "csrf-1")
    assert store.users.session_user("hash-2") is None
    clock.advance(60)
    assert store.users.session_user("hash-1") is None


def test_ending_a_session_and_sweeping_expired_ones(
    store: SqlStore, clock: FakeClock, alice: User
) -> None:
    store.users.add_session("old", "alice", "csrf-old", clock.now() + 10)
    store.users.add_session("ended", "alice", "csrf-ended", clock.now() + 100)
    store.users.end_session("ended")
    clock.advance(20)
    store.users.add_session("new", "alice", "csrf-new", clock.now() + 100)

    with store.db.read() as conn:
        left = conn.execute(select(sessions.c.session_hash)).scalars().all()
    assert left == ["new"]


def test_changing_roles_adds_and_removes_in_one_step(store: SqlStore, alice: User) -> None:
    changed = store.users.change_roles(
        "alice", add=frozenset({"site_admin", "debug"}), remove=frozenset({"task_manager", "ops"})
    )

    assert changed == User("alice", frozenset({"debug", "site_admin"}), alice.created_at, True)
    assert store.users.get_user("alice") == changed


def test_changing_the_roles_of_an_unknown_user_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="No such user: nobody"):
        store.users.change_roles("nobody", add=frozenset({"debug"}), remove=frozenset())


def test_a_new_password_replaces_the_old_and_ends_the_users_sessions(
    store: SqlStore, clock: FakeClock, alice: User
) -> None:
    store.users.add_user("bob", frozenset(), "bob-hash")
    store.users.add_session("alices", "alice", "csrf-a", clock.now() + 60)
    store.users.add_session("bobs", "bob", "csrf-b", clock.now() + 60)

    store.users.set_password("alice", "new-hash")

    assert store.users.password_hash("alice") == "new-hash"
    assert store.users.session_user("alices") is None
    assert store.users.session_user("bobs") is not None


def test_setting_the_password_of_an_unknown_user_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="No such user: nobody"):
        store.users.set_password("nobody", "hash")


def test_removing_a_user_removes_their_keys_and_sessions_but_not_their_jobs(
    store: SqlStore, clock: FakeClock, alice: User
) -> None:
    store.users.add_user("bob", frozenset(), None)
    store.users.add_key("key_a", "alice", TOKEN, None, None)
    store.users.add_key("key_b", "bob", OTHER_TOKEN, None, None)
    store.users.add_session("alices", "alice", "csrf-a", clock.now() + 60)
    job = store.jobs.submit("alice", JobSpec("j", "true", Mode.BACKGROUND_JOB))

    store.users.remove_user("alice")

    assert store.users.get_user("alice") is None
    assert [key.key_id for key in store.users.list_keys()] == ["key_b"]
    assert store.users.user_for_token(TOKEN) is None
    assert store.users.session_user("alices") is None
    assert store.jobs.get(job.job_id) is not None


def test_removing_a_user_removes_their_schedules_so_a_new_user_of_that_name_has_none(
    store: SqlStore, alice: User
) -> None:
    store.users.add_user("bob", frozenset(), None)
    alices = store.schedules.create(schedule("alice"))
    bobs = store.schedules.create(schedule("bob"))

    store.users.remove_user("alice")

    assert store.schedules.get(alices.schedule_id) is None
    assert store.schedules.get(bobs.schedule_id) == bobs
    store.users.add_user("alice", frozenset({"task_manager"}), None)
    assert store.schedules.listing("alice") == []


def test_removing_a_stored_user_named_system_leaves_the_catalogs_schedules(
    store: SqlStore,
) -> None:
    store.users.add_user("system", frozenset(), None)  # made before the name was reserved
    store.schedules.sync_declared("system", [DeclaredRow("disk", "0 3 * * *", "UTC", 1.0)])

    store.users.remove_user("system")

    assert [s.declared_by for s in store.schedules.listing("system")] == ["disk"]


def test_removing_an_unknown_user_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="No such user: nobody"):
        store.users.remove_user("nobody")
