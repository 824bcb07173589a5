"""Fixed-width layouts count columns in bytes of GB18030, as the bank's mainframe does."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.cn_text import CnTextAdapter
from adapters.errors import FileFormatError, RenderError
from adapters.records import Batch, Direction, PaymentInstruction

BANKS = Path(__file__).resolve().parents[3] / "config" / "banks"


@pytest.fixture
def adapter() -> CnTextAdapter:
    return CnTextAdapter.from_options({"layout": "layouts/rcc_fixed.toml"}, config_dir=BANKS)


def _batch(name: str, amount_fen: int = 123_456) -> Batch:
    return Batch(
        message_id="HZ20240502009",
        direction=Direction.DISBURSEMENT,
        special_account="6230910100000012345",
        special_account_name="平邑县扶贫互助资金专户",
        created_at=datetime(2024, 5, 1, 17, 30, 5, tzinfo=ZoneInfo("Asia/Shanghai")),
        requested_date=date(2024, 5, 2),
        instructions=(
            PaymentInstruction(
                "HZ20240502009E0001",
                amount_fen,
                "62309101000000123450001",
                "流峪镇东村扶贫互助协会",
                "6217000010001234567",
                name,
                date(2024, 5, 2),
            ),
        ),
    )


def test_columns_are_counted_in_bytes(adapter: CnTextAdapter) -> None:
    data = adapter.render_disbursement(_batch("吉𠮷"))  # 2 + 4 bytes in GB18030
    lines = data.split(b"\r\n")[:-1]
    widths = [
        sum(f.width or 0 for f in record.fields)
        for record in (
            adapter.layout.files["disbursement"].header,
            adapter.layout.files["disbursement"].detail,
            adapter.layout.files["disbursement"].trailer,
        )
        if record is not None
    ]
    assert [len(line) for line in lines] == widths
    detail = lines[1]
    # record_type 1, seq 8, e2e 35, account 32, account_name 60, counterparty_account 32
    name_column = detail[1 + 8 + 35 + 32 + 60 + 32 :][:60]
    assert name_column == "吉𠮷".encode("gb18030") + b" " * 54
    amount_column = detail[1 + 8 + 35 + 32 + 60 + 32 + 60 :][:15]
    assert amount_column == b"         123456"
    assert adapter.parse_instructions(data) == _batch("吉𠮷")


def test_a_value_wider_than_its_column_is_refused_not_cut(adapter: CnTextAdapter) -> None:
    with pytest.raises(RenderError, match=r"counterparty_name .* wider than its 60-byte column"):
        adapter.render_disbursement(_batch("张" * 31))  # 62 bytes
    adapter.render_disbursement(_batch("张" * 30))  # exactly 60 bytes fits


def test_a_column_boundary_inside_a_character_is_refused(adapter: CnTextAdapter) -> None:
    data = adapter.render_disbursement(_batch("吉𠮷"))
    lines = data.split(b"\r\n")
    # A character straddles the name and amount columns: the file decodes as a whole,
    # but the name column ends in the middle of 张.
    zhang = "张".encode("gb18030")
    start = 1 + 8 + 35 + 32 + 60 + 32
    name = zhang * 29 + b" " + zhang[:1]
    amount = zhang[1:] + b"        123456"
    lines[1] = lines[1][:start] + name + amount + lines[1][start + 75 :]
    with pytest.raises(FileFormatError, match="cuts through a character") as caught:
        adapter.parse_instructions(b"\r\n".join(lines))
    assert caught.value.location == "line 2"
    assert caught.value.field == "counterparty_name"


def test_a_short_record_is_refused(adapter: CnTextAdapter) -> None:
    data = adapter.render_disbursement(_batch("王五"))
    lines = data.split(b"\r\n")
    lines[1] = lines[1][:-3]
    with pytest.raises(FileFormatError, match="bytes long, expected") as caught:
        adapter.parse_instructions(b"\r\n".join(lines))
    assert caught.value.location == "line 2"


def test_amounts_are_whole_fen(adapter: CnTextAdapter) -> None:
    data = adapter.render_disbursement(_batch("王五", amount_fen=5))
    start = 1 + 8 + 35 + 32 + 60 + 32 + 60
    lines = data.split(b"\r\n")
    lines[1] = lines[1][:start] + b"           0.05" + lines[1][start + 15 :]
    with pytest.raises(FileFormatError, match="fraction of a fen") as caught:
        adapter.parse_instructions(b"\r\n".join(lines))
    assert caught.value.field == "amount"
    assert adapter.parse_instructions(data) == _batch("王五", 5)
