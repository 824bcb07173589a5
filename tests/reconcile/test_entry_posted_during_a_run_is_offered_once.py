"""A book entry posted while a night's run is under way is offered to exactly one run: the
run that read it never sees it again the next night (where it would stay open and turn
unmatched), and one that did not read it is picked up by the next night."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.db import utcnow
from gateway.loans import service as loans
from gateway.members.service import CARD_FIELD
from gateway.reconcile import service as reconcile_service
from gateway.reconcile.models import ReconRun
from tests.recon_support import Nights
from tests.settle_support import CIPHER


def _disburse(nights: Nights, ref: str) -> str:
    """A loan paid out in the books today; returns the borrower's card."""
    loan = nights.settle.released_loan(240_000)
    session = nights.settle.fresh()
    loans.mark_disbursed(session, loan.id, business_date=nights.day, external_ref=ref)
    session.commit()
    return CIPHER.decrypt(CARD_FIELD, nights.world.members_a[0].card_cipher)


def _run_started_earlier(monkeypatch: pytest.MonkeyPatch, started: datetime) -> None:
    """The run's clock says it started before the entry was posted (it was under way)."""
    monkeypatch.setattr(reconcile_service, "utcnow", lambda: started)


def test_an_entry_the_run_read_is_not_offered_again(
    nights: Nights, monkeypatch: pytest.MonkeyPatch
) -> None:
    nights.night()
    started = utcnow() - timedelta(minutes=5)
    card = _disburse(nights, "DSB-DURING")
    _run_started_earlier(monkeypatch, started)
    paid = nights.line(
        nights.sub_a, 240_000, credit=False, end_to_end_id="DSB-DURING", counterparty_account=card
    )
    first = nights.night([paid])
    assert first.exceptions == ()
    assert first.open_entries == 0
    monkeypatch.undo()

    # the next nights offer it no more: nothing open, nothing unmatched
    for _ in range(3):
        outcome = nights.night()
        assert outcome.entries == 0
        assert outcome.open_entries == 0
        assert outcome.exceptions == ()


def test_a_back_dated_entry_posted_after_the_run_is_picked_up_next_night(
    nights: Nights,
) -> None:
    nights.night()
    back_dated = nights.day - timedelta(days=1)
    nights.day = back_dated
    card = _disburse(nights, "DSB-LATE")
    nights.day = back_dated + timedelta(days=1)
    paid = nights.line(
        nights.sub_a, 240_000, credit=False, end_to_end_id="DSB-LATE", counterparty_account=card
    )
    outcome = nights.night([paid])
    assert outcome.entries == 1
    assert outcome.exceptions == ()
    runs = list(nights.settle.fresh().scalars(select(ReconRun).order_by(ReconRun.id)))
    assert len(runs) == 2


def test_an_entry_posted_after_the_run_began_reading_goes_to_the_next_night(
    nights: Nights, monkeypatch: pytest.MonkeyPatch
) -> None:
    nights.night()
    real_load_book = reconcile_service.load_book
    posted: list[str] = []

    def load_book_while_someone_posts(*args: Any, **kwargs: Any) -> Any:
        # the disbursement is committed after the run took its watermark, before it reads
        posted.append(_disburse(nights, "DSB-RACE"))
        return real_load_book(*args, **kwargs)

    monkeypatch.setattr(reconcile_service, "load_book", load_book_while_someone_posts)
    that_night = nights.night()
    monkeypatch.undo()
    assert posted
    assert that_night.entries == 0

    next_night = nights.night()
    assert next_night.entries == 1
    assert next_night.open_entries == 1  # pending: the bank may still show it
    assert next_night.exceptions == ()
