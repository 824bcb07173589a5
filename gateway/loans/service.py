"""The loan lifecycle: apply → notice → council approval → (county approval) → release for
payment → disbursed → repaying/overdue → repaid, or rejected/cancelled/written off. The
approvals may be given while the public notice runs; the release waits until it has ended.

Every step re-checks the rules it depends on, locks the association row before any decision
about its sub-account, writes an audit event, and never commits.

Payment instructions are not built here: a caller that releases a loan for payment passes an
``on_released`` callback (or calls :func:`release_for_payment` and then creates the
instruction in the same transaction). When the bank confirms or refuses the payment, it calls
:func:`mark_disbursed` or :func:`payment_failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.errors import Conflict, NotFound, RuleViolation, ValidationFailed
from gateway.labels import state_zh
from gateway.ledger.models import AccountCode, LedgerChannel, TransactionKind
from gateway.ledger.service import Posting, county_of, post
from gateway.loans import rules
from gateway.loans.models import Loan, LoanGuarantor, LoanStatus
from gateway.loans.schemas import LoanApplication
from gateway.members.models import Member
from gateway.members.service import get_member
from gateway.org.service import get_association, lock_association

ReleaseHook = Callable[[Session, Loan], None]

APPROVED_STATUSES = (LoanStatus.COUNCIL_APPROVED, LoanStatus.COUNTY_APPROVED)


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def fee_fen(amount_fen: int, monthly_fee_rate_centipermille: int, months: int) -> int:
    """Usage fee for ``months`` at a monthly rate in hundredths of a per mille, rounded half up
    to the fen; integer arithmetic only."""
    numerator = amount_fen * monthly_fee_rate_centipermille * months
    quotient, remainder = divmod(numerator, 100_000)
    return quotient + (1 if remainder * 2 >= 100_000 else 0)


def get_loan(session: Session, loan_id: int) -> Loan:
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound("借款不存在", f"loan {loan_id} not found")
    return loan


def _require_status(loan: Loan, *allowed: LoanStatus) -> None:
    if loan.status not in allowed:
        raise Conflict(
            f"借款 {loan.contract_no} 当前状态为{state_zh(loan.status)}，不能办理此操作",
            f"loan {loan.contract_no} is {loan.status.value}; expected one of "
            + ", ".join(s.value for s in allowed),
            code="wrong_loan_status",
        )


def _guarantors(session: Session, loan: Loan) -> list[Member]:
    return [g.member for g in loan.guarantors]


def _audit(session: Session, loan: Loan, action: str, actor: str, **extra: object) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"loan.{action}",
        chain=audit.association_chain(loan.association_id),
        object_type="loan",
        object_id=loan.id,
        payload={
            "contract_no": loan.contract_no,
            "association_id": loan.association_id,
            "amount_fen": loan.amount_fen,
            "status": loan.status.value,
            **extra,
        },
    )


def apply(
    session: Session, association_id: int, application: LoanApplication, *, actor: str = "system"
) -> Loan:
    """Record a loan application with its guarantors, refusing it if a rule is broken."""
    if (
        isinstance(application.amount_fen, bool)
        or not isinstance(application.amount_fen, int)
        or application.amount_fen <= 0
    ):
        raise ValidationFailed(
            "借款金额必须是正整数（分）", f"amount must be positive fen: {application.amount_fen!r}"
        )
    if application.term_months <= 0 or application.monthly_fee_rate_centipermille < 0:
        raise ValidationFailed("借款期限或费率无效", "invalid term or fee rate")
    if session.scalar(select(Loan.id).where(Loan.contract_no == application.contract_no)):
        raise Conflict(
            f"借款合同号 {application.contract_no} 已存在",
            f"contract {application.contract_no} exists",
        )
    association = get_association(session, association_id)
    county = county_of(session, association_id)
    # one outside the association is answered as an id no member has, naming nobody
    borrower = rules.association_member(
        session, association, application.member_id, guarantor=False
    )
    guarantors = [
        rules.association_member(session, association, gid, guarantor=True)
        for gid in application.guarantor_ids
    ]
    rules.check_association_active(association)
    if application.applied_on < association.start_date:
        raise RuleViolation(
            f"申请日期 {application.applied_on.isoformat()} 早于协会成立日期 "
            f"{association.start_date.isoformat()}",
            f"the application date {application.applied_on.isoformat()} is before the "
            f"association was founded, {association.start_date.isoformat()}",
            code="date_before_founding",
        )
    for member, role_zh, role_en in [
        (borrower, "借款人", "the borrower"),
        *((g, "担保人", "guarantor") for g in guarantors),
    ]:
        if application.applied_on < member.joined_on:
            raise RuleViolation(
                f"申请日期 {application.applied_on.isoformat()} 早于{role_zh} {member.name} "
                f"的入会日期 {member.joined_on.isoformat()}",
                f"the application date {application.applied_on.isoformat()} is before "
                f"{role_en} {member.member_no} joined, {member.joined_on.isoformat()}",
                code="date_before_joining",
                earliest=member.joined_on.isoformat(),
            )
    rules.check_borrower(session, association, borrower)
    rules.check_amount_cap(county, application.amount_fen)
    rules.check_guarantors(session, county, association, borrower, guarantors)
    rules.check_credit_limit(session, county, borrower, application.amount_fen)
    cash_flagged = rules.check_channel(session, association, application.channel)
    loan = Loan(
        association_id=association.id,
        member_id=borrower.id,
        contract_no=application.contract_no,
        purpose=application.purpose,
        amount_fen=application.amount_fen,
        term_months=application.term_months,
        monthly_fee_rate_centipermille=application.monthly_fee_rate_centipermille,
        channel=application.channel,
        cash_flagged=cash_flagged,
        status=LoanStatus.APPLIED,
        applied_on=application.applied_on,
        principal_repaid_fen=0,
        fee_paid_fen=0,
        was_overdue=False,
    )
    session.add(loan)
    session.flush()
    for guarantor in guarantors:
        session.add(LoanGuarantor(loan_id=loan.id, member_id=guarantor.id))
    session.flush()
    session.refresh(loan)
    _audit(
        session,
        loan,
        "apply",
        actor,
        member_id=borrower.id,
        guarantor_ids=[g.id for g in guarantors],
        channel=application.channel.value,
        cash_flagged=cash_flagged,
    )
    return loan


def check_step_date(loan: Loan, on: date, today: date, *, recorded_on: date | None = None) -> None:
    """A date a caller gives for a loan step lies between the application and the server's
    business date ``today``: never before ``loan.applied_on`` (nor before ``recorded_on``, the
    day the application reached the system, when given) and never after today."""
    floor = max(loan.applied_on, recorded_on) if recorded_on is not None else loan.applied_on
    if on < floor:
        raise RuleViolation(
            f"借款 {loan.contract_no} 的办理日期 {on.isoformat()} 早于申请登记日期 "
            f"{floor.isoformat()}，不能倒签",
            f"loan {loan.contract_no}: the date {on.isoformat()} is before the application "
            f"was recorded on {floor.isoformat()}; steps cannot be backdated",
            code="date_before_application",
            earliest=floor.isoformat(),
        )
    if on > today:
        raise RuleViolation(
            f"借款 {loan.contract_no} 的办理日期 {on.isoformat()} 晚于今天 {today.isoformat()}",
            f"loan {loan.contract_no}: the date {on.isoformat()} is after today, "
            f"{today.isoformat()}",
            code="date_in_future",
            latest=today.isoformat(),
        )


def start_notice(
    session: Session,
    loan_id: int,
    *,
    on: date,
    actor: str = "system",
    today: date | None = None,
) -> Loan:
    """Put the loan up for public notice (公告公示) from ``on``.

    The notice never starts before the application; with ``today`` (the server's business
    date) it never starts after it either. The HTTP API passes the server's date for both
    unless a back-office caller gives an earlier ``on`` within that window."""
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.APPLIED)
    check_step_date(loan, on, on if today is None else today)
    county = county_of(session, loan.association_id)
    loan.notice_start = on
    loan.notice_end = rules.notice_end(county, on)
    loan.status = LoanStatus.NOTICED
    session.flush()
    _audit(session, loan, "notice", actor, notice_start=on.isoformat())
    return loan


def _check_for_money(
    session: Session, loan: Loan, days: tuple[date, ...], *, releasing: bool
) -> None:
    """Every rule money depends on; when releasing, the notice has run its period by each of
    ``days`` (the release date and the server's business date)."""
    association = lock_association(session, loan.association_id)
    county = county_of(session, loan.association_id)
    borrower = get_member(session, loan.member_id)
    rules.check_association_active(association)
    rules.check_borrower(session, association, borrower)
    rules.check_amount_cap(county, loan.amount_fen)
    rules.check_guarantors(session, county, association, borrower, _guarantors(session, loan))
    rules.check_credit_limit(session, county, borrower, loan.amount_fen, exclude_loan_id=loan.id)
    rules.check_channel(session, association, loan.channel)
    if releasing:
        rules.check_county_approval(county, loan)
        for day in days:
            rules.check_notice_elapsed(county, loan, day)
    rules.check_coverage(session, association, loan.amount_fen, exclude_loan_id=loan.id)


def council_approve(session: Session, loan_id: int, *, on: date, actor: str = "system") -> Loan:
    """The council (理事会) approves: the sub-account must cover it after other approvals.

    The loan must be on public notice; the council may approve while the notice runs or after
    it ends. What waits for the notice is the money: :func:`release_for_payment` refuses until
    the notice has run its full period, and an objection raised meanwhile can still reject or
    cancel the approved loan.

    The association row is locked first, so two approvals against one sub-account are decided
    one after the other and can never overcommit it."""
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.NOTICED)
    _check_for_money(session, loan, (on,), releasing=False)
    loan.status = LoanStatus.COUNCIL_APPROVED
    loan.council_approved_on = on
    loan.council_approved_by = actor
    session.flush()
    _audit(session, loan, "council_approve", actor, on=on.isoformat())
    return loan


