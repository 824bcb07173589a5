"""A day the bank sent no statement for is one queue item: raised that night, seen again the
next night (when the statement after it shows the gap), never a second item."""

from __future__ import annotations

from datetime import timedelta

from gateway.queue.models import ItemStatus, NightState
from tests.recon_support import Nights


def test_a_missing_day_is_carried_over_not_raised_twice(nights: Nights) -> None:
    nights.night()
    missing = nights.day
    that_night = nights.night(with_statement=False)
    assert that_night.kinds == {"statement_gap": 1}
    next_night = nights.night()
    assert next_night.kinds == {"statement_gap": 1}
    assert next_night.queue.as_dict()["new"] == 0

    (item,) = nights.items("statement_gap")
    assert item.subject == f"missing:{missing.isoformat()}"
    assert (item.first_seen, item.last_seen) == (missing, missing + timedelta(days=1))
    assert item.times_seen == 2
    assert item.night_state is NightState.PERSISTING
    assert item.status is ItemStatus.OPEN

    # the night after, with its statement in order, raises nothing new and keeps the item open
    assert nights.night().kinds == {}
    (still,) = nights.items("statement_gap")
    assert still.status is ItemStatus.OPEN


def test_two_missing_days_are_two_items(nights: Nights) -> None:
    nights.night()
    first = nights.day
    nights.night(with_statement=False)
    nights.night(with_statement=False)
    nights.night()
    subjects = [i.subject for i in nights.items("statement_gap")]
    assert subjects == [f"missing:{first}", f"missing:{first + timedelta(days=1)}"]
