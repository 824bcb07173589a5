"""An association being wound up takes in nothing new. The Linyi notice says:
"拟定撤销的互助资金协会。财政资金要全部收回，会员缴纳的会费等额退还会员".
So once a liquidation has started, and after the association is closed, new capital, member
deposits and new members are refused by reason and code. Nothing is written, whichever way
they come: the services, a roster import or the command line. Borrowers still repay what they
owe, and the liquidation's own postings still go through."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.capital.models import CapitalContribution, CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.cli import app
from gateway.demo.generate import card_number, person_name, phone, resident_id
from gateway.errors import RuleViolation
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementLine
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel, PayoutStatus
from gateway.loans import service as loans
from gateway.loans.models import LoanStatus
from gateway.members.importer import import_members
from gateway.members.models import Member
from gateway.members.schemas import MemberInput
from gateway.members.service import register_member
from gateway.org.models import AssociationStatus
from gateway.testing import World

ON = date(2024, 7, 10)


def _newcomer(world: World, member_no: str) -> MemberInput:
    return MemberInput(
        member_no=member_no,
        name=person_name(world.rng),
        resident_id=resident_id(world.rng, "371321", (date(1960, 1, 1), date(1999, 1, 1))),
        card_number=card_number(world.rng, "623199"),
        phone=phone(world.rng),
        household_no=f"H-{member_no}",
        joined_on=ON,
    )


def _what_was_taken_in(world: World) -> tuple[int, int, int, int]:
    """Members, capital receipts, the sub-account and the members' deposits of association a."""
    session, a = world.session, world.a.id
    return (
        session.scalar(select(func.count()).select_from(Member).where(Member.association_id == a))
        or 0,
        session.scalar(
            select(func.count())
            .select_from(CapitalContribution)
            .where(CapitalContribution.association_id == a)
        )
        or 0,
        balance(session, a, AccountCode.BANK_SUB_ACCOUNT),
        balance(session, a, AccountCode.MEMBER_DEPOSITS),
    )


def _intakes(world: World) -> dict[str, Callable[[], object]]:
    session = world.session
    return {
        "fiscal capital": lambda: record_contribution(
            session,
            association_id=world.a.id,
            source=CapitalSource.COUNTY,
            amount_fen=100_000,
            received_on=ON,
        ),
        "a donation": lambda: record_contribution(
            session,
            association_id=world.a.id,
            source=CapitalSource.DONATION,
            amount_fen=100,
            received_on=ON,
        ),
        "a member's deposit": lambda: record_member_deposit(
            session, member_id=world.members_a[1].id, amount_fen=10_000, received_on=ON
        ),
        "a new member": lambda: register_member(
            session, world.cipher, world.a.id, _newcomer(world, "NEW1")
        ),
    }


INTAKE_WORDS = {
    "fiscal capital": ("不再收入新的资金", "takes in no new capital"),
    "a donation": ("不再收入新的资金", "takes in no new capital"),
    "a member's deposit": ("不再收缴会员互助金", "takes in no member deposits"),
    "a new member": ("不再登记新会员", "registers no new members"),
}


@pytest.mark.parametrize("intake", list(INTAKE_WORDS))
def test_while_being_liquidated_no_capital_deposit_or_member_is_taken_in(
    small_world: World, intake: str
) -> None:
    world, session = small_world, small_world.session
    liquidation.start(session, world.a.id, on=ON, reason="运转不畅", actor="县办")
    session.commit()
    before = _what_was_taken_in(world)

    with pytest.raises(RuleViolation) as refused:
        _intakes(world)[intake]()

    session.rollback()
    zh, en = INTAKE_WORDS[intake]
    assert refused.value.code == "association_liquidating"
    assert f"协会“{world.a.name}”撤销清算中，{zh}" in refused.value.message_zh
    assert "财政资金全部收回，会员互助金等额退还会员" in refused.value.message_zh
    assert f"association {world.a.code} is being liquidated: it {en}" in refused.value.message_en
    assert _what_was_taken_in(world) == before


