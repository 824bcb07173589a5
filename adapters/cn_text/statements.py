"""对账单 statements: parse (institution side) and render (bank side).

A statement file covers one special account: a header with the account's opening and
closing balances, one balance record per association sub-account (opening and closing),
the booked lines with their 摘要 (mapped to a channel), and a trailer with control totals.
Parsing is the hot path (a busy county's statement can run to a million lines), so detail
lines are cut with ``str.split`` and converted with per-file caches.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from datetime import date
from operator import itemgetter
from typing import Any

from adapters.cn_text.codec import TOTAL_LIMIT_FEN, Codec, Values, field_getter
from adapters.cn_text.layout import FileSpec, Layout
from adapters.errors import FileFormatError, RenderError
from adapters.records import (
    CURRENCY,
    Balance,
    Channel,
    CreditDebit,
    Statement,
    StatementEntry,
    SubAccountBalance,
    positional_constructor,
)

_DETAIL_NAMES = (
    "seq",
    "bank_transaction_id",
    "booking_date",
    "value_date",
    "sub_account",
    "credit_debit",
    "amount",
    "balance_after",
    "counterparty_account",
    "counterparty_name",
    "summary",
    "remittance",
    "end_to_end_id",
    "reversal",
    "return_reason_code",
    "currency",
)


_PAUSE_GC_BYTES = 1 << 20

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
    "balance_after_fen",
    "source_line",
)
_new_entry = positional_constructor(StatementEntry, expected_order=_ENTRY_ORDER)


def statement_spec(layout: Layout) -> FileSpec:
    spec = layout.files.get("statement")
    if spec is None:
        raise FileFormatError(f"layout {layout.name} describes no statement file")
    return spec


def parse(layout: Layout, data: bytes) -> tuple[Statement, ...]:
    # Building a million entries makes the cyclic garbage collector scan them again and
    # again; they cannot form cycles, so for a large file collection waits until it is built.
    paused = len(data) > _PAUSE_GC_BYTES and gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _parse(layout, data)
    finally:
        if paused:
            gc.enable()


def _parse(layout: Layout, data: bytes) -> tuple[Statement, ...]:
    spec = statement_spec(layout)
    raw = Codec(layout).read([spec], data, "statement (对账单)")
    values = Values(layout)
    head = field_getter(spec.header, raw.header)
    account = head["account"].strip()
    if not account:
        raise FileFormatError("account is empty", location="line 1", field="account")
    currency = head.get("currency", CURRENCY).strip() or CURRENCY
    if currency != CURRENCY:
        raise FileFormatError(
            f"statement is not in {CURRENCY} (money here is {CURRENCY} only)",
            location="line 1",
            field="currency",
            value=currency,
        )
    from_date = values.optional_date(head.get("from_date", ""), 1, "from_date")
    to_date = values.optional_date(head.get("to_date", ""), 1, "to_date")
    if from_date and to_date and from_date > to_date:
        raise FileFormatError(
            "statement period ends before it starts",
            location="line 1",
            field="to_date",
            value=head["to_date"],
        )
    created_text = head.get("created_at", "").strip()
    created_at = values.to_datetime(created_text, 1, "created_at") if created_text else None
    opening = _optional_balance(values, head.get("opening_balance", ""), 1, "opening_balance")
    closing = _optional_balance(values, head.get("closing_balance", ""), 1, "closing_balance")

    sub_balances: list[SubAccountBalance] = []
    known_subs: dict[str, int] = {}
    if spec.balance is not None:
        for lineno, row in raw.balances:
            item = field_getter(spec.balance, row)
            sub = item["sub_account"].strip()
            if not sub:
                raise FileFormatError(
                    "sub-account is empty", location=f"line {lineno}", field="sub_account"
                )
            if sub in known_subs:
                raise FileFormatError(
                    f"second balance record for this sub-account (first on line {known_subs[sub]})",
                    location=f"line {lineno}",
                    field="sub_account",
                    value=sub,
                )
            known_subs[sub] = lineno
            sub_balances.append(
                SubAccountBalance(
                    sub_account=sub,
                    opening_fen=values.amount(
                        item["opening_balance"],
                        lineno,
                        "opening_balance",
                        signed=True,
                        limit=TOTAL_LIMIT_FEN,
                    ),
                    closing_fen=values.amount(
                        item["closing_balance"],
                        lineno,
                        "closing_balance",
                        signed=True,
                        limit=TOTAL_LIMIT_FEN,
                    ),
                )
            )

    detail = spec.detail
    width = len(detail.fields)
    positions = {f.name: i for i, f in enumerate(detail.fields) if not f.ignored}
    pick = itemgetter(*(positions.get(name, width) for name in _DETAIL_NAMES))
    credit_texts = set(layout.credit_texts)
    debit_texts = set(layout.debit_texts)
    reversal_texts = set(layout.reversal_texts)
    normal_texts = {*layout.normal_texts, ""}
    # Summaries and sub-accounts repeat on every line: each entry shares one string per
    # distinct text (the first seen) rather than keeping its own copy.
    channels: dict[str, tuple[Channel, str]] = {}
    subs = {sub: sub for sub in known_subs}
    dates: dict[str, date] = {}
    amount = values.amount
    yuan = layout.amount_unit == "yuan"
    max_fen = layout.max_amount_fen
    parse_date = values.to_date
    check_subs = bool(known_subs)
    CREDIT, DEBIT = CreditDebit.CREDIT, CreditDebit.DEBIT  # noqa: N806 - local aliases
    entries: list[StatementEntry] = []
    append = entries.append
    new_entry = _new_entry
    credit_count = credit_sum = debit_count = debit_sum = 0
    # The hot path: delimited lines are cut right here; fixed-width ones come cut.
    codec = raw.codec
    fast = layout.format == "delimited" and not any(f.const for f in detail.fields[1:])
    source: Iterable[Any] = raw.detail_lines if fast else raw.details()
    delimiter = layout.delimiter
    trailing = layout.trailing_delimiter
    expected = width + 1 if trailing else width
    dtag = detail.tag
    before = raw.first_detail_line - 1  # a detail's line is before + its sequence number
    for number, line in enumerate(source, start=1):
        if fast:
            if not line.isprintable():
                codec.check_line(line, before + number)
            row = line.split(delimiter)
            if len(row) != expected or row[0] != dtag or (trailing and row[-1]):
                codec.detail_problem(spec, line, before + number)
            if not trailing:
                row.append("")  # what a field the layout lacks reads as
        else:
            row = [*line, ""]
        (
            seq,
            txid,
            booking_text,
            value_text,
            sub,
            cd_text,
            amount_text,
            balance_text,
            cp_account,
            cp_name,
            summary,
            remittance,
            e2e,
            reversal_text,
            return_code,
            line_currency,
        ) = pick(row)
        if line_currency and line_currency != CURRENCY:
            raise FileFormatError(
                f"line is not in {CURRENCY} (money here is {CURRENCY} only)",
                location=f"line {before + number}",
                field="currency",
                value=line_currency,
            )
        if seq and seq != str(number) and not (seq.isdigit() and int(seq) == number):
            raise FileFormatError(
                f"sequence number out of order (expected {number})",
                location=f"line {before + number}",
                field="seq",
                value=seq,
            )
        booking = dates.get(booking_text)
        if booking is None:
            booking = dates[booking_text] = parse_date(
                booking_text, before + number, "booking_date"
            )
        value_date = None
        if value_text:
            value_date = dates.get(value_text)
            if value_date is None:
                value_date = dates[value_text] = parse_date(
                    value_text, before + number, "value_date"
                )
        if cd_text in credit_texts:
            credit_debit = CREDIT
        elif cd_text in debit_texts:
            credit_debit = DEBIT
        else:
            raise FileFormatError(
                f"not a debit/credit mark (expected one of "
                f"{', '.join(layout.credit_texts + layout.debit_texts)})",
                location=f"line {before + number}",
                field="credit_debit",
                value=cd_text,
            )
        # Fast path for the usual "1234.56" in a yuan layout; anything else (and every
        # refusal) goes through Values.amount, which names the problem.
        whole, _, cents = amount_text.partition(".")
        if (
            yuan
            and len(cents) == 2
            and amount_text.isascii()
            and whole.isdigit()
            and cents.isdigit()
            and len(amount_text) < 24
            and 0 < (fen := int(whole) * 100 + int(cents)) <= max_fen
        ):
            pass
        else:
            fen = amount(amount_text, before + number, "amount")
        if credit_debit is CREDIT:
            credit_count += 1
            credit_sum += fen
        else:
            debit_count += 1
            debit_sum += fen
        if reversal_text in reversal_texts:
            reversal = True
        elif reversal_text in normal_texts:
            reversal = False
        else:
            raise FileFormatError(
                "not a reversal flag",
                location=f"line {before + number}",
                field="reversal",
                value=reversal_text,
            )
        seen = channels.get(summary)
        if seen is None:
            seen = channels[summary] = (layout.channel_for(summary), summary)
        channel, summary = seen
        sub = sub.strip()
        if sub:
            known = subs.get(sub)
            if known is not None:
                sub = known
            elif check_subs:
                raise FileFormatError(
                    "sub-account has no balance record in this statement",
                    location=f"line {before + number}",
                    field="sub_account",
                    value=sub,
                )
        append(
            new_entry(
                booking,
                fen,
                credit_debit,
                line_currency or currency,
                txid.strip() or None,
                value_date,
                reversal,
                channel,
                summary,
                cp_account.strip() or None,
                cp_name.strip() or None,
                e2e.strip() or None,
                (),
                remittance.strip(),
                sub or None,
                return_code.strip() or None,
                (
                    amount(
                        balance_text,
                        before + number,
                        "balance_after",
                        signed=True,
                        limit=TOTAL_LIMIT_FEN,
                    )
                    if balance_text
                    else None
                ),
                before + number,
            )
        )
    totals = {
        "count": len(entries),
        "debit_count": debit_count,
        "debit_sum": debit_sum,
        "credit_count": credit_count,
        "credit_sum": credit_sum,
    }
    records = [(spec.header, raw.header, 1)]
    if spec.trailer is not None and raw.trailer is not None:
        records.append((spec.trailer, raw.trailer, raw.trailer_line))
    for record, row, lineno in records:
        fields = field_getter(record, row)
        for name, actual in totals.items():
            values.check_total(fields.get(name), actual, lineno, name, is_sum=name.endswith("_sum"))
    balances: list[Balance] = []
    opening_on = from_date or to_date
    closing_on = to_date or from_date
    if opening is not None and opening_on is not None:
        balances.append(Balance(opening, opening_on, "opening", currency))
    if closing is not None and closing_on is not None:
        balances.append(Balance(closing, closing_on, "closing", currency))
    statement_id = head.get("statement_id", "").strip() or f"{account}:{from_date}:{to_date}"
    return (
        Statement(
            statement_id=statement_id,
            account=account,
            created_at=created_at,
            from_date=from_date,
            to_date=to_date,
            entries=tuple(entries),
            currency=currency,
            account_name=head.get("account_name", "").strip() or None,
            sub_account=head.get("sub_account", "").strip() or None,
            opening_balance_fen=opening,
            closing_balance_fen=closing,
            balances=tuple(balances),
            sub_account_balances=tuple(sub_balances),
        ),
    )


def _optional_balance(values: Values, text: str, lineno: int, field: str) -> int | None:
    if not text.strip():
        return None
    return values.amount(text, lineno, field, signed=True, limit=TOTAL_LIMIT_FEN)


def render(layout: Layout, statement: Statement) -> bytes:
    spec = statement_spec(layout)
    values = Values(layout)
    details = []
    credit_count = credit_sum = debit_count = debit_sum = 0
    subs = {b.sub_account for b in statement.sub_account_balances}
    for n, entry in enumerate(statement.entries, start=1):
        where = f"statement {statement.statement_id} entry {n}"
        if entry.amount_fen <= 0 or entry.amount_fen > layout.max_amount_fen:
            raise RenderError(f"{where}: amount {entry.amount_fen} fen is out of range")
        if entry.currency != statement.currency and not spec.detail.has("currency"):
            raise RenderError(f"{where}: currency {entry.currency} differs from the statement's")
        if (
            spec.balance is not None
            and subs
            and entry.sub_account
            and entry.sub_account not in subs
        ):
            raise RenderError(f"{where}: sub-account {entry.sub_account} has no balance record")
        credit = entry.credit_debit is CreditDebit.CREDIT
        if credit:
            credit_count += 1
            credit_sum += entry.amount_fen
        else:
            debit_count += 1
            debit_sum += entry.amount_fen
        summary = entry.bank_transaction_code
        if not summary or layout.channel_for(summary) is not entry.channel:
            summary = layout.channel_render[entry.channel]
        details.append(
            {
                "seq": str(n),
                "bank_transaction_id": entry.bank_transaction_id or "",
                "booking_date": values.format_date(entry.booking_date),
                "value_date": values.format_date(entry.value_date) if entry.value_date else "",
                "sub_account": entry.sub_account or "",
                "credit_debit": (layout.credit_texts if credit else layout.debit_texts)[0],
                "amount": values.format_amount(entry.amount_fen),
                "balance_after": (
                    values.format_amount(entry.balance_after_fen)
                    if entry.balance_after_fen is not None
                    else ""
                ),
                "counterparty_account": entry.counterparty_account or "",
                "counterparty_name": entry.counterparty_name or "",
                "summary": summary,
                "remittance": entry.remittance,
                "end_to_end_id": entry.end_to_end_id or "",
                "reversal": (layout.reversal_texts if entry.reversal else layout.normal_texts)[0],
                "return_reason_code": entry.return_reason_code or "",
                "currency": entry.currency,
            }
        )
    for name, fen in (("debit_sum", debit_sum), ("credit_sum", credit_sum)):
        if fen > TOTAL_LIMIT_FEN:
            raise RenderError(
                f"statement {statement.statement_id}: {name} {fen} fen exceeds the largest "
                f"allowed ({TOTAL_LIMIT_FEN} fen)"
            )
    totals = {
        "count": str(len(details)),
        "debit_count": str(debit_count),
        "debit_sum": values.format_amount(debit_sum),
        "credit_count": str(credit_count),
        "credit_sum": values.format_amount(credit_sum),
    }

    def balance(fen: int | None) -> str:
        return values.format_amount(fen) if fen is not None else ""

    header = {
        "statement_id": statement.statement_id,
        "account": statement.account,
        "account_name": statement.account_name or "",
        "sub_account": statement.sub_account or "",
        "currency": statement.currency,
        "from_date": values.format_date(statement.from_date) if statement.from_date else "",
        "to_date": values.format_date(statement.to_date) if statement.to_date else "",
        "created_at": (
            values.format_datetime(statement.created_at) if statement.created_at else ""
        ),
        "opening_balance": balance(statement.opening_balance_fen),
        "closing_balance": balance(statement.closing_balance_fen),
        **totals,
    }
    balances = [
        {
            "sub_account": b.sub_account,
            "opening_balance": values.format_amount(b.opening_fen),
            "closing_balance": values.format_amount(b.closing_fen),
        }
        for b in statement.sub_account_balances
    ]
    if statement.sub_account_balances and spec.balance is None:
        raise RenderError(
            f"statement {statement.statement_id}: layout {layout.name} has no sub-account "
            "balance record"
        )
    return Codec(layout).render(spec, header, details, totals, balances)
