"""The payment instruction lifecycle.

``pending → batched → sent → accepted | rejected → settled | failed | returned``; every
change is a row in ``instruction_transitions`` with its time, business date, cause and the
batch or inbound file behind it. Services never commit: the caller owns the transaction.

- A disbursement is created when a loan is released for payment (:func:`release_loan`, or
  :func:`on_loan_released` as the loan service's release hook). A cash loan (a county's
  transitional cash mode) gets none: the association pays it in cash, booked as flagged
  cash at release (:func:`paid_out_in_cash`).
- When the bank settles it, the loan is booked as disbursed through the loan service
  (Dr loans receivable, Cr bank sub-account) and its repayment schedule is created.
- A refused disbursement puts the loan back to approved with the bank's reason and raises a
  follow-up item; a disbursement returned after settlement (退汇) is reversed in the ledger.
- A payout that is not a loan (:func:`create_payout`: a member's deposit refunded to their
  card, capital returned to an account the county named) travels in the same batches; its
  settlement, refusal or return is handed to the liquidation workflow, which books it
  (Dr member deposits or fiscal capital, Cr bank sub-account) or marks it to be paid again.
- Collections are created from the schedule when due; what the bank collects is booked
  fee first, then principal (Dr bank, Cr fee income and loans receivable); a failed or
  partial collection, or one the bank returns after settlement, leaves the loan overdue and
  is retried per the county's policy. A return gives back to the loan and its instalment
  exactly the principal and fee that collection's journal entry booked (the entry it
  reverses), so the loan and the ledger keep agreeing and a fee is never charged twice.
  A collection that pays off the last past-due instalment puts an overdue loan back to
  repaying. Money the bank collects for a loan that can no longer take it never stops the
  rest of its file: on a loan written off meanwhile it is a recovery of the write-off, on one
  that no longer owes it it is held in suspense, each with a follow-up for the office.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from adapters.money import grouped_yuan
from adapters.records import Direction, InstructionResult, ResultStatus
from gateway.audit import service as audit
from gateway.db import utcnow
from gateway.errors import Conflict, NotFound
from gateway.labels import state_zh
from gateway.ledger.models import (
    AccountCode,
    JournalLeg,
    JournalTransaction,
    LedgerAccount,
    LedgerChannel,
    TransactionKind,
)
from gateway.ledger.service import Posting, county_of, post, reverse
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import Member
from gateway.org.models import Association, County, Town
from gateway.payments.config import CollectionPolicy, PaymentsConfig
from gateway.payments.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    InstructionTransition,
    PaymentInstruction,
    PaymentPurpose,
    RepaymentMethod,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from gateway.payments.schedule import build_schedule, split_payment

OUTSTANDING = (LoanStatus.DISBURSED, LoanStatus.REPAYING, LoanStatus.OVERDUE)


class TransitionRefused(Conflict):
    code = "transition_refused"


def transition(
    session: Session,
    instruction: PaymentInstruction,
    to: InstructionStatus,
    *,
    business_date: date,
    cause: str,
    batch_id: int | None = None,
    inbound_file_id: int | None = None,
) -> None:
    """Move an instruction to ``to``, recording the step; refuses a step the lifecycle lacks."""
    before = instruction.status
    if to not in TRANSITIONS[before]:
        raise TransitionRefused(
            f"指令 {instruction.end_to_end_id} 不能从 {before.value} 变为 {to.value}",
            f"instruction {instruction.end_to_end_id} cannot go from {before.value} to {to.value}",
        )
    instruction.status = to
    instruction.updated_at = utcnow()
    session.add(
        InstructionTransition(
            instruction_id=instruction.id,
            from_status=before.value,
            to_status=to.value,
            business_date=business_date,
            cause=cause[:400],
            batch_id=batch_id,
            inbound_file_id=inbound_file_id,
        )
    )


def _creation(
    instruction: PaymentInstruction, business_date: date, cause: str
) -> InstructionTransition:
    """The first history row of a flushed instruction: created as pending."""
    return InstructionTransition(
        instruction_id=instruction.id,
        from_status=None,
        to_status=InstructionStatus.PENDING.value,
        business_date=business_date,
        cause=cause,
    )


def _created(
    session: Session, instruction: PaymentInstruction, business_date: date, cause: str
) -> None:
    session.add(instruction)
    session.flush()
    session.add(_creation(instruction, business_date, cause))


def follow_up(
    session: Session,
    kind: FollowUpKind,
    *,
    business_date: date,
    message_zh: str,
    message_en: str,
    association_id: int | None = None,
    instruction: PaymentInstruction | None = None,
    batch_id: int | None = None,
    inbound_file_id: int | None = None,
    amount_fen: int = 0,
    reason_code: str | None = None,
    once_open: bool = False,
) -> FollowUpItem:
    """Put something before the county fund office.

    ``once_open``: for a cause the nightly run meets again each round until someone acts (a
    batch that cannot be delivered or built): while a follow-up of this kind about the same
    association, batch, instruction and file is still open, that one is returned and no other
    is added; once it is resolved, the cause meeting us again raises a new one."""
    instruction_id = instruction.id if instruction else None
    if batch_id is None and instruction is not None:
        batch_id = instruction.batch_id
    if association_id is None and instruction is not None:
        association_id = instruction.association_id
    if once_open:
        open_item = session.scalar(
            select(FollowUpItem)
            .where(
                FollowUpItem.kind == kind,
                FollowUpItem.resolved.is_(False),
                _same(FollowUpItem.association_id, association_id),
                _same(FollowUpItem.batch_id, batch_id),
                _same(FollowUpItem.instruction_id, instruction_id),
                _same(FollowUpItem.inbound_file_id, inbound_file_id),
            )
            .order_by(FollowUpItem.id)
            .limit(1)
        )
        if open_item is not None:
            return open_item
    item = FollowUpItem(
        kind=kind,
        business_date=business_date,
        association_id=association_id,
        instruction_id=instruction_id,
        batch_id=batch_id,
        inbound_file_id=inbound_file_id,
        amount_fen=amount_fen,
        reason_code=reason_code,
        message_zh=message_zh[:400],
        message_en=message_en[:400],
        resolved=False,
    )
    session.add(item)
    return item


def _same(column: InstrumentedAttribute[int | None], value: int | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


# --- disbursements ---------------------------------------------------------------------


def on_loan_released(session: Session, loan: Loan) -> None:
    """The loan service's release hook: create the loan's disbursement instruction, or book
    a cash loan as paid out in cash (:func:`paid_out_in_cash`): a cash loan never goes to
    the bank."""
    if loan.released_on is None:
        raise Conflict("借款尚未放行", f"loan {loan.contract_no} has no release date")
    if loan.channel == LedgerChannel.CASH:
        paid_out_in_cash(session, loan)
        return
    create_disbursement(session, loan, business_date=loan.released_on)


def paid_out_in_cash(session: Session, loan: Loan) -> Loan:
    """A cash loan (allowed only while its county is in the transitional cash mode) is paid
    by the association in cash on its release day, never by the bank: it is booked at once
    as disbursed (Dr loans receivable, Cr cash on hand) on the cash channel, so the journal
    flags it as village cash. Its repayment schedule is made by the next collections step,
    by the county's policy (:func:`_schedule_cash_loans`)."""
    if loan.released_on is None:
        raise Conflict("借款尚未放行", f"loan {loan.contract_no} has no release date")
    return loans.mark_disbursed(
        session, loan.id, business_date=loan.released_on, external_ref=loan.contract_no
    )


