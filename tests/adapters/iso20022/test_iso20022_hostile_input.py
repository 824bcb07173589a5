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
from lxml import etree

from adapters.errors import ControlTotalError, FileFormatError, RenderError
from adapters.iso20022 import Iso20022Adapter
from adapters.records import (
    MAX_AMOUNT_FEN,
    Batch,
    CreditDebit,
    Direction,
    InstructionResult,
    PaymentInstruction,
    ResultFile,
    ResultStatus,
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
    any_currency = Iso20022Adapter(currency=None)
    data = adapter.render_statement(make_statement())
    jpy = data.replace(b'Ccy="CNY">2.22<', b'Ccy="JPY">2.22<')
    assert refused(any_currency.parse_statements, jpy).value == "2.22"
    bhd = data.replace(b'Ccy="CNY">2.22<', b'Ccy="BHD">2.225<')
    (statement,) = any_currency.parse_statements(bhd)
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


ANY_CURRENCY = Iso20022Adapter(currency=None)  # reads the samples past their first amount


def _only_file_format_errors(adapter: Iso20022Adapter, data: bytes) -> None:
    for each in (adapter, ANY_CURRENCY):
        for parse in (each.parse_instructions, each.parse_result, each.parse_statements):
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


# --- money is CNY only -------------------------------------------------------------------


def make_result_file(adapter: Iso20022Adapter) -> bytes:
    """Our pain.002 for ``make_batch``: E1 and E3 settled (ACSC), E2 rejected (RJCT)."""
    batch = make_batch()
    rejected = {"E2"}
    result = ResultFile(
        message_id="R1",
        original_message_id="B1",
        created_at=datetime(2026, 11, 23, 18, 0),
        results=tuple(
            InstructionResult(
                end_to_end_id=i.end_to_end_id,
                status=ResultStatus.REJECTED
                if i.end_to_end_id in rejected
                else ResultStatus.SETTLED,
                settled_amount_fen=0 if i.end_to_end_id in rejected else i.amount_fen,
                reason_code="AC04" if i.end_to_end_id in rejected else None,
            )
            for i in batch.instructions
        ),
    )
    return adapter.render_result(result, batch)


_STMT = "/Document/BkToCstmrStmt/Stmt[1]"
_TX = "/Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts"


@pytest.mark.parametrize("which", [1, 2])
def test_entry_amount_in_another_currency_is_refused_naming_its_amount(
    adapter: Iso20022Adapter, which: int
) -> None:
    # the first entry meets an empty currency cache, the second one filled with CNY
    amount = (b">1.11<", b">2.22<")[which - 1]
    data = adapter.render_statement(make_statement())
    data = data.replace(b'Ccy="CNY"' + amount, b'Ccy="USD"' + amount)
    error = refused(adapter.parse_statements, data)
    assert error.location == f"{_STMT}/Ntry[{which}]/Amt"
    assert (error.field, error.value) == ("Ccy", "USD")
    assert "CNY" in error.reason


def test_statement_account_in_another_currency_is_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement())
    assert data.count(b"<Ccy>CNY</Ccy>") == 1
    error = refused(adapter.parse_statements, data.replace(b"<Ccy>CNY</Ccy>", b"<Ccy>EUR</Ccy>"))
    assert error.location == f"{_STMT}/Acct/Ccy"
    assert (error.field, error.value) == ("Ccy", "EUR")


def test_balance_in_another_currency_is_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement())
    data = data.replace(b'Ccy="CNY">6.66<', b'Ccy="HKD">6.66<')  # the closing balance
    error = refused(adapter.parse_statements, data)
    assert error.location == f"{_STMT}/Bal[2]/Amt"
    assert (error.field, error.value) == ("Ccy", "HKD")


@pytest.mark.parametrize("path", ["Amt", "AmtDtls/InstdAmt/Amt"])
def test_transaction_detail_amount_in_another_currency_is_refused(
    adapter: Iso20022Adapter, path: str
) -> None:
    root = etree.fromstring(adapter.render_statement(make_statement()))
    ns = etree.QName(root).namespace
    detail = root.findall(f".//{{{ns}}}TxDtls")[1]  # the second entry's
    node = detail
    for step in path.split("/"):
        node = etree.SubElement(node, f"{{{ns}}}{step}")
    node.set("Ccy", "USD")
    node.text = "0.32"
    error = refused(adapter.parse_statements, etree.tostring(root))
    assert error.location == f"{_STMT}/Ntry[2]/NtryDtls/TxDtls[1]/{path}"
    assert (error.field, error.value) == ("Ccy", "USD")


