"""``huzhu reports monthly|annual`` print the report as a table on the terminal, as the other
report commands do: a title naming the association (or county), the report and its period,
and the column headings in Chinese with English, not bare rows of numbers. No figure is cut
short on a narrow terminal."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.reports.county_seed import Seeded


@pytest.fixture
def cli_env(seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    monkeypatch.setenv("COLUMNS", "200")
    seeded.session.close()
    return seeded


def _run(*args: str) -> list[str]:
    result = CliRunner().invoke(app, ["reports", *args])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _cells(lines: list[str], first: str) -> list[str]:
    """The cells of the table line (a row, or a line of the headings) whose first cell is
    ``first``."""
    for line in lines:
        cells = [cell.strip() for cell in line.replace("┃", "│").strip("│ ").split("│")]
        if cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n" + "\n".join(lines))


def test_the_monthly_report_has_a_title_and_headings(cli_env: Seeded) -> None:
    a = cli_env.world.a
    lines = _run("monthly", "--association", a.code, "--year", "2024", "--month", "2")
    assert lines[0].strip() == (
        f"{a.name}（{a.code}） 月报 monthly report：2024-02-01 至 2024-02-29"
    )
    assert _cells(lines, "科目代码") == [
        "科目代码",
        "科目名称",
        "期初余额",
        "本期借方",
        "本期贷方",
        "期末余额",
    ]
    assert _cells(lines, "code") == ["code", "account", "opening", "debit", "credit", "closing"]
    assert _cells(lines, "5002") == ["5002", "办公费用", "0.00", "350.50", "0.00", "350.50"]


def test_the_county_annual_report_has_a_title_and_headings(cli_env: Seeded) -> None:
    county = cli_env.world.county
    lines = _run("annual", "--county", county.code, "--year", "2024")
    assert lines[0].strip() == (
        f"{county.name} 全县汇总 county 年报 annual report：2024-01-01 至 2024-12-31"
    )
    assert _cells(lines, "协会")[:4] == ["协会", "银行存款", "应收借款", "会员互助金"]
    assert _cells(lines, "association")[-1] == "overdue amount"


def test_no_figure_is_cut_short_on_a_narrow_terminal(
    cli_env: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    county = cli_env.world.county
    out = tmp_path / "annual.csv"
    lines = _run("annual", "--county", county.code, "--year", "2024", "--csv", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        _headings, *rows = list(csv.reader(handle))
    assert rows
    for row in rows:
        assert _cells(lines, row[0]) == row
