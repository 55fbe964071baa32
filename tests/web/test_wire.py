"""The OpenAPI document's records are ``jobhost.wire``'s: each component a route documents
has exactly its TypedDict's keys, and requires exactly the keys the TypedDict requires.

The bodies themselves need no test against the document: they are built as these TypedDicts
(mypy --strict checks their keys and value types) and the document is generated from them.
"""

from __future__ import annotations

import inspect
from typing import Any, NotRequired, get_origin, get_type_hints

import pytest
from typing_extensions import is_typeddict

from jobhost import wire
from jobhost.server import create_app
from jobhost.settings import Settings

RECORDS = [
    record
    for _, record in inspect.getmembers(wire, inspect.isclass)
    if is_typeddict(record) and record.__module__ == wire.__name__
]


@pytest.fixture(scope="module")
def components(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    schemas: dict[str, Any] = create_app(settings, run_engine=False).openapi()["components"][
        "schemas"
    ]
    return schemas


def test_every_wire_record_is_documented(components: dict[str, Any]) -> None:
    assert len(RECORDS) > 10
    assert {record.__name__ for record in RECORDS} <= set(components)


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.__name__)
def test_a_documented_record_has_the_wire_record_keys(
    components: dict[str, Any], record: Any
) -> None:
    schema = components[record.__name__]
    assert list(schema["properties"]) == list(get_type_hints(record))
    assert set(schema.get("required", [])) == required_keys(record)


def required_keys(record: Any) -> set[str]:
    # Not ``__required_keys__``: under postponed annotations it counts NotRequired keys too.
    hints = get_type_hints(record, include_extras=True)
    return {key for key, hint in hints.items() if get_origin(hint) is not NotRequired}