@pytest.mark.parametrize(("index", "element"), [(0, "IntrBkSttlmAmt"), (1, "Amt/InstdAmt")])
def test_status_report_amount_in_another_currency_is_refused(
    adapter: Iso20022Adapter, index: int, element: str
) -> None:
    head, *amounts = make_result_file(adapter).split(b'Ccy="CNY"')
    currencies = [b'Ccy="EUR"' if n == index else b'Ccy="CNY"' for n in range(len(amounts))]
    changed = head + b"".join(c + rest for c, rest in zip(currencies, amounts, strict=True))
    error = refused(adapter.parse_result, changed)
    assert error.location == f"{_TX}[1]/OrgnlTxRef/{element}"
    assert (error.field, error.value) == ("Ccy", "EUR")
    assert len(Iso20022Adapter(currency=None).parse_result(changed).results) == 3


# --- zero entries ----------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "which"), [(b">1.11<", 1), (b">2.22<", 2)])
def test_zero_entry_amount_is_refused(adapter: Iso20022Adapter, amount: bytes, which: int) -> None:
    data = adapter.render_statement(make_statement()).replace(amount, b">0.00<")
    error = refused(adapter.parse_statements, data)
    assert error.location == f"{_STMT}/Ntry[{which}]/Amt"
    assert (error.field, error.value) == ("Amt", "0.00")
    assert "zero" in error.reason


def test_zero_balances_are_read(adapter: Iso20022Adapter) -> None:
    statement = dataclasses.replace(make_statement(), closing_balance_fen=0)
    (read,) = adapter.parse_statements(adapter.render_statement(statement))
    assert (read.opening_balance_fen, read.closing_balance_fen) == (0, 0)


# --- the shared bound (MAX_AMOUNT_FEN) ----------------------------------------------------

_ABOVE = b">10000000000000.00<"  # 10**15 fen, one above MAX_AMOUNT_FEN


def test_amounts_up_to_the_bound_are_read(adapter: Iso20022Adapter) -> None:
    assert MAX_AMOUNT_FEN == 999_999_999_999_999
    data = adapter.render_statement(make_statement())
    data = data.replace(b">2.22<", b">9999999999999.99<").replace(b">6.66<", b">9999999999999.99<")
    (statement,) = adapter.parse_statements(data)
    assert statement.entries[1].amount_fen == statement.closing_balance_fen == MAX_AMOUNT_FEN


@pytest.mark.parametrize(
    ("old", "where", "field"),
    [(b">2.22<", "Ntry[2]/Amt", "Amt"), (b">6.66<", "Bal[2]/Amt", "Amt")],
)
def test_statement_amount_above_the_bound_is_refused(
    adapter: Iso20022Adapter, old: bytes, where: str, field: str
) -> None:
    data = adapter.render_statement(make_statement()).replace(old, _ABOVE)
    error = refused(adapter.parse_statements, data)
    assert error.location == f"{_STMT}/{where}"
    assert (error.field, error.value) == (field, "10000000000000.00")
    assert "largest allowed" in error.reason


def test_status_report_amount_above_the_bound_is_refused(adapter: Iso20022Adapter) -> None:
    data = make_result_file(adapter).replace(b">300.00<", _ABOVE)
    error = refused(adapter.parse_result, data)
    assert error.location == f"{_TX}[3]/OrgnlTxRef/Amt/InstdAmt"
    assert (error.field, error.value) == ("InstdAmt", "10000000000000.00")
    assert "largest allowed" in error.reason


