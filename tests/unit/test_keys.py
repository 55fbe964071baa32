"""API-key tokens and their hashes, and password hashing; no database involved."""

from __future__ import annotations

import hashlib
import re
import string

import pytest

from jobhost.auth.keys import TOKEN_PREFIX, create_key, hash_token, user_for_token
from jobhost.auth.passwords import generate_password, hash_password, verify_password
from jobhost.errors import InvalidInput
from jobhost.models import ApiKey, User

URLSAFE = set(string.ascii_letters + string.digits + "-_")
TOKEN = re.compile(r"jh_[A-Za-z0-9_-]{43}")  # 32 random bytes in unpadded base64url


class FixedClock:
    def now(self) -> float:
        return 1000.0

    def monotonic(self) -> float:
        return 0.0


class KeyRecorder:
    """An in-memory ``ApiKeys``: keeps what create_key hands to the store; any lookup is a
    test failure."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str, str, str | None, float | None]] = []

    def add_key(
        self,
        key_id: str,
        user_id: str,
        token_hash: str,
        label: str | None,
        expires_at: float | None,
    ) -> ApiKey:
        self.added.append((key_id, user_id, token_hash, label, expires_at))
        return ApiKey(key_id, user_id, label, 1000.0, expires_at)

    def user_for_token(self, token_hash: str) -> User | None:
        raise AssertionError("the store should not have been asked")


def test_hash_token_is_the_sha256_hex_of_the_token() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    token = "jh_ünïcode-token"
    assert hash_token(token) == hashlib.sha256(token.encode("utf-8")).hexdigest()


def test_hash_token_tells_tokens_apart() -> None:
    assert hash_token("jh_a") != hash_token("jh_b")
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(""))


def test_a_new_token_has_the_prefix_and_32_random_bytes() -> None:
    store = KeyRecorder()
    tokens = [create_key(store, FixedClock(), "bob", None, None).token for _ in range(20)]
    assert TOKEN_PREFIX == "jh_"
    assert all(TOKEN.fullmatch(token) for token in tokens)
    assert len(set(tokens)) == len(tokens)


def test_only_the_hash_of_a_new_token_reaches_the_store() -> None:
    store = KeyRecorder()
    new = create_key(store, FixedClock(), "bob", "laptop", 2)
    [(key_id, user_id, token_hash, label, expires_at)] = store.added
    assert token_hash == hash_token(new.token)
    assert new.token not in (key_id, token_hash)
    assert (user_id, label, expires_at) == ("bob", "laptop", 1000.0 + 2 * 86400)
    assert re.fullmatch(r"key_[0-9a-f]{12}", key_id)
    assert new.key.key_id == key_id


@pytest.mark.parametrize("days", [0, -1, -0.5])
def test_a_non_positive_expiry_is_refused(days: float) -> None:
    store = KeyRecorder()
    with pytest.raises(InvalidInput, match="expires-days"):
        create_key(store, FixedClock(), "bob", None, days)
    assert store.added == []


def test_an_overlong_label_is_refused() -> None:
    store = KeyRecorder()
    with pytest.raises(InvalidInput, match="Label"):
        create_key(store, FixedClock(), "bob", "x" * 201, None)
    assert store.added == []


@pytest.mark.parametrize("token", ["", "jh_" + "x" * 198])
def test_an_empty_or_overlong_token_is_nobody_without_asking_the_store(token: str) -> None:
    assert user_for_token(KeyRecorder(), token) is None


def test_generated_passwords_are_long_urlsafe_and_distinct() -> None:
    passwords = [generate_password() for _ in range(50)]
    assert all(len(password) >= 20 for password in passwords)
    assert all(set(password) <= URLSAFE for password in passwords)
    assert len(set(passwords)) == len(passwords)
    assert len(set("".join(passwords))) > 40  # draws from most of the 64-letter alphabet


def test_a_password_hash_verifies_only_its_password() -> None:
    password_hash = hash_password("correct horse")
    assert password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash
    assert verify_password(password_hash, "correct horse") is True
    assert verify_password(password_hash, "correct horsE") is False
    assert verify_password(password_hash, "") is False


def test_the_same_password_hashes_differently_each_time() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second
    assert verify_password(first, "pw") and verify_password(second, "pw")


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=65536,t=3,p=4$$"],
)
def test_a_garbage_hash_verifies_nothing(garbage: str) -> None:
    assert verify_password(garbage, "pw") is False
