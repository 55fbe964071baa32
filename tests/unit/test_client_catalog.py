"""The client's catalog calls: the requests they make and how they read the answers, by
``jobhost.wire``'s keys."""

from __future__ import annotations

from typing import get_type_hints

from jobhost import wire
from jobhost.client import protocol
from jobhost.client.catalog import catalog_from_body
from tests.unit.test_client_wire_keys import keys_read

ITEM: wire.CatalogItem = {
    "jobId": "ops/disk",
    "displayName": "Disk",
    "description": "d",
    "executionMode": "BackgroundJob",
    "schedule": None,
    "timezone": "UTC",
    "templateVariables": [
        {
            "name": "path",
            "description": "",
            "default": None,
            "required": True,
            "pattern": "^/.*$",
            "choices": None,
        }
    ],
    "permissions": {"canStart": True, "canStop": False},
    "roles": {"start": ["authenticated"], "stop": ["task_manager"]},
}
BODY: wire.CatalogResponse = {
    "success": True,
    "jobs": [ITEM],
    "count": 1,
    "userRoles": ["authenticated"],
    "errors": [{"file": "x.toml", "error": "is not valid TOML"}],
}


def test_catalog_start_and_stop_make_the_contract_requests() -> None:
    assert (protocol.catalog().method, protocol.catalog().path) == ("GET", "/jobs/catalog")
    start = protocol.start("ops/disk", {"path": "/srv"})
    assert (start.method, start.path) == ("POST", "/jobs/start")
    assert start.body == {"jobId": "ops/disk", "variables": {"path": "/srv"}}
    stop = protocol.stop_template("ops/disk")
    assert (stop.method, stop.path, stop.body, stop.params) == (
        "POST",
        "/jobs/stop",
        {"jobId": "ops/disk"},
        {},
    )


def test_answers_are_read_into_values() -> None:
    catalog = catalog_from_body(BODY)
    (template,) = catalog.templates
    assert (template.id, template.can_start, template.can_stop) == ("ops/disk", True, False)
    assert template.variables[0].choices == ()
    assert catalog.errors[0].file == "x.toml"
    assert protocol.start("t").parse({"executionId": "abc"}) == "abc"
    assert protocol.stop_template("t").parse({"stopped": ["a", "b"]}) == ("a", "b")


def test_the_client_reads_every_key_of_the_catalog_records() -> None:
    read = keys_read(catalog_from_body, BODY)
    declared = {
        key
        for record in (
            wire.CatalogItem,
            wire.TemplateVariable,
            wire.TemplatePermissions,
            wire.TemplateRoles,
            wire.CatalogLoadError,
        )
        for key in get_type_hints(record)
    }
    assert declared | {"jobs", "userRoles", "errors"} == read
