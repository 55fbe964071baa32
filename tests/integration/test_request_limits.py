"""The request rate per API key and the throttle on invalid keys, on a real loopback server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import BASE, Server, create_user, serving
from tests.integration.test_streams import receive, refusal, socket

BURST = 5


@pytest.fixture(scope="module")
def limited(server_dir: Path, keys: Keys) -> Iterator[Server]:
    """60 requests a minute in bursts of 5, applied to loopback peers too."""
    env = {
        "JOBHOST_RATE_LIMIT_PER_MINUTE": "60",
        "JOBHOST_RATE_LIMIT_BURST": str(BURST),
        "JOBHOST_RATE_LIMIT_LOOPBACK": "true",
    }
    with serving(server_dir, env) as srv:
        yield srv


def test_a_key_past_its_burst_gets_429_with_retry_after_until_it_refills(
    limited: Server, keys: Keys
) -> None:
    with limited.client(keys.alice) as alice, limited.client(keys.bob) as bob:
        assert [alice.get("/jobs").status_code for _ in range(BURST)] == [200] * BURST
        refused = alice.get("/jobs")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.json() == {
            "success": False,
            "error": "Too many requests; try again in 1 s",
        }
        assert alice.post("/jobs/submit", json={}).status_code == 429  # every route counts
        assert bob.get("/jobs").status_code == 200  # another key has a bucket of its own
        time.sleep(1.1)  # one request a second comes back
        assert alice.get("/jobs").status_code == 200
        assert alice.get("/jobs").status_code == 429


def test_routes_without_credentials_are_not_counted(limited: Server) -> None:
    codes = {httpx.get(limited.url + "/healthz", timeout=30).status_code for _ in range(BURST * 3)}
    assert codes == {200}


def test_a_loopback_peer_is_not_limited_by_default(tmp_path: Path) -> None:
    token = create_user(tmp_path, "carol")
    with serving(tmp_path, {"JOBHOST_RATE_LIMIT_BURST": "1"}) as srv, srv.client(token) as carol:
        assert {carol.get("/jobs").status_code for _ in range(20)} == {200}


def test_invalid_keys_from_one_peer_are_throttled_while_valid_keys_still_work(
    limited: Server, keys: Keys
) -> None:
    """20 invalid keys a minute per peer, then 429 for the next invalid ones. Last in the
    module: the server's peer 127.0.0.1 stays throttled for a minute."""
    server = limited
    with server.client("jh_not-a-key") as guesser, server.client(keys.manager) as manager:
        answers = [guesser.get("/jobs") for _ in range(20)]
        assert {a.status_code for a in answers} == {401}
        assert answers[-1].json()["error"] == "Invalid API key"
        refused = guesser.get("/jobs")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["error"].startswith("Too many invalid API keys; try again in ")
        bad_scheme = httpx.get(
            server.url + BASE + "/jobs", headers={"Authorization": "Basic eDp5"}, timeout=30
        )
        assert bad_scheme.status_code == 429  # any unusable Authorization counts
        assert manager.get("/jobs").status_code == 200
        assert httpx.get(server.url + BASE + "/jobs", timeout=30).status_code == 401


def test_opening_a_socket_counts_against_the_keys_rate(limited: Server) -> None:
    """Each open costs a lookup: past the burst an open is refused as a request would be
    (the sockets' own later checks of the key are not counted)."""
    token = create_user(limited.data_dir, "sockets")  # a key with its whole burst
    for _ in range(BURST):
        with socket(limited, "/events", token) as ws:
            assert receive(ws) == {"type": "ready"}
    with socket(limited, "/events", token) as ws:
        assert refusal(ws) == (429, 4429, "Too many requests; try again in 1 s")
