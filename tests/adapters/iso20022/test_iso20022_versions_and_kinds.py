"""Which files the adapter recognises, which versions it reads, how it classifies money."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from adapters.errors import AdapterLoadError, FileFormatError
from adapters.iso20022 import Iso20022Adapter
from adapters.iso20022.statement import classify
from adapters.records import (
    Channel,
    CreditDebit,
    FileKind,
    ResultStatus,
    Statement,
    StatementEntry,
)

NS = "urn:iso:std:iso:20022:tech:xsd:"


@pytest.fixture
def adapter() -> Iso20022Adapter:
    return Iso20022Adapter()


def _statement(code: str = "PMNT/RCDT/ESCT") -> Statement:
    entry = StatementEntry(
        booking_date=date(2026, 11, 23),
        amount_fen=12_345,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id="BK1",
        bank_transaction_code=code,
        channel=classify(code),
        end_to_end_id="E1",
    )
    return Statement(
        statement_id="S1",
        account="6230910100000012345",
        created_at=datetime(2026, 11, 24, 2, 0),
        from_date=date(2026, 11, 23),
        to_date=date(2026, 11, 23),
        entries=(entry,),
        opening_balance_fen=0,
        closing_balance_fen=12_345,
    )


def test_registered_under_the_adapters_entry_point() -> None:
    (found,) = [e for e in entry_points(group="huzhu.adapters") if e.name == "iso20022"]
    assert found.load() is Iso20022Adapter


def test_unknown_options_stop_start_up() -> None:
    with pytest.raises(AdapterLoadError, match="layout"):
        Iso20022Adapter.from_options({"layout": "x.toml"}, config_dir=Path("."))
    assert isinstance(Iso20022Adapter.from_options({}, config_dir=Path(".")), Iso20022Adapter)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (f'<Document xmlns="{NS}pain.001.001.09">', FileKind.DISBURSEMENT_BATCH),
        (f'<Document xmlns="{NS}pain.001.001.03">', FileKind.DISBURSEMENT_BATCH),
        (f'<Document xmlns="{NS}pain.008.001.08">', FileKind.COLLECTION_BATCH),
        (f'<Document xmlns="{NS}pain.002.001.14">', FileKind.RESULT),
        (f'<Document xmlns="{NS}camt.053.001.02">', FileKind.STATEMENT),
        (f'<ns2:Document xmlns:ns2="{NS}camt.054.001.08">', FileKind.NOTIFICATION),
        (f'<Document xmlns="{NS}camt.052.001.08">', None),  # account report: not read
        (f'<Document xmlns="{NS}pacs.008.001.08">', None),
        ("H|DF20261123|3|600.00|", None),
        ("", None),
    ],
)
def test_detect_kind_from_the_namespace(
    adapter: Iso20022Adapter, head: str, kind: FileKind | None
) -> None:
    data = f'<?xml version="1.0" encoding="UTF-8"?>\n{head}'.encode()
    assert adapter.detect_kind("whatever.xml", data) is kind


@pytest.mark.parametrize("version", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
def test_statements_read_from_every_supported_version(
    adapter: Iso20022Adapter, version: int
) -> None:
    data = adapter.render_statement(_statement())
    data = data.replace(b"camt.053.001.08", f"camt.053.001.{version:02d}".encode())
    (statement,) = adapter.parse_statements(data)
    assert [(e.amount_fen, e.end_to_end_id) for e in statement.entries] == [(12_345, "E1")]


@pytest.mark.parametrize("version", [1, 14])
def test_unsupported_statement_versions_refused(adapter: Iso20022Adapter, version: int) -> None:
    data = adapter.render_statement(_statement())
    data = data.replace(b"camt.053.001.08", f"camt.053.001.{version:02d}".encode())
    with pytest.raises(FileFormatError, match="wrong namespace or version"):
        adapter.parse_statements(data)


@pytest.mark.parametrize("version", [3, 5, 10, 12, 14])
def test_status_reports_read_from_every_supported_version(
    adapter: Iso20022Adapter, version: int
) -> None:
    report = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}pain.002.001.{version:02d}"><CstmrPmtStsRpt>
<GrpHdr><MsgId>R1</MsgId><CreDtTm>2026-11-23T18:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>B1</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId>
<GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>B1</OrgnlPmtInfId><PmtInfSts>ACSC</PmtInfSts>
<TxInfAndSts><OrgnlEndToEndId>E1</OrgnlEndToEndId></TxInfAndSts>
<TxInfAndSts><OrgnlEndToEndId>E2</OrgnlEndToEndId><TxSts>PART</TxSts>
<StsRsnInf><Rsn><Prtry>余额不足</Prtry></Rsn><AddtlInf>余额不足，部分扣款</AddtlInf></StsRsnInf>
<OrgnlTxRef><IntrBkSttlmAmt Ccy="CNY">60.00</IntrBkSttlmAmt>
<Amt><InstdAmt Ccy="CNY">100.00</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>""".encode()
    result = adapter.parse_result(report)
    assert result.group_status == "PART"
    first, second = result.results
    assert first.status is ResultStatus.SETTLED  # inherits its block's PmtInfSts
    assert (second.status, second.settled_amount_fen, second.requested_amount_fen) == (
        ResultStatus.PARTIALLY_SETTLED,
        6_000,
        10_000,
    )
    assert (second.reason_code, second.reason_text) == ("余额不足", "余额不足，部分扣款")


