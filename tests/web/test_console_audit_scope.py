"""The console's audit page shows a county reviewer nothing of another county."""

from __future__ import annotations

from tests.api.conftest import Seeded
from tests.web.conftest import SignIn


def test_the_console_audit_page_keeps_to_the_readers_county(
    browser: SignIn, seeded: Seeded
) -> None:
    page = browser("reviewer").get("/console/audit")
    assert page.status_code == 200
    assert "county.create" in page.text
    assert "邻县" not in page.text  # the other county's name, code and users
    assert "officer_other" not in page.text
    assert '<span data-key="username">username: reviewer</span>' in page.text
    assert "username: admin<" not in page.text
