"""The task manager page in a real browser against a real server."""

from __future__ import annotations

import re
import shlex
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser.conftest import PAGE, PASSWORD, People, record_dialogs, screenshot, sign_in
from tests.integration.server import BASE, Server, wait_finished


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def submit(
    api: httpx.Client, name: str, command: str, mode: str = "BackgroundJob", **more: Any
) -> str:
    body = {"jobName": name, "command": command, "executionMode": mode, **more}
    response = api.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def row(page: Page, section: str, name: str) -> Locator:
    return page.locator(f"#{section} li.job").filter(has_text=name)


def button(job_row: Locator, label: str) -> Locator:
    """A job's action button; its accessible name is the label and the job's name."""
    return job_row.get_by_role("button", name=re.compile(f"^{re.escape(label)}: "))


def test_sign_in_and_sign_out(page: Page, server: Server) -> None:
    page.goto("/")
    expect(page).to_have_url(server.url + PAGE)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_have_text("Invalid username or password")
    screenshot(page, "login.png")

    sign_in(page, "carol")
    page.reload()
    expect(page.locator("#user-name")).to_have_text("carol")  # the cookie keeps the session

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#login-note")).to_have_text("You have signed out.")
    assert page.request.get("/api/v1/auth/me").status == 401
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_job_submitted_through_the_api_appears_live_and_moves_to_completed(
    page: Page, server: Server, people: People
) -> None:
    sign_in(page, "carol")
    page.evaluate("window.notReloaded = true")
    name = unique("live")
    with server.client(people.carol) as api:
        submit(api, name, "sleep 1; echo done")
        # Measured from the moment the API has accepted the job.
        waiting_or_running = page.locator("#pending li.job, #running li.job").filter(has_text=name)
        expect(waiting_or_running).to_be_visible(timeout=1000)
    finished = row(page, "completed", name)
    expect(finished.locator(".status-badge")).to_have_text("Completed", timeout=15_000)
    expect(finished.locator(".mode-badge")).to_have_text("BackgroundJob")
    expect(row(page, "running", name)).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True


def test_the_output_modal_streams_lines_as_they_are_printed(
    page: Page, server: Server, people: People, tmp_path: Path
) -> None:
    gate = shlex.quote(str(tmp_path / "gate"))
    command = (
        f"echo first line; while [ ! -e {gate} ]; do sleep 0.05; done; echo second line; sleep 60"
    )
    name = unique("stream")
    sign_in(page, "carol")
    with server.client(people.carol) as api:
        job_id = submit(api, name, command)
        opener = button(row(page, "running", name), "View output")
        opener.click()
        dialog = page.get_by_role("dialog", name="Live job output")
        expect(dialog).to_be_visible()
        output = page.locator("#output-text")
        expect(output).to_have_text("first line\n")
        (tmp_path / "gate").touch()
        expect(output).to_have_text("first line\nsecond line\n", timeout=3000)
        expect(page.locator("#output-status")).to_have_text("Live")
        screenshot(page, "output-modal.png")

        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(opener).to_be_focused()
        assert api.delete("/jobs", params={"jobId": job_id}).status_code == 200


def test_stop_stops_a_running_job(page: Page, server: Server, people: People) -> None:
    name = unique("stop-me")
    sign_in(page, "carol")
    with server.client(people.carol) as api:
        job_id = submit(api, name, "echo started; sleep 60")
        button(row(page, "running", name), "Stop").click()
        finished = row(page, "completed", name)
        expect(finished.locator(".status-badge")).to_have_text("Stopped", timeout=10_000)
        assert api.get("/jobs", params={"jobId": job_id}).json()["job"]["Status"] == "Stopped"


def test_delete_asks_first_then_removes_a_completed_job(
    page: Page, server: Server, people: People
) -> None:
    name = unique("delete-me")
    with server.client(people.carol) as api:
        job_id = submit(api, name, "echo bye")
        wait_finished(api, job_id)
        sign_in(page, "carol")
        finished = row(page, "completed", name)
        delete = button(finished, "Delete")
        confirm = page.get_by_role("dialog", name="Delete this job?")

        delete.focus()  # by keyboard: the question starts on the safe answer
        page.keyboard.press("Enter")
        expect(confirm).to_be_visible()
        expect(page.get_by_role("button", name="Keep it")).to_be_focused()
        page.keyboard.press("Enter")
        expect(confirm).to_be_hidden()
        expect(finished).to_have_count(1)

        delete.click()
        confirm.get_by_role("button", name="Delete").click()
        expect(finished).to_have_count(0)
        assert api.get("/jobs", params={"jobId": job_id}).status_code == 404


