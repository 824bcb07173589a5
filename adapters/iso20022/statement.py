"""Statements and notifications: camt.053 and camt.054 read from .02 through .13 (streamed),
camt.053.001.08 written (validated against its official schema).

Reading rules (documented here because reconciliation depends on them):

- Only booked entries (``Sts`` ``BOOK``, as text or ``Sts/Cd``) become ``StatementEntry``
  records; pending and information-only entries have not moved money.
- A batch entry (one ``Ntry`` with several ``TxDtls``) is split into one record per
  ``TxDtls`` when every ``TxDtls`` carries its own amount (``TxDtls/Amt``,
  ``AmtDtls/TxAmt/Amt`` or ``AmtDtls/InstdAmt/Amt``) in the entry's currency and those
  amounts, signed by their own or the entry's ``CdtDbtInd``, add up exactly to the entry.
  Otherwise the entry stays one record, carrying the first ``TxDtls``'s parties, end-to-end
  id and text and the references of all of them. Either way the statement's sum is kept.
- Counterparty: the debtor side for credits, the creditor side for debits (parties with or
  without ``Pty``). The own-side account (creditor account of a credit, debtor account of a
  debit), when given and different from the statement's account, is the entry's
  sub-account.
- Booking date: ``BookgDt/Dt`` or the date of ``BookgDt/DtTm`` as the bank wrote it; when a
  notification gives none, the value date, then the statement's or message's creation date.
- Channel: an explicit ``TechInptChanl/Prtry`` naming one of ours, else from the bank
  transaction code: family ``CNTR`` or sub-family ``CDPT``/``CWDL``/``BCDP``/``BCWD`` is
  cash, ``CHRG``/fee sub-families are fees, ``INTR`` interest, other ``PMNT`` codes transfers,
  anything else (proprietary-only codes, none) other.
- Balances keep their sign from ``CdtDbtInd``; ``OPBD`` (or ``PRCD``) is the opening and
  ``CLBD`` the closing balance. A balance whose ``SubTp/Prtry`` names an account is that
  sub-account's balance.
- Money is CNY only: an account (``Acct/Ccy``), entry, balance or ``TxDtls`` amount
  (``Amt``, ``AmtDtls/TxAmt/Amt``, ``AmtDtls/InstdAmt/Amt``) in any other currency refuses
  the file (a reader built with ``currency=None`` reads any ISO 4217 currency, for other
  projects' sample files). An entry amount of zero is refused (balances may be zero), and so
  is any amount, balance or control total above ``MAX_AMOUNT_FEN``.
- ``TxsSummry`` control totals, when given, must match the statement's ``Ntry`` elements
  (booked or not): ``TtlNtries/NbOfNtries`` and ``Sum`` (amounts without sign),
  ``TtlNtries/TtlNetNtry`` (or ``.02``'s ``TtlNetNtryAmt``, credits less debits, signed by
  ``CdtDbtInd``), ``TtlCdtNtries`` and ``TtlDbtNtries`` (``NbOfNtries``, ``Sum``). Sums are in
  the statement's currency. Entries are counted as they stream past (they are cleared once
  read), so the summary may come before them, as the schema puts it, or after.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from lxml import etree

from adapters.errors import ControlTotalError, FileFormatError, RenderError
from adapters.iso20022.accounts import is_iban
from adapters.iso20022.initiation import format_amount, text_lines
from adapters.iso20022.messages import NOTIFICATION, STATEMENT, expect_root
from adapters.iso20022.schemas import Schemas
from adapters.iso20022.xmlread import (
    SAFE_PARSER_OPTIONS,
    Flat,
    Reader,
    Stops,
    Table,
    check_currency,
    minor_exponent,
    pull,
    sniff_root,
    syntax_error,
    to_minor,
    walker,
)
from adapters.records import (
    CURRENCY,
    MAX_AMOUNT_FEN,
    Balance,
    Channel,
    CreditDebit,
    FileKind,
    Statement,
    StatementEntry,
    SubAccountBalance,
    positional_constructor,
)

RENDER_VERSION = 8
RENDER_NAME = "camt.053.001.08"
_DOMAIN_CODE = re.compile(r"^[A-Z]{4}/[A-Z]{4}/[A-Z]{4}$")
_CASH_SUBFAMILIES = frozenset({"CDPT", "CWDL", "BCDP", "BCWD"})
_FEE_SUBFAMILIES = frozenset({"CHRG", "FEES", "COMM", "COME", "COMI", "COMT", "SUBS"})
_CHANNELS = {c.value: c for c in Channel}
_BALANCE_KINDS = {"OPBD": "opening", "CLBD": "closing", "ITBD": "interim", "CLAV": "available"}
_BALANCE_CODES = {kind: code for code, kind in _BALANCE_KINDS.items()}
# TransactionReferences elements, in schema order.
_REFERENCE_KINDS = (
    "MsgId",
    "AcctSvcrRef",
    "PmtInfId",
    "InstrId",
    "EndToEndId",
    "UETR",
    "TxId",
    "MndtId",
    "ChqNb",
    "ClrSysRef",
    "AcctOwnrTxId",
    "AcctSvcrTxId",
    "MktInfrstrctrTxId",
    "PrcgId",
)
_NOT_PROVIDED = "NOTPROVIDED"
# Statements are streamed with whitespace-only text between elements left out: no reader
# looks at it (texts are stripped, names are leaves), and libxml2 then builds a third fewer
# nodes. Whitespace that is an element's whole content, or that sits beside text, is kept.
_STREAM_OPTIONS = SAFE_PARSER_OPTIONS | {"remove_blank_text": True}
_PAUSE_GC_BYTES = 1 << 20
_MAX_DIGITS = 30  # as many integer digits as ``to_minor`` accepts
_COUNT = re.compile(r"^[0-9]{1,15}$")  # Max15NumericText
# TxDtls amounts whose currency is checked (those a batch entry is split by).
_DETAIL_AMOUNTS = ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")
_DETAIL_CURRENCIES = tuple(f"{path}/@Ccy" for path in _DETAIL_AMOUNTS)


def classify(code: str) -> Channel:
    """The channel a bank transaction code stands for."""
    if not _DOMAIN_CODE.match(code):
        return Channel.OTHER
    domain, family, subfamily = code.split("/")
    if family == "CNTR" or subfamily in _CASH_SUBFAMILIES:
        return Channel.CASH
    if family == "CHRG" or subfamily in _FEE_SUBFAMILIES:
        return Channel.FEE
    if family == "INTR" or subfamily == "INTR":
        return Channel.INTEREST
    if domain == "PMNT":
        return Channel.TRANSFER
    return Channel.OTHER


# --------------------------------------------------------------------------- reading


@dataclass
class _Header:
    statement_id: str
    account: str
    currency: str | None
    account_name: str | None
    sub_account: str | None
    created_at: datetime | None
    from_date: date | None
    to_date: date | None
    balances: list[Balance] = field(default_factory=list)
    opening: int | None = None
    closing: int | None = None
    sub_balances: list[SubAccountBalance] = field(default_factory=list)
    summary: list[_Declared] | None = None  # None: no TxsSummry seen (yet)


@dataclass(frozen=True, slots=True)
class _Declared:
    """One control total of a statement's ``TxsSummry``, as written."""

    measure: str  # count, sum, net, credit_count, credit_sum, debit_count or debit_sum
    text: str
    location: str
    field: str
    sign: int = 1  # the net total's CdtDbtInd


