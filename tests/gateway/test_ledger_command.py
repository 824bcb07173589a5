"""``huzhu ledger balances`` prints an association's trial balance at a date."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.testing import World


def test_balances_at_today_and_before_the_capital_arrived(
    world: World, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "k"))
    runner = CliRunner()
    now = runner.invoke(app, ["ledger", "balances", "--association", world.a.code])
    assert now.exit_code == 0, now.output
    assert "100000.00" in now.output  # 10,000,000 fen of central capital
    assert "中央财政资金" in now.output
    assert "balanced" in now.output
    before = runner.invoke(
        app, ["ledger", "balances", "--association", world.a.code, "--date", "2024-01-01"]
    )
    assert before.exit_code == 0, before.output
    assert "中央财政资金" not in before.output
    missing = runner.invoke(app, ["ledger", "balances", "--association", "NOPE"])
    assert missing.exit_code == 1
    assert "不存在" in missing.output
