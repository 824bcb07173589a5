"""``huzhu reconcile`` and ``huzhu queue``: what the fund office types, and what it is told."""

from __future__ import annotations

import json

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from gateway.auth.models import Role
from gateway.cli import app
from tests.recon_support import Nights

STRANGER = "6230000099998888"


pytestmark = pytest.mark.usefixtures("huzhu_env")


def _huzhu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_working_an_item_from_the_command_line(nights: Nights) -> None:
    nights.staff("alice")  # who works the item (--by)
    nights.night([nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)])
    code, out = _huzhu("queue", "list", "--json")
    assert code == 0, out
    (item,) = json.loads(out)
    assert (item["kind"], item["status"], item["actual"]) == ("unmatched_bank", "open", "333.00")

    # only someone who can work the queue is given the item: a name nobody has is refused
    code, out = _huzhu("queue", "assign", str(item["id"]), "--to", "carol", "--by", "alice")
    assert code == 1
    assert "carol" in out
    assert "本县没有这个用户" in out
    nights.staff("carol", Role.COUNTY_REVIEWER)
    code, out = _huzhu("queue", "assign", str(item["id"]), "--to", "carol", "--by", "alice")
    assert code == 0, out
    code, out = _huzhu("queue", "show", str(item["id"]))
    assert code == 0, out
    assert "carol" in out
    assert "raised" in out
    assert "assigned" in out

    # a dismissal without a justification is refused, with the reason in Chinese and English
    code, out = _huzhu("queue", "resolve", str(item["id"]), "--as", "dismiss", "--by", "alice")
    assert code == 1
    assert "驳回必须说明理由" in out
    assert "justification" in out
    # nor is the dismissal of a line whose money the books do not hold: it is booked instead
    dismiss = ("queue", "resolve", str(item["id"]), "--as", "dismiss", "--by", "alice")
    code, out = _huzhu(*dismiss, "--note", "银行测试入账")
    assert code == 1
    assert "333.00" in out
    assert "调整分录" in out
    code, out = _huzhu(
        "queue",
        "resolve",
        str(item["id"]),
        "--as",
        "adjusting_entry",
        "--by",
        "alice",
        "--note",
        "来源不明，暂记待处理",
    )
    assert code == 0, out

    # the next night has no statement on file: a statement gap; the entry is confirmed
    day = nights.day.isoformat()
    code, out = _huzhu("reconcile", "--date", day, "--account", "6200001", "--json")
    assert code == 0, out
    (summary,) = json.loads(out)
    assert summary["statement"] is False
    assert summary["exceptions"] == {"statement_gap": 1}
    assert summary["queue"]["confirmed"] == 1
    code, out = _huzhu("queue", "list", "--json", "--status", "closed")
    assert [i["id"] for i in json.loads(out)] == [item["id"]]

    # the same date twice is refused
    code, out = _huzhu("reconcile", "--date", day)
    assert code == 1
    assert "已对账" in out


def test_the_queue_table_reads_in_chinese_on_a_narrow_terminal_and_cuts_no_amount(
    nights: Nights,
) -> None:
    nights.night([nights.line(nights.sub_b, 123_456_789, counterparty_account=STRANGER)])
    item = nights.item("unmatched_bank")
    code = nights.world.b.code
    nights.staff("王会计", Role.COUNTY_REVIEWER)
    nights.staff("李主任")
    assert _huzhu("queue", "assign", str(item.id), "--to", "王会计", "--by", "李主任")[0] == 0

    narrow = CliRunner().invoke(app, ["queue", "list"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert max(cell_len(line) for line in narrow.output.splitlines()) <= 80  # CJK counts 2
    row = next(line for line in narrow.output.splitlines() if line.split()[:1] == [str(item.id)])
    # the kind and status as the office says them, the association by its code, the bank's
    # amount whole
    assert "银行流水未匹配" in row
    assert "待处理" in row
    assert code in row
    assert "1234567.89" in row
    assert "unmatched_bank" not in narrow.output
    assert "王会计" not in narrow.output  # no room: the note says where to find it
    assert "125" in narrow.output

    wide = CliRunner().invoke(app, ["queue", "list"], env={"COLUMNS": "140"})
    assert wide.exit_code == 0, wide.output
    row = next(line for line in wide.output.splitlines() if line.split()[:1] == [str(item.id)])
    assert "新增" in row  # raised by the last night
    assert nights.sub_b in row
    assert "王会计" in row
    assert "1234567.89" in row

    shown = CliRunner().invoke(app, ["queue", "show", str(item.id)], env={"COLUMNS": "80"})
    assert f"协会 association: {code} " in shown.output
    assert "银行流水未匹配 unmatched_bank · 待处理 open · 新增 new" in shown.output


def test_the_reconcile_summary_names_each_exception_in_chinese_within_80_columns(
    nights: Nights,
) -> None:
    nights.night([nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)])
    # the next night has no statement: a gap is raised, the unmatched line persists
    out = CliRunner().invoke(
        app, ["reconcile", "--date", nights.day.isoformat()], env={"COLUMNS": "80"}
    )
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    row = next(line for line in lines if line.startswith("6200001"))
    assert "缺失" in row  # no statement
    assert "对账单缺失 1" in row
    assert "新增 1" in row
    assert any("持续 1" in line for line in lines)
    assert "statement_gap" not in out.output


def test_the_kind_filter_takes_the_label_the_table_shows_and_refuses_an_unknown_one(
    nights: Nights,
) -> None:
    nights.night([nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)])
    by_label = CliRunner().invoke(app, ["queue", "list", "--kind", "银行流水未匹配", "--json"])
    by_code = CliRunner().invoke(app, ["queue", "list", "--kind", "unmatched_bank", "--json"])
    assert by_label.exit_code == by_code.exit_code == 0
    assert json.loads(by_label.output) == json.loads(by_code.output)
    assert [i["kind"] for i in json.loads(by_label.output)] == ["unmatched_bank"]

    unknown = CliRunner().invoke(app, ["queue", "list", "--kind", "cash"], env={"COLUMNS": "200"})
    assert unknown.exit_code == 2  # not an empty list that looks like a clean queue
    assert "unknown kind 'cash'" in unknown.output
    assert "village_cash (村级现金)" in unknown.output


def test_a_balance_break_says_what_the_bank_was_held_against(nights: Nights) -> None:
    # a deposit nobody booked (an open item) and 50 yuan on the sub-account nobody can explain
    nights.night(
        [nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)],
        closing_delta={nights.sub_b: 5_000},
    )
    code, out = _huzhu("queue", "list", "--kind", "balance_break", "--json")
    assert code == 0, out
    shown = []
    for item in json.loads(out):
        code, text = _huzhu("queue", "show", str(item["id"]))
        assert code == 0, text
        shown.append(text)
    assert len(shown) == 2
    # the books plus the deposit still open, not the books alone
    (ledger,) = [t for t in shown if "账面加未达项 books + open items:" in t]
    assert "账面 books:" not in ledger
    (statement,) = [t for t in shown if "期初加当日流水 opening + the day's lines:" in t]
    assert statement != ledger
