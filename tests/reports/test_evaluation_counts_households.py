"""Attachment 1 counts 农户 in 户: two members of one household who both joined and both
borrowed count as one member household and one borrowing household."""

from __future__ import annotations

import random
from datetime import date, timedelta

from gateway.loans import service as loans
from gateway.loans.models import LoanStatus
from gateway.loans.schemas import LoanApplication
from gateway.reports.figures import evaluate
from gateway.reports.tables import evaluation_rows
from tests.reports.county_seed import AS_OF, Seeded


def test_a_household_with_two_members_counts_once(seeded: Seeded) -> None:
    world, session = seeded.world, seeded.session
    before = evaluate(session, world.a.id, as_of=AS_OF)
    first = world.members_a[0]
    assert first.id in {loan.member_id for loan in before.loans}  # first borrowed already
    world.rng = random.Random(90)  # card and ID numbers the seeded members do not hold
    spouse = world.new_member(world.a, household_no=first.household_no, member_no="A-0901")
    spouse.joined_on = date(2024, 1, 2)
    in_arrears = {loan.member_id for loan in before.loans if loan.overdue_days is not None}
    guarantors = [m.id for m in world.members_a if m.id != first.id and m.id not in in_arrears][
        : world.county.guarantors_required
    ]
    applied = date(2024, 3, 1)
    loan = loans.apply(
        session,
        world.a.id,
        LoanApplication(
            contract_no="A-L90",
            member_id=spouse.id,
            purpose="养殖",
            amount_fen=100_000,
            term_months=12,
            monthly_fee_rate_centipermille=600,
            applied_on=applied,
            guarantor_ids=tuple(guarantors),
        ),
    )
    loans.start_notice(session, loan.id, on=applied)
    loans.council_approve(session, loan.id, on=applied + timedelta(days=8))
    loans.release_for_payment(session, loan.id, on=applied + timedelta(days=9))
    assert loans.mark_disbursed(session, loan.id, business_date=applied + timedelta(days=9))
    assert loan.status is LoanStatus.DISBURSED

    after = evaluate(session, world.a.id, as_of=AS_OF)

    assert (after.members, after.borrowers) == (before.members, before.borrowers)
    assert after.loans_issued.count == before.loans_issued.count + 1
    rows = {row.item.strip()[:3]: row for row in evaluation_rows(after)}
    assert (rows["1.7"].unit, rows["1.7"].content) == ("户", str(before.members))
    assert (rows["2.1"].unit, rows["2.1"].content) == ("户", str(before.borrowers))
