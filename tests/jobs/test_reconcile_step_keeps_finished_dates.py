"""The nightly reconcile step catching up several business dates commits each one as it is
done: when a later date fails, the earlier ones stay reconciled and the step, retried, takes up
only what is left (oldest first, nothing twice)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.jobs.pipeline import run_date
from gateway.org.models import SpecialAccount
from gateway.reconcile import service as reconcile_service
from gateway.reconcile.models import ReconRun
from tests.settle_support import DAY1, Settle, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _reconciled(settle: Settle) -> list[date]:
    session = settle.fresh()
    return list(session.scalars(select(ReconRun.business_date).order_by(ReconRun.business_date)))


def test_a_failing_date_keeps_the_dates_before_it_and_the_retry_starts_after_them(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = DAY1 - timedelta(days=1)
    run_date(settle.nightly, DAY1, ("reconcile",))
    assert _reconciled(settle) == [first]

    real = reconcile_service.reconcile_account
    broken = DAY1 + timedelta(days=1)

    def failing(session: Session, special_id: int, day: date, **kwargs: Any) -> object:
        if day == broken:
            raise RuntimeError("对账单存储不可读 statement store unreadable")
        return real(session, special_id, day, **kwargs)

    # three days later: DAY1, DAY1 + 1 and DAY1 + 2 are due; the second cannot be read
    run_for = DAY1 + timedelta(days=3)
    monkeypatch.setattr(reconcile_service, "reconcile_account", failing)
    (failed,) = run_date(settle.nightly, run_for, ("reconcile",))
    assert failed.status == "failed"
    assert failed.error is not None
    assert "statement store unreadable" in failed.error
    assert _reconciled(settle) == [first, DAY1]  # the date before the failure is kept

    monkeypatch.setattr(reconcile_service, "reconcile_account", real)
    (retried,) = run_date(settle.nightly, run_for, ("reconcile",))
    assert retried.status == "ran"
    assert [a["business_date"] for a in retried.summary["accounts"]] == [
        broken.isoformat(),
        (broken + timedelta(days=1)).isoformat(),
    ]
    assert _reconciled(settle) == [first + timedelta(days=n) for n in range(4)]


def test_an_account_that_fails_does_not_stop_the_others(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = settle.fresh()
    first = session.scalars(select(SpecialAccount).order_by(SpecialAccount.id)).first()
    assert first is not None
    other = SpecialAccount(
        county_id=first.county_id,
        bank_id=first.bank_id,
        level=first.level,
        account_number="6200002",
        name="第二个专户",
    )
    session.add(other)
    session.commit()
    first_id, other_id = first.id, other.id

    real = reconcile_service.reconcile_account
    attempts: list[tuple[int, date]] = []

    def failing(session: Session, special_id: int, day: date, **kwargs: Any) -> object:
        attempts.append((special_id, day))
        if special_id == first_id:
            raise RuntimeError("对账单存储不可读 statement store unreadable")
        return real(session, special_id, day, **kwargs)

    run_date(settle.nightly, DAY1, ("reconcile",))  # both accounts: the day before DAY1
    monkeypatch.setattr(reconcile_service, "reconcile_account", failing)
    (failed,) = run_date(settle.nightly, DAY1 + timedelta(days=3), ("reconcile",))

    assert failed.status == "failed"
    assert failed.error is not None
    assert f"special account {first_id} on {DAY1}" in failed.error
    assert "statement store unreadable" in failed.error
    assert "1 reconciliation(s) failed, 3 done, 2 later date(s)" in failed.error
    runs = settle.fresh().execute(
        select(ReconRun.special_account_id, ReconRun.business_date).order_by(
            ReconRun.special_account_id, ReconRun.business_date
        )
    )
    # the second account is reconciled through the run's dates; after the first account's
    # first date failed, its later dates were not tried out of order
    days = [DAY1 + timedelta(days=n) for n in range(-1, 3)]
    assert [tuple(r) for r in runs] == [(first_id, days[0])] + [(other_id, d) for d in days]
    assert [a for a in attempts if a[0] == first_id] == [(first_id, DAY1)]
