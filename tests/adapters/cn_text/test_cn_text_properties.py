"""Hypothesis: any batch round-trips exactly; broken input raises only FileFormatError."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cn_text import CnTextAdapter, load_layout
from adapters.cn_text.codec import Values
from adapters.errors import AdapterError, FileFormatError, RenderError
from adapters.records import (
    Batch,
    Channel,
    CreditDebit,
    Direction,
    PaymentInstruction,
    Statement,
    StatementEntry,
    SubAccountBalance,
)

BANKS = Path(__file__).resolve().parents[3] / "config" / "banks"
DATA = Path(__file__).with_name("data")
LAYOUTS = ["layouts/rcb_pipe.toml", "layouts/rcc_fixed.toml"]
BEIJING = ZoneInfo("Asia/Shanghai")
RCB = load_layout(BANKS / "layouts" / "rcb_pipe.toml")
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Letters of any script, including the supplementary planes (𠮷 and its kind).
names = st.text(st.characters(categories=["Lo"]), min_size=1, max_size=6)
ids = st.text(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-"), min_size=1, max_size=20)
accounts = st.text(st.sampled_from("0123456789"), min_size=6, max_size=23)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@st.composite
def batches(draw: st.DrawFn, max_amount: int) -> Batch:
    direction = draw(st.sampled_from(list(Direction)))
    requested = draw(days)
    count = draw(st.integers(1, 6))
    e2e = draw(st.lists(ids, min_size=count, max_size=count, unique=True))
    items = []
    for n in range(count):
        own = (draw(accounts), draw(names))
        other = (draw(accounts), draw(names))
        debtor, creditor = (own, other) if direction is Direction.DISBURSEMENT else (other, own)
        collection = direction is Direction.COLLECTION
        items.append(
            PaymentInstruction(
                end_to_end_id=e2e[n],
                # the batch's control sum stays within the adapters' bound too
                amount_fen=draw(st.integers(1, max_amount // count)),
                debtor_account=debtor[0],
                debtor_name=debtor[1],
                creditor_account=creditor[0],
                creditor_name=creditor[1],
                requested_date=draw(st.one_of(st.just(requested), days)),
                remittance=draw(st.one_of(st.just(""), names)),
                purpose=draw(st.sampled_from(["", "LOAN", "LOAR"])),
                mandate_id=draw(ids) if collection else None,
                mandate_signed_on=draw(days) if collection else None,
            )
        )
    created = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
    return Batch(
        message_id=draw(ids),
        direction=direction,
        special_account=draw(accounts),
        special_account_name=draw(names),
        created_at=created.replace(microsecond=0, tzinfo=BEIJING),
        requested_date=requested,
        instructions=tuple(items),
        bank_code=draw(st.one_of(st.just(""), accounts.map(lambda a: a[:12]))),
        initiator_name=draw(names),
        creditor_scheme_id=draw(ids) if direction is Direction.COLLECTION else None,
    )


@pytest.fixture(params=LAYOUTS)
def adapter(request: pytest.FixtureRequest) -> CnTextAdapter:
    return CnTextAdapter.from_options({"layout": request.param}, config_dir=BANKS)


@SETTINGS
@given(data=st.data())
def test_any_batch_round_trips_exactly(adapter: CnTextAdapter, data: st.DataObject) -> None:
    batch = data.draw(batches(adapter.max_amount_fen))
    assert adapter.parse_instructions(adapter.render_batch(batch)) == batch


@SETTINGS
@given(data=st.data(), bad=st.sampled_from(["|", "\n", "\r", "\x00", "\x1b", "\u2028"]))
def test_delimiters_and_control_characters_in_values_are_refused(
    data: st.DataObject, bad: str
) -> None:
    adapter = CnTextAdapter.from_options({"layout": LAYOUTS[0]}, config_dir=BANKS)
    batch = data.draw(batches(adapter.max_amount_fen))
    first = batch.instructions[0]
    poisoned = dataclasses.replace(first, remittance=f"还款{bad}第2期")
    batch = dataclasses.replace(batch, instructions=(poisoned, *batch.instructions[1:]))
    with pytest.raises(RenderError, match="remittance"):
        adapter.render_batch(batch)


def _bank_files() -> list[bytes]:
    names = ["result_mixed.txt", "statement_day.txt", "disbursement_basic.expected.txt"]
    return [(DATA / name).read_bytes() for name in names]


@settings(max_examples=200, deadline=None)
@given(
    source=st.sampled_from(_bank_files()),
    line=st.integers(0, 12),
    field=st.integers(0, 16),
    text=st.text(max_size=12)
    | st.sampled_from(["-1.00", "0.00", "1.001", "20240230", "99999999999999999999.99", "１２"]),
)
def test_any_field_replaced_gives_a_record_or_a_file_format_error(
    source: bytes, line: int, field: int, text: str
) -> None:
    adapter = CnTextAdapter.from_options({"layout": LAYOUTS[0]}, config_dir=BANKS)
    lines = source.decode("gb18030").split("\r\n")
    parts = lines[line % len(lines)].split("|")
    parts[field % len(parts)] = text
    lines[line % len(lines)] = "|".join(parts)
    data = "\r\n".join(lines).encode("gb18030", errors="replace")
    for parse in (adapter.parse_instructions, adapter.parse_result, adapter.parse_statements):
        error: AdapterError | None = None
        try:
            parse(data)
        except AdapterError as exc:
            error = exc
        if error is not None:
            assert isinstance(error, FileFormatError), error
            assert error.location is None or error.location.startswith("line ")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_amount_text_parses_exactly_or_is_refused(text: str) -> None:
    values = Values(RCB)
    error: FileFormatError | None = None
    try:
        fen = values.amount(text, 7, "amount")
    except FileFormatError as exc:
        error = exc
    if error is not None:
        assert error.location == "line 7"
        assert error.field == "amount"
        return
    assert fen > 0
    assert Decimal(text.strip()) * 100 == fen


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 999_999_999_999_999))
def test_every_amount_reads_back(fen: int) -> None:
    for unit in ("yuan", "fen"):
        values = Values(dataclasses.replace(RCB, amount_unit=unit))
        assert values.amount(values.format_amount(fen), 1, "amount") == fen


@st.composite
def statements(draw: st.DrawFn, max_amount: int) -> Statement:
    subs = draw(st.lists(accounts, min_size=1, max_size=3, unique=True))
    day = draw(days)
    entries = []
    count = draw(st.integers(0, 12))
    for n in range(count):
        entries.append(
            StatementEntry(
                booking_date=day,
                # the statement's control sums stay within the adapters' bound too
                amount_fen=draw(st.integers(1, max_amount // count)),
                credit_debit=draw(st.sampled_from(list(CreditDebit))),
                bank_transaction_id=f"BK{n:08d}",
                value_date=draw(st.one_of(st.none(), days)),
                reversal=draw(st.booleans()),
                channel=draw(st.sampled_from(list(Channel))),
                counterparty_account=draw(st.one_of(st.none(), accounts)),
                counterparty_name=draw(st.one_of(st.none(), names)),
                end_to_end_id=draw(st.one_of(st.none(), ids)),
                remittance=draw(st.one_of(st.just(""), names)),
                sub_account=draw(st.sampled_from(subs)),
                balance_after_fen=draw(st.one_of(st.none(), st.integers(-(10**12), 10**12))),
            )
        )
    balances = tuple(
        SubAccountBalance(s, draw(st.integers(-(10**12), 10**12)), draw(st.integers(0, 10**12)))
        for s in subs
    )
    return Statement(
        statement_id=draw(ids),
        account=draw(accounts),
        created_at=None,
        from_date=day,
        to_date=day,
        entries=tuple(entries),
        account_name=draw(names),
        opening_balance_fen=draw(st.integers(-(10**12), 10**12)),
        closing_balance_fen=draw(st.integers(-(10**12), 10**12)),
        sub_account_balances=balances,
    )


@SETTINGS
@given(data=st.data())
def test_any_statement_round_trips(adapter: CnTextAdapter, data: st.DataObject) -> None:
    statement = data.draw(statements(adapter.max_amount_fen))
    (parsed,) = adapter.parse_statements(adapter.render_statement(statement))
    assert parsed.sub_account_balances == statement.sub_account_balances
    assert (parsed.opening_balance_fen, parsed.closing_balance_fen) == (
        statement.opening_balance_fen,
        statement.closing_balance_fen,
    )
    # The 摘要 written for each entry names its channel; everything else comes back as is.
    assert [dataclasses.replace(e, bank_transaction_code="") for e in parsed.entries] == list(
        statement.entries
    )
    assert all(
        adapter.layout.channel_for(e.bank_transaction_code) is e.channel for e in parsed.entries
    )
