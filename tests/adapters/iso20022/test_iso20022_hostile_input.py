"""Broken and hostile files are refused whole with FileFormatError naming element, field, value.

Good inputs come from our own renderers and the shared sample files; each broken input is
made from a good one by one targeted change, so the test shows exactly what is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.errors import ControlTotalError, FileFormatError
from adapters.iso20022 import Iso20022Adapter
from adapters.records import (
    Batch,
    CreditDebit,
    Direction,
    PaymentInstruction,
    Statement,
    StatementEntry,
)

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "samples" / "iso20022"


@pytest.fixture(scope="module")
def adapter() -> Iso20022Adapter:
    return Iso20022Adapter()


def make_batch(direction: Direction = Direction.DISBURSEMENT) -> Batch:
    items = tuple(
        PaymentInstruction(
            end_to_end_id=f"E{n}",
            amount_fen=amount,
            debtor_account="62309101000000123450001",
            debtor_name="东村扶贫互助协会",
            creditor_account=f"621700001000123456{n}",
            creditor_name="张三",
            requested_date=date(2026, 11, 23),
        )
        for n, amount in enumerate((10_000, 20_000, 30_000), start=1)
    )
    if direction is Direction.COLLECTION:
        items = tuple(
            dataclasses.replace(
                i,
                debtor_account=i.creditor_account,
                debtor_name=i.creditor_name,
                creditor_account=i.debtor_account,
                creditor_name=i.debtor_name,
            )
            for i in items
        )
    return Batch(
        message_id="B1",
        direction=direction,
        special_account="6230910100000012345",
        special_account_name="专户",
        created_at=datetime(2026, 11, 22, 9, 0),
        requested_date=date(2026, 11, 23),
        instructions=items,
    )


def make_statement() -> Statement:
    entries = tuple(
        StatementEntry(
            booking_date=date(2026, 11, 23),
            amount_fen=amount,
            credit_debit=CreditDebit.CREDIT,
            bank_transaction_id=f"BK{n}",
        )
        for n, amount in enumerate((111, 222, 333), start=1)
    )
    return Statement(
        statement_id="S1",
        account="6230910100000012345",
        created_at=datetime(2026, 11, 24, 2, 0),
        from_date=date(2026, 11, 23),
        to_date=date(2026, 11, 23),
        entries=entries,
        opening_balance_fen=0,
        closing_balance_fen=666,
    )


def refused(parse: Callable[[bytes], object], data: bytes) -> FileFormatError:
    with pytest.raises(FileFormatError) as caught:
        parse(data)
    return caught.value


# --- element, field and value named -------------------------------------------------------


def test_fraction_of_a_fen_names_the_entry_amount(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement()).replace(b">3.33<", b">3.335<")
    error = refused(adapter.parse_statements, data)
    assert error.location == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/Amt"
    assert (error.field, error.value) == ("Amt", "3.335")
    assert "fraction" in error.reason


def test_fractions_beyond_the_currency_exponent_are_refused_per_currency(
    adapter: Iso20022Adapter,
) -> None:
    data = adapter.render_statement(make_statement())
    jpy = data.replace(b'Ccy="CNY">2.22<', b'Ccy="JPY">2.22<')
    assert refused(adapter.parse_statements, jpy).value == "2.22"
    bhd = data.replace(b'Ccy="CNY">2.22<', b'Ccy="BHD">2.225<')
    (statement,) = adapter.parse_statements(bhd)
    assert (statement.entries[1].amount_fen, statement.entries[1].currency) == (2225, "BHD")


def test_date_that_does_not_exist_names_the_booking_date(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement())
    first, _, rest = data.partition(b"<BookgDt>")
    second, _, rest = rest.partition(b"<BookgDt>")
    third, _, rest = rest.partition(b"<BookgDt>")
    rest = rest.replace(b"2026-11-23", b"2026-02-30", 1)
    broken = b"<BookgDt>".join((first, second, third, rest))
    error = refused(adapter.parse_statements, broken)
    assert error.location == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/BookgDt/Dt"
    assert error.value == "2026-02-30"
    assert "does not exist" in error.reason


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(b"0.00", "positive"), (b"-1.00", "decimal"), ("١.٠٠".encode(), "decimal")],
)
def test_zero_or_negative_instruction_amount_refused(
    adapter: Iso20022Adapter, amount: bytes, reason: str
) -> None:
    data = adapter.render_disbursement(make_batch()).replace(b">200.00<", b">" + amount + b"<")
    error = refused(adapter.parse_instructions, data)
    assert error.location == "/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[2]/Amt/InstdAmt"
    assert reason in error.reason


def test_requested_date_that_does_not_exist_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_collection(make_batch(Direction.COLLECTION))
    data = data.replace(b"<ReqdColltnDt>2026-11-23<", b"<ReqdColltnDt>2026-13-01<")
    error = refused(adapter.parse_instructions, data)
    assert error.location == "/Document/CstmrDrctDbtInitn/PmtInf[1]/ReqdColltnDt"


# --- control totals, both ways, whole file refused -------------------------------------


_GROUP = b"<NbOfTxs>3</NbOfTxs>\n      <CtrlSum>600.00</CtrlSum>\n      <InitgPty"
_BLOCK = b"<PmtMtd>TRF</PmtMtd>\n      <NbOfTxs>3</NbOfTxs>\n      <CtrlSum>600.00</CtrlSum>"


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (_GROUP, _GROUP.replace(b">3<", b">2<"), "GrpHdr/NbOfTxs"),
        (_BLOCK, _BLOCK.replace(b">3<", b">4<"), "PmtInf[1]/NbOfTxs"),
        (_GROUP, _GROUP.replace(b">600.00<", b">600.01<"), "GrpHdr/CtrlSum"),
        (_BLOCK, _BLOCK.replace(b">600.00<", b">599.99<"), "PmtInf[1]/CtrlSum"),
    ],
)
def test_control_totals_that_differ_refuse_the_file(
    adapter: Iso20022Adapter, old: bytes, new: bytes, where: str
) -> None:
    data = adapter.render_disbursement(make_batch())
    assert old in data
    error = refused(adapter.parse_instructions, data.replace(old, new, 1))
    assert isinstance(error, ControlTotalError)
    assert error.location == f"/Document/CstmrCdtTrfInitn/{where}"


def test_detail_changed_without_totals_is_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_disbursement(make_batch()).replace(b">300.00<", b">300.10<")
    assert isinstance(refused(adapter.parse_instructions, data), ControlTotalError)


def test_duplicate_end_to_end_id_in_an_instruction_file_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_disbursement(make_batch()).replace(b">E2<", b">E1<")
    error = refused(adapter.parse_instructions, data)
    assert (error.field, error.value) == ("EndToEndId", "E1")


# --- structure, namespace, encoding, entities -------------------------------------------


def test_wrong_message_type_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_disbursement(make_batch())
    error = refused(adapter.parse_statements, data)
    assert error.field == "xmlns"
    assert "pain.001.001.09" in str(error.value)
    assert refused(adapter.parse_result, data).field == "xmlns"


def test_unsupported_version_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement()).replace(
        b"camt.053.001.08", b"camt.053.001.01"
    )
    assert "wrong namespace or version" in refused(adapter.parse_statements, data).reason


def test_truncated_file_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement())
    for cut in (len(data) // 3, len(data) // 2, len(data) - 20):
        assert "not well-formed" in refused(adapter.parse_statements, data[:cut]).reason


def test_other_encodings_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_disbursement(make_batch())
    text = data.decode("utf-8")
    declared = text.replace("encoding='UTF-8'", "encoding='GB18030'").encode("gb18030")
    assert refused(adapter.parse_instructions, declared).field == "encoding"
    undeclared = text.encode("gb18030")  # says UTF-8, is GB18030
    assert "not well-formed" in refused(adapter.parse_instructions, undeclared).reason
    utf16 = text.replace("encoding='UTF-8'", "encoding='UTF-16'").encode("utf-16")
    assert refused(adapter.parse_instructions, utf16).field == "encoding"


@pytest.mark.parametrize("reader", ["parse_instructions", "parse_result", "parse_statements"])
def test_external_entity_is_never_read(
    adapter: Iso20022Adapter, reader: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>&x;</MsgId></GrpHdr></BkToCstmrStmt></Document>"
    ).encode()
    error = refused(getattr(adapter, reader), data)
    assert error.field == "DOCTYPE"
    assert "TOP-SECRET-VALUE" not in str(error)


def test_doctype_without_entities_is_refused_too(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement()).replace(
        b"?>\n", b"?>\n<!DOCTYPE Document>\n", 1
    )
    assert refused(adapter.parse_statements, data).field == "DOCTYPE"


def test_empty_and_non_xml_input_refused(adapter: Iso20022Adapter) -> None:
    for data in (b"", b"   \n", b"PK\x03\x04zip", b"\xef\xbb\xbf"):
        refused(adapter.parse_statements, data)
        refused(adapter.parse_result, data)
        refused(adapter.parse_instructions, data)


# --- nothing but FileFormatError escapes, whatever the bytes -----------------------------


def _good_files() -> list[bytes]:
    adapter = Iso20022Adapter()
    files = [
        adapter.render_disbursement(make_batch()),
        adapter.render_collection(make_batch(Direction.COLLECTION)),
        adapter.render_statement(make_statement()),
    ]
    for name in ("genkgo/camt053.v8.xml", "genkgo/camt054.v4.xml", "oca/test-camt053.xml",
                 "oca/test-sepa-pain-unpaid.xml"):  # fmt: skip
        path = SAMPLES / name
        if path.exists():
            files.append(path.read_bytes())
    return files


GOOD_FILES = _good_files()


def _only_file_format_errors(adapter: Iso20022Adapter, data: bytes) -> None:
    for parse in (adapter.parse_instructions, adapter.parse_result, adapter.parse_statements):
        with contextlib.suppress(FileFormatError):
            parse(data)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(choice=st.data())
def test_mutated_files_raise_only_file_format_errors(
    adapter: Iso20022Adapter, choice: st.DataObject
) -> None:
    data = bytearray(choice.draw(st.sampled_from(GOOD_FILES)))
    for _ in range(choice.draw(st.integers(1, 6))):
        at = choice.draw(st.integers(0, len(data) - 1))
        op = choice.draw(st.sampled_from(["flip", "drop", "insert", "digit"]))
        if op == "flip":
            data[at] = choice.draw(st.integers(0, 255))
        elif op == "drop":
            del data[at]
        elif op == "insert":
            data[at:at] = choice.draw(st.sampled_from([b"<", b">", b"&", b"-", b".", b"9" * 50]))
        else:
            data[at] = ord(choice.draw(st.sampled_from("0123456789.-+eE ")))
    _only_file_format_errors(adapter, bytes(data))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(choice=st.data())
def test_truncated_files_raise_only_file_format_errors(
    adapter: Iso20022Adapter, choice: st.DataObject
) -> None:
    data = choice.draw(st.sampled_from(GOOD_FILES))
    cut = choice.draw(st.integers(0, len(data) - 1))
    _only_file_format_errors(adapter, data[:cut])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=0, max_size=40),
    field=st.sampled_from(["Amt", "CdtDbtInd", "Dt", "Id", "Sts", "RvslInd", "Ccy"]),
)
def test_any_element_text_raises_only_file_format_errors(
    adapter: Iso20022Adapter, text: str, field: str
) -> None:
    from xml.sax.saxutils import escape

    data = adapter.render_statement(make_statement()).decode("utf-8")
    if field == "Ccy":
        data = data.replace('Ccy="CNY"', f'Ccy="{escape(text, {chr(34): "&quot;"})}"', 1)
    else:
        opening = f"<{field}>"
        start = data.find(opening, data.find("<Ntry>"))
        end = data.find(f"</{field}>", start)
        if start < 0 or end < 0:
            return
        data = data[: start + len(opening)] + escape(text) + data[end:]
    _only_file_format_errors(adapter, data.encode("utf-8", errors="surrogatepass"))
