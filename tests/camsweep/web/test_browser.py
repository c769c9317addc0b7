"""The dashboard driven in headless Chromium (Debian's package) as its users would.

Playwright drives /usr/bin/chromium; no browser is ever downloaded.  The
background-networking flags keep Chromium from phoning home (this machine's
network refuses it, and a scanner's dashboard has no business doing so).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.repository import Inventory
from tests.camsweep.web.conftest import PASSWORDS, LiveServer
from tests.helpers import REPO_ROOT

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_TIMEOUT_MS = 30_000
SCREENSHOT = REPO_ROOT / "docs" / "screenshot-inventory.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_sync.Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/debian-packages.txt)")
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=BROWSER_TIMEOUT_MS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: playwright_sync.Browser, sqlite_server: LiveServer) -> Iterator[playwright_sync.Page]:
    context = browser.new_context(
        base_url=sqlite_server.url, viewport={"width": 1360, "height": 640}, accept_downloads=True
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: playwright_sync.Page, name: str) -> None:
    page.goto("/")
    assert "/login" in page.url  # a stranger is sent to the login form first
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name="Inventory").is_visible()


def inventory_ips(page: playwright_sync.Page) -> list[str]:
    return page.locator("table.devices tbody tr td:first-child a").all_inner_texts()


def test_an_officer_filters_to_dahua_opens_a_device_annotates_and_exports(
    page: playwright_sync.Page, sqlite_server: LiveServer, tmp_path: Path
) -> None:
    log_in(page, "olivia")
    assert inventory_ips(page) == ["10.20.0.11", "10.20.0.12", "10.20.0.21", "10.20.0.30"]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Filter to Dahua-made devices: the Amcrest is one, whatever the box says.
    page.get_by_label("manufacturer").fill("Dahua")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**manufacturer=Dahua**")
    assert inventory_ips(page) == ["10.20.0.21"]
    assert page.locator("table.devices tbody tr").first.inner_text().count("Amcrest") == 1

    # Export what the filter shows, as a file, in CSV and JSON.
    with page.expect_download() as dl:
        page.get_by_role("link", name="CSV").click()
    csv_path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(csv_path)
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert [(r["ip"], r["brand"], r["manufacturer"], r["policy_flags"]) for r in rows] == [
        ("10.20.0.21", "Amcrest", "Dahua", "NDAA-889")
    ]
    with page.expect_download() as dl:
        page.get_by_role("link", name="JSON").click()
    assert dl.value.suggested_filename.endswith(".json")
    records = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert [(r["ip"], r["manufacturer"]) for r in records] == [("10.20.0.21", "Dahua")]

    # Open the device: its identification and the evidence behind it.
    page.get_by_role("link", name="10.20.0.21").click()
    page.wait_for_url(f"**/devices/{sqlite_server.ids['amcrest']}")
    assert page.locator("dd.manufacturer").inner_text() == "Dahua"
    assert page.get_by_text("Login to 9C0A2B3D4E5F", exact=True).is_visible()

    page.get_by_label("Add a note").fill("Replace before the survey return; ticket CHG-1042")
    page.get_by_role("button", name="Annotate").click()
    assert page.locator("ul.annotations .note").all_inner_texts() == [
        "Replace before the survey return; ticket CHG-1042"
    ]
    history = page.locator("#history tbody").inner_text()
    assert "olivia" in history and "annotate" in history

    inv = Inventory(sqlite_server.db_url)
    try:
        assert [(a.actor, a.detail["format"]) for a in inv.actions("export")] == [
            ("olivia", "csv"),
            ("olivia", "json"),
        ]
        assert [a.actor for a in inv.actions("annotate")] == ["olivia"]
    finally:
        inv.close()


def test_an_auditor_sees_no_annotate_control_and_a_forged_post_is_refused(
    page: playwright_sync.Page, sqlite_server: LiveServer
) -> None:
    log_in(page, "audrey")
    device = sqlite_server.ids["amcrest"]
    page.goto(f"/devices/{device}")
    assert page.locator("dd.manufacturer").inner_text() == "Dahua"
    assert page.get_by_role("button", name="Annotate").count() == 0
    assert page.locator("textarea").count() == 0
    # Forge the annotate POST with the auditor's own session and a valid CSRF token.
    token = page.locator('form[action="/logout"] input[name="csrf_token"]').get_attribute("value")
    assert token
    forged = page.request.post(f"/devices/{device}/annotations", form={"text": "forged", "csrf_token": token})
    assert forged.status == 403
    page.reload()
    assert "forged" not in page.content()
    # An auditor reads the audit log, with its own login in it.
    page.get_by_role("link", name="Audit log").click()
    assert "audrey" in page.locator("table.audit").inner_text()


def test_a_stranger_sees_nothing(page: playwright_sync.Page, sqlite_server: LiveServer) -> None:
    page.goto(f"/devices/{sqlite_server.ids['amcrest']}")
    assert "/login" in page.url
    assert page.get_by_role("heading", name="Log in").is_visible()
    assert "10.20.0" not in page.content() and "Dahua" not in page.content()
    api = page.request.get("/api/devices")
    assert api.status == 401
    assert "10.20.0" not in api.text()
