"""The liquidation workflow (撤销清算), step by step, each step audited and idempotent.

1. :func:`start` freezes the association (no new loans) and cancels loans not yet paid out.
2. Outstanding loans are collected through the normal collection path (the payments
   module's schedule and collections); :func:`progress` lists what is still owed.
3. :func:`list_for_write_off` puts an unrecoverable loan up for the county's review;
   :func:`decide_write_off` books an approved write-off (Dr 呆坏账核销, Cr 应收借款). Neither
   is done while a collection of the loan is with the bank (waiting to be sent, batched, sent,
   not yet answered): what the loan owes is known only once the bank has answered. (Money
   the bank collects on a loan written off all the same is booked as a recovery by the
   payments module.)
4. :func:`close_books` carries income and expenses to capital once no loan is outstanding
   and no collection is with the bank.
5. :func:`request_refunds` creates one payout per member, exactly their deposit, to their
   card; :func:`request_capital_returns` one per fiscal level to the account the county named
   (central and provincial together, municipal, county), the remainder (donations, other
   capital, net income) with the county's; a loss is borne by fiscal capital pro rata. Each
   payout is carried by a loan-less disbursement instruction of the payments module
   (:func:`gateway.payments.service.create_payout`), so it travels in the normal batches,
   delivered exactly once by the batch sender.
6. The bank's result file settles a payout (:func:`payout_instruction_settled` books it: Dr
   member deposits or fiscal capital by level, Cr bank sub-account); a refusal or a return
   after settlement (:func:`payout_instruction_failed`, :func:`payout_instruction_returned`)
   marks it failed with the bank's reason, to be requested again. A statement line carrying
   the payout's end-to-end id settles it as well (:func:`confirm_from_statement`).
7. :func:`close` closes the association once every account is zero and the bank's statement
   shows the sub-account at zero.

:func:`payout_orders` (``huzhu liquidation payout-list``) prints the payouts still with the
bank as a 代发清单 for the association's file, with members' cards in clear: each call is
audited (``liquidation.payout_list``, naming the actor and the members). Services never
commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from adapters.records import Direction
from gateway.audit import service as audit
from gateway.auth.service import person_key
from gateway.errors import Conflict, NotFound, RuleViolation, ValidationFailed
from gateway.ingestion.models import StatementLine
from gateway.ledger.models import (
    CHART,
    AccountCode,
    AccountType,
    JournalTransaction,
    LedgerChannel,
    TransactionKind,
)
from gateway.ledger.service import Posting, TrialBalanceRow, post, trial_balance
from gateway.liquidation.models import (
    CapitalLevel,
    CapitalReturnAccount,
    Liquidation,
    LiquidationPayout,
    LiquidationStatus,
    PayoutKind,
    PayoutStatus,
    WriteOffDecision,
    WriteOffReview,
)
from gateway.loans import service as loans
from gateway.loans.models import COMMITTED_STATUSES, OUTSTANDING_STATUSES, Loan, LoanStatus
from gateway.members.models import Member, MemberStatus
from gateway.members.service import card_number
from gateway.org.models import Association, AssociationStatus
from gateway.org.service import get_association, lock_association, set_association_status
from gateway.payments.models import (
    OPEN_STATUSES,
    InstructionStatus,
    PaymentInstruction,
    PaymentPurpose,
)
from gateway.payments.service import create_payout
from gateway.reports.figures import statement_balance
from gateway.reports.numbers import yuan
from gateway.security.fieldcrypt import FieldCipher

LEVEL_ACCOUNTS: dict[CapitalLevel, tuple[AccountCode, ...]] = {
    CapitalLevel.CENTRAL_PROVINCIAL: (AccountCode.FISCAL_CENTRAL, AccountCode.FISCAL_PROVINCIAL),
    CapitalLevel.MUNICIPAL: (AccountCode.FISCAL_MUNICIPAL,),
    CapitalLevel.COUNTY: (AccountCode.FISCAL_COUNTY,),
}
SURPLUS_ACCOUNTS = (AccountCode.DONATIONS, AccountCode.OTHER_CAPITAL)
LEVEL_LABEL = {
    CapitalLevel.CENTRAL_PROVINCIAL: "中央和省级财政资金",
    CapitalLevel.MUNICIPAL: "市级财政资金",
    CapitalLevel.COUNTY: "县级财政资金",
}
BANK_ACTOR = "bank"  # who settles or fails a payout from the bank's files
CLOSING_KIND = "closing"
CAPITAL_RETURN_KIND = "capital_return"
LOSS_KIND = "loss_absorbed"


class Step(StrEnum):
    FREEZE = "freeze"  # 冻结，停止新借款
    COLLECT = "collect"  # 收回借款
    WRITE_OFF = "write_off"  # 呆坏账核销审核
    CLOSE_BOOKS = "close_books"  # 结转损益
    REFUND = "refund"  # 等额退还会员互助金
    RETURN_CAPITAL = "return_capital"  # 收回财政资金
    CLOSE = "close"  # 子账户余额为零，销户


STEP_LABEL = {
    Step.FREEZE: "冻结协会，停止新借款",
    Step.COLLECT: "收回全部借款",
    Step.WRITE_OFF: "无法收回的借款报核销审核",
    Step.CLOSE_BOOKS: "结转收支",
    Step.REFUND: "等额退还会员互助金",
    Step.RETURN_CAPITAL: "按级次收回财政资金",
    Step.CLOSE: "子账户清零并经对账单确认后销户",
}


# --- lookups ---------------------------------------------------------------------------


def get_liquidation(session: Session, liquidation_id: int) -> Liquidation:
    found = session.get(Liquidation, liquidation_id)
    if found is None:
        raise NotFound("清算不存在", f"liquidation {liquidation_id} not found")
    return found


def liquidation_of(session: Session, association_id: int) -> Liquidation:
    found = session.scalar(select(Liquidation).where(Liquidation.association_id == association_id))
    if found is None:
        raise NotFound("该协会未进入清算", f"association {association_id} is not being liquidated")
    return found


def _open(session: Session, liquidation_id: int) -> tuple[Liquidation, Association]:
    liquidation = get_liquidation(session, liquidation_id)
    if liquidation.status is LiquidationStatus.CLOSED:
        raise Conflict("清算已结束", f"liquidation {liquidation_id} is closed", code="closed")
    return liquidation, lock_association(session, liquidation.association_id)


def _audit(
    session: Session, liquidation: Liquidation, action: str, actor: str, **payload: object
) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"liquidation.{action}",
        chain=audit.association_chain(liquidation.association_id),
        object_type="liquidation",
        object_id=liquidation.id,
        payload={"association_id": liquidation.association_id, **payload},
    )


def _outstanding_loans(session: Session, association_id: int) -> list[Loan]:
    return list(
        session.scalars(
            select(Loan)
            .where(Loan.association_id == association_id, Loan.status.in_(OUTSTANDING_STATUSES))
            .order_by(Loan.contract_no)
        )
    )


# --- 1. freeze -------------------------------------------------------------------------


def start(
    session: Session, association_id: int, *, on: date, reason: str, actor: str
) -> Liquidation:
    """Freeze the association for liquidation: no new loans; loans not yet paid are cancelled."""
    if not reason.strip():
        raise ValidationFailed("必须注明撤销原因", "a reason for the dissolution is required")
    association = lock_association(session, association_id)
    existing = session.scalar(
        select(Liquidation).where(Liquidation.association_id == association_id)
    )
    if existing is not None:
        return existing
    if association.status is AssociationStatus.CLOSED:
        raise Conflict("协会已撤销", f"association {association.code} is already closed")
    set_association_status(
        session, association_id, AssociationStatus.LIQUIDATING, actor=actor, reason=reason
    )
    liquidation = Liquidation(
        association_id=association_id,
        status=LiquidationStatus.OPEN,
        reason=reason,
        started_by=actor,
        started_on=on,
    )
    session.add(liquidation)
    session.flush()
    cancelled = []
    waiting = (LoanStatus.APPLIED, LoanStatus.NOTICED, *COMMITTED_STATUSES)
    for loan in session.scalars(
        select(Loan).where(
            Loan.association_id == association_id,
            Loan.status.in_([s for s in waiting if s is not LoanStatus.RELEASED]),
        )
    ):
        loans.cancel(session, loan.id, reason=f"协会撤销清算：{reason}"[:400], actor=actor)
        cancelled.append(loan.contract_no)
    _audit(session, liquidation, "start", actor, reason=reason, cancelled=cancelled)
    return liquidation


# --- 3. write-off review ---------------------------------------------------------------


def _collection_with_bank(session: Session, loan_id: int) -> PaymentInstruction | None:
    """The loan's collection the bank has not answered yet (waiting to be sent, in a batch,
    sent or accepted), if any: until it is answered nobody knows what the loan still owes."""
    return session.scalar(
        select(PaymentInstruction)
        .where(
            PaymentInstruction.loan_id == loan_id,
            PaymentInstruction.direction == Direction.COLLECTION,
            PaymentInstruction.status.in_(OPEN_STATUSES),
        )
        .order_by(PaymentInstruction.id)
        .limit(1)
    )


def _refuse_while_collecting(session: Session, loan: Loan, step_zh: str, step_en: str) -> None:
    pending = _collection_with_bank(session, loan.id)
    if pending is None:
        return
    raise RuleViolation(
        f"借款 {loan.contract_no} 有一笔扣款（{pending.end_to_end_id}，{yuan(pending.amount_fen)} "
        f"元）正在银行办理中，尚未回盘；请待银行回盘后再{step_zh}",
        f"loan {loan.contract_no} has a collection with the bank ({pending.end_to_end_id}, "
        f"{yuan(pending.amount_fen)} yuan, {pending.status.value}) not answered yet: wait for "
        f"the bank's answer before {step_en}",
        code="collection_with_bank",
        end_to_end_id=pending.end_to_end_id,
    )


def list_for_write_off(
    session: Session, liquidation_id: int, loan_id: int, *, on: date, reason: str, actor: str
) -> WriteOffReview:
    liquidation, association = _open(session, liquidation_id)
    loan = loans.get_loan(session, loan_id)
    if loan.association_id != association.id or loan.status not in OUTSTANDING_STATUSES:
        raise Conflict(
            f"借款 {loan.contract_no} 不是本协会的未收回借款",
            f"loan {loan.contract_no} is not an outstanding loan of this association",
        )
    existing = session.scalar(select(WriteOffReview).where(WriteOffReview.loan_id == loan_id))
    if existing is not None:
        return existing
    _refuse_while_collecting(session, loan, "报核销", "listing it for write-off")
    review = WriteOffReview(
        liquidation_id=liquidation.id,
        loan_id=loan.id,
        outstanding_fen=loan.outstanding_principal_fen,
        listed_on=on,
        listed_by=actor,
        reason=reason,
        decision=WriteOffDecision.PENDING,
    )
    session.add(review)
    session.flush()
    _audit(
        session,
        liquidation,
        "write_off_listed",
        actor,
        contract_no=loan.contract_no,
        outstanding_fen=review.outstanding_fen,
        reason=reason,
    )
    return review


def decide_write_off(
    session: Session, review_id: int, *, approve: bool, on: date, actor: str, note: str = ""
) -> WriteOffReview:
    """The county decides: an approved write-off is booked; a refused one stays collectable."""
    # locked and read afresh: of two reviewers deciding at once, the second sees the first's
    # decision and is refused, instead of booking the write-off again
    review = session.get(WriteOffReview, review_id, with_for_update=True, populate_existing=True)
    if review is None:
        raise NotFound("核销申请不存在", f"write-off review {review_id} not found")
    liquidation, _association = _open(session, review.liquidation_id)
    if review.decision is not WriteOffDecision.PENDING:
        raise Conflict("该核销申请已审核", f"write-off review {review_id} is already decided")
    if person_key(actor) == person_key(review.listed_by):
        raise RuleViolation(
            "核销须由列报人以外的人审核",
            "a write-off is decided by someone other than the person who listed it",
            code="second_person_required",
        )
    loan = loans.get_loan(session, review.loan_id)
    if approve:
        _refuse_while_collecting(session, loan, "审批核销", "approving its write-off")
        outstanding = loan.outstanding_principal_fen
        if outstanding > 0:
            post(
                session,
                association_id=loan.association_id,
                business_date=on,
                description=f"核销借款 {loan.contract_no}：{note or review.reason}"[:400],
                kind=TransactionKind.WRITE_OFF,
                legs=[
                    Posting.debit(AccountCode.WRITE_OFF, outstanding, loan.contract_no),
                    Posting.credit(AccountCode.LOANS_RECEIVABLE, outstanding, loan.contract_no),
                ],
                channel=LedgerChannel.INTERNAL,
                external_ref=f"WO-{loan.contract_no}"[:100],
                actor=actor,
            )
        loan.status = LoanStatus.WRITTEN_OFF
        loan.closing_reason = f"清算核销：{note or review.reason}"[:400]
    review.decision = WriteOffDecision.APPROVED if approve else WriteOffDecision.REJECTED
    review.decided_by = actor
    review.decided_on = on
    session.flush()
    _audit(
        session,
        liquidation,
        "write_off_decided",
        actor,
        contract_no=loan.contract_no,
        approved=approve,
        amount_fen=review.outstanding_fen,
        note=note,
    )
    return review


# --- 4. close the books ----------------------------------------------------------------


def _blockers_before_payouts(session: Session, association_id: int) -> list[str]:
    blockers = []
    for loan in _outstanding_loans(session, association_id):
        blockers.append(
            f"借款 {loan.contract_no} 尚欠 {yuan(loan.outstanding_principal_fen)} 元"
            f"（到期 {loan.due_on}）"
        )
    released = session.scalars(
        select(Loan.contract_no).where(
            Loan.association_id == association_id, Loan.status == LoanStatus.RELEASED
        )
    ).all()
    blockers.extend(f"借款 {c} 放款在途，待银行回盘" for c in released)
    collecting = session.scalars(
        select(Loan.contract_no)
        .join(PaymentInstruction, PaymentInstruction.loan_id == Loan.id)
        .where(
            Loan.association_id == association_id,
            PaymentInstruction.direction == Direction.COLLECTION,
            PaymentInstruction.status.in_(OPEN_STATUSES),
        )
        .distinct()
    ).all()
    blockers.extend(f"借款 {c} 扣款在途，待银行回盘" for c in collecting)
    pending = session.scalars(
        select(Loan.contract_no)
        .join(WriteOffReview, WriteOffReview.loan_id == Loan.id)
        .where(
            Loan.association_id == association_id,
            WriteOffReview.decision == WriteOffDecision.PENDING,
        )
    ).all()
    blockers.extend(f"借款 {c} 核销待审核" for c in pending)
    trial = trial_balance(session, association_id)
    for code in (AccountCode.LOANS_RECEIVABLE, AccountCode.CASH_ON_HAND, AccountCode.SUSPENSE):
        if trial.balance(code):
            blockers.append(f"{CHART[code][1]} 余额 {yuan(trial.balance(code))} 元，须先清零")
    return blockers


def _income_and_expense_left(session: Session, association_id: int) -> list[TrialBalanceRow]:
    """Income and expense accounts holding a balance (after closing: money that came later,
    such as the bank's quarterly deposit interest)."""
    return [
        row
        for row in trial_balance(session, association_id).rows
        if row.account_type in (AccountType.INCOME, AccountType.EXPENSE) and row.balance_fen
    ]


def _refuse_while_owed(session: Session, association_id: int, zh: str, en: str) -> None:
    """Refuse the step while a loan is owed, a collection is with the bank or a write-off
    awaits its review (``_blockers_before_payouts``)."""
    blockers = _blockers_before_payouts(session, association_id)
    if blockers:
        raise RuleViolation(
            f"{zh}：" + "；".join(blockers),
            f"{en}: {len(blockers)} item(s) remain",
            code="liquidation_blocked",
            remaining=blockers,
        )


def close_books(session: Session, liquidation_id: int, *, on: date, actor: str) -> Liquidation:
    """Carry every income and expense account to capital (结转) once nothing is owed.

    Income or expense booked after the books were closed (the bank's quarterly deposit
    interest, a fee) is carried by running it again, once no capital payout is with the
    bank: its amount then goes back with the next capital return."""
    liquidation, association = _open(session, liquidation_id)
    rows = _income_and_expense_left(session, association.id)
    again = liquidation.books_closed_on is not None
    if again:
        if not rows:
            return liquidation
        in_flight = [
            p
            for p in _active_payouts(session, liquidation.id)
            if p.kind is not PayoutKind.DEPOSIT_REFUND and p.status is PayoutStatus.REQUESTED
        ]
        if in_flight:
            raise RuleViolation(
                "结转后又有收支，须待在途的资金退还（"
                + "、".join(p.end_to_end_id for p in in_flight)
                + "）银行办结后再次结转",
                "income or expense arrived after the books were closed; carry it once the "
                "capital payouts with the bank are settled or failed",
                code="payouts_in_flight",
            )
    # the first closing and every later one: nothing may be owed (a collection the bank
    # returned after the first closing reopens its loan)
    _refuse_while_owed(session, association.id, "尚不能结转", "books cannot be closed yet")
    legs: list[Posting] = []
    net = 0
    for row in rows:
        amount = row.balance_fen
        if row.account_type is AccountType.INCOME:
            net += amount
            legs.append(Posting(row.code, debit_fen=max(amount, 0), credit_fen=max(-amount, 0)))
        else:
            net -= amount
            legs.append(Posting(row.code, debit_fen=max(-amount, 0), credit_fen=max(amount, 0)))
    if net:
        legs.append(
            Posting(AccountCode.OTHER_CAPITAL, debit_fen=max(-net, 0), credit_fen=max(net, 0))
        )
    if legs:
        post(
            session,
            association_id=association.id,
            business_date=on,
            description="清算结转收支 closing income and expenses to capital",
            kind=CLOSING_KIND,
            legs=legs,
            channel=LedgerChannel.INTERNAL,
            actor=actor,
        )
    if not again:
        liquidation.books_closed_on = on
    session.flush()
    _audit(
        session,
        liquidation,
        "close_books_again" if again else "close_books",
        actor,
        net_income_fen=net,
        on=on.isoformat(),
    )
    return liquidation


# --- 5. payouts ------------------------------------------------------------------------


def _require_books_closed(liquidation: Liquidation) -> None:
    if liquidation.books_closed_on is None:
        raise RuleViolation(
            "请先收回全部借款并结转收支", "close the books before paying out", code="books_open"
        )


def _active_payouts(session: Session, liquidation_id: int) -> list[LiquidationPayout]:
    return list(
        session.scalars(
            select(LiquidationPayout)
            .where(
                LiquidationPayout.liquidation_id == liquidation_id,
                LiquidationPayout.status != PayoutStatus.FAILED,
            )
            .order_by(LiquidationPayout.id)
        )
    )


def _end_to_end(liquidation_id: int, code: str, subject: int, attempt: int) -> str:
    return f"HZL{liquidation_id:05d}{code}{subject:08d}A{attempt:02d}"


def _attempt(session: Session, liquidation_id: int, kind: PayoutKind, **match: object) -> int:
    query = select(func.count(LiquidationPayout.id)).where(
        LiquidationPayout.liquidation_id == liquidation_id, LiquidationPayout.kind == kind
    )
    for name, value in match.items():
        query = query.where(getattr(LiquidationPayout, name) == value)
    return int(session.scalar(query) or 0) + 1


def _carry(session: Session, payout: LiquidationPayout, association: Association, on: date) -> None:
    """Put the payout into the batch sender: a loan-less disbursement with the same
    end-to-end id, out of the association's sub-account."""
    if payout.kind is PayoutKind.DEPOSIT_REFUND:
        cause = f"撤销清算退还会员互助金 deposit refund to {payout.payee_name}"
        purpose = PaymentPurpose.DEPOSIT_REFUND
    else:
        cause = f"撤销清算退还资金 capital returned to {payout.payee_name}"
        purpose = PaymentPurpose.CAPITAL_RETURN
    instruction = create_payout(
        session,
        purpose=purpose,
        association_id=association.id,
        amount_fen=payout.amount_fen,
        end_to_end_id=payout.end_to_end_id,
        business_date=on,
        cause=cause,
        member_id=payout.member_id,
        payee_account=payout.payee_account,
        payee_name=payout.payee_name,
        attempt=payout.attempt,
    )
    payout.instruction_id = instruction.id
    session.add(payout)


def request_refunds(
    session: Session, liquidation_id: int, *, on: date, actor: str
) -> list[LiquidationPayout]:
    """One payout per member: exactly the deposit they paid in, to their own card."""
    liquidation, association = _open(session, liquidation_id)
    _require_books_closed(liquidation)
    capital_plan(session, association.id)  # refuses when deposits cannot be refunded in full
    members = list(
        session.scalars(
            select(Member)
            .where(Member.association_id == association.id, Member.deposit_fen > 0)
            .order_by(Member.member_no)
        )
    )
    on_books = trial_balance(session, association.id).balance(AccountCode.MEMBER_DEPOSITS)
    if on_books != sum(m.deposit_fen for m in members):
        raise Conflict(
            f"会员互助金账面 {yuan(on_books)} 元与会员名下合计不符，请先查明",
            f"member deposits on the books ({on_books} fen) differ from the members' deposits",
            code="deposits_unexplained",
        )
    covered = {p.member_id for p in _active_payouts(session, liquidation.id) if p.member_id}
    created = []
    for member in members:
        if member.id in covered:
            continue
        attempt = _attempt(session, liquidation.id, PayoutKind.DEPOSIT_REFUND, member_id=member.id)
        payout = LiquidationPayout(
            liquidation_id=liquidation.id,
            kind=PayoutKind.DEPOSIT_REFUND,
            member_id=member.id,
            payee_name=member.name,
            amount_fen=member.deposit_fen,
            end_to_end_id=_end_to_end(liquidation.id, "R", member.id, attempt),
            attempt=attempt,
            status=PayoutStatus.REQUESTED,
            requested_on=on,
        )
        _carry(session, payout, association, on)
        created.append(payout)
    session.flush()
    if created:
        _audit(
            session,
            liquidation,
            "refunds_requested",
            actor,
            payouts=[[p.end_to_end_id, p.member_id, p.amount_fen] for p in created],
        )
    return created


def name_capital_account(
    session: Session,
    liquidation_id: int,
    level: CapitalLevel,
    *,
    account_number: str,
    account_name: str,
    actor: str,
) -> CapitalReturnAccount:
    """The county names the account one level's capital goes back to."""
    liquidation, _association = _open(session, liquidation_id)
    if not account_number.strip() or not account_name.strip():
        raise ValidationFailed("收款账号和户名不能为空", "account number and name are required")
    existing = session.scalar(
        select(CapitalReturnAccount).where(
            CapitalReturnAccount.liquidation_id == liquidation.id,
            CapitalReturnAccount.level == level,
        )
    )
    if existing is not None and any(
        p.level is level and p.status is not PayoutStatus.FAILED
        for p in _active_payouts(session, liquidation.id)
    ):
        raise Conflict(
            f"{LEVEL_LABEL[level]}已提交退还，不能再改收款账户",
            f"{level.value} capital is already being paid back; its account cannot change",
        )
    account = existing or CapitalReturnAccount(liquidation_id=liquidation.id, level=level)
    account.account_number = account_number.strip()
    account.account_name = account_name.strip()
    account.named_by = actor
    session.add(account)
    session.flush()
    _audit(
        session,
        liquidation,
        "capital_account",
        actor,
        level=level.value,
        account_number=account.account_number,
        account_name=account.account_name,
    )
    return account


@dataclass(frozen=True)
class CapitalPlan:
    """What goes back to each level (fen), and the loss fiscal capital bears, if any."""

    by_level: dict[CapitalLevel, int]
    surplus_fen: int
    loss_by_account: dict[AccountCode, int] = field(default_factory=dict)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` fen in proportion to ``weights``, exactly (largest remainder)."""
    whole = sum(weights)
    if whole <= 0:
        raise ValueError("weights must add up to a positive number")
    shares = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


def capital_plan(session: Session, association_id: int) -> CapitalPlan:
    trial = trial_balance(session, association_id)
    fiscal = {code: trial.balance(code) for codes in LEVEL_ACCOUNTS.values() for code in codes}
    surplus = sum(trial.balance(code) for code in SURPLUS_ACCOUNTS)
    loss: dict[AccountCode, int] = {}
    if surplus < 0:
        codes = [c for c, v in fiscal.items() if v > 0]
        if sum(fiscal[c] for c in codes) < -surplus:
            raise RuleViolation(
                "亏损超过财政资金，会员互助金无法全额退还，请县办决定",
                "the loss exceeds fiscal capital: member deposits cannot be refunded in full",
                code="insolvent",
            )
        for code, share in zip(codes, allocate(-surplus, [fiscal[c] for c in codes]), strict=True):
            loss[code] = share
            fiscal[code] -= share
        surplus = 0
    by_level = {
        level: sum(fiscal[code] for code in codes) for level, codes in LEVEL_ACCOUNTS.items()
    }
    return CapitalPlan(by_level=by_level, surplus_fen=surplus, loss_by_account=loss)


def request_capital_returns(
    session: Session, liquidation_id: int, *, on: date, actor: str
) -> list[LiquidationPayout]:
    """Fiscal capital back by level to the accounts the county named; the remainder with the
    county's. A loss (write-offs beyond income) is first booked against fiscal capital."""
    liquidation, association = _open(session, liquidation_id)
    _require_books_closed(liquidation)
    # capital goes back only once nothing is owed: a loan reopened after the closing (its
    # collection returned) is collected or written off first
    _refuse_while_owed(
        session, association.id, "尚不能退还财政资金", "capital cannot be returned yet"
    )
    active = _active_payouts(session, liquidation.id)
    plan = capital_plan(session, association.id)
    if plan.loss_by_account:
        # fiscal capital bears the loss; donations and other capital end at zero
        legs = [Posting.debit(code, amount) for code, amount in plan.loss_by_account.items()]
        trial = trial_balance(session, association.id)
        for code in SURPLUS_ACCOUNTS:
            balance = trial.balance(code)
            if balance:
                legs.append(Posting(code, debit_fen=max(balance, 0), credit_fen=max(-balance, 0)))
        post(
            session,
            association_id=association.id,
            business_date=on,
            description="清算亏损由财政资金按比例承担 loss borne by fiscal capital pro rata",
            kind=LOSS_KIND,
            legs=legs,
            channel=LedgerChannel.INTERNAL,
            actor=actor,
        )
    accounts = {
        a.level: a
        for a in session.scalars(
            select(CapitalReturnAccount).where(
                CapitalReturnAccount.liquidation_id == liquidation.id
            )
        )
    }
    wanted: list[tuple[PayoutKind, CapitalLevel, int]] = [
        (PayoutKind.CAPITAL_RETURN, level, amount)
        for level, amount in plan.by_level.items()
        if amount > 0
    ]
    if plan.surplus_fen > 0:
        wanted.append((PayoutKind.SURPLUS_RETURN, CapitalLevel.COUNTY, plan.surplus_fen))
    missing = sorted({level for _k, level, _a in wanted if level not in accounts})
    if missing:
        raise RuleViolation(
            "请县办先指定收款账户：" + "、".join(LEVEL_LABEL[level] for level in missing),
            "the county must name the account for: " + ", ".join(m.value for m in missing),
            code="capital_account_missing",
        )
    # a payout still with the bank covers its level; once one is settled, what its level
    # holds again (income carried after it) goes in a payout of its own
    covered = {(p.kind, p.level) for p in active if p.status is PayoutStatus.REQUESTED}
    created = []
    for kind, level, amount in wanted:
        if (kind, level) in covered:
            continue
        attempt = _attempt(session, liquidation.id, kind, level=level)
        letter = "C" if kind is PayoutKind.CAPITAL_RETURN else "S"
        account = accounts[level]
        payout = LiquidationPayout(
            liquidation_id=liquidation.id,
            kind=kind,
            level=level,
            payee_account=account.account_number,
            payee_name=account.account_name,
            amount_fen=amount,
            end_to_end_id=_end_to_end(
                liquidation.id, letter, list(CapitalLevel).index(level) + 1, attempt
            ),
            attempt=attempt,
            status=PayoutStatus.REQUESTED,
            requested_on=on,
        )
        _carry(session, payout, association, on)
        created.append(payout)
    session.flush()
    if created:
        _audit(
            session,
            liquidation,
            "capital_requested",
            actor,
            payouts=[[p.end_to_end_id, p.kind.value, p.level, p.amount_fen] for p in created],
            loss={code.value: amount for code, amount in plan.loss_by_account.items()},
        )
    return created


@dataclass(frozen=True)
class PayoutOrder:
    """One line of the disbursement list handed to the bank (代发清单)."""

    end_to_end_id: str
    debtor_account: str
    payee_account: str
    payee_name: str
    amount_fen: int
    remittance: str


def payout_orders(
    session: Session,
    cipher: FieldCipher,
    liquidation_id: int,
    *,
    actor: str = "system",
    written_to: str | None = None,
) -> list[PayoutOrder]:
    """Every payout waiting for the bank, with the member's card read in clear for the bank.

    Reading cards in clear is audited: an event ``liquidation.payout_list`` in the caller's
    transaction names ``actor``, the members whose cards were read and, when given, where
    the list is written (``written_to``)."""
    liquidation = get_liquidation(session, liquidation_id)
    association = get_association(session, liquidation.association_id)
    orders = []
    unmasked: set[int] = set()
    for payout in _active_payouts(session, liquidation.id):
        if payout.status is not PayoutStatus.REQUESTED:
            continue
        if payout.member_id is not None:
            account = card_number(session, cipher, payout.member_id)
            unmasked.add(payout.member_id)
            remittance = f"{association.name}撤销清算退还入会互助金"
        else:
            assert payout.payee_account is not None
            assert payout.level is not None
            account = payout.payee_account
            remittance = f"{association.name}撤销清算退还{LEVEL_LABEL[payout.level]}"
            if payout.kind is PayoutKind.SURPLUS_RETURN:
                remittance = f"{association.name}撤销清算结余上交"
        orders.append(
            PayoutOrder(
                end_to_end_id=payout.end_to_end_id,
                debtor_account=association.sub_account_number,
                payee_account=account,
                payee_name=payout.payee_name,
                amount_fen=payout.amount_fen,
                remittance=remittance,
            )
        )
    _audit(
        session,
        liquidation,
        "payout_list",
        actor,
        member_ids=sorted(unmasked),
        payouts=[o.end_to_end_id for o in orders],
        fields=["card"],
        written_to=written_to,
    )
    return orders


# --- 6. settle payouts from the bank's statement ---------------------------------------


def _zero_against_bank(
    session: Session, association_id: int, codes: Sequence[AccountCode], amount_fen: int
) -> list[Posting]:
    trial = trial_balance(session, association_id)
    legs = []
    total = 0
    for code in codes:
        balance = trial.balance(code)
        if balance:
            legs.append(Posting(code, debit_fen=max(balance, 0), credit_fen=max(-balance, 0)))
            total += balance
    if total != amount_fen:
        raise Conflict(
            f"账面余额 {yuan(total)} 元与付出金额 {yuan(amount_fen)} 元不符",
            f"the books hold {total} fen on {[c.value for c in codes]}, the payout was "
            f"{amount_fen} fen",
            code="payout_unexplained",
        )
    legs.append(Posting.credit(AccountCode.BANK_SUB_ACCOUNT, amount_fen))
    return legs


def settle_payout(
    session: Session, payout: LiquidationPayout, *, booked_on: date, actor: str
) -> JournalTransaction | None:
    """The bank paid it: book it (Dr deposits or capital, Cr bank sub-account)."""
    if payout.status is PayoutStatus.SETTLED:
        return None
    if payout.status is not PayoutStatus.REQUESTED:
        raise Conflict("该笔付款已失败", f"payout {payout.end_to_end_id} has failed")
    liquidation = get_liquidation(session, payout.liquidation_id)
    association_id = liquidation.association_id
    if payout.kind is PayoutKind.DEPOSIT_REFUND:
        assert payout.member_id is not None
        member = session.get(Member, payout.member_id)
        assert member is not None
        if member.deposit_fen != payout.amount_fen:
            raise Conflict(
                f"会员 {member.name} 的互助金已变动，与退款金额不符",
                f"member {member.member_no}'s deposit changed since the refund was requested",
                code="payout_unexplained",
            )
        legs = [
            Posting.debit(AccountCode.MEMBER_DEPOSITS, payout.amount_fen, member.member_no),
            Posting.credit(AccountCode.BANK_SUB_ACCOUNT, payout.amount_fen, member.member_no),
        ]
        kind: str = TransactionKind.REFUND
        description = f"退还会员 {member.member_no} {member.name} 入会互助金"
        member.deposit_fen = 0
        member.status = MemberStatus.WITHDRAWN
    else:
        assert payout.level is not None
        codes = (
            LEVEL_ACCOUNTS[payout.level]
            if payout.kind is PayoutKind.CAPITAL_RETURN
            else SURPLUS_ACCOUNTS
        )
        legs = _zero_against_bank(session, association_id, codes, payout.amount_fen)
        kind = CAPITAL_RETURN_KIND
        description = f"退还{LEVEL_LABEL[payout.level]}至 {payout.payee_name}"
        if payout.kind is PayoutKind.SURPLUS_RETURN:
            description = f"清算结余上交至 {payout.payee_name}"
    transaction = post(
        session,
        association_id=association_id,
        business_date=booked_on,
        description=description,
        kind=kind,
        legs=legs,
        external_ref=payout.end_to_end_id,
        actor=actor,
    )
    payout.status = PayoutStatus.SETTLED
    payout.settled_on = booked_on
    payout.journal_transaction_id = transaction.id
    session.flush()
    _audit(
        session,
        liquidation,
        "payout_settled",
        actor,
        end_to_end_id=payout.end_to_end_id,
        kind=payout.kind.value,
        amount_fen=payout.amount_fen,
        booked_on=booked_on.isoformat(),
    )
    return transaction


def fail_payout(
    session: Session, payout: LiquidationPayout, *, reason: str, actor: str
) -> LiquidationPayout:
    """The bank refused or returned it: nothing was booked; it can be requested again."""
    if payout.status is PayoutStatus.FAILED:
        return payout
    if payout.status is PayoutStatus.SETTLED:
        raise Conflict(
            "已入账的付款被退回，请按退汇处理",
            f"payout {payout.end_to_end_id} was settled; a return needs a reversal",
        )
    payout.status = PayoutStatus.FAILED
    payout.failure_reason = reason[:400]
    session.flush()
    _audit(
        session,
        get_liquidation(session, payout.liquidation_id),
        "payout_failed",
        actor,
        end_to_end_id=payout.end_to_end_id,
        reason=reason,
    )
    return payout


def _payout_of(session: Session, instruction: PaymentInstruction) -> LiquidationPayout:
    payout = session.scalar(
        select(LiquidationPayout).where(LiquidationPayout.instruction_id == instruction.id)
    )
    if payout is None:
        raise NotFound(
            f"指令 {instruction.end_to_end_id} 没有对应的清算付款",
            f"no liquidation payout is carried by {instruction.end_to_end_id}",
        )
    return payout


def payout_instruction_settled(
    session: Session, instruction: PaymentInstruction, booked_on: date
) -> uuid.UUID | None:
    """The bank's result file says the payout was paid: book it (once) and return the
    journal transaction, for the instruction to point at."""
    payout = _payout_of(session, instruction)
    settle_payout(session, payout, booked_on=booked_on, actor=BANK_ACTOR)
    return payout.journal_transaction_id


def payout_instruction_failed(
    session: Session, instruction: PaymentInstruction, *, reason: str
) -> LiquidationPayout:
    """The bank refused the payout, or it could not be sent: to be paid again."""
    return fail_payout(session, _payout_of(session, instruction), reason=reason, actor=BANK_ACTOR)


def payout_instruction_returned(
    session: Session, instruction: PaymentInstruction, *, reason: str
) -> LiquidationPayout:
    """The bank returned a payout it had paid (退汇). The payments module has reversed its
    posting; the member's deposit is owed again and the payout is to be paid again."""
    payout = _payout_of(session, instruction)
    if payout.status is PayoutStatus.FAILED:
        return payout
    if payout.status is PayoutStatus.SETTLED and payout.kind is PayoutKind.DEPOSIT_REFUND:
        assert payout.member_id is not None
        member = session.get(Member, payout.member_id)
        assert member is not None
        member.deposit_fen = payout.amount_fen
        member.status = MemberStatus.ACTIVE
    payout.status = PayoutStatus.FAILED
    payout.failure_reason = reason[:400]
    session.flush()
    _audit(
        session,
        get_liquidation(session, payout.liquidation_id),
        "payout_returned",
        BANK_ACTOR,
        end_to_end_id=payout.end_to_end_id,
        reason=reason,
    )
    return payout


@dataclass
class StatementMatch:
    settled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


def confirm_from_statement(session: Session, liquidation_id: int, *, actor: str) -> StatementMatch:
    """Settle every requested payout the bank's statement shows paid out of the sub-account
    under its end-to-end id (a line without a sub-account counts when it is on the special
    account); fail one the statement shows refused or returned."""
    liquidation, association = _open(session, liquidation_id)
    special = association.special_account
    outcome = StatementMatch()
    for payout in _active_payouts(session, liquidation.id):
        if payout.status is not PayoutStatus.REQUESTED:
            continue
        lines = list(
            session.scalars(
                select(StatementLine)
                .where(
                    StatementLine.end_to_end_id == payout.end_to_end_id,
                    or_(
                        StatementLine.sub_account == association.sub_account_number,
                        and_(
                            StatementLine.sub_account.is_(None),
                            StatementLine.bank_code == special.bank.code,
                            StatementLine.account == special.account_number,
                        ),
                    ),
                )
                .order_by(StatementLine.booking_date, StatementLine.id)
            )
        )
        paid = [ln for ln in lines if not ln.credit and not ln.reversal]
        returned = [ln for ln in lines if (ln.credit and ln.return_reason_code) or ln.reversal]
        if returned:
            fail_payout(
                session,
                payout,
                reason=f"银行退回 returned {returned[0].return_reason_code or ''}".strip(),
                actor=actor,
            )
            outcome.failed.append(payout.end_to_end_id)
        elif paid:
            if paid[0].amount_fen != payout.amount_fen:
                raise Conflict(
                    f"对账单上 {payout.end_to_end_id} 的金额与付款不符",
                    f"the statement shows {paid[0].amount_fen} fen for "
                    f"{payout.end_to_end_id}, {payout.amount_fen} fen were requested",
                    code="payout_unexplained",
                )
            settle_payout(session, payout, booked_on=paid[0].booking_date, actor=actor)
            outcome.settled.append(payout.end_to_end_id)
        else:
            outcome.waiting.append(payout.end_to_end_id)
    return outcome


# --- 7. close --------------------------------------------------------------------------


def _close_blockers(
    session: Session, liquidation: Liquidation, association: Association
) -> list[str]:
    blockers = []
    if liquidation.books_closed_on is None:
        blockers.append("收支尚未结转")
    payouts = _active_payouts(session, liquidation.id)
    blockers.extend(
        f"付款 {p.end_to_end_id}（{p.payee_name} {yuan(p.amount_fen)} 元）待银行确认"
        for p in payouts
        if p.status is PayoutStatus.REQUESTED
    )
    unpaid = session.scalars(
        select(Member).where(Member.association_id == association.id, Member.deposit_fen > 0)
    ).all()
    blockers.extend(f"会员 {m.name} 的互助金 {yuan(m.deposit_fen)} 元尚未退还" for m in unpaid)
    trial = trial_balance(session, association.id)
    blockers.extend(
        f"{row.name_zh} 余额 {yuan(row.balance_fen)} 元" for row in trial.rows if row.balance_fen
    )
    settled = [p.settled_on for p in payouts if p.settled_on is not None]
    last_line = session.scalar(
        select(func.max(StatementLine.booking_date)).where(
            StatementLine.sub_account == association.sub_account_number
        )
    )
    if last_line is None:
        blockers.append("未收到子账户的银行对账单")
    else:
        bank = statement_balance(session, association.sub_account_number, last_line)
        if bank != 0:
            blockers.append(f"对账单显示子账户余额 {yuan(bank or 0)} 元")
        if settled and last_line < max(settled):
            blockers.append(f"尚无 {max(settled)} 以后的对账单")
    return blockers


def close(session: Session, liquidation_id: int, *, on: date, actor: str) -> Liquidation:
    """Close the association once every account is zero and the statement shows zero."""
    liquidation, association = _open(session, liquidation_id)
    blockers = _close_blockers(session, liquidation, association)
    if blockers:
        raise RuleViolation(
            "尚不能销户：" + "；".join(blockers),
            f"the sub-account cannot be closed yet: {len(blockers)} item(s) remain",
            code="liquidation_blocked",
            remaining=blockers,
        )
    set_association_status(
        session, association.id, AssociationStatus.CLOSED, actor=actor, reason="撤销清算完毕"
    )
    liquidation.status = LiquidationStatus.CLOSED
    liquidation.closed_on = on
    liquidation.closed_by = actor
    session.flush()
    _audit(session, liquidation, "close", actor, on=on.isoformat())
    return liquidation


# --- where are we ----------------------------------------------------------------------


@dataclass(frozen=True)
class StepState:
    step: Step
    label: str
    done: bool
    remaining: tuple[str, ...]


INSTRUCTION_STATE = {
    InstructionStatus.PENDING: "待组批 waiting for the next batch",
    InstructionStatus.BATCHED: "已组批待发送 batched",
    InstructionStatus.SENT: "已送银行 with the bank",
    InstructionStatus.ACCEPTED: "银行已受理 accepted by the bank",
    InstructionStatus.REJECTED: "银行拒绝 refused by the bank",
    InstructionStatus.SETTLED: "银行已付出 paid",
    InstructionStatus.FAILED: "未付出 not paid",
    InstructionStatus.RETURNED: "已退汇 returned",
}


def _latest_payouts(
    session: Session, liquidation_id: int
) -> dict[tuple[PayoutKind, int], LiquidationPayout]:
    """The latest attempt of each payout: by member for refunds, by level for capital."""
    latest: dict[tuple[PayoutKind, int], LiquidationPayout] = {}
    for payout in session.scalars(
        select(LiquidationPayout)
        .where(LiquidationPayout.liquidation_id == liquidation_id)
        .order_by(LiquidationPayout.id)
    ):
        subject = (
            payout.member_id
            if payout.member_id is not None
            else list(CapitalLevel).index(payout.level or CapitalLevel.COUNTY)
        )
        latest[(payout.kind, subject)] = payout
    return latest


def _payout_state(session: Session, payout: LiquidationPayout | None) -> str:
    """Where a payout stands, from its instruction's lifecycle."""
    if payout is None:
        return "尚未提交代发 not requested"
    if payout.status is PayoutStatus.FAILED:
        return f"待重新支付 to be paid again（{payout.failure_reason or '银行未付出'}）"
    if payout.status is PayoutStatus.SETTLED:
        return INSTRUCTION_STATE[InstructionStatus.SETTLED]
    if payout.instruction_id is None:
        return "待银行确认 waiting for the bank"
    instruction = session.get(PaymentInstruction, payout.instruction_id)
    assert instruction is not None
    return INSTRUCTION_STATE[instruction.status]


def progress(session: Session, liquidation_id: int) -> list[StepState]:
    """Each step, whether it is done, and what remains (the console shows this)."""
    liquidation = get_liquidation(session, liquidation_id)
    association = get_association(session, liquidation.association_id)
    closed = liquidation.status is LiquidationStatus.CLOSED
    outstanding = [] if closed else _outstanding_loans(session, association.id)
    pending_reviews = session.scalars(
        select(WriteOffReview).where(
            WriteOffReview.liquidation_id == liquidation.id,
            WriteOffReview.decision == WriteOffDecision.PENDING,
        )
    ).all()
    listed = {r.loan_id for r in pending_reviews}
    collect = tuple(
        f"借款 {loan.contract_no} 尚欠 {yuan(loan.outstanding_principal_fen)} 元"
        for loan in outstanding
        if loan.id not in listed
    )
    reviews = tuple(f"核销待审核：借款 {yuan(r.outstanding_fen)} 元" for r in pending_reviews)
    members_owed = session.scalars(
        select(Member).where(Member.association_id == association.id, Member.deposit_fen > 0)
    ).all()
    latest = _latest_payouts(session, liquidation.id)
    refund = tuple(
        f"会员 {m.name} 应退 {yuan(m.deposit_fen)} 元，"
        + _payout_state(session, latest.get((PayoutKind.DEPOSIT_REFUND, m.id)))
        for m in members_owed
    )
    capital_waiting = tuple(
        f"{p.payee_name} {yuan(p.amount_fen)} 元，{_payout_state(session, p)}"
        for key, p in latest.items()
        if key[0] is not PayoutKind.DEPOSIT_REFUND and p.status is not PayoutStatus.SETTLED
    )
    fiscal_left = (
        0
        if closed
        else sum(
            trial_balance(session, association.id).balance(code)
            for codes in LEVEL_ACCOUNTS.values()
            for code in codes
        )
    )
    capital = capital_waiting or (
        (f"财政资金 {yuan(fiscal_left)} 元尚未退还",) if fiscal_left else ()
    )
    close_left = () if closed else tuple(_close_blockers(session, liquidation, association))
    later = (
        _income_and_expense_left(session, association.id)
        if liquidation.books_closed_on and not closed
        else []
    )
    books_left: tuple[str, ...] = (
        ("收支尚未结转",)
        if liquidation.books_closed_on is None
        else tuple(
            f"结转后又记 {row.name_zh} {yuan(row.balance_fen)} 元，须再次结转" for row in later
        )
    )
    return [
        StepState(Step.FREEZE, STEP_LABEL[Step.FREEZE], True, ()),
        StepState(Step.COLLECT, STEP_LABEL[Step.COLLECT], not collect, collect),
        StepState(Step.WRITE_OFF, STEP_LABEL[Step.WRITE_OFF], not reviews, reviews),
        StepState(
            Step.CLOSE_BOOKS,
            STEP_LABEL[Step.CLOSE_BOOKS],
            not books_left,
            books_left,
        ),
        StepState(Step.REFUND, STEP_LABEL[Step.REFUND], not refund, refund),
        StepState(Step.RETURN_CAPITAL, STEP_LABEL[Step.RETURN_CAPITAL], not capital, capital),
        StepState(Step.CLOSE, STEP_LABEL[Step.CLOSE], closed, close_left),
    ]
