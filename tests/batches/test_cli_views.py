"""``huzhu batches list|show``, ``huzhu files list|show`` and ``huzhu nightly`` on a database
where a batch went out and its answer came back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.records import ResultStatus
from gateway.cli import app
from gateway.jobs.pipeline import run_date
from tests.settle_support import DAY1, Settle, cli_environment, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def test_views_show_what_went_out_and_what_came_back(settle: Settle, tmp_path: Path) -> None:
    settle.released_loan(400_000)
    settle.released_loan(250_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(
        DAY1,
        lambda e2e, amount: (
            (ResultStatus.REJECTED, 0, "AC06")
            if amount == 250_000
            else (ResultStatus.SETTLED, amount, None)
        ),
    )
    run_date(settle.nightly, DAY1 + timedelta(days=1))

    env = cli_environment(settle, tmp_path, columns=220)
    runner = CliRunner()

    listed = runner.invoke(app, ["batches", "list"], env=env, terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "DF_tbank_20240701_001.txt" in listed.output
    assert "answered" in listed.output

    shown = runner.invoke(app, ["batches", "show", "1"], env=env, terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "settled" in shown.output
    assert "AC06" in shown.output

    missing = runner.invoke(app, ["batches", "show", "99"], env=env)
    assert missing.exit_code == 1

    files = runner.invoke(app, ["files", "list"], env=env, terminal_width=200)
    assert files.exit_code == 0, files.output
    assert "RESULT_DFTBANK20240701001_1.txt" in files.output
    assert "applied" in files.output

    one = runner.invoke(app, ["files", "show", "1"], env=env, terminal_width=200)
    assert one.exit_code == 0, one.output
    assert '"failed": 1' in one.output
    assert '"settled": 1' in one.output

    again = runner.invoke(
        app,
        ["nightly", "--date", "2024-07-02", "--steps", "results,collections", "--json"],
        env=env,
    )
    assert again.exit_code == 0, again.output
    outcomes = json.loads(again.output)
    assert [(o["step"], o["status"]) for o in outcomes] == [
        ("results", "skipped"),
        ("collections", "skipped"),
    ]