@pytest.mark.parametrize("intake", list(INTAKE_WORDS))
def test_the_other_association_of_the_town_still_takes_in_while_one_is_liquidated(
    small_world: World, intake: str
) -> None:
    """Only the association being wound up is refused: with ``b`` being liquidated, ``a`` takes
    in as before."""
    world, session = small_world, small_world.session
    liquidation.start(session, world.b.id, on=ON, reason="运转不畅", actor="县办")
    before = _what_was_taken_in(world)

    _intakes(world)[intake]()

    assert _what_was_taken_in(world) != before


def _wind_up_to_closed(world: World) -> None:
    """Liquidate association a (no loans, no deposits: only its central fiscal capital) to
    closed, the bank's statement showing the sub-account at zero."""
    session, a = world.session, world.a
    opened = liquidation.start(session, a.id, on=ON, reason="运转不畅", actor="县办")
    liquidation.close_books(session, opened.id, on=ON, actor="县办")
    liquidation.name_capital_account(
        session, opened.id, CapitalLevel.CENTRAL_PROVINCIAL, account_number="9100001",
        account_name="省财政专户", actor="县办",
    )  # fmt: skip
    returns = liquidation.request_capital_returns(session, opened.id, on=ON, actor="县办")
    statement = InboundFile(
        bank_code="tbank", name="STMT_20240711.txt", remote_path="out/x",
        kind=InboundKind.STATEMENT, sha256="1" * 64, size=1, content=b"-",
        status=InboundStatus.APPLIED, business_date=ON + timedelta(days=1),
    )  # fmt: skip
    session.add(statement)
    session.flush()
    left = balance(session, a.id, AccountCode.BANK_SUB_ACCOUNT)
    for payout in returns:
        liquidation.settle_payout(session, payout, booked_on=ON, actor="bank")
        left -= payout.amount_fen
        session.add(
            StatementLine(
                inbound_file_id=statement.id, bank_code="tbank", account="6200001",
                sub_account=a.sub_account_number, dedupe_key=payout.end_to_end_id,
                booking_date=ON + timedelta(days=1), amount_fen=payout.amount_fen,
                credit=False, channel="transfer", end_to_end_id=payout.end_to_end_id,
                balance_after_fen=left,
            )
        )  # fmt: skip
    session.flush()
    liquidation.close(session, opened.id, on=ON + timedelta(days=1), actor="县办")
    session.commit()
    assert a.status is AssociationStatus.CLOSED


def test_a_closed_association_registers_no_member(small_world: World) -> None:
    world, session = small_world, small_world.session
    _wind_up_to_closed(world)
    before = _what_was_taken_in(world)

    with pytest.raises(RuleViolation) as refused:
        register_member(session, world.cipher, world.a.id, _newcomer(world, "NEW2"))

    session.rollback()
    assert refused.value.code == "association_closed"
    assert f"协会“{world.a.name}”已撤销，不再登记新会员" in refused.value.message_zh
    assert f"association {world.a.code} is closed: it registers no new members" in (
        refused.value.message_en
    )
    assert _what_was_taken_in(world) == before


def test_a_deposit_offered_after_the_refunds_were_requested_leaves_the_refund_payable(
    small_world: World,
) -> None:
    world, session = small_world, small_world.session
    member = world.members_a[1]
    record_member_deposit(session, member_id=member.id, amount_fen=50_000, received_on=ON)
    opened = liquidation.start(session, world.a.id, on=ON, reason="运转不畅", actor="县办")
    liquidation.close_books(session, opened.id, on=ON, actor="县办")
    [refund] = liquidation.request_refunds(session, opened.id, on=ON, actor="县办")
    session.commit()

    with pytest.raises(RuleViolation, match="association_liquidating"):
        record_member_deposit(session, member_id=member.id, amount_fen=10_000, received_on=ON)
    session.rollback()

    # the bank pays the refund requested: exactly the member's deposit, booked without a doubt
    liquidation.settle_payout(session, refund, booked_on=ON, actor="bank")
    assert refund.status is PayoutStatus.SETTLED
    assert refund.amount_fen == 50_000
    assert (member.deposit_fen, balance(session, world.a.id, AccountCode.MEMBER_DEPOSITS)) == (0, 0)


def test_a_borrower_still_repays_an_outstanding_loan_while_the_association_is_liquidated(
    small_world: World,
) -> None:
    world, session = small_world, small_world.session
    loan = world.approve(world.apply(world.members_a[0], amount_fen=100_000))
    world.release(loan)
    loans.mark_disbursed(session, loan.id, business_date=world.today)
    liquidation.start(session, world.a.id, on=ON, reason="运转不畅", actor="县办")
    in_bank = balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT)

    loans.record_repayment(session, loan.id, principal_fen=100_000, fee_fen=600, business_date=ON)

    assert loan.status is LoanStatus.REPAID
    assert balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) == in_bank + 100_600


# --- a roster import and the command line ---------------------------------------------------


def _roster(world: World, path: Path) -> Path:
    rows = ["会员编号,姓名,身份证号,惠农卡号,手机号,户号"]
    for n in (1, 2):
        person = _newcomer(world, f"IMP{n}")
        rows.append(
            f"{person.member_no},{person.name},{person.resident_id},{person.card_number},"
            f"{person.phone},{person.household_no}"
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_roster_import_into_an_association_being_liquidated_is_refused_whole(
    small_world: World, tmp_path: Path
) -> None:
    world, session = small_world, small_world.session
    liquidation.start(session, world.a.id, on=ON, reason="运转不畅", actor="县办")
    session.commit()
    before = _what_was_taken_in(world)

    with pytest.raises(RuleViolation) as refused:
        import_members(
            session, world.cipher, _roster(world, tmp_path / "roster.csv"), world.a.code,
            joined_on=ON,
        )  # fmt: skip

    session.rollback()
    assert refused.value.code == "association_liquidating"
    assert "不再登记新会员" in refused.value.message_zh
    assert _what_was_taken_in(world) == before


@pytest.fixture
def cli_on_a_liquidating_association(
    small_world: World, liq_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> World:
    liquidation.start(liq_session, small_world.a.id, on=ON, reason="运转不畅", actor="县办")
    liq_session.commit()
    key = tmp_path / "field.key"
    key.write_text(base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(key))
    return small_world


def _squeezed(text: str) -> str:
    return "".join(text.split())


def test_the_command_line_refuses_capital_deposits_and_members_saying_why(
    cli_on_a_liquidating_association: World, tmp_path: Path
) -> None:
    world = cli_on_a_liquidating_association
    code = world.a.code
    before = _what_was_taken_in(world)
    roster = _roster(world, tmp_path / "roster.csv")
    world.session.rollback()
    for args, words in (
        (
            ["capital", "contribute", "--association", code, "--source", "county",
             "--amount", "1000", "--on", "2024-06-01"],
            ("不再收入新的资金", "takes in no new capital"),
        ),
        (
            ["capital", "deposit", "--association", code, "--member", "0002",
             "--amount", "100", "--on", "2024-06-01"],
            ("不再收缴会员互助金", "takes in no member deposits"),
        ),
        (
            ["members", "import", str(roster), "--association", code, "--joined-on", "2024-06-01"],
            ("不再登记新会员", "registers no new members"),
        ),
    ):  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        output = _squeezed(result.output)  # the console wraps long lines
        assert _squeezed(f"协会“{world.a.name}”撤销清算中，{words[0]}") in output
        assert _squeezed(f"it {words[1]}") in output
        assert "Traceback" not in output
    world.session.expire_all()
    assert _what_was_taken_in(world) == before
