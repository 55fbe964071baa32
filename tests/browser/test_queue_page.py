"""The page's queue control: Run again, why a job is pending, and the submit form's new fields."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, insert

from jobhost.models import JobSpec, Mode
from jobhost.store.rows import job_values
from jobhost.store.schema import jobs
from tests.browser.conftest import PAGE, People, sign_in
from tests.browser.test_page import button, row, submit, unique
from tests.integration.server import Server, wait_finished


def add_pending_row(db_path: Path, status: str, reason: str, **spec: object) -> str:
    """A Waiting or Scheduled job of carol's written straight into the store, as the
    dispatcher would leave it (nothing here dispatches those statuses)."""
    job_id = str(uuid.uuid4())
    values = job_values(JobSpec(mode=Mode.BACKGROUND_JOB, command="true", **spec))  # type: ignore[arg-type]
    values |= {
        "job_id": job_id,
        "user_id": "carol",
        "status": status,
        "submitted_at": time.time(),
        "pending_reason": reason,
    }
    engine = create_engine(f"sqlite:///{db_path}", connect_args={"timeout": 30})
    try:
        with engine.begin() as conn:
            conn.execute(insert(jobs), [values])
    finally:
        engine.dispose()
    return job_id


def test_run_again_submits_a_finished_job_anew_and_shows_the_new_job(
    page: Page, server: Server, people: People
) -> None:
    name = unique("again")
    with server.client(people.carol) as api:
        old = submit(api, name, "echo round; exit 3")
        wait_finished(api, old)
        sign_in(page, "carol")
        finished = row(page, "completed", name)
        expect(finished.locator(".status-badge")).to_have_text("Failed")
        button(finished, "Run again").click()

        dialog = page.locator("#output-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#output-job-name")).to_have_text(name)
        expect(page.locator("#output-job-id")).not_to_have_text(old)
        new = page.locator("#output-job-id").inner_text()
        expect(page.locator("#output-details")).to_contain_text(f"Rerun of{old}")
        expect(page.locator("#output-text")).to_have_text("round\n", timeout=15_000)
        assert api.get("/jobs", params={"jobId": new}).json()["job"]["RerunOf"] == old
        page.locator("#output-close").click()

        expect(row(page, "completed", name)).to_have_count(2, timeout=15_000)
        rerun = page.locator(f"#job-{new}")
        expect(rerun.locator(".job-meta")).to_contain_text(f"Rerun of{old[:8]}")
        expect(rerun.get_by_role("link", name=f"Job {old}")).to_have_attribute(
            "href", f"#job-{old}"
        )


def test_the_job_dialog_shows_what_a_finished_job_used(
    page: Page, server: Server, people: People
) -> None:
    name = unique("used")
    with server.client(people.carol) as api:
        job_id = submit(api, name, "python3 -c 'x = b\"x\" * 50_000_000'")
        job = wait_finished(api, job_id)
    sign_in(page, "carol")
    button(row(page, "completed", name), "View details").click()
    mib = job["MaxRssBytes"] / (1 << 20)
    expected = f"Resourcescpu {job['CpuSeconds']:.2f} s, max RSS {mib:.1f} MiB"
    expect(page.locator("#output-details")).to_contain_text(expected)
    assert mib >= 38


def test_run_again_is_offered_only_to_who_may_submit(
    page: Page, server: Server, people: People
) -> None:
    name = unique("root-only")
    with server.client(people.root) as api:
        wait_finished(api, submit(api, name, "print('x')", mode="MainLoop"))
    sign_in(page, "carol")
    page.locator("#all-users").check()
    mainloop = row(page, "completed", name)
    expect(mainloop.locator(".status-badge")).to_have_text("Completed")
    # carol (task_manager, no debug) may see root's MainLoop job but not submit one.
    expect(mainloop.get_by_role("button", name="View details: " + name)).to_be_visible()
    expect(mainloop.get_by_role("button", name="Run again: " + name)).to_have_count(0)


def test_waiting_and_scheduled_jobs_show_why_and_link_their_dependencies(
    page: Page, server: Server, people: People
) -> None:
    db = server.data_dir / "jobhost.db"
    with server.client(people.carol) as api:
        dependency_name = unique("first")
        dependency = submit(api, dependency_name, "sleep 30")
        waiting_name = unique("second")
        waiting = add_pending_row(
            db,
            "Waiting",
            f"waiting for {dependency}",
            name=waiting_name,
            depends_on=(dependency,),
        )
        scheduled_name = unique("later")
        add_pending_row(
            db,
            "Scheduled",
            "scheduled for 2030-01-02T03:04:00.000Z",
            name=scheduled_name,
            run_at=1_893_553_440.0,
        )
        try:
            sign_in(page, "carol")
            waits = row(page, "pending", waiting_name)
            expect(waits.locator(".status-badge")).to_have_text("Waiting")
            expect(waits.locator(".job-reason")).to_have_text(f"waiting for {dependency}")
            link = waits.get_by_role("link", name=f"Job {dependency}")
            expect(link).to_have_text(dependency[:8])

            later = row(page, "pending", scheduled_name)
            expect(later.locator(".status-badge")).to_have_text("Scheduled")
            expect(later.locator(".job-reason")).to_have_text(
                "scheduled for 2030-01-02T03:04:00.000Z"
            )
            expect(later.locator("time[datetime='2030-01-02T03:04:00.000Z']")).to_be_visible()

            link.click()
            expect(page.locator("#output-dialog")).to_be_visible()
            expect(page.locator("#output-job-id")).to_have_text(dependency)
            expect(page.locator("#output-job-name")).to_have_text(dependency_name)
        finally:
            api.delete("/jobs", params={"jobId": dependency})
            api.delete("/jobs", params={"jobId": waiting})


def test_the_submit_form_sends_priority_dependencies_and_a_run_at_time_in_utc(
    browser: Browser, server: Server, people: People
) -> None:
    context = browser.new_context(base_url=server.url, timezone_id="Europe/Berlin")
    page = context.new_page()
    try:
        with server.client(people.carol) as api:
            first = unique("upstream")
            upstream = submit(api, first, "echo up")
            wait_finished(api, upstream)
            sign_in(page, "carol")
            page.get_by_text("Submit a job").click()
            name = unique("queued")
            page.locator("#submit-form").get_by_label("Name", exact=True).fill(name)
            page.locator("#submit-form").get_by_label("Command").fill("echo down")
            page.locator("#submit-form").get_by_label("Priority").fill("7")
            page.locator("#submit-form").get_by_label("Depends on").select_option(upstream)
            page.locator("#submit-form").get_by_label("Run at").fill(
                "2030-07-01T12:30"
            )  # CEST: UTC+2
            page.get_by_role("button", name="Submit", exact=True).click()
            expect(page.locator("#notice")).to_have_text(f"Submitted: {name}")
            expect(page.locator("#submit-form").get_by_label("Priority")).to_have_value("0")

            listed = api.get("/jobs").json()["jobs"]
            record = next(
                job for section in listed.values() for job in section if job["JobName"] == name
            )
            assert record["Priority"] == 7
            assert record["DependsOn"] == [upstream]
            assert record["RunAt"] == "2030-07-01T10:30:00.000Z"
            api.delete("/jobs", params={"jobId": record["JobID"]})

            page.locator("#submit-form").get_by_label("Name", exact=True).fill(name)
            page.locator("#submit-form").get_by_label("Command").fill("echo down")
            page.locator("#submit-form").get_by_label("Priority").fill("500")
            page.get_by_role("button", name="Submit", exact=True).click()
            expect(page.locator("#submit-error")).to_have_text(
                "Priority must be a whole number from -100 to 100."
            )
    finally:
        context.close()


def test_output_and_reasons_are_text_never_markup(
    page: Page, server: Server, people: People
) -> None:
    marker = "<img src=x onerror=window.pwned=1>"
    add_pending_row(
        server.data_dir / "jobhost.db", "Waiting", f"waiting for {marker}", name=unique("hostile")
    )
    sign_in(page, "carol")
    expect(page.locator(".job-reason").filter(has_text=marker)).to_have_count(1)
    assert page.locator("#pending img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert json.dumps(page.url).startswith('"' + server.url + PAGE)
