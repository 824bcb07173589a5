"""An adjusting entry or a write-off books money into one association's books, so it is
offered and accepted only for an item whose money is that association's: its open bank lines
on that association's sub-account, its open book entries booked to it, or (a balance break)
the difference on a sub-account it holds. Each association's funds never cross villages.

- An item whose line is one association's and whose entry another's (an amount mismatch
  across them) is refused, naming both associations and what is theirs.
- A repeated bank line (a duplicate) is no money: its original, if still open, is its own
  item's, and is booked there.
- A balance break on a sub-account no association of the special account holds cannot be
  booked to an association, even one it was reassigned to.

Each item is then resolved the way it can be, and the next night confirms it (the break waits
for the bank while the bank still shows the money there)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.records import SubAccountBalance
from gateway.errors import RuleViolation
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, NightState
from gateway.reconcile.service import reconcile_account
from gateway.reconcile.source import entry_id_of
from reconciliation.findings import ExceptionKind, ReconException
from tests.recon_support import Nights

STRANGER = "6230000099998888"
NOBODYS_SUB = "6200001-9"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _books(nights: Nights) -> dict[tuple[int, AccountCode], int]:
    session = nights.settle.fresh()
    return {
        (a.id, code): ledger.balance(session, a.id, code)
        for a in (nights.world.a, nights.world.b)
        for code in (AccountCode.BANK_SUB_ACCOUNT, AccountCode.SUSPENSE, AccountCode.WRITE_OFF)
    }


def test_lines_and_entries_of_two_associations_are_not_booked_into_one(nights: Nights) -> None:
    """A 500.00 credit on association a's sub-account, and a 300.00 deposit booked to
    association b, filed as one amount mismatch: booking the 200.00 between them into either
    association would take the other's money."""
    world = nights.world
    nights.night([nights.line(nights.sub_a, 50_000, counterparty_account=STRANGER)])
    (line,) = queue.item_line_ids(nights.item("unmatched_bank"))
    session = nights.settle.fresh()
    deposit = ledger.post(
        session,
        association_id=world.b.id,
        business_date=nights.day,
        description="会员入会互助金",
        kind="member_deposit",
        legs=[
            ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 30_000),
            ledger.Posting.credit(AccountCode.MEMBER_DEPOSITS, 30_000),
        ],
    )
    session.commit()
    nights.night()  # the deposit is among the open entries now
    entry = entry_id_of(deposit.id)
    session = nights.settle.fresh()
    summary = queue.sync_run(
        session,
        special_account_id=nights.special_id,
        business_date=nights.day,
        exceptions=[
            ReconException(
                ExceptionKind.AMOUNT_MISMATCH,
                (line,),
                (entry,),
                sub_account=nights.sub_a,
                expected_fen=30_000,
                actual_fen=50_000,
            )
        ],
        associations={nights.sub_a: world.a.id, nights.sub_b: world.b.id},
        entry_associations={entry: world.b.id},
        actor="nightly",
    )
    session.commit()
    # the line's open item takes the new kind over: still one item for the same money
    assert not summary.new
    mismatch = queue.get_item(session, nights.item("amount_mismatch").id)
    before = _books(nights)

    assert {"adjusting_entry", "write_off"} <= queue.refused_resolutions(session, mismatch)
    for book in (
        lambda: queue.resolve_adjusting_entry(session, mismatch.id, actor="alice", reason="差额"),
        lambda: queue.request_write_off(session, mismatch.id, actor="alice", note="差额"),
    ):
        with pytest.raises(RuleViolation) as refused:
            book()
        assert refused.value.code == "money_of_several_associations"
        zh, en = refused.value.message_zh, refused.value.message_en
        for association in (world.a, world.b):
            assert f"{association.code} {association.name}" in zh
            assert association.code in en
        assert "银行流水" in zh
        assert "+500.00" in zh
        assert "账务" in zh
        assert "+300.00 会员入会互助金" in zh
        assert "不得跨村" in zh
        assert "j:" not in zh
        assert "STMT" not in zh
        session.rollback()
    assert _books(nights) == before
    assert queue.get_item(session, mismatch.id).status is ItemStatus.OPEN