def test_names_descriptions_and_output_are_shown_as_text_never_run(
    page: Page, server: Server, people: People
) -> None:
    dialogs = record_dialogs(page)
    name = "<img src=x onerror=alert(1)>"
    description = "<b>not bold</b><script>alert(3)</script>"
    command = "printf '%s\\n' '<script>alert(2)</script>'; printf '\\033[31mred\\033[0m plain\\n'"
    with server.client(people.carol) as api:
        job_id = submit(api, name, command, description=description)
        wait_finished(api, job_id)
    sign_in(page, "carol")
    finished = page.locator(f'#completed li.job[data-job-id="{job_id}"]')
    expect(finished.locator(".job-name")).to_have_text(name)
    expect(finished.locator(".job-desc")).to_have_text(description)

    button(finished, "View details").click()
    expect(page.locator("#output-job-name")).to_have_text(name)
    output = page.locator("#output-text")
    expect(output).to_have_text("<script>alert(2)</script>\nred plain\n")
    expect(output.locator("span.ansi-fg-1")).to_have_text("red")  # colour, from escaping first
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#output-status")).to_have_text("Finished: Completed")
    expect(output).to_have_text("<script>alert(2)</script>\nred plain\n")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#output-status")).to_have_text("Output copied to the clipboard.")
    assert (
        page.evaluate("navigator.clipboard.readText()") == "<script>alert(2)</script>\nred plain\n"
    )
    page.get_by_role("button", name="Close").click()

    assert page.locator("img").count() == 0
    assert page.locator("b").count() == 0
    assert page.locator("script").count() == 1  # the page's own module, nothing else
    assert dialogs == []


def test_a_cookie_post_without_the_csrf_header_is_refused(page: Page, server: Server) -> None:
    sign_in(page, "carol")
    job = {"jobName": "forged", "command": "true", "executionMode": "BackgroundJob"}
    answer = page.evaluate(
        """async ([url, job]) => {
            const response = await fetch(url, {
                method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json"}, body: JSON.stringify(job),
            });
            return [response.status, await response.json()];
        }""",
        [BASE + "/jobs/submit", job],
    )
    assert answer == [403, {"success": False, "error": "Missing or invalid CSRF token"}]
    refused = page.request.post(BASE + "/jobs/submit", data=job)
    assert refused.status == 403
    expect(page.locator("li.job").filter(has_text="forged")).to_have_count(0)


def test_another_users_jobs_never_appear(
    browser: Browser, page: Page, server: Server, people: People
) -> None:
    secret = unique("root-only")
    with server.client(people.root) as root, server.client(people.carol) as carol:
        earlier = submit(root, secret, "echo root")
        sign_in(page, "carol")
        live = submit(root, secret + "-live", "echo root again")  # while carol watches
        mine = unique("carol-after")
        submit(carol, mine, "echo carol")
        expect(page.locator("li.job").filter(has_text=mine)).to_be_visible()
        expect(page.locator("li.job").filter(has_text=secret)).to_have_count(0)
        for job_id in (earlier, live):  # the screenshot of root's page shows only its own test's
            wait_finished(root, job_id)
            assert root.delete("/jobs", params={"jobId": job_id}).status_code == 200

    other = browser.new_context(base_url=server.url)
    try:
        erin = other.new_page()
        sign_in(erin, "erin")
        expect(erin.locator("#submit-section")).to_be_hidden()  # nothing she may submit
        expect(erin.locator("#all-users-toggle")).to_be_hidden()
        for section in ("pending", "running", "completed"):
            expect(erin.locator(f"#{section} .count")).to_have_text("0")
        expect(erin.locator("li.job")).to_have_count(0)
    finally:
        other.close()


