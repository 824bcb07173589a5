"""The evaluation figures of one association (Wenzhou attachment 1), computed from the books.

Sources, in order of authority:

- the ledger: balances, income and expenses, each loan's outstanding principal and fee income
  (legs on 应收借款 and 占用费收入 carry the contract number as their memo; a reversal's memo
  is ``冲销 reversal: <contract>``), and how each disbursement and repayment moved (channel);
- the bank's files: a settled payment instruction confirms a ledger movement went through the
  bank, and the statement lines of the sub-account give the bank's balance and any cash;
- the loans and members tables: terms, dates, rates, approvals, low-income households.

The period runs from ``since`` (inclusive; the association's start when None) to ``as_of``
(inclusive). Balances and overdue figures are as at the end of ``as_of``; loans, borrowers,
income and expenses count what happened within the period.

The recovery rate (2.6, 到期回收率) is what fell due and was recovered, instalment by
instalment: its base is the principal of every instalment (schedule line) falling due within
the period, whenever its loan was disbursed; of it, the principal of those instalments repaid
by ``as_of`` is recovered. An instalment is repaid by the repayments booked against it, as the
payments service and the reconciler book them: a collection names the instalment it collects
(the payment instruction's schedule line, linked to the journal entry it booked), and so does
the reconciler's automatic booking of a borrower's own transfer. Their principal counts from
the entry's business date, until a reversal dated by ``as_of`` takes it back; a write-off is
not a recovery. A loan without a schedule (paid out but not yet scheduled) falls due whole on
its due date and counts the principal repaid on it by ``as_of``. The rate is the exact ratio
of the two sums of fen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from gateway.capital.models import CapitalContribution, CapitalSource
from gateway.ingestion.models import StatementLine
from gateway.ledger.models import (
    AccountCode,
    JournalLeg,
    JournalTransaction,
    LedgerAccount,
    LedgerChannel,
    TransactionKind,
)
from gateway.ledger.service import county_of, trial_balance
from gateway.liquidation.models import LiquidationPayout, PayoutKind, PayoutStatus
from gateway.loans.models import Loan, LoanGuarantor, LoanStatus
from gateway.members.models import Member
from gateway.org.models import Association, Town
from gateway.org.service import get_association
from gateway.payments.models import (
    InstructionStatus,
    PaymentInstruction,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from gateway.reconcile.models import AutoPosting
from gateway.reports.numbers import CountAmount, Ratio, yuan
from gateway.reports.periods import check_period

REVERSAL_MEMO_PREFIX = "冲销 reversal: "
FISCAL_ACCOUNTS = (
    AccountCode.FISCAL_CENTRAL,
    AccountCode.FISCAL_PROVINCIAL,
    AccountCode.FISCAL_MUNICIPAL,
    AccountCode.FISCAL_COUNTY,
)
OTHER_CAPITAL_ACCOUNTS = (AccountCode.DONATIONS, AccountCode.OTHER_CAPITAL)
TOP_BORROWERS = 10
OVERDUE_LONG_DAYS = 30
LONG_TERM_MONTHS = 12


@dataclass(frozen=True)
class Flag:
    """Something the reviewer must see (单笔超2万元未经县级审批, 现金收付...)."""

    code: str
    message_zh: str
    message_en: str
    reference: str = ""


@dataclass(frozen=True)
class InstalmentFacts:
    """One instalment of a loan's repayment schedule at ``as_of``: the day it falls due, its
    principal and the principal repaid against it by ``as_of``."""

    due_on: date
    principal_fen: int
    principal_repaid_fen: int


@dataclass(frozen=True)
class LoanFacts:
    """One disbursed loan as the reports see it at ``as_of``."""

    loan_id: int
    contract_no: str
    member_id: int
    low_income: bool
    amount_fen: int
    term_months: int
    monthly_fee_rate_centipermille: int
    disbursed_on: date
    due_on: date | None
    outstanding_fen: int
    principal_repaid_fen: int
    fee_income_fen: int
    last_repayment_on: date | None
    overdue_days: int | None  # None when not overdue at as_of
    channel: LedgerChannel
    county_approved: bool
    in_period: bool
    # its schedule, oldest first (empty for a loan not scheduled yet)
    instalments: tuple[InstalmentFacts, ...] = ()


@dataclass(frozen=True)
class EvaluationFigures:
    association_id: int
    association_code: str
    association_name: str
    address: str
    pilot_level: str
    start_year: int
    since: date | None
    as_of: date
    # 1.6 funding (balances at as_of)
    fiscal_capital_fen: int
    member_deposits_fen: int
    other_capital_fen: int
    # 1.7 member households (户: members of one household count once)
    members: int
    low_income_members: int
    # 2.1 borrowing households in the period
    borrowers: int
    low_income_borrowers: int
    # 2.2 limits and concentration
    largest_loan_fen: int
    top10_total_fen: int
    # 2.3 terms of loans disbursed in the period
    term_months_total: int
    shortest_term_months: int | None
    longest_term_months: int | None
    loans_over_12_months: int
    # 2.3.1 overdue at as_of
    overdue: CountAmount
    overdue_over_30_days: int
    longest_overdue_days: int
    # 2.4 cumulative loans in the period
    loans_issued: CountAmount
    low_income_loans: CountAmount
    # 2.5 monthly fee rate, weighted by amount (hundredths of a per mille times fen)
    fee_rate_weighted_sum: int
    # 2.6 recovery of the instalments falling due within the period (whenever disbursed):
    # their principal, and of it the principal repaid by as_of (a write-off is not a recovery)
    due_principal_fen: int
    recovered_principal_fen: int
    # 2.7 income and expenses in the period
    fee_income_fen: int
    deposit_interest_fen: int
    expense_staff_fen: int
    expense_office_fen: int
    expense_dividends_fen: int
    expense_other_fen: int
    fees_to_capital_fen: int
    # 3.2 / 3.3 books, cash and bank
    books_balanced: bool
    ledger_bank_fen: int
    statement_bank_fen: int | None
    cash_on_hand_fen: int
    # 3.4 / 3.5 how money moved in the period
    disbursed_cash: CountAmount
    disbursed_transfer: CountAmount
    repaid_cash: CountAmount
    repaid_transfer: CountAmount
    bank_confirmed_disbursements: int
    bank_confirmed_repayments: int
    statement_cash_lines: int
    flags: tuple[Flag, ...] = field(default=())
    loans: tuple[LoanFacts, ...] = field(default=())

    @property
    def fund_total_fen(self) -> int:
        """资金总量: fiscal capital, member deposits and other capital."""
        return self.fiscal_capital_fen + self.member_deposits_fen + self.other_capital_fen

    @property
    def low_income_member_share(self) -> Ratio:
        return Ratio(self.low_income_members, self.members)

    @property
    def low_income_borrower_share(self) -> Ratio:
        return Ratio(self.low_income_borrowers, self.borrowers)

    @property
    def top10_share(self) -> Ratio:
        return Ratio(self.top10_total_fen, self.fund_total_fen)

    @property
    def average_term_months(self) -> Ratio:
        return Ratio(self.term_months_total, self.loans_issued.count)

    @property
    def longest_overdue_months(self) -> Ratio:
        return Ratio(self.longest_overdue_days, 30)

    @property
    def monthly_fee_rate_permille(self) -> Ratio:
        return Ratio(self.fee_rate_weighted_sum, self.loans_issued.amount_fen * 100)

    @property
    def recovery_rate(self) -> Ratio:
        return Ratio(self.recovered_principal_fen, self.due_principal_fen)

    @property
    def overdue_share(self) -> Ratio:
        """Overdue principal over all principal outstanding at as_of."""
        outstanding = sum(loan.outstanding_fen for loan in self.loans)
        return Ratio(self.overdue.amount_fen, outstanding)

    @property
    def expenses_total_fen(self) -> int:
        return (
            self.expense_staff_fen
            + self.expense_office_fen
            + self.expense_dividends_fen
            + self.expense_other_fen
        )

    @property
    def bank_agrees(self) -> bool | None:
        """Ledger sub-account balance equals the bank statement's; None without a statement."""
        if self.statement_bank_fen is None:
            return None
        return self.statement_bank_fen == self.ledger_bank_fen

    @property
    def cash_used(self) -> bool:
        return bool(
            self.disbursed_cash.count or self.repaid_cash.count or self.statement_cash_lines
        )


