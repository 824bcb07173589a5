"""The evaluation of a past day (5月底, drawn up in July) reads that day's arrears: an
instalment unpaid on 31 May but paid in June was overdue on 31 May, and a loan overdue today
was not overdue before its first instalment fell due."""

from __future__ import annotations

from datetime import date, timedelta

from gateway.loans import service as loans
from gateway.loans.models import Loan
from gateway.payments import service as payments
from gateway.payments.models import RepaymentMethod, RepaymentScheduleLine, ScheduleLineStatus
from gateway.reports.figures import evaluate
from gateway.testing import World

DISBURSED = date(2024, 1, 15)


def _equal_instalment_loan(world: World) -> tuple[Loan, list[RepaymentScheduleLine]]:
    loan = world.apply(
        world.members_a[0], amount_fen=120_000, applied_on=DISBURSED - timedelta(days=30)
    )
    loan.term_months = 12
    loans.start_notice(world.session, loan.id, on=DISBURSED - timedelta(days=28))
    loans.council_approve(world.session, loan.id, on=DISBURSED - timedelta(days=20))
    loans.release_for_payment(world.session, loan.id, on=DISBURSED - timedelta(days=1))
    loans.mark_disbursed(world.session, loan.id, business_date=DISBURSED)
    lines = payments.create_schedule(world.session, loan, RepaymentMethod.EQUAL_INSTALMENTS)
    return loan, lines


def _pay(world: World, loan: Loan, line: RepaymentScheduleLine, on: date) -> None:
    loans.record_repayment(
        world.session,
        loan.id,
        principal_fen=line.outstanding_principal_fen,
        fee_fen=line.outstanding_fee_fen,
        business_date=on,
    )
    line.paid_principal_fen, line.paid_fee_fen = line.principal_fen, line.fee_fen
    line.status = ScheduleLineStatus.PAID
    world.session.flush()


def test_an_instalment_unpaid_at_may_end_and_paid_in_june_was_overdue_at_may_end(
    world: World,
) -> None:
    loan, lines = _equal_instalment_loan(world)
    for line in lines[:3]:  # February, March, April: on time
        _pay(world, loan, line, line.due_on)
    assert lines[3].due_on == date(2024, 5, 15)
    loans.mark_overdue(world.session, loan.id)  # May's collection failed
    _pay(world, loan, lines[3], date(2024, 6, 10))
    _pay(world, loan, lines[4], date(2024, 6, 15))
    payments.caught_up(world.session, loan, as_of=date(2024, 6, 15), end_to_end_id="HZC-JUNE")

    may_end = evaluate(world.session, world.a.id, as_of=date(2024, 5, 31))
    june_end = evaluate(world.session, world.a.id, as_of=date(2024, 6, 30))

    (at_may_end,) = may_end.loans
    assert (may_end.overdue.count, at_may_end.overdue_days) == (1, 16)
    assert may_end.overdue.amount_fen == at_may_end.outstanding_fen == 120_000 - 3 * 10_000
    assert june_end.overdue.count == 0


def test_a_loan_overdue_today_was_not_overdue_before_its_first_instalment(world: World) -> None:
    loan, lines = _equal_instalment_loan(world)
    for line in lines[:3]:
        _pay(world, loan, line, line.due_on)
    loans.mark_overdue(world.session, loan.id)  # May's instalment is still unpaid

    january_end = evaluate(world.session, world.a.id, as_of=date(2024, 1, 31))
    june_end = evaluate(world.session, world.a.id, as_of=date(2024, 6, 30))

    assert january_end.overdue.count == 0
    assert (june_end.overdue.count, june_end.loans[0].overdue_days) == (1, 46)