def test_the_submit_form_offers_only_the_allowed_modes_and_mainloop_cannot_be_stopped(
    page: Page, server: Server, people: People
) -> None:
    sign_in(page, "carol")
    page.get_by_text("Submit a job").click()
    expect(page.locator("#submit-mode option")).to_have_text(["BackgroundJob", "Runspace"])
    name = unique("from-the-form")
    page.locator("#submit-form").get_by_label("Name", exact=True).fill(name)
    page.locator("#submit-form").get_by_label("Command").fill("echo from the form")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(row(page, "completed", name).locator(".status-badge")).to_have_text("Completed")
    page.get_by_role("button", name="Sign out").click()

    with server.client(people.root) as api:
        for stem, command in (("nightly-backup", "echo ok"), ("flaky-report", "exit 3")):
            wait_finished(api, submit(api, stem, command, description="a cron-like task"))
        sign_in(page, "root")
        page.get_by_text("Submit a job").click()
        expect(page.locator("#submit-mode option")).to_have_text(
            ["BackgroundJob", "Runspace", "MainLoop"]
        )
        inline = "inline-probe"  # the other tests leave root no jobs
        page.locator("#submit-form").get_by_label("Name", exact=True).fill(inline)
        page.locator("#submit-form").get_by_label("Mode").select_option("MainLoop")
        page.locator("#submit-form").get_by_label("Command").fill("import time\ntime.sleep(3)")
        page.get_by_role("button", name="Submit", exact=True).click()
        running = row(page, "running", inline)
        expect(running.locator(".inline-badge")).to_have_text("inline, cannot stop")
        expect(running.get_by_role("button", name="Stop")).to_have_count(0)
        # While a MainLoop job runs nothing else is dispatched: this one waits.
        queued = "queued"
        submit(api, queued, "echo later")
        expect(row(page, "pending", queued)).to_be_visible()
        screenshot(page, "jobs.png", full_page=True)
        button(row(page, "pending", queued), "Cancel").click()
        cancelled = row(page, "completed", queued)
        expect(cancelled.locator(".status-badge")).to_have_text("Cancelled")
        expect(row(page, "completed", inline).locator(".status-badge")).to_have_text(
            "Completed", timeout=15_000
        )


def test_the_page_fits_a_phone_screen(browser: Browser, server: Server, people: People) -> None:
    phone = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    try:
        page = phone.new_page()
        with server.client(people.carol) as api:
            job_id = submit(api, unique("phone"), "for i in 1 2 3; do echo line $i; done")
            wait_finished(api, job_id)
        sign_in(page, "carol")
        expect(page.locator(f'li.job[data-job-id="{job_id}"]')).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        screenshot(page, "phone.png")
    finally:
        phone.close()


def test_the_runtime_of_a_running_job_ticks(page: Page, server: Server, people: People) -> None:
    name = unique("ticking")
    sign_in(page, "carol")
    with server.client(people.carol) as api:
        job_id = submit(api, name, "sleep 60")
        runtime = row(page, "running", name).locator(".runtime")
        expect(runtime).to_have_text(re.compile(r"^\d+ s$"))
        first = runtime.text_content()
        expect(runtime).not_to_have_text(first or "", timeout=2500)  # without any new event
        assert api.delete("/jobs", params={"jobId": job_id}).status_code == 200


def test_while_the_events_socket_is_down_the_listing_is_polled(
    page: Page, server: Server, people: People
) -> None:
    page.route_web_socket(re.compile(r"/events(\?.*)?$"), lambda socket: socket.close())
    page.goto(PAGE)
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_contain_text("refreshing every 5 s")
    name = unique("polled")
    with server.client(people.carol) as api:
        submit(api, name, "echo polled")
    expect(page.locator("li.job").filter(has_text=name)).to_be_visible(timeout=8000)


def test_the_page_policy_refuses_inline_script(context: BrowserContext) -> None:
    tab = context.new_page()  # not the checked `page`: this one is meant to see a refusal
    refusals: list[str] = []
    tab.on("console", lambda message: refusals.append(message.text))
    tab.goto(PAGE)
    expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
    tab.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
        }"""
    )
    assert tab.evaluate("window.inlineRan === undefined")
    assert any("Content Security Policy" in text for text in refusals)
