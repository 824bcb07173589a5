"""The console's "register a member" form on an association being liquidated comes back with
422. The reason, in Chinese with English beside, shows next to the form, every typed value is
kept, and nothing is written."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from gateway.liquidation import service as liquidation
from tests.api.conftest import Seeded
from tests.web.conftest import SignIn
from tests.web.test_console_entry_forms import (
    csrf_of,
    field_value,
    member_count,
    new_person,
    post_member,
)


def test_the_member_form_of_an_association_being_liquidated_says_why_it_is_refused(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    a = seeded.world.a.id
    with api_sessions() as session:
        liquidation.start(session, a, on=date(2024, 7, 1), reason="运转不畅", actor="县办")
        session.commit()
    client = browser("treasurer_a")
    page = client.get(f"/console/associations/{a}")
    assert page.status_code == 200, page.text
    before = member_count(api_sessions, a)
    person = new_person(21)

    refused = post_member(client, a, csrf_of(page.text), person)

    assert refused.status_code == 422, refused.text
    assert "撤销清算中，不再登记新会员" in refused.text
    assert "is being liquidated: it registers no new members" in refused.text
    assert field_value(refused.text, "m-member_no") == person["member_no"]
    assert member_count(api_sessions, a) == before