def release_loan(session: Session, loan_id: int, *, on: date, actor: str = "system") -> Loan:
    """Release an approved loan for payment and create its disbursement, in one transaction."""
    return loans.release_for_payment(
        session, loan_id, on=on, actor=actor, on_released=on_loan_released
    )


def create_disbursement(session: Session, loan: Loan, *, business_date: date) -> PaymentInstruction:
    if loan.status is not LoanStatus.RELEASED:
        raise Conflict(
            f"借款 {loan.contract_no} 尚未放行，不能生成代付指令",
            f"loan {loan.contract_no} is {loan.status.value}, not released",
        )
    if loan.channel == LedgerChannel.CASH:
        raise Conflict(
            f"借款 {loan.contract_no} 为现金借款，由协会现金支付，不能生成银行代付指令",
            f"loan {loan.contract_no} is paid in cash by the association; the bank is "
            "never asked to pay it",
        )
    open_one = session.scalar(
        select(PaymentInstruction.id).where(
            PaymentInstruction.loan_id == loan.id,
            PaymentInstruction.direction == Direction.DISBURSEMENT,
            PaymentInstruction.status.in_((*OPEN_STATUSES, InstructionStatus.SETTLED)),
        )
    )
    if open_one is not None:
        raise Conflict(
            f"借款 {loan.contract_no} 已有代付指令",
            f"loan {loan.contract_no} already has a disbursement in progress",
        )
    attempt = 1 + int(
        session.scalar(
            select(func.count())
            .select_from(PaymentInstruction)
            .where(
                PaymentInstruction.loan_id == loan.id,
                PaymentInstruction.direction == Direction.DISBURSEMENT,
            )
        )
        or 0
    )
    association = session.get(Association, loan.association_id)
    assert association is not None
    instruction = PaymentInstruction(
        end_to_end_id=f"HZD{loan.id:010d}{attempt:02d}",
        direction=Direction.DISBURSEMENT,
        status=InstructionStatus.PENDING,
        association_id=loan.association_id,
        special_account_id=association.special_account_id,
        loan_id=loan.id,
        member_id=loan.member_id,
        attempt=attempt,
        amount_fen=loan.amount_fen,
        principal_fen=loan.amount_fen,
        fee_fen=0,
        requested_date=business_date,
        settled_amount_fen=0,
    )
    _created(session, instruction, business_date, f"借款 {loan.contract_no} 放行 released")
    return instruction


def create_payout(
    session: Session,
    *,
    purpose: PaymentPurpose,
    association_id: int,
    amount_fen: int,
    end_to_end_id: str,
    business_date: date,
    cause: str,
    member_id: int | None = None,
    payee_account: str | None = None,
    payee_name: str | None = None,
    attempt: int = 1,
) -> PaymentInstruction:
    """A disbursement with no loan behind it, out of the association's own sub-account: a
    deposit refund onto the member's card (a member of that association), or capital onto
    the account named in ``payee_account``."""
    if purpose is PaymentPurpose.LOAN:
        raise Conflict("借款放款请用借款放行", "a loan is paid out by releasing it")
    if amount_fen <= 0:
        raise Conflict("付款金额必须大于零", f"{end_to_end_id}: amount must be positive")
    association = session.get(Association, association_id)
    if association is None:
        raise NotFound("协会不存在", f"association {association_id} does not exist")
    if purpose is PaymentPurpose.DEPOSIT_REFUND:
        member = session.get(Member, member_id) if member_id is not None else None
        if member is None or member.association_id != association_id:
            raise Conflict(
                "退还互助金只能付给本协会会员的卡",
                f"{end_to_end_id}: a deposit refund goes to a member of the same association",
            )
        payee_account = None
        payee_name = None
    elif not (payee_account or "").strip() or not (payee_name or "").strip():
        raise Conflict(
            "退还财政资金须指定收款账号和户名",
            f"{end_to_end_id}: a capital return needs the payee's account and name",
        )
    instruction = PaymentInstruction(
        end_to_end_id=end_to_end_id,
        direction=Direction.DISBURSEMENT,
        status=InstructionStatus.PENDING,
        purpose=purpose,
        association_id=association_id,
        special_account_id=association.special_account_id,
        loan_id=None,
        member_id=member_id if purpose is PaymentPurpose.DEPOSIT_REFUND else None,
        payee_account=payee_account.strip() if payee_account else None,
        payee_name=payee_name.strip() if payee_name else None,
        attempt=attempt,
        amount_fen=amount_fen,
        principal_fen=amount_fen,
        fee_fen=0,
        requested_date=business_date,
        settled_amount_fen=0,
    )
    _created(session, instruction, business_date, cause)
    return instruction


def _loan_id(instruction: PaymentInstruction) -> int:
    if instruction.loan_id is None:
        raise Conflict(
            f"指令 {instruction.end_to_end_id} 不属于借款",
            f"{instruction.end_to_end_id} is a {instruction.purpose.value} payment, not a loan's",
        )
    return instruction.loan_id


def payout_failed(
    session: Session,
    instruction: PaymentInstruction,
    *,
    reason: str,
    business_date: date,
    inbound_file_id: int | None = None,
    reason_code: str | None = None,
) -> str:
    """A loan-less payout the bank did not make: back to its workflow to be paid again."""
    from gateway.liquidation import service as liquidation

    liquidation.payout_instruction_failed(session, instruction, reason=reason)
    follow_up(
        session,
        FollowUpKind.DISBURSEMENT_FAILED,
        business_date=business_date,
        instruction=instruction,
        inbound_file_id=inbound_file_id,
        amount_fen=instruction.amount_fen,
        reason_code=reason_code,
        message_zh=f"清算付款 {instruction.end_to_end_id} 未付出：{reason}；待重新支付",
        message_en=f"liquidation payout {instruction.end_to_end_id} was not paid ({reason}); "
        "it is to be paid again",
    )
    return "清算付款待重新支付 payout to be paid again"


