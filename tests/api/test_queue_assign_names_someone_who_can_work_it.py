"""``POST /api/v1/queue-items/{id}/assign``: the assignee is someone who can work the item;
anyone else is refused (422) naming them and why, and the item keeps its assignee."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from gateway.queue.models import QueueItem
from tests.api.conftest import ClientFor, Seeded, file_village_cash


def test_an_item_is_assigned_only_to_someone_who_can_work_it(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        item_id = file_village_cash(session, session.merge(seeded.world.a), tag="assign")
        session.commit()
    client = client_for("officer")
    url = f"/api/v1/queue-items/{item_id}/assign"
    for who, code in (
        ("nobody-here", "assignee_unknown"),
        ("officer_other", "assignee_unknown"),  # another county's: not disclosed
        ("treasurer_a", "assignee_cannot_work_queue"),
        ("bank_op", "assignee_cannot_work_queue"),
        ("auditor", "assignee_cannot_work_queue"),
    ):
        refused = client.post(url, json={"assignee": who})
        assert refused.status_code == 422, (who, refused.text)
        assert refused.json()["code"] == code, who
        assert who in refused.json()["message_zh"]
        assert who in refused.json()["message_en"]
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert item.assignee is None
    assigned = client.post(url, json={"assignee": "reviewer", "priority": 8})
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["assignee"], assigned.json()["priority"]) == ("reviewer", 8)
