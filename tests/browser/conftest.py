"""Playwright driving Debian's Chromium against a real ``jobhost serve``.

One server and one browser serve the whole module; each test gets a fresh browser context
(its own cookie jar), so sessions never leak from one test into the next.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.integration.server import Server, create_key, free_port, kill_jobs_under, run_cli

CHROMIUM = Path("/usr/bin/chromium")
PAGE = "/apps/WebHostTaskManagement/"
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"


@dataclass(frozen=True)
class People:
    """API keys of the users the tests sign in as, all with the password PASSWORD."""

    carol: str  # task_manager
    root: str  # system_admin + debug; also the other user whose jobs carol must never see
    # and erin, with no stored roles, who only signs in (so needs no key)


def add_person(data_dir: Path, name: str, *roles: str) -> None:
    """A user with the password PASSWORD, made with the CLI."""
    role_args = [arg for role in roles for arg in ("--role", role)]
    added = run_cli(data_dir, "user", "add", name, *role_args, "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr


def add_people(data_dir: Path) -> People:
    add_person(data_dir, "carol", "task_manager")
    add_person(data_dir, "root", "system_admin", "debug")
    add_person(data_dir, "erin")
    return People(carol=create_key(data_dir, "carol"), root=create_key(data_dir, "root"))


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-server")


@pytest.fixture(scope="module")
def running(server_dir: Path) -> Iterator[tuple[Server, People]]:
    """The server and its people; the server starts while the CLI makes the people."""
    srv = Server(server_dir, free_port(), {"JOBHOST_STOP_GRACE_SECONDS": "2"})
    run_cli(server_dir, "user", "list")  # creates the store before the two run side by side
    try:
        with ThreadPoolExecutor(1) as pool:
            started = pool.submit(srv.start)
            people = add_people(server_dir)
            started.result()
        yield srv, people
    finally:
        srv.stop()
        kill_jobs_under(server_dir)


@pytest.fixture(scope="module")
def server(running: tuple[Server, People]) -> Server:
    return running[0]


@pytest.fixture(scope="module")
def people(running: tuple[Server, People]) -> People:
    return running[1]


# Module scope, not session: Playwright's sync API keeps an event loop running on this thread
# while it is open, and other tests' asyncio.run() refuses to start inside one.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (CI installs the Debian package chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1200, "height": 800})
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on an uncaught script error or a blocked resource (CSP)."""
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield tab
    assert problems == []


def sign_in(page: Page, name: str) -> None:
    """Open the page and sign in through its form; waits until the listing has loaded."""
    page.goto(PAGE)
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user-name")).to_have_text(name)
    expect(page.locator("#connection")).to_have_text("Live")


def record_dialogs(page: Page) -> list[str]:
    """The messages of the alerts (and other dialogs) the page opens from now on, each
    dismissed: a script injected through data would show up here."""
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return dialogs


def screenshot(page: Page, name: str, full_page: bool = False) -> None:
    """Kept under docs/images only when JOBHOST_SCREENSHOTS=1 (they are tracked files)."""
    if os.environ.get("JOBHOST_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)
