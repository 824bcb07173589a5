"""A line on this special account naming a sub-account of another county's special account
belongs to no association here. An adjusting entry on it is refused for that reason (not as
a manual match that does not balance), and once the item is reassigned to an association of
its special account the entry goes to that association's books, never to the other
county's association that happens to hold that sub-account number."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.errors import ValidationFailed
from gateway.ledger.models import JournalTransaction
from gateway.org import service as org
from gateway.org.models import Bank, PilotLevel
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, Resolution
from gateway.reconcile.service import reconcile_account
from gateway.settings import PolicyDefaults
from tests.recon_support import Nights

OTHER_SUB = "7300001-1"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _other_countys_association(nights: Nights) -> int:
    session = nights.settle.fresh()
    county = org.create_county(
        session, code="ZZ", name="另一县", fund_office_name="另一县扶贫办", policy=PolicyDefaults()
    )
    town = org.create_town(session, county, code="T9", name="某镇")
    bank = session.scalars(select(Bank)).first()
    assert bank is not None
    special = org.create_special_account(
        session, county, bank, account_number="7300001", name="另一县专户"
    )
    other = org.create_association(
        session,
        code="ZZ-001",
        name="另一县互助协会",
        town=town,
        special_account=special,
        sub_account_number=OTHER_SUB,
        pilot_level=PilotLevel.PROVINCIAL,
        start_date=date(2023, 1, 1),
    )
    session.commit()
    return other.id


def test_the_entry_goes_to_the_association_the_item_was_reassigned_to(nights: Nights) -> None:
    other = _other_countys_association(nights)
    # the bank prints a 400-yuan credit on this account (sub-account 1's balance shows it)
    # whose line names the other county's sub-account
    credit = nights.line(nights.sub_a, 40_000, counterparty_account="6230000099998888")
    statement = nights.statement([credit])
    statement = replace(statement, entries=(replace(credit, sub_account=OTHER_SUB),))
    reconcile_account(nights.session, nights.special_id, nights.day, statement=statement)
    nights.session.commit()
    nights.day += timedelta(days=1)
    (item,) = [i for i in nights.items("unmatched_bank") if i.sub_account == OTHER_SUB]
    assert item.association_id is None

    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed) as refused:
        queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="不明入账")
    assert refused.value.code == "no_association"
    assert "改归" in refused.value.message_zh
    assert "reassign it first" in refused.value.message_en
    session.rollback()
    assert not list(
        session.scalars(
            select(JournalTransaction.id).where(JournalTransaction.association_id == other)
        )
    )

    a = nights.world.a.id
    queue.reassign(session, item.id, actor="alice", association_id=a, note="款项属本县协会一")
    session.commit()
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="不明入账，暂记待处理")
    session.commit()

    session = nights.settle.fresh()
    booked = session.scalars(
        select(JournalTransaction).where(JournalTransaction.external_ref == f"queue:{item.id}")
    ).one()
    assert booked.association_id == a
    done = queue.get_item(session, item.id)
    assert (done.status, done.resolution) == (ItemStatus.RESOLVED, Resolution.ADJUSTING_ENTRY)
