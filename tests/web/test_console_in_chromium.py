"""The console in a real browser (Debian's Chromium driven by Playwright) against the app
served by uvicorn on a loopback port: a county reviewer resolves a village-cash item with a
justification and sees it leave the queue and enter the audit log; a treasurer cannot open
another association's page. Screenshots of the dashboard and the queue are kept in
``test-artifacts/``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from tests.api.conftest import PASSWORD, Seeded

pytestmark = pytest.mark.chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path() -> str:
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    pytest.fail("Chromium is not installed", pytrace=False)


@pytest.fixture
def live_server(console_app: FastAPI) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(console_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_reviewer_resolves_village_cash_and_treasurer_is_kept_out(
    live_server: str, booked_cash_items: dict[str, int], seeded: Seeded
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    item = booked_cash_items["a"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
        try:
            reviewer = browser.new_context(viewport={"width": 1366, "height": 768})
            page = reviewer.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{live_server}/console")
            expect(page).to_have_url(f"{live_server}/login?next=/console")
            page.fill("#username", "reviewer")
            page.fill("#password", PASSWORD)
            page.keyboard.press("Enter")  # the form works from the keyboard
            expect(page.locator("h1")).to_have_text("总览")
            expect(page.locator("svg.chart").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "console-dashboard.png"), full_page=True)

            page.click("nav >> text=差异队列")
            expect(page.locator(f'a[href="/console/queue/{item}"]')).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True)

            page.keyboard.press("j")  # keyboard moves through the work list
            focused = page.evaluate("document.activeElement.getAttribute('href')")
            assert focused is not None
            assert focused.startswith("/console/queue/")
            page.click(f'a[href="/console/queue/{item}"]')
            expect(page.locator("#bank-lines")).to_contain_text("柜台现金存款")
            expect(page.locator("#bank-lines")).to_contain_text("+5,000.00")
            page.check('input[name="action"][value="dismiss"]')
            page.fill("#note", "经核实为会计误存现金，已退回并整改")
            dialogs: list[str] = []

            def accept(dialog: object) -> None:
                dialogs.append(getattr(dialog, "message", ""))
                dialog.accept()  # type: ignore[attr-defined]

            page.on("dialog", accept)
            page.click("#resolve-submit")
            expect(page.locator("#done-notice")).to_be_visible()
            assert dialogs, "the resolution asked for confirmation"
            expect(page.locator(f'a[href="/console/queue/{item}"]')).to_have_count(0)
            expect(
                page.locator(f'a[href="/console/queue/{booked_cash_items["b"]}"]')
            ).to_have_count(1)

            page.click("nav >> text=审计日志")
            dismissed = page.locator('#audit-log td[data-action="queue.dismissed"]')
            expect(dismissed.first).to_have_text("说明理由后驳回")
            expect(page.locator("#audit-log")).to_contain_text("经核实为会计误存现金")
            expect(page.locator("#audit-log")).not_to_contain_text("user:reviewer")
            reviewer.close()

            treasurer = browser.new_context(viewport={"width": 1366, "height": 768})
            page = treasurer.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{live_server}/login")
            page.fill("#username", "treasurer_a")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("总览")
            own = page.goto(f"{live_server}/console/associations/{seeded.world.a.id}")
            assert own is not None
            assert own.status == 200
            other = page.goto(f"{live_server}/console/associations/{seeded.world.b.id}")
            assert other is not None
            assert other.status == 404
            expect(page.locator("#problem")).to_have_attribute("data-code", "not_found")
            expect(page.locator("body")).not_to_contain_text(seeded.world.members_b[0].name)
            treasurer.close()
        finally:
            browser.close()
