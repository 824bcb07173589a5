"""Creating and reading counties, towns, banks, special accounts and associations."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.errors import Conflict, NotFound, RuleViolation, ValidationFailed
from gateway.labels import state_zh
from gateway.ledger.service import open_chart
from gateway.org.models import (
    AccountLevel,
    Association,
    AssociationGrade,
    AssociationStatus,
    Bank,
    County,
    CreditGradeLimit,
    PilotLevel,
    SpecialAccount,
    Town,
)
from gateway.settings import PolicyDefaults


def _required(value: str, what_zh: str, what_en: str) -> str:
    """A code, name or number as it is kept: without surrounding spaces (a look-up by code
    would miss "DG " typed for "DG"), and never empty."""
    kept = value.strip()
    if not kept:
        raise ValidationFailed(f"{what_zh}不能为空", f"{what_en} must not be empty")
    return kept


def create_county(
    session: Session,
    *,
    code: str,
    name: str,
    fund_office_name: str,
    policy: PolicyDefaults,
    fund_office_contact: str = "",
    actor: str = "system",
) -> County:
    """A county with its fund office, starting from the given policy defaults."""
    code = _required(code, "县代码", "the county's code")
    name = _required(name, "县名称", "the county's name")
    fund_office_name = _required(fund_office_name, "互助资金办名称", "the fund office's name")
    if session.scalar(select(County.id).where(County.code == code)) is not None:
        raise Conflict(f"县代码 {code} 已存在", f"county {code} already exists")
    county = County(
        code=code,
        name=name,
        fund_office_name=fund_office_name,
        fund_office_contact=fund_office_contact,
        loan_cap_fen=policy.loan_cap_fen,
        county_approval_above_fen=policy.county_approval_above_fen,
        notice_days=policy.notice_days,
        guarantors_required=policy.guarantors_required,
        cash_mode=policy.cash_mode,
    )
    session.add(county)
    session.flush()
    for step in policy.credit_grades:
        session.add(
            CreditGradeLimit(
                county_id=county.id,
                grade=step.grade,
                min_on_time_loans=step.min_on_time_loans,
                limit_fen=step.limit_fen,
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="county.create",
        object_type="county",
        object_id=county.id,
        payload={"code": code, "name": name, "policy": policy.model_dump(mode="json")},
    )
    return county


def create_town(
    session: Session, county: County, *, code: str, name: str, actor: str = "system"
) -> Town:
    """A town of ``county``; its code is unique within the county."""
    code = _required(code, "乡镇代码", "the town's code")
    name = _required(name, "乡镇名称", "the town's name")
    taken = session.scalar(select(Town.id).where(Town.county_id == county.id, Town.code == code))
    if taken is not None:
        raise Conflict(
            f"县 {county.code} 已有乡镇代码 {code}",
            f"county {county.code} already has a town {code}",
        )
    town = Town(county_id=county.id, code=code, name=name)
    session.add(town)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="town.create",
        object_type="town",
        object_id=town.id,
        county_id=county.id,
        payload={"county": county.code, "code": code, "name": name},
    )
    return town


def create_bank(session: Session, *, code: str, name: str, actor: str = "system") -> Bank:
    """A cooperative bank; its code names its file layout, ``config/banks/<code>.toml``."""
    code = _required(code, "银行代码", "the bank's code")
    name = _required(name, "银行名称", "the bank's name")
    if session.scalar(select(Bank.id).where(Bank.code == code)) is not None:
        raise Conflict(f"银行代码 {code} 已存在", f"bank {code} already exists")
    bank = Bank(code=code, name=name)
    session.add(bank)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="bank.create",
        object_type="bank",
        object_id=bank.id,
        payload={"code": code, "name": name},
    )
    return bank


def get_or_create_bank(session: Session, *, code: str, name: str, actor: str = "system") -> Bank:
    bank = session.scalar(select(Bank).where(Bank.code == code))
    if bank is None:
        bank = create_bank(session, code=code, name=name, actor=actor)
    return bank


def create_special_account(
    session: Session,
    county: County,
    bank: Bank,
    *,
    account_number: str,
    name: str,
    level: AccountLevel = AccountLevel.COUNTY,
    town: Town | None = None,
    actor: str = "system",
) -> SpecialAccount:
    """A county's special account at ``bank``: county-level, or town-level with its town.

    An account number is unique at its bank (two banks may each have the same number)."""
    account_number = _required(account_number, "专户账号", "the account number")
    name = _required(name, "专户名称", "the account's name")
    if level == AccountLevel.TOWN and town is None:
        raise Conflict("镇级专户须指明乡镇", "a town-level special account needs its town")
    if level == AccountLevel.COUNTY and town is not None:
        raise Conflict(
            "县级专户不属于某个乡镇", "a county-level special account belongs to no town"
        )
    if town is not None and town.county_id != county.id:
        raise Conflict(
            f"乡镇 {town.code} 不属于县 {county.code}",
            f"town {town.code} is not in county {county.code}",
        )
    taken = session.scalar(
        select(SpecialAccount.id).where(
            SpecialAccount.bank_id == bank.id, SpecialAccount.account_number == account_number
        )
    )
    if taken is not None:
        raise Conflict(
            f"银行 {bank.code} 已有专户账号 {account_number}",
            f"bank {bank.code} already has a special account {account_number}",
        )
    account = SpecialAccount(
        county_id=county.id,
        bank_id=bank.id,
        town_id=town.id if town else None,
        level=level,
        account_number=account_number,
        name=name,
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="special_account.create",
        object_type="special_account",
        object_id=account.id,
        payload={
            "county": county.code,
            "bank": bank.code,
            "account_number": account_number,
            "name": name,
            "level": level.value,
            "town": town.code if town else None,
        },
    )
    return account


def create_association(
    session: Session,
    *,
    code: str,
    name: str,
    town: Town,
    special_account: SpecialAccount,
    sub_account_number: str,
    pilot_level: PilotLevel,
    start_date: date,
    grade: AssociationGrade | None = None,
    actor: str = "system",
) -> Association:
    """An association with its sub-account and its chart of accounts."""
    code = _required(code, "协会代码", "the association's code")
    name = _required(name, "协会名称", "the association's name")
    sub_account_number = _required(sub_account_number, "子账户账号", "the sub-account number")
    if session.scalar(select(Association.id).where(Association.code == code)) is not None:
        raise Conflict(f"协会代码 {code} 已存在", f"association {code} already exists")
    if special_account.county_id != town.county_id:
        raise Conflict(
            "专户与乡镇不属于同一县", "the special account and the town are in different counties"
        )
    if special_account.town_id is not None and special_account.town_id != town.id:
        raise Conflict(
            f"专户 {special_account.account_number} 是另一乡镇的镇级专户",
            f"special account {special_account.account_number} is another town's town-level "
            "account",
        )
    taken = session.scalar(
        select(Association.code).where(Association.sub_account_number == sub_account_number)
    )
    if taken is not None:
        raise Conflict(
            f"子账户 {sub_account_number} 已属于协会 {taken}",
            f"sub-account {sub_account_number} already belongs to association {taken}",
        )
    association = Association(
        code=code,
        name=name,
        town_id=town.id,
        special_account_id=special_account.id,
        sub_account_number=sub_account_number,
        pilot_level=pilot_level,
        start_date=start_date,
        status=AssociationStatus.ACTIVE,
        grade=grade,
    )
    session.add(association)
    session.flush()
    open_chart(session, association.id)
    audit.record(
        session,
        actor=actor,
        action="association.create",
        chain=audit.association_chain(association.id),
        object_type="association",
        object_id=association.id,
        payload={
            "code": code,
            "name": name,
            "town": town.code,
            "sub_account_number": sub_account_number,
            "pilot_level": pilot_level.value,
            "start_date": start_date.isoformat(),
        },
    )
    return association


def get_association(session: Session, association_id: int) -> Association:
    found = session.get(Association, association_id)
    if found is None:
        raise NotFound("协会不存在", f"association {association_id} not found")
    return found


def get_association_by_code(session: Session, code: str) -> Association:
    found = session.scalar(select(Association).where(Association.code == code))
    if found is None:
        raise NotFound(f"协会 {code} 不存在", f"association {code} not found", code_value=code)
    return found


def lock_association(session: Session, association_id: int) -> Association:
    """Lock the association's row for the rest of the transaction (``SELECT ... FOR UPDATE``
    on PostgreSQL), so decisions about its sub-account are taken one at a time."""
    found = session.execute(
        select(Association)
        .where(Association.id == association_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("协会不存在", f"association {association_id} not found")
    return found


def set_association_status(
    session: Session, association_id: int, status: AssociationStatus, *, actor: str, reason: str
) -> Association:
    association = lock_association(session, association_id)
    before = association.status
    association.status = status
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="association.status",
        chain=audit.association_chain(association.id),
        object_type="association",
        object_id=association.id,
        payload={"from": before.value, "to": status.value, "reason": reason},
    )
    return association


# An association in these states is being wound up or was (撤销): English words for its state.
WOUND_UP: dict[AssociationStatus, str] = {
    AssociationStatus.LIQUIDATING: "being liquidated",
    AssociationStatus.CLOSED: "closed",
}


def check_takes_in(association: Association, *, taking_zh: str, taking_en: str) -> None:
    """Refuse an intake (new capital, a member's deposit, a new member) into an association
    being liquidated or closed, with the code ``association_liquidating`` or
    ``association_closed``. The Linyi notice returns a dissolved association's fiscal capital
    in full and refunds each member's deposit, so nothing new comes in once the liquidation
    has started. Collecting what borrowers still owe is no intake and goes on, and so do the
    liquidation's own postings.

    ``taking_zh`` and ``taking_en`` say what is refused: "不再登记新会员" and
    "registers no new members", say."""
    state_en = WOUND_UP.get(association.status)
    if state_en is None:
        return
    raise RuleViolation(
        f"协会“{association.name}”{state_zh(association.status)}，{taking_zh}"
        "（撤销的协会财政资金全部收回，会员互助金等额退还会员）",
        f"association {association.code} is {state_en}: it {taking_en} (a dissolved "
        "association returns its fiscal capital and refunds each member's deposit)",
        code=f"association_{association.status.value}",
        association_id=association.id,
        status=association.status.value,
    )


def associations_of_county(session: Session, county_id: int) -> list[Association]:
    return list(
        session.scalars(
            select(Association)
            .join(Town, Town.id == Association.town_id)
            .where(Town.county_id == county_id)
            .order_by(Association.code)
        )
    )
