"""The access log middleware: one line per answered HTTP request, written in batches."""

from __future__ import annotations

import io
import re
import time

import pytest
from fastapi import FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from jobhost.web import access_log
from jobhost.web.access_log import AccessLog
from jobhost.web.redaction import redact_target

LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO jobhost\.access: "
    r'(?P<client>\S+) - "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<ms>\d+\.\d)ms'
)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/{anything:path}")
    def answer(anything: str) -> PlainTextResponse:
        if anything == "boom":
            raise RuntimeError("the route failed")
        return PlainTextResponse(anything, status_code=404 if anything == "missing" else 200)

    @app.websocket("/ws")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    return app


def _lines(stream: io.StringIO) -> list[re.Match[str]]:
    written = stream.getvalue().splitlines()
    matches = [LINE.fullmatch(line) for line in written]
    assert all(matches), written
    return [m for m in matches if m is not None]


def test_each_request_gets_one_line_with_its_status_and_time() -> None:
    stream = io.StringIO()
    log = AccessLog(_app(), stream)
    with TestClient(log, raise_server_exceptions=False) as client:
        client.get("/hello", params={"a": "1"})
        client.get("/missing")
        client.get("/boom")
        with client.websocket_connect("/ws"):
            pass
    log.flush()
    lines = _lines(stream)
    assert [(m["request"], m["status"]) for m in lines] == [
        ("GET /hello?a=1 HTTP/1.1", "200"),
        ("GET /missing HTTP/1.1", "404"),
        ("GET /boom HTTP/1.1", "500"),
    ]  # the WebSocket handshake is uvicorn's to log, not a line here
    assert lines[0]["client"] == "testclient:50000"


def test_a_path_cannot_forge_a_line() -> None:
    stream = io.StringIO()
    log = AccessLog(_app(), stream)
    with TestClient(log) as client:
        client.get("/x%0D%0A2026-01-01 00:00:00,000 INFO jobhost.access: forged%22")
    log.flush()
    [line] = _lines(stream)
    assert line["request"].startswith("GET /x%0D%0A2026-01-01%2000%3A00%3A00")
    assert "%22" in line["request"]


def test_lines_are_kept_until_the_flush_then_written_within_its_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(access_log, "FLUSH_SECONDS", 0.5)  # ample time to look before it
    stream = io.StringIO()
    log = AccessLog(_app(), stream)
    with TestClient(log) as client:
        client.get("/first")
        client.get("/second")
        written_at_once = stream.getvalue()
        deadline = time.monotonic() + 10 * access_log.FLUSH_SECONDS + 5
        while stream.getvalue().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert written_at_once.count("\n") < 2  # at least the second waited for the batch
    assert [m["request"] for m in _lines(stream)] == ["GET /first HTTP/1.1", "GET /second HTTP/1.1"]


def test_a_burst_is_written_when_it_reaches_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_log, "MAX_KEPT_LINES", 3)
    monkeypatch.setattr(access_log, "FLUSH_SECONDS", 3600.0)  # only the limit can write
    stream = io.StringIO()
    log = AccessLog(_app(), stream)
    with TestClient(log) as client:
        for n in range(4):
            client.get(f"/{n}")
        assert len(_lines(stream)) == 3
    log.flush()
    assert len(_lines(stream)) == 4


class _BrokenPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError("stdout is gone")


def test_a_log_that_cannot_be_written_loses_lines_not_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = AccessLog(_app(), _BrokenPipe())
    with TestClient(log) as client:
        for n in range(3):
            assert client.get(f"/{n}").status_code == 200
            log.flush()
    lost = [r for r in caplog.records if r.name == access_log.__name__]
    assert len(lost) == 1 and "stdout is gone" in lost[0].getMessage()  # said once
    assert not log._lines  # nothing piles up


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/jobs?token=s3cret&jobId=1", "/jobs?token=[redacted]&jobId=1"),
        ("/jobs?%74oken=s3cret", "/jobs?%74oken=[redacted]"),
        ("/jobs?API_KEY=s3cret&password=x", "/jobs?API_KEY=[redacted]&password=[redacted]"),
        ("/jobs?token=&jobId=1", "/jobs?token=&jobId=1"),
        ("/jobs?note=jh_abcdefghijklmnop", "/jobs?note=[redacted]"),
        ("/jh_abcdefghijklmnop/x", "/[redacted]/x"),
        ("/jobs?jobName=keep", "/jobs?jobName=keep"),
    ],
)
def test_credential_looking_query_values_are_redacted(target: str, logged: str) -> None:
    assert redact_target(target) == logged