def _contract_of(memo: str) -> str:
    return memo.removeprefix(REVERSAL_MEMO_PREFIX)


@dataclass
class _ContractLedger:
    receivable_fen: int = 0
    principal_repaid_fen: int = 0
    fee_fen: int = 0
    last_repayment_on: date | None = None


def contract_ledger(
    session: Session, association_id: int, as_of: date
) -> dict[str, _ContractLedger]:
    """Per contract, from the ledger up to ``as_of``: principal outstanding, principal repaid
    (net of reversals and not counting write-offs), fee income and the last repayment date."""
    rows = session.execute(
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
        .where(
            JournalTransaction.association_id == association_id,
            JournalTransaction.business_date <= as_of,
            LedgerAccount.code.in_((AccountCode.LOANS_RECEIVABLE, AccountCode.FEE_INCOME)),
        )
    )
    found: dict[str, _ContractLedger] = defaultdict(_ContractLedger)
    for code, memo, debit, credit, kind, booked in rows:
        entry = found[_contract_of(memo)]
        if code == AccountCode.LOANS_RECEIVABLE:
            entry.receivable_fen += debit - credit
            if kind == TransactionKind.REPAYMENT:
                entry.principal_repaid_fen += credit
                if credit and (entry.last_repayment_on is None or booked > entry.last_repayment_on):
                    entry.last_repayment_on = booked
            elif kind == TransactionKind.REVERSAL and debit:
                entry.principal_repaid_fen -= debit
        else:
            entry.fee_fen += credit - debit
    return dict(found)


