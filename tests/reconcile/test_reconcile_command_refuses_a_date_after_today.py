"""``huzhu reconcile --date`` with a date after today (a typo, 2042 for 2024) is refused, in
Chinese and English, and nothing is reconciled: the days before it can still be reconciled."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.cli import app
from gateway.reconcile.models import ReconRun
from gateway.settings import Settings
from tests.recon_support import Nights

TODAY = date(2024, 7, 8)

pytestmark = pytest.mark.usefixtures("huzhu_env")


def _reconcile(day: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["reconcile", "--date", day], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _reconciled(nights: Nights) -> list[date]:
    session = nights.settle.fresh()
    return list(session.scalars(select(ReconRun.business_date).order_by(ReconRun.business_date)))


def test_a_date_after_today_is_refused_and_nothing_is_reconciled(
    nights: Nights, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Settings, "today", lambda self: TODAY)  # the county's today
    while nights.day < TODAY:
        nights.night()
    before = _reconciled(nights)
    assert before[-1] == date(2024, 7, 7)

    for typo in ("2042-07-08", "2024-07-09"):
        code, out = _reconcile(typo)
        assert code == 1, out
        assert f"对账日期 {typo} 晚于今天 2024-07-08" in out
        assert f"the business date {typo} is after today, 2024-07-08" in out
        assert "nothing was reconciled" in out
        assert _reconciled(nights) == before  # nothing written
        assert nights.items() == []

    # the date meant, today, is reconciled as usual
    code, out = _reconcile("2024-07-08")
    assert code == 0, out
    assert _reconciled(nights) == [*before, TODAY]
