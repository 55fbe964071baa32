"""The page's Catalog and Schedules views in a real browser against a real server with a catalog."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from jobhost.clock import SystemClock
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.browser.conftest import PAGE, People, record_dialogs, screenshot, sign_in
from tests.browser.test_page import row, submit, unique
from tests.integration.server import BASE, Server

TEMPLATES = {
    "tools/echo.toml": """
name = "Echo a word"
description = "Prints a greeting and a word"
command = "echo {{greeting}} {{word}}"
startRoles = ["authenticated"]

[[variables]]
name = "word"
description = "Lower-case letters only"
pattern = "^[a-z]+$"

[[variables]]
name = "greeting"
choices = ["hello", "bye"]
default = "hello"
""",
    "tools/sleep.toml": """
name = "Sleep a while"
command = "sleep 60"
startRoles = ["authenticated"]
stopRoles = ["authenticated"]
""",
    "ops/restricted.toml": """
name = "Ops only"
command = "echo ops"
startRoles = ["ops"]
stopRoles = ["authenticated"]
""",
    "tools/markup.toml": """
name = "<img src=x onerror=alert(1)>"
description = "<b>not bold</b>"
command = "true"
startRoles = ["authenticated"]
""",
}


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir, with the templates in its default catalog folder before the server starts."""
    data_dir = tmp_path_factory.mktemp("browser-catalog")
    for name, text in TEMPLATES.items():
        path = data_dir / "catalog" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip())
    return data_dir