def county_approve(session: Session, loan_id: int, *, on: date, actor: str = "system") -> Loan:
    """The county fund office approves a large loan (above the county threshold)."""
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.COUNCIL_APPROVED)
    county = county_of(session, loan.association_id)
    if not rules.needs_county_approval(county, loan.amount_fen):
        raise Conflict(
            "该笔借款未超过县级审批额度，无须县级审批",
            "this loan is below the county approval threshold",
            code="county_approval_not_needed",
        )
    loan.status = LoanStatus.COUNTY_APPROVED
    loan.county_approved_on = on
    loan.county_approved_by = actor
    session.flush()
    _audit(session, loan, "county_approve", actor, on=on.isoformat())
    return loan


def release_for_payment(
    session: Session,
    loan_id: int,
    *,
    on: date,
    actor: str = "system",
    on_released: ReleaseHook | None = None,
    today: date | None = None,
) -> Loan:
    """Check every rule once more and release the loan to the bank for payment on ``on``.

    ``today`` is the server's business date (the HTTP API always passes it): the release
    date may not be later, and the public notice must have run its full period, counted
    from its stored start, by today as well as by the release date.

    ``on_released(session, loan)`` runs in the same transaction right after the status
    change: the payment side creates its disbursement instruction there. If it raises,
    the whole release is rolled back with the caller's transaction."""
    loan = get_loan(session, loan_id)
    _require_status(loan, *APPROVED_STATUSES)
    if today is not None:
        check_step_date(loan, on, today)
    days = (on,) if today is None or today == on else (today, on)
    _check_for_money(session, loan, days, releasing=True)
    loan.status = LoanStatus.RELEASED
    loan.released_on = on
    session.flush()
    _audit(session, loan, "release", actor, on=on.isoformat())
    if on_released is not None:
        on_released(session, loan)
    return loan


