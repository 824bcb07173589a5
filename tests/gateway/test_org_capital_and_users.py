"""Organisation, capital by source, member deposits and user scopes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from gateway.auth.models import Role
from gateway.auth.service import create_user, get_user_by_name
from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit, totals_by_source
from gateway.errors import Conflict, NotFound, RuleViolation, ValidationFailed
from gateway.ledger.models import AccountCode, LedgerChannel
from gateway.ledger.service import balance
from gateway.members.models import MemberStatus
from gateway.org import service as org
from gateway.org.models import AssociationStatus, PilotLevel
from gateway.testing import World

D = date(2024, 5, 1)


def test_fiscal_capital_is_booked_by_level(world: World, session: Session) -> None:
    for source, amount in (
        (CapitalSource.PROVINCIAL, 300),
        (CapitalSource.MUNICIPAL, 200),
        (CapitalSource.COUNTY, 100),
        (CapitalSource.DONATION, 50),
        (CapitalSource.OTHER, 7),
    ):
        record_contribution(
            session, association_id=world.a.id, source=source, amount_fen=amount, received_on=D
        )
    totals = totals_by_source(session, world.a.id)
    assert totals[CapitalSource.PROVINCIAL] == 300
    assert totals[CapitalSource.CENTRAL] == 10_000_000  # booked when the world was built
    assert balance(session, world.a.id, AccountCode.FISCAL_MUNICIPAL) == 200
    assert balance(session, world.a.id, AccountCode.FISCAL_COUNTY) == 100
    assert balance(session, world.a.id, AccountCode.DONATIONS) == 50
    assert balance(session, world.a.id, AccountCode.OTHER_CAPITAL) == 7
    assert balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) == 10_000_657
    assert balance(session, world.b.id, AccountCode.FISCAL_MUNICIPAL) == 0


def test_member_deposit_is_booked_and_kept_on_the_member(world: World, session: Session) -> None:
    member = world.members_a[2]
    record_member_deposit(session, member_id=member.id, amount_fen=50_000, received_on=D)
    record_member_deposit(session, member_id=member.id, amount_fen=25_000, received_on=D)
    assert member.deposit_fen == 75_000
    assert balance(session, world.a.id, AccountCode.MEMBER_DEPOSITS) == 75_000


@pytest.mark.parametrize("amount", [0, -1, 10.5, True])
def test_capital_amounts_must_be_positive_fen(
    world: World, session: Session, amount: object
) -> None:
    with pytest.raises(ValidationFailed, match="positive integer"):
        record_contribution(
            session,
            association_id=world.a.id,
            source=CapitalSource.DONATION,
            amount_fen=amount,  # type: ignore[arg-type]
            received_on=D,
        )


def test_member_deposits_go_through_the_member(world: World, session: Session) -> None:
    with pytest.raises(ValidationFailed):
        record_contribution(
            session,
            association_id=world.a.id,
            source=CapitalSource.MEMBER_DEPOSIT,
            amount_fen=100,
            received_on=D,
        )
    world.members_a[1].status = MemberStatus.WITHDRAWN
    with pytest.raises(RuleViolation, match="not active"):
        record_member_deposit(session, member_id=world.members_a[1].id, amount_fen=1, received_on=D)


def test_cash_capital_is_refused(world: World, session: Session) -> None:
    with pytest.raises(RuleViolation) as refused:
        record_contribution(
            session,
            association_id=world.a.id,
            source=CapitalSource.DONATION,
            amount_fen=100,
            received_on=D,
            channel=LedgerChannel.CASH,
        )
    assert refused.value.code == "cash_refused"


def test_associations_are_unique_and_belong_to_the_county(world: World, session: Session) -> None:
    with pytest.raises(Conflict):
        org.create_association(
            session,
            code=world.a.code,
            name="重复",
            town=world.a.town,
            special_account=world.a.special_account,
            sub_account_number="x-1",
            pilot_level=PilotLevel.PROVINCIAL,
            start_date=D,
        )
    codes = [a.code for a in org.associations_of_county(session, world.county.id)]
    assert codes == ["TC-1", "TC-2"]
    assert org.get_association_by_code(session, "TC-2").id == world.b.id
    with pytest.raises(NotFound) as missing:
        org.get_association_by_code(session, "NOPE")
    assert "不存在" in missing.value.message_zh


def test_status_change_is_recorded(world: World, session: Session) -> None:
    org.set_association_status(
        session, world.b.id, AssociationStatus.LIQUIDATING, actor="县办", reason="运转不畅"
    )
    assert world.b.status == AssociationStatus.LIQUIDATING


def test_users_are_scoped_to_a_county_or_an_association(world: World, session: Session) -> None:
    officer = create_user(
        session,
        username="zhang",
        display_name="张主任",
        role=Role.COUNTY_OFFICER,
        county_id=world.county.id,
    )
    treasurer = create_user(
        session,
        username="li",
        display_name="李会计",
        role=Role.TREASURER,
        association_id=world.a.id,
    )
    assert officer.password_hash is None
    assert get_user_by_name(session, "li").id == treasurer.id
    with pytest.raises(ValidationFailed, match="treasurer belongs to one association"):
        create_user(session, username="wang", display_name="王", role=Role.TREASURER)
    with pytest.raises(ValidationFailed, match="not both"):
        create_user(
            session,
            username="zhao",
            display_name="赵",
            role=Role.AUDITOR,
            county_id=world.county.id,
            association_id=world.a.id,
        )
    with pytest.raises(Conflict):
        create_user(session, username="zhang", display_name="又一个", role=Role.ADMIN)
