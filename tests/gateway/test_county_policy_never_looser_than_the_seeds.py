"""A county may be stricter than rules 3 and 4 of the seeds, never looser: a county approval
from above 20,000 yuan, fewer than 2 guarantors besides the borrower (三户联保) or a public
notice of less than a day is refused wherever a county's policy comes from — the settings
files and HUZHU_POLICY__* (at start, naming the rule), ``huzhu org county create`` (writing
nothing), and the County row itself, so nothing can loosen a county's policy later."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from gateway.cli import app
from gateway.errors import ValidationFailed
from gateway.org.models import County
from gateway.settings import PolicyDefaults, Settings, load_settings
from gateway.testing import World

APPROVAL_RULE = "借款超过 20000 元须经县级审批"
GUARANTEE_RULE = "三户联保：借款人之外至少另有 2 户担保"
NOTICE_RULE = "借款须公告公示至少 1 天后方可放款"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUZHU_CONFIG", "HUZHU_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("COUNTY_APPROVAL_ABOVE_FEN", "GUARANTORS_REQUIRED", "NOTICE_DAYS"):
        monkeypatch.delenv(f"HUZHU_POLICY__{name}", raising=False)


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("county_approval_above_fen", 2_000_001, APPROVAL_RULE),
        ("county_approval_above_fen", 4_000_000, APPROVAL_RULE),
        ("guarantors_required", 1, GUARANTEE_RULE),
        ("guarantors_required", 0, GUARANTEE_RULE),
        ("notice_days", 0, NOTICE_RULE),
        ("notice_days", -1, NOTICE_RULE),
    ],
)
def test_a_policy_looser_than_the_seeds_is_refused_naming_the_rule(
    setting: str, value: int, rule: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(policy={setting: value})
    message = str(refused.value)
    assert f"policy.{setting} = {value}" in message
    assert rule in message


def test_a_stricter_policy_and_the_seeds_own_bounds_are_accepted() -> None:
    at_the_bounds = PolicyDefaults(
        county_approval_above_fen=2_000_000, guarantors_required=2, notice_days=1
    )
    assert at_the_bounds.county_approval_above_fen == 2_000_000
    stricter = PolicyDefaults(
        county_approval_above_fen=1_000_000, guarantors_required=3, notice_days=10
    )
    assert (stricter.county_approval_above_fen, stricter.guarantors_required) == (1_000_000, 3)


def test_a_looser_policy_in_a_settings_file_or_the_environment_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    county = tmp_path / "county.toml"
    county.write_text("[policy]\ncounty_approval_above_fen = 4000000\n", "utf-8")
    with pytest.raises(ValidationError, match=APPROVAL_RULE):
        load_settings(config_file=county)

    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("COLUMNS", "240")
    monkeypatch.setenv("HUZHU_CONFIG", str(county))
    text = _explained(CliRunner().invoke(app, ["org", "list"]))
    assert "policy.county_approval_above_fen" in text
    assert APPROVAL_RULE in text
    assert "Value error" not in text
    monkeypatch.delenv("HUZHU_CONFIG")
    monkeypatch.setenv("HUZHU_POLICY__GUARANTORS_REQUIRED", "0")
    text = _explained(CliRunner().invoke(app, ["org", "list"]))
    assert "HUZHU_POLICY__GUARANTORS_REQUIRED" in text
    assert GUARANTEE_RULE in text


def _explained(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("option", "label", "rule"),
    [
        ("--county-approval-above 40000", "县级审批起点（--county-approval-above）", APPROVAL_RULE),
        ("--guarantors 0", "担保户数（--guarantors）", GUARANTEE_RULE),
        ("--notice-days 0", "公示天数（--notice-days）", NOTICE_RULE),
    ],
)
def test_a_county_created_with_a_looser_policy_is_refused_and_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, label: str, rule: str
) -> None:
    url = f"sqlite:///{tmp_path / 'huzhu.db'}"
    monkeypatch.setenv("HUZHU_DATABASE_URL", url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    monkeypatch.setenv("COLUMNS", "240")
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    line = f"org county create X2 --name 乙县 --fund-office-name 乙县办 {option}"
    text = _explained(CliRunner().invoke(app, line.split()))
    assert label in text
    assert rule in text
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(County)) == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("setting", "value"),
    [("county_approval_above_fen", 4_000_000), ("guarantors_required", 1), ("notice_days", 0)],
)
def test_an_existing_county_cannot_be_made_looser_later(
    world: World, setting: str, value: int
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        setattr(world.county, setting, value)
    assert refused.value.code == "county_policy_invalid"
    assert getattr(world.county, setting) != value
    # stricter stays possible
    world.county.county_approval_above_fen = 1_500_000
    world.county.notice_days = 14
    world.session.flush()