def payment_failed(session: Session, loan_id: int, *, reason: str, actor: str = "system") -> Loan:
    """The bank refused or returned the payment: the loan goes back to approved."""
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.RELEASED)
    loan.status = (
        LoanStatus.COUNTY_APPROVED if loan.county_approved_on else LoanStatus.COUNCIL_APPROVED
    )
    loan.released_on = None
    session.flush()
    _audit(session, loan, "payment_failed", actor, reason=reason)
    return loan


def mark_disbursed(
    session: Session,
    loan_id: int,
    *,
    business_date: date,
    external_ref: str | None = None,
    actor: str = "system",
) -> Loan:
    """The bank paid the loan onto the borrower's card: book it (Dr loans receivable, Cr bank)."""
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.RELEASED)
    paying_side = (
        AccountCode.CASH_ON_HAND
        if loan.channel == LedgerChannel.CASH
        else AccountCode.BANK_SUB_ACCOUNT
    )
    post(
        session,
        association_id=loan.association_id,
        business_date=business_date,
        description=f"发放借款 {loan.contract_no}",
        kind=TransactionKind.DISBURSEMENT,
        legs=[
            Posting.debit(AccountCode.LOANS_RECEIVABLE, loan.amount_fen, loan.contract_no),
            Posting.credit(paying_side, loan.amount_fen, loan.contract_no),
        ],
        channel=loan.channel,
        external_ref=external_ref or loan.contract_no,
        actor=actor,
    )
    loan.status = LoanStatus.DISBURSED
    loan.disbursed_on = business_date
    loan.due_on = _add_months(business_date, loan.term_months)
    session.flush()
    _audit(session, loan, "disbursed", actor, business_date=business_date.isoformat())
    return loan


