"""A statement whose opening is not the previous closing is an event of that day: a break on
another day is an item of its own, with its own figures, instead of one "persisting" item
whose earlier figures are overwritten. An item the run itself cleared (nobody resolved it)
that comes back is found again, not "reopened: still there after its resolution"; and when
the figures of an item seen again change, the night's history row keeps the earlier ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, NightState, QueueItem
from tests.recon_support import Nights


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _history(nights: Nights, item_id: int) -> list[tuple[str, str]]:
    return [(e.action, e.note) for e in queue.history(nights.settle.fresh(), item_id)]


def _ledger_break(nights: Nights) -> QueueItem:
    (found,) = [i for i in nights.items("balance_break") if i.subject.startswith("ledger:")]
    return found


def test_each_days_continuity_break_is_its_own_item(nights: Nights) -> None:
    books = nights.bank[nights.sub_a]
    nights.night()
    day2 = nights.day
    nights.bank[nights.sub_a] += 700  # the 2nd's opening is 7 yuan above the 1st's closing
    nights.night()
    day3 = nights.day
    nights.bank[nights.sub_a] -= 700  # and the 3rd's is back where the books are
    nights.night()
    nights.night()
    day5 = nights.day
    nights.bank[nights.sub_a] += 90_000  # the 5th's opening is 900 yuan above the 4th's
    fifth = nights.night()

    gaps = [i for i in nights.items("statement_gap") if i.sub_account == nights.sub_a]
    assert [(i.first_seen, i.last_seen, i.times_seen) for i in gaps] == [
        (day2, day2, 1),
        (day3, day3, 1),
        (day5, day5, 1),
    ]
    # each keeps the figures of its own day: previous closing, then the opening
    assert [(i.expected_fen, i.actual_fen) for i in gaps] == [
        (books, books + 700),
        (books + 700, books),
        (books, books + 90_000),
    ]
    assert all(i.status is ItemStatus.OPEN for i in gaps)
    account_gaps = [i for i in nights.items("statement_gap") if i.sub_account is None]
    assert len(account_gaps) == 3

    # the books' break of the 2nd went when the 3rd's balance agreed (nobody resolved it);
    # the 5th's difference is found again, not "reopened after its resolution"
    found = _ledger_break(nights)
    assert found.id not in fifth.queue.persisting
    assert (found.status, found.resolution) == (ItemStatus.OPEN, None)
    assert found.night_state is not NightState.REOPENED
    history = _history(nights, found.id)
    assert [action for action, _ in history] == [
        "raised",
        "cleared",
        "recurred",
        "figures_changed",  # 7 yuan on the 2nd, 900 on the 5th: the 2nd's figures are kept
    ]
    assert "after" not in history[2][1]
    assert history[2][1].startswith(day5.isoformat())
    assert "100,007.00" in history[3][1]
    assert "100,900.00" in history[3][1]


def test_changed_figures_of_an_item_seen_again_are_kept_in_its_history(nights: Nights) -> None:
    books = nights.bank[nights.sub_a]
    nights.night(closing_delta={nights.sub_a: 200_000})
    day2 = nights.day
    nights.night(closing_delta={nights.sub_a: -150_000})
    nights.night()  # the same figures again: nothing to add
    found = _ledger_break(nights)
    assert (found.expected_fen, found.actual_fen) == (books, books + 50_000)
    changes = [note for action, note in _history(nights, found.id) if action == "figures_changed"]
    assert len(changes) == 1
    (note,) = changes
    assert note.startswith(day2.isoformat())
    assert "102,000.00" in note  # the bank's figure the night before
    assert "100,500.00" in note  # the bank's figure now
