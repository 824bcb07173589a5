"""Attachment 1 for the seeded county, figure by figure, against values recomputed here
directly from the raw rows (loans, members, journal legs, statement lines)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.ledger.models import JournalLeg, JournalTransaction, LedgerAccount
from gateway.loans.models import Loan
from gateway.members.models import Member
from gateway.reports.figures import evaluate
from gateway.reports.numbers import Ratio, round_half_up
from tests.reports.county_seed import AS_OF, Seeded


def _legs(session: Session, association_id: int) -> list[tuple[str, str, int, int, str, date]]:
    return [
        (code.value, memo, debit, credit, kind, booked)
        for code, memo, debit, credit, kind, booked in session.execute(
            select(
                LedgerAccount.code,
                JournalLeg.memo,
                JournalLeg.debit_fen,
                JournalLeg.credit_fen,
                JournalTransaction.kind,
                JournalTransaction.business_date,
            )
            .join(JournalTransaction, JournalTransaction.id == JournalLeg.transaction_id)
            .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
            .where(JournalTransaction.association_id == association_id)
        )
    ]


def test_every_figure_matches_the_raw_rows(seeded_any_db: Seeded) -> None:
    seeded = seeded_any_db
    session, a = seeded.session, seeded.world.a
    figures = evaluate(session, a.id, as_of=AS_OF)

    members = list(session.scalars(select(Member).where(Member.association_id == a.id)))
    loans = list(
        session.scalars(
            select(Loan).where(Loan.association_id == a.id, Loan.disbursed_on.is_not(None))
        )
    )
    legs = _legs(session, a.id)

    def net(code: str) -> int:  # debit-normal balance
        return sum(d - c for k, _m, d, c, _kind, _on in legs if k == code)

    # 1.6 funding and 1.7 members
    assert figures.fiscal_capital_fen == -(net("3001") + net("3002") + net("3003") + net("3004"))
    assert figures.fiscal_capital_fen == 12_000_000
    assert figures.member_deposits_fen == sum(m.deposit_fen for m in members) == 280_000
    assert figures.other_capital_fen == -(net("3101") + net("3201")) == 250_000
    # counted in households (户): the seeded members are of six households
    assert figures.members == len({m.household_no for m in members}) == 6
    assert figures.low_income_members == len({m.household_no for m in members if m.low_income})
    assert figures.low_income_members == 2
    assert figures.low_income_member_share.percent() == "33.33"

    # 2.1 borrowers, 2.2 concentration
    household = {m.id: m.household_no for m in members}
    borrowers = {household[loan.member_id] for loan in loans}
    low_income = {m.id for m in members if m.low_income}
    low_households = {household[loan.member_id] for loan in loans if loan.member_id in low_income}
    assert figures.borrowers == len(borrowers) == 6
    assert figures.low_income_borrowers == len(low_households) == 2
    assert figures.largest_loan_fen == max(loan.amount_fen for loan in loans) == 2_500_000
    per_member: dict[int, int] = defaultdict(int)
    for loan in loans:
        per_member[loan.member_id] += loan.amount_fen
    top10 = sum(sorted(per_member.values(), reverse=True)[:10])
    assert figures.top10_total_fen == top10 == 6_600_000
    fund = 12_000_000 + 280_000 + 250_000
    assert figures.top10_share == Ratio(top10, fund)
    assert figures.top10_share.percent() == round_half_up(Fraction(top10 * 100, fund), 2)

    # 2.3 terms
    terms = [loan.term_months for loan in loans]
    assert figures.average_term_months.value == Fraction(sum(terms), len(terms))
    assert (figures.shortest_term_months, figures.longest_term_months) == (3, 18)
    assert figures.loans_over_12_months == sum(1 for t in terms if t > 12) == 1

    # 2.3.1 overdue at 2024-06-30: L3 (due 2024-03-01, 121 days) and L5 (due 2024-06-10)
    outstanding = {
        loan.contract_no: net("1301")
        and sum(
            d - c
            for k, memo, d, c, _kind, _on in legs
            if k == "1301" and memo.removeprefix("冲销 reversal: ") == loan.contract_no
        )
        for loan in loans
    }
    overdue = [
        loan
        for loan in loans
        if outstanding[loan.contract_no] > 0 and loan.due_on is not None and loan.due_on < AS_OF
    ]
    assert sorted(loan.contract_no for loan in overdue) == ["A-L3", "A-L5"]
    assert figures.overdue.count == 2
    assert figures.overdue.amount_fen == sum(outstanding[x.contract_no] for x in overdue)
    assert figures.overdue.amount_fen == 2_800_000
    days = {x.contract_no: (AS_OF - x.due_on).days for x in overdue if x.due_on}
    assert figures.overdue_over_30_days == sum(1 for d in days.values() if d > 30) == 1
    assert figures.longest_overdue_days == max(days.values()) == 121
    assert figures.longest_overdue_months.decimal(1) == "4.0"

    # 2.4 cumulative loans, 2.5 fee rate, 2.6 recovery of loans due
    assert figures.loans_issued.count == len(loans) == 7
    assert figures.loans_issued.amount_fen == sum(x.amount_fen for x in loans) == 6_600_000
    low_loans = [x for x in loans if x.member_id in low_income]
    assert figures.low_income_loans.count == len(low_loans) == 3
    assert figures.low_income_loans.amount_fen == sum(x.amount_fen for x in low_loans)
    weighted = Fraction(
        sum(x.amount_fen * x.monthly_fee_rate_centipermille for x in loans),
        sum(x.amount_fen for x in loans) * 100,
    )
    assert figures.monthly_fee_rate_permille.value == weighted
    due = [x for x in loans if x.due_on is not None and x.due_on <= AS_OF]
    due_principal = sum(x.amount_fen for x in due)
    recovered = sum(x.amount_fen - outstanding[x.contract_no] for x in due)
    assert figures.recovery_rate == Ratio(recovered, due_principal)
    assert (recovered, due_principal) == (1_400_000, 4_200_000)
    assert figures.recovery_rate.percent() == "33.33"

    # 2.7 income, expenses, fees to capital
    fee_credits = sum(c for k, _m, _d, c, _kind, _on in legs if k == "4001")
    assert figures.fee_income_fen == fee_credits == 43_200 + 57_600 + 5_000
    assert figures.deposit_interest_fen == -net("4002") == 12_345
    assert figures.expense_staff_fen == net("5001") == 120_000
    assert figures.expense_office_fen == net("5002") == 35_050
    assert figures.expense_dividends_fen == net("5003") == 80_000
    assert figures.expense_other_fen == net("5009") == 9_999
    assert figures.expenses_total_fen == 245_049
    assert figures.fees_to_capital_fen == 50_000

    # 3.2 / 3.3 books, bank, cash
    assert figures.books_balanced
    assert figures.ledger_bank_fen == net("1002")
    assert figures.statement_bank_fen == figures.ledger_bank_fen
    assert figures.bank_agrees is True
    assert figures.cash_on_hand_fen == net("1001")

    # 3.4 / 3.5 channels: L4 paid out in cash, L6 repaid in cash
    assert (figures.disbursed_cash.count, figures.disbursed_cash.amount_fen) == (1, 1_000_000)
    assert figures.disbursed_transfer.count == 6
    assert figures.disbursed_transfer.amount_fen == 6_600_000 - 1_000_000
    assert (figures.repaid_cash.count, figures.repaid_cash.amount_fen) == (1, 643_200)
    assert figures.repaid_transfer.count == 3
    assert figures.bank_confirmed_disbursements == 0  # booked by hand, no bank instruction

    # reviewer flags
    codes = sorted(flag.code for flag in figures.flags)
    assert codes == [
        "cash_loan",
        "cash_movements",
        "cash_on_hand",
        "cash_on_statement",
        "large_loan_without_county_approval",
    ]
    large = next(f for f in figures.flags if f.code == "large_loan_without_county_approval")
    assert large.reference == "A-L3"
    assert "25000.00" in large.message_zh


def test_a_period_counts_only_its_own_loans_and_income(seeded: Seeded) -> None:
    session, a = seeded.session, seeded.world.a
    figures = evaluate(session, a.id, as_of=AS_OF, since=date(2024, 1, 1))
    assert figures.loans_issued.count == 3  # L2, L7, L5
    assert figures.loans_issued.amount_fen == 500_000 + 900_000 + 300_000
    assert figures.borrowers == 3
    assert figures.low_income_borrowers == 2
    assert figures.fee_income_fen == 5_000
    assert figures.expense_dividends_fen == 0  # paid on 2023-12-31
    assert figures.expense_staff_fen == 120_000
    # overdue is a state at as_of, whatever the period
    assert figures.overdue.count == 2
    # loans falling due in the period, whenever disbursed: L1 (due 2024-01-10, repaid in
    # full), L3 (due 2024-03-01) and L5 (due 2024-06-10), nothing of those two recovered
    assert figures.due_principal_fen == 800_000 + 2_500_000 + 300_000
    assert figures.recovery_rate == Ratio(800_000, 3_600_000)


def test_without_a_statement_bank_agreement_is_unknown(seeded: Seeded) -> None:
    figures = evaluate(seeded.session, seeded.world.b.id, as_of=AS_OF)
    assert figures.statement_bank_fen is None
    assert figures.bank_agrees is None
    assert figures.flags == ()
    assert figures.recovery_rate.percent() == "—"  # its only loan falls due in July
    assert figures.fiscal_capital_fen == 5_000_000
