"""``huzhu capital`` takes amounts in yuan, so an amount of nothing or less is refused in yuan,
quoting what was typed — never as the fen it would have been (-5 yuan is not "-500 fen") —
and nothing is booked."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.cli import app
from gateway.ledger.models import JournalTransaction
from gateway.testing import World


@pytest.mark.parametrize("amount", ["-5", "0", "0.00", "-0.01"])
def test_an_amount_of_nothing_or_less_is_refused_in_the_yuan_it_was_typed_in(
    world: World, db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch, amount: str
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "240")
    before = session.scalar(select(func.count()).select_from(JournalTransaction))
    for command in (
        ["contribute", "--source", "county"],
        ["deposit", "--member", world.members_a[1].member_no],
    ):
        given = ["--association", world.a.code, "--amount", amount, "--on", "2024-06-03"]
        result = CliRunner().invoke(app, ["capital", *command, *given])
        assert result.exit_code == 1, result.output
        text = " ".join(result.output.split())
        assert f"金额必须大于 0 元：{amount} 元" in text
        assert f"--amount must be more than 0 yuan: {amount} yuan" in text
        assert "fen" not in text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(JournalTransaction)) == before