def create_schedule(
    session: Session, loan: Loan, method: RepaymentMethod
) -> list[RepaymentScheduleLine]:
    if loan.disbursed_on is None:
        raise Conflict("借款尚未放款", f"loan {loan.contract_no} is not disbursed")
    earlier = session.execute(
        select(RepaymentScheduleLine.instalment_no, RepaymentScheduleLine.status).where(
            RepaymentScheduleLine.loan_id == loan.id
        )
    ).all()
    if any(status is not ScheduleLineStatus.CANCELLED for _, status in earlier):
        raise Conflict("还款计划已存在", f"loan {loan.contract_no} has a schedule already")
    first_no = 1 + max((number for number, _ in earlier), default=0)
    lines = []
    for due in build_schedule(
        amount_fen=loan.amount_fen,
        monthly_fee_rate_centipermille=loan.monthly_fee_rate_centipermille,
        term_months=loan.term_months,
        disbursed_on=loan.disbursed_on,
        method=method,
    ):
        line = RepaymentScheduleLine(
            loan_id=loan.id,
            instalment_no=first_no + due.instalment_no - 1,
            method=method,
            due_on=due.due_on,
            principal_fen=due.principal_fen,
            fee_fen=due.fee_fen,
            paid_principal_fen=0,
            paid_fee_fen=0,
            attempts=0,
            status=ScheduleLineStatus.OPEN,
        )
        session.add(line)
        lines.append(line)
    session.flush()
    return lines


def _journal_id(session: Session, external_ref: str, kind: TransactionKind) -> uuid.UUID | None:
    return session.scalar(
        select(JournalTransaction.id)
        .where(
            JournalTransaction.external_ref == external_ref, JournalTransaction.kind == str(kind)
        )
        .order_by(JournalTransaction.created_at.desc())
        .limit(1)
    )


# --- collections -----------------------------------------------------------------------


def create_due_collections(
    session: Session, business_date: date, config: PaymentsConfig
) -> list[PaymentInstruction]:
    """Create a collection for every schedule line due (or due for a retry) by the date.

    Idempotent: a line with an instruction still open gets none, and a line is collected at
    most ``max_attempts`` times. An instalment whose collection the bank returned gets its
    retry first (:func:`_schedule_returned_retries`)."""
    _schedule_cash_loans(session, config)
    _schedule_returned_retries(session, business_date, config)
    due = session.scalars(
        select(RepaymentScheduleLine)
        .join(Loan, Loan.id == RepaymentScheduleLine.loan_id)
        .where(
            Loan.status.in_(OUTSTANDING),
            RepaymentScheduleLine.status.in_((ScheduleLineStatus.OPEN, ScheduleLineStatus.OVERDUE)),
            (
                (RepaymentScheduleLine.attempts == 0)
                & (RepaymentScheduleLine.due_on <= business_date)
            )
            | (RepaymentScheduleLine.next_attempt_on <= business_date),
        )
        .order_by(RepaymentScheduleLine.id)
    ).all()
    if not due:
        return []
    busy = set(
        session.scalars(
            select(PaymentInstruction.schedule_line_id).where(
                PaymentInstruction.schedule_line_id.in_([line.id for line in due]),
                PaymentInstruction.status.in_(OPEN_STATUSES),
            )
        )
    )
    created: list[PaymentInstruction] = []
    causes: list[str] = []
    loans_by_id = {
        loan.id: loan
        for loan in session.scalars(select(Loan).where(Loan.id.in_({ln.loan_id for ln in due})))
    }
    accounts = dict(session.execute(select(Association.id, Association.special_account_id)).all())
    for line in due:
        if line.id in busy:
            continue
        amount = line.outstanding_principal_fen + line.outstanding_fee_fen
        if amount <= 0:
            line.status = ScheduleLineStatus.PAID
            continue
        loan = loans_by_id[line.loan_id]
        line.attempts += 1
        line.next_attempt_on = None
        created.append(
            PaymentInstruction(
                end_to_end_id=f"HZC{line.id:012d}{line.attempts:02d}",
                direction=Direction.COLLECTION,
                status=InstructionStatus.PENDING,
                association_id=loan.association_id,
                special_account_id=accounts[loan.association_id],
                loan_id=loan.id,
                member_id=loan.member_id,
                schedule_line_id=line.id,
                attempt=line.attempts,
                amount_fen=amount,
                principal_fen=line.outstanding_principal_fen,
                fee_fen=line.outstanding_fee_fen,
                requested_date=business_date,
                settled_amount_fen=0,
            )
        )
        causes.append(
            f"借款 {loan.contract_no} 第 {line.instalment_no} 期到期 due {line.due_on}"
            + (f"，第 {line.attempts} 次扣款 attempt" if line.attempts > 1 else "")
        )
    session.add_all(created)
    session.flush()
    session.add_all(
        _creation(instruction, business_date, cause)
        for instruction, cause in zip(created, causes, strict=True)
    )
    session.flush()
    return created


def _schedule_cash_loans(session: Session, config: PaymentsConfig) -> None:
    """The repayment schedule of each loan paid out in cash and still without one, by its
    county's policy (a cash payout is booked at release, where no policy is known)."""
    scheduled = (
        select(RepaymentScheduleLine.id)
        .where(
            RepaymentScheduleLine.loan_id == Loan.id,
            RepaymentScheduleLine.status != ScheduleLineStatus.CANCELLED,
        )
        .exists()
    )
    paid_in_cash = session.scalars(
        select(Loan)
        .where(
            Loan.channel == LedgerChannel.CASH,
            Loan.status.in_(OUTSTANDING),
            Loan.disbursed_on.is_not(None),
            ~scheduled,
        )
        .order_by(Loan.id)
    ).all()
    if not paid_in_cash:
        return
    policies = policies_for(session, {loan.association_id for loan in paid_in_cash}, config)
    for loan in paid_in_cash:
        create_schedule(session, loan, policies[loan.association_id].repayment_method)


