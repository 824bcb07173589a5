"""Registering a member over the API in an association being liquidated is refused with 422,
the code ``association_liquidating`` and the reason in Chinese and English. No member is
written and no audit event is recorded."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from gateway.liquidation import service as liquidation
from tests.api.conftest import ClientFor, Seeded
from tests.api.test_new_member_starts_at_the_entry_grade import counts, person


def test_registering_a_member_of_an_association_being_liquidated_is_refused(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        liquidation.start(
            session, seeded.world.a.id, on=date(2024, 7, 1), reason="运转不畅", actor="县办"
        )
        session.commit()
    before = counts(api_sessions)

    refused = client_for("treasurer_a").post(
        f"/api/v1/associations/{seeded.world.a.id}/members", json=person(11)
    )

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "association_liquidating"
    assert "撤销清算中，不再登记新会员" in problem["message_zh"]
    assert "is being liquidated: it registers no new members" in problem["message_en"]
    assert counts(api_sessions) == before
