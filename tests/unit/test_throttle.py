"""Login throttling on a fake clock."""

from __future__ import annotations

import pytest

from jobhost.auth.throttle import LoginThrottle, bad_key_throttle
from jobhost.errors import TooManyRequests
from tests.store.conftest import FakeClock


def test_a_name_is_locked_after_its_limit_until_the_window_passes() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock, per_user=3, per_address=100, window=60)
    for _ in range(3):
        throttle.check("erin", "10.0.0.1")
        throttle.failed("erin", "10.0.0.1")

    with pytest.raises(TooManyRequests) as refused:
        throttle.check("ERIN", "10.0.0.2")  # names compare case-insensitively
    assert refused.value.retry_after == 60

    clock.advance(59)
    with pytest.raises(TooManyRequests):
        throttle.check("erin", "10.0.0.1")
    clock.advance(1)
    throttle.check("erin", "10.0.0.1")


def test_an_address_is_locked_across_names() -> None:
    throttle = LoginThrottle(FakeClock(), per_user=100, per_address=4, window=60)
    for number in range(4):
        throttle.failed(f"user{number}", "10.0.0.1")

    with pytest.raises(TooManyRequests):
        throttle.check("someone-else", "10.0.0.1")
    throttle.check("someone-else", "10.0.0.2")


def test_success_clears_the_names_failures() -> None:
    throttle = LoginThrottle(FakeClock(), per_user=2, per_address=100, window=60)
    throttle.failed("erin", "a")
    throttle.succeeded("erin")
    throttle.failed("erin", "a")
    throttle.check("erin", "a")


def test_memory_stays_bounded_under_a_flood_of_names() -> None:
    throttle = LoginThrottle(FakeClock(), per_user=5, per_address=10**9, window=60)
    for number in range(20_000):
        throttle.failed(f"made-up-{number}", "10.0.0.1")
    assert throttle.failures.tracked() <= 10_000


def test_bad_keys_from_a_peer_are_refused_past_the_limit_until_the_window_passes() -> None:
    clock = FakeClock()
    throttle = bad_key_throttle(clock, per_peer=3, window=60)
    for _ in range(3):
        throttle.check(("peer", "10.0.0.1"))
        throttle.failed(("peer", "10.0.0.1"))
        clock.advance(1)

    with pytest.raises(TooManyRequests) as refused:
        throttle.check(("peer", "10.0.0.1"))
    assert refused.value.retry_after == 57  # when the first of the three leaves the window
    assert refused.value.message == "Too many invalid API keys; try again in 57 s"
    throttle.check(("peer", "10.0.0.2"))  # another peer is not held up

    clock.advance(57)
    throttle.check(("peer", "10.0.0.1"))
