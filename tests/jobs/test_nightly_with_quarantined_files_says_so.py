"""``huzhu nightly`` ends with what needs a person, and a night that quarantined bank files
exits 3 (every step ran, but nothing of those files was applied): a cron job watching the
exit code sees it. The same night run again has nothing new to say and exits 0. Alembic's
set-up lines are not printed at the default verbosity."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from gateway.cli import app
from gateway.cli import nightly as nightly_command
from gateway.db import make_engine, make_session_factory
from gateway.jobs.pipeline import Nightly
from gateway.jobs.runtime import configure_logging
from gateway.settings import Settings
from tests.settle_support import DAY1, Settle, cli_environment, settle_in

TUE = DAY1 + timedelta(days=1)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _nightly(
    settle: Settle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """``huzhu nightly`` for Tuesday against the test bank's server in memory: the exit code,
    standard output and standard error."""

    def build(settings: Settings) -> tuple[Nightly, Engine]:
        engine = make_engine(str(settle.engine.url))
        pipeline = settle.make_nightly()
        pipeline.factory = make_session_factory(engine)
        return pipeline, engine

    monkeypatch.setattr(nightly_command, "build_nightly", build)
    result = CliRunner().invoke(
        app,
        ["nightly", "--date", TUE.isoformat(), "--today", TUE.isoformat(), "--no-catch-up"],
        env=cli_environment(settle, tmp_path),
        terminal_width=240,
    )
    return result.exit_code, result.stdout, result.stderr


def test_a_night_that_quarantined_a_garbled_result_file_exits_3_and_lists_it(
    settle: Settle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle.server.put("out/RESULT_GARBLED_001.txt", "这不是回盘文件 not a result file\n".encode())

    code, out, _err = _nightly(settle, tmp_path, monkeypatch)

    assert code == nightly_command.QUARANTINED == 3
    assert "待人工处理 Needs a person" in out
    assert "1 bank file(s) quarantined, nothing of them applied" in out
    assert "RESULT_GARBLED_001.txt" in out
    assert "follow-up 1)" in out
    assert "malformed" in out  # the reason, as the file shows it
    # Monday had no statement: the night's new queue item is listed too
    assert "1 new mismatch queue item(s): 对账单缺失 statement_gap 1" in out
    assert f"#1 {DAY1} 对账单缺失 statement_gap" in out

    # the same night again: every step done already, nothing new
    again, out, _err = _nightly(settle, tmp_path, monkeypatch)
    assert again == 0
    assert "nothing new needs a person" in out


def test_alembic_set_up_lines_are_not_shown_at_the_default_verbosity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json_logs=False)
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")
    logging.getLogger("gateway.jobs.pipeline").info("step started")
    logging.getLogger("alembic.runtime.migration").warning("a warning still shows")

    err = capsys.readouterr().err
    assert "setup plugin" not in err
    assert "step started" in err
    assert "a warning still shows" in err
