"""``/api/v1/special-accounts/{id}/auto-postings`` and ``/api/v1/auto-postings/{id}/undo``: the
county fund office lists what the reconciler booked without a person and undoes one; the
journal transaction is reversed, the bank line is open again, and undoing twice is refused."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.reconcile.models import AutoPosting, OpenItem
from tests.api.conftest import FEE_FEN, ClientFor, Seeded, book_fee_automatically


def test_the_office_lists_and_undoes_an_automatic_posting(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    auto_id, account_id = book_fee_automatically(api_sessions, seeded)
    officer = client_for("officer")
    listed = officer.get(f"/api/v1/special-accounts/{account_id}/auto-postings")
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert (item["id"], item["kind"], item["amount_fen"], item["line_ids"]) == (
        auto_id,
        "bank_fee",
        FEE_FEN,
        ["STMT-FEE:1"],
    )
    assert item["undone_at"] is None

    blank = officer.post(f"/api/v1/auto-postings/{auto_id}/undo", json={"reason": ""})
    assert blank.status_code == 422  # a reason is required

    undone = officer.post(
        f"/api/v1/auto-postings/{auto_id}/undo",
        json={"reason": "该笔为短信费，应由协会自付", "on": "2024-06-28"},
    )
    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert body["undo_reason"] == "该笔为短信费，应由协会自付"
    assert body["reversal_transaction_id"] is not None
    with api_sessions() as session:
        a = seeded.world.a.id
        assert ledger.balance(session, a, AccountCode.EXPENSE_OTHER) == 0  # reversed
        reversal = session.get(JournalTransaction, uuid.UUID(body["reversal_transaction_id"]))
        assert reversal is not None
        assert reversal.reversal_of == session.get(AutoPosting, auto_id).journal_transaction_id  # type: ignore[union-attr]
        assert session.scalars(select(OpenItem.item_id)).all() == ["STMT-FEE:1"]

    again = officer.post(f"/api/v1/auto-postings/{auto_id}/undo", json={"reason": "再次"})
    assert again.status_code == 409
    standing = officer.get(
        f"/api/v1/special-accounts/{account_id}/auto-postings", params={"undone": "false"}
    )
    assert standing.json()["items"] == []
