"""Deciding a write-off request through the API: ``POST /api/v1/queue-items/{id}/resolve``
with ``write_off`` asks for it, ``POST /api/v1/queue-items/{id}/review`` decides it. The
requester's own decision is refused as problem+json; another county user's approval books it
against 呆坏账核销; a rejection needs a reason and leaves the item open again."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.models import AuditEvent
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.org.models import Association
from gateway.queue.models import QueueItem
from reconciliation.findings import ExceptionKind
from tests.api.conftest import ClientFor, Seeded, file_open_line

TAKEN_FEN = 45_000


def file_withdrawal(sessions: sessionmaker[Session], association_id: int) -> int:
    """450 yuan taken from the association's sub-account to a stranger, filed by the nightly
    queue service as an unmatched bank line. Returns the item id."""
    with sessions() as session:
        association = session.get(Association, association_id)
        assert association is not None
        item_id = file_open_line(
            session,
            association,
            ExceptionKind.UNMATCHED_BANK,
            {
                "line_id": "STMT-WO:1",
                "credit": False,
                "amount_fen": TAKEN_FEN,
                "channel": "transfer",
                "counterparty_account": "6230000011112222",
                "counterparty_name": "未知",
                "remittance": "转账",
            },
        )
        session.commit()
        return item_id


def request_write_off(client_for: ClientFor, item_id: int) -> None:
    asked = client_for("officer").post(
        f"/api/v1/queue-items/{item_id}/resolve",
        json={"action": "write_off", "note": "冒名转出，无法追回"},
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "write_off_review"


def test_the_requester_is_refused_and_the_reviewer_books_the_write_off(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    a = seeded.world.a.id
    item_id = file_withdrawal(api_sessions, a)
    request_write_off(client_for, item_id)

    own = client_for("officer").post(
        f"/api/v1/queue-items/{item_id}/review", json={"approve": True, "on": "2024-06-28"}
    )
    assert own.status_code == 422
    assert own.headers["content-type"].startswith("application/problem+json")
    assert own.json()["code"] == "second_person_required"

    approved = client_for("reviewer").post(
        f"/api/v1/queue-items/{item_id}/review", json={"approve": True, "on": "2024-06-28"}
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["resolution"], body["resolved_by"], body["approved_by"]) == (
        "resolved",
        "write_off",
        "user:officer",
        "user:reviewer",
    )
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        posted = session.get(JournalTransaction, item.journal_transaction_id)
        assert posted is not None
        assert (posted.kind, posted.total_fen, posted.business_date) == (
            "write_off",
            TAKEN_FEN,
            date(2024, 6, 28),
        )
        assert ledger.balance(session, a, AccountCode.WRITE_OFF) == TAKEN_FEN
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "queue_item", AuditEvent.object_id == str(item_id)
            )
        ).all()
    assert actions == ["queue.write_off_requested", "queue.write_off_approved"]

    shown = client_for("auditor").get(f"/api/v1/queue-items/{item_id}").json()
    assert [h["action"] for h in shown["history"]] == [
        "raised",
        "write_off_requested",
        "write_off_approved",
    ]


def test_a_rejection_needs_a_reason_and_reopens_the_item(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    item_id = file_withdrawal(api_sessions, seeded.world.a.id)
    request_write_off(client_for, item_id)
    url = f"/api/v1/queue-items/{item_id}/review"

    bare = client_for("reviewer").post(url, json={"approve": False})
    assert bare.status_code == 422
    assert bare.headers["content-type"].startswith("application/problem+json")

    returned = client_for("reviewer").post(
        url, json={"approve": False, "note": "先向银行追索，暂不核销"}
    )
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["resolution"]) == ("open", None)
    shown = client_for("officer").get(f"/api/v1/queue-items/{item_id}").json()
    last = shown["history"][-1]
    assert (last["action"], last["actor"], last["note"]) == (
        "write_off_rejected",
        "user:reviewer",
        "先向银行追索，暂不核销",
    )
    with api_sessions() as session:
        assert ledger.balance(session, seeded.world.a.id, AccountCode.WRITE_OFF) == 0

    # an open item has nothing to review
    again = client_for("reviewer").post(url, json={"approve": True})
    assert again.status_code == 409
    assert again.json()["code"] == "queue_item_state"