def _schedule_returned_retries(
    session: Session, business_date: date, config: PaymentsConfig
) -> None:
    """Retry each instalment whose last collection the bank returned after settlement (退汇),
    the way a refused collection is retried: after the county's wait, counted from the day
    of the return, or, with no attempt left, a "retries exhausted" follow-up, raised once.

    A return is booked from the bank's statement, which knows no county's policy; the
    collections step does, so such an instalment (overdue, with no next attempt) gets its
    retry here, before the due lines are read."""
    later = aliased(PaymentInstruction)
    rows = session.execute(
        select(RepaymentScheduleLine, PaymentInstruction, InstructionTransition.business_date)
        .join(PaymentInstruction, PaymentInstruction.schedule_line_id == RepaymentScheduleLine.id)
        .join(
            InstructionTransition,
            (InstructionTransition.instruction_id == PaymentInstruction.id)
            & (InstructionTransition.to_status == InstructionStatus.RETURNED.value),
        )
        .join(Loan, Loan.id == RepaymentScheduleLine.loan_id)
        .where(
            Loan.status.in_(OUTSTANDING),
            RepaymentScheduleLine.status == ScheduleLineStatus.OVERDUE,
            RepaymentScheduleLine.next_attempt_on.is_(None),
            PaymentInstruction.status == InstructionStatus.RETURNED,
            InstructionTransition.business_date <= business_date,
            # a later attempt still with the bank, or made after the return (the retry itself,
            # whose own outcome schedules what follows), leaves nothing to schedule; one that
            # settled before the return (the rest of a partial collection) does not
            ~select(later.id)
            .where(
                later.schedule_line_id == RepaymentScheduleLine.id,
                later.id > PaymentInstruction.id,
                later.status.in_(OPEN_STATUSES) | (later.created_at > InstructionTransition.at),
            )
            .exists(),
            ~select(FollowUpItem.id)
            .where(
                FollowUpItem.instruction_id == PaymentInstruction.id,
                FollowUpItem.kind == FollowUpKind.RETRIES_EXHAUSTED,
            )
            .exists(),
        )
        .order_by(RepaymentScheduleLine.id)
    ).all()
    if not rows:
        return
    policies = policies_for(session, {i.association_id for _, i, _ in rows}, config)
    for line, instruction, returned_on in rows:
        _schedule_retry(
            session, line, instruction, policies[instruction.association_id], returned_on
        )
    session.flush()


def _policy(session: Session, association_id: int, config: PaymentsConfig) -> CollectionPolicy:
    return config.policy_for(county_of(session, association_id).code)


def policies_for(
    session: Session, association_ids: Iterable[int], config: PaymentsConfig
) -> dict[int, CollectionPolicy]:
    """Each association's collection policy (its county's), in one query."""
    rows = session.execute(
        select(Association.id, County.code)
        .join(Town, Town.id == Association.town_id)
        .join(County, County.id == Town.county_id)
        .where(Association.id.in_(set(association_ids)))
    ).all()
    return {association_id: config.policy_for(code) for association_id, code in rows}


def _make_overdue(session: Session, loan: Loan) -> None:
    if loan.status in (LoanStatus.DISBURSED, LoanStatus.REPAYING):
        loans.mark_overdue(session, loan.id)


def has_past_due_lines(session: Session, loan_id: int, as_of: date) -> bool:
    """Whether an instalment of the loan is still owed on ``as_of`` although it fell due
    before that day (or was already found overdue)."""
    found = session.scalar(
        select(RepaymentScheduleLine.id)
        .where(
            RepaymentScheduleLine.loan_id == loan_id,
            RepaymentScheduleLine.status.in_((ScheduleLineStatus.OPEN, ScheduleLineStatus.OVERDUE)),
            (RepaymentScheduleLine.status == ScheduleLineStatus.OVERDUE)
            | (RepaymentScheduleLine.due_on < as_of),
            (RepaymentScheduleLine.paid_principal_fen < RepaymentScheduleLine.principal_fen)
            | (RepaymentScheduleLine.paid_fee_fen < RepaymentScheduleLine.fee_fen),
        )
        .limit(1)
    )
    return found is not None


def caught_up(
    session: Session, loan: Loan, *, as_of: date, end_to_end_id: str, actor: str = "system"
) -> bool:
    """An overdue loan whose past-due instalments are all paid goes back to repaying.

    The loan keeps ``was_overdue``: it was late once, so it is not repaid on time. Returns
    whether the status changed."""
    if loan.status is not LoanStatus.OVERDUE or has_past_due_lines(session, loan.id, as_of):
        return False
    loan.status = LoanStatus.REPAYING
    audit.record(
        session,
        actor=actor,
        action="loan.caught_up",
        chain=audit.association_chain(loan.association_id),
        object_type="loan",
        object_id=loan.id,
        payload={
            "contract_no": loan.contract_no,
            "association_id": loan.association_id,
            "from": LoanStatus.OVERDUE.value,
            "to": LoanStatus.REPAYING.value,
            "as_of": as_of.isoformat(),
            "end_to_end_id": end_to_end_id,
        },
    )
    return True


def _schedule_retry(
    session: Session,
    line: RepaymentScheduleLine,
    instruction: PaymentInstruction,
    policy: CollectionPolicy,
    business_date: date,
) -> None:
    line.status = ScheduleLineStatus.OVERDUE
    if line.attempts < policy.max_attempts:
        wait = policy.retry_after_days[line.attempts - 1]
        line.next_attempt_on = date.fromordinal(business_date.toordinal() + wait)
        return
    line.next_attempt_on = None
    follow_up(
        session,
        FollowUpKind.RETRIES_EXHAUSTED,
        business_date=business_date,
        instruction=instruction,
        amount_fen=line.outstanding_principal_fen + line.outstanding_fee_fen,
        message_zh=f"第 {line.instalment_no} 期已扣款 {line.attempts} 次仍未收回，请县办跟进催收",
        message_en=f"instalment {line.instalment_no} still unpaid after {line.attempts} "
        "collection attempts; the fund office must follow up",
    )


# --- bank results ----------------------------------------------------------------------


def mark_sent(
    session: Session,
    instructions: Iterable[PaymentInstruction],
    *,
    business_date: date,
    batch_id: int,
    cause: str,
) -> None:
    for instruction in instructions:
        if instruction.status is InstructionStatus.BATCHED:
            transition(
                session,
                instruction,
                InstructionStatus.SENT,
                business_date=business_date,
                cause=cause,
                batch_id=batch_id,
            )


