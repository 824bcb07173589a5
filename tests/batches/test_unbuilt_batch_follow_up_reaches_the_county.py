"""An instruction that cannot be written into the bank's file leaves a follow-up for its own
association, so the county fund office and that association's treasurer see it in
GET /api/v1/follow-ups, not only the administrator; the other association's treasurer, whose
instruction went out, sees nothing of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import Direction
from gateway.auth.models import Role
from gateway.batches.builder import _batch_not_built
from gateway.jobs.pipeline import run_date
from gateway.members.models import Member
from gateway.payments import follow_ups
from gateway.payments import service as payments
from gateway.payments.models import FollowUpItem, FollowUpKind
from tests.settle_support import DAY1, Settle, client_as, http_app, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def test_county_officer_and_its_treasurer_see_the_held_instructions_follow_up(
    settle: Settle, tmp_path: Path
) -> None:
    world = settle.world
    in_a = settle.released_loan(100_000)
    loan_b = world.apply(world.members_b[0], association=world.b, amount_fen=200_000)
    world.approve(loan_b)
    payments.release_loan(settle.session, loan_b.id, on=world.today)
    borrower = settle.session.get(Member, in_a.member_id)
    assert borrower is not None
    borrower.name = "王|五"  # the bank's delimiter inside a field: the file cannot be written
    app = http_app(settle, tmp_path, console=False)
    clients = {
        username: client_as(
            settle,
            app,
            username,
            role,
            county_id=world.county.id if association is None else None,
            association_id=association,
        )
        for username, role, association in (
            ("officer", Role.COUNTY_OFFICER, None),
            ("treasurer_a", Role.TREASURER, world.a.id),
            ("treasurer_b", Role.TREASURER, world.b.id),
        )
    }
    a_id = world.a.id

    outcomes = run_date(settle.nightly, DAY1)
    # both instructions were in the one batch: only A's waits, B's went out
    assert (outcomes[-1].summary["built"], outcomes[-1].summary["refused"]) == (1, 1)

    def listed(username: str) -> list[dict[str, object]]:
        response = clients[username].get("/api/v1/follow-ups")
        assert response.status_code == 200, response.text
        items: list[dict[str, object]] = response.json()["items"]
        return items

    county = listed("officer")
    assert sorted((i["kind"], i["association_id"], i["amount_fen"]) for i in county) == [
        ("batch_not_built", a_id, 100_000),
    ]
    assert [(i["association_id"], i["amount_fen"]) for i in listed("treasurer_a")] == [
        (a_id, 100_000)
    ]
    assert listed("treasurer_b") == []


def test_a_batch_that_still_cannot_be_built_keeps_one_open_follow_up(settle: Settle) -> None:
    """The instruction stays pending and is tried again each round; the office has one open
    follow-up for it, not one more a round, and a new one once it resolved the first."""
    loan = settle.released_loan(100_000)
    borrower = settle.session.get(Member, loan.member_id)
    assert borrower is not None
    borrower.name = "王|五"
    settle.session.commit()

    for day in (DAY1, DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)):
        run_date(settle.nightly, day)

    def unbuilt() -> list[FollowUpItem]:
        return list(
            settle.fresh().scalars(
                select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.BATCH_NOT_BUILT)
            )
        )

    (first,) = unbuilt()
    assert first.business_date == DAY1
    follow_ups.resolve_follow_up(settle.session, first.id, actor="县办王", note="已通知改名")
    settle.session.commit()
    run_date(settle.nightly, DAY1 + timedelta(days=3))
    assert [(f.business_date, f.resolved) for f in unbuilt()] == [
        (DAY1, True),
        (DAY1 + timedelta(days=3), False),
    ]


def test_a_batch_of_the_other_direction_failing_too_is_told_of_on_its_own(
    settle: Settle,
) -> None:
    """An association's open follow-up for a disbursement batch that cannot be built does not
    swallow a collection batch failing as well: each is told of, once."""
    settle.released_loan(100_000)
    settle.released_loan(200_000)
    first, second = settle.instructions()
    session = settle.session
    for _night in range(2):
        _batch_not_built(session, [first], Direction.DISBURSEMENT, DAY1, ValueError("密钥缺失"))
        _batch_not_built(session, [second], Direction.COLLECTION, DAY1, ValueError("版式错误"))
        session.flush()

    told = session.scalars(
        select(FollowUpItem)
        .where(FollowUpItem.kind == FollowUpKind.BATCH_NOT_BUILT)
        .order_by(FollowUpItem.id)
    ).all()
    assert [(f.instruction_id, f.amount_fen) for f in told] == [
        (first.id, 100_000),
        (second.id, 200_000),
    ]
    assert "collection" in told[1].message_en
