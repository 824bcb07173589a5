"""Files written by other projects, read the way their authors expect.

They are in other currencies, so they are read by an adapter allowing any currency; the
adapter as shipped reads CNY only and refuses each of them, naming the first foreign amount.

genkgo/camt ships, beside each camt file, a JSON dump of its own parse; our statements must
agree with it on count, amounts in minor units, currency, credit/debit, booking date and
references. OCA's pain.002 and camt.053 test files carry rejections, returns and a reversed
batch entry; their ``-invalid`` twins and genkgo's ``wrong`` file must be refused.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.errors import FileFormatError
from adapters.iso20022 import Iso20022Adapter
from adapters.records import CreditDebit, FileKind, ResultStatus, Statement, StatementEntry

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "samples" / "iso20022"
REFUSED = {
    "camt053.v2.wrong.xml": "no Stmt",
    "test-sepa-camt-unpaid-invalid.xml": "wrong namespace",
    "test-sepa-pain-unpaid-invalid.xml": "wrong namespace",
}
GENKGO_WITH_JSON = sorted(
    p.name for p in (SAMPLES / "genkgo").glob("*.xml") if p.with_suffix(".json").exists()
)
ALL_FILES = sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*.xml"))


@pytest.fixture
def adapter() -> Iso20022Adapter:
    # The samples are in EUR, SEK, CHF, JPY...: read them with every currency allowed. The
    # adapter as shipped (CNY only) refuses them, as the last test here shows.
    return Iso20022Adapter(currency=None)


def _read(samples_dir: Path, relative: str) -> bytes:
    return (samples_dir / "iso20022" / relative).read_bytes()


@pytest.mark.parametrize("relative", ALL_FILES)
def test_every_sample_file_is_read_or_refused_with_a_reason(
    adapter: Iso20022Adapter, samples_dir: Path, relative: str
) -> None:
    data = _read(samples_dir, relative)
    name = Path(relative).name
    kind = adapter.detect_kind(name, data[:1024])
    if name in REFUSED:
        parse = adapter.parse_result if "pain" in name else adapter.parse_statements
        with pytest.raises(FileFormatError, match=REFUSED[name]):
            parse(data)
        return
    if kind is FileKind.RESULT:
        assert adapter.parse_result(data).results
    else:
        assert kind in (FileKind.STATEMENT, FileKind.NOTIFICATION)
        statements = adapter.parse_statements(data)
        assert statements
        assert all(s.kind is kind for s in statements)


# --- genkgo/camt expected parses -------------------------------------------------------


def _json_entries(dump: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in dump["getEntries"] if isinstance(e, dict)]


def _record_id(entry: dict[str, Any]) -> str:
    record = entry["getRecord"]
    assert isinstance(record, dict), "the dump names each entry's statement"
    return str(record["getId"])


def _expected_references(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry.get("getTransactionDetail") or {}
    refs = detail.get("getReference") or {}
    return {
        "servicer": entry.get("getAccountServicerReference"),
        "entry_ref": entry.get("getReference"),
        "batch_payment": entry.get("getBatchPaymentId"),
        "end_to_end": refs.get("getEndToEndId"),
        "instruction": refs.get("getInstructionId"),
        "payment_info": refs.get("getPaymentInformationId"),
        "uetr": refs.get("getUuidEndToEndReference"),
        "proprietary": [
            (p["getType"], p["getReference"]) for p in refs.get("getProprietaries") or []
        ],
    }


def _assert_entry_matches(ours: StatementEntry, theirs: dict[str, Any]) -> None:
    minor = int(theirs["getAmount"]["getAmount"])
    assert ours.amount_fen == abs(minor)
    assert ours.currency == theirs["getAmount"]["getCurrency"]["getCode"]
    assert ours.credit_debit.value == theirs["getCreditDebitIndicator"]
    assert (minor < 0) == (ours.credit_debit is CreditDebit.DEBIT) or minor == 0
    assert ours.reversal is bool(theirs["getReversalIndicator"])
    booked = theirs.get("getBookingDate")
    if booked is not None:
        assert ours.booking_date == date.fromisoformat(booked["0"][:10])
    refs = _expected_references(theirs)
    if refs["servicer"] is not None:
        assert ours.bank_transaction_id == refs["servicer"]
    if refs["entry_ref"] is not None:
        assert ("NtryRef", refs["entry_ref"]) in ours.references
    if refs["batch_payment"] is not None:
        assert ("BtchPmtInfId", refs["batch_payment"]) in ours.references
    assert ours.end_to_end_id == refs["end_to_end"]
    if refs["instruction"] is not None:
        assert ("InstrId", refs["instruction"]) in ours.references
    if refs["payment_info"] is not None:
        assert ("PmtInfId", refs["payment_info"]) in ours.references
    if refs["uetr"] is not None:
        assert ("UETR", refs["uetr"]) in ours.references
    for pair in refs["proprietary"]:
        assert tuple(pair) in ours.references


def _assert_balances_match(ours: Statement, record: dict[str, Any]) -> None:
    theirs = Counter(
        (
            int(b["getAmount"]["getAmount"]),
            b["getAmount"]["getCurrency"]["getCode"],
            b["getDate"]["0"][:10],
        )
        for b in record.get("getBalances") or []
    )
    got = Counter((b.amount_fen, b.currency, b.on.isoformat()) for b in ours.balances)
    assert got == theirs


@pytest.mark.parametrize("name", GENKGO_WITH_JSON)
def test_genkgo_files_agree_with_their_expected_parse(
    adapter: Iso20022Adapter, samples_dir: Path, name: str
) -> None:
    xml = samples_dir / "iso20022" / "genkgo" / name
    dump = json.loads(xml.with_suffix(".json").read_text(encoding="utf-8"))
    statements = {s.statement_id: s for s in adapter.parse_statements(xml.read_bytes())}
    expected = _json_entries(dump)
    assert expected, "every genkgo dump lists entries"
    by_record: dict[str, list[dict[str, Any]]] = {}
    for entry in expected:
        by_record.setdefault(_record_id(entry), []).append(entry)
    for record_id, entries in by_record.items():
        ours = statements[record_id]
        # The dump lists the entries of the statements it names; each must match ours.
        assert len(ours.entries) == len(entries)
        for got, want in zip(ours.entries, entries, strict=True):
            _assert_entry_matches(got, want)
        _assert_balances_match(ours, entries[0]["getRecord"])


def test_genkgo_five_decimal_amounts_keep_exact_minor_units(
    adapter: Iso20022Adapter, samples_dir: Path
) -> None:
    (statement,) = adapter.parse_statements(
        _read(samples_dir, "genkgo/camt053.v2.five.decimals.xml")
    )
    assert statement.opening_balance_fen == 1815  # written 18.150
    assert [e.amount_fen for e in statement.entries] == [885]  # written 8.850


def test_balances_keep_their_own_currency_exponent(
    adapter: Iso20022Adapter, samples_dir: Path
) -> None:
    (statement,) = adapter.parse_statements(_read(samples_dir, "genkgo/camt053.v2.minimal.xml"))
    by_kind = {b.kind: b for b in statement.balances}
    assert (by_kind["available"].amount_fen, by_kind["available"].currency) == (-2700, "JPY")
    assert (by_kind["closing"].amount_fen, by_kind["closing"].currency) == (-2700, "SEK")


# --- OCA test files -----------------------------------------------------------------------


def test_oca_status_report_yields_four_rejections_from_both_blocks(
    adapter: Iso20022Adapter, samples_dir: Path
) -> None:
    result = adapter.parse_result(_read(samples_dir, "oca/test-sepa-pain-unpaid.xml"))
    assert result.message_id == "MSGID99345678912"
    assert result.original_message_id == "MSGID12345678912"
    assert [(r.end_to_end_id, r.status, r.reason_code) for r in result.results] == [
        ("E2EID1", ResultStatus.REJECTED, "AC01"),
        ("E2EID2", ResultStatus.REJECTED, "MS02"),
        ("E2EID3", ResultStatus.REJECTED, "MD06"),
        ("E2EID4", ResultStatus.REJECTED, "AM04"),
    ]
    assert result.results[0].reason_text == "ACC NUMBER INVALID"
    assert all(
        r.settled_amount_fen == 0 and r.requested_amount_fen == 10000 for r in result.results
    )


def test_oca_reversed_batch_entry_returned_ac06(
    adapter: Iso20022Adapter, samples_dir: Path
) -> None:
    (statement,) = adapter.parse_statements(_read(samples_dir, "oca/test-camt053.xml"))
    reversed_ = [e for e in statement.entries if e.reversal]
    assert [(e.amount_fen, e.end_to_end_id, e.return_reason_code) for e in reversed_] == [
        (56405, "TESTBANK/NL/20141229/01206408", "AC06"),
        (10000, "TESTBANK/NL/20141229/01206407", "AC06"),
    ]
    assert all(e.credit_debit is CreditDebit.DEBIT for e in reversed_)
    assert all(("BtchPmtInfId", "2018/125-20141229-NORM") in e.references for e in reversed_)
    # The batch entry of 664.05 became its two transactions, which add up to it.
    assert sum(e.amount_fen for e in reversed_) == 66405
    assert len(statement.entries) == 4  # three Ntry, one of them split in two


def test_oca_batch_entry_without_matching_amounts_stays_one_entry(
    adapter: Iso20022Adapter, samples_dir: Path
) -> None:
    (notification,) = adapter.parse_statements(_read(samples_dir, "genkgo/camt054.v4.xml"))
    (entry,) = notification.entries  # 3 TxDtls in CHF under a SEK entry: not split
    assert (entry.amount_fen, entry.currency) == (20000000, "SEK")
    assert [v for k, v in entry.references if k == "InstrId"] == [
        "UXC06170000006PI00001II00001",
        "UXC06170000006PI00001II00002",
        "UXC06170000006PI00001II00002",
    ]


def test_oca_statement_without_entries_keeps_its_balances(
    adapter: Iso20022Adapter, samples_dir: Path
) -> None:
    (statement,) = adapter.parse_statements(_read(samples_dir, "oca/test-camt053-no-ntry.xml"))
    assert statement.entries == ()
    assert statement.opening_balance_fen == statement.closing_balance_fen == 152076
    assert statement.currency == "CHF"


def test_oca_return_notification_keeps_return_reason(
    adapter: Iso20022Adapter, samples_dir: Path
) -> None:
    (notification,) = adapter.parse_statements(_read(samples_dir, "oca/test-sepa-camt-unpaid.xml"))
    assert notification.kind is FileKind.NOTIFICATION
    (entry,) = notification.entries
    assert (entry.end_to_end_id, entry.return_reason_code, entry.amount_fen) == (
        "E2EID1",
        "AC06",
        10000,
    )


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_broken_sample_files_are_refused_with_the_element_named(
    adapter: Iso20022Adapter, samples_dir: Path, name: str
) -> None:
    folder = "genkgo" if name.startswith("camt053") else "oca"
    data = _read(samples_dir, f"{folder}/{name}")
    parse = adapter.parse_result if "pain" in name else adapter.parse_statements
    with pytest.raises(FileFormatError) as caught:
        parse(data)
    assert caught.value.location is not None
    assert caught.value.location.startswith("/Document")
    if "invalid" in name:
        assert caught.value.field == "xmlns"
        assert "other." in str(caught.value.value)


@pytest.mark.parametrize("relative", ALL_FILES)
def test_the_shipped_adapter_refuses_every_foreign_currency_sample(
    samples_dir: Path, relative: str
) -> None:
    data = _read(samples_dir, relative)
    name = Path(relative).name
    if name in REFUSED:
        return
    cny_only = Iso20022Adapter()
    parse = cny_only.parse_result if "pain" in name else cny_only.parse_statements
    with pytest.raises(FileFormatError) as caught:
        parse(data)
    error = caught.value
    assert error.field == "Ccy"
    assert error.value != "CNY"
    assert error.location is not None
    assert error.location.startswith("/Document/")
    assert error.location.endswith(("/Amt", "/InstdAmt", "/Acct/Ccy"))
    assert "CNY" in error.reason