def apply_result(
    session: Session,
    instruction: PaymentInstruction,
    result: InstructionResult,
    *,
    business_date: date,
    inbound_file_id: int,
    config: PaymentsConfig,
    policy: CollectionPolicy | None = None,
) -> str:
    """Apply the bank's answer for one instruction; returns what happened, for the summary.

    ``policy`` is the county's collection policy (looked up when not given).

    An answer for an instruction already settled, failed or returned changes nothing; one
    that contradicts the earlier answer is put before the office (``_later_answer``). A
    settlement must name what moved: "settled" with no amount is refused."""
    if instruction.status not in (InstructionStatus.SENT, InstructionStatus.ACCEPTED):
        return _later_answer(session, instruction, result, business_date, inbound_file_id)
    booked_on = result.booking_date or business_date
    reason = " ".join(p for p in (result.reason_code or "", result.reason_text) if p).strip()
    if result.status is ResultStatus.ACCEPTED:
        if instruction.status is InstructionStatus.SENT:
            transition(
                session,
                instruction,
                InstructionStatus.ACCEPTED,
                business_date=business_date,
                cause="银行已受理 accepted",
                inbound_file_id=inbound_file_id,
            )
        return "accepted"
    settled = result.status in (ResultStatus.SETTLED, ResultStatus.PARTIALLY_SETTLED)
    if settled and result.settled_amount_fen <= 0:
        raise Conflict(
            f"银行称指令 {instruction.end_to_end_id} 已入账，但未给出入账金额",
            f"the bank says {instruction.end_to_end_id} settled but gives no amount settled; "
            "it is neither booked nor failed",
        )
    if settled:
        if result.settled_amount_fen > instruction.amount_fen:
            raise Conflict(
                f"指令 {instruction.end_to_end_id} 入账金额超过指令金额",
                f"{instruction.end_to_end_id}: settled {result.settled_amount_fen} fen exceeds "
                f"the {instruction.amount_fen} fen instructed",
            )
        partial = result.settled_amount_fen < instruction.amount_fen
        if partial and instruction.direction is Direction.DISBURSEMENT:
            raise Conflict(
                f"代付指令 {instruction.end_to_end_id} 不能部分入账",
                f"disbursement {instruction.end_to_end_id} cannot settle partially",
            )
        instruction.settled_amount_fen = result.settled_amount_fen
        instruction.settled_on = booked_on
        instruction.reason_code = result.reason_code
        instruction.reason_text = result.reason_text or None
        transition(
            session,
            instruction,
            InstructionStatus.SETTLED,
            business_date=business_date,
            cause=("部分扣款 partial: " + reason) if partial else "银行已入账 settled",
            inbound_file_id=inbound_file_id,
        )
        if instruction.purpose is not PaymentPurpose.LOAN:
            from gateway.liquidation import service as liquidation

            journal = liquidation.payout_instruction_settled(session, instruction, booked_on)
            instruction.journal_transaction_id = journal
            return "settled"
        policy = policy or _policy(session, instruction.association_id, config)
        if instruction.direction is Direction.DISBURSEMENT:
            _settle_disbursement(session, instruction, booked_on, policy)
            return "settled"
        return _settle_collection(
            session, instruction, booked_on, business_date, policy, partial=partial
        )
    instruction.reason_code = result.reason_code
    instruction.reason_text = (result.reason_text or result.reason_code or "")[:400] or None
    transition(
        session,
        instruction,
        InstructionStatus.REJECTED,
        business_date=business_date,
        cause=f"银行拒绝 rejected: {reason or '无原因 no reason given'}",
        inbound_file_id=inbound_file_id,
    )
    if instruction.purpose is not PaymentPurpose.LOAN:
        cause = payout_failed(
            session,
            instruction,
            reason=f"银行拒绝 refused: {reason or '无原因 no reason given'}",
            business_date=business_date,
            inbound_file_id=inbound_file_id,
            reason_code=result.reason_code,
        )
    elif instruction.direction is Direction.DISBURSEMENT:
        loan = loans.payment_failed(
            session, _loan_id(instruction), reason=reason or "bank refused the payment"
        )
        cause = "借款退回已审批 loan back to approved"
        follow_up(
            session,
            FollowUpKind.DISBURSEMENT_FAILED,
            business_date=business_date,
            instruction=instruction,
            inbound_file_id=inbound_file_id,
            amount_fen=instruction.amount_fen,
            reason_code=result.reason_code,
            message_zh=f"借款 {loan.contract_no} 代付失败：{reason}；"
            "借款已退回已审批，请核实卡号后重新放行",
            message_en=f"disbursement of loan {loan.contract_no} failed ({reason}); the loan is "
            "back to approved: check the card and release it again",
        )
    else:
        policy = policy or _policy(session, instruction.association_id, config)
        cause = _collection_failed(session, instruction, business_date, policy, reason)
    transition(
        session,
        instruction,
        InstructionStatus.FAILED,
        business_date=business_date,
        cause=cause,
        inbound_file_id=inbound_file_id,
    )
    return "failed"


def _settle_disbursement(
    session: Session, instruction: PaymentInstruction, booked_on: date, policy: CollectionPolicy
) -> None:
    loan = loans.mark_disbursed(
        session,
        _loan_id(instruction),
        business_date=booked_on,
        external_ref=instruction.end_to_end_id,
    )
    instruction.journal_transaction_id = _journal_id(
        session, instruction.end_to_end_id, TransactionKind.DISBURSEMENT
    )
    create_schedule(session, loan, policy.repayment_method)


def _settle_collection(
    session: Session,
    instruction: PaymentInstruction,
    booked_on: date,
    business_date: date,
    policy: CollectionPolicy,
    *,
    partial: bool,
) -> str:
    """Book what was collected; what is still due makes the loan overdue and is retried.

    Money the loan cannot take any more never stops the rest of the bank's file: on a loan
    written off meanwhile it is booked as recovered (:func:`_recovered`); on one that no
    longer owes it (settled, or the instalment paid by transfer meanwhile) it is held in
    suspense (:func:`_held`). Either way the office gets a follow-up. Returns the outcome
    for the file's summary."""
    line = _line(session, instruction)
    loan = loans.get_loan(session, _loan_id(instruction))
    amount = instruction.settled_amount_fen
    owed = line.outstanding_principal_fen + line.outstanding_fee_fen
    if loan.status not in (*OUTSTANDING, LoanStatus.WRITTEN_OFF) or amount > owed:
        _held(session, instruction, loan, booked_on, business_date)
        return "held"
    principal, fee = split_payment(
        amount,
        fee_due_fen=line.outstanding_fee_fen,
        principal_due_fen=line.outstanding_principal_fen,
    )
    if principal > loan.outstanding_principal_fen:
        _held(session, instruction, loan, booked_on, business_date)
        return "held"
    if loan.status is LoanStatus.WRITTEN_OFF:
        _recovered(session, instruction, loan, line, (principal, fee), booked_on, business_date)
        return "recovered"
    loan = loans.record_repayment(
        session,
        _loan_id(instruction),
        principal_fen=principal,
        fee_fen=fee,
        business_date=booked_on,
        external_ref=instruction.end_to_end_id,
        due_by=collected_on_time_until(instruction, booked_on),
    )
    if _paid_on_line(session, instruction, line, principal, fee):
        line.next_attempt_on = None
        caught_up(session, loan, as_of=booked_on, end_to_end_id=instruction.end_to_end_id)
        return "partial" if partial else "settled"
    if loan.status is LoanStatus.REPAID:
        line.status = ScheduleLineStatus.OVERDUE
    _make_overdue(session, loan)
    _schedule_retry(session, line, instruction, policy, business_date)
    follow_up(
        session,
        FollowUpKind.COLLECTION_PARTIAL,
        business_date=business_date,
        instruction=instruction,
        amount_fen=line.outstanding_principal_fen + line.outstanding_fee_fen,
        reason_code=instruction.reason_code,
        message_zh=f"借款 {loan.contract_no} "
        f"部分扣款 {grouped_yuan(instruction.settled_amount_fen)} 元，"
        f"尚欠 {grouped_yuan(line.outstanding_principal_fen + line.outstanding_fee_fen)} 元，"
        "已转逾期",
        message_en=f"loan {loan.contract_no}: partial collection of "
        f"{instruction.settled_amount_fen} fen; "
        f"{line.outstanding_principal_fen + line.outstanding_fee_fen} fen still due, overdue",
    )
    return "partial" if partial else "settled"


