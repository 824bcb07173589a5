"""``GET /api/v1/queue-items``: the kind filter names an exception kind; a kind that does not
exist is refused with the ones that do, not answered with an empty list that looks like a
clean queue."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests.api.conftest import ClientFor, Seeded, file_village_cash


def test_the_kind_filter_lists_that_kind_and_refuses_an_unknown_one(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        item_id = file_village_cash(session, session.merge(seeded.world.a), tag="filter")
        session.commit()
    client = client_for("officer")
    cash = client.get("/api/v1/queue-items", params={"kind": "village_cash"})
    assert cash.status_code == 200, cash.text
    assert [i["id"] for i in cash.json()["items"]] == [item_id]
    none = client.get("/api/v1/queue-items", params={"kind": "duplicate"})
    assert none.json()["items"] == []

    unknown = client.get("/api/v1/queue-items", params={"kind": "cash"})
    assert unknown.status_code == 422
    assert "village_cash" in unknown.text
