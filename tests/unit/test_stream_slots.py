"""The count of open WebSocket streams per user."""

from __future__ import annotations

import contextlib

import pytest

from jobhost.errors import TooManyRequests
from jobhost.web.limits import StreamSlots


def test_a_user_holds_at_most_the_limit_and_a_closed_stream_frees_its_slot() -> None:
    slots = StreamSlots(per_user=2)
    with contextlib.ExitStack() as held:
        held.enter_context(slots.held("alice"))
        held.enter_context(slots.held("alice"))
        with pytest.raises(TooManyRequests) as refused, slots.held("alice"):
            pass
        assert refused.value.message == "Too many open streams (limit 2); close one first"
        with slots.held("bob"):  # another user's slots are their own
            assert slots.open_count("bob") == 1
    assert slots.open_count("alice") == 0
    with slots.held("alice"):
        assert slots.open_count("alice") == 1


def test_a_stream_that_fails_frees_its_slot() -> None:
    slots = StreamSlots(per_user=1)
    with pytest.raises(RuntimeError), slots.held("alice"):
        raise RuntimeError("the client went away")
    assert slots.open_count("alice") == 0
    assert slots._open == {}