def collected_on_time_until(instruction: PaymentInstruction, booked_on: date) -> date | None:
    """The last day a collection repays its loan on time: for the first collection, made when
    the instalment fell due, the day the bank booked it (due on a Saturday, it is booked on
    Monday: the borrower paid when asked); for a retry, the loan's own due date (None)."""
    return booked_on if instruction.attempt == 1 else None


def _paid_on_line(
    session: Session,
    instruction: PaymentInstruction,
    line: RepaymentScheduleLine,
    principal: int,
    fee: int,
) -> bool:
    """A collection booked: link the instruction to its repayment entry and pay the
    instalment as far as it goes; True (the line marked paid) when nothing is left on it."""
    instruction.journal_transaction_id = _journal_id(
        session, instruction.end_to_end_id, TransactionKind.REPAYMENT
    )
    line.paid_principal_fen += principal
    line.paid_fee_fen += fee
    if line.outstanding_principal_fen == 0 and line.outstanding_fee_fen == 0:
        line.status = ScheduleLineStatus.PAID
        return True
    return False


def _recovered(
    session: Session,
    instruction: PaymentInstruction,
    loan: Loan,
    line: RepaymentScheduleLine,
    split: tuple[int, int],
    booked_on: date,
    business_date: date,
) -> None:
    """A collection the bank made on a loan written off while it was under way: booked as a
    recovery of the write-off (the loss shrinks by the principal), the instalment paid as far
    as it goes; the loan stays written off and is not collected again."""
    principal, fee = split
    loans.record_recovery(
        session,
        loan.id,
        principal_fen=principal,
        fee_fen=fee,
        business_date=booked_on,
        external_ref=instruction.end_to_end_id,
    )
    _paid_on_line(session, instruction, line, principal, fee)
    line.next_attempt_on = None
    follow_up(
        session,
        FollowUpKind.WRITTEN_OFF_RECOVERED,
        business_date=business_date,
        instruction=instruction,
        amount_fen=principal + fee,
        reason_code=instruction.reason_code,
        message_zh=f"借款 {loan.contract_no} 已核销，但银行扣款 {instruction.end_to_end_id} "
        f"仍收回 {grouped_yuan(principal + fee)} 元（本金 {grouped_yuan(principal)} 元、"
        f"占用费 {grouped_yuan(fee)} 元），已按核销后收回入账，"
        f"呆坏账核销减少 {grouped_yuan(principal)} 元；请县办知悉，需要时复核该笔核销",
        message_en=f"loan {loan.contract_no} was written off, but the bank's collection "
        f"{instruction.end_to_end_id} recovered {principal + fee} fen (principal {principal}, "
        f"fee {fee}); booked as a recovery, the write-off reduced by {principal} fen: for the "
        "fund office to note, and to review the write-off if need be",
    )


def _held(
    session: Session,
    instruction: PaymentInstruction,
    loan: Loan,
    booked_on: date,
    business_date: date,
) -> None:
    """Money the bank collected for a loan that no longer owes it: it is in the sub-account,
    so it is booked there, against suspense (Dr bank, Cr 暂记款项), never to the loan; the
    office decides (a refund to the borrower clears the suspense against the bank's debit)."""
    amount = instruction.settled_amount_fen
    transaction = post(
        session,
        association_id=loan.association_id,
        business_date=booked_on,
        description=f"扣款暂记 {instruction.end_to_end_id}：借款 {loan.contract_no} "
        f"（{loan.status.value}）已不欠此款",
        kind=TransactionKind.COLLECTION_HELD,
        legs=[
            Posting.debit(AccountCode.BANK_SUB_ACCOUNT, amount, loan.contract_no),
            Posting.credit(AccountCode.SUSPENSE, amount, loan.contract_no),
        ],
        external_ref=instruction.end_to_end_id,
    )
    instruction.journal_transaction_id = transaction.id
    follow_up(
        session,
        FollowUpKind.COLLECTION_HELD,
        business_date=business_date,
        instruction=instruction,
        amount_fen=amount,
        reason_code=instruction.reason_code,
        message_zh=f"银行扣款 {instruction.end_to_end_id} 已收到 {grouped_yuan(amount)} 元，但借款 "
        f"{loan.contract_no}（{loan.status.value}）已不欠此款，未入借款账，已记入暂记款项（1901）；"
        "请县办核实，需退还借款人的，退款后以调整分录冲减暂记款项",
        message_en=f"the bank collected {amount} fen for {instruction.end_to_end_id}, but loan "
        f"{loan.contract_no} ({loan.status.value}) no longer owes it: booked to suspense (1901), "
        "not to the loan; the fund office must check it and, where the borrower is refunded, "
        "clear the suspense against the refund",
    )


def _collection_failed(
    session: Session,
    instruction: PaymentInstruction,
    business_date: date,
    policy: CollectionPolicy,
    reason: str,
) -> str:
    loan, line = _overdue_and_retried(session, instruction, policy, business_date)
    follow_up(
        session,
        FollowUpKind.COLLECTION_FAILED,
        business_date=business_date,
        instruction=instruction,
        amount_fen=instruction.amount_fen,
        reason_code=instruction.reason_code,
        message_zh=f"借款 {loan.contract_no} 第 {line.instalment_no} 期扣款失败：{reason}；"
        "已转逾期",
        message_en=f"loan {loan.contract_no} instalment {line.instalment_no}: collection failed "
        f"({reason}); the loan is overdue",
    )
    if line.next_attempt_on is not None:
        return f"借款逾期，{line.next_attempt_on} 重扣 overdue, retry on {line.next_attempt_on}"
    return "借款逾期，重扣次数已用尽 overdue, no retries left"


