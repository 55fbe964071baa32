"""The OpenAPI document names the credentials each route takes, and the routes agree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobhost.server import create_app
from jobhost.settings import Settings

PUBLIC = {("get", "/healthz"), ("post", "/api/v1/auth/login")}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, run_engine=False)) as test_client:
        yield test_client


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def test_every_route_but_the_public_ones_documents_both_credentials(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["type"] == "http"
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyCookie"] == schemes["APIKeyCookie"] | {
        "type": "apiKey",
        "in": "cookie",
        "name": "jobhost_session",
    }
    operations = _operations(document)
    assert PUBLIC <= set(operations)
    for key, operation in operations.items():
        expected: list[dict[str, list[str]]] | None = (
            None if key in PUBLIC else [{"HTTPBearer": []}, {"APIKeyCookie": []}]
        )
        assert operation.get("security") == expected, key


def test_every_route_documented_as_needing_credentials_refuses_a_request_without(
    client: TestClient,
) -> None:
    # The document only describes; deps.identity is what refuses.
    for (method, path), operation in _operations(client.get("/openapi.json").json()).items():
        if "security" in operation:
            response = client.request(method, path, params={"jobId": "x"})
            assert response.status_code == 401, (method, path, response.text)


def test_no_route_documents_a_422_since_bad_parameters_are_a_400(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for key, operation in _operations(document).items():
        assert "422" not in operation["responses"], key
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_a_schedule_body_documents_the_job_fields_a_free_form_schedule_takes(
    client: TestClient,
) -> None:
    # It documented only the schedule's own fields, with no others allowed: no free-form
    # schedule (command, executionMode) fitted its own document.
    paths = client.get("/openapi.json").json()["paths"]
    bodies = {
        method: paths["/apps/WebHostTaskManagement/api/v1/schedules"][method]["requestBody"]
        for method in ("post", "patch")
    }
    for method, body in bodies.items():
        schema = body["content"]["application/json"]["schema"]
        assert {"name", "cron", "templateId", "command", "executionMode"} <= set(
            schema["properties"]
        ), method
        assert not {"runAt", "dependsOn"} & set(schema["properties"]), method
        assert schema["additionalProperties"] is False
    assert bodies["post"]["content"]["application/json"]["schema"]["required"] == ["name", "cron"]
    assert bodies["patch"]["content"]["application/json"]["schema"]["required"] == []


def test_job_and_schedule_ids_are_documented_as_uuids(client: TestClient) -> None:
    # Documented as any string, every generated id was a 400 before the fuzzer reached a job.
    for key, operation in _operations(client.get("/openapi.json").json()).items():
        for parameter in operation.get("parameters", []):
            if parameter["name"] in ("jobId", "scheduleId"):
                schema = parameter["schema"]
                options = schema.get("anyOf", [schema])
                assert options[0]["format"] == "uuid", key
