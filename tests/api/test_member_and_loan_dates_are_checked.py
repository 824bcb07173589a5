"""A member cannot join before the association was founded or after today, and a loan cannot
be applied for before the association was founded, nor before its borrower or a guarantor
joined: such a date is refused, naming the field or the day, and nothing is written (the
association of the test county was founded on 2020-01-01)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import RuleViolation
from gateway.loans import service as loans
from gateway.loans.schemas import LoanApplication
from gateway.members.models import Member
from tests.api.conftest import ClientFor, Seeded
from tests.api.test_new_member_starts_at_the_entry_grade import counts, person


@pytest.mark.parametrize(
    ("joined_on", "reason"),
    [
        ("2999-01-01", "入会日期晚于今天"),
        ("1900-01-01", "入会日期早于协会成立日期 2020-01-01"),
    ],
)
def test_a_join_date_the_association_cannot_hold_is_refused(
    client_for: ClientFor,
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
    joined_on: str,
    reason: str,
) -> None:
    before = counts(api_sessions)
    refused = client_for("treasurer_a").post(
        f"/api/v1/associations/{seeded.world.a.id}/members",
        json=person(7) | {"joined_on": joined_on},
    )
    assert refused.status_code == 422, refused.text
    assert f"joined_on='{joined_on}' {reason}" in refused.json()["message_zh"]
    assert counts(api_sessions) == before


def test_a_loan_applied_for_before_the_association_was_founded_is_refused(
    seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    world = seeded.world
    with api_sessions() as session:
        borrower, *others = world.members_a
        with pytest.raises(RuleViolation) as refused:
            loans.apply(
                session,
                world.a.id,
                LoanApplication(
                    contract_no="OLD-1900",
                    member_id=borrower.id,
                    purpose="养殖",
                    amount_fen=100_000,
                    term_months=6,
                    monthly_fee_rate_centipermille=600,
                    applied_on=date(1900, 1, 1),
                    guarantor_ids=tuple(m.id for m in others[: world.county.guarantors_required]),
                ),
            )
    assert refused.value.code == "date_before_founding"
    assert "早于协会成立日期 2020-01-01" in refused.value.message_zh


def test_a_loan_applied_for_before_the_borrower_joined_is_refused(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    world = seeded.world
    borrower, *others = world.members_a
    joined = borrower.joined_on.isoformat()
    before = counts(api_sessions)
    refused = client_for("treasurer_a").post(
        f"/api/v1/associations/{world.a.id}/loans",
        json={
            "contract_no": "EARLY-1",
            "member_id": borrower.id,
            "purpose": "养殖",
            "amount_fen": 100_000,
            "term_months": 6,
            "monthly_fee_rate_centipermille": 600,
            "applied_on": "2021-01-01",
            "guarantor_ids": [m.id for m in others[: world.county.guarantors_required]],
        },
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "date_before_joining"
    assert (
        f"申请日期 2021-01-01 早于借款人 {borrower.name} 的入会日期 {joined}"
        in (problem["message_zh"])
    )
    assert f"before the borrower {borrower.member_no} joined, {joined}" in problem["message_en"]
    assert counts(api_sessions) == before


def test_a_loan_applied_for_before_a_guarantor_joined_is_refused(
    seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    world = seeded.world
    with api_sessions() as session:
        borrower, late, other = world.members_a[:3]
        earlier = session.get(Member, borrower.id)
        assert earlier is not None
        earlier.joined_on = date(2021, 1, 1)  # the borrower was a member by then; one guarantor not
        with pytest.raises(RuleViolation) as refused:
            loans.apply(
                session,
                world.a.id,
                LoanApplication(
                    contract_no="EARLY-2",
                    member_id=borrower.id,
                    purpose="养殖",
                    amount_fen=100_000,
                    term_months=6,
                    monthly_fee_rate_centipermille=600,
                    applied_on=date(2022, 1, 1),
                    guarantor_ids=(late.id, other.id),
                ),
            )
    assert refused.value.code == "date_before_joining"
    assert f"早于担保人 {late.name} 的入会日期 {late.joined_on.isoformat()}" in (
        refused.value.message_zh
    )