def collection_not_sent(
    session: Session,
    instruction: PaymentInstruction,
    *,
    business_date: date,
    config: PaymentsConfig,
) -> None:
    """A collection the bank could not be asked for (above its per-file limit) fails like one
    it refused: the loan is overdue and the instalment is tried again by the county's policy,
    or "retries exhausted" is raised; the builder raises the reason's own follow-up."""
    policy = _policy(session, instruction.association_id, config)
    _overdue_and_retried(session, instruction, policy, business_date)


def _overdue_and_retried(
    session: Session, instruction: PaymentInstruction, policy: CollectionPolicy, business_date: date
) -> tuple[Loan, RepaymentScheduleLine]:
    """A collection that did not happen: its loan is overdue and its instalment is tried again
    by the county's policy (or "retries exhausted" is raised)."""
    line = _line(session, instruction)
    loan = loans.get_loan(session, _loan_id(instruction))
    _make_overdue(session, loan)
    _schedule_retry(session, line, instruction, policy, business_date)
    return loan, line


def _line(session: Session, instruction: PaymentInstruction) -> RepaymentScheduleLine:
    if instruction.schedule_line_id is None:
        raise NotFound("代扣指令没有还款计划", f"{instruction.end_to_end_id} has no schedule line")
    line = session.get(RepaymentScheduleLine, instruction.schedule_line_id)
    assert line is not None
    return line


# --- returns after settlement ----------------------------------------------------------


def _later_answer(
    session: Session,
    instruction: PaymentInstruction,
    result: InstructionResult,
    business_date: date,
    inbound_file_id: int,
) -> str:
    """The bank answers an instruction it answered before: the same outcome changes nothing;
    money moved where it said none did, none where it said some did, or another amount, is
    raised for the office and changes nothing either."""
    if result.status is ResultStatus.ACCEPTED:
        return "ignored"
    paid = instruction.status in (InstructionStatus.SETTLED, InstructionStatus.RETURNED)
    moved = result.status in (ResultStatus.SETTLED, ResultStatus.PARTIALLY_SETTLED)
    if paid == moved and (not moved or result.settled_amount_fen == instruction.settled_amount_fen):
        return "ignored"
    before = (
        f"已入账 {grouped_yuan(instruction.settled_amount_fen)} 元"
        if paid
        else f"未入账（{state_zh(instruction.status)}）"
    )
    before_en = (
        f"settled {instruction.settled_amount_fen} fen"
        if paid
        else f"not settled ({instruction.status.value})"
    )
    now = f"入账 {grouped_yuan(result.settled_amount_fen)} 元" if moved else "未入账"
    now_en = f"settled {result.settled_amount_fen} fen" if moved else "not settled"
    follow_up(
        session,
        FollowUpKind.ANSWER_CONTRADICTED,
        business_date=business_date,
        instruction=instruction,
        inbound_file_id=inbound_file_id,
        amount_fen=result.settled_amount_fen if moved else instruction.amount_fen,
        reason_code=result.reason_code,
        message_zh=f"银行对指令 {instruction.end_to_end_id} 的新回盘与此前不符：此前{before}，"
        f"现称{now}；未做任何处理，请与银行核实",
        message_en=f"the bank's new answer for {instruction.end_to_end_id} contradicts its "
        f"earlier one: {before_en} before, {now_en} now; nothing was changed, check with the bank",
    )
    return "contradicted"


def apply_return(
    session: Session,
    instruction: PaymentInstruction,
    *,
    business_date: date,
    reason_code: str | None,
    inbound_file_id: int,
) -> str:
    """The bank returned a settled payment (退汇): reverse its posting, undo its effect."""
    if instruction.status is InstructionStatus.RETURNED:
        return "ignored"
    if instruction.status is not InstructionStatus.SETTLED:
        raise Conflict(
            f"指令 {instruction.end_to_end_id} 未入账（{state_zh(instruction.status)}），不能退汇",
            f"{instruction.end_to_end_id} is {instruction.status.value}, it cannot be returned",
        )
    reason = f"退汇 returned {reason_code or ''}".strip()
    # what the collection booked, read before it is reversed: the return gives back exactly that
    booked = (
        _booked_split(session, instruction)
        if instruction.purpose is PaymentPurpose.LOAN
        and instruction.direction is Direction.COLLECTION
        else None
    )
    if instruction.journal_transaction_id is not None:
        reverse(
            session,
            instruction.journal_transaction_id,
            business_date=business_date,
            reason=f"{instruction.end_to_end_id} {reason}",
        )
    if instruction.purpose is not PaymentPurpose.LOAN:
        from gateway.liquidation import service as liquidation

        liquidation.payout_instruction_returned(session, instruction, reason=reason)
        zh = f"清算付款 {instruction.end_to_end_id} 被退汇（{reason_code}），已冲销，待重新支付"
        en = (
            f"liquidation payout {instruction.end_to_end_id} returned ({reason_code}); "
            "reversed, to be paid again"
        )
        return _returned(
            session, instruction, business_date, reason, reason_code, inbound_file_id, zh, en
        )
    loan = loans.get_loan(session, _loan_id(instruction))
    if instruction.direction is Direction.DISBURSEMENT:
        before = loan.status
        loan.status = (
            LoanStatus.COUNTY_APPROVED if loan.county_approved_on else LoanStatus.COUNCIL_APPROVED
        )
        loan.released_on = None
        loan.disbursed_on = None
        loan.due_on = None
        for line in session.scalars(
            select(RepaymentScheduleLine).where(
                RepaymentScheduleLine.loan_id == loan.id,
                RepaymentScheduleLine.status != ScheduleLineStatus.CANCELLED,
            )
        ):
            line.status = ScheduleLineStatus.CANCELLED
            line.next_attempt_on = None
        session.flush()
        audit.record(
            session,
            actor="system",
            action="loan.payment_returned",
            object_type="loan",
            object_id=loan.id,
            payload={
                "contract_no": loan.contract_no,
                "from": before.value,
                "to": loan.status.value,
                "end_to_end_id": instruction.end_to_end_id,
                "reason_code": reason_code,
            },
        )
        zh = f"借款 {loan.contract_no} 放款被退汇（{reason_code}），已冲销并退回已审批，请核实卡片"
        en = (
            f"disbursement of loan {loan.contract_no} returned ({reason_code}); reversed, loan "
            "back to approved: check the card"
        )
    else:
        assert booked is not None
        zh, en = _collection_returned(
            session, instruction, loan, booked, business_date, reason, reason_code
        )
    return _returned(
        session, instruction, business_date, reason, reason_code, inbound_file_id, zh, en
    )


