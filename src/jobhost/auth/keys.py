"""API keys: random tokens shown once; only their SHA-256 is stored.

A token has 256 bits of entropy, so a fast hash is enough (no salt or slow hash is needed
for a secret nobody chose); the fast hash keeps per-request authentication cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from jobhost import policy
from jobhost.clock import Clock
from jobhost.errors import InvalidInput
from jobhost.models import ApiKey, User
from jobhost.store.protocol import ApiKeys

TOKEN_PREFIX = "jh_"
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    token: str
    """The secret; shown to its owner once and never stored."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    users: ApiKeys, clock: Clock, user_id: str, label: str | None, expires_days: float | None
) -> NewKey:
    if expires_days is not None and expires_days <= 0:
        raise InvalidInput("--expires-days must be a positive number")
    if label is not None and len(label) > 200:
        raise InvalidInput("Label must be at most 200 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    key_id = "key_" + secrets.token_hex(6)
    expires_at = clock.now() + expires_days * 86400 if expires_days is not None else None
    key = users.add_key(key_id, user_id, hash_token(token), label, expires_at)
    return NewKey(key, token)


def user_for_token(users: ApiKeys, token: str) -> User | None:
    """The user a bearer token acts as, or None for an unknown, expired or revoked token."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    user = users.user_for_token(hash_token(token))
    return user if user is not None and policy.may_sign_in(user.user_id) else None
