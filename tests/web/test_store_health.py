"""/healthz while the store reads but cannot write: 503 degraded, with the reason."""

from __future__ import annotations

from fastapi.testclient import TestClient

from jobhost.server import create_app
from jobhost.settings import Settings
from jobhost.web.app import BASE
from tests.full_disk import cap_the_file


def test_a_full_disk_refuses_submits_with_a_503_and_degrades_the_health(
    settings: Settings, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"jobName": "x", "command": "echo " + "x" * 500, "executionMode": "BackgroundJob"}
    with TestClient(create_app(settings, run_engine=False), headers=headers) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        cap_the_file(client.app.state.services.store)  # type: ignore[attr-defined]
        for _ in range(200):  # until the file's last pages are full
            response = client.post(BASE + "/jobs/submit", json=body)
            if response.status_code != 200:
                break
        assert response.status_code == 503
        assert response.json() == {
            "success": False,
            "error": "The job store is unavailable: the disk is full.",
        }
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert "the disk is full" in health.json()["reason"]
        assert client.get(BASE + "/jobs").status_code == 200  # reads still answer
