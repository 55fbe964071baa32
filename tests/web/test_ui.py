"""The page's routes in-process: redirects, files, and the security headers on each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobhost.server import create_app
from jobhost.settings import Settings
from jobhost.web.page import PAGE, UI_DIR

STATIC = PAGE + "static/"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, run_engine=False), follow_redirects=False) as c:
        yield c


def assert_locked_down(headers: Mapping[str, str]) -> None:
    policy = headers.get("content-security-policy", "")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "same-origin"


@pytest.mark.parametrize("path", ["/", PAGE.rstrip("/")])
def test_the_root_and_the_bare_app_path_redirect_to_the_page(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 307
    assert response.headers["location"] == PAGE
    assert_locked_down(response.headers)


def test_the_page_is_html_with_a_strict_policy_and_no_inline_code(client: TestClient) -> None:
    response = client.get(PAGE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_locked_down(response.headers)
    html = response.text
    assert 'type="module" src="/apps/WebHostTaskManagement/static/app.js"' in html
    assert "<script>" not in html and " style=" not in html and " on" + "click=" not in html


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("app.js", "text/javascript"), ("ansi.js", "text/javascript"), ("app.css", "text/css")],
)
def test_the_page_files_are_served_with_their_types(
    client: TestClient, name: str, media_type: str
) -> None:
    response = client.get(STATIC + name)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert response.content == (UI_DIR / name).read_bytes()
    assert_locked_down(response.headers)


def test_every_module_the_page_imports_is_served(client: TestClient) -> None:
    for path in sorted(Path(UI_DIR).glob("*.js")):
        assert client.get(STATIC + path.name).status_code == 200, path.name


@pytest.mark.parametrize(
    "name", ["index.html", "missing.js", "..%2Fui.py", "..%2F..%2Fsettings.py", "APP.JS", ".js"]
)
def test_nothing_but_the_page_files_is_served(client: TestClient, name: str) -> None:
    response = client.get(STATIC + name)
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_no_script_sets_markup_from_a_string() -> None:
    """The rule that keeps job names and output text: no innerHTML, outerHTML or the like."""
    for path in Path(UI_DIR).glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (path.name, sink)


def test_the_page_is_not_part_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not [path for path in paths if path.startswith(PAGE) and "/api/" not in path]
