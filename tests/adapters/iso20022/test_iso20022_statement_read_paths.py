"""Every way of reading a statement entry gives the same records and the same refusals.

The reader answers the usual entry straight from its table (``_EntryReader.read``) and sends
everything else through the general reading (``read_entry``); tables come from the compiled
walk or, without it, from the reference walk. Three readers are compared here: as shipped,
general reading only, and general reading on reference tables. Inputs are the shared sample
files, our own statements, and those files changed one element at a time (blanks around a
text, another text, an element dropped or repeated, another currency), so that both the
records and the wording of each refusal (element path, field, value) are compared.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.errors import FileFormatError
from adapters.iso20022 import Iso20022Adapter, statement, xmlread
from adapters.iso20022.xmlread import ReferenceWalker, Stops, Walker
from adapters.records import Channel, CreditDebit, Statement, StatementEntry

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "samples" / "iso20022"
GENERAL = statement._EntryReader._general


def _reference_walker(namespace: str, stops: Stops) -> Walker:
    return ReferenceWalker(namespace, stops)


Outcome = tuple[tuple[str, object], tuple[str, object]]


def _outcome(data: bytes) -> Outcome:
    """What the CNY-only reader and the any-currency one make of ``data`` (the sample
    files are in other currencies: the CNY-only reader refuses them at the first amount)."""
    return _read(Iso20022Adapter(), data), _read(Iso20022Adapter(currency=None), data)


def _read(adapter: Iso20022Adapter, data: bytes) -> tuple[str, object]:
    try:
        return "read", adapter.parse_statements(data)
    except FileFormatError as exc:
        return "refused", (type(exc).__name__, str(exc))


def _outcomes(data: bytes) -> Iterator[tuple[str, Outcome]]:
    with pytest.MonkeyPatch.context() as patch:
        yield "as shipped", _outcome(data)
        patch.setattr(statement._EntryReader, "read", GENERAL)
        yield "general reading", _outcome(data)
        patch.setattr(statement, "walker", _reference_walker)
        yield "general reading, reference walk", _outcome(data)


def _assert_same(data: bytes) -> Outcome:
    outcomes = list(_outcomes(data))
    first = outcomes[0][1]
    for how, outcome in outcomes[1:]:
        assert outcome == first, how
    return first


def _statement() -> Statement:
    day = date(2026, 11, 23)
    entries: tuple[StatementEntry, ...] = (
        StatementEntry(day, 12_345, CreditDebit.CREDIT, "CNY", "BK1", day, False,
                       Channel.TRANSFER, "PMNT/RCDT/ESCT", "6217000010000000001", "张三",
                       "HZ0000000001", (("InstrId", "I1"), ("Tp1", "P1")), "还款 第3期\n第二行",
                       "62309101000000123450001"),
        StatementEntry(day, 500, CreditDebit.DEBIT, "CNY", None, None, True, Channel.CASH,
                       "CAMT/CNTR/CDPT", None, None, None, (("NtryRef", "N2"),), "",
                       None, "AC04"),
        StatementEntry(day, 1, CreditDebit.DEBIT, "CNY", "BK3", day, False, Channel.FEE,
                       "XYZ", "DE89370400440532013000", " 李 四 ", None, (), "", None, None),
        StatementEntry(day, 99, CreditDebit.CREDIT, "CNY", "BK4", day, False,
                       Channel.INTEREST, "ACMT/MDOP/INTR", None, None, "HZ4"),
    )  # fmt: skip
    entries += tuple(  # plain transfers like the first: read straight from their tables
        StatementEntry(day, 1_000 + n, CreditDebit.DEBIT if n % 2 else CreditDebit.CREDIT,
                       "CNY", f"BK{n}", day, False, Channel.TRANSFER, "PMNT/RCDT/ESCT",
                       f"621700001000000000{n}", "王五", f"HZ{n:010d}", (), "", None, None)
        for n in range(5, 8)
    )  # fmt: skip
    return Statement(
        statement_id="S1",
        account="6230910100000012345",
        created_at=datetime(2026, 11, 24, 2, 0),
        from_date=day,
        to_date=day,
        entries=entries,
        opening_balance_fen=0,
        closing_balance_fen=sum(e.signed_amount_fen for e in entries),
    )


_PLAIN = """<Amt Ccy="CNY">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2026-11-23</Dt></BookgDt><ValDt><Dt>2026-11-23</Dt></ValDt>
<AcctSvcrRef>BK0</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>
<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"""
# Entry shapes the reader meets in banks' files. Each comes after a plain entry of the same
# code, date and currency, so that it meets the reader's caches filled.
_SHAPES = [
    "",
    "<NtryDtls><TxDtls/></NtryDtls>",
    "<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId><AcctSvcrRef> R </AcctSvcrRef>"
    "<InstrId>I</InstrId><TxId>T</TxId><Prtry><Tp>K</Tp><Ref>V</Ref></Prtry></Refs>"
    "</TxDtls></NtryDtls>",
    "<NtryDtls><TxDtls><Refs><EndToEndId> E1 </EndToEndId><MsgId>M</MsgId><PmtInfId>P</PmtInfId>"
    "</Refs><RltdPties><Dbtr><Pty><Nm> 张 三 </Nm></Pty></Dbtr><DbtrAcct><Id><IBAN>"
    "DE89370400440532013000</IBAN></Id></DbtrAcct><DbtrAcct><Id><Othr><Id>X</Id></Othr></Id>"
    "</DbtrAcct><CdtrAcct><Id><IBAN> </IBAN><Othr><Id>62309101000000123450001</Id></Othr></Id>"
    "</CdtrAcct></RltdPties></TxDtls></NtryDtls>",
    "<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>李四</Nm></Dbtr><DbtrAcct><Id><Othr><Id> 621 </Id>"
    "</Othr></Id></DbtrAcct><CdtrAcct><Id><Othr><Id>6230910100000012345</Id></Othr></Id>"
    "</CdtrAcct></RltdPties><RltdAgts><DbtrAgt><FinInstnId><BICFI>ABCDCNBJ</BICFI></FinInstnId>"
    "</DbtrAgt></RltdAgts><RmtInf><Ustrd>一</Ustrd><Ustrd/><Ustrd> 三 </Ustrd></RmtInf>"
    "</TxDtls></NtryDtls>",
    "<NtryDtls><TxDtls><RltdPties><Dbtr><Agt><FinInstnId><Nm> Bank </Nm><BICFI>B</BICFI>"
    "</FinInstnId></Agt></Dbtr></RltdPties><AddtlTxInf> tx info </AddtlTxInf></TxDtls>"
    "</NtryDtls><AddtlNtryInf>entry info</AddtlNtryInf>",
    "<AddtlNtryInf> only entry info </AddtlNtryInf>",
    "<NtryDtls><TxDtls><RmtInf><Strd><CdtrRefInf><Ref>RF18</Ref></CdtrRefInf></Strd></RmtInf>"
    "</TxDtls></NtryDtls>",
    "<NtryDtls><TxDtls><RtrInf><Rsn><Prtry>冻结</Prtry></Rsn></RtrInf></TxDtls></NtryDtls>",
    "<NtryDtls><Btch><MsgId> B1 </MsgId><PmtInfId>P1</PmtInfId></Btch><TxDtls/></NtryDtls>",
    '<NtryDtls><TxDtls><Amt Ccy="CNY">0.40</Amt><Refs><EndToEndId>A</EndToEndId></Refs>'
    '</TxDtls><TxDtls><AmtDtls><TxAmt><Amt Ccy="CNY">0.60</Amt></TxAmt></AmtDtls>'
    "<Refs><EndToEndId>B</EndToEndId></Refs></TxDtls></NtryDtls>",
    "<NtryDtls><TxDtls><Refs><EndToEndId>A</EndToEndId></Refs></TxDtls><TxDtls><Refs>"
    "<EndToEndId>B</EndToEndId></Refs></TxDtls></NtryDtls>",
]


def _shapes() -> bytes:
    """A camt.053 holding each entry shape, with a few texts and dates written otherwise."""
    entries = []
    for n, shape in enumerate(_SHAPES):
        entries.append(f"<Ntry>{_PLAIN}</Ntry>")
        entries.append(f"<Ntry>{_PLAIN.replace('BK0', f'BK{n + 1}')}{shape}</Ntry>")
    for old, new in [
        ("1.00", "12.3"),
        ("CRDT", "DBIT"),
        ("<Cd>BOOK</Cd>", "BOOK"),
        ("<Dt>2026-11-23</Dt></ValDt>", "<DtTm>2026-11-24T01:00:00</DtTm></ValDt>"),
        ("</Sts>", "</Sts><RvslInd>true</RvslInd>"),
        ("<BkTxCd>", "<BkTxCd><Prtry><Cd>X</Cd></Prtry>"),
        ("<ValDt><Dt>2026-11-23</Dt></ValDt>", ""),
    ]:
        entries.append(f"<Ntry>{_PLAIN.replace(old, new)}</Ntry>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>S</MsgId><CreDtTm>2026-11-24T02:00:00</CreDtTm></GrpHdr><Stmt><Id>S</Id>"
        "<Acct><Id><Othr><Id>6230910100000012345</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"
        + "".join(entries)
        + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()  # fmt: skip


def _files() -> list[bytes]:
    files = [_shapes(), Iso20022Adapter().render_statement(_statement())]
    for path in sorted(SAMPLES.glob("*/*.xml")):
        head = path.read_bytes()[:2048]
        if b"camt.05" in head:
            files.append(path.read_bytes())
    return files


FILES = _files()


def test_the_inputs_hold_statements_and_notifications() -> None:
    assert len(FILES) > 20
    (kind, found), any_currency = _assert_same(FILES[0])
    assert any_currency == (kind, found)
    assert kind == "read"
    assert isinstance(found, tuple)
    (shapes,) = found
    assert isinstance(shapes, Statement)
    # seven written otherwise, and the batch entry splits in two
    assert len(shapes.entries) == 2 * len(_SHAPES) + 7 + 1


@pytest.mark.parametrize("index", range(len(FILES)))
def test_every_statement_file_reads_alike_every_way(index: int) -> None:
    _assert_same(FILES[index])


def test_our_statement_is_read_through_the_fast_path_and_alike() -> None:
    calls: list[int] = []

    def counting(*args: object, **kwargs: object) -> list[StatementEntry]:
        calls.append(1)
        return GENERAL(*args, **kwargs)  # type: ignore[arg-type]

    data = Iso20022Adapter().render_statement(_statement())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(statement._EntryReader, "_general", counting)
        (read,) = Iso20022Adapter().parse_statements(data)
    # the first four are unusual or the first of their kind (filling the reader's caches);
    # the plain transfers after them are read straight from their tables
    assert len(read.entries) == 7
    assert len(calls) == 4
    (kind, found), _ = _assert_same(data)
    assert kind == "read"
    assert found == (read,)
    assert read.entries == _statement().entries


# --- changed files ------------------------------------------------------------------------

_TEXTS = [
    "BOOK", "PDNG", "CRDT", "DBIT", "true", "false", "1", "0", "yes",
    "2026-11-23", "2026-02-30", "2026-11-23T10:00:00", "2026-11-23+08:00",
    "12.34", "12.345", "12.3", "0.10", "0.5", "7", "1.", "-1", "１２", "NOTPROVIDED",
    "PMNT", "CNTR", "CDPT", "ESCT", "6230910100000012345", "62309101000000123450001",
    "", " ", "张三", "cash",
]  # fmt: skip
_CURRENCIES = ["CNY", "JPY", "BHD", "EUR", "XXX", "XAU", "", "cny"]


def _change(root: etree._Element, draw: st.DataObject) -> None:
    ns = etree.QName(root).namespace
    entries = root.findall(f".//{{{ns}}}Ntry")
    if not entries:
        return
    entry = draw.draw(st.sampled_from(entries))
    elements = [e for e in entry.iter(etree.Element) if e is not entry]
    target = draw.draw(st.sampled_from(elements))
    op = draw.draw(st.sampled_from(["pad", "text", "drop", "repeat", "currency", "empty"]))
    if op == "pad" and len(target) == 0:
        target.text = f" {target.text or ''}\n\t"
    elif op == "text" and len(target) == 0:
        target.text = draw.draw(st.sampled_from(_TEXTS))
    elif op == "drop":
        parent = target.getparent()
        assert parent is not None
        parent.remove(target)
    elif op == "repeat":
        target.addnext(copy.deepcopy(target))
    elif op == "currency" and target.get("Ccy") is not None:
        target.set("Ccy", draw.draw(st.sampled_from(_CURRENCIES)))
    elif op == "empty":
        for child in list(target):
            target.remove(child)
        target.text = None


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(draw=st.data())
def test_changed_files_read_or_are_refused_alike_every_way(draw: st.DataObject) -> None:
    data = draw.draw(st.sampled_from(FILES))
    root = etree.fromstring(data)
    for _ in range(draw.draw(st.integers(1, 4))):
        _change(root, draw)
    _assert_same(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@pytest.mark.parametrize("chunk", [1, 7, 300])
def test_statements_read_alike_however_the_bytes_arrive(chunk: int) -> None:
    # Entries are read once a later start tag shows they are whole: however the file is cut
    # into the pieces fed to the parser, the same entries come out.
    expected = [_outcome(data) for data in FILES]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(xmlread, "CHUNK", chunk)
        assert [_outcome(data) for data in FILES] == expected
