"""The example catalog in examples/catalog/: every file loads, and its patterns keep values
where the template's description says they go."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobhost.catalog import Catalog, resolve_values
from jobhost.errors import InvalidInput

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(EXAMPLES, monotonic=lambda: 0.0)


def test_every_example_loads(catalog: Catalog) -> None:
    snapshot = catalog.snapshot()
    assert snapshot.errors == ()
    assert set(snapshot.templates) == {"disk-usage", "log-tail", "reports/python-report"}


@pytest.mark.parametrize(
    "path",
    [
        "/var/log/../../etc/passwd",
        "/var/log/..",
        "/var/log/nginx/../../../etc/shadow",
        "/var/log/./../x",
        "/var/log/",
        "/var/log//syslog",
        "/var/logx",
    ],
)
def test_log_tail_refuses_a_file_outside_var_log(catalog: Catalog, path: str) -> None:
    template = catalog.get("log-tail")
    assert template is not None
    with pytest.raises(InvalidInput, match="Invalid value for file"):
        resolve_values(template, {"file": path})


@pytest.mark.parametrize(
    "path", ["/var/log/syslog", "/var/log/nginx/access.log.1", "/var/log/a..b"]
)
def test_log_tail_takes_a_file_under_var_log(catalog: Catalog, path: str) -> None:
    template = catalog.get("log-tail")
    assert template is not None
    assert resolve_values(template, {"file": path})["file"] == path
