"""The sweep's route table against the real app's: every route classified, every id found.

A route added to the app without a row in ``ROUTES`` fails here, and so does an id-like
parameter or documented body field (``jobId``, ``scheduleId``, ``webhookId``, ...) that its
row does not classify: the access-control sweep then covers it, or the gap shows.
"""

from __future__ import annotations

import pytest

from tests.security.privileged import PRIVILEGED
from tests.security.routes import (
    ROUTES,
    STATE_CHANGING,
    WIDENING,
    WS,
    AppRoute,
    app_routes,
    body_calls,
    openapi_document,
)

APP_ROUTES = app_routes()


def test_every_route_of_the_app_is_in_the_sweeps_table() -> None:
    missing = sorted(set(APP_ROUTES) - set(ROUTES))
    assert not missing, (
        f"routes without a row in tests/security/routes.py ROUTES: {missing}; add each with "
        "the object ids it takes (IdField) so the access-control sweep covers it"
    )


def test_the_table_names_no_route_the_app_does_not_have() -> None:
    assert sorted(set(ROUTES) - set(APP_ROUTES)) == []


@pytest.mark.parametrize("key", sorted(APP_ROUTES), ids=" ".join)
def test_every_id_a_route_takes_is_classified(key: tuple[str, str]) -> None:
    route, row = APP_ROUTES[key], ROUTES.get(key)
    assert row is not None, f"{key} is not in ROUTES"
    declared = {(f.where, f.name) for f in row.ids}
    unclassified = sorted(route.id_fields - declared)
    assert not unclassified, (
        f"{key} takes object ids the sweep does not check: {unclassified}; add an IdField "
        "for each to its row in tests/security/routes.py ROUTES"
    )
    if key[0] != WS:  # a WebSocket's parameters are read by hand, so its row declares them
        assert sorted(declared - route.id_fields) == [], f"{key}: stale IdFields"


@pytest.mark.parametrize("key", sorted(APP_ROUTES), ids=" ".join)
def test_every_route_but_the_public_ones_needs_credentials(key: tuple[str, str]) -> None:
    """A public row is one the sweep leaves alone, so the app's document must agree."""
    row = ROUTES[key]
    if row.public or key[0] == WS:
        return
    operation = openapi_document()["paths"][key[1]][key[0].lower()]
    assert operation.get("security"), f"{key} documents no credentials"


@pytest.mark.parametrize(
    "key", sorted(k for k in APP_ROUTES if k[0] in STATE_CHANGING), ids=" ".join
)
def test_every_state_changing_route_has_a_request_for_the_csrf_sweep(
    key: tuple[str, str],
) -> None:
    row = ROUTES[key]
    assert row.public or row.ids or row.sample is not None, f"{key}: give it a sample Call"


@pytest.mark.parametrize("key", sorted(k for k, r in APP_ROUTES.items() if r.body_fields))
def test_every_route_with_a_body_has_a_request_with_one_for_the_mass_assignment_sweep(
    key: tuple[str, str],
) -> None:
    row = ROUTES[key]
    assert row.public or body_calls(key, row), f"{key}: give it a sample Call with a body"


def widening_params(key: tuple[str, str], route: AppRoute) -> frozenset[str]:
    params = ROUTES[key].params if key[0] == WS else route.params
    return params & WIDENING


@pytest.mark.parametrize("key", sorted(APP_ROUTES), ids=" ".join)
def test_every_widening_parameter_has_a_privileged_check(key: tuple[str, str]) -> None:
    checked = {name for case in PRIVILEGED if case.route == key for name in case.widens}
    missing = sorted(widening_params(key, APP_ROUTES[key]) - checked)
    assert not missing, (
        f"{key} takes {missing}, which reach other users' objects: add a case to "
        "tests/security/privileged.py PRIVILEGED"
    )


def test_every_privileged_case_names_a_route_of_the_app() -> None:
    assert sorted({case.route for case in PRIVILEGED} - set(APP_ROUTES)) == []
