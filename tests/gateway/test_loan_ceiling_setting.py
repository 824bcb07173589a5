"""The county loan cap and every credit-grade limit stay within the Linyi notice's ceiling
(二(二)三: 最高借款不超过 30000 元): a setting above 3,000,000 fen is refused when the settings
load, naming the setting and the rule; 3,000,000 fen is accepted, and every TOML file the
project ships loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.errors import ConfigurationError
from gateway.settings import REPO_ROOT, PolicyDefaults, Settings, load_settings

RULE = "最高借款不超过 30000 元"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUZHU_CONFIG", "HUZHU_POLICY__LOAN_CAP_FEN"):
        monkeypatch.delenv(name, raising=False)


def grades(top_limit_fen: int) -> list[dict[str, object]]:
    return [
        {"grade": "C", "min_on_time_loans": 0, "limit_fen": 1_000_000},
        {"grade": "A", "min_on_time_loans": 2, "limit_fen": top_limit_fen},
    ]


def test_a_loan_cap_above_thirty_thousand_yuan_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(policy={"loan_cap_fen": 3_000_001})
    message = str(refused.value)
    assert "policy.loan_cap_fen = 3000001 fen exceeds 3000000 fen" in message
    assert RULE in message


def test_a_grade_limit_above_thirty_thousand_yuan_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(policy={"credit_grades": grades(3_000_001)})
    message = str(refused.value)
    assert "policy.credit_grades[grade=A].limit_fen = 3000001 fen exceeds" in message
    assert RULE in message


def test_a_cap_from_a_county_file_or_the_environment_is_refused_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    county = tmp_path / "county.toml"
    county.write_text("[policy]\nloan_cap_fen = 5000000\n", "utf-8")
    with pytest.raises(ValidationError) as refused:
        load_settings(config_file=county)
    assert "policy.loan_cap_fen = 5000000 fen" in str(refused.value)
    monkeypatch.setenv("HUZHU_POLICY__LOAN_CAP_FEN", "3000001")
    with pytest.raises(ValidationError, match=RULE):
        load_settings()


def test_thirty_thousand_yuan_is_accepted() -> None:
    settings = Settings(policy={"loan_cap_fen": 3_000_000, "credit_grades": grades(3_000_000)})
    assert settings.policy.loan_cap_fen == 3_000_000
    assert [g.limit_fen for g in settings.policy.credit_grades] == [1_000_000, 3_000_000]
    assert PolicyDefaults().loan_cap_fen == 3_000_000


SHIPPED = sorted(p.name for p in (REPO_ROOT / "config").glob("*.toml") if p.name != "default.toml")
# the shipped files meant to be layered as settings (HUZHU_CONFIG, huzhu demo); the others
# (payments, grading, sandbox) are read by their own loaders
SETTINGS_FILES = ["demo.toml"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_file_loads_or_is_refused_as_settings(name: str) -> None:
    path = REPO_ROOT / "config" / name
    if name not in SETTINGS_FILES:
        with pytest.raises(ConfigurationError, match="unknown keys"):
            load_settings(config_file=path)
        return
    settings = load_settings(config_file=path)
    assert settings.policy.loan_cap_fen <= 3_000_000
    assert all(g.limit_fen <= 3_000_000 for g in settings.policy.credit_grades)
