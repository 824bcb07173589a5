"""Days are reconciled in order. ``huzhu reconcile --date`` for a later date first reconciles
the days between the last reconciled one and it, each with its stored statement, as the nightly
step catches up; a day is never skipped (it could never be reconciled after)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.records import StatementEntry
from gateway.cli import app
from gateway.errors import Conflict
from gateway.org.models import Association
from gateway.reconcile.models import ReconRun
from gateway.reconcile.service import dates_to_reconcile, pending_dates, reconcile_account
from tests.recon_support import Nights, store_statement


def _huzhu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})
    return result.exit_code, result.output


def _runs(nights: Nights) -> list[tuple[date, bool]]:
    session = nights.settle.fresh()
    return [
        (run.business_date, run.has_statement)
        for run in session.scalars(select(ReconRun).order_by(ReconRun.business_date))
    ]


def _store(nights: Nights, entries: Iterable[StatementEntry]) -> date:
    """The current day's statement stored as fetched the next morning; the next day follows."""
    day = nights.day
    session = nights.settle.fresh()
    adapter = nights.settle.profile.adapter
    store_statement(session, adapter, nights.statement(entries), day + timedelta(days=1))
    session.commit()
    nights.day += timedelta(days=1)
    return day


@pytest.mark.usefixtures("huzhu_env")
def test_a_later_date_reconciles_the_stored_days_before_it_first(nights: Nights) -> None:
    first = _store(nights, [])
    code, out = _huzhu("reconcile", "--date", first.isoformat(), "--json")
    assert code == 0, out

    # day 2: a loan paid out, on the bank's statement; day 3 quiet; both statements stored
    second = _store(nights, [nights.paid_out_today(240_000)])
    third = _store(nights, [])

    # the office asks for day 3: day 2 is reconciled first, with its statement
    code, out = _huzhu("reconcile", "--date", third.isoformat(), "--json")
    assert code == 0, out
    summaries = json.loads(out)
    assert [(s["business_date"], s["statement"]) for s in summaries] == [
        (second.isoformat(), True),
        (third.isoformat(), True),
    ]
    assert [s["exceptions"] for s in summaries] == [{}, {}]  # no statement gap
    assert summaries[0]["matched_lines"] == 1  # the payment found on day 2's statement
    assert nights.items() == []
    assert _runs(nights) == [(first, True), (second, True), (third, True)]


@pytest.mark.usefixtures("huzhu_env")
def test_the_table_shows_each_day_reconciled(nights: Nights) -> None:
    nights.night()
    code, out = _huzhu("reconcile", "--date", (nights.day + timedelta(days=1)).isoformat())
    assert code == 0, out
    # two days without a statement on file: one table each, one gap each
    assert f"对账 reconciliation {nights.day}" in out
    assert f"对账 reconciliation {nights.day + timedelta(days=1)}" in out
    rows = [line for line in out.splitlines() if line.startswith("6200001")]
    assert len(rows) == 2
    assert all(row.split()[1] == "缺失" for row in rows)


def test_a_date_after_the_next_is_refused_naming_the_next(nights: Nights) -> None:
    nights.night(with_statement=False)  # no earlier night had a statement
    skipped = nights.day
    session = nights.settle.fresh()
    with pytest.raises(Conflict) as refused:
        reconcile_account(session, nights.special_id, skipped + timedelta(days=1))
    session.rollback()
    assert refused.value.code == "earlier_date_first"
    assert f"须先对账 {skipped}" in refused.value.message_zh
    assert f"{skipped} comes next" in refused.value.message_en
    assert _runs(nights) == [(skipped - timedelta(days=1), False)]
    # the day skipped can still be reconciled, and the one after it
    nights.night()
    nights.night()
    assert [day for day, _ in _runs(nights)] == [
        skipped - timedelta(days=1),
        skipped,
        skipped + timedelta(days=1),
    ]


def test_the_command_and_the_nightly_step_choose_the_same_dates(nights: Nights) -> None:
    nights.night()
    session = nights.settle.fresh()
    through = nights.day + timedelta(days=3)
    days = dates_to_reconcile(session, nights.special_id, through)
    assert days == [nights.day + timedelta(days=n) for n in range(4)]  # calendar days
    assert pending_dates(session, through + timedelta(days=1)) == [
        (nights.special_id, day) for day in days
    ]
    assert dates_to_reconcile(session, nights.special_id, nights.day - timedelta(days=1)) == []


@pytest.mark.usefixtures("huzhu_env")
def test_every_account_asked_for_is_caught_up_past_one_already_done(nights: Nights) -> None:
    """Without --account, an account reconciled through the date already is passed over (as
    the nightly step does), not a reason to stop before the accounts that are behind."""
    first = _store(nights, [])
    code, out = _huzhu("reconcile", "--date", first.isoformat(), "--account", "6200001")
    assert code == 0, out
    session = nights.settle.fresh()
    a = session.get(Association, nights.world.a.id)
    assert a is not None
    county, bank = a.special_account.county.code, a.special_account.bank.code
    code, out = _huzhu(
        "org", "special-account", "create", "--county", county, "--bank", bank,
        "--account-number", "6200009", "--name", "第二专户",
    )  # fmt: skip
    assert code == 0, out
    session.close()

    code, out = _huzhu("reconcile", "--date", first.isoformat())
    assert code == 0, out
    assert "6200001" in out  # passed over, and said so
    done = {
        (run.special_account_id, run.business_date)
        for run in nights.settle.fresh().scalars(select(ReconRun))
    }
    assert len(done) == 2  # the second account reconciled too

    # asked again, every account is done: refused, saying so
    code, out = _huzhu("reconcile", "--date", first.isoformat())
    assert code == 1
    assert "均已对账至" in out
