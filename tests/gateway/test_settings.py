"""Settings: default.toml, a layered file, HUZHU_* variables; credentials masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.errors import ConfigurationError
from gateway.settings import CashMode, Settings, load_settings, unknown_environment


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUZHU_DATABASE_URL", "HUZHU_CONFIG", "HUZHU_POLICY__NOTICE_DAYS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_come_from_default_toml() -> None:
    settings = load_settings()
    root = Path(__file__).resolve().parents[2]
    assert settings.database_url == f"sqlite:///{root / 'var' / 'huzhu.db'}"
    assert settings.field_key_file == root / "var" / "field.key"
    assert settings.policy.loan_cap_fen == 3_000_000
    assert settings.policy.county_approval_above_fen == 2_000_000
    assert settings.policy.notice_days == 7
    assert settings.policy.cash_mode == CashMode.REFUSE
    assert [g.grade for g in settings.policy.credit_grades] == ["C", "B", "A"]
    assert settings.config_dir.name == "config"


def test_environment_overrides_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", "postgresql+psycopg://huzhu:s3cret@db/huzhu")
    monkeypatch.setenv("HUZHU_POLICY__NOTICE_DAYS", "10")
    settings = load_settings()
    assert settings.database_url.endswith("@db/huzhu")
    assert settings.policy.notice_days == 10
    assert settings.policy.loan_cap_fen == 3_000_000  # the rest of the table is kept


def test_a_layered_file_overrides_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "county.toml"
    extra.write_text('[policy]\ncash_mode = "transitional"\nloan_cap_fen = 2500000\n', "utf-8")
    monkeypatch.setenv("HUZHU_CONFIG", str(extra))
    settings = load_settings()
    assert settings.policy.cash_mode == CashMode.TRANSITIONAL
    assert settings.policy.loan_cap_fen == 2_500_000
    assert settings.policy.notice_days == 7
    direct = load_settings(config_file=extra)
    assert direct.policy.loan_cap_fen == 2_500_000


def test_passwords_never_show_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", "postgresql+psycopg://huzhu:s3cret@db/huzhu")
    settings = load_settings()
    for shown in (repr(settings), str(settings), str(settings.masked())):
        assert "s3cret" not in shown
        assert "huzhu:***@db" in shown


def test_a_bad_credit_table_is_refused() -> None:
    with pytest.raises(ValidationError, match="ordered"):
        Settings(
            policy={
                "credit_grades": [
                    {"grade": "C", "min_on_time_loans": 0, "limit_fen": 100},
                    {"grade": "B", "min_on_time_loans": 0, "limit_fen": 200},
                ]
            }
        )
    with pytest.raises(ValidationError, match="field_key_file or field_key_env"):
        Settings(field_key_file=None, field_key_env=None)


def test_a_command_run_from_another_folder_finds_the_same_database_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "site" / "config"
    config.mkdir(parents=True)
    county = config / "county.toml"
    county.write_text(
        'database_url = "sqlite:///../var/county.db"\nfield_key_file = "../var/county.key"\n',
        "utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HUZHU_CONFIG", str(county))
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'site' / 'var' / 'county.db'}"
    assert settings.field_key_file == tmp_path / "site" / "var" / "county.key"
    demo = load_settings(config_file=settings.config_dir / "demo.toml")
    assert demo.database_url.endswith("/var/demo.db")
    assert Path(demo.database_url.removeprefix("sqlite:///")).is_absolute()


def test_a_missing_settings_file_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUZHU_CONFIG", "/nonexistent/county.toml")
    with pytest.raises(ConfigurationError, match=r"/nonexistent/county\.toml does not exist"):
        load_settings()


def test_a_misspelt_key_in_a_settings_file_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    county = tmp_path / "county.toml"
    county.write_text(
        'databse_url = "sqlite:///x.db"\n[policy]\nnotice_dayz = 3\n'
        '[[policy.credit_grades]]\ngrade = "C"\nmin_on_time_loans = 0\nlimit_fen = 1\nlimt = 2\n',
        "utf-8",
    )
    monkeypatch.setenv("HUZHU_CONFIG", str(county))
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(county) in refused.value.message_en
    for key in ("databse_url", "policy.notice_dayz", "policy.credit_grades[0].limt"):
        assert key in refused.value.message_en


def test_broken_toml_is_refused_naming_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    county = tmp_path / "county.toml"
    county.write_text('timezone = "Asia/Shanghai"\n[policy\n', "utf-8")
    monkeypatch.setenv("HUZHU_CONFIG", str(county))
    with pytest.raises(ConfigurationError, match=r"county.toml is not valid TOML.*line 2"):
        load_settings()


def test_environment_variables_that_set_nothing_are_told_apart_from_those_that_do() -> None:
    settings = load_settings(field_key_env="HUZHU_FIELD_KEY")
    environ = {
        "HUZHU_DATABASE_URL": "sqlite:///x.db",
        "huzhu_timezone": "Asia/Shanghai",  # read in any case, like pydantic-settings
        "HUZHU_POLICY__NOTICE_DAYS": "7",
        "HUZHU_FIELD_KEY": "key bytes",  # the variable field_key_env names
        "HUZHU_CONFIG": "x.toml",
        "HUZHU_SFTP_KEY_PASSPHRASE": "pass",  # named by config/banks/rcb.toml
        "HUZHU_TEST_POSTGRES_URL": "postgresql://x",
        "HUZHU_DATABSE_URL": "sqlite:///y.db",
        "HUZHU_POLICY__NOTICE_DAYZ": "7",
        "HUZHU_TIMEZONE__HOURS": "8",  # deeper than a plain setting goes
        "HUZHU_NIGHTLY": "x",
        "OTHER_DATABSE_URL": "not ours",
    }
    assert unknown_environment(settings, environ) == [
        "HUZHU_DATABSE_URL",
        "HUZHU_POLICY__NOTICE_DAYZ",
        "HUZHU_TIMEZONE__HOURS",
    ]
