"""``huzhu reconcile`` and ``huzhu queue``: what the fund office types, and what it is told."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.recon_support import Nights

STRANGER = "6230000099998888"


pytestmark = pytest.mark.usefixtures("huzhu_env")


def _huzhu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_working_an_item_from_the_command_line(nights: Nights) -> None:
    nights.night([nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)])
    code, out = _huzhu("queue", "list", "--json")
    assert code == 0, out
    (item,) = json.loads(out)
    assert (item["kind"], item["status"], item["actual"]) == ("unmatched_bank", "open", "333.00")

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
    code, out = _huzhu(
        "queue",
        "resolve",
        str(item["id"]),
        "--as",
        "dismiss",
        "--by",
        "alice",
        "--note",
        "银行测试入账，已冲回",
    )
    assert code == 0, out

    # the next night has no statement on file: a statement gap; the dismissal is confirmed
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
