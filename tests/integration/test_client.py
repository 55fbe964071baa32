"""``jobhost.Client`` and ``jobhost.AsyncClient`` against a real ``jobhost serve``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobhost
from jobhost import ApiError, AsyncClient, Client
from jobhost.models import Mode, Status
from tests.integration.conftest import Keys
from tests.integration.server import Server, free_port

GATED = "echo started; while [ ! -e {gate} ]; do sleep 0.02; done; echo gate open"
# A stop answers once the job has ended, or when its grace period (+2 s) is over on a busy machine.
STOP_ANSWERS = {"Job stopped successfully", "Job stop requested; it is still stopping"}


@pytest.fixture(scope="module")
def client(server: Server, keys: Keys) -> Iterator[Client]:
    with Client(server.url, keys.admin) as the_client:
        yield the_client


def test_the_package_exports_the_client() -> None:
    assert jobhost.Client is Client and jobhost.ApiError is ApiError
    with pytest.raises(AttributeError):
        _ = jobhost.Nothing


def test_submit_follow_and_get_a_finished_job(client: Client) -> None:
    job_id = client.submit("printf 'one\\n'; printf 'two\\n' >&2; exit 3", "three")
    pages = list(client.follow(job_id))
    assert "".join(page.output for page in pages) == "one\ntwo\n"
    assert pages[-1].state is Status.FAILED and pages[-1].next_offset == 8
    job = client.get(job_id)
    assert (job.id, job.name, job.mode, job.status) == (job_id, "three", Mode.BACKGROUND_JOB,
                                                       Status.FAILED)  # fmt: skip
    assert job.exit_code == 3 and job.success is False and job.finished
    assert job.output == "one\ntwo\n" and job.command is not None and "exit 3" in job.command
    assert job.started_at is not None and job.completed_at is not None
    assert job.runtime is not None and job.runtime >= 0


def test_output_pages_from_an_offset(client: Client) -> None:
    job_id = client.submit("printf 'héllo wörld'", "offsets")
    assert client.wait(job_id).status is Status.COMPLETED
    whole = client.output(job_id)
    assert whole.output == "héllo wörld" and whole.next_offset == len("héllo wörld".encode())
    rest = client.output(job_id, 7)  # bytes, not characters
    assert rest.output == "wörld" and rest.next_offset == whole.next_offset
    assert list(client.follow(job_id, whole.next_offset))[-1].output == ""


def test_follow_streams_a_running_job_live(client: Client, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    job_id = client.submit(GATED.format(gate=gate), "gated")
    pages = client.follow(job_id)
    first = next(pages)  # arrives while the job is held at the gate, so it is live
    assert first.output == "started\n" and first.state is Status.RUNNING
    gate.touch()
    assert "".join(page.output for page in pages) == "gate open\n"
    assert client.get(job_id).status is Status.COMPLETED


def test_list_results_stop_and_delete(client: Client, tmp_path: Path) -> None:
    job_id = client.submit(GATED.format(gate=tmp_path / "never"), "to stop", stop_grace=1)
    running = next(job for job in client.watch(job_id) if job.status is Status.RUNNING)
    assert running.can_stop
    listing = client.list(completed=False)
    assert job_id in [job.id for job in listing.running] and not listing.completed
    assert client.stop(job_id) in STOP_ANSWERS
    stopped = client.wait(job_id)  # the stop answers after a few seconds even if not ended
    assert stopped.status is Status.STOPPED and stopped.output is not None
    assert stopped.output.endswith("[Job stopped by user]\n")
    with pytest.raises(ApiError) as again:
        client.stop(job_id)  # already finished: refused, and the record is kept
    assert again.value.status == 409
    assert client.get(job_id).status is Status.STOPPED
    assert job_id in [job.id for job in client.results(max_results=50)]
    assert job_id in [job.id for job in client.list(pending=False, running=False).completed]
    assert client.delete(job_id) == "Job result deleted successfully"
    with pytest.raises(ApiError) as gone:
        client.get(job_id)
    assert (gone.value.status, gone.value.message) == (404, f"Job not found: {job_id}")


def test_delete_refuses_a_running_job(client: Client, tmp_path: Path) -> None:
    job_id = client.submit(GATED.format(gate=tmp_path / "never"), "running")
    next(job for job in client.watch(job_id) if job.status is Status.RUNNING)
    with pytest.raises(ApiError) as refused:
        client.delete(job_id)
    assert refused.value.status == 409
    client.stop(job_id)


def test_errors_carry_status_and_message(server: Server, keys: Keys) -> None:
    with Client(server.url, "jh_not-a-key") as bad, pytest.raises(ApiError) as caught:
        bad.list()
    assert (caught.value.status, caught.value.message) == (401, "Invalid API key")
    with Client(server.url, environ={}) as anonymous, pytest.raises(ApiError) as caught:
        anonymous.list()
    assert (caught.value.status, caught.value.message) == (401, "Unauthorized")
    with Client(server.url, keys.alice) as alice, pytest.raises(ApiError) as caught:
        alice.submit("true", "x")
    assert caught.value.status == 403
    with Client(server.url, keys.admin) as admin, pytest.raises(ApiError) as caught:
        admin.get("../../etc/passwd")
    assert (caught.value.status, caught.value.message) == (400, "Invalid jobId: must be a UUID")


def test_an_unreachable_server_is_an_api_error_without_status() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "jh_x") as nowhere, pytest.raises(ApiError) as caught:
        nowhere.get("0f8fad5b-d9cb-469f-a165-70867728950e")
    assert caught.value.status is None
    assert caught.value.message.startswith(f"Cannot reach the jobhost server at {url}: ")


def test_connection_from_the_environment(server: Server, keys: Keys) -> None:
    environ = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": keys.manager}
    with Client(environ=environ) as client:
        job_id = client.submit("true", "from env")
        assert client.wait(job_id).user_id == "manager"


def test_the_async_client_does_the_same(server: Server, keys: Keys, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, keys.admin) as client:
            job_id = await client.submit("echo async; exit 5", "async")
            text = "".join([page.output async for page in client.follow(job_id)])
            assert text == "async\n"
            job = await client.wait(job_id)
            assert (job.status, job.exit_code) == (Status.FAILED, 5)
            assert (await client.get(job_id)).output == "async\n"
            assert (await client.output(job_id, 2)).output == "ync\n"
            assert job_id in [job.id for job in (await client.list()).completed]
            assert job_id in [job.id for job in await client.results()]
            assert await client.delete(job_id) == "Job result deleted successfully"

            held = await client.submit(GATED.format(gate=tmp_path / "never"), "held")
            async for seen in client.watch(held):
                if seen.status is Status.RUNNING:
                    break
            assert await client.stop(held) in STOP_ANSWERS
            assert (await client.wait(held)).status is Status.STOPPED
            with pytest.raises(ApiError) as caught:
                await client.get(job_id)
            assert caught.value.status == 404

    asyncio.run(scenario())
