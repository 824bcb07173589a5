"""Layouts are checked when loaded: a mistake names the layout and the key."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.cn_text import CnTextAdapter, LayoutError, layout_from_mapping, load_layout
from adapters.errors import AdapterLoadError
from adapters.records import Channel, ResultStatus

BANKS = Path(__file__).resolve().parents[3] / "config" / "banks"
RCB = BANKS / "layouts" / "rcb_pipe.toml"


def rcb() -> dict[str, Any]:
    return tomllib.loads(RCB.read_text(encoding="utf-8"))


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def apply(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value

    return apply


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[key]
        del node[last]

    return apply


def _replace_field(file: str, role: str, index: int, value: object) -> Callable[[dict], None]:
    def apply(raw: dict[str, Any]) -> None:
        raw["files"][file][role]["fields"][index] = value

    return apply


def _remove_field(file: str, role: str, name: str) -> Callable[[dict], None]:
    def apply(raw: dict[str, Any]) -> None:
        fields = raw["files"][file][role]["fields"]
        raw["files"][file][role]["fields"] = [f for f in fields if f != name]

    return apply


def test_shipped_layouts_load() -> None:
    pipe = load_layout(RCB)
    assert pipe.format == "delimited"
    assert pipe.encoding == "gb18030"
    assert pipe.line_ending == "\r\n"
    assert set(pipe.files) == {"disbursement", "collection", "result", "statement"}
    fixed = load_layout(BANKS / "layouts" / "rcc_fixed.toml")
    assert fixed.format == "fixed"
    assert fixed.amount_unit == "fen"


def test_default_reason_codes_and_channels_with_layout_additions() -> None:
    layout = load_layout(RCB)
    assert layout.reason_code_for("户名不符") == "BE01"
    assert layout.reason_code_for("该账户已销户") == "AC04"
    assert layout.reason_code_for("只进不出") == "AC06"
    assert layout.reason_code_for("冻结状态异常") == "AC06"
    assert layout.reason_code_for("余额不足") == "AM04"
    assert layout.reason_code_for("代理户不存在") == "AC01"
    assert layout.reason_code_for("代扣记录已存在") == "AM05"
    assert layout.reason_code_for("卡号错误") == "AC01"  # added by this layout
    assert layout.reason_code_for("网络超时") == "NARR"
    assert layout.channel_for("现金支取") is Channel.CASH
    assert layout.channel_for("ATM取款") is Channel.CASH  # added by this layout
    assert layout.channel_for("利息") is Channel.INTEREST
    assert layout.channel_for("工本费") is Channel.OTHER
    assert layout.status_texts["交易成功"] is ResultStatus.SETTLED


def test_inline_layout_table_in_the_bank_options() -> None:
    adapter = CnTextAdapter.from_options({"layout": rcb()}, config_dir=Path("/nonexistent"))
    assert adapter.layout.name == "rcb_pipe"


def test_inline_layout_overrides_reason_codes() -> None:
    raw = rcb()
    raw["reason_codes"] = {"户名不符": "AC01"}
    assert layout_from_mapping(raw).reason_code_for("户名不符") == "AC01"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("delimeter", "|"), "delimeter: unknown key"),
        (_drop("name"), "name: missing"),
        (_set("format", "csv"), "format: must be 'delimited' or 'fixed'"),
        (_set("delimiter", "||"), "delimiter: must be one character"),
        (_set("encoding", "gb99999"), "encoding: unknown encoding"),
        (_set("encoding", "ascii"), "encoding: 'ascii' cannot write Chinese text"),
        (_set("line_ending", "cr"), "line_ending: must be 'crlf' or 'lf'"),
        (_set("amount_unit", "jiao"), "amount_unit: must be 'yuan' or 'fen'"),
        (_set("date_format", "%Y"), "date_format: '%Y' loses part of the date"),
        (_set("timezone", "Mars/Olympus"), "timezone: unknown time zone"),
        (_set("max_amount_fen", -5), "max_amount_fen: must be a positive integer"),
        (_set("max_amount_fen", 10**15), "max_amount_fen: must be at most 999999999999999"),
        (_set("status_texts.rejected", ["成功"]), "'成功' is used twice"),
        (_set("status_texts.bounced", ["退回"]), "status_texts.bounced: unknown key"),
        (_set("channels.工本费", "cheque"), "channels.工本费: must be one of"),
        (_set("reason_codes.止付", "stopped!"), "reason_codes.止付: not an ISO reason code"),
        (_set("credit_debit_texts.credit", ["借"]), "cannot mean both credit and debit"),
        (_drop("files"), "files: missing"),
        (_set("files.payroll", {}), "files.payroll: unknown key"),
        (_drop("files.result.header.tag"), "files.result.header.tag: missing"),
        (
            _replace_field("result", "detail", 5, "amout"),
            "files.result.detail.fields[5]: unknown field 'amout'",
        ),
        (
            _replace_field("statement", "detail", 0, "filler"),
            "files.statement.detail.fields[0]: the first field must be record_type",
        ),
        (
            _replace_field("disbursement", "detail", 2, {"name": "seq"}),
            "field 'seq' appears twice",
        ),
        (
            _remove_field("disbursement", "detail", "amount"),
            "files.disbursement.detail.fields: needs the field 'amount'",
        ),
        (
            _replace_field("collection", "header", 1, {"name": "file_type", "const": "DF"}),
            "files.collection.header: cannot be told apart from files.disbursement.header",
        ),
        (
            _replace_field("result", "header", 1, {"name": "file_type", "width": 2}),
            "files.result.header.fields[1].width: only fixed-width layouts have widths",
        ),
        (_set("files.statement.detail.tag", "B"), "files.statement: record tags must differ"),
        (
            _set("files.statement.trailer.fields", ["record_type", "count"]),
            "files.statement: the header or the trailer must carry 'debit_sum'",
        ),
        (_set("files.statement.detail.tag", "D|"), "contains the delimiter"),
    ],
)
def test_layout_mistakes_are_named(change: Callable[[dict], None], message: str) -> None:
    raw = copy.deepcopy(rcb())
    change(raw)
    with pytest.raises(LayoutError) as caught:
        layout_from_mapping(raw, origin="bank.toml")
    assert "cn_text layout bank.toml: " in str(caught.value)
    assert message in str(caught.value)
    assert isinstance(caught.value, AdapterLoadError)


def test_fixed_width_field_needs_a_width() -> None:
    raw = tomllib.loads((BANKS / "layouts" / "rcc_fixed.toml").read_text(encoding="utf-8"))
    del raw["files"]["result"]["detail"]["fields"][3]["width"]
    with pytest.raises(LayoutError, match=r"files\.result\.detail\.fields\[3\]\.width"):
        layout_from_mapping(raw)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "layouts/rcb_pipe.toml", "encoding": "utf-8"}, "unknown key(s) encoding"),
        ({}, "'layout' must be a path to a layout TOML file or an inline layout table"),
        ({"layout": 7}, "got 7"),
    ],
)
def test_adapter_options_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(LayoutError) as caught:
        CnTextAdapter.from_options(options, config_dir=BANKS)
    assert message in str(caught.value)


def test_layout_file_that_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = [unclosed", encoding="utf-8")
    with pytest.raises(LayoutError, match="not valid TOML"):
        load_layout(path)
