"""The request-rate token buckets on a fake clock."""

from __future__ import annotations

import pytest

from jobhost.auth.rate_limit import RequestRate, is_local_peer
from jobhost.errors import TooManyRequests
from tests.store.conftest import FakeClock

PEER = "192.0.2.7"


def test_a_key_gets_its_burst_then_waits_for_the_refill() -> None:
    clock = FakeClock()
    rate = RequestRate(clock, per_minute=60, burst=3)
    for _ in range(3):
        rate.take("key:a", PEER)

    with pytest.raises(TooManyRequests) as refused:
        rate.take("key:a", PEER)
    assert refused.value.retry_after == 1
    assert refused.value.message == "Too many requests; try again in 1 s"

    clock.advance(0.99)
    with pytest.raises(TooManyRequests):
        rate.take("key:a", PEER)
    clock.advance(0.01)
    rate.take("key:a", PEER)  # one a second, as 60 a minute says
    with pytest.raises(TooManyRequests):
        rate.take("key:a", PEER)


def test_retry_after_is_the_whole_seconds_until_the_next_request() -> None:
    rate = RequestRate(FakeClock(), per_minute=6, burst=1)  # one per 10 s
    rate.take("key:a", PEER)
    with pytest.raises(TooManyRequests) as refused:
        rate.take("key:a", PEER)
    assert refused.value.retry_after == 10


def test_refused_requests_do_not_use_up_the_refill() -> None:
    clock = FakeClock()
    rate = RequestRate(clock, per_minute=60, burst=1)
    rate.take("key:a", PEER)
    for _ in range(4):
        clock.advance(0.125)
        with pytest.raises(TooManyRequests):
            rate.take("key:a", PEER)
    clock.advance(0.5)
    rate.take("key:a", PEER)


def test_the_burst_never_grows_past_its_size_while_idle() -> None:
    clock = FakeClock()
    rate = RequestRate(clock, per_minute=60, burst=2)
    clock.advance(3600)
    rate.take("key:a", PEER)
    rate.take("key:a", PEER)
    with pytest.raises(TooManyRequests):
        rate.take("key:a", PEER)


def test_keys_have_buckets_of_their_own() -> None:
    rate = RequestRate(FakeClock(), per_minute=60, burst=1)
    rate.take("key:a", PEER)
    rate.take("key:b", PEER)
    with pytest.raises(TooManyRequests):
        rate.take("key:a", PEER)


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", ""])
def test_loopback_peers_are_not_limited_by_default(peer: str) -> None:
    rate = RequestRate(FakeClock(), per_minute=60, burst=1)
    for _ in range(10):
        rate.take("key:a", peer)
    assert rate.tracked() == 0


def test_loopback_peers_are_limited_when_told_to() -> None:
    rate = RequestRate(FakeClock(), per_minute=60, burst=1, include_loopback=True)
    rate.take("key:a", "127.0.0.1")
    with pytest.raises(TooManyRequests):
        rate.take("key:a", "127.0.0.1")


@pytest.mark.parametrize("peer", ["10.0.0.1", "192.168.1.1", "2001:db8::1", "::ffff:10.0.0.1"])
def test_other_addresses_are_not_local(peer: str) -> None:
    assert not is_local_peer(peer)


def test_zero_a_minute_turns_it_off() -> None:
    rate = RequestRate(FakeClock(), per_minute=0, burst=1)
    for _ in range(10):
        rate.take("key:a", PEER)
    assert rate.tracked() == 0


def test_refilled_buckets_are_dropped_when_a_new_key_comes() -> None:
    clock = FakeClock()
    rate = RequestRate(clock, per_minute=60, burst=5)
    for number in range(100):
        rate.take(f"key:{number}", PEER)
    assert rate.tracked() == 100
    clock.advance(0.5)  # half of the one used is back: not yet refilled
    rate.take("key:new", PEER)
    assert rate.tracked() == 101
    clock.advance(0.5)  # refilled: the same as no bucket at all
    rate.take("key:newer", PEER)
    assert rate.tracked() == 2  # "key:new" has one request to win back still


def test_memory_stays_bounded_under_a_flood_of_keys() -> None:
    rate = RequestRate(FakeClock(), per_minute=60, burst=5, max_tracked=1000)
    for number in range(5000):
        rate.take(f"key:{number}", PEER)
    assert rate.tracked() == 1000


def test_the_least_recently_used_keys_go_first() -> None:
    rate = RequestRate(FakeClock(), per_minute=60, burst=2, max_tracked=3)
    rate.take("key:busy", PEER)
    rate.take("key:0", PEER)
    rate.take("key:1", PEER)
    rate.take("key:busy", PEER)  # its bucket is now empty, and the most recent
    rate.take("key:2", PEER)  # evicts key:0
    rate.take("key:3", PEER)  # evicts key:1
    assert rate.tracked() == 3
    with pytest.raises(TooManyRequests):
        rate.take("key:busy", PEER)  # still remembered: still empty
