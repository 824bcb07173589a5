"""Golden files: JSON batches render to exact GB18030 bytes; bank files parse to exact JSON;
broken bank files are refused whole with the error naming line, field and value."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters import errors
from adapters.cn_text import CnTextAdapter
from adapters.records import Direction
from gateway.cli.files import batch_from_json, to_json

DATA = Path(__file__).with_name("data")
BANKS = Path(__file__).resolve().parents[3] / "config" / "banks"

RENDER_CASES = sorted(p.stem for p in DATA.glob("*.json") if not p.name.endswith(".expected.json"))
BANK_FILES = sorted(p.name for p in DATA.glob("*.txt") if not p.name.endswith(".expected.txt"))


@pytest.fixture(scope="module")
def adapter() -> CnTextAdapter:
    return CnTextAdapter.from_options({"layout": "layouts/rcb_pipe.toml"}, config_dir=BANKS)


def _parser(adapter: CnTextAdapter, file_name: str) -> Callable[[bytes], object]:
    kind = file_name.split("_", 1)[0]
    return {
        "disbursement": adapter.parse_instructions,
        "collection": adapter.parse_instructions,
        "result": adapter.parse_result,
        "statement": adapter.parse_statements,
    }[kind]


def test_every_case_has_its_expectation() -> None:
    assert RENDER_CASES
    assert BANK_FILES
    for case in RENDER_CASES:
        assert (DATA / f"{case}.expected.txt").exists(), case
    for name in BANK_FILES:
        assert (DATA / f"{Path(name).stem}.expected.json").exists(), name


@pytest.mark.parametrize("case", RENDER_CASES)
def test_render_matches_golden_bytes(adapter: CnTextAdapter, case: str) -> None:
    direction = Direction.DISBURSEMENT if case.startswith("disbursement") else Direction.COLLECTION
    batch = batch_from_json(json.loads((DATA / f"{case}.json").read_text("utf-8")), direction)
    expected = (DATA / f"{case}.expected.txt").read_bytes()
    assert adapter.render_batch(batch) == expected
    # The bank reads back exactly what was sent.
    assert adapter.parse_instructions(expected) == batch


@pytest.mark.parametrize("name", BANK_FILES)
def test_bank_file(adapter: CnTextAdapter, name: str) -> None:
    data = (DATA / name).read_bytes()
    expected = json.loads((DATA / f"{Path(name).stem}.expected.json").read_text("utf-8"))
    parse = _parser(adapter, name)
    if isinstance(expected, dict) and "error" in expected:
        error_type = getattr(errors, expected["error"])
        with pytest.raises(errors.FileFormatError) as caught:
            parse(data)
        assert type(caught.value) is error_type, caught.value
        assert caught.value.location == expected["location"]
        assert caught.value.field == expected["field"]
        if "value" in expected:
            assert caught.value.value == expected["value"]
        if "reason_contains" in expected:
            assert expected["reason_contains"] in caught.value.reason
        return
    assert to_json(parse(data)) == expected


def test_result_reason_codes_and_partial_debit(adapter: CnTextAdapter) -> None:
    result = adapter.parse_result((DATA / "result_mixed.txt").read_bytes())
    codes = {r.reason_text: r.reason_code for r in result.results if r.reason_text}
    assert codes == {
        "户名不符": "BE01",
        "账户已销户": "AC04",
        "账户冻结状态异常": "AC06",
        "余额不足，部分扣款": "AM04",
        "代扣记录已存在": "AM05",
        "系统繁忙，请稍后重试": "NARR",
    }
    partial = [r for r in result.results if r.status.value == "partially_settled"]
    assert [(r.settled_amount_fen, r.requested_amount_fen) for r in partial] == [(12505, 25000)]


def test_statement_channels_and_sub_account_balances(adapter: CnTextAdapter) -> None:
    (statement,) = adapter.parse_statements((DATA / "statement_day.txt").read_bytes())
    channels = [(e.bank_transaction_code, e.channel.value) for e in statement.entries]
    assert ("现金存款", "cash") in channels
    assert ("手续费", "fee") in channels
    assert ("结息", "interest") in channels
    assert ("批量代发", "transfer") in channels
    for sub in statement.sub_account_balances:
        moved = sum(
            e.signed_amount_fen for e in statement.entries if e.sub_account == sub.sub_account
        )
        assert sub.opening_fen + moved == sub.closing_fen


@pytest.mark.parametrize(
    ("file_name", "kind"),
    [
        ("DF_HZ20240502001.txt", "disbursement_batch"),
        ("DK_HZ20240502002.txt", "collection_batch"),
        ("RESULT_rcb_20240502_001.txt", "result"),
        ("STMT_rcb_20240502.txt", "statement"),
    ],
)
def test_detect_kind_from_name_and_first_line(
    adapter: CnTextAdapter, file_name: str, kind: str
) -> None:
    sources = {
        "disbursement_batch": "disbursement_basic.expected.txt",
        "collection_batch": "collection_mandates.expected.txt",
        "result": "result_mixed.txt",
        "statement": "statement_day.txt",
    }
    head = (DATA / sources[kind]).read_bytes()[:64]
    assert adapter.detect_kind(file_name, head) == kind
    # The name alone decides when no bytes are at hand; a wrong header refuses the match.
    assert adapter.detect_kind(file_name, b"") == kind
    assert adapter.detect_kind(file_name, b"<?xml version='1.0'?><Document/>") is None
    assert adapter.detect_kind("notes.txt", head) is None
