"""``huzhu queue resolve|approve|decide|assign --by NAME``: the person named acts, so the name
must be an active user who may work the item's queue, as in the console. The person who
proposed a large adjusting entry cannot approve it by spelling their name in full-width
letters; a name no user has, a read-only auditor, another county's officer and a disabled
account are refused with the reason in Chinese and English (exit 1, nothing changes); a real
second officer is accepted and named in the item's history by their user name, however the
name was typed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.auth.models import Role, User
from gateway.auth.service import create_user
from gateway.cli import app
from gateway.org import service as org
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, QueueItem
from gateway.settings import PolicyDefaults
from tests.recon_support import Nights
from tests.settle_support import BANK, REPO

STRANGER = "6230000099998888"


@pytest.fixture
def nights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Nights]:
    """Nights of the test county with two county officers (alice, bob) and a read-only
    auditor (audrey), and the ``huzhu`` command pointed at its database."""
    built = Nights(tmp_path)
    built.staff("alice")
    built.staff("bob")
    built.staff("audrey", Role.AUDITOR)
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    rcb = (config / "banks" / "rcb.toml").read_text(encoding="utf-8")
    (config / "banks" / f"{BANK}.toml").write_text(
        rcb.replace('code = "rcb"', f'code = "{BANK}"'), encoding="utf-8"
    )
    settings = tmp_path / "settings.toml"
    settings.write_text(f'database_url = "{built.settle.engine.url}"\n', encoding="utf-8")
    monkeypatch.setenv("HUZHU_CONFIG", str(settings))
    monkeypatch.setenv("HUZHU_CONFIG_DIR", str(config))
    yield built
    built.close()


def _huzhu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _unmatched(nights: Nights, fen: int) -> QueueItem:
    """The item a line nobody's books know raises (the newest, after an earlier one)."""
    nights.night([nights.line(nights.sub_b, fen, counterparty_account=STRANGER)])
    return nights.items("unmatched_bank")[-1]


def _item(nights: Nights, item_id: int) -> QueueItem:
    found = nights.settle.fresh().get(QueueItem, item_id)
    assert found is not None
    return found


def _history(nights: Nights, item_id: int) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in queue.history(nights.settle.fresh(), item_id)]


def _proposed(nights: Nights) -> int:
    """A 3,000 yuan adjusting entry alice proposes: above the limit, it waits for a second
    person."""
    item = _unmatched(nights, 300_000)
    code, out = _huzhu(
        "queue", "resolve", str(item.id), "--as", "adjusting_entry", "--by", "alice",
        "--note", "银行代收未入账",
    )  # fmt: skip
    assert code == 0, out
    assert _item(nights, item.id).status is ItemStatus.AWAITING_APPROVAL
    return item.id


def test_the_proposer_in_full_width_letters_is_the_same_person(nights: Nights) -> None:
    item_id = _proposed(nights)
    code, out = _huzhu("queue", "approve", str(item_id), "--by", "ａｌｉｃｅ")
    assert code == 1
    assert "调整分录须由另一人复核" in out
    assert "needs a second person" in out
    assert _item(nights, item_id).status is ItemStatus.AWAITING_APPROVAL
    assert all(action != "adjustment_approved" for _, action in _history(nights, item_id))

    code, out = _huzhu("queue", "decide", str(item_id), "--approve", "--by", " ALICE ")
    assert code == 1
    assert "调整分录须由另一人复核" in out
    assert _item(nights, item_id).status is ItemStatus.AWAITING_APPROVAL


def test_a_name_no_user_has_is_refused(nights: Nights) -> None:
    item_id = _proposed(nights)
    code, out = _huzhu("queue", "approve", str(item_id), "--by", "nobody-at-all")
    assert code == 1
    assert "nobody-at-all" in out
    assert "没有这个用户" in out
    assert "no such user" in out
    assert _item(nights, item_id).status is ItemStatus.AWAITING_APPROVAL
    assert [actor for actor, _ in _history(nights, item_id)] == ["reconciler", "alice"]


def test_a_write_off_is_not_decided_by_a_name_no_user_has(nights: Nights) -> None:
    item = _unmatched(nights, 12_300)
    code, out = _huzhu(
        "queue", "resolve", str(item.id), "--as", "write_off", "--by", "alice",
        "--note", "冒名转出，无法追回",
    )  # fmt: skip
    assert code == 0, out
    code, out = _huzhu("queue", "decide", str(item.id), "--approve", "--by", "县办某人")
    assert code == 1
    assert "没有这个用户" in out
    assert _item(nights, item.id).status is ItemStatus.WRITE_OFF_REVIEW


def test_a_read_only_auditor_may_not_act_on_the_queue(nights: Nights) -> None:
    item = _unmatched(nights, 500)
    code, out = _huzhu(
        "queue", "resolve", str(item.id), "--as", "dismiss", "--by", "audrey", "--note", "x"
    )
    assert code == 1
    assert "审计（只读）" in out
    assert "auditor (read-only)" in out
    assert "mismatch queue" in out
    assert _item(nights, item.id).status is ItemStatus.OPEN

    proposed = _proposed(nights)
    code, out = _huzhu("queue", "approve", str(proposed), "--by", "audrey")
    assert code == 1
    assert "审计（只读）" in out
    assert _item(nights, proposed).status is ItemStatus.AWAITING_APPROVAL

    code, out = _huzhu("queue", "assign", str(item.id), "--to", "bob", "--by", "audrey")
    assert code == 1
    assert _item(nights, item.id).assignee is None


def test_a_disabled_account_or_another_countys_officer_may_not_act(nights: Nights) -> None:
    item_id = _proposed(nights)
    session = nights.settle.fresh()
    other = org.create_county(
        session, code="OC", name="邻县", fund_office_name="邻县互助资金办", policy=PolicyDefaults()
    )
    create_user(
        session, username="oscar", display_name="", role=Role.COUNTY_OFFICER, county_id=other.id
    )
    bob = session.scalars(select(User).where(User.username == "bob")).one()
    bob.active = False
    session.commit()

    code, out = _huzhu("queue", "approve", str(item_id), "--by", "oscar")
    assert code == 1
    assert "没有这个用户" in out
    code, out = _huzhu("queue", "approve", str(item_id), "--by", "bob")
    assert code == 1
    assert "已停用" in out
    assert "disabled" in out
    assert _item(nights, item_id).status is ItemStatus.AWAITING_APPROVAL


def test_a_real_second_officer_is_recorded_by_their_user_name(nights: Nights) -> None:
    item_id = _proposed(nights)
    code, out = _huzhu("queue", "approve", str(item_id), "--by", "ＢＯＢ", "--note", "已核对回单")
    assert code == 0, out
    item = _item(nights, item_id)
    assert item.status is ItemStatus.RESOLVED
    assert item.approved_by == "bob"
    assert ("bob", "adjustment_approved") in _history(nights, item_id)

    code, out = _huzhu("queue", "show", str(item_id))
    assert code == 0, out
    assert "ＢＯＢ" not in out
