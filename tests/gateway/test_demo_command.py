"""``huzhu demo`` seeds a county through the rules and prints balanced books, fresh each run
(``--days 0``: the seeding alone, without the nightly cycle with the sandbox bank)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.audit.service import verify
from gateway.cli import app
from gateway.db import make_engine, make_session_factory
from gateway.ledger.service import trial_balance
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import Member
from gateway.migrations import upgrade
from gateway.org.models import Association
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import build_world

DEMO_TOML = """
database_url = "sqlite:///{db}"
field_key_file = "{key}"

[demo]
seed = 7
business_date = "2024-06-28"
county_code = "DM"
county_name = "演示县"
fund_office_name = "演示县互助资金办"
bank_code = "dmrcb"
bank_name = "演示农商行"
special_account_number = "9100"
special_account_name = "演示县专户"
region_code = "371321"
card_bin = "623199"
members_min = 8
members_max = 10
loans_per_association = 2

[[demo.towns]]
code = "A"
name = "甲镇"
villages = ["一", "二"]

[[demo.towns]]
code = "B"
name = "乙镇"
villages = ["三"]
"""


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    path = tmp_path / "demo.toml"
    db = tmp_path / "var" / "demo.db"
    path.write_text(DEMO_TOML.format(db=db, key=tmp_path / "var" / "k"), encoding="utf-8")
    return path


def _run(config: Path) -> str:
    result = CliRunner().invoke(app, ["demo", "--config", str(config), "--days", "0"])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_prints_every_association_balanced(demo_config: Path) -> None:
    output = _run(demo_config)
    for code in ("DM-001", "DM-002", "DM-003"):
        assert code in output
    assert "✗" not in output
    assert output.count("✓") == 3
    assert "amount_over_cap" in output  # the over-cap application was refused by the rules

    engine = make_engine(f"sqlite:///{demo_config.parent / 'var' / 'demo.db'}")
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Association)) == 3
        members = session.scalar(select(func.count()).select_from(Member)) or 0
        assert 24 <= members <= 30
        statuses = session.scalars(select(Loan.status)).all()
        assert sorted(statuses).count(LoanStatus.REPAID) == 3
        assert len(statuses) == 6
        for association_id in session.scalars(select(Association.id)):
            assert trial_balance(session, association_id).balanced
        assert verify(session).ok
    engine.dispose()


def test_demo_starts_fresh_and_is_deterministic(demo_config: Path) -> None:
    first = _run(demo_config)
    second = _run(demo_config)
    assert first == second


def test_the_demo_never_deletes_a_database_holding_another_county(
    demo_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HUZHU_DATABASE_URL overrides the demo's own settings: a county's real database named
    there is refused whole, not deleted and replaced by the demo county."""
    real = tmp_path / "county.db"
    upgrade(f"sqlite:///{real}")
    engine = make_engine(f"sqlite:///{real}")
    with make_session_factory(engine)() as session:
        build_world(session, FieldCipher(bytes(range(32))))  # the test county, TC
        session.commit()
    engine.dispose()
    before = real.read_bytes()
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{real}")

    refused = CliRunner().invoke(app, ["demo", "--config", str(demo_config), "--days", "0"])

    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert "中有县 TC，不是演示县 DM：演示不会删除它" in said
    assert real.read_bytes() == before