def record_repayment(
    session: Session,
    loan_id: int,
    *,
    principal_fen: int,
    fee_fen: int,
    business_date: date,
    external_ref: str | None = None,
    channel: LedgerChannel = LedgerChannel.TRANSFER,
    actor: str = "system",
    due_by: date | None = None,
) -> Loan:
    """A repayment collected into the sub-account: Dr bank, Cr loans receivable and fee income.

    When the principal is fully repaid the loan is repaid, on time if it was never overdue
    and paid by ``due_by`` (its due date unless the caller knows better: a collection the
    system itself made when the loan fell due is the borrower's payment on time, whichever
    banking day the bank booked it). The member's credit grade is left as it is: the yearly
    review (:func:`gateway.grading.service.review_year`) counts this repayment, on time or
    late."""
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.DISBURSED, LoanStatus.REPAYING, LoanStatus.OVERDUE)
    _check_collected(
        loan, principal_fen, fee_fen, ("还款", "repayment"), ("未还本金", "outstanding")
    )
    receiving = (
        AccountCode.CASH_ON_HAND if channel == LedgerChannel.CASH else AccountCode.BANK_SUB_ACCOUNT
    )
    legs = collected_legs(loan, receiving, principal_fen, fee_fen)
    post(
        session,
        association_id=loan.association_id,
        business_date=business_date,
        description=f"收回借款 {loan.contract_no}",
        kind=TransactionKind.REPAYMENT,
        legs=legs,
        channel=channel,
        external_ref=external_ref,
        actor=actor,
    )
    loan.principal_repaid_fen += principal_fen
    loan.fee_paid_fen += fee_fen
    after_repayment(loan, business_date, due_by=due_by)
    session.flush()
    _audit(
        session,
        loan,
        "repayment",
        actor,
        principal_fen=principal_fen,
        fee_fen=fee_fen,
        business_date=business_date.isoformat(),
    )
    return loan


