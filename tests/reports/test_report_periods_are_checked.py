"""Every report refuses a period that runs backwards and a year no date can carry, by one
check: the services raise ``ValidationFailed``, the command line prints one line and exits 1
(no traceback)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.errors import ValidationFailed
from gateway.reports.figures import evaluate
from gateway.reports.scoring import load_grading_config
from gateway.reports.service import (
    county_period_report,
    county_summary,
    month_bounds,
    period_report,
    year_bounds,
)
from gateway.reports.tables import loan_detail
from tests.reports.county_seed import Seeded

REPO = Path(__file__).resolve().parents[2]
SCORING = load_grading_config(REPO / "config" / "grading.toml").evaluation
LATE, EARLY = date(2024, 8, 1), date(2024, 7, 1)


def test_every_report_refuses_a_period_that_starts_after_it_ends(seeded: Seeded) -> None:
    session, a, county = seeded.session, seeded.world.a.id, seeded.world.county.id
    reports: list[Callable[[], object]] = [
        lambda: evaluate(session, a, as_of=EARLY, since=LATE),
        lambda: loan_detail(session, a, as_of=EARLY, since=LATE),
        lambda: county_summary(session, county, SCORING, as_of=EARLY, since=LATE),
        lambda: period_report(session, a, LATE, EARLY),
        lambda: county_period_report(session, county, LATE, EARLY),
    ]
    for report in reports:
        with pytest.raises(ValidationFailed) as refused:
            report()
        assert refused.value.code == "report_period_reversed"
        assert "起始日 2024-08-01 晚于截止日 2024-07-01" in refused.value.message_zh


@pytest.mark.parametrize(
    "bounds", [lambda: month_bounds(0, 1), lambda: year_bounds(0), lambda: year_bounds(10000)]
)
def test_a_year_no_date_can_carry_is_refused(bounds: Callable[[], object]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        bounds()
    assert refused.value.code == "report_year_out_of_range"


def test_the_first_and_last_years_a_date_can_carry_are_reports_years() -> None:
    assert month_bounds(1, 1) == (date(1, 1, 1), date(1, 1, 31))
    assert year_bounds(9999) == (date(9999, 1, 1), date(9999, 12, 31))


@pytest.fixture
def cli_env(seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    monkeypatch.setenv("COLUMNS", "200")
    seeded.session.close()
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "evaluation",
                "--association",
                "TC-1",
                "--as-of",
                "2024-07-01",
                "--since",
                "2024-08-01",
            ],
            "报表期间无效：起始日 2024-08-01 晚于截止日 2024-07-01",
        ),
        (
            ["loans", "--association", "TC-1", "--as-of", "2024-07-01", "--since", "2024-08-01"],
            "报表期间无效",
        ),
        (
            ["county", "--county", "TC", "--as-of", "2024-07-01", "--since", "2024-08-01"],
            "报表期间无效",
        ),
        (["monthly", "--year", "0", "--month", "1", "--association", "TC-1"], "报表年份无效：0"),
        (["annual", "--year", "10000", "--association", "TC-1"], "报表年份无效：10000"),
    ],
)
def test_the_command_line_refuses_a_bad_period_in_one_line(
    cli_env: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["reports", *args])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert message in lines[0]
    assert "suggested grade" not in result.output
