"""``huzhu reports ...`` on the seeded county: the tables print, the files are written and
open, and a recorded grade shows in the county summary."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from gateway.cli import app
from tests.reports.county_seed import Seeded


@pytest.fixture
def cli_env(seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    seeded.session.close()
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_evaluation_loans_and_county_exports(cli_env: Path) -> None:
    out = run(
        "reports", "evaluation", "--association", "TC-1", "--as-of", "2024-06-30",
        "--xlsx", str(cli_env / "a1.xlsx"), "--csv", str(cli_env / "a1.csv"),
    )  # fmt: skip
    assert "suggested grade: D (26)" in out
    assert load_workbook(cli_env / "a1.xlsx").sheetnames == ["附件1 等级评估表"]
    run("reports", "loans", "--association", "TC-1", "--as-of", "2024-06-30",
        "--csv", str(cli_env / "a2.csv"))  # fmt: skip
    with (cli_env / "a2.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][1] == "借款合同号"
    assert len(rows) == 1 + 7 + 1
    run(
        "reports", "record-grade", "--association", "TC-1", "--grade", "C",
        "--method", "县级评估组直接评估", "--actor", "张主任", "--period-end", "2024-06-30",
    )  # fmt: skip
    out = run("reports", "county", "--county", "TC", "--as-of", "2024-06-30",
              "--xlsx", str(cli_env / "a3.xlsx"))  # fmt: skip
    sheet = load_workbook(cli_env / "a3.xlsx")["附件3 评估情况一览表"]
    assert sheet.cell(row=6, column=28).value == "C"
    assert sheet.cell(row=6, column=29).value == "县级评估组直接评估"


def test_monthly_annual_and_credit_review(cli_env: Path) -> None:
    out = run("reports", "monthly", "--association", "TC-1", "--year", "2024", "--month", "2")
    row = next(line for line in out.splitlines() if line.startswith("│ 5002 "))
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells == ["5002", "办公费用", "0.00", "350.50", "0.00", "350.50"]
    run("reports", "annual", "--county", "TC", "--year", "2024",
        "--xlsx", str(cli_env / "annual.xlsx"))  # fmt: skip
    assert load_workbook(cli_env / "annual.xlsx").sheetnames[0] == "全县汇总"
    out = run("reports", "credit-review", "--county", "TC", "--year", "2023", "--actor", "王")
    assert "reviewed 12" in out
    refused = CliRunner().invoke(app, ["reports", "monthly", "--year", "2024", "--month", "2"])
    assert refused.exit_code != 0