def test_a_repeated_bank_line_is_not_booked_and_its_original_is_booked_on_its_own_item(
    nights: Nights,
) -> None:
    """The bank prints a 500.00 credit twice (one transaction id): the copy is a duplicate
    item, the original an unmatched line of its own. Only the original's item books it."""
    one = nights.line(nights.sub_b, 50_000, counterparty_account=STRANGER, bank_transaction_id="D1")
    two = nights.line(nights.sub_b, 50_000, counterparty_account=STRANGER, bank_transaction_id="D1")
    nights.night([one, two], closing_delta={nights.sub_b: -50_000})  # printed, not booked, twice
    duplicate, original = nights.item("duplicate"), nights.item("unmatched_bank")
    session = nights.settle.fresh()
    assert queue.refused_resolutions(session, duplicate) == {"adjusting_entry", "write_off"}
    for book in (
        lambda: queue.resolve_adjusting_entry(session, duplicate.id, actor="alice", reason="x"),
        lambda: queue.request_write_off(session, duplicate.id, actor="alice", note="x"),
    ):
        with pytest.raises(RuleViolation) as refused:
            book()
        assert refused.value.code == "duplicate_not_bookable"
        assert "向银行核实" in refused.value.message_zh
        session.rollback()

    queue.resolve_adjusting_entry(session, original.id, actor="alice", reason="不明入账，暂记")
    queue.dismiss(session, duplicate.id, actor="alice", justification="银行确认为重复打印")
    session.commit()
    assert ledger.balance(session, nights.world.b.id, AccountCode.SUSPENSE) == -50_000
    after = nights.night()
    assert after.exceptions == ()
    assert sorted(after.queue.confirmed) == sorted([duplicate.id, original.id])
    for kind in ("duplicate", "unmatched_bank"):
        assert nights.item(kind).status is ItemStatus.CLOSED


def _night_with_nobodys_sub_account(nights: Nights) -> None:
    """A night whose statement shows 500.00 on a sub-account none of the special account's
    associations holds (and no line on it)."""
    statement = nights.statement([])
    assert statement.opening_balance_fen is not None
    assert statement.closing_balance_fen is not None
    statement = replace(
        statement,
        opening_balance_fen=statement.opening_balance_fen + 50_000,
        closing_balance_fen=statement.closing_balance_fen + 50_000,
        sub_account_balances=(
            *statement.sub_account_balances,
            SubAccountBalance(NOBODYS_SUB, 50_000, 50_000),
        ),
    )
    reconcile_account(nights.session, nights.special_id, nights.day, statement=statement)
    nights.session.commit()
    nights.day += timedelta(days=1)


def test_a_balance_break_on_a_sub_account_no_association_holds_is_not_booked(
    nights: Nights,
) -> None:
    """Reassigning the break to association a does not make the money a's: it is refused
    either way, and waits for the bank."""
    _night_with_nobodys_sub_account(nights)
    (item,) = nights.items("balance_break")
    assert item.subject == f"ledger:{NOBODYS_SUB}"
    session = nights.settle.fresh()
    queue.reassign(session, item.id, actor="alice", association_id=nights.world.a.id, note="试")
    session.commit()
    before = _books(nights)
    item = queue.get_item(session, item.id)
    assert {"adjusting_entry", "write_off"} <= queue.refused_resolutions(session, item)
    for book in (
        lambda: queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="x"),
        lambda: queue.request_write_off(session, item.id, actor="alice", note="x"),
    ):
        with pytest.raises(RuleViolation) as refused:
            book()
        assert refused.value.code == "sub_account_of_no_association"
        assert f"子账户 {NOBODYS_SUB} 不属于本专户的任何协会" in refused.value.message_zh
        session.rollback()
    assert _books(nights) == before

    queue.resolve_bank_error(session, item.id, actor="alice", note="请银行核实该子账户")
    session.commit()
    _night_with_nobodys_sub_account(nights)  # the bank has not corrected it yet
    waiting = queue.get_item(nights.settle.fresh(), item.id)
    assert (waiting.status, waiting.night_state) == (ItemStatus.WAITING_BANK, NightState.PERSISTING)
    assert _books(nights) == before
