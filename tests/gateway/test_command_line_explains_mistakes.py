"""A mistake in the settings, the database or a date gets one clear line (Chinese and
English) and exit 1 or 2 from ``huzhu``, never a traceback, and no database file appears as a
side effect."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from gateway.cli import app
from gateway.testing import World
from tests.gateway.conftest import TEST_FIELD_KEY


@pytest.fixture(autouse=True)
def _own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUZHU_CONFIG", "HUZHU_DATABASE_URL", "HUZHU_POLICY__NOTICE_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    monkeypatch.setenv("COLUMNS", "200")


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _explained(result: Result, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())


def test_a_database_file_that_is_not_there_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "var" / "huzhu.db"
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{database}")
    for args in (("batches", "list"), ("db", "current")):
        text = _explained(_run(*args))
        assert "huzhu db upgrade" in text
        assert str(database) in text
    assert not database.exists()
    assert not (tmp_path / "field.key").exists()


def test_an_unmigrated_database_says_to_run_db_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "empty.db"
    database.touch()
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{database}")
    for args in (("batches", "list"), ("ledger", "balances", "--association", "A")):
        text = _explained(_run(*args))
        assert "数据库尚未建表" in text
        assert "huzhu db upgrade" in text


def test_a_database_url_that_does_not_parse_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", "not a url")
    text = _explained(_run("batches", "list"))
    assert "database_url" in text


def test_an_unreachable_postgresql_is_reported_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", "postgresql+psycopg://huzhu:s3cret@127.0.0.1:1/x")
    text = _explained(_run("batches", "list"))
    assert "无法连接数据库" in text
    assert "cannot connect to the database" in text
    assert "s3cret" not in text


def test_a_bad_setting_in_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUZHU_POLICY__NOTICE_DAYS", "abc")
    text = _explained(_run("batches", "list"))
    assert "HUZHU_POLICY__NOTICE_DAYS" in text
    assert "'abc'" in text


def test_settings_file_mistakes_name_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_CONFIG", str(tmp_path / "nowhere.toml"))
    assert "nowhere.toml does not exist" in _explained(_run("batches", "list"))
    broken = tmp_path / "broken.toml"
    broken.write_text('timezone = "Asia/Shanghai"\n[policy\n', "utf-8")
    monkeypatch.setenv("HUZHU_CONFIG", str(broken))
    text = _explained(_run("batches", "list"))
    assert "broken.toml" in text
    assert "line 2" in text
    misspelt = tmp_path / "misspelt.toml"
    misspelt.write_text('databse_url = "sqlite:///x.db"\n', "utf-8")
    monkeypatch.setenv("HUZHU_CONFIG", str(misspelt))
    text = _explained(_run("batches", "list"))
    assert "misspelt.toml" in text
    assert "databse_url" in text


@pytest.mark.parametrize(
    "args",
    [
        ("ledger", "balances", "--association", "{a}", "--date", "2024-06-31"),
        ("reports", "evaluation", "--association", "{a}", "--as-of", "2024/06/30"),
        ("reports", "loans", "--association", "{a}", "--since", "30-06-2024"),
        ("members", "import", "{roster}", "--association", "{a}", "--joined-on", "2024-02-30"),
        (
            "liquidation",
            "start",
            "--association",
            "{a}",
            "--reason",
            "r",
            "--actor",
            "x",
            "--on",
            "2024-02-30",
        ),
        ("nightly", "--date", "20240701"),
        ("reconcile", "--date", "2024-W31-5"),
    ],
    ids=["ledger", "evaluation", "loans", "members", "liquidation", "nightly", "reconcile"],
)
def test_a_date_that_is_not_yyyy_mm_dd_is_refused_in_words(
    args: tuple[str, ...],
    world: World,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    roster = tmp_path / "roster.csv"
    roster.write_text("", "utf-8")
    filled = [arg.format(a=world.a.code, roster=roster) for arg in args]
    text = _explained(_run(*filled), exit_code=2)
    assert "YYYY-MM-DD" in text
    assert filled[-1] in text


def test_a_misspelt_environment_variable_is_named_and_the_command_goes_on(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_DATABSE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("HUZHU_POLICY__NOTICE_DAYZ", "7")
    monkeypatch.setenv("HUZHU_POLICY__NOTICE_DAYS", "7")
    result = _run("batches", "list")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "HUZHU_DATABSE_URL 不是任何设置项" in text
    assert "HUZHU_POLICY__NOTICE_DAYZ" in text
    assert "HUZHU_POLICY__NOTICE_DAYS " not in text
    assert "HUZHU_DATABASE_URL" not in text
    assert "HUZHU_FIELD_KEY_FILE" not in text


def _stamp(db_url: str, revision: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    engine.dispose()


def _job_runs(db_url: str) -> int:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM job_runs")).scalar_one()
    engine.dispose()
    return int(count)


def test_a_database_upgraded_by_a_newer_version_is_not_written(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database stamped with a revision this version does not know: nightly and the other
    commands refuse to touch it, naming the revision; ``db current`` still says where it is and
    ``db upgrade`` explains in one line."""
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    _stamp(db_url, "0099_from_a_newer_version")
    for args in (("nightly", "--date", "2024-07-01"), ("batches", "list"), ("queue", "list")):
        text = _explained(_run(*args))
        assert "0099_from_a_newer_version" in text
        assert "不是本版本程序所知的迁移" in text
        assert "newer version" in text
    assert _job_runs(db_url) == 0
    current = _run("db", "current")
    assert current.exit_code == 0, current.output
    assert "0099_from_a_newer_version" in current.output
    text = _explained(_run("db", "upgrade"))
    assert "0099_from_a_newer_version" in text
    assert "无法升级数据库" in text


def test_a_database_behind_the_code_is_refused_before_any_step_runs(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    _stamp(db_url, "0015_job_run_heartbeat")
    text = _explained(_run("nightly", "--date", "2024-07-01"))
    assert "huzhu db upgrade" in text
    assert "0015_job_run_heartbeat" in text
    assert _job_runs(db_url) == 0


def test_a_nightly_date_after_today_runs_no_step(
    world: World, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    key = tmp_path / "world.key"
    key.write_text(base64.b64encode(TEST_FIELD_KEY).decode(), "utf-8")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(key))
    text = _explained(_run("nightly", "--date", "2999-01-01"))
    assert "夜间批处理日期 2999-01-01 晚于今天" in text
    assert "--today" in text
    assert _job_runs(db_url) == 0
    # a rehearsal's business clock may be ahead of the real today: its own today is the bound
    text = _explained(_run("nightly", "--date", "2999-01-02", "--today", "2999-01-01"))
    assert "晚于今天 2999-01-01" in text
