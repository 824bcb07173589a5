"""One unexplained difference on a sub-account raises two balance breaks: the books against
the bank's closing (``ledger:``) and the bank's own lines against its closing
(``statement:``). Only the first can be put right in the books; the second is the bank's to
explain, so an adjusting entry or a write-off on it is refused and the money is booked once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import RuleViolation
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus
from tests.recon_support import Nights


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def test_the_difference_is_booked_once_and_the_statement_break_goes_to_the_bank(
    nights: Nights,
) -> None:
    a = nights.world.a.id
    # the bank's closing on sub-account 1 is 500 yuan above its opening plus its lines
    nights.night(closing_delta={nights.sub_a: 50_000})
    breaks = {i.subject: i for i in nights.items("balance_break")}
    books, statement = breaks[f"ledger:{nights.sub_a}"], breaks[f"statement:{nights.sub_a}"]

    session = nights.settle.fresh()
    # the console offers neither on the bank's break (nor a manual match: it is about no line
    # or entry), both on the books' one
    assert queue.refused_resolutions(session, statement) == {
        "manual_match",
        "adjusting_entry",
        "write_off",
    }
    assert queue.refused_resolutions(session, books) == frozenset()
    for book in (
        lambda: queue.resolve_adjusting_entry(
            session, statement.id, actor="alice", reason="不明入账"
        ),
        lambda: queue.request_write_off(session, statement.id, actor="alice", note="无法查明"),
    ):
        with pytest.raises(RuleViolation) as refused:
            book()
        assert refused.value.code == "statement_break_not_bookable"
        assert "向银行反映" in refused.value.message_zh
        assert "follow it up with the bank" in refused.value.message_en
        session.rollback()
    assert ledger.balance(session, a, AccountCode.SUSPENSE) == 0

    # the bank is asked about its statement; the books take the difference once
    queue.resolve_bank_error(session, statement.id, actor="alice", note="对账单期末与流水不符")
    queue.resolve_adjusting_entry(session, books.id, actor="alice", reason="不明入账，暂记待处理")
    session.commit()
    session = nights.settle.fresh()
    assert ledger.balance(session, a, AccountCode.SUSPENSE) == -50_000
    assert ledger.balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == nights.bank[nights.sub_a]

    # the next night the books agree with the bank: nothing is raised, nothing reopened
    after = nights.night()
    assert after.exceptions == ()
    assert after.queue.reopened == []
    assert queue.get_item(nights.settle.fresh(), books.id).status is ItemStatus.CLOSED
