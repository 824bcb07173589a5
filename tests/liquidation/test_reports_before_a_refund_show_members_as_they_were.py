"""Reports for a day before an association's liquidation refunded its members show the members
and their deposits as they were on that day (the evaluation's figures are "截止到" the period's
end, 温扶办〔2016〕4号): 1.7's households still count the members refunded later, and 附件2's
入会互助金 is what the borrower had paid in by then, not the 0.00 left after the refund."""

from __future__ import annotations

from datetime import date

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel
from gateway.loans import service as loans
from gateway.members.models import MemberStatus
from gateway.reports.figures import evaluate
from gateway.reports.tables import loan_detail
from gateway.testing import World

PAID_IN = date(2024, 3, 1)
LENT = date(2024, 4, 1)
MONTH_END = date(2024, 4, 30)
WOUND_UP = date(2024, 6, 3)


def test_a_report_for_a_day_before_the_refunds_shows_members_and_deposits_of_that_day(
    small_world: World,
) -> None:
    world, session = small_world, small_world.session
    a = world.a.id
    borrower, other = world.members_a[0], world.members_a[1]
    record_contribution(
        session, association_id=a, source=CapitalSource.COUNTY, amount_fen=200_000,
        received_on=PAID_IN,
    )  # fmt: skip
    record_member_deposit(session, member_id=borrower.id, amount_fen=30_000, received_on=PAID_IN)
    record_member_deposit(session, member_id=other.id, amount_fen=12_345, received_on=PAID_IN)
    record_member_deposit(session, member_id=borrower.id, amount_fen=5_000, received_on=WOUND_UP)
    loan = world.approve(world.apply(borrower, amount_fen=100_000))
    world.release(loan)
    loans.mark_disbursed(session, loan.id, business_date=LENT)
    loans.record_repayment(
        session, loan.id, principal_fen=100_000, fee_fen=600, business_date=date(2024, 5, 1)
    )
    before = evaluate(session, a, as_of=MONTH_END)

    opened = liquidation.start(session, a, on=WOUND_UP, reason="撤销", actor="县办")
    liquidation.close_books(session, opened.id, on=WOUND_UP, actor="县办")
    for level in CapitalLevel:
        liquidation.name_capital_account(
            session, opened.id, level, account_number=f"9{level.value[:3]}",
            account_name=f"{level.value} 专户", actor="县办",
        )  # fmt: skip
    for refund in liquidation.request_refunds(session, opened.id, on=WOUND_UP, actor="县办"):
        liquidation.settle_payout(session, refund, booked_on=WOUND_UP, actor="bank")
    session.commit()
    assert (borrower.status, other.status) == (MemberStatus.WITHDRAWN, MemberStatus.WITHDRAWN)

    after = evaluate(session, a, as_of=MONTH_END)
    assert (after.members, after.low_income_members) == (before.members, before.low_income_members)
    assert after.members == len(world.members_a)
    (row,) = loan_detail(session, a, as_of=MONTH_END).rows
    assert row.deposit_fen == 30_000  # paid in by April's end; the June payment came later
    (today,) = loan_detail(session, a, as_of=WOUND_UP).rows
    assert today.deposit_fen == 0  # refunded: withdrawn from the association
    assert evaluate(session, a, as_of=WOUND_UP).members == len(world.members_a) - 2
