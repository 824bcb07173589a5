"""The "register a member" form in Chromium, from the keyboard only: a treasurer types into the
fields, moves with Tab and sends with Enter; a bad card comes back with the reason and the typed
values, the corrected form registers the member. A screenshot of the association page with its
forms is kept in ``test-artifacts/``."""

from __future__ import annotations

import random
from datetime import date

import pytest

from gateway.demo.generate import card_number, resident_id
from tests.api.conftest import PASSWORD, Seeded
from tests.web.test_console_in_chromium import (  # noqa: F401 - the live server fixture
    ARTIFACTS,
    CHROMIUM_ARGS,
    _chromium_path,
    live_server,
)

pytestmark = pytest.mark.chromium


def test_treasurer_registers_a_member_from_the_keyboard(live_server: str, seeded: Seeded) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    rng = random.Random(11)
    card = card_number(rng, "623199")
    wrong_card = card[:-1] + str((int(card[-1]) + 1) % 10)
    typed = [
        "K0001",
        "赵桂兰",
        resident_id(rng, "371321", (date(1970, 1, 1), date(1990, 1, 1))),
        wrong_card,
        "13812345678",
        "TC-1-H-K1",
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{live_server}/login?next=/console/associations/{seeded.world.a.id}")
            page.fill("#username", "treasurer_a")
            page.fill("#password", PASSWORD)
            page.keyboard.press("Enter")
            expect(page.locator("#register-h")).to_have_text("登记会员")
            page.screenshot(path=str(ARTIFACTS / "console-association-forms.png"))

            page.focus("#m-member_no")
            for n, text in enumerate(typed):
                if n:
                    page.keyboard.press("Tab")
                page.keyboard.type(text)
            assert page.evaluate("document.activeElement.id") == "m-household_no"
            page.keyboard.press("Enter")  # sends the form (joined on: today, entry grade)

            expect(page.locator("#m-errors")).to_contain_text("card_number")
            expect(page.locator("#m-card_number")).to_have_attribute("aria-invalid", "true")
            expect(page.locator("#m-card_number")).to_have_value(wrong_card)
            expect(page.locator("#m-name")).to_have_value("赵桂兰")
            expect(page.locator("#m-household_no")).to_have_value("TC-1-H-K1")

            page.focus("#m-card_number")
            page.keyboard.press("Control+A")
            page.keyboard.type(card)
            page.keyboard.press("Enter")
            expect(page.locator("#notice")).to_have_text("已登记会员 赵桂兰（编号 K0001）")
            expect(page.locator("body")).to_contain_text(card[-4:])
            context.close()
        finally:
            browser.close()