def open_view(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Views").get_by_role("link", name=name).click()
    expect(page.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")


def test_a_plain_user_starts_a_template_through_its_form_and_sees_a_bad_value_refused_inline(
    page: Page,
) -> None:
    dialogs = record_dialogs(page)
    sign_in(page, "erin")
    open_view(page, "Catalog")
    echo = page.locator("article.template").filter(has_text="Echo a word")
    expect(echo.locator(".template-id")).to_have_text("tools/echo")
    expect(echo.locator(".mode-badge")).to_have_text("BackgroundJob")
    word = echo.get_by_label("word", exact=True)
    expect(word).to_have_attribute("pattern", "^[a-z]+$")  # the client-side hint
    expect(echo.get_by_label(re.compile("^greeting"))).to_have_value(
        "hello"
    )  # the default, prefilled
    expect(echo.locator("select option")).to_have_text(["hello", "bye"])

    word.fill("two words; touch /tmp/x")
    assert word.evaluate("input => input.matches(':invalid')")
    echo.get_by_role("button", name="Start: Echo a word").click()
    error = echo.locator(f"#{word.get_attribute('id')}-error")
    expect(error).to_contain_text("Invalid value for word")  # the server's 400, by the field
    expect(word).to_have_attribute("aria-invalid", "true")
    expect(word).to_be_focused()
    expect(page.locator("#output-dialog")).to_be_hidden()
    screenshot(page, "catalog.png", full_page=True)

    word.fill("world")
    echo.get_by_label(re.compile("^greeting")).select_option("bye")
    echo.get_by_role("button", name="Start: Echo a word").click()
    expect(page.locator("#output-dialog")).to_be_visible()
    expect(page.locator("#output-text")).to_have_text("bye world\n", timeout=15_000)
    expect(error).to_have_text("")
    expect(word).not_to_have_attribute("aria-invalid", "true")
    job_id = page.locator("#output-job-id").inner_text()
    page.locator("#output-close").click()
    expect(echo.locator(".start-result")).to_have_text(f"Started as job {job_id[:8]}.")

    locked = page.locator("article.template").filter(has_text="Ops only")
    expect(locked.locator(".locked")).to_have_text("Locked Starting it requires role ops.")
    expect(locked.get_by_role("button", name=re.compile("^Start"))).to_have_count(0)
    expect(locked.get_by_role("button", name="Stop its jobs: Ops only")).to_be_visible()

    markup = page.locator("article.template").filter(has_text="not bold")
    expect(markup.locator("h3")).to_have_text("<img src=x onerror=alert(1)>")
    expect(markup.locator(".job-desc")).to_have_text("<b>not bold</b>")
    assert page.locator("img").count() == 0
    assert page.locator("article b").count() == 0
    assert dialogs == []

    open_view(page, "Jobs")
    expect(page.locator(f'#completed li.job[data-job-id="{job_id}"]')).to_be_visible()


def test_stop_stops_the_running_jobs_of_a_template(page: Page) -> None:
    sign_in(page, "erin")
    open_view(page, "Catalog")
    sleeper = page.locator("article.template").filter(has_text="Sleep a while")
    sleeper.get_by_role("button", name="Start: Sleep a while").click()
    expect(page.locator("#output-dialog")).to_be_visible()
    job_id = page.locator("#output-job-id").inner_text()
    page.locator("#output-close").click()
    open_view(page, "Jobs")
    expect(page.locator(f'#running li.job[data-job-id="{job_id}"]')).to_be_visible()

    open_view(page, "Catalog")
    sleeper.get_by_role("button", name="Stop its jobs: Sleep a while").click()
    expect(sleeper.locator(".start-result")).to_have_text("Stopping 1 running job.")
    open_view(page, "Jobs")
    stopped = page.locator(f'#completed li.job[data-job-id="{job_id}"]')
    expect(stopped.locator(".status-badge")).to_have_text("Stopped", timeout=15_000)


def test_a_schedule_is_created_with_a_live_preview_paused_resumed_and_deleted(
    page: Page, server: Server, people: People
) -> None:
    sign_in(page, "carol")
    open_view(page, "Schedules")
    page.get_by_text("New schedule").click()
    form = page.locator("#schedule-form")
    name = unique("nightly")
    form.get_by_label("Name", exact=True).fill(name)
    cron = form.get_by_label(re.compile("^Cron"))
    cron.fill("every night")
    expect(page.locator("#schedule-cron-error")).to_contain_text(re.compile("cron", re.I))
    expect(page.locator("#schedule-preview li")).to_have_count(0)

    cron.fill("30 2 * * *")
    form.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
    preview = page.locator("#schedule-preview li")
    expect(preview).to_have_count(5)
    expect(page.locator("#schedule-cron-error")).to_have_text("")
    first = preview.first.locator("time").get_attribute("datetime") or ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:30:00\.000Z", first), first
    expect(preview.first).to_contain_text("02:30")  # as Berlin's clocks read it

    form.get_by_label("A command").check()
    form.get_by_label("Mode", exact=True).select_option("BackgroundJob")
    form.get_by_label("Command", exact=True).fill("echo nightly")
    screenshot(page, "schedules.png", full_page=True)
    form.get_by_role("button", name="Create schedule").click()

    listed = page.locator("tr.schedule").filter(has_text=name)
    expect(listed).to_be_visible()
    expect(page.locator("#schedules-status")).to_have_text(f"Created: {name}")
    expect(listed.locator("td").nth(1)).to_have_text("30 2 * * *")
    expect(listed.locator("td").nth(2)).to_have_text("Europe/Berlin")
    expect(listed.locator("td").nth(3).locator("time")).to_contain_text("02:30")
    expect(listed.locator(".state-badge")).to_have_text("Active")
    with server.client(people.carol) as api:
        mine = [s for s in api.get("/schedules").json()["schedules"] if s["Name"] == name]
        assert [(s["TemplateID"], s["Timezone"], s["Enabled"]) for s in mine] == [
            (None, "Europe/Berlin", True)
        ]
        schedule_id = mine[0]["ScheduleID"]

        listed.get_by_role("button", name=f"Pause: {name}").click()
        expect(listed.locator(".state-badge")).to_have_text("Paused")
        expect(listed.get_by_role("button", name=f"Resume: {name}")).to_be_focused()
        assert (
            api.get("/schedules", params={"scheduleId": schedule_id}).json()["schedule"]["Enabled"]
            is False
        )
        listed.get_by_role("button", name=f"Resume: {name}").click()
        expect(listed.locator(".state-badge")).to_have_text("Active")

        listed.get_by_role("button", name=f"Delete: {name}").click()
        confirm = page.get_by_role("dialog", name="Delete this schedule?")
        expect(confirm).to_be_visible()
        page.get_by_role("button", name="Keep it").click()
        expect(listed).to_have_count(1)
        listed.get_by_role("button", name=f"Delete: {name}").click()
        confirm.get_by_role("button", name="Delete").click()
        expect(listed).to_have_count(0)
        assert api.get("/schedules", params={"scheduleId": schedule_id}).status_code == 404


def test_a_schedules_failed_firing_shows_as_text_under_its_last_run(
    page: Page, server: Server, people: People
) -> None:
    name = unique("failing")
    body = {"name": name, "cron": "0 0 1 1 *", "command": "true", "executionMode": "BackgroundJob"}
    with server.client(people.carol) as api:
        schedule_id = api.post("/schedules", json=body).json()["scheduleId"]
    # As the firing loop records a refusal (tests/service/test_schedule_firing.py fires it).
    store = SqlStore.open(Settings(data_dir=server.data_dir).store_url, SystemClock())
    try:
        store.schedules.record_failure(schedule_id, time.time(), "Access denied: <b>no</b>")
    finally:
        store.close()
    sign_in(page, "carol")
    open_view(page, "Schedules")
    listed = page.locator("tr.schedule").filter(has_text=name)
    warning = listed.locator("td").nth(4).locator(".schedule-error")
    expect(warning).to_have_text(re.compile(r"^Last firing failed .+: Access denied: <b>no</b>$"))
    expect(warning.locator("time")).to_have_count(1)
    with server.client(people.carol) as api:  # carol's schedule list is empty for the others
        assert api.delete("/schedules", params={"scheduleId": schedule_id}).status_code == 200


def test_a_plain_user_schedules_a_template_with_its_variables(page: Page) -> None:
    sign_in(page, "erin")
    open_view(page, "Schedules")
    page.get_by_text("New schedule").click()
    form = page.locator("#schedule-form")
    expect(form.get_by_label("Template", exact=True)).to_be_visible()
    expect(page.locator("#schedule-kind")).to_be_hidden()  # no commands for her
    expect(page.locator("#schedule-command-fields")).to_be_hidden()
    name = unique("echo-hourly")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label(re.compile("^Cron")).fill("0 * * * *")
    form.get_by_label("Time zone", exact=True).fill("UTC")
    form.get_by_label("Template", exact=True).select_option("tools/echo")
    word = page.locator("#schedule-variables").get_by_label("word", exact=True)
    word.fill("Not Lower")
    form.get_by_role("button", name="Create schedule").click()
    expect(page.locator(f"#{word.get_attribute('id')}-error")).to_contain_text(
        "Invalid value for word"
    )
    word.fill("hourly")
    form.get_by_role("button", name="Create schedule").click()
    listed = page.locator("tr.schedule").filter(has_text=name)
    expect(listed).to_contain_text("template tools/echo")
    answer = page.request.get(BASE + "/schedules").json()
    assert [s["TemplateID"] for s in answer["schedules"] if s["Name"] == name] == ["tools/echo"]


def test_a_command_schedule_refused_by_the_server_shows_why_beside_the_field(page: Page) -> None:
    sign_in(page, "carol")
    open_view(page, "Schedules")
    page.get_by_text("New schedule").click()
    form = page.locator("#schedule-form")
    form.get_by_label("Name", exact=True).fill(unique("no-command"))
    form.get_by_label(re.compile("^Cron")).fill("0 * * * *")
    form.get_by_label("A command").check()
    form.get_by_role("button", name="Create schedule").click()
    expect(page.locator("#schedule-command-error")).to_contain_text("command")
    expect(page.locator("#schedule-command")).to_be_focused()
    expect(page.locator("tr.schedule")).to_have_count(0)


def test_switching_views_keeps_the_one_live_connection_and_a_reload_keeps_the_view(
    page: Page, server: Server, people: People
) -> None:
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket) if "/events" in socket.url else None)
    sign_in(page, "carol")
    for view in ("Catalog", "Schedules", "Jobs", "Schedules", "Catalog"):
        open_view(page, view)
    expect(page.locator("#catalog-view")).to_be_visible()
    expect(page.locator("#jobs-view")).to_be_hidden()
    expect(page).to_have_url(re.compile("#catalog$"))

    name = unique("still-live")
    with server.client(people.carol) as api:
        submit(api, name, "true")
    open_view(page, "Jobs")
    expect(row(page, "completed", name)).to_be_visible()
    assert len(sockets) == 1 and not sockets[0].is_closed()
    expect(page.locator("#connection")).to_have_text("Live")

    open_view(page, "Schedules")
    page.reload()
    expect(page.locator("#schedules-view")).to_be_visible()
    expect(page.get_by_role("link", name="Schedules")).to_have_attribute("aria-current", "page")
    page.go_back()  # history: the view before it, by its hash
    expect(page.locator("#jobs-view")).to_be_visible()
    assert PAGE in page.url


def test_the_catalog_and_schedules_views_fit_a_phone_screen(
    browser: Browser, server: Server, people: People
) -> None:
    schedule: dict[str, object] = {"name": unique("a-long-schedule-name"), "cron": "*/5 * * * 1-5"}
    schedule |= {"timezone": "America/Argentina/Buenos_Aires", "command": "true"}
    schedule |= {"jobName": "phone", "executionMode": "BackgroundJob", "enabled": False}
    with server.client(people.carol) as api:
        assert api.post("/schedules", json=schedule).status_code == 200
    phone = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    try:
        page = phone.new_page()
        sign_in(page, "carol")
        for view in ("Catalog", "Schedules"):
            open_view(page, view)
            if view == "Schedules":
                expect(page.locator("tr.schedule")).not_to_have_count(0)
                page.get_by_text("New schedule").click()
            expect(page.locator(f"#{view.lower()}-view")).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, view
    finally:
        phone.close()
