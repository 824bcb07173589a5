"""Each policy rule: one test shows the refusal (typed error, code, Chinese and English
message), one shows the allowed case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from gateway.errors import RuleViolation
from gateway.grading.service import review_year
from gateway.ledger.models import LedgerChannel
from gateway.loans import service as loans
from gateway.loans.models import LoanStatus
from gateway.members.models import MemberStatus
from gateway.org.models import AssociationStatus
from gateway.reports.scoring import CreditReviewRules
from gateway.settings import CreditGradeStep, PolicyDefaults
from gateway.testing import World, WorldFactory

ONE_GRADE = PolicyDefaults(
    credit_grades=[CreditGradeStep(grade="A", min_on_time_loans=0, limit_fen=3_000_000)]
)


@contextmanager
def refused(code: str, zh: str, en: str) -> Iterator[None]:
    """The block raises a RuleViolation with this code and these message parts."""
    with pytest.raises(RuleViolation) as info:
        yield
    error = info.value
    assert error.code == code, error
    assert zh in error.message_zh, error.message_zh
    assert en in error.message_en, error.message_en


# --- amount cap --------------------------------------------------------------------------


def test_amount_over_the_county_cap_is_refused(make_world: WorldFactory, session: Session) -> None:
    world = make_world(policy=ONE_GRADE, loan_cap_fen=1_000_000)
    with refused("amount_over_cap", "超过上限 10000.00 元", "exceeds the cap of 10000.00 yuan"):
        world.apply(world.members_a[0], amount_fen=1_000_001)


def test_amount_at_the_cap_is_allowed(make_world: WorldFactory, session: Session) -> None:
    world = make_world(policy=ONE_GRADE, loan_cap_fen=1_000_000)
    loan = world.apply(world.members_a[0], amount_fen=1_000_000)
    assert loan.status == LoanStatus.APPLIED


def test_default_cap_is_thirty_thousand_yuan(make_world: WorldFactory, session: Session) -> None:
    world = make_world(policy=ONE_GRADE)
    assert world.county.loan_cap_fen == 3_000_000
    with refused("amount_over_cap", "30000.00 元", "30000.00 yuan"):
        world.apply(world.members_a[0], amount_fen=3_000_001)


# --- county approval above 20,000 yuan ----------------------------------------------------


def test_large_loan_without_county_approval_is_not_released(
    make_world: WorldFactory, session: Session
) -> None:
    world = make_world(policy=ONE_GRADE, capital_fen=5_000_000)
    loan = world.approve(world.apply(world.members_a[0], amount_fen=2_000_001))
    with refused("county_approval_required", "须经县级审批", "needs a recorded county approval"):
        world.release(loan)


def test_large_loan_with_county_approval_is_released(
    make_world: WorldFactory, session: Session
) -> None:
    world = make_world(policy=ONE_GRADE, capital_fen=5_000_000)
    loan = world.approve(world.apply(world.members_a[0], amount_fen=2_500_000))
    loans.county_approve(session, loan.id, on=world.today, actor="县办张主任")
    released = world.release(loan)
    assert released.status == LoanStatus.RELEASED
    assert released.county_approved_by == "县办张主任"


def test_loan_at_the_threshold_needs_no_county_approval(
    make_world: WorldFactory, session: Session
) -> None:
    world = make_world(policy=ONE_GRADE, capital_fen=5_000_000)
    loan = world.approve(world.apply(world.members_a[0], amount_fen=2_000_000))
    assert world.release(loan).status == LoanStatus.RELEASED


# --- three-household joint guarantee -----------------------------------------------------


def test_too_few_guarantors_is_refused(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    with refused("guarantee_insufficient", "须另有 2 户担保，现仅 1 户", "needs 2 guarantors"):
        world.apply(borrower, world.default_guarantors(borrower)[:1])


def test_guarantor_count_is_configurable(make_world: WorldFactory, session: Session) -> None:
    world = make_world(guarantors_required=3)
    borrower = world.members_a[0]
    with refused("guarantee_insufficient", "须另有 3 户担保", "needs 3 guarantors"):
        world.apply(borrower, world.members_a[1:3])
    assert world.apply(borrower, world.members_a[1:4]).status == LoanStatus.APPLIED


def test_guarantor_from_the_borrowers_household_is_refused(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    same_house = world.new_member(world.a, member_no="0100", household_no=borrower.household_no)
    with refused("guarantor_same_household", "同户", "household already in the guarantee"):
        world.apply(borrower, [same_house, world.members_a[1]])


def test_two_guarantors_from_one_household_are_refused(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    g1 = world.members_a[1]
    g2 = world.new_member(world.a, member_no="0101", household_no=g1.household_no)
    with refused("guarantor_same_household", "不同农户", "household already in the guarantee"):
        world.apply(borrower, [g1, g2])


def test_guarantor_from_another_village_is_refused(world: World, session: Session) -> None:
    with refused("guarantor_invalid", "不是本协会会员", "not a member of this association"):
        world.apply(world.members_a[0], [world.members_a[1], world.members_b[2]])


def test_guarantor_in_arrears_is_refused(world: World, session: Session) -> None:
    debtor = world.members_a[1]
    loan = world.approve(world.apply(debtor))
    world.release(loan)
    loans.mark_disbursed(session, loan.id, business_date=world.today)
    loans.mark_overdue(session, loan.id)
    with refused("guarantor_in_arrears", "有逾期借款", "is in arrears"):
        world.apply(world.members_a[0], [debtor, world.members_a[2]])


def test_three_households_standing_together_are_accepted(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    loan = world.apply(borrower, [world.members_a[1], world.members_a[2]])
    assert {g.member_id for g in loan.guarantors} == {world.members_a[1].id, world.members_a[2].id}


# --- credit-grade limit -----------------------------------------------------------------


def test_amount_above_the_entry_grade_limit_is_refused(world: World, session: Session) -> None:
    with refused("credit_limit_exceeded", "信用等级 C 的借款限额为 10000.00 元", "grade C"):
        world.apply(world.members_a[0], amount_fen=1_500_000)


def test_limit_grows_at_the_review_after_an_on_time_repayment(
    world: World, session: Session
) -> None:
    borrower = world.members_a[0]
    first = world.approve(world.apply(borrower, amount_fen=1_000_000))
    world.release(first)
    world.disburse_and_repay(first, on_time=True)
    assert first.repaid_on_time is True
    # the repayment alone does not move the grade: the yearly review does
    assert borrower.credit_grade == "C"
    with refused("credit_limit_exceeded", "尚未评定", "not reviewed yet"):
        world.apply(borrower, amount_fen=1_500_000)
    review_year(session, world.county.id, 2024, CreditReviewRules(), actor="县办王")
    assert borrower.credit_grade == "B"
    second = world.apply(borrower, amount_fen=1_500_000)
    assert second.status == LoanStatus.APPLIED


def test_late_repayment_does_not_raise_the_limit(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    first = world.approve(world.apply(borrower, amount_fen=1_000_000))
    world.release(first)
    world.disburse_and_repay(first, on_time=False)
    assert first.repaid_on_time is False
    review_year(session, world.county.id, 2024, CreditReviewRules(), actor="县办王")
    assert borrower.credit_grade == "C"
    with refused("credit_limit_exceeded", "最近一次评定为 2024 年度", "grade C"):
        world.apply(borrower, amount_fen=1_500_000)


def test_what_is_still_owed_counts_against_the_limit(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    world.approve(world.apply(borrower, amount_fen=600_000))
    with refused("credit_limit_exceeded", "加未还 6000.00 元", "6000.00 still owed"):
        world.apply(borrower, amount_fen=500_000)


# --- public notice ----------------------------------------------------------------------


def test_release_before_the_notice_period_ends_is_refused(world: World, session: Session) -> None:
    loan = world.approve(
        world.apply(world.members_a[0]), noticed_on=world.today - timedelta(days=3)
    )
    with refused("notice_not_elapsed", "公示期 7 天未满", "7-day public notice runs until"):
        world.release(loan)


def test_release_once_the_notice_period_has_run_is_allowed(world: World, session: Session) -> None:
    loan = world.approve(
        world.apply(world.members_a[0]), noticed_on=world.today - timedelta(days=7)
    )
    assert world.release(loan).status == LoanStatus.RELEASED


def test_notice_days_are_configurable(make_world: WorldFactory, session: Session) -> None:
    world = make_world(notice_days=10)
    loan = world.approve(
        world.apply(world.members_a[0]), noticed_on=world.today - timedelta(days=8)
    )
    with refused("notice_not_elapsed", "公示期 10 天未满", "10-day public notice"):
        world.release(loan)
    assert world.release(loan, on=world.today + timedelta(days=2)).status == LoanStatus.RELEASED


# --- the sub-account covers it ----------------------------------------------------------


def test_approval_beyond_what_the_sub_account_holds_is_refused(
    make_world: WorldFactory, session: Session
) -> None:
    world = make_world(capital_fen=1_200_000)
    world.approve(world.apply(world.members_a[0], amount_fen=800_000))
    second = world.apply(world.members_a[3], amount_fen=500_000)
    loans.start_notice(session, second.id, on=world.today - timedelta(days=10))
    with refused("insufficient_funds", "可用余额 4000.00 元不足", "4000.00 yuan available"):
        loans.council_approve(session, second.id, on=world.today)


def test_approval_within_what_is_left_is_allowed(
    make_world: WorldFactory, session: Session
) -> None:
    world = make_world(capital_fen=1_200_000)
    first = world.approve(world.apply(world.members_a[0], amount_fen=800_000))
    second = world.apply(world.members_a[3], amount_fen=500_000)
    loans.cancel(session, first.id, reason="借款人放弃")
    assert world.approve(second).status == LoanStatus.COUNCIL_APPROVED


def test_money_of_another_village_does_not_cover_a_loan(
    make_world: WorldFactory, session: Session
) -> None:
    world = make_world(capital_fen=0)
    from gateway.capital.models import CapitalSource
    from gateway.capital.service import record_contribution

    record_contribution(
        session,
        association_id=world.b.id,
        source=CapitalSource.COUNTY,
        amount_fen=5_000_000,
        received_on=world.today,
    )
    loan = world.apply(world.members_a[0], amount_fen=100_000)
    loans.start_notice(session, loan.id, on=world.today)
    with refused("insufficient_funds", "0.00 元不足", "0.00 yuan available"):
        loans.council_approve(session, loan.id, on=world.today)


# --- the borrower belongs to this association --------------------------------------------


def test_borrower_from_another_village_is_refused(world: World, session: Session) -> None:
    outsider = world.members_b[0]
    with refused("borrower_not_member", "不得跨村使用", "funds never cross villages"):
        world.apply(outsider, world.members_a[1:3], association=world.a)


def test_withdrawn_member_cannot_borrow(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    borrower.status = MemberStatus.WITHDRAWN
    with refused("borrower_not_active", "不是正常状态的会员", "not an active member"):
        world.apply(borrower)


def test_member_borrows_from_own_association(world: World, session: Session) -> None:
    loan = world.apply(world.members_b[0], association=world.b)
    assert loan.association_id == world.b.id


def test_suspended_association_cannot_lend(world: World, session: Session) -> None:
    world.a.status = AssociationStatus.SUSPENDED
    with refused("association_not_active", "不能办理借款", "no new loans"):
        world.apply(world.members_a[0])


# --- no cash ------------------------------------------------------------------------------


def test_cash_loan_is_refused(world: World, session: Session) -> None:
    with refused("cash_refused", "不得使用现金", "must go through the bank"):
        world.apply(world.members_a[0], channel=LedgerChannel.CASH)


def test_transitional_county_records_cash_and_flags_it(
    make_world: WorldFactory, session: Session
) -> None:
    world = make_world(cash_mode="transitional")
    loan = world.apply(world.members_a[0], channel=LedgerChannel.CASH)
    assert loan.cash_flagged is True


def test_transfer_loan_is_accepted(world: World, session: Session) -> None:
    loan = world.apply(world.members_a[0])
    assert loan.channel == LedgerChannel.TRANSFER
    assert loan.cash_flagged is False
