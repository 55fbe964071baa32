"""User and API-key verbs on the store. Tokens and passwords arrive here already hashed."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from jobhost.clock import Clock
from jobhost.errors import Conflict, NotFound, StoreUnavailable
from jobhost.models import ApiKey, User
from jobhost.store.database import Database
from jobhost.store.schema import api_keys, schedules, sessions, users

# last_used_at is written at most this often per key, so that authenticating a request
# does not turn every read into a write.
LAST_USED_RESOLUTION_SECONDS = 60.0

# Every request with an API key runs this: built once, so that its compiled form is
# looked up, not built anew.
_KEY_AND_OWNER = (
    select(
        api_keys,
        users.c.roles,
        users.c.created_at.label("user_created_at"),
        users.c.password_hash,
    )
    .join(users, users.c.user_id == api_keys.c.user_id)
    .where(api_keys.c.token_hash == bindparam("b_hash"))
)


class SqlUserStore:
    """Users, their API keys and browser sessions (the ``UserStore`` protocol)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def add_user(self, user_id: str, roles: frozenset[str], password_hash: str | None) -> User:
        now = self.clock.now()
        try:
            with self.db.write() as conn:
                conn.execute(
                    insert(users).values(
                        user_id=user_id,
                        roles=" ".join(sorted(roles)),
                        password_hash=password_hash,
                        created_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict(f"User already exists: {user_id}") from None
        return User(user_id, roles, now, password_hash is not None)

    def get_user(self, user_id: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
        return _user(row) if row else None

    def password_hash(self, user_id: str) -> str | None:
        with self.db.read() as conn:
            query = select(users.c.password_hash).where(users.c.user_id == user_id)
            value = conn.execute(query).scalar()
        return str(value) if value else None

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(row) for row in conn.execute(select(users).order_by(users.c.user_id))]

    def count_users(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def change_roles(self, user_id: str, add: frozenset[str], remove: frozenset[str]) -> User:
        """Adds then removes roles in one transaction; the user as it is afterwards."""
        with self.db.write() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
            if row is None:
                raise NotFound(f"No such user: {user_id}")
            roles = (_roles(row._mapping["roles"]) | add) - remove
            conn.execute(
                update(users)
                .where(users.c.user_id == user_id)
                .values(roles=" ".join(sorted(roles)))
            )
        return User(
            user_id, roles, row._mapping["created_at"], row._mapping["password_hash"] is not None
        )

    def set_password(self, user_id: str, password_hash: str) -> None:
        """Replaces the password and ends the user's browser sessions; API keys stay valid."""
        with self.db.write() as conn:
            changed = conn.execute(
                update(users).where(users.c.user_id == user_id).values(password_hash=password_hash)
            ).rowcount
            if not changed:
                raise NotFound(f"No such user: {user_id}")
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def remove_user(self, user_id: str) -> None:
        """Deletes the user with their API keys, sessions and schedules (which would fail
        every firing, and pass to a later user of the same name); their jobs' records stay."""
        with self.db.write() as conn:
            # The foreign keys cascade too; said here so as not to depend on SQLite's pragma.
            conn.execute(delete(api_keys).where(api_keys.c.user_id == user_id))
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
            # Not the catalog's (owned by the built-in system, even if a user of that name
            # was stored before it was reserved).
            owned = schedules.c.user_id == user_id
            conn.execute(delete(schedules).where(owned, schedules.c.declared_by.is_(None)))
            if not conn.execute(delete(users).where(users.c.user_id == user_id)).rowcount:
                raise NotFound(f"No such user: {user_id}")

    def add_key(
        self,
        key_id: str,
        user_id: str,
        token_hash: str,
        label: str | None,
        expires_at: float | None,
    ) -> ApiKey:
        if self.get_user(user_id) is None:
            raise NotFound(f"No such user: {user_id}")
        key = ApiKey(key_id, user_id, label, self.clock.now(), expires_at)
        try:
            with self.db.write() as conn:
                conn.execute(
                    insert(api_keys).values(
                        key_id=key_id,
                        user_id=user_id,
                        token_hash=token_hash,
                        label=label,
                        created_at=key.created_at,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"Key already exists: {key_id}") from None
        return key

    def list_keys(self) -> list[ApiKey]:
        with self.db.read() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at))
            return [_key(row._mapping) for row in rows]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self.db.write() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.now())
            )
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None:
            raise NotFound(f"No such key: {key_id}")
        return _key(row._mapping)

    def user_for_token(self, token_hash: str) -> User | None:
        """The owner of a usable key with this hash, noting that the key was used."""
        row = self._key_and_owner(token_hash)
        if row is None:
            return None
        key = _key(row)
        now = self.clock.now()
        if not key.is_usable(now):
            return None
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION_SECONDS:
            # Bookkeeping: never worth making a request wait for the write lock, nor fail
            # it when the store cannot write; a later use records it.
            with contextlib.suppress(StoreUnavailable), self.db.write(wait=False) as conn:
                conn.execute(
                    update(api_keys).where(api_keys.c.key_id == key.key_id).values(last_used_at=now)
                )
        has_password = row["password_hash"] is not None
        return User(key.user_id, _roles(row["roles"]), row["user_created_at"], has_password)

    def _key_and_owner(self, token_hash: str) -> Mapping[Any, Any] | None:
        # Every request with an API key asks this: one of the hot statements.
        with self.db.dialect.read() as run:
            return run.first(_KEY_AND_OWNER, {"b_hash": token_hash})

    def add_session(
        self, session_hash: str, user_id: str, csrf_token: str, expires_at: float
    ) -> None:
        """Start a browser session; expired ones are swept out at the same time."""
        now = self.clock.now()
        with self.db.write() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(
                insert(sessions).values(
                    session_hash=session_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def session_user(self, session_hash: str) -> tuple[User, str] | None:
        """The user of an unexpired session and its CSRF token, or None."""
        query = (
            select(users, sessions.c.csrf_token)
            .join(sessions, sessions.c.user_id == users.c.user_id)
            .where(
                sessions.c.session_hash == session_hash,
                sessions.c.expires_at > self.clock.now(),
            )
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return _user(row), str(row._mapping["csrf_token"])

    def end_session(self, session_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(sessions).where(sessions.c.session_hash == session_hash))


def _roles(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _user(row: Row[Any]) -> User:
    m = row._mapping
    return User(m["user_id"], _roles(m["roles"]), m["created_at"], m["password_hash"] is not None)


def _key(m: Mapping[Any, Any]) -> ApiKey:
    return ApiKey(
        key_id=m["key_id"],
        user_id=m["user_id"],
        label=m["label"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )
