"""Capital cannot be booked on a day before it could have reached the association: fiscal
funds, donations and other capital not before the association was founded (its start date), a
member's deposit (入会互助金) not before the member joined. Such a date is refused naming the
day, by the service and by ``huzhu capital``, and nothing is booked; the day itself is
accepted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.cli import app
from gateway.errors import RuleViolation
from gateway.ledger.models import JournalTransaction
from gateway.testing import World


def test_capital_dated_before_the_association_was_founded_is_refused(
    world: World, session: Session
) -> None:
    founded = world.a.start_date
    with pytest.raises(RuleViolation) as refused:
        record_contribution(
            session,
            association_id=world.a.id,
            source=CapitalSource.COUNTY,
            amount_fen=1_000,
            received_on=founded - timedelta(days=1),
        )
    assert refused.value.code == "date_before_founding"
    assert f"早于协会成立日期 {founded.isoformat()}" in refused.value.message_zh
    assert f"before the association was founded, {founded.isoformat()}" in (
        refused.value.message_en
    )
    booked = record_contribution(
        session,
        association_id=world.a.id,
        source=CapitalSource.COUNTY,
        amount_fen=1_000,
        received_on=founded,
    )
    assert booked.received_on == founded


def test_a_deposit_dated_before_the_member_joined_is_refused(
    world: World, session: Session
) -> None:
    member = world.members_a[1]
    joined = member.joined_on
    with pytest.raises(RuleViolation) as refused:
        record_member_deposit(
            session, member_id=member.id, amount_fen=500, received_on=joined - timedelta(days=1)
        )
    assert refused.value.code == "date_before_joining"
    assert f"早于会员 {member.member_no} 入会日期 {joined.isoformat()}" in (
        refused.value.message_zh
    )
    assert member.deposit_fen == 0
    record_member_deposit(session, member_id=member.id, amount_fen=500, received_on=joined)
    assert member.deposit_fen == 500


def _journal(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(JournalTransaction)) or 0


def test_the_capital_commands_refuse_a_day_before_founding_or_joining(
    world: World, db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "240")
    member = world.members_a[1]
    founded = world.a.start_date
    before = _journal(session)
    cases = [
        (
            ["contribute", "--source", "county"],
            founded - timedelta(days=1),
            f"早于协会成立日期 {founded.isoformat()}",
        ),
        (
            ["deposit", "--member", member.member_no],
            member.joined_on - timedelta(days=1),
            f"早于会员 {member.member_no} 入会日期 {member.joined_on.isoformat()}",
        ),
    ]
    for command, day, reason in cases:
        result = CliRunner().invoke(
            app,
            [
                "capital",
                *command,
                "--association",
                world.a.code,
                "--amount",
                "10",
                "--on",
                day.isoformat(),
            ],
        )
        assert result.exit_code == 1, result.output
        assert reason in " ".join(result.output.split())
    session.expire_all()
    assert _journal(session) == before
