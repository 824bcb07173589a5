"""``huzhu queue decide``: a second person approves or rejects a write-off request from the
command line; the requester's own decision is refused with the reason in Chinese and English."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, Resolution
from tests.recon_support import Nights

pytestmark = pytest.mark.usefixtures("huzhu_env")


def _huzhu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _requested(nights: Nights) -> str:
    nights.staff("alice")  # who asks for the write-off
    nights.staff("bob")  # the second person
    taken = nights.line(nights.sub_b, 12_300, credit=False, counterparty_account="6230000011112222")
    nights.night([taken])
    item = nights.item("unmatched_bank")
    code, out = _huzhu(
        "queue", "resolve", str(item.id), "--as", "write_off", "--by", "alice",
        "--note", "冒名转出，无法追回",
    )  # fmt: skip
    assert code == 0, out
    assert "write_off_review" in out
    return str(item.id)


def test_approving_a_write_off_from_the_command_line(nights: Nights) -> None:
    item_id = _requested(nights)
    code, out = _huzhu("queue", "decide", item_id, "--approve", "--by", "alice")
    assert code == 1
    assert "核销申请须由申请人以外的另一人审批" in out
    assert "a write-off request is decided by" in out
    assert nights.item("unmatched_bank").status is ItemStatus.WRITE_OFF_REVIEW

    day = nights.day.isoformat()
    code, out = _huzhu("queue", "decide", item_id, "--approve", "--by", "bob", "--date", day)
    assert code == 0, out
    assert f"差错 {item_id}: 已处理，待对账确认 resolved" in out  # the next night confirms it
    item = nights.item("unmatched_bank")
    assert (item.status, item.resolution, item.approved_by) == (
        ItemStatus.RESOLVED,
        Resolution.WRITE_OFF,
        "bob",
    )
    session = nights.settle.fresh()
    assert ledger.balance(session, nights.world.b.id, AccountCode.WRITE_OFF) == 12_300
    nights.night()
    assert nights.item("unmatched_bank").status is ItemStatus.CLOSED


def test_rejecting_a_write_off_from_the_command_line(nights: Nights) -> None:
    item_id = _requested(nights)
    code, out = _huzhu("queue", "decide", item_id, "--reject", "--by", "bob")
    assert code == 1
    assert "退回须说明原因" in out
    code, out = _huzhu(
        "queue", "decide", item_id, "--reject", "--by", "bob", "--note", "先向银行追索"
    )
    assert code == 0, out
    assert "open" in out
    assert nights.item("unmatched_bank").status is ItemStatus.OPEN
    events = queue.history(nights.settle.fresh(), int(item_id))
    assert (events[-1].action, events[-1].actor, events[-1].note) == (
        "write_off_rejected",
        "bob",
        "先向银行追索",
    )


def test_the_approvers_note_from_the_command_line_is_kept(nights: Nights) -> None:
    item_id = _requested(nights)
    day = nights.day.isoformat()
    code, out = _huzhu(
        "queue", "decide", item_id, "--approve", "--by", "bob", "--date", day,
        "--note", "已核对银行回单第88号",
    )  # fmt: skip
    assert code == 0, out
    events = queue.history(nights.settle.fresh(), int(item_id))
    assert (events[-1].action, events[-1].note) == ("write_off_approved", "已核对银行回单第88号")