_MEASURES = {
    "count": "number of entries",
    "sum": "sum of entries",
    "net": "net sum of entries (credits less debits)",
    "credit_count": "number of credit entries",
    "credit_sum": "sum of credit entries",
    "debit_count": "number of debit entries",
    "debit_sum": "sum of debit entries",
}


class StatementReader:
    """Streams camt.053/camt.054: beyond the file's bytes and the records it yields, memory
    holds one entry's elements at a time (each is cleared once read).

    ``currency`` is the one currency every amount must be in (CNY); None reads any ISO 4217
    currency, for other projects' sample files.
    """

    def __init__(self, *, currency: str | None = CURRENCY) -> None:
        self.currency = currency

    def parse(self, data: bytes) -> tuple[Statement, ...]:
        if not isinstance(data, bytes | bytearray):
            raise FileFormatError("file content must be bytes", value=type(data).__name__)
        data = bytes(data)
        # A large statement makes the cyclic garbage collector scan its growing list of
        # records again and again; records cannot form cycles, so collection waits until
        # the statement is read.
        paused = len(data) > _PAUSE_GC_BYTES and gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._parse(data)
        finally:
            if paused:
                gc.enable()

    def _parse(self, data: bytes) -> tuple[Statement, ...]:
        root = sniff_root(data)
        message, _, ns = expect_root(root, STATEMENT, NOTIFICATION)
        kind = message.kind
        record_tag = "Stmt" if message is STATEMENT else "Ntfctn"
        body_path = f"/Document/{message.root}"
        q_entry, q_record, q_header = (f"{{{ns}}}{t}" for t in ("Ntry", record_tag, "GrpHdr"))
        q_body = f"{{{ns}}}{message.root}"
        reader = _EntryReader(ns, self.currency)
        walk = reader.walker.walk
        # Only start tags raise events: lxml hands each event over holding the interpreter
        # lock, and asking for end tags as well would take it twice per element of the file.
        # An element is known to be whole once a later start tag outside it is met (or the
        # file ends), and is then read as it would be at its end tag, innermost first.
        parser = etree.XMLPullParser(
            events=("start",), tag=(q_entry, q_record, q_header), **_STREAM_OPTIONS
        )
        statements: list[Statement] = []
        entries: list[StatementEntry] = []
        header: _Header | None = None
        message_created: datetime | None = None
        record_index = 0
        entry_index = 0
        record_path = ""

        def finish(element: etree._Element) -> None:
            """What the end tag of ``element`` (a GrpHdr, Ntry or record) completes."""
            nonlocal header, message_created, record_index, entry_index, entries, record_path
            tag = element.tag
            parent = element.getparent()
            if parent is None:
                return
            if tag == q_entry and parent.tag == q_record:
                if header is None:
                    record_path = f"{body_path}/{record_tag}[{record_index + 1}]"
                    header = self._header(Reader(ns, parent, record_path), parent)
                entry_index += 1
                entries.extend(
                    reader.read(
                        walk(element),
                        record_path,
                        entry_index,
                        header,
                        header.created_at or message_created,
                    )
                )
            elif tag == q_header and parent.tag == q_body:
                group = Reader(ns, element, f"{body_path}/GrpHdr")
                message_created = group.datetime_at(element, "CreDtTm")
            elif tag == q_record and parent.tag == q_body:
                record_index += 1
                record_path = f"{body_path}/{record_tag}[{record_index}]"
                if header is None:
                    header = self._header(Reader(ns, element, record_path), element)
                elif header.summary is None:  # a TxsSummry after the entries
                    header.summary = self._summary(Reader(ns, element, record_path), element)
                statement = self._statement(header, entries, kind)
                self._check_summary(header.summary, reader, statement.currency)
                statements.append(statement)
                header, entries, entry_index = None, [], 0
                reader.restart()
            else:
                return
            element.clear()
            while element.getprevious() is not None:
                del parent[0]

        # Elements started and not yet known to be whole, each inside the one before it.
        open_: list[etree._Element] = []
        try:
            for _, element in pull(data, parser):
                if open_:
                    # Those not enclosing this element have ended: finish them, innermost
                    # first, as their end tags came.
                    keep = 0
                    node = element.getparent()
                    while node is not None and not keep:
                        for at in range(len(open_) - 1, -1, -1):
                            if open_[at] is node:
                                keep = at + 1
                                break
                        node = node.getparent()
                    while len(open_) > keep:
                        finish(open_.pop())
                open_.append(element)
            while open_:
                finish(open_.pop())
        except etree.LxmlError as exc:
            raise syntax_error(exc) from exc
        if not statements:
            raise FileFormatError(
                f"file holds no {record_tag} (no statement or notification)",
                location=body_path,
                field=record_tag,
            )
        return tuple(statements)

    def _statement(
        self, header: _Header, entries: list[StatementEntry], kind: FileKind
    ) -> Statement:
        currency = header.currency
        if currency is None:
            currency = next((b.currency for b in header.balances), None)
        if currency is None:
            currency = next((e.currency for e in entries), "XXX")
        return Statement(
            statement_id=header.statement_id,
            account=header.account,
            created_at=header.created_at,
            from_date=header.from_date,
            to_date=header.to_date,
            entries=tuple(entries),
            currency=currency,
            account_name=header.account_name,
            sub_account=header.sub_account,
            opening_balance_fen=header.opening,
            closing_balance_fen=header.closing,
            balances=tuple(header.balances),
            kind=kind,
            sub_account_balances=tuple(header.sub_balances),
        )

    def _header(self, r: Reader, record: etree._Element) -> _Header:
        statement_id = r.require(record, "Id")
        own = r.first_text(record, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
        if own is None:
            raise FileFormatError(
                "statement has no account identification",
                location=r.where_path(record, "Acct/Id"),
                field="Acct",
            )
        parent = r.first_text(record, "RltdAcct/Id/IBAN", "RltdAcct/Id/Othr/Id")
        from_stamp = r.datetime_at(record, "FrToDt/FrDtTm")
        to_stamp = r.datetime_at(record, "FrToDt/ToDtTm")
        header = _Header(
            statement_id=statement_id,
            account=parent or own,
            currency=r.text(record, "Acct/Ccy"),
            account_name=r.raw_text(record, "Acct/Nm"),
            sub_account=own if parent else None,
            created_at=r.datetime_at(record, "CreDtTm"),
            from_date=from_stamp.date() if from_stamp else None,
            to_date=to_stamp.date() if to_stamp else None,
        )
        if (
            header.currency is not None
            and self.currency is not None
            and header.currency != self.currency
        ):
            raise FileFormatError(
                f"statement account is not in {self.currency} (money here is {self.currency} only)",
                location=r.where_path(record, "Acct/Ccy"),
                field="Ccy",
                value=header.currency,
            )
        header.summary = self._summary(r, record)
        pending: dict[str, dict[str, int]] = {}
        for balance in r.findall(record, "Bal"):
            code = r.first_text(balance, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
            if code is None:
                raise FileFormatError(
                    "balance has no type", location=r.where_path(balance, "Tp"), field="Tp"
                )
            found = r.amount(balance, "Amt", only=self.currency)
            if found is None:
                raise FileFormatError(
                    "balance has no amount", location=r.where_path(balance, "Amt"), field="Amt"
                )
            on = r.date_choice(balance, "Dt")
            if on is None:
                raise FileFormatError(
                    "balance has no date", location=r.where_path(balance, "Dt"), field="Dt"
                )
            signed = found[0] * self._sign(r, balance)
            sub_account = r.text(balance, "Tp/SubTp/Prtry")
            if sub_account is not None and code in ("OPBD", "CLBD"):
                pending.setdefault(sub_account, {})[code] = signed
                continue
            header.balances.append(
                Balance(
                    amount_fen=signed,
                    on=on,
                    kind=_BALANCE_KINDS.get(code, code.lower()),
                    currency=found[1],
                )
            )
            if code == "OPBD" or (code == "PRCD" and header.opening is None):
                header.opening = signed
            elif code == "CLBD":
                header.closing = signed
        for sub_account, amounts in pending.items():
            if "OPBD" not in amounts or "CLBD" not in amounts:
                raise FileFormatError(
                    "sub-account balance needs both OPBD and CLBD",
                    location=r.where(record) + "/Bal",
                    field="SubTp/Prtry",
                    value=sub_account,
                )
            header.sub_balances.append(
                SubAccountBalance(sub_account, amounts["OPBD"], amounts["CLBD"])
            )
        return header

    def _sign(self, r: Reader, parent: etree._Element) -> int:
        indicator = r.require(parent, "CdtDbtInd")
        return _sign_of(indicator, r.where_path(parent, "CdtDbtInd"))

    def _summary(self, r: Reader, record: etree._Element) -> list[_Declared] | None:
        """The control totals of the record's ``TxsSummry`` (None when it has none)."""
        summary = r.find(record, "TxsSummry")
        if summary is None:
            return None
        declared: list[_Declared] = []
        groups = (("TtlNtries", ""), ("TtlCdtNtries", "credit_"), ("TtlDbtNtries", "debit_"))
        for group, prefix in groups:
            totals = r.find(summary, group)
            if totals is None:
                continue
            for name, measure in (("NbOfNtries", "count"), ("Sum", "sum")):
                text = r.text(totals, name)
                if text is not None:
                    location = r.where_path(totals, name)
                    declared.append(_Declared(prefix + measure, text, location, name))
            if group != "TtlNtries":
                continue
            for amount_path, indicator_path in (
                ("TtlNetNtry/Amt", "TtlNetNtry/CdtDbtInd"),  # .03 and later
                ("TtlNetNtryAmt", "CdtDbtInd"),  # .02
            ):
                text = r.text(totals, amount_path)
                if text is None:
                    continue
                sign = _sign_of(
                    r.require(totals, indicator_path), r.where_path(totals, indicator_path)
                )
                location = r.where_path(totals, amount_path)
                declared.append(
                    _Declared("net", text, location, amount_path.rpartition("/")[2], sign)
                )
        return declared

    def _check_summary(
        self, declared: list[_Declared] | None, reader: _EntryReader, currency: str
    ) -> None:
        """Refuse the file when a declared control total differs from the entries read."""
        if not declared:
            return
        try:
            exponent = minor_exponent(self.currency or currency)
        except FileFormatError:  # no currency anywhere (any-currency reading only)
            exponent = 2
        credits, debits = reader.credits, reader.debits
        credit_fen, debit_fen = reader.credit_fen, reader.debit_fen
        actual = {
            "count": credits + debits,
            "sum": credit_fen + debit_fen,
            "net": credit_fen - debit_fen,
            "credit_count": credits,
            "credit_sum": credit_fen,
            "debit_count": debits,
            "debit_sum": debit_fen,
        }
        for item in declared:
            expected = actual[item.measure]
            if item.measure.endswith("count"):
                if not _COUNT.match(item.text):
                    raise FileFormatError(
                        "not a number of entries (1 to 15 digits)",
                        location=item.location,
                        field=item.field,
                        value=item.text,
                    )
                value = int(item.text)
                shown = str(expected)
            else:
                value = item.sign * to_minor(
                    item.text, exponent, location=item.location, field=item.field
                )
                shown = _decimal_text(expected, exponent)
            if value != expected:
                raise ControlTotalError(
                    f"declared {_MEASURES[item.measure]} differs from the statement's entries "
                    f"({shown})",
                    location=item.location,
                    field=item.field,
                    value=item.text,
                )


_DETAILS = "NtryDtls/TxDtls"
_PROPRIETARY_REFERENCES = "Refs/Prtry"
# Entries are read as tables (see ``xmlread.Table``); each TxDtls is a table of its own, and
# so is each proprietary reference within it (its Tp and Ref belong together).
_ENTRY_STOPS: Stops = {_DETAILS: {_PROPRIETARY_REFERENCES: {}}}


def _decimal_text(minor: int, exponent: int) -> str:
    """Signed minor units as decimal text: ``-12345``, 2 -> ``-123.45``."""
    whole, part = divmod(abs(minor), 10**exponent)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{part:0{exponent}d}" if exponent else f"{sign}{whole}"


def _sign_of(indicator: str, location: str) -> int:
    if indicator == "CRDT":
        return 1
    if indicator == "DBIT":
        return -1
    raise FileFormatError(
        "credit/debit indicator must be CRDT or DBIT",
        location=location,
        field="CdtDbtInd",
        value=indicator,
    )


def _direction(flat: Flat, path: str, *, required: bool) -> CreditDebit | None:
    indicator = flat.require(path) if required else flat.text(path)
    if indicator is None:
        return None
    sign = _sign_of(indicator, flat.where(path))
    return CreditDebit.CREDIT if sign > 0 else CreditDebit.DEBIT


def _channel(explicit: str | None, code: str) -> Channel:
    if explicit is not None and explicit in _CHANNELS:
        return _CHANNELS[explicit]
    return classify(code)


def _code(flat: Flat) -> str:
    domain = flat.text("BkTxCd/Domn/Cd")
    if domain is not None:
        family = flat.text("BkTxCd/Domn/Fmly/Cd") or ""
        subfamily = flat.text("BkTxCd/Domn/Fmly/SubFmlyCd") or ""
        return f"{domain}/{family}/{subfamily}"
    return flat.text("BkTxCd/Prtry/Cd") or ""


def _split(
    details: list[Flat], amount: int, currency: str, direction: CreditDebit
) -> list[tuple[int, CreditDebit]] | None:
    """Per-TxDtls amounts when they add up exactly to the entry, else None."""
    parts: list[tuple[int, CreditDebit]] = []
    for detail in details:
        found = (
            detail.amount("Amt")
            or detail.amount("AmtDtls/TxAmt/Amt")
            or detail.amount("AmtDtls/InstdAmt/Amt")
        )
        if found is None or found[1] != currency or found[0] == 0:
            return None  # a part in another currency or of zero: the entry stays whole
        parts.append((found[0], _direction(detail, "CdtDbtInd", required=False) or direction))
    sign = 1 if direction is CreditDebit.CREDIT else -1
    total = sum(a if d is CreditDebit.CREDIT else -a for a, d in parts)
    return parts if total == sign * amount else None


# StatementEntry is built positionally on the hot path; this is the order that assumes.
_ENTRY_ORDER = (
    "booking_date",
    "amount_fen",
    "credit_debit",
    "currency",
    "bank_transaction_id",
    "value_date",
    "reversal",
    "channel",
    "bank_transaction_code",
    "counterparty_account",
    "counterparty_name",
    "end_to_end_id",
    "references",
    "remittance",
    "sub_account",
    "return_reason_code",
)
_new_entry = positional_constructor(StatementEntry, expected_order=_ENTRY_ORDER)

_REFERENCE_PATHS = tuple((kind, f"Refs/{kind}") for kind in _REFERENCE_KINDS)
_REVERSAL_TEXTS = (None, "true", "false", "1", "0")
_DIRECTIONS = {"CRDT": CreditDebit.CREDIT, "DBIT": CreditDebit.DEBIT}
_CREDITOR_REFERENCE = "RmtInf/Strd/CdtrRefInf/Ref"


@dataclass(frozen=True)
class _Sides:
    """Where a TxDtls names the counterparty and the own account, for one direction."""

    names: tuple[str, str]  # the counterparty's name, with and without Pty
    agents: tuple[str, str, str]  # else its agent's name or BIC
    counter_accounts: tuple[str, str]
    own_accounts: tuple[str, str]

    @classmethod
    def of(cls, counter: str, own: str) -> _Sides:
        parties = "RltdPties"
        agent = f"{parties}/{counter}/Agt/FinInstnId"
        return cls(
            names=(f"{parties}/{counter}/Pty/Nm", f"{parties}/{counter}/Nm"),
            agents=(f"{agent}/Nm", f"{agent}/BICFI", f"{agent}/BIC"),
            counter_accounts=(
                f"{parties}/{counter}Acct/Id/IBAN",
                f"{parties}/{counter}Acct/Id/Othr/Id",
            ),
            own_accounts=(f"{parties}/{own}Acct/Id/IBAN", f"{parties}/{own}Acct/Id/Othr/Id"),
        )


_CREDIT_SIDES = _Sides.of("Dbtr", "Cdtr")
_DEBIT_SIDES = _Sides.of("Cdtr", "Dbtr")


class _EntryReader:
    """Turns statement entries into records, with the lookups one parse repeats cached.

    Dates, currencies' minor units and channels repeat from entry to entry; each distinct
    text is converted once per parse (the caches live and die with this reader). Only the
    allowed currency (``currency``; any when None) ever enters the exponent cache, so an
    entry in another currency always takes the general path, which refuses it.

    The entries of the current statement are counted and summed by direction as they are
    read, booked or not (``credits``, ``credit_fen``...), for its ``TxsSummry``;
    ``restart`` starts the next statement's.
    """

    def __init__(self, namespace: str, currency: str | None = CURRENCY) -> None:
        self.walker = walker(namespace, _ENTRY_STOPS)
        self.currency = currency
        self.credits = self.debits = self.credit_fen = self.debit_fen = 0
        self._days: dict[str, date] = {}
        self._exponents: dict[str, int] = {}
        self._channels: dict[tuple[str | None, str], Channel] = {}
        self._codes: dict[tuple[str | None, ...], tuple[str, Channel]] = {}

    def restart(self) -> None:
        """Start counting the next statement's entries."""
        self.credits = self.debits = self.credit_fen = self.debit_fen = 0

    def _amount(self, flat: Flat, path: str) -> tuple[int, str] | None:
        first = flat.first
        if path not in first:
            return None
        text = first[path] or ""
        currency = first.get(f"{path}/@Ccy")
        exponent = None if currency is None else self._exponents.get(currency)
        if currency is None or exponent is None:
            found = flat.amount(path, only=self.currency)  # names the problem, if any
            if found is not None:
                self._exponents[found[1]] = minor_exponent(found[1])
            return found
        raw = text.strip()
        whole, dot, fraction = raw.partition(".")
        if (
            raw.isascii()
            and whole.isdigit()
            and len(whole) <= _MAX_DIGITS
            and (not dot or (fraction.isdigit() and len(fraction) <= exponent))
        ):
            # The usual plain decimal within the currency's minor unit and the bound;
            # anything else (trailing zeros past it, refusals) goes through ``to_minor``.
            minor = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
            if minor <= MAX_AMOUNT_FEN:
                return minor, currency
        try:
            return to_minor(text, exponent, location=None, field="Amt"), currency
        except FileFormatError:
            return flat.amount(path)  # the same refusal, naming where it happened

    def _check_detail_currencies(self, flat: Flat) -> None:
        """Refuse a TxDtls amount (those an entry is split by) in another currency."""
        only = self.currency
        if only is None:
            return
        for detail in flat.tables(_DETAILS):
            for path in _DETAIL_AMOUNTS:
                found = detail.first.get(f"{path}/@Ccy")
                if found is not None:
                    check_currency(found, only, location=detail.where(path))

    def _date(self, flat: Flat, path: str, day_path: str) -> date | None:
        """``Flat.date_choice`` with the ``Dt`` texts already seen answered from the cache."""
        text = flat.text(day_path)
        if text is not None:
            found = self._days.get(text)
            if found is not None:
                return found
        found = flat.date_choice(path)
        if text is not None and found is not None:
            self._days[text] = found
        return found

    def _channel(self, explicit: str | None, code: str) -> Channel:
        key = (explicit, code)
        found = self._channels.get(key)
        if found is None:
            found = self._channels[key] = _channel(explicit, code)
        return found

    def _code_and_channel(self, flat: Flat) -> tuple[str, Channel]:
        """The entry's bank transaction code and channel, converted once per distinct set of
        texts: the key is the raw texts, used only when a domain code is given (the
        proprietary code is read only when it is not)."""
        get = flat.first.get
        key = (
            get("BkTxCd/Domn/Cd"),
            get("BkTxCd/Domn/Fmly/Cd"),
            get("BkTxCd/Domn/Fmly/SubFmlyCd"),
            get("TechInptChanl/Prtry"),
        )
        found = self._codes.get(key)
        if found is None:
            code = _code(flat)
            found = (code, self._channel(flat.text("TechInptChanl/Prtry"), code))
            if flat.text("BkTxCd/Domn/Cd") is not None:
                self._codes[key] = found
        return found

    def read(
        self,
        table: Table,
        record_path: str,
        index: int,
        header: _Header,
        fallback: datetime | None,
    ) -> list[StatementEntry]:
        """The records of entry ``index`` of the statement at ``record_path``.

        The usual entry is read here straight from its table: a plain amount in a currency
        already seen, ``CRDT``/``DBIT``, ``Sts/Cd`` ``BOOK``, dates and codes already
        converted (texts as they were seen before, so no blanks around them), at most one
        ``TxDtls`` without return information, proprietary or creditor references. Any other
        entry, and any entry that is refused, goes through ``read_entry``, which reads every
        case and names the problem; both give the same records.
        """
        first, _, subs = table
        get = first.get
        text = get("Amt")
        exponent = self._exponents.get(get("Amt/@Ccy"))  # type: ignore[arg-type]
        direction = _DIRECTIONS.get(get("CdtDbtInd"))  # type: ignore[arg-type]
        days = self._days
        booking = days.get(get("BookgDt/Dt"))  # type: ignore[arg-type]
        codes = self._codes.get(
            (
                get("BkTxCd/Domn/Cd"),
                get("BkTxCd/Domn/Fmly/Cd"),
                get("BkTxCd/Domn/Fmly/SubFmlyCd"),
                get("TechInptChanl/Prtry"),
            )
        )
        details = None if subs is None else subs.get(_DETAILS)
        if (
            text is None
            or exponent is None
            or direction is None
            or booking is None
            or codes is None
            or get("Sts/Cd") != "BOOK"
            or "RvslInd" in first
            or "NtryDtls/Btch" in first
            or (details is not None and len(details) > 1)
        ):
            return self._general(table, record_path, index, header, fallback)
        whole, dot, fraction = text.partition(".")
        if not (
            text.isascii()
            and whole.isdigit()
            and len(whole) <= _MAX_DIGITS
            and (not dot or (fraction.isdigit() and len(fraction) <= exponent))
        ):
            return self._general(table, record_path, index, header, fallback)
        value_text = get("ValDt/Dt")
        if value_text is None:
            if "ValDt" in first:
                return self._general(table, record_path, index, header, fallback)
            value_date = None
        else:
            value_date = days.get(value_text)
            if value_date is None:
                return self._general(table, record_path, index, header, fallback)
        amount = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
        if not 0 < amount <= MAX_AMOUNT_FEN:
            return self._general(table, record_path, index, header, fallback)
        references: list[tuple[str, str]] = []
        entry_ref = get("NtryRef")
        if entry_ref:
            entry_ref = entry_ref.strip()
            if entry_ref:
                references.append(("NtryRef", entry_ref))
        servicer = get("AcctSvcrRef")
        servicer = (servicer.strip() or None) if servicer else None
        code, channel = codes
        if not details:
            if direction is CreditDebit.CREDIT:
                self.credits += 1
                self.credit_fen += amount
            else:
                self.debits += 1
                self.debit_fen += amount
            return [
                _new_entry(
                    booking,
                    amount,
                    direction,
                    get("Amt/@Ccy"),
                    servicer,
                    value_date,
                    False,
                    channel,
                    code,
                    None,
                    None,
                    None,
                    tuple(references),
                    get("AddtlNtryInf") or "",
                    None,
                    None,
                )
            ]
        detail, more, below = details[0]
        if below is not None or _CREDITOR_REFERENCE in detail or "RtrInf" in detail:
            return self._general(table, record_path, index, header, fallback)
        dget = detail.get
        only = self.currency
        if only is not None:
            for path in _DETAIL_CURRENCIES:
                found = dget(path)
                if found is not None and found != only:
                    return self._general(table, record_path, index, header, fallback)
        end_to_end_id = None
        if "Refs" in detail:
            present = _REFERENCE_PATH_SET.intersection(detail)
            for path in present if len(present) < 2 else sorted(present, key=_REFERENCE_ORDER):
                value = dget(path)
                if not value:
                    continue
                value = value.strip()
                if not value:
                    continue
                kind = path[5:]  # after "Refs/"
                if kind == "EndToEndId":
                    if value != _NOT_PROVIDED:
                        end_to_end_id = value
                elif kind == "AcctSvcrRef":
                    servicer = servicer or value
                else:
                    references.append((kind, value))
        sides = _CREDIT_SIDES if direction is CreditDebit.CREDIT else _DEBIT_SIDES
        with_party, without_party = sides.names
        name = dget(with_party) or dget(without_party)
        if name is None:  # the agent's name or BIC, as ``Flat.first_text`` reads them
            for path in sides.agents:
                name = _stripped(dget(path))
                if name is not None:
                    break
        iban, other_id = sides.counter_accounts
        counterparty_account = _either(dget(iban), dget(other_id))
        iban, other_id = sides.own_accounts
        own_account = _either(dget(iban), dget(other_id))
        if own_account is not None and own_account in (header.account, header.sub_account):
            own_account = None
        if "RmtInf/Ustrd" in detail:
            pieces = [detail["RmtInf/Ustrd"] or ""]
            if more is not None and "RmtInf/Ustrd" in more:
                pieces.extend(piece or "" for piece in more["RmtInf/Ustrd"])
            remittance = "\n".join(pieces) or dget("AddtlTxInf") or get("AddtlNtryInf") or ""
        else:
            remittance = dget("AddtlTxInf") or get("AddtlNtryInf") or ""
        if direction is CreditDebit.CREDIT:
            self.credits += 1
            self.credit_fen += amount
        else:
            self.debits += 1
            self.debit_fen += amount
        return [
            _new_entry(
                booking,
                amount,
                direction,
                get("Amt/@Ccy"),
                servicer,
                value_date,
                False,
                channel,
                code,
                counterparty_account,
                name,
                end_to_end_id,
                tuple(references),
                remittance,
                own_account or None,
                None,
            )
        ]

    def _general(
        self,
        table: Table,
        record_path: str,
        index: int,
        header: _Header,
        fallback: datetime | None,
    ) -> list[StatementEntry]:
        return self.read_entry(Flat(table, record_path, f"Ntry[{index}]"), header, fallback)

    def read_entry(
        self, flat: Flat, header: _Header, fallback: datetime | None
    ) -> list[StatementEntry]:
        # The usual texts (CRDT, BOOK, dates and codes seen before, no surrounding blanks)
        # are answered straight from the table; anything else goes through ``Flat``'s reads,
        # which name the problem.
        first = flat.first
        get = first.get
        found = self._amount(flat, "Amt")
        if found is None:
            raise FileFormatError("entry has no amount", location=flat.where("Amt"), field="Amt")
        amount, currency = found
        if amount == 0:
            raise FileFormatError(
                "entry amount is zero (an entry moves money; only balances may be zero)",
                location=flat.where("Amt"),
                field="Amt",
                value=get("Amt"),
            )
        direction = _DIRECTIONS.get(get("CdtDbtInd"))  # type: ignore[arg-type]
        if direction is None:
            direction = _DIRECTIONS.get(flat.text("CdtDbtInd"))  # type: ignore[arg-type]
            if direction is None:  # missing or not CRDT/DBIT: say which
                direction = _direction(flat, "CdtDbtInd", required=True) or CreditDebit.CREDIT
        if direction is CreditDebit.CREDIT:  # counted for TxsSummry, booked or not
            self.credits += 1
            self.credit_fen += amount
        else:
            self.debits += 1
            self.debit_fen += amount
        if _DETAILS in flat.subs:
            self._check_detail_currencies(flat)
        if get("Sts/Cd") != "BOOK":
            text = flat.text
            status = text("Sts/Cd") or text("Sts/Prtry") or text("Sts")
            if status is None:
                raise FileFormatError(
                    "entry has no status", location=flat.where("Sts"), field="Sts"
                )
            if status != "BOOK":
                return []
        reversal_text = None if get("RvslInd") is None else flat.text("RvslInd")
        if reversal_text not in _REVERSAL_TEXTS:
            raise FileFormatError(
                "reversal indicator must be true or false",
                location=flat.where("RvslInd"),
                field="RvslInd",
                value=reversal_text,
            )
        days = self._days
        value_date = days.get(get("ValDt/Dt")) or self._date(flat, "ValDt", "ValDt/Dt")  # type: ignore[arg-type]
        booking = (
            days.get(get("BookgDt/Dt"))  # type: ignore[arg-type]
            or self._date(flat, "BookgDt", "BookgDt/Dt")
            or value_date
        )
        if booking is None:
            if fallback is None:
                raise FileFormatError(
                    "entry has no booking date, value date or creation date to fall back on",
                    location=flat.where("BookgDt"),
                    field="BookgDt",
                )
            booking = fallback.date()
        code, channel = self._code_and_channel(flat)
        entry_refs: list[tuple[str, str]] = []
        entry_ref = _stripped(get("NtryRef"))
        if entry_ref is not None:
            entry_refs.append(("NtryRef", entry_ref))
        if "NtryDtls/Btch" in first:
            for kind in ("MsgId", "PmtInfId"):
                for value in flat.texts(f"NtryDtls/Btch/{kind}"):
                    if value.strip():
                        entry_refs.append((f"Btch{kind}", value.strip()))
        reversal = reversal_text in ("true", "1")
        entry_servicer = _stripped(get("AcctSvcrRef"))
        tables = flat.subs.get(_DETAILS)
        if tables is not None and len(tables) > 1:
            details = flat.tables(_DETAILS)
            parts = _split(details, amount, currency, direction)
            if parts is not None:
                channel_text = flat.text("TechInptChanl/Prtry")
                records: list[StatementEntry] = []
                for detail, (part_amount, part_direction) in zip(details, parts, strict=True):
                    info = _read_detail(detail, part_direction, header)
                    tx_code = _code(detail) or code
                    records.append(
                        _new_entry(
                            booking,
                            part_amount,
                            part_direction,
                            currency,
                            info.pop_servicer() or entry_servicer,
                            value_date,
                            reversal,
                            self._channel(channel_text, tx_code),
                            tx_code,
                            info.counterparty_account,
                            info.counterparty_name,
                            info.end_to_end_id,
                            tuple(entry_refs + info.references),
                            info.remittance,
                            info.sub_account or None,
                            info.return_reason_code,
                        )
                    )
                return records
            infos = [_read_detail(detail, direction, header) for detail in details]
        elif tables:
            infos = [_read_detail(Flat(tables[0], flat.location, _FIRST_DETAIL), direction, header)]
        else:
            infos = []
        info = infos[0] if infos else _Detail()
        servicer = entry_servicer or info.pop_servicer()
        references = entry_refs
        for each in infos:
            references.extend(each.references)
        return [
            _new_entry(
                booking,
                amount,
                direction,
                currency,
                servicer,
                value_date,
                reversal,
                channel,
                code,
                info.counterparty_account,
                info.counterparty_name,
                info.end_to_end_id,
                tuple(references),
                info.remittance or flat.raw_text("AddtlNtryInf") or "",
                info.sub_account or None,
                info.return_reason_code,
            )
        ]


_FIRST_DETAIL = f"{_DETAILS}[1]"
_REFERENCE_PATH_SET = frozenset(path for _, path in _REFERENCE_PATHS)
_REFERENCE_ORDER = {path: n for n, (_, path) in enumerate(_REFERENCE_PATHS)}.__getitem__


def _stripped(value: str | None) -> str | None:
    """``Flat.text`` for a text already looked up: stripped, None when absent or empty."""
    if not value:
        return None
    return value.strip() or None


def _either(value: str | None, other: str | None) -> str | None:
    """``_stripped(value) or _stripped(other)`` in one call."""
    if value:
        value = value.strip()
        if value:
            return value
    if other:
        return other.strip() or None
    return None


def _read_detail(detail: Flat, direction: CreditDebit, header: _Header) -> _Detail:
    info = _Detail()
    first = detail.first
    get = first.get
    if "Refs" in first:
        references = info.references
        for name, path in _REFERENCE_PATHS:
            value = get(path)
            if not value:
                continue
            value = value.strip()
            if not value:
                continue
            if name == "EndToEndId":
                if value != _NOT_PROVIDED:
                    info.end_to_end_id = value
            elif name == "AcctSvcrRef":
                info.servicer = value
            else:
                references.append((name, value))
        for other in detail.tables(_PROPRIETARY_REFERENCES):
            # the last Tp and the last Ref with text, as a bank repeating them means it
            kind = next((t.strip() for t in reversed(other.texts("Tp")) if t.strip()), None)
            found = next((t.strip() for t in reversed(other.texts("Ref")) if t.strip()), None)
            if found is not None:
                references.append((kind or "Prtry", found))
    if _CREDITOR_REFERENCE in first:
        for reference in detail.texts(_CREDITOR_REFERENCE):
            if reference.strip():
                info.references.append(("CdtrRef", reference.strip()))
    sides = _CREDIT_SIDES if direction is CreditDebit.CREDIT else _DEBIT_SIDES
    with_party, without_party = sides.names
    info.counterparty_name = (
        get(with_party) or get(without_party) or detail.first_text(*sides.agents)
    )
    iban, other_id = sides.counter_accounts
    info.counterparty_account = _stripped(get(iban)) or _stripped(get(other_id))
    iban, other_id = sides.own_accounts
    own_account = _stripped(get(iban)) or _stripped(get(other_id))
    if own_account is not None and own_account not in (header.account, header.sub_account):
        info.sub_account = own_account
    pieces = detail.texts("RmtInf/Ustrd") if "RmtInf/Ustrd" in first else ()
    info.remittance = "\n".join(pieces) or get("AddtlTxInf") or ""
    if "RtrInf" in first:
        info.return_reason_code = _stripped(get("RtrInf/Rsn/Cd")) or _stripped(
            get("RtrInf/Rsn/Prtry")
        )
    return info


@dataclass(slots=True)
class _Detail:
    """What one TxDtls contributes to a statement entry."""

    end_to_end_id: str | None = None
    servicer: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    sub_account: str | None = None
    remittance: str = ""
    return_reason_code: str | None = None
    references: list[tuple[str, str]] = field(default_factory=list)

    def pop_servicer(self) -> str | None:
        value, self.servicer = self.servicer, None
        return value


# --------------------------------------------------------------------------- writing


class StatementRenderer:
    """Writes one statement as camt.053.001.08 and validates it against the official XSD."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self.ns = STATEMENT.namespace(RENDER_VERSION)

    def _q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def render(self, statement: Statement) -> bytes:
        try:
            root = self._build(statement)
        except ValueError as exc:
            raise RenderError(f"statement {statement.statement_id!r}: {exc}") from None
        tree = etree.ElementTree(root)
        self.schemas.validate(RENDER_NAME, tree)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _created(self, statement: Statement) -> datetime:
        if statement.created_at is not None:
            return statement.created_at
        day = statement.to_date or statement.from_date
        if day is None:
            raise RenderError(
                f"statement {statement.statement_id!r} has no creation time and no period"
            )
        return datetime.combine(day, time(0, 0))

    def _build(self, statement: Statement) -> etree._Element:
        q = self._q
        sub = etree.SubElement
        created = self._created(statement).isoformat()
        root = etree.Element(q("Document"), nsmap={None: self.ns})  # type: ignore[dict-item]
        body = sub(root, q(STATEMENT.root))
        header = sub(body, q("GrpHdr"))
        sub(header, q("MsgId")).text = statement.statement_id
        sub(header, q("CreDtTm")).text = created
        record = sub(body, q("Stmt"))
        sub(record, q("Id")).text = statement.statement_id
        if statement.created_at is not None:
            sub(record, q("CreDtTm")).text = created
        if statement.from_date is not None and statement.to_date is not None:
            period = sub(record, q("FrToDt"))
            sub(period, q("FrDtTm")).text = datetime.combine(
                statement.from_date, time(0, 0)
            ).isoformat()
            sub(period, q("ToDtTm")).text = datetime.combine(
                statement.to_date, time(23, 59, 59)
            ).isoformat()
        account = sub(record, q("Acct"))
        self._account_id(account, statement.sub_account or statement.account)
        sub(account, q("Ccy")).text = statement.currency
        if statement.account_name:
            sub(account, q("Nm")).text = statement.account_name
        if statement.sub_account:
            self._account_id(sub(record, q("RltdAcct")), statement.account)
        balances = self._balances(statement)
        if not balances:
            raise RenderError(
                f"statement {statement.statement_id!r} has no balance; camt.053 needs one"
            )
        for code, sub_type, amount, on, currency in balances:
            self._balance(record, code, sub_type, amount, on, currency)
        for entry in statement.entries:
            self._entry(record, entry, statement)
        return root

    def _balances(self, statement: Statement) -> list[tuple[str, str | None, int, date, str]]:
        opening_day = statement.from_date or statement.to_date or self._created(statement).date()
        closing_day = statement.to_date or opening_day
        rows: list[tuple[str, str | None, int, date, str]] = []
        kinds = {b.kind for b in statement.balances}
        if (
            statement.opening_balance_fen is not None
            and "opening" not in kinds
            and "prcd" not in kinds
        ):
            rows.append(
                ("OPBD", None, statement.opening_balance_fen, opening_day, statement.currency)
            )
        for balance in statement.balances:
            code = _BALANCE_CODES.get(balance.kind, balance.kind.upper())
            rows.append((code, None, balance.amount_fen, balance.on, balance.currency))
        if statement.closing_balance_fen is not None and "closing" not in kinds:
            rows.append(
                ("CLBD", None, statement.closing_balance_fen, closing_day, statement.currency)
            )
        for item in statement.sub_account_balances:
            rows.append(
                ("OPBD", item.sub_account, item.opening_fen, opening_day, statement.currency)
            )
            rows.append(
                ("CLBD", item.sub_account, item.closing_fen, closing_day, statement.currency)
            )
        return rows

    def _account_id(self, parent: etree._Element, number: str) -> None:
        q = self._q
        ident = etree.SubElement(parent, q("Id"))
        if is_iban(number):
            etree.SubElement(ident, q("IBAN")).text = number
        else:
            etree.SubElement(etree.SubElement(ident, q("Othr")), q("Id")).text = number

    def _balance(
        self,
        record: etree._Element,
        code: str,
        sub_type: str | None,
        amount: int,
        on: date,
        currency: str,
    ) -> None:
        q = self._q
        sub = etree.SubElement
        balance = sub(record, q("Bal"))
        kind = sub(balance, q("Tp"))
        sub(sub(kind, q("CdOrPrtry")), q("Cd")).text = code
        if sub_type is not None:
            sub(sub(kind, q("SubTp")), q("Prtry")).text = sub_type
        sub(balance, q("Amt"), Ccy=currency).text = format_amount(abs(amount), currency)
        sub(balance, q("CdtDbtInd")).text = "DBIT" if amount < 0 else "CRDT"
        sub(sub(balance, q("Dt")), q("Dt")).text = on.isoformat()

    def _entry(self, record: etree._Element, entry: StatementEntry, statement: Statement) -> None:
        q = self._q
        sub = etree.SubElement
        if entry.amount_fen < 0:
            raise RenderError(f"entry {entry.bank_transaction_id!r}: amounts are never negative")
        node = sub(record, q("Ntry"))
        entry_refs = [v for k, v in entry.references if k == "NtryRef"]
        if entry_refs:
            sub(node, q("NtryRef")).text = entry_refs[0]
        sub(node, q("Amt"), Ccy=entry.currency).text = format_amount(
            entry.amount_fen, entry.currency
        )
        sub(node, q("CdtDbtInd")).text = entry.credit_debit.value
        if entry.reversal:
            sub(node, q("RvslInd")).text = "true"
        sub(sub(node, q("Sts")), q("Cd")).text = "BOOK"
        sub(sub(node, q("BookgDt")), q("Dt")).text = entry.booking_date.isoformat()
        if entry.value_date is not None:
            sub(sub(node, q("ValDt")), q("Dt")).text = entry.value_date.isoformat()
        if entry.bank_transaction_id:
            sub(node, q("AcctSvcrRef")).text = entry.bank_transaction_id
        codes = sub(node, q("BkTxCd"))
        code = entry.bank_transaction_code
        if _DOMAIN_CODE.match(code):
            domain, family_code, subfamily = code.split("/")
            domain_node = sub(codes, q("Domn"))
            sub(domain_node, q("Cd")).text = domain
            family = sub(domain_node, q("Fmly"))
            sub(family, q("Cd")).text = family_code
            sub(family, q("SubFmlyCd")).text = subfamily
        elif code:
            sub(sub(codes, q("Prtry")), q("Cd")).text = code
        if classify(code) is not entry.channel:
            sub(sub(node, q("TechInptChanl")), q("Prtry")).text = entry.channel.value
        detail = sub(sub(node, q("NtryDtls")), q("TxDtls"))
        self._references(detail, entry)
        self._parties(detail, entry, statement)
        if entry.remittance:
            remittance = sub(detail, q("RmtInf"))
            for line in text_lines(entry.remittance):
                sub(remittance, q("Ustrd")).text = line
        if entry.return_reason_code:
            kind = "Cd" if len(entry.return_reason_code) <= 4 else "Prtry"
            sub(sub(sub(detail, q("RtrInf")), q("Rsn")), q(kind)).text = entry.return_reason_code

    def _references(self, detail: etree._Element, entry: StatementEntry) -> None:
        q = self._q
        sub = etree.SubElement
        standard: dict[str, str] = {}
        proprietary: list[tuple[str, str]] = []
        for kind, value in entry.references:
            if kind == "NtryRef":
                continue
            if kind in _REFERENCE_KINDS and kind not in standard and kind != "EndToEndId":
                standard[kind] = value
            else:
                proprietary.append((kind, value))
        if entry.end_to_end_id:
            standard["EndToEndId"] = entry.end_to_end_id
        if not standard and not proprietary:
            return
        refs = sub(detail, q("Refs"))
        for kind in _REFERENCE_KINDS:
            if kind in standard:
                sub(refs, q(kind)).text = standard[kind]
        for kind, value in proprietary:
            other = sub(refs, q("Prtry"))
            sub(other, q("Tp")).text = kind
            sub(other, q("Ref")).text = value

    def _parties(self, detail: etree._Element, entry: StatementEntry, statement: Statement) -> None:
        q = self._q
        sub = etree.SubElement
        credit = entry.credit_debit is CreditDebit.CREDIT
        own_account = entry.sub_account
        counter = (entry.counterparty_name, entry.counterparty_account)
        sides: dict[str, tuple[str | None, str | None]] = {}
        if credit:
            sides["Dbtr"] = counter
            sides["Cdtr"] = (None, own_account)
        else:
            sides["Dbtr"] = (None, own_account)
            sides["Cdtr"] = counter
        if not any(name or account for name, account in sides.values()):
            return
        parties = sub(detail, q("RltdPties"))
        for role in ("Dbtr", "Cdtr"):
            name, account = sides[role]
            if name:
                sub(sub(sub(parties, q(role)), q("Pty")), q("Nm")).text = name
            if account:
                self._account_id(sub(parties, q(f"{role}Acct")), account)
