"""An association being liquidated is offered neither the "register a member" nor the loan
form on its console page; the page says why instead. An active association next to it keeps
both."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from gateway.liquidation import service as liquidation
from tests.api.conftest import Seeded
from tests.web.conftest import SignIn


def test_the_page_of_an_association_being_liquidated_offers_no_entry_forms_and_says_why(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    a = seeded.world.a.id
    client = browser("treasurer_a")
    before = client.get(f"/console/associations/{a}")
    assert 'id="member-form"' in before.text
    assert 'id="loan-form"' in before.text
    assert "withheld-" not in before.text
    with api_sessions() as session:
        liquidation.start(session, a, on=date(2024, 7, 1), reason="运转不畅", actor="县办")
        session.commit()

    page = client.get(f"/console/associations/{a}")

    assert page.status_code == 200, page.text
    assert 'id="member-form"' not in page.text
    assert 'id="loan-form"' not in page.text
    assert "不再登记新会员" in page.text
    assert "不受理借款申请" in page.text