def test_group_rejection_without_transactions_is_read(adapter: Iso20022Adapter) -> None:
    report = f"""<Document xmlns="{NS}pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>R1</MsgId><CreDtTm>2026-11-23T18:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>B1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>FF01</Cd></Rsn><AddtlInf>invalid file format</AddtlInf>
</StsRsnInf></OrgnlGrpInfAndSts>
</CstmrPmtStsRpt></Document>""".encode()
    result = adapter.parse_result(report)
    assert (result.group_status, result.group_reason_code, result.results) == ("RJCT", "FF01", ())
    assert result.group_reason_text == "invalid file format"


def test_unknown_status_code_refused_with_its_path(adapter: Iso20022Adapter) -> None:
    report = f"""<Document xmlns="{NS}pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>R1</MsgId><CreDtTm>2026-11-23T18:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>B1</OrgnlMsgId><OrgnlMsgNmId>x</OrgnlMsgNmId></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>B1</OrgnlPmtInfId>
<TxInfAndSts><OrgnlEndToEndId>E1</OrgnlEndToEndId><TxSts>OKAY</TxSts></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>""".encode()
    with pytest.raises(FileFormatError) as caught:
        adapter.parse_result(report)
    assert caught.value.location == (
        "/Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/TxSts"
    )
    assert caught.value.value == "OKAY"


@pytest.mark.parametrize(
    ("code", "channel"),
    [
        ("PMNT/CNTR/CDPT", Channel.CASH),
        ("PMNT/CNTR/CWDL", Channel.CASH),
        ("PMNT/MCRD/CWDL", Channel.CASH),
        ("ACMT/MDOP/CHRG", Channel.FEE),
        ("PMNT/CHRG/OTHR", Channel.FEE),
        ("ACMT/MDOP/INTR", Channel.INTEREST),
        ("PMNT/RCDT/ESCT", Channel.TRANSFER),
        ("PMNT/IDDT/UPDD", Channel.TRANSFER),
        ("ACMT/OPCL/ACCC", Channel.OTHER),
        ("544", Channel.OTHER),
        ("", Channel.OTHER),
    ],
)
def test_bank_transaction_codes_classify_the_channel(
    adapter: Iso20022Adapter, code: str, channel: Channel
) -> None:
    assert classify(code) is channel
    (statement,) = adapter.parse_statements(adapter.render_statement(_statement(code)))
    assert statement.entries[0].channel is channel
    assert statement.entries[0].bank_transaction_code == code


def test_a_channel_the_code_does_not_tell_survives_the_round_trip(
    adapter: Iso20022Adapter,
) -> None:
    base = _statement("手续费")
    entry = base.entries[0]
    fee = Statement(
        statement_id=base.statement_id,
        account=base.account,
        created_at=base.created_at,
        from_date=base.from_date,
        to_date=base.to_date,
        entries=(dataclasses.replace(entry, channel=Channel.FEE),),
        opening_balance_fen=0,
        closing_balance_fen=12_345,
    )
    (statement,) = adapter.parse_statements(adapter.render_statement(fee))
    assert (statement.entries[0].channel, statement.entries[0].bank_transaction_code) == (
        Channel.FEE,
        "手续费",
    )


def test_schemas_are_compiled_once_per_adapter_not_globally() -> None:
    first, second = Iso20022Adapter(), Iso20022Adapter()
    first.render_statement(_statement())
    compiled = first.schemas.get("camt.053.001.08")
    first.render_statement(_statement())
    assert first.schemas.get("camt.053.001.08") is compiled
    assert second.schemas.get("camt.053.001.08") is not compiled
