"""The policy rules from the seeds, checked when a loan is applied for, approved and released.

Each check raises :class:`~gateway.errors.RuleViolation` with a stable ``code`` and a message a
treasurer understands (Chinese first, English after). The county's own settings (cap, county
approval threshold, guarantors, notice days, credit-grade table, cash mode) drive them; the
credit-grade limit follows the member's stored grade (see :func:`credit_standing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.money import format_yuan
from gateway.errors import RuleViolation
from gateway.grading.ladder import ladder
from gateway.grading.models import MemberCreditReview
from gateway.labels import state_zh
from gateway.ledger.models import AccountCode, LedgerChannel
from gateway.ledger.service import balance
from gateway.ledger.service import check_channel as ledger_check_channel
from gateway.loans.models import COMMITTED_STATUSES, OUTSTANDING_STATUSES, Loan, LoanStatus
from gateway.members.models import Member, MemberStatus
from gateway.org.models import Association, AssociationStatus, County


def _yuan(fen: int) -> str:
    return format_yuan(fen)


def check_association_active(association: Association) -> None:
    if association.status != AssociationStatus.ACTIVE:
        raise RuleViolation(
            f"协会“{association.name}”当前状态为{state_zh(association.status)}，不能办理借款",
            f"association {association.code} is {association.status.value}: no new loans",
            code="association_not_active",
        )


def not_a_member(member_id: int, *, guarantor: bool) -> RuleViolation:
    """The refusal of a borrower or guarantor who is not a member of the association: the
    same whether the id is another association's or county's member or nobody's, naming
    only the id the caller gave (never the person's name or member number)."""
    if guarantor:
        return RuleViolation(
            f"担保人（会员 ID {member_id}）不是本协会会员",
            f"guarantor (member id {member_id}) is not a member of this association",
            code="guarantor_invalid",
            field="guarantor_ids",
        )
    return RuleViolation(
        f"借款人不是本协会会员（会员 ID {member_id}）：互助资金不得跨村使用",
        f"the borrower (member id {member_id}) is not a member of this association: "
        "funds never cross villages",
        code="borrower_not_member",
        field="member_id",
    )


def association_member(
    session: Session, association: Association, member_id: int, *, guarantor: bool
) -> Member:
    """The member ``member_id`` of ``association``; refused with :func:`not_a_member` when
    there is none, or the member is another association's."""
    member = session.get(Member, member_id)
    if member is None or member.association_id != association.id:
        raise not_a_member(member_id, guarantor=guarantor)
    return member


def check_borrower(session: Session, association: Association, member: Member) -> None:
    """The borrower is an active member of this very association (funds never cross villages)
    and is not in arrears: a member with an overdue loan gets no new money until it is caught
    up, as such a member may not guarantee one either (:func:`check_guarantors`)."""
    if member.association_id != association.id:
        raise not_a_member(member.id, guarantor=False)
    if member.status != MemberStatus.ACTIVE:
        raise RuleViolation(
            f"借款人 {member.name} 不是正常状态的会员",
            f"the borrower {member.member_no} is not an active member",
            code="borrower_not_active",
        )
    overdue = overdue_contracts(session, member.id)
    if overdue:
        listed = "、".join(overdue)
        raise RuleViolation(
            f"借款人 {member.name} 有逾期借款 {listed}，还清逾期款项前不能再借款",
            f"the borrower {member.member_no} has an overdue loan ({', '.join(overdue)}): no "
            "new loan until the overdue instalments are paid",
            code="borrower_in_arrears",
            overdue_contracts=overdue,
        )


def check_amount_cap(county: County, amount_fen: int) -> None:
    if amount_fen > county.loan_cap_fen:
        raise RuleViolation(
            f"单笔借款 {_yuan(amount_fen)} 元超过上限 {_yuan(county.loan_cap_fen)} 元",
            f"a loan of {_yuan(amount_fen)} yuan exceeds the cap of "
            f"{_yuan(county.loan_cap_fen)} yuan",
            code="amount_over_cap",
            amount_fen=amount_fen,
            cap_fen=county.loan_cap_fen,
        )


def needs_county_approval(county: County, amount_fen: int) -> bool:
    return amount_fen > county.county_approval_above_fen


def check_county_approval(county: County, loan: Loan) -> None:
    if needs_county_approval(county, loan.amount_fen) and loan.county_approved_on is None:
        raise RuleViolation(
            f"借款超过 {_yuan(county.county_approval_above_fen)} 元，须经县级审批后方可放款",
            f"a loan above {_yuan(county.county_approval_above_fen)} yuan needs a recorded "
            "county approval",
            code="county_approval_required",
        )


def overdue_contracts(session: Session, member_id: int) -> list[str]:
    """The contract numbers of the member's loans that are overdue right now: an instalment
    fell due unpaid and is not caught up yet (gateway.payments marks and clears it)."""
    return list(
        session.scalars(
            select(Loan.contract_no)
            .where(Loan.member_id == member_id, Loan.status == LoanStatus.OVERDUE)
            .order_by(Loan.contract_no)
        )
    )


def in_arrears(session: Session, member_id: int) -> bool:
    """Whether the member has an overdue loan right now."""
    return bool(overdue_contracts(session, member_id))


def check_guarantors(
    session: Session,
    county: County,
    association: Association,
    borrower: Member,
    guarantors: Sequence[Member],
) -> None:
    """Three-household joint guarantee (三户联保): enough guarantors, each an active member of
    the same association, each from another household, none of them in arrears."""
    needed = county.guarantors_required
    if len(guarantors) < needed:
        raise RuleViolation(
            f"三户联保须另有 {needed} 户担保，现仅 {len(guarantors)} 户",
            f"the joint guarantee needs {needed} guarantors from other households, "
            f"got {len(guarantors)}",
            code="guarantee_insufficient",
        )
    households = {borrower.household_no}
    seen: set[int] = set()
    for guarantor in guarantors:
        if guarantor.id == borrower.id:
            raise RuleViolation(
                "借款人不能为自己担保",
                "the borrower cannot guarantee their own loan",
                code="guarantor_invalid",
            )
        if guarantor.id in seen:
            raise RuleViolation(
                f"担保人 {guarantor.name} 填写了两次，同一人只能作为一户担保",
                f"guarantor {guarantor.member_no} is given twice: the same person guarantees once",
                code="guarantor_twice",
                field="guarantor_ids",
            )
        seen.add(guarantor.id)
        if guarantor.association_id != association.id:
            raise not_a_member(guarantor.id, guarantor=True)
        if guarantor.status != MemberStatus.ACTIVE:
            raise RuleViolation(
                f"担保人 {guarantor.name} 不是正常状态的会员",
                f"guarantor {guarantor.member_no} is not an active member",
                code="guarantor_invalid",
            )
        if guarantor.household_no in households:
            raise RuleViolation(
                f"担保人 {guarantor.name} 与借款人或其他担保人同户，联保须来自不同农户",
                f"guarantor {guarantor.member_no} is from a household already in the guarantee",
                code="guarantor_same_household",
            )
        households.add(guarantor.household_no)
        if in_arrears(session, guarantor.id):
            raise RuleViolation(
                f"担保人 {guarantor.name} 本人有逾期借款，不能担保",
                f"guarantor {guarantor.member_no} is in arrears and cannot guarantee",
                code="guarantor_in_arrears",
            )


@dataclass(frozen=True)
class CreditStanding:
    """A member's credit grade, the limit it carries, and the year of their latest review
    (``None`` while the member has never been reviewed)."""

    grade: str
    limit_fen: int
    reviewed_year: int | None


def credit_standing(session: Session, county: County, member: Member) -> CreditStanding:
    """The member's limit: what the county's credit-grade table gives their stored grade.

    The stored ``Member.credit_grade`` is the single source of truth. A member starts at the
    county's entry grade; the yearly review (:func:`gateway.grading.service.review_year`)
    moves on-time repayers up and late repayers down, and an adjustment between reviews
    (:func:`gateway.grading.service.adjust_grade`) is audited like a review. Repayments
    never change the grade, so a downgrade holds until the next review. The limit is read
    from the county's current table, so a county that changes its table changes the limit
    of every member at that grade from then on."""
    limit_fen = ladder(session, county.id).limit_of(member.credit_grade)
    reviewed_year = session.scalar(
        select(func.max(MemberCreditReview.year)).where(MemberCreditReview.member_id == member.id)
    )
    return CreditStanding(
        grade=member.credit_grade, limit_fen=limit_fen, reviewed_year=reviewed_year
    )


def member_exposure_fen(session: Session, member_id: int, exclude_loan_id: int | None) -> int:
    """What the member owes or has approved: outstanding principal plus unpaid approvals."""
    query = select(func.coalesce(func.sum(Loan.amount_fen - Loan.principal_repaid_fen), 0)).where(
        Loan.member_id == member_id,
        Loan.status.in_([*OUTSTANDING_STATUSES, *COMMITTED_STATUSES]),
    )
    if exclude_loan_id is not None:
        query = query.where(Loan.id != exclude_loan_id)
    return int(session.scalar(query) or 0)


def check_credit_limit(
    session: Session,
    county: County,
    member: Member,
    amount_fen: int,
    exclude_loan_id: int | None = None,
) -> CreditStanding:
    standing = credit_standing(session, county, member)
    exposure = member_exposure_fen(session, member.id, exclude_loan_id)
    if exposure + amount_fen > standing.limit_fen:
        if standing.reviewed_year is None:
            reviewed_zh, reviewed_en = "尚未评定", "not reviewed yet"
        else:
            reviewed_zh = f"最近一次评定为 {standing.reviewed_year} 年度"
            reviewed_en = f"last reviewed for {standing.reviewed_year}"
        raise RuleViolation(
            f"信用等级 {standing.grade} 的借款限额为 {_yuan(standing.limit_fen)} 元，"
            f"本笔 {_yuan(amount_fen)} 元加未还 {_yuan(exposure)} 元超过限额"
            f"（信用等级每年评定一次，按期还款者升级、限额随之提高；{reviewed_zh}）",
            f"credit grade {standing.grade} allows {_yuan(standing.limit_fen)} yuan; this loan "
            f"of {_yuan(amount_fen)} plus {_yuan(exposure)} still owed exceeds it "
            f"(grades are reviewed yearly: on-time repayers go up and their limit grows; "
            f"{reviewed_en})",
            code="credit_limit_exceeded",
            grade=standing.grade,
            limit_fen=standing.limit_fen,
        )
    return standing


def notice_end(county: County, notice_start: date) -> date:
    return notice_start + timedelta(days=county.notice_days)


def check_notice_elapsed(county: County, loan: Loan, today: date) -> None:
    """Money moves only once the public notice has run its full period."""
    if loan.notice_start is None:
        raise RuleViolation(
            "借款尚未公告公示", "the loan has not been publicly noticed", code="notice_missing"
        )
    ends = notice_end(county, loan.notice_start)
    if today < ends:
        raise RuleViolation(
            f"公示期 {county.notice_days} 天未满，{ends.isoformat()} 起方可放款",
            f"the {county.notice_days}-day public notice runs until {ends.isoformat()}",
            code="notice_not_elapsed",
            notice_end=ends.isoformat(),
        )


def committed_fen(session: Session, association_id: int, exclude_loan_id: int | None) -> int:
    """Loans approved but not yet paid out: money the sub-account has promised."""
    query = select(func.coalesce(func.sum(Loan.amount_fen), 0)).where(
        Loan.association_id == association_id, Loan.status.in_(COMMITTED_STATUSES)
    )
    if exclude_loan_id is not None:
        query = query.where(Loan.id != exclude_loan_id)
    return int(session.scalar(query) or 0)


def available_fen(session: Session, association_id: int, exclude_loan_id: int | None) -> int:
    on_book = balance(session, association_id, AccountCode.BANK_SUB_ACCOUNT)
    return on_book - committed_fen(session, association_id, exclude_loan_id)


def check_coverage(
    session: Session, association: Association, amount_fen: int, exclude_loan_id: int | None
) -> None:
    """The sub-account covers this loan after every other approved-but-unpaid loan.

    Call with the association row locked (see ``lock_association``)."""
    available = available_fen(session, association.id, exclude_loan_id)
    if amount_fen > available:
        raise RuleViolation(
            f"子账户可用余额 {_yuan(max(available, 0))} 元不足以发放 {_yuan(amount_fen)} 元"
            "（已扣除已批准未放款的借款）",
            f"the sub-account has {_yuan(max(available, 0))} yuan available after approved "
            f"loans, not enough for {_yuan(amount_fen)} yuan",
            code="insufficient_funds",
            available_fen=available,
        )


def check_channel(session: Session, association: Association, channel: LedgerChannel) -> bool:
    """Cash is refused unless the county is in transitional mode; returns the cash flag."""
    return ledger_check_channel(session, association.id, channel)
