"""Monthly and annual reports per association and per county: opening plus movements equals
closing for every account, movements match the journal's legs in the period, and the county
report adds up its associations."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.errors import ValidationFailed
from gateway.ledger.models import AccountCode, JournalLeg, JournalTransaction, LedgerAccount
from gateway.reports import export
from gateway.reports.service import (
    county_period_report,
    month_bounds,
    period_report,
    year_bounds,
)
from tests.reports.county_seed import Seeded


def _raw_movements(seeded: Seeded, start: date, end: date) -> dict[str, tuple[int, int]]:
    rows = seeded.session.execute(
        select(LedgerAccount.code, JournalLeg.debit_fen, JournalLeg.credit_fen)
        .join(JournalTransaction, JournalTransaction.id == JournalLeg.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
        .where(
            JournalTransaction.association_id == seeded.world.a.id,
            JournalTransaction.business_date >= start,
            JournalTransaction.business_date <= end,
        )
    )
    found: dict[str, tuple[int, int]] = {}
    for code, debit, credit in rows:
        d, c = found.get(code.value, (0, 0))
        found[code.value] = (d + debit, c + credit)
    return found


@pytest.mark.parametrize(
    "bounds", [month_bounds(2024, 2), month_bounds(2023, 12), year_bounds(2023)]
)
def test_an_association_report_rolls_forward(seeded: Seeded, bounds: tuple[date, date]) -> None:
    start, end = bounds
    report = period_report(seeded.session, seeded.world.a.id, start, end)
    raw = _raw_movements(seeded, start, end)
    assert report.balanced
    for account in report.accounts:
        assert (account.debit_fen, account.credit_fen) == raw.get(account.code.value, (0, 0))
        sign = 1 if account.account_type.debit_normal else -1
        moved = sign * (account.debit_fen - account.credit_fen)
        assert account.opening_fen + moved == account.closing_fen


def test_february_2024_figures(seeded: Seeded) -> None:
    report = period_report(seeded.session, seeded.world.a.id, *month_bounds(2024, 2))
    assert report.figures.loans_issued.count == 1  # A-L7 on 2024-02-01
    assert report.figures.loans_issued.amount_fen == 900_000
    office = next(a for a in report.accounts if a.code is AccountCode.EXPENSE_OFFICE)
    assert (office.opening_fen, office.debit_fen, office.closing_fen) == (0, 35_050, 35_050)
    # leap day: the month runs to the 29th
    assert report.end == date(2024, 2, 29)


def test_the_county_report_adds_up(seeded: Seeded, tmp_path: Path) -> None:
    session, world = seeded.session, seeded.world
    report = county_period_report(session, world.county.id, *year_bounds(2024))
    assert [r.association_id for r in report.associations] == [world.a.id, world.b.id]
    total_bank = sum(r.closing(AccountCode.BANK_SUB_ACCOUNT) for r in report.associations)
    assert report.total(AccountCode.BANK_SUB_ACCOUNT) == total_bank
    book = export.new_workbook()
    export.county_period_sheet(book, report)
    for item in report.associations:
        export.period_sheet(book, item)
    path = export.save(book, tmp_path / "annual.xlsx")
    opened = load_workbook(path)
    assert opened.sheetnames == ["全县汇总", "TC-1 报表", "TC-2 报表"]
    summary = opened["全县汇总"]
    assert summary["A5"].value == "合计"
    assert summary["E5"].value == sum(r.figures.loans_issued.count for r in report.associations)
    parsed = list(csv.reader(io.StringIO(export.county_period_csv(report))))
    assert parsed[0][0] == "协会"
    assert parsed[-1][0] == "合计"
    assert len(parsed) == 4


def test_bad_periods_are_refused(seeded: Seeded) -> None:
    with pytest.raises(ValidationFailed):
        month_bounds(2024, 13)
    with pytest.raises(ValidationFailed):
        period_report(seeded.session, seeded.world.a.id, date(2024, 3, 1), date(2024, 2, 1))
