"""分派: an item goes only to someone who can work it, an active user whose role works the
queue within the item's county. Anyone else (a name nobody has, a treasurer, the bank's
operator, a disabled account, another county's officer) is refused with the name typed and
the reason, and the item stays as it was: given to them it would sit unseen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.auth import credentials
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.errors import ValidationFailed
from gateway.org import service as org
from gateway.queue import service as queue
from gateway.queue.models import QueueItem
from gateway.settings import PolicyDefaults
from tests.recon_support import Nights

STRANGER = "6230000099998888"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _unmatched(nights: Nights) -> QueueItem:
    nights.night([nights.line(nights.sub_b, 9_900, counterparty_account=STRANGER)])
    return nights.item("unmatched_bank")


def _refusal(nights: Nights, item_id: int, assignee: str) -> ValidationFailed:
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed) as refused:
        queue.assign(session, item_id, assignee=assignee, actor="user:officer")
    session.rollback()
    return refused.value


def test_nobody_who_cannot_work_the_queue_is_given_an_item(nights: Nights) -> None:
    item = _unmatched(nights)
    nights.staff("treasurer_b", Role.TREASURER, association_id=nights.world.b.id)
    nights.staff("bank_op", Role.BANK_OPERATOR)
    nights.staff("auditor", Role.AUDITOR)
    gone = nights.staff("gone", Role.COUNTY_REVIEWER)
    session = nights.settle.fresh()
    credentials.disable_user(session, gone, actor="test")
    session.commit()

    unknown = _refusal(nights, item.id, "nobody-here")
    assert unknown.code == "assignee_unknown"
    assert "nobody-here" in unknown.message_zh
    assert "no such user" in unknown.message_en
    for who, role in (("treasurer_b", "协会会计"), ("bank_op", "银行操作员"), ("auditor", "审计")):
        refused = _refusal(nights, item.id, who)
        assert refused.code == "assignee_cannot_work_queue", who
        assert who in refused.message_zh
        assert role in refused.message_zh
        assert "cannot work the mismatch queue" in refused.message_en
    disabled = _refusal(nights, item.id, "gone")
    assert disabled.code == "assignee_disabled"
    assert "gone" in disabled.message_zh
    assert "disabled" in disabled.message_en

    after = nights.item("unmatched_bank")
    assert after.assignee is None
    assert [e.action for e in queue.history(nights.settle.fresh(), item.id)] == ["raised"]


def test_another_countys_officer_is_answered_as_no_such_user(nights: Nights) -> None:
    item = _unmatched(nights)
    session = nights.settle.fresh()
    other = org.create_county(
        session, code="OC", name="邻县", fund_office_name="邻县互助资金办", policy=PolicyDefaults()
    )
    create_user(
        session,
        username="officer_other",
        display_name="邻县主任",
        role=Role.COUNTY_OFFICER,
        county_id=other.id,
    )
    session.commit()
    refused = _refusal(nights, item.id, "officer_other")
    assert refused.code == "assignee_unknown"
    assert "officer_other" in refused.message_zh


def test_the_item_goes_to_the_user_named_however_the_name_was_typed(nights: Nights) -> None:
    item = _unmatched(nights)
    carol = nights.staff("carol", Role.COUNTY_REVIEWER, display_name="王会计")
    for typed in ("Carol ", "user:carol"):
        session = nights.settle.fresh()
        assigned = queue.assign(session, item.id, assignee=typed, actor="user:officer")
        session.commit()
        assert assigned.assignee == carol
    assert [i.id for i in queue.list_items(nights.settle.fresh(), assignee="carol")] == [item.id]


def test_the_people_offered_are_those_who_can_work_the_item(nights: Nights) -> None:
    item = _unmatched(nights)
    nights.staff("admin", Role.ADMIN)
    nights.staff("zhang", Role.COUNTY_OFFICER, display_name="张主任")
    nights.staff("li", Role.COUNTY_REVIEWER, display_name="李复核")
    nights.staff("treasurer_b", Role.TREASURER, association_id=nights.world.b.id)
    nights.staff("bank_op", Role.BANK_OPERATOR)
    nights.staff("gone", Role.COUNTY_REVIEWER)
    session = nights.settle.fresh()
    credentials.disable_user(session, "gone", actor="test")
    session.commit()
    offered = queue.eligible_assignees(nights.settle.fresh(), item)
    assert sorted(u.username for u in offered) == ["admin", "li", "zhang"]
