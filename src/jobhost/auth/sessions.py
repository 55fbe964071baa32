"""Browser sessions: a random cookie token (stored hashed) and a CSRF token per session."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from jobhost import policy
from jobhost.auth.keys import hash_token
from jobhost.auth.passwords import hash_password, verify_password
from jobhost.clock import Clock
from jobhost.models import User
from jobhost.store.protocol import UserStore

SESSION_COOKIE = "jobhost_session"
CSRF_HEADER = "X-CSRF-Token"
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 200
# Verified when the user does not exist, so that a wrong name costs as long as a wrong password.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class NewSession:
    user: User
    token: str
    """The cookie's value; never stored."""
    csrf_token: str
    expires_at: float


def start_session(
    users: UserStore, clock: Clock, username: str, password: str, lifetime: float
) -> NewSession | None:
    """A new session if the password is right, else None (same answer for unknown users)."""
    user = (
        users.get_user(username) if len(username) <= 64 and policy.may_sign_in(username) else None
    )
    stored = users.password_hash(user.user_id) if user is not None else None
    matches = verify_password(stored or _DECOY_HASH, password)
    if user is None or stored is None or not matches:
        return None
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    csrf_token = secrets.token_urlsafe(_TOKEN_BYTES)
    expires_at = clock.now() + lifetime
    users.add_session(hash_token(token), user.user_id, csrf_token, expires_at)
    return NewSession(user, token, csrf_token, expires_at)


def session_user(users: UserStore, token: str) -> tuple[User, str] | None:
    """The user a session cookie belongs to and the session's CSRF token, or None."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    found = users.session_user(hash_token(token))
    return found if found is not None and policy.may_sign_in(found[0].user_id) else None


def end_session(users: UserStore, token: str) -> None:
    if token and len(token) <= _MAX_TOKEN_LENGTH:
        users.end_session(hash_token(token))
