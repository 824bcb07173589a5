"""``huzhu reconcile`` counts pending days on the bank's holiday calendar, as the nightly step
does: a disbursement the bank has not shown by Sunday is still pending, not an exception."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.batches.calendar import load_calendar
from gateway.cli import app
from gateway.errors import ConfigurationError
from gateway.loans import service as loans
from gateway.reconcile.calendars import calendar_loader, match_config
from reconciliation.config import MatchConfig
from tests.recon_support import Nights
from tests.settle_support import BANK, REPO

FRIDAY = date(2024, 7, 5)


pytestmark = pytest.mark.usefixtures("huzhu_env")


def _reconcile(day: date) -> dict[str, object]:
    result = CliRunner().invoke(app, ["reconcile", "--date", day.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.output)
    assert isinstance(summary, dict)
    return summary


def test_a_disbursement_waits_over_the_weekend(nights: Nights) -> None:
    while nights.day < FRIDAY:
        nights.night()
    loan = nights.settle.released_loan(240_000)
    session = nights.settle.fresh()
    loans.mark_disbursed(session, loan.id, business_date=FRIDAY, external_ref="DSB-WEEKEND")
    session.commit()
    nights.night()  # Friday: the bank has not shown the payment yet

    saturday, sunday = _reconcile(date(2024, 7, 6)), _reconcile(date(2024, 7, 7))
    # no statement came at the weekend (a gap each day), but the payment is only pending:
    # two calendar days have passed, no banking day
    for summary in (saturday, sunday):
        exceptions = summary["exceptions"]
        assert isinstance(exceptions, dict)
        assert "unmatched_book" not in exceptions
        assert summary["open_entries"] == 1


def test_the_command_and_the_nightly_step_match_on_one_calendar(
    nights: Nights, config_dir: Path
) -> None:
    config = match_config(nights.session, calendar_loader(config_dir))
    expected = load_calendar(REPO / "config" / "calendar" / "cn.toml").for_matching()
    assert config == MatchConfig(calendar=expected)
    pipeline = match_config(
        nights.session, lambda code: nights.settle.make_nightly().profile(code).calendar
    )
    assert pipeline == config


def test_a_bank_without_configuration_is_refused(nights: Nights, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=BANK):
        match_config(nights.session, calendar_loader(tmp_path / "empty"))