def _collection_returned(
    session: Session,
    instruction: PaymentInstruction,
    loan: Loan,
    booked: tuple[int, int],
    business_date: date,
    reason: str,
    code: str | None,
) -> tuple[str, str]:
    """Undo, on the loan and its instalment, the principal and fee a returned collection
    booked (its journal entry is reversed already); returns the follow-up's words.

    Money that was held in suspense never reached the loan: nothing to undo. On an
    outstanding or settled loan the instalment is owed again and collected again. On a loan
    written off, the principal owed again is written off with the rest (a recovery's own
    reinstatement is reversed; otherwise the write-off is extended), and it is not collected
    again."""
    principal, fee = booked
    line = _line(session, instruction)
    if principal + fee == 0:
        return (
            f"暂记的扣款 {instruction.end_to_end_id} 被退回（{code}），已冲销暂记款项；"
            f"借款 {loan.contract_no} 不受影响",
            f"collection {instruction.end_to_end_id}, held in suspense, was returned ({code}); "
            f"the suspense is reversed, loan {loan.contract_no} is unchanged",
        )
    line.paid_principal_fen -= principal
    line.paid_fee_fen -= fee
    line.status = ScheduleLineStatus.OVERDUE
    loan.principal_repaid_fen -= principal
    loan.fee_paid_fen -= fee
    if loan.status is LoanStatus.WRITTEN_OFF:
        if principal:
            _write_off_again(session, instruction, loan, principal, business_date, reason)
        line.next_attempt_on = None
        session.flush()
        return (
            f"已核销借款 {loan.contract_no} 第 {line.instalment_no} 期的扣款被退回（{code}），"
            f"已冲销；退回的本金 {principal} 分仍计入呆坏账核销，不再扣款",
            f"collection for written-off loan {loan.contract_no} instalment "
            f"{line.instalment_no} returned ({code}); reversed, the {principal} fen principal "
            "returned stays written off and is not collected again",
        )
    if loan.status is LoanStatus.REPAID:
        loan.status = LoanStatus.OVERDUE
        loan.repaid_on = None
        loan.repaid_on_time = None
    loan.was_overdue = True
    if loan.status in (LoanStatus.DISBURSED, LoanStatus.REPAYING):
        loan.status = LoanStatus.OVERDUE
    session.flush()
    # The retry (or, with none left, the follow-up) comes with the next collections step,
    # which knows the county's policy: see _schedule_returned_retries.
    return (
        f"借款 {loan.contract_no} 第 {line.instalment_no} 期的扣款被退回（{code}），"
        "已冲销，借款逾期，将按重扣规则再次扣款",
        f"collection for loan {loan.contract_no} instalment {line.instalment_no} returned "
        f"({code}); reversed, overdue, to be collected again per the retry policy",
    )


def _write_off_again(
    session: Session,
    instruction: PaymentInstruction,
    loan: Loan,
    principal: int,
    business_date: date,
    reason: str,
) -> None:
    """The principal a returned collection had repaid on a loan since written off goes back
    to the write-off: a recovery's reinstatement (Dr 应收借款, Cr 呆坏账核销) is reversed, or,
    where the collection was booked before the write-off, the write-off is extended by it."""
    reinstated = _journal_id(session, instruction.end_to_end_id, TransactionKind.WRITE_OFF_RECOVERY)
    if reinstated is not None:
        reverse(
            session,
            reinstated,
            business_date=business_date,
            reason=f"{instruction.end_to_end_id} {reason}",
        )
        return
    post(
        session,
        association_id=loan.association_id,
        business_date=business_date,
        description=f"核销借款 {loan.contract_no}：扣款 {instruction.end_to_end_id} 退回的本金",
        kind=TransactionKind.WRITE_OFF,
        legs=[
            Posting.debit(AccountCode.WRITE_OFF, principal, loan.contract_no),
            Posting.credit(AccountCode.LOANS_RECEIVABLE, principal, loan.contract_no),
        ],
        channel=LedgerChannel.INTERNAL,
        external_ref=instruction.end_to_end_id,
    )


def _booked_split(session: Session, instruction: PaymentInstruction) -> tuple[int, int]:
    """``(principal_fen, fee_fen)`` a settled collection booked, read from the legs of its own
    journal entry (Cr loans receivable, Cr fee income): the entry a return reverses.

    The instruction's own ``principal_fen``/``fee_fen`` are what was asked for, not what was
    booked (a partial collection pays the fee first), and the instalment's running totals
    mix in every other collection of it, so neither can say how this one was split."""
    journal_id = instruction.journal_transaction_id or _journal_id(
        session, instruction.end_to_end_id, TransactionKind.REPAYMENT
    )
    if journal_id is None:
        raise Conflict(
            f"扣款 {instruction.end_to_end_id} 没有入账凭证，无法按原入账冲回本金和占用费",
            f"collection {instruction.end_to_end_id} has no journal entry: what it booked as "
            "principal and fee is unknown, so its return cannot be undone",
        )
    principal = fee = 0
    for account, debit_fen, credit_fen in session.execute(
        select(LedgerAccount.code, JournalLeg.debit_fen, JournalLeg.credit_fen)
        .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
        .where(JournalLeg.transaction_id == journal_id)
    ):
        if account == AccountCode.LOANS_RECEIVABLE:
            principal += credit_fen - debit_fen
        elif account == AccountCode.FEE_INCOME:
            fee += credit_fen - debit_fen
    return principal, fee


def _returned(
    session: Session,
    instruction: PaymentInstruction,
    business_date: date,
    reason: str,
    reason_code: str | None,
    inbound_file_id: int,
    zh: str,
    en: str,
) -> str:
    transition(
        session,
        instruction,
        InstructionStatus.RETURNED,
        business_date=business_date,
        cause=reason,
        inbound_file_id=inbound_file_id,
    )
    follow_up(
        session,
        FollowUpKind.RETURNED_AFTER_SETTLEMENT,
        business_date=business_date,
        instruction=instruction,
        inbound_file_id=inbound_file_id,
        amount_fen=instruction.settled_amount_fen,
        reason_code=reason_code,
        message_zh=zh,
        message_en=en,
    )
    return "returned"