def test_batch_beyond_the_bound_is_not_rendered(adapter: Iso20022Adapter) -> None:
    batch = make_batch()
    big = tuple(dataclasses.replace(i, amount_fen=MAX_AMOUNT_FEN // 2) for i in batch.instructions)
    with pytest.raises(RenderError, match="control sum"):
        adapter.render_disbursement(dataclasses.replace(batch, instructions=big))


# --- statement control totals (TxsSummry) -------------------------------------------------


def _summary(
    count: str = "3",
    total: str = "6.66",
    net: str = "6.66",
    net_sign: str = "CRDT",
    credits: tuple[str, str] = ("3", "6.66"),
    debits: tuple[str, str] = ("0", "0"),
) -> bytes:
    return (
        f"<TxsSummry><TtlNtries><NbOfNtries>{count}</NbOfNtries><Sum>{total}</Sum>"
        f"<TtlNetNtry><Amt>{net}</Amt><CdtDbtInd>{net_sign}</CdtDbtInd></TtlNetNtry>"
        f"</TtlNtries><TtlCdtNtries><NbOfNtries>{credits[0]}</NbOfNtries><Sum>{credits[1]}</Sum>"
        f"</TtlCdtNtries><TtlDbtNtries><NbOfNtries>{debits[0]}</NbOfNtries>"
        f"<Sum>{debits[1]}</Sum></TtlDbtNtries></TxsSummry>"
    ).encode()


def with_summary(data: bytes, summary: bytes) -> bytes:
    """The summary where the schema puts it: after the balances, before the entries."""
    at = data.index(b"<Ntry>")
    return data[:at] + summary + data[at:]


def test_statement_whose_summary_matches_its_entries_is_read(adapter: Iso20022Adapter) -> None:
    data = with_summary(adapter.render_statement(make_statement()), _summary())
    (statement,) = adapter.parse_statements(data)
    assert [e.amount_fen for e in statement.entries] == [111, 222, 333]


@pytest.mark.parametrize(
    ("summary", "where"),
    [
        (_summary(count="4"), "TtlNtries/NbOfNtries"),
        (_summary(total="6.67"), "TtlNtries/Sum"),
        (_summary(net="6.66", net_sign="DBIT"), "TtlNtries/TtlNetNtry/Amt"),
        (_summary(credits=("2", "6.66")), "TtlCdtNtries/NbOfNtries"),
        (_summary(credits=("3", "3.33")), "TtlCdtNtries/Sum"),
        (_summary(debits=("0", "0.01")), "TtlDbtNtries/Sum"),
    ],
)
def test_statement_summary_that_differs_from_its_entries_is_refused(
    adapter: Iso20022Adapter, summary: bytes, where: str
) -> None:
    data = with_summary(adapter.render_statement(make_statement()), summary)
    error = refused(adapter.parse_statements, data)
    assert isinstance(error, ControlTotalError)
    assert error.location == f"{_STMT}/TxsSummry/{where}"
    assert error.field == where.rpartition("/")[2]


def test_long_statement_that_lost_an_entry_is_refused(adapter: Iso20022Adapter) -> None:
    # thousands of entries: read in many chunks, each entry cleared once read
    base = make_statement()
    entries = tuple(
        dataclasses.replace(base.entries[0], amount_fen=100 + n, bank_transaction_id=f"BK{n}")
        for n in range(3000)
    )
    total = sum(e.amount_fen for e in entries)
    statement = dataclasses.replace(base, entries=entries, closing_balance_fen=total)
    shown = f"{total // 100}.{total % 100:02d}"
    summary = _summary("3000", shown, shown, "CRDT", ("3000", shown))
    data = with_summary(adapter.render_statement(statement), summary)
    assert len(data) > 10 * 65536
    (read,) = adapter.parse_statements(data)
    assert len(read.entries) == 3000
    start = data.index(b"<Ntry>", len(data) // 2)
    end = data.index(b"</Ntry>", start) + len(b"</Ntry>")
    error = refused(adapter.parse_statements, data[:start] + data[end:])
    assert isinstance(error, ControlTotalError)
    assert error.location == f"{_STMT}/TxsSummry/TtlNtries/NbOfNtries"
    assert (error.value, "(2999)") == ("3000", error.reason[-6:])


def test_summary_after_the_entries_is_checked_too(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement())
    at = data.index(b"</Stmt>")
    good = data[:at] + _summary() + data[at:]
    assert len(adapter.parse_statements(good)[0].entries) == 3
    bad = data[:at] + _summary(count="2") + data[at:]
    error = refused(adapter.parse_statements, bad)
    assert isinstance(error, ControlTotalError)
    assert error.location == f"{_STMT}/TxsSummry/TtlNtries/NbOfNtries"


def test_summary_counts_entries_not_yet_booked(adapter: Iso20022Adapter) -> None:
    data = with_summary(adapter.render_statement(make_statement()), _summary())
    first, _, rest = data.partition(b"<Cd>BOOK</Cd>")
    (statement,) = adapter.parse_statements(first + b"<Cd>PDNG</Cd>" + rest)
    assert [e.amount_fen for e in statement.entries] == [222, 333]  # the pending one is left out


def test_summary_sum_above_the_bound_is_refused(adapter: Iso20022Adapter) -> None:
    data = adapter.render_statement(make_statement())
    assert refused(adapter.parse_statements, with_summary(data, _summary(total="1e3"))).field == (
        "Sum"
    )
    summary = _summary(total="10000000000000.00")
    error = refused(adapter.parse_statements, with_summary(data, summary))
    assert error.location == f"{_STMT}/TxsSummry/TtlNtries/Sum"
    assert "largest allowed" in error.reason


# --- status report control totals (NbOfTxsPerSts) ---------------------------------------


def with_per_status(data: bytes, *entries: tuple[str, str, str | None]) -> bytes:
    """``NbOfTxsPerSts`` (count, status, control sum) at the end of OrgnlGrpInfAndSts."""
    text = "".join(
        f"<NbOfTxsPerSts><DtldNbOfTxs>{count}</DtldNbOfTxs><DtldSts>{status}</DtldSts>"
        + (f"<DtldCtrlSum>{total}</DtldCtrlSum>" if total is not None else "")
        + "</NbOfTxsPerSts>"
        for count, status, total in entries
    )
    return data.replace(b"</OrgnlGrpInfAndSts>", text.encode() + b"</OrgnlGrpInfAndSts>", 1)


_GROUP_TOTALS = "/Document/CstmrPmtStsRpt/OrgnlGrpInfAndSts"


def test_status_report_whose_counts_per_status_match_is_read(adapter: Iso20022Adapter) -> None:
    data = with_per_status(make_result_file(adapter), ("2", "ACSC", "400.00"), ("1", "RJCT", "200"))
    assert [r.status for r in adapter.parse_result(data).results] == [
        ResultStatus.SETTLED,
        ResultStatus.REJECTED,
        ResultStatus.SETTLED,
    ]


@pytest.mark.parametrize(
    ("per_status", "where", "value"),
    [
        ((("1", "ACSC", None), ("1", "RJCT", None)), "NbOfTxsPerSts[1]/DtldNbOfTxs", "1"),
        ((("2", "ACSC", "400.01"), ("1", "RJCT", None)), "NbOfTxsPerSts[1]/DtldCtrlSum", "400.01"),
        ((("2", "ACSC", None),), "NbOfTxsPerSts", "RJCT"),  # a status no entry counts
    ],
)
def test_status_report_whose_counts_per_status_differ_is_refused(
    adapter: Iso20022Adapter,
    per_status: tuple[tuple[str, str, str | None], ...],
    where: str,
    value: str,
) -> None:
    data = with_per_status(make_result_file(adapter), *per_status)
    error = refused(adapter.parse_result, data)
    assert isinstance(error, ControlTotalError)
    assert error.location == f"{_GROUP_TOTALS}/{where}"
    assert error.value == value


def test_status_report_listing_fewer_transactions_than_it_counts_is_read(
    adapter: Iso20022Adapter,
) -> None:
    # a report of the exceptions only: the transactions it does not list stay unanswered
    data = with_per_status(make_result_file(adapter), ("2", "ACSC", "999.00"), ("1", "RJCT", None))
    start = data.rindex(b"<TxInfAndSts>")
    end = data.index(b"</TxInfAndSts>", start) + len(b"</TxInfAndSts>")
    read = adapter.parse_result(data[:start] + data[end:])
    assert [r.status for r in read.results] == [ResultStatus.SETTLED, ResultStatus.REJECTED]