def _check_collected(
    loan: Loan, principal_fen: int, fee_fen: int, act: tuple[str, str], owed: tuple[str, str]
) -> None:
    """Amounts collected on a loan: non-negative fen, not both zero, no more principal than
    it owes (``act``: repayment or recovery; ``owed``: outstanding, or written off)."""
    act_zh, act_en = act
    owed_zh, owed_en = owed
    for name, value in (("principal_fen", principal_fen), ("fee_fen", fee_fen)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationFailed("金额必须是非负整数（分）", f"{name} must be non-negative fen")
    if principal_fen + fee_fen == 0:
        raise ValidationFailed(f"{act_zh}金额不能为零", f"a {act_en} needs an amount")
    if principal_fen > loan.outstanding_principal_fen:
        raise RuleViolation(
            f"{act_zh}本金超过{owed_zh}",
            f"principal {principal_fen} exceeds the {loan.outstanding_principal_fen} {owed_en}",
            code="overpayment",
        )


def collected_legs(
    loan: Loan, receiving: AccountCode, principal_fen: int, fee_fen: int
) -> list[Posting]:
    """Dr the account that received the money; Cr loans receivable and fee income."""
    legs = [Posting.debit(receiving, principal_fen + fee_fen, loan.contract_no)]
    if principal_fen:
        legs.append(Posting.credit(AccountCode.LOANS_RECEIVABLE, principal_fen, loan.contract_no))
    if fee_fen:
        legs.append(Posting.credit(AccountCode.FEE_INCOME, fee_fen, loan.contract_no))
    return legs


def after_repayment(loan: Loan, paid_on: date, *, due_by: date | None = None) -> None:
    """The loan's state once a repayment is counted: repaid when no principal is left, on
    time if it was never overdue and paid by ``due_by`` (its due date unless the caller
    knows better); else repaying."""
    if loan.outstanding_principal_fen == 0:
        last_day = due_by or loan.due_on
        loan.status = LoanStatus.REPAID
        loan.repaid_on = paid_on
        loan.repaid_on_time = (not loan.was_overdue) and (last_day is None or paid_on <= last_day)
    elif loan.status == LoanStatus.DISBURSED:
        loan.status = LoanStatus.REPAYING


def record_recovery(
    session: Session,
    loan_id: int,
    *,
    principal_fen: int,
    fee_fen: int,
    business_date: date,
    external_ref: str,
    actor: str = "system",
) -> Loan:
    """The bank collected money on a loan already written off (a collection under way when the
    write-off was approved): a recovery of the write-off (核销后收回).

    The principal is first put back on the loan (Dr loans receivable, Cr 呆坏账核销), then
    collected like any repayment (Dr bank, Cr loans receivable and fee income), both under
    ``external_ref``: the loss shrinks by the principal recovered, the fee is income, and the
    loan counts what was repaid. The loan stays written off for what it still owes."""
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.WRITTEN_OFF)
    _check_collected(
        loan, principal_fen, fee_fen, ("收回", "recovery"), ("已核销的未还本金", "written off")
    )
    if principal_fen:
        post(
            session,
            association_id=loan.association_id,
            business_date=business_date,
            description=f"核销借款 {loan.contract_no} 收回本金，转回应收借款",
            kind=TransactionKind.WRITE_OFF_RECOVERY,
            legs=[
                Posting.debit(AccountCode.LOANS_RECEIVABLE, principal_fen, loan.contract_no),
                Posting.credit(AccountCode.WRITE_OFF, principal_fen, loan.contract_no),
            ],
            channel=LedgerChannel.INTERNAL,
            external_ref=external_ref,
            actor=actor,
        )
    legs = collected_legs(loan, AccountCode.BANK_SUB_ACCOUNT, principal_fen, fee_fen)
    post(
        session,
        association_id=loan.association_id,
        business_date=business_date,
        description=f"收回已核销借款 {loan.contract_no}",
        kind=TransactionKind.REPAYMENT,
        legs=legs,
        external_ref=external_ref,
        actor=actor,
    )
    loan.principal_repaid_fen += principal_fen
    loan.fee_paid_fen += fee_fen
    session.flush()
    _audit(
        session,
        loan,
        "recovered_after_write_off",
        actor,
        principal_fen=principal_fen,
        fee_fen=fee_fen,
        business_date=business_date.isoformat(),
        external_ref=external_ref,
    )
    return loan


def mark_overdue(session: Session, loan_id: int, *, actor: str = "system") -> Loan:
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.DISBURSED, LoanStatus.REPAYING)
    loan.status = LoanStatus.OVERDUE
    loan.was_overdue = True
    session.flush()
    _audit(session, loan, "overdue", actor)
    return loan


def reject(session: Session, loan_id: int, *, reason: str, actor: str = "system") -> Loan:
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.APPLIED, LoanStatus.NOTICED, *APPROVED_STATUSES)
    loan.status = LoanStatus.REJECTED
    loan.closing_reason = reason
    session.flush()
    _audit(session, loan, "reject", actor, reason=reason)
    return loan


def cancel(session: Session, loan_id: int, *, reason: str, actor: str = "system") -> Loan:
    loan = get_loan(session, loan_id)
    _require_status(loan, LoanStatus.APPLIED, LoanStatus.NOTICED, *APPROVED_STATUSES)
    loan.status = LoanStatus.CANCELLED
    loan.closing_reason = reason
    session.flush()
    _audit(session, loan, "cancel", actor, reason=reason)
    return loan


def loans_of(session: Session, association_id: int) -> list[Loan]:
    return list(
        session.scalars(
            select(Loan).where(Loan.association_id == association_id).order_by(Loan.contract_no)
        )
    )
