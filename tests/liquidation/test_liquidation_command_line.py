"""``huzhu liquidation``: start, status with what remains, a refused step that says why,
and the payout list for the bank written readable only by its owner."""

from __future__ import annotations

import base64
import csv
import stat
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.capital.service import record_member_deposit
from gateway.cli import app
from gateway.members.service import card_number
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World


@pytest.fixture
def cli_env(
    small_world: World, liq_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> World:
    record_member_deposit(
        liq_session, member_id=small_world.members_a[0].id, amount_fen=8_800,
        received_on=date(2024, 7, 1),
    )  # fmt: skip
    liq_session.commit()
    liq_session.close()
    key = tmp_path / "field.key"
    key.write_text(base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(key))
    return small_world


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_the_workflow_from_the_command_line(
    cli_env: World, liq_session: Session, tmp_path: Path
) -> None:
    out = run("liquidation", "start", "--association", "TC-1", "--reason", "撤销",
              "--actor", "县办", "--on", "2024-07-10")  # fmt: skip
    assert "收回全部借款" in out
    out = run("liquidation", "request-payouts", "--association", "TC-1", "--actor", "县办",
              ok=False)  # fmt: skip
    assert "请先收回全部借款并结转收支" in out
    run("liquidation", "close-books", "--association", "TC-1", "--actor", "县办")
    out = run("liquidation", "request-payouts", "--association", "TC-1", "--actor", "县办",
              ok=False)  # fmt: skip
    assert "请县办先指定收款账户" in out
    run(
        "liquidation", "name-account", "--association", "TC-1", "--level",
        "central_provincial", "--account", "9100001", "--name", "县财政专户", "--actor", "县办",
    )  # fmt: skip
    out = run("liquidation", "request-payouts", "--association", "TC-1", "--actor", "县办")
    assert "refunds: 1, 收回资金 capital: 1" in out
    target = tmp_path / "out" / "payouts.csv"
    run("liquidation", "payout-list", "--association", "TC-1", "--out", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    card = card_number(liq_session, FieldCipher(bytes(range(32))), cli_env.members_a[0].id)
    assert rows[0][2] == "收款账号"
    assert sorted((r[2], r[4]) for r in rows[1:]) == sorted(
        [(card, "88.00"), ("9100001", "10000.00")]
    )
    out = run("liquidation", "status", "--association", "TC-1")
    assert "待银行确认" in out
    out = run("liquidation", "close", "--association", "TC-1", "--actor", "县办", ok=False)
    assert "尚不能销户" in out
