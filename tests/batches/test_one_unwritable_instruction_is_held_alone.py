"""One member's name that the bank's layout cannot carry (its delimiter inside the name) holds
back that member's instruction alone: the other members' and the other association's
instructions of the same special account go out in the night's file, and only the
association of the held instruction is told, once, without anyone else's name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.jobs.pipeline import run_date
from gateway.members.models import Member
from gateway.payments import service as payments
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def test_the_good_instructions_go_out_the_same_night_and_only_the_bad_one_waits(
    settle: Settle,
) -> None:
    world = settle.world
    bad = settle.released_loan(100_000)  # borrower: the first member of association A
    settle.released_loan(200_000)  # another member of association A
    loan_b = world.apply(world.members_b[0], association=world.b, amount_fen=300_000)
    world.approve(loan_b)
    payments.release_loan(settle.session, loan_b.id, on=world.today)
    borrower = settle.session.get(Member, bad.member_id)
    assert borrower is not None
    borrower.name = "张|三"  # the rcb_pipe layout's delimiter
    good_names = {m.name for m in settle.session.scalars(select(Member)) if m.id != borrower.id}
    settle.session.commit()

    outcomes = run_date(settle.nightly, DAY1)

    batches = [o for o in outcomes if o.step == "batches"]
    assert [(o.status, o.summary["built"], o.summary["refused"]) for o in batches] == [
        ("ran", 1, 1)
    ]
    (sent,) = settle.bank.batches().values()
    assert sorted(i.amount_fen for i in sent.instructions) == [200_000, 300_000]
    assert "张|三" not in {i.creditor_name for i in sent.instructions}
    by_amount = {i.amount_fen: i for i in settle.instructions()}
    assert by_amount[100_000].status is InstructionStatus.PENDING
    assert by_amount[100_000].batch_id is None
    assert by_amount[200_000].status is InstructionStatus.SENT
    assert by_amount[300_000].status is InstructionStatus.SENT
    (item,) = settle.fresh().scalars(select(FollowUpItem)).all()
    assert item.kind is FollowUpKind.BATCH_NOT_BUILT
    assert item.association_id == world.a.id
    assert item.instruction_id == by_amount[100_000].id
    assert item.amount_fen == 100_000
    assert by_amount[100_000].end_to_end_id in item.message_zh
    assert by_amount[100_000].end_to_end_id in item.message_en
    assert by_amount[200_000].end_to_end_id not in item.message_zh
    assert by_amount[300_000].end_to_end_id not in item.message_zh
    assert not any(name in item.message_zh + item.message_en for name in good_names)


def test_the_held_instruction_is_told_once_and_goes_once_its_name_is_mended(
    settle: Settle,
) -> None:
    bad = settle.released_loan(100_000)
    settle.released_loan(200_000)
    borrower = settle.session.get(Member, bad.member_id)
    assert borrower is not None
    borrower.name = "张|三"
    settle.session.commit()

    for day in (DAY1, DAY1 + timedelta(days=1)):
        run_date(settle.nightly, day)
    assert len(settle.bank.batches()) == 1  # the good one, the first night
    assert len(settle.fresh().scalars(select(FollowUpItem)).all()) == 1  # not one a night

    borrower = settle.session.get(Member, bad.member_id)
    assert borrower is not None
    borrower.name = "张三"
    settle.session.commit()
    run_date(settle.nightly, DAY1 + timedelta(days=2))
    assert len(settle.bank.batches()) == 2
    held = {i.amount_fen: i for i in settle.instructions()}[100_000]
    assert held.status is InstructionStatus.SENT
