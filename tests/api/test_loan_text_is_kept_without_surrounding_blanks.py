"""The text of a loan (contract number, purpose, a rejection's or cancellation's reason) is
kept without surrounding blanks and must hold something else: " A-1" is the contract "A-1"
(so it is refused beside it, not stored as a second one), and text of blanks only is refused
as empty, naming the field, with nothing written. The same guarantor given twice is refused
as the same person, not as the same household."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.loans.models import Loan, LoanStatus
from tests.api.conftest import ClientFor, Seeded


def application(seeded: Seeded, **given: Any) -> dict[str, Any]:
    members = seeded.world.members_a
    return {
        "contract_no": "TX-1",
        "member_id": members[0].id,
        "purpose": "养殖",
        "amount_fen": 100_000,
        "term_months": 6,
        "monthly_fee_rate_centipermille": 600,
        "applied_on": "2024-06-01",
        "guarantor_ids": [members[1].id, members[2].id],
    } | given


def loans_stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Loan)) or 0


def test_blank_text_on_an_application_is_refused_as_empty(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    before = loans_stored(api_sessions)
    for field in ("contract_no", "purpose"):
        refused = client_for("treasurer_a").post(url, json=application(seeded, **{field: " \t "}))
        assert refused.status_code == 422, refused.text
        assert f"body.{field} 不能为空" in refused.json()["message_zh"]
        assert f"body.{field}" in refused.json()["message_en"]
    assert loans_stored(api_sessions) == before


def test_a_contract_number_with_surrounding_blanks_is_the_same_contract(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    treasurer = client_for("treasurer_a")
    first = treasurer.post(url, json=application(seeded, contract_no=" A-1 ", purpose=" 种植 "))
    assert first.status_code == 201, first.text
    assert (first.json()["contract_no"], first.json()["purpose"]) == ("A-1", "种植")

    members = seeded.world.members_a
    again = treasurer.post(
        url,
        json=application(
            seeded,
            contract_no=" A-1",
            member_id=members[3].id,
            guarantor_ids=[members[4].id, members[5].id],
        ),
    )
    assert again.status_code == 409, again.text
    assert "借款合同号 A-1 已存在" in again.json()["message_zh"]
    with api_sessions() as session:
        assert list(session.scalars(select(Loan.contract_no))) == ["A-1"]


def test_a_blank_reason_to_reject_or_cancel_is_refused(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    treasurer = client_for("treasurer_a")
    applied = treasurer.post(
        f"/api/v1/associations/{seeded.world.a.id}/loans", json=application(seeded)
    )
    loan_id = applied.json()["id"]
    for step in ("reject", "cancel"):
        refused = treasurer.post(f"/api/v1/loans/{loan_id}/{step}", json={"reason": "   "})
        assert refused.status_code == 422, refused.text
        assert "body.reason 不能为空" in refused.json()["message_zh"]
    with api_sessions() as session:
        loan = session.get(Loan, loan_id)
        assert loan is not None
        assert loan.status is LoanStatus.APPLIED
    rejected = treasurer.post(f"/api/v1/loans/{loan_id}/reject", json={"reason": "  资料不全 "})
    assert rejected.status_code == 200, rejected.text
    with api_sessions() as session:
        assert session.scalar(select(Loan.closing_reason).where(Loan.id == loan_id)) == "资料不全"


def test_the_same_guarantor_twice_is_refused_as_the_same_person(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    members = seeded.world.members_a
    twice = members[1]
    refused = client_for("treasurer_a").post(
        f"/api/v1/associations/{seeded.world.a.id}/loans",
        json=application(seeded, guarantor_ids=[twice.id, twice.id]),
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "guarantor_twice"
    assert f"担保人 {twice.name} 填写了两次" in problem["message_zh"]
    assert "同户" not in problem["message_zh"]
    assert f"guarantor {twice.member_no} is given twice" in problem["message_en"]