def statement_balance(session: Session, sub_account: str, as_of: date) -> int | None:
    """The sub-account's balance per the bank's statement lines up to ``as_of``: the last
    running balance the bank printed, else the sum of every line; None with no statement."""
    lines = session.execute(
        select(
            StatementLine.amount_fen,
            StatementLine.credit,
            StatementLine.reversal,
            StatementLine.balance_after_fen,
        )
        .where(StatementLine.sub_account == sub_account, StatementLine.booking_date <= as_of)
        .order_by(StatementLine.booking_date, StatementLine.id)
    ).all()
    if not lines:
        return None
    total = 0
    for amount, credit, reversal, _after in lines:
        sign = 1 if credit else -1
        total += -sign * amount if reversal else sign * amount
    last_after = lines[-1][3]
    return int(last_after) if last_after is not None else total


def _period_amounts(
    session: Session, association_id: int, since: date | None, as_of: date
) -> dict[tuple[AccountCode, bool], tuple[int, int]]:
    """(account, is reversal) -> (debits, credits) within the period."""
    is_reversal = JournalTransaction.kind == TransactionKind.REVERSAL.value
    query = (
        select(
            LedgerAccount.code,
            is_reversal,
            func.coalesce(func.sum(JournalLeg.debit_fen), 0),
            func.coalesce(func.sum(JournalLeg.credit_fen), 0),
        )
        .join(JournalTransaction, JournalTransaction.id == JournalLeg.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
        .where(
            JournalTransaction.association_id == association_id,
            JournalTransaction.business_date <= as_of,
        )
        .group_by(LedgerAccount.code, is_reversal)
    )
    if since is not None:
        query = query.where(JournalTransaction.business_date >= since)
    return {
        (code, bool(rev)): (int(debits), int(credits))
        for code, rev, debits, credits in session.execute(query)
    }


def _movements(
    session: Session, association_id: int, since: date | None, as_of: date
) -> dict[tuple[str, LedgerChannel], tuple[CountAmount, int]]:
    """(kind, channel) -> (count and amount, how many the bank confirmed) for disbursements
    and repayments in the period that were not reversed later."""
    reversed_ids = select(JournalTransaction.reversal_of).where(
        JournalTransaction.reversal_of.is_not(None)
    )
    confirmed = select(PaymentInstruction.journal_transaction_id).where(
        PaymentInstruction.journal_transaction_id.is_not(None),
        PaymentInstruction.status == InstructionStatus.SETTLED,
    )
    query = select(
        JournalTransaction.kind,
        JournalTransaction.channel,
        JournalTransaction.total_fen,
        JournalTransaction.id.in_(confirmed),
    ).where(
        JournalTransaction.association_id == association_id,
        JournalTransaction.kind.in_((TransactionKind.DISBURSEMENT, TransactionKind.REPAYMENT)),
        JournalTransaction.business_date <= as_of,
        JournalTransaction.id.not_in(reversed_ids),
    )
    if since is not None:
        query = query.where(JournalTransaction.business_date >= since)
    found: dict[tuple[str, LedgerChannel], tuple[CountAmount, int]] = {}
    for kind, channel, total, by_bank in session.execute(query):
        moved, confirmed_count = found.get((kind, channel), (CountAmount(), 0))
        found[(kind, channel)] = (moved.plus(int(total)), confirmed_count + int(bool(by_bank)))
    return found


def _overdue_since(loan: Loan, unpaid_due_dates: list[date], as_of: date) -> date | None:
    """Since when the loan was overdue on ``as_of`` (None: it was not), from the instalments
    unpaid on that day."""
    candidates = [d for d in unpaid_due_dates if d < as_of]
    if loan.due_on is not None and loan.due_on < as_of:
        candidates.append(loan.due_on)
    if candidates:
        return min(candidates)
    if loan.status == LoanStatus.OVERDUE and as_of in unpaid_due_dates:
        return as_of  # its collection failed on the due date itself
    return None


@dataclass(frozen=True)
class _Instalment:
    line_id: int
    due_on: date
    principal_fen: int
    fee_fen: int


def _schedules(session: Session, loan_ids: list[int]) -> dict[int, list[_Instalment]]:
    """Each loan's live instalments (a payout the bank returned cancels its lines), oldest
    first."""
    found: dict[int, list[_Instalment]] = defaultdict(list)
    if not loan_ids:
        return found
    rows = session.execute(
        select(
            RepaymentScheduleLine.loan_id,
            RepaymentScheduleLine.id,
            RepaymentScheduleLine.due_on,
            RepaymentScheduleLine.principal_fen,
            RepaymentScheduleLine.fee_fen,
        )
        .where(
            RepaymentScheduleLine.loan_id.in_(loan_ids),
            RepaymentScheduleLine.status != ScheduleLineStatus.CANCELLED,
        )
        .order_by(
            RepaymentScheduleLine.loan_id,
            RepaymentScheduleLine.due_on,
            RepaymentScheduleLine.instalment_no,
        )
    )
    for loan_id, line_id, due_on, principal, fee in rows:
        found[loan_id].append(_Instalment(line_id, due_on, int(principal), int(fee)))
    return found


def instalment_principal_repaid(
    session: Session, association_id: int, as_of: date
) -> dict[int, int]:
    """Each instalment's principal repaid by the end of ``as_of`` (schedule line id -> fen),
    from the repayments booked against it: a collection's payment instruction and the
    reconciler's automatic booking of a borrower's transfer each name the instalment they pay
    and the journal entry that booked it (the allocation the payments and reconcile services
    make when they pay the line). The principal is what the entry credited to 应收借款 on its
    business date, less what a reversal dated by ``as_of`` (a collection the bank returned, an
    automatic booking undone) debited back. A write-off books no repayment: it repays nothing.
    """
    links = union(
        select(
            PaymentInstruction.schedule_line_id.label("line_id"),
            PaymentInstruction.journal_transaction_id.label("journal_id"),
        ).where(
            PaymentInstruction.association_id == association_id,
            PaymentInstruction.schedule_line_id.is_not(None),
            PaymentInstruction.journal_transaction_id.is_not(None),
        ),
        select(
            AutoPosting.schedule_line_id.label("line_id"),
            AutoPosting.journal_transaction_id.label("journal_id"),
        ).where(
            AutoPosting.association_id == association_id,
            AutoPosting.schedule_line_id.is_not(None),
        ),
    ).subquery()
    receivable = (
        select(LedgerAccount.id)
        .where(
            LedgerAccount.association_id == association_id,
            LedgerAccount.code == AccountCode.LOANS_RECEIVABLE,
        )
        .scalar_subquery()
    )
    repaid: dict[int, int] = defaultdict(int)
    booked = session.execute(
        select(links.c.line_id, func.sum(JournalLeg.credit_fen - JournalLeg.debit_fen))
        .join(JournalTransaction, JournalTransaction.id == links.c.journal_id)
        .join(JournalLeg, JournalLeg.transaction_id == JournalTransaction.id)
        .where(
            JournalTransaction.kind == TransactionKind.REPAYMENT,
            JournalTransaction.business_date <= as_of,
            JournalLeg.account_id == receivable,
        )
        .group_by(links.c.line_id)
    )
    for line_id, principal in booked:
        repaid[int(line_id)] += int(principal)
    reversed_back = session.execute(
        select(links.c.line_id, func.sum(JournalLeg.debit_fen - JournalLeg.credit_fen))
        .join(JournalTransaction, JournalTransaction.reversal_of == links.c.journal_id)
        .join(JournalLeg, JournalLeg.transaction_id == JournalTransaction.id)
        .where(
            JournalTransaction.business_date <= as_of,
            JournalLeg.account_id == receivable,
        )
        .group_by(links.c.line_id)
    )
    for line_id, principal in reversed_back:
        repaid[int(line_id)] -= int(principal)
    return dict(repaid)


def _unpaid_on(schedule: list[_Instalment], paid_fen: int, as_of: date) -> list[date]:
    """The due dates, up to ``as_of``, of the instalments still unpaid on that day: what the
    borrower had paid by then (from the ledger) covers the instalments oldest first. A report
    for a past day so reads that day's arrears, not today's."""
    covered = paid_fen
    unpaid = []
    for instalment in schedule:
        due_on, amount = instalment.due_on, instalment.principal_fen + instalment.fee_fen
        if due_on > as_of:
            break
        if covered >= amount:
            covered -= amount
        else:
            covered = 0
            unpaid.append(due_on)
    return unpaid


def loan_facts(
    session: Session, association_id: int, *, since: date | None, as_of: date
) -> list[LoanFacts]:
    """Every loan disbursed by ``as_of``, with its ledger figures at ``as_of``."""
    rows = session.execute(
        select(Loan, Member.low_income)
        .join(Member, Member.id == Loan.member_id)
        .where(
            Loan.association_id == association_id,
            Loan.disbursed_on.is_not(None),
            Loan.disbursed_on <= as_of,
        )
        .order_by(Loan.disbursed_on, Loan.contract_no)
    ).all()
    ledger = contract_ledger(session, association_id, as_of)
    schedules = _schedules(session, [loan.id for loan, _ in rows])
    repaid = instalment_principal_repaid(session, association_id, as_of)
    facts: list[LoanFacts] = []
    for loan, low_income in rows:
        assert loan.disbursed_on is not None
        books = ledger.get(loan.contract_no, _ContractLedger())
        schedule = schedules.get(loan.id, [])
        unpaid = _unpaid_on(schedule, books.principal_repaid_fen + books.fee_fen, as_of)
        since_overdue = _overdue_since(loan, unpaid, as_of) if books.receivable_fen > 0 else None
        facts.append(
            LoanFacts(
                loan_id=loan.id,
                contract_no=loan.contract_no,
                member_id=loan.member_id,
                low_income=bool(low_income),
                amount_fen=loan.amount_fen,
                term_months=loan.term_months,
                monthly_fee_rate_centipermille=loan.monthly_fee_rate_centipermille,
                disbursed_on=loan.disbursed_on,
                due_on=loan.due_on,
                outstanding_fen=books.receivable_fen,
                principal_repaid_fen=books.principal_repaid_fen,
                fee_income_fen=books.fee_fen,
                last_repayment_on=books.last_repayment_on,
                overdue_days=None if since_overdue is None else (as_of - since_overdue).days,
                channel=loan.channel,
                county_approved=loan.county_approved_on is not None,
                in_period=since is None or loan.disbursed_on >= since,
                instalments=tuple(
                    InstalmentFacts(
                        due_on=line.due_on,
                        principal_fen=line.principal_fen,
                        principal_repaid_fen=repaid.get(line.line_id, 0),
                    )
                    for line in schedule
                ),
            )
        )
    return facts


def _refunds(session: Session, association_id: int) -> list[tuple[int, date, int]]:
    """The deposit refunds the bank paid to the association's members (member, day, fen): a
    member leaves (退会) only by one, when the association is wound up; a refund the bank
    returned is not among them."""
    return [
        (member_id, settled_on, amount_fen)
        for member_id, settled_on, amount_fen in session.execute(
            select(
                LiquidationPayout.member_id,
                LiquidationPayout.settled_on,
                LiquidationPayout.amount_fen,
            )
            .join(Member, Member.id == LiquidationPayout.member_id)
            .where(
                Member.association_id == association_id,
                LiquidationPayout.kind == PayoutKind.DEPOSIT_REFUND,
                LiquidationPayout.status == PayoutStatus.SETTLED,
            )
        )
        if member_id is not None and settled_on is not None
    ]


def deposits_on(session: Session, members: list[Member], as_of: date) -> dict[int, int]:
    """Each member's deposit (入会互助金) at the end of ``as_of``: the deposit held today, less
    what they paid in after ``as_of``, plus a refund paid to them after ``as_of``."""
    held = {m.id: m.deposit_fen for m in members}
    if not held:
        return held
    for member_id, amount_fen in session.execute(
        select(CapitalContribution.member_id, CapitalContribution.amount_fen).where(
            CapitalContribution.member_id.in_(held),
            CapitalContribution.source == CapitalSource.MEMBER_DEPOSIT,
            CapitalContribution.received_on > as_of,
        )
    ):
        if member_id is not None:
            held[member_id] -= amount_fen
    for association_id in {m.association_id for m in members}:
        for member_id, settled_on, amount_fen in _refunds(session, association_id):
            if member_id in held and settled_on > as_of:
                held[member_id] += amount_fen
    return held


def _households(session: Session, association_id: int, as_of: date) -> tuple[int, int]:
    """The households (户) among the association's members on ``as_of`` (joined by then and
    not refunded by then), and those with a low-income member: the evaluation counts 农户, so
    two members of one household count once."""
    left = {m for m, settled_on, _ in _refunds(session, association_id) if settled_on <= as_of}
    households: dict[str, bool] = {}
    for member_id, household, low_income in session.execute(
        select(Member.id, Member.household_no, Member.low_income).where(
            Member.association_id == association_id,
            Member.joined_on <= as_of,
        )
    ):
        if member_id in left:
            continue
        households[household] = households.get(household, False) or bool(low_income)
    return len(households), sum(households.values())


def _borrowing_households(session: Session, period: list[LoanFacts]) -> tuple[int, int]:
    """The households (户) that borrowed in the period, and those among them with a
    low-income borrower."""
    household_of = dict(
        session.execute(
            select(Member.id, Member.household_no).where(
                Member.id.in_({loan.member_id for loan in period})
            )
        ).all()
    )
    borrowing = {household_of[loan.member_id] for loan in period}
    low_income = {household_of[loan.member_id] for loan in period if loan.low_income}
    return len(borrowing), len(low_income)


def _flags(
    association: Association,
    approval_above_fen: int,
    period_loans: list[LoanFacts],
    cash_moves: int,
    statement_cash_lines: int,
    cash_on_hand_fen: int,
) -> tuple[Flag, ...]:
    flags: list[Flag] = []
    for loan in period_loans:
        if loan.amount_fen > approval_above_fen and not loan.county_approved:
            flags.append(
                Flag(
                    "large_loan_without_county_approval",
                    f"借款 {loan.contract_no} 金额 {yuan(loan.amount_fen)} 元，超过 "
                    f"{yuan(approval_above_fen)} 元且无县级审批记录",
                    f"loan {loan.contract_no} of {yuan(loan.amount_fen)} yuan is above "
                    f"{yuan(approval_above_fen)} yuan without a recorded county approval",
                    loan.contract_no,
                )
            )
        if loan.channel == LedgerChannel.CASH:
            flags.append(
                Flag(
                    "cash_loan",
                    f"借款 {loan.contract_no} 以现金发放",
                    f"loan {loan.contract_no} was paid out in cash",
                    loan.contract_no,
                )
            )
    if cash_moves:
        flags.append(
            Flag(
                "cash_movements",
                f"账簿中有 {cash_moves} 笔现金收付",
                f"{cash_moves} cash movement(s) in the books",
            )
        )
    if statement_cash_lines:
        flags.append(
            Flag(
                "cash_on_statement",
                f"银行对账单显示子账户有 {statement_cash_lines} 笔现金存取",
                f"the bank statement shows {statement_cash_lines} cash deposit(s) or "
                f"withdrawal(s) on sub-account {association.sub_account_number}",
            )
        )
    if cash_on_hand_fen:
        flags.append(
            Flag(
                "cash_on_hand",
                f"库存现金余额 {yuan(cash_on_hand_fen)} 元",
                f"cash on hand of {yuan(cash_on_hand_fen)} yuan",
            )
        )
    return tuple(flags)


def _falls_due_within(day: date, since: date | None, as_of: date) -> bool:
    return day <= as_of and (since is None or day >= since)


def principal_falling_due(
    loan: LoanFacts, since: date | None, as_of: date
) -> list[tuple[int, int]]:
    """2.6: for each of the loan's instalments falling due within the period, its principal
    and the principal repaid against it by ``as_of`` (never more than its principal). A loan
    without a schedule is one instalment, due whole on its due date, repaid by what the ledger
    shows repaid on it by ``as_of``."""
    if loan.instalments:
        return [
            (line.principal_fen, min(line.principal_repaid_fen, line.principal_fen))
            for line in loan.instalments
            if _falls_due_within(line.due_on, since, as_of)
        ]
    if loan.due_on is not None and _falls_due_within(loan.due_on, since, as_of):
        return [(loan.amount_fen, min(loan.principal_repaid_fen, loan.amount_fen))]
    return []


def evaluate(
    session: Session, association_id: int, *, as_of: date, since: date | None = None
) -> EvaluationFigures:
    """Every figure of the evaluation table for one association and period; a period that
    runs backwards is refused (:func:`check_period`)."""
    check_period(since, as_of)
    association = get_association(session, association_id)
    county = county_of(session, association_id)
    town = session.get(Town, association.town_id)
    assert town is not None
    trial = trial_balance(session, association_id, as_of)
    amounts = _period_amounts(session, association_id, since, as_of)

    def net(code: AccountCode, *, credit_normal: bool) -> int:
        debit = sum(amounts.get((code, rev), (0, 0))[0] for rev in (False, True))
        credit = sum(amounts.get((code, rev), (0, 0))[1] for rev in (False, True))
        return credit - debit if credit_normal else debit - credit

    fee_credits = amounts.get((AccountCode.FEE_INCOME, False), (0, 0))[1]
    fee_reversed = amounts.get((AccountCode.FEE_INCOME, True), (0, 0))[0]
    fees_to_capital = amounts.get((AccountCode.FEE_INCOME, False), (0, 0))[0]

    facts = loan_facts(session, association_id, since=since, as_of=as_of)
    period = [loan for loan in facts if loan.in_period]
    members, low_income_members = _households(session, association_id, as_of)
    borrowers, low_income_borrowers = _borrowing_households(session, period)
    per_borrower: dict[int, int] = defaultdict(int)
    for loan in period:
        per_borrower[loan.member_id] += loan.amount_fen
    top = sorted(per_borrower.values(), reverse=True)[:TOP_BORROWERS]

    overdue = [loan for loan in facts if loan.overdue_days is not None]
    # 2.6 counts every instalment falling due within the period, whenever its loan was paid out.
    due = [pair for loan in facts for pair in principal_falling_due(loan, since, as_of)]
    moves = _movements(session, association_id, since, as_of)

    def moved(kind: TransactionKind, channel: LedgerChannel) -> tuple[CountAmount, int]:
        return moves.get((kind.value, channel), (CountAmount(), 0))

    statement_query = select(func.count(StatementLine.id)).where(
        StatementLine.sub_account == association.sub_account_number,
        StatementLine.channel == "cash",
        StatementLine.booking_date <= as_of,
    )
    if since is not None:
        statement_query = statement_query.where(StatementLine.booking_date >= since)
    statement_cash = int(session.scalar(statement_query) or 0)
    cash_moves = sum(
        moved(kind, LedgerChannel.CASH)[0].count
        for kind in (TransactionKind.DISBURSEMENT, TransactionKind.REPAYMENT)
    )
    cash_on_hand = trial.balance(AccountCode.CASH_ON_HAND)
    return EvaluationFigures(
        association_id=association.id,
        association_code=association.code,
        association_name=association.name,
        address=f"{county.name}{town.name}",
        pilot_level=association.pilot_level.value,
        start_year=association.start_date.year,
        since=since,
        as_of=as_of,
        fiscal_capital_fen=sum(trial.balance(code) for code in FISCAL_ACCOUNTS),
        member_deposits_fen=trial.balance(AccountCode.MEMBER_DEPOSITS),
        other_capital_fen=sum(trial.balance(code) for code in OTHER_CAPITAL_ACCOUNTS),
        members=members,
        low_income_members=low_income_members,
        borrowers=borrowers,
        low_income_borrowers=low_income_borrowers,
        largest_loan_fen=max((loan.amount_fen for loan in period), default=0),
        top10_total_fen=sum(top),
        term_months_total=sum(loan.term_months for loan in period),
        shortest_term_months=min((loan.term_months for loan in period), default=None),
        longest_term_months=max((loan.term_months for loan in period), default=None),
        loans_over_12_months=sum(1 for loan in period if loan.term_months > LONG_TERM_MONTHS),
        overdue=CountAmount(len(overdue), sum(loan.outstanding_fen for loan in overdue)),
        overdue_over_30_days=sum(
            1 for loan in overdue if (loan.overdue_days or 0) > OVERDUE_LONG_DAYS
        ),
        longest_overdue_days=max((loan.overdue_days or 0 for loan in overdue), default=0),
        loans_issued=CountAmount(len(period), sum(loan.amount_fen for loan in period)),
        low_income_loans=CountAmount(
            sum(1 for loan in period if loan.low_income),
            sum(loan.amount_fen for loan in period if loan.low_income),
        ),
        fee_rate_weighted_sum=sum(
            loan.amount_fen * loan.monthly_fee_rate_centipermille for loan in period
        ),
        due_principal_fen=sum(principal for principal, _ in due),
        recovered_principal_fen=sum(repaid for _, repaid in due),
        fee_income_fen=fee_credits - fee_reversed,
        deposit_interest_fen=net(AccountCode.DEPOSIT_INTEREST, credit_normal=True),
        expense_staff_fen=net(AccountCode.EXPENSE_STAFF, credit_normal=False),
        expense_office_fen=net(AccountCode.EXPENSE_OFFICE, credit_normal=False),
        expense_dividends_fen=net(AccountCode.EXPENSE_DIVIDENDS, credit_normal=False),
        expense_other_fen=net(AccountCode.EXPENSE_OTHER, credit_normal=False),
        fees_to_capital_fen=fees_to_capital,
        books_balanced=trial.balanced,
        ledger_bank_fen=trial.balance(AccountCode.BANK_SUB_ACCOUNT),
        statement_bank_fen=statement_balance(session, association.sub_account_number, as_of),
        cash_on_hand_fen=cash_on_hand,
        disbursed_cash=moved(TransactionKind.DISBURSEMENT, LedgerChannel.CASH)[0],
        disbursed_transfer=moved(TransactionKind.DISBURSEMENT, LedgerChannel.TRANSFER)[0],
        repaid_cash=moved(TransactionKind.REPAYMENT, LedgerChannel.CASH)[0],
        repaid_transfer=moved(TransactionKind.REPAYMENT, LedgerChannel.TRANSFER)[0],
        bank_confirmed_disbursements=moved(TransactionKind.DISBURSEMENT, LedgerChannel.TRANSFER)[1],
        bank_confirmed_repayments=moved(TransactionKind.REPAYMENT, LedgerChannel.TRANSFER)[1],
        statement_cash_lines=statement_cash,
        flags=_flags(
            association,
            county.county_approval_above_fen,
            period,
            cash_moves,
            statement_cash,
            cash_on_hand,
        ),
        loans=tuple(facts),
    )


def guarantor_names(session: Session, loan_ids: list[int]) -> dict[int, list[str]]:
    """Each loan's guarantors' names, in the order they were recorded."""
    found: dict[int, list[str]] = defaultdict(list)
    if not loan_ids:
        return found
    rows = session.execute(
        select(LoanGuarantor.loan_id, Member.name)
        .join(Member, Member.id == LoanGuarantor.member_id)
        .where(LoanGuarantor.loan_id.in_(loan_ids))
        .order_by(LoanGuarantor.loan_id, LoanGuarantor.id)
    )
    for loan_id, name in rows:
        found[loan_id].append(name)
    return found
