"""Loading one night's inputs: the bank's statement, the lines and entries still open, the book.

Bank lines come from the statement file the bank sent (read from the stored inbound file and
parsed by the bank's adapter), plus the lines earlier nights left open. Book entries are the
journal transactions that move an association's bank sub-account (account 1002), new since the
previous run (by journal leg id: above the previous run's watermark, at most this run's) or
left open by it; the first open instalment of each loan being repaid is offered
as an expected repayment (a transfer by the borrower may pay it); entries reconciled earlier
come back as settled references when a line names them (returns, lines seen twice).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from adapters.base import Adapter
from adapters.records import CreditDebit, FileKind, Statement
from gateway.batches.banks import format_loader
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementDay
from gateway.ledger.models import (
    AccountCode,
    JournalLeg,
    JournalTransaction,
    LedgerAccount,
    LedgerChannel,
    TransactionKind,
)
from gateway.loans.models import Loan, LoanStatus
from gateway.org.models import Association, Bank, SpecialAccount
from gateway.payments.config import load_payments_config
from gateway.payments.models import (
    OPEN_STATUSES,
    Direction,
    PaymentInstruction,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from reconciliation.frames import ENTRY_SCHEMA, LINE_SCHEMA
from reconciliation.model import BookKind, BookStatus, CashInHand

AdapterFor = Callable[[str], Adapter]


def adapter_loader(config_dir: Path) -> AdapterFor:
    """Each bank's adapter from ``<config_dir>/banks/<code>.toml`` (read once per code).

    Only the file format is needed to read a statement: no keys, no connection."""
    formats = format_loader(config_dir, load_payments_config(config_dir))
    return lambda code: formats(code).adapter


# How far after the business date a statement file of that date may have been fetched: how
# a file applied before the days of its statements were recorded is found.
STATEMENT_FETCH_DAYS = 14

KIND_OF: dict[str, BookKind] = {
    TransactionKind.DISBURSEMENT.value: BookKind.DISBURSEMENT,
    TransactionKind.REPAYMENT.value: BookKind.REPAYMENT,
    TransactionKind.FEE.value: BookKind.USAGE_FEE,
    TransactionKind.CAPITAL_CONTRIBUTION.value: BookKind.DEPOSIT,
    TransactionKind.MEMBER_DEPOSIT.value: BookKind.DEPOSIT,
    TransactionKind.REFUND.value: BookKind.REFUND,
    TransactionKind.DEPOSIT_INTEREST.value: BookKind.INTEREST,
    TransactionKind.ADJUSTMENT.value: BookKind.ADJUSTMENT,
    "bank_fee": BookKind.BANK_FEE,
}

ENTRY_PREFIX = "j:"
EXPECTED_PREFIX = "s:"


def entry_id_of(transaction_id: uuid.UUID) -> str:
    return f"{ENTRY_PREFIX}{transaction_id.hex}"


def transaction_id_of(entry_id: str) -> uuid.UUID | None:
    if not entry_id.startswith(ENTRY_PREFIX):
        return None
    return uuid.UUID(entry_id[len(ENTRY_PREFIX) :])


def schedule_line_id_of(entry_id: str) -> int | None:
    if not entry_id.startswith(EXPECTED_PREFIX):
        return None
    return int(entry_id[len(EXPECTED_PREFIX) :])


# --- the bank's side ---------------------------------------------------------------------


def statement_date(statement: Statement) -> date | None:
    if statement.to_date is not None:
        return statement.to_date
    if statement.from_date is not None:
        return statement.from_date
    dates = [e.booking_date for e in statement.entries]
    return max(dates) if dates else None


def find_statements(
    session: Session, special: SpecialAccount, days: Sequence[date], adapter_for: AdapterFor
) -> dict[date, Statement]:
    """The bank's statements of ``days`` for the special account, each from the newest stored
    file holding it; a day without one is left out. Each file is read once, however many of
    the days it holds.

    A file is found by the days its statements report (``inbound_statement_days``, written
    when it was applied), whichever night fetched it: a night caught up fetches every file the
    bank wrote since under its own, earlier business date, and a statement the bank sends late
    comes in under a later one. A file applied before those days were recorded is read when it
    was fetched within ``STATEMENT_FETCH_DAYS`` after the day, as it always was.

    Only an end-of-day statement (camt.053, a cn_text 对账单) is a day's statement. A
    notification (camt.054: the lines of the day as they are booked, no balances) is never
    one: its lines are kept and its returns applied when it is ingested, and the day's
    statement holds them again, with the balances the reconciler checks; a day with
    notifications but no statement is a day without a statement.

    A file the adapter cannot read was quarantined when it was ingested; one that fails here
    raises, so the night is not reconciled against half a statement.
    """
    wanted = set(days)
    if not wanted:
        return {}
    bank_code = session.scalar(select(Bank.code).where(Bank.id == special.bank_id))
    assert bank_code is not None
    applied = and_(
        InboundFile.bank_code == bank_code,
        InboundFile.kind == InboundKind.STATEMENT,
        InboundFile.status == InboundStatus.APPLIED,
    )
    # file id -> the wanted days it holds, by the days its statements report
    holding: dict[int, set[date]] = {}
    sorted_days = sorted(wanted)
    for chunk in range(0, len(sorted_days), 500):
        for file_id, reported in session.execute(
            select(StatementDay.inbound_file_id, StatementDay.statement_date)
            .join(InboundFile, InboundFile.id == StatementDay.inbound_file_id)
            .where(
                applied,
                StatementDay.account == special.account_number,
                StatementDay.kind == FileKind.STATEMENT.value,
                StatementDay.statement_date.in_(sorted_days[chunk : chunk + 500]),
            )
        ):
            holding.setdefault(file_id, set()).add(reported)
    # files applied before their days were recorded: by the night that fetched them
    window = timedelta(days=STATEMENT_FETCH_DAYS)
    for file_id, fetched in session.execute(
        select(InboundFile.id, InboundFile.business_date).where(
            applied,
            InboundFile.business_date >= min(wanted),
            InboundFile.business_date <= max(wanted) + window,
            ~select(StatementDay.id).where(StatementDay.inbound_file_id == InboundFile.id).exists(),
        )
    ):
        days_of = {d for d in wanted if d <= fetched <= d + window}
        if days_of:
            holding.setdefault(file_id, set()).update(days_of)
    found: dict[date, Statement] = {}
    for file_id in sorted(holding, reverse=True):  # the newest file first
        open_days = holding[file_id] - found.keys()
        if not open_days:
            continue
        # the bytes only, not the stored file object: a statement file may be large
        content = session.scalar(select(InboundFile.content).where(InboundFile.id == file_id))
        assert content is not None
        for statement in adapter_for(bank_code).parse_statements(content):
            day = statement_date(statement)
            if statement.kind is not FileKind.STATEMENT:
                continue
            if statement.account == special.account_number and day in open_days:
                found[day] = statement
                open_days.discard(day)
        if len(found) == len(wanted):
            break
    return found


def statement_lines_frame(statement: Statement) -> pl.DataFrame:
    """The statement's entries as engine lines, ids ``<statement id>:<position>`` from 1.

    Built one column at a time (a statement may hold a million lines); lines of identical
    content are numbered 0, 1, 2... in ``occurrence`` in file order, as
    ``lines_from_statement`` does.
    """
    entries = statement.entries
    n = len(entries)
    default_sub = statement.sub_account
    plain = (
        "booking_date",
        "amount_fen",
        "value_date",
        "bank_transaction_id",
        "end_to_end_id",
        "remittance",
        "counterparty_account",
        "counterparty_name",
        "bank_transaction_code",
        "reversal",
        "return_reason_code",
    )

    def attribute(name: str) -> Callable[[], list[Any]]:
        return lambda: list(map(attrgetter(name), entries))

    columns: dict[str, Callable[[], list[Any]]] = {name: attribute(name) for name in plain}
    columns["sub_account"] = lambda: [e.sub_account or default_sub for e in entries]
    columns["credit"] = lambda: [e.credit_debit is CreditDebit.CREDIT for e in entries]
    columns["channel"] = lambda: [e.channel.value for e in entries]
    series = [
        pl.select(
            pl.format(f"{statement.statement_id}:{{}}", pl.int_range(1, n + 1)).alias("line_id")
        ).to_series(),
        pl.repeat(statement.account, n, dtype=pl.String, eager=True).alias("special_account"),
    ]
    for name, values in columns.items():
        series.append(pl.Series(name, values(), dtype=LINE_SCHEMA[name]))
    frame = pl.DataFrame(series)
    content = [c for c in LINE_SCHEMA if c not in ("line_id", "occurrence")]
    # identical lines share a content hash; numbering within each hash is the occurrence
    return frame.with_columns(
        pl.int_range(pl.len())
        .over(pl.struct(content).hash(seed=0))
        .cast(pl.Int64)
        .alias("occurrence")
    ).select(list(LINE_SCHEMA))


def lines_to_json(frame: pl.DataFrame) -> list[tuple[str, date, str]]:
    """(line id, booking date, the line as JSON) for each row, to keep it open."""
    out = []
    for row in frame.iter_rows(named=True):
        data = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
        out.append((row["line_id"], row["booking_date"], json.dumps(data, ensure_ascii=False)))
    return out


def lines_from_json(texts: Iterable[str]) -> pl.DataFrame:
    rows = [json.loads(t) for t in texts]
    columns: dict[str, list[object]] = {name: [] for name in LINE_SCHEMA}
    for row in rows:
        for name, dtype in LINE_SCHEMA.items():
            value = row.get(name)
            if value is not None and dtype == pl.Date():
                value = date.fromisoformat(value)
            columns[name].append(value)
    return pl.DataFrame(
        {name: pl.Series(name, values, dtype=LINE_SCHEMA[name]) for name, values in columns.items()}
    )


# --- the book's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class Book:
    """The night's book entries and what the service needs to know about them."""

    entries: pl.DataFrame  # ENTRY_SCHEMA
    reversal_of: dict[str, str]  # entry id of a reversal -> entry id of its original
    associations: dict[str, int]  # sub-account number -> association id
    cash_in_hand: tuple[CashInHand, ...] = ()  # new cash entries that moved no sub-account


# Plain text and integers: a million rows are turned into columns without per-row conversion.
_JOURNAL_COLUMNS = (
    cast(JournalTransaction.id, String),
    JournalTransaction.association_id,
    Association.sub_account_number,
    cast(JournalTransaction.business_date, String),
    JournalLeg.debit_fen,
    JournalLeg.credit_fen,
    JournalTransaction.kind,
    JournalTransaction.external_ref,
    cast(JournalTransaction.channel, String),
    cast(JournalTransaction.reversal_of, String),
)


# The legs of a night's book: read by bank account, joined to nothing but their transaction.
_LEG_COLUMNS = (
    cast(JournalTransaction.id, String),
    JournalLeg.account_id,
    cast(JournalTransaction.business_date, String),
    JournalLeg.debit_fen,
    JournalLeg.credit_fen,
    JournalTransaction.kind,
    JournalTransaction.external_ref,
    cast(JournalTransaction.channel, String),
    cast(JournalTransaction.reversal_of, String),
)


def _bank_accounts(session: Session, special_account_id: int) -> pl.DataFrame:
    """account_id, association_id, sub_account of each association's bank account (1002)."""
    rows = session.execute(
        select(LedgerAccount.id, LedgerAccount.association_id, Association.sub_account_number)
        .join(Association, Association.id == LedgerAccount.association_id)
        .where(
            Association.special_account_id == special_account_id,
            LedgerAccount.code == AccountCode.BANK_SUB_ACCOUNT,
        )
    ).all()
    return pl.DataFrame(
        [(int(a), str(b), str(c)) for a, b, c in rows],
        schema={"account_id": pl.Int64, "association_id": pl.String, "sub_account": pl.String},
        orient="row",
    )


def _journal_rows(
    session: Session, special_account_id: int, *conditions: ColumnElement[bool]
) -> list[Any]:
    query = (
        select(*_JOURNAL_COLUMNS)
        .select_from(JournalLeg)
        .join(JournalTransaction, JournalTransaction.id == JournalLeg.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
        .join(Association, Association.id == JournalTransaction.association_id)
        .where(
            LedgerAccount.code == AccountCode.BANK_SUB_ACCOUNT,
            Association.special_account_id == special_account_id,
            *conditions,
        )
    )
    return list(session.execute(query).all())


_RAW_SCHEMA: dict[str, pl.DataType] = {
    "entry_id": pl.String(),
    "association_id": pl.String(),
    "sub_account": pl.String(),
    "business_date": pl.Date(),
    "net": pl.Int64(),
    "kind": pl.String(),
    "end_to_end_id": pl.String(),
    "channel": pl.String(),
}
_CHUNK = 100_000  # rows fetched at a time: the book may hold millions


def _uuid_text(value: str) -> str:
    return f"{ENTRY_PREFIX}{value.replace('-', '')}"


def _raw_frame(rows: Sequence[Any], accounts: pl.DataFrame) -> pl.DataFrame:
    """One row per bank-account leg: its signed movement (into the sub-account > 0)."""
    ids, account_ids, dates, debits, credits, kinds, refs, channels, _rev = zip(*rows, strict=True)
    frame = pl.DataFrame(
        {
            "entry_id": pl.Series(ids, dtype=pl.String),
            "account_id": pl.Series(account_ids, dtype=pl.Int64),
            "business_date": pl.Series(dates, dtype=pl.String),
            "debit": pl.Series(debits, dtype=pl.Int64),
            "credit": pl.Series(credits, dtype=pl.Int64),
            "kind": pl.Series(kinds, dtype=pl.String),
            "end_to_end_id": pl.Series(refs, dtype=pl.String),
            "channel": pl.Series(channels, dtype=pl.String),
        }
    ).join(accounts, on="account_id", how="left")
    kinds_map = {k: v.value for k, v in KIND_OF.items()}
    return frame.select(
        (pl.lit(ENTRY_PREFIX) + pl.col("entry_id").str.replace_all("-", "", literal=True)).alias(
            "entry_id"
        ),
        "association_id",
        "sub_account",
        pl.col("business_date").str.slice(0, 10).str.to_date("%Y-%m-%d"),
        (pl.col("debit") - pl.col("credit")).alias("net"),
        pl.col("kind").replace_strict(kinds_map, default=BookKind.OTHER.value),
        "end_to_end_id",
        pl.when(pl.col("channel") == LedgerChannel.CASH.value)
        .then(pl.lit("cash"))
        .otherwise(pl.lit("transfer"))
        .alias("channel"),
    )


def _journal(
    session: Session, special_account_id: int, *conditions: ColumnElement[bool]
) -> tuple[pl.DataFrame, dict[str, str]]:
    """The legs on bank sub-accounts that ``conditions`` select, fetched a chunk at a time,
    and which of their transactions reverse which."""
    accounts = _bank_accounts(session, special_account_id)
    frames = [pl.DataFrame(schema=_RAW_SCHEMA)]
    reversals: dict[str, str] = {}
    if accounts.is_empty():
        return frames[0], reversals
    query = (
        select(*_LEG_COLUMNS)
        .select_from(JournalTransaction)
        .join(JournalLeg, JournalLeg.transaction_id == JournalTransaction.id)
        .where(JournalLeg.account_id.in_(accounts["account_id"].to_list()), *conditions)
        .execution_options(yield_per=_CHUNK)
    )
    # every column is plain text or an integer: read as Core rows, nothing converted per row
    for part in session.connection().execute(query).partitions():
        frames.append(_raw_frame(part, accounts))
        reversals.update(_reversals(part))
    return pl.concat(frames, how="vertical"), reversals


def _entries(raw: pl.DataFrame, status: BookStatus) -> pl.DataFrame:
    """One entry per journal transaction: its net movement on the bank sub-account."""
    net = raw.group_by("entry_id", maintain_order=True).agg(
        pl.exclude("net").first(), pl.col("net").sum()
    )
    net = net.filter(pl.col("net") != 0)
    return net.select(
        "entry_id",
        "association_id",
        "sub_account",
        "business_date",
        (pl.col("net") > 0).alias("credit"),
        pl.col("net").abs().cast(pl.Int64).alias("amount_fen"),
        "kind",
        "end_to_end_id",
        pl.lit(None, pl.String).alias("contract_number"),
        pl.lit(None, pl.String).alias("member_card"),
        pl.lit(True).alias("card_is_member"),
        pl.lit(None, pl.String).alias("borrower_id"),
        "channel",
        pl.lit(status.value).alias("status"),
        pl.lit(None, pl.Date).alias("first_expected"),
    ).cast(ENTRY_SCHEMA)  # type: ignore[arg-type]


def _reversals(rows: Sequence[Any]) -> dict[str, str]:
    return {_uuid_text(r[0]): _uuid_text(r[8]) for r in rows if r[8] is not None}


def load_book(
    session: Session,
    special_account_id: int,
    day: date,
    *,
    previous_date: date | None,
    previous_started: datetime | None,
    open_entry_ids: Iterable[str],
    watermark: int,
    previous_watermark: int | None,
    settled_entry_ids: Iterable[str],
    line_refs: pl.Series,
    return_window_days: int,
) -> Book:
    """Every entry the night must see (see the module's docstring).

    New entries are those whose bank leg id is at most ``watermark`` (the highest journal leg
    id when the run began reading): one posted while the run is under way is left to the
    next night, which takes the legs above ``previous_watermark`` dated on or before the
    previous date. So each entry is offered to exactly one run as new."""
    seen = JournalLeg.id <= watermark
    associations = {
        sub: assoc_id
        for sub, assoc_id in session.execute(
            select(Association.sub_account_number, Association.id).where(
                Association.special_account_id == special_account_id
            )
        )
    }
    # which transactions are new tonight (cash entries away from the bank are found by it too)
    new_tonight: ColumnElement[bool] = JournalTransaction.business_date == day
    if previous_date is None:
        new_raw, reversal_of = _journal(
            session, special_account_id, JournalTransaction.business_date == day, seen
        )
    else:
        new_raw, reversal_of = _journal(
            session,
            special_account_id,
            JournalTransaction.business_date > previous_date,
            JournalTransaction.business_date <= day,
            seen,
        )
        # booked after the last night read the books, dated on or before its date (a late or
        # back-dated entry, or one posted while that run was under way)
        since: ColumnElement[bool] | None = None
        if previous_watermark is not None:
            since = JournalLeg.id > previous_watermark
        elif previous_started is not None:  # a run stored before runs kept a watermark
            since = JournalTransaction.created_at > previous_started
        new_tonight = and_(
            JournalTransaction.business_date > previous_date,
            JournalTransaction.business_date <= day,
        )
        if since is not None:
            new_tonight = or_(
                new_tonight, and_(since, JournalTransaction.business_date <= previous_date)
            )
            late = session.scalars(
                select(JournalTransaction.id)
                .join(JournalLeg, JournalLeg.transaction_id == JournalTransaction.id)
                .where(since, seen, JournalTransaction.business_date <= previous_date)
                .distinct()
            ).all()
            for chunk in range(0, len(late), 500):
                part, more = _journal(
                    session,
                    special_account_id,
                    JournalTransaction.id.in_(late[chunk : chunk + 500]),
                )
                new_raw = pl.concat([new_raw, part], how="vertical")
                reversal_of.update(more)
    settled = sorted(set(settled_entry_ids))
    if settled:
        new_raw = new_raw.filter(~pl.col("entry_id").is_in(settled))
    open_ids = [transaction_id_of(i) for i in open_entry_ids]
    wanted = [i for i in open_ids if i is not None]
    raws = [new_raw]
    for chunk in range(0, len(wanted), 500):
        part, more = _journal(
            session, special_account_id, JournalTransaction.id.in_(wanted[chunk : chunk + 500])
        )
        raws.append(part.filter(~pl.col("entry_id").is_in(new_raw["entry_id"].implode())))
        reversal_of.update(more)
    posted = _entries(pl.concat(raws, how="vertical"), BookStatus.POSTED)

    # entries reconciled earlier, as references for returns and lines seen again
    references = pl.DataFrame(schema=ENTRY_SCHEMA)
    refs = line_refs.drop_nulls().unique()
    if previous_date is not None and len(refs):
        old_raw, _old = _journal(
            session,
            special_account_id,
            JournalTransaction.external_ref.is_not(None),
            JournalTransaction.business_date >= day - timedelta(days=return_window_days),
            JournalTransaction.business_date <= previous_date,
        )
        old_raw = old_raw.filter(
            ~pl.col("entry_id").is_in(posted["entry_id"].implode())
            & pl.col("end_to_end_id").is_in(refs.implode())
        )
        references = _entries(old_raw, BookStatus.SETTLED)
    expected = expected_repayments(session, special_account_id, day)
    entries = pl.concat([posted, references, expected], how="vertical")
    on_the_bank = set(posted["entry_id"].to_list())
    cash = tuple(
        c
        for c in cash_in_hand(session, special_account_id, and_(new_tonight, seen))
        if c.entry_id not in on_the_bank  # it moved the bank too: the engine sees it there
    )
    return Book(
        entries=entries, reversal_of=reversal_of, associations=associations, cash_in_hand=cash
    )


def cash_in_hand(
    session: Session, special_account_id: int, condition: ColumnElement[bool]
) -> list[CashInHand]:
    """The transactions ``condition`` selects that the associations of the special account
    recorded as cash and that moved their cash on hand (库存现金): by hand, not by the bank."""
    net = func.sum(JournalLeg.debit_fen - JournalLeg.credit_fen)
    rows = session.execute(
        select(cast(JournalTransaction.id, String), Association.sub_account_number, net)
        .select_from(JournalLeg)
        .join(JournalTransaction, JournalTransaction.id == JournalLeg.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
        .join(Association, Association.id == LedgerAccount.association_id)
        .where(
            Association.special_account_id == special_account_id,
            LedgerAccount.code == AccountCode.CASH_ON_HAND,
            JournalTransaction.channel == LedgerChannel.CASH,
            condition,
        )
        .group_by(JournalTransaction.id, Association.sub_account_number)
        .having(net != 0)
        .order_by(JournalTransaction.id)
    ).all()
    return [
        CashInHand(
            entry_id=_uuid_text(str(txn)),
            sub_account=str(sub),
            credit_debit=CreditDebit.CREDIT if amount > 0 else CreditDebit.DEBIT,
            amount_fen=abs(int(amount)),
        )
        for txn, sub, amount in rows
    ]


def expected_repayments(session: Session, special_account_id: int, day: date) -> pl.DataFrame:
    """The first open instalment of each loan being repaid, as an expected repayment.

    Offered so that a borrower's own transfer naming the contract can be booked; an instalment
    whose collection is already with the bank is not offered. Never an exception by itself.
    """
    in_flight = (
        select(PaymentInstruction.schedule_line_id)
        .where(
            PaymentInstruction.direction == Direction.COLLECTION,
            PaymentInstruction.status.in_(OPEN_STATUSES),
            PaymentInstruction.schedule_line_id.is_not(None),
        )
        .scalar_subquery()
    )
    first_open = (
        select(
            RepaymentScheduleLine.loan_id,
            func.min(RepaymentScheduleLine.instalment_no).label("first_no"),
        )
        .where(
            RepaymentScheduleLine.status.in_((ScheduleLineStatus.OPEN, ScheduleLineStatus.OVERDUE))
        )
        .group_by(RepaymentScheduleLine.loan_id)
        .subquery()
    )
    rows = session.execute(
        select(
            RepaymentScheduleLine.id,
            Loan.association_id,
            Association.sub_account_number,
            Loan.contract_no,
            Loan.member_id,
            RepaymentScheduleLine.principal_fen - RepaymentScheduleLine.paid_principal_fen,
            RepaymentScheduleLine.fee_fen - RepaymentScheduleLine.paid_fee_fen,
        )
        .join(Loan, Loan.id == RepaymentScheduleLine.loan_id)
        .join(Association, Association.id == Loan.association_id)
        .join(
            first_open,
            and_(
                first_open.c.loan_id == RepaymentScheduleLine.loan_id,
                first_open.c.first_no == RepaymentScheduleLine.instalment_no,
            ),
        )
        .where(
            Association.special_account_id == special_account_id,
            Loan.status.in_((LoanStatus.DISBURSED, LoanStatus.REPAYING, LoanStatus.OVERDUE)),
            RepaymentScheduleLine.id.not_in(in_flight),
        )
    ).all()
    data = [
        (
            f"{EXPECTED_PREFIX}{line_id}",
            str(assoc),
            sub,
            day,
            True,
            int(principal) + int(fee),
            BookKind.REPAYMENT.value,
            None,
            contract,
            None,
            True,
            str(member),
            "transfer",
            BookStatus.EXPECTED.value,
            day,
        )
        for line_id, assoc, sub, contract, member, principal, fee in rows
        if int(principal) + int(fee) > 0
    ]
    return pl.DataFrame(data, schema=ENTRY_SCHEMA, orient="row")


def ledger_balances(session: Session, special_account_id: int, day: date) -> dict[str, int]:
    """Each sub-account's bank balance in the books (account 1002) at the end of ``day``.

    Summed as every leg on the bank accounts less the legs of transactions dated after
    ``day`` (usually none): both read the legs by account, never the whole journal by date.
    """
    accounts = dict(
        session.execute(
            select(LedgerAccount.id, Association.sub_account_number)
            .join(Association, Association.id == LedgerAccount.association_id)
            .where(
                Association.special_account_id == special_account_id,
                LedgerAccount.code == AccountCode.BANK_SUB_ACCOUNT,
            )
        ).all()
    )
    subs = session.scalars(
        select(Association.sub_account_number).where(
            Association.special_account_id == special_account_id
        )
    )
    balances = dict.fromkeys(subs, 0)
    if not accounts:
        return balances
    totals = (
        select(
            JournalLeg.account_id,
            func.coalesce(func.sum(JournalLeg.debit_fen), 0),
            func.coalesce(func.sum(JournalLeg.credit_fen), 0),
        )
        .where(JournalLeg.account_id.in_(list(accounts)))
        .group_by(JournalLeg.account_id)
    )
    later = totals.where(
        JournalLeg.transaction_id.in_(
            select(JournalTransaction.id).where(JournalTransaction.business_date > day)
        )
    )
    for query, sign in ((totals, 1), (later, -1)):
        for account_id, debit, credit in session.execute(query).all():
            sub = accounts[account_id]
            balances[sub] = balances.get(sub, 0) + sign * (int(debit) - int(credit))
    return balances


__all__ = [
    "AdapterFor",
    "Book",
    "adapter_loader",
    "entry_id_of",
    "expected_repayments",
    "find_statements",
    "ledger_balances",
    "lines_from_json",
    "lines_to_json",
    "load_book",
    "schedule_line_id_of",
    "statement_lines_frame",
    "transaction_id_of",
]


def entry_amounts(
    session: Session, special_account_id: int, entry_ids: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """(signed amount into the sub-account, association id) of journal entries by entry id."""
    wanted = [t for t in (transaction_id_of(e) for e in entry_ids) if t is not None]
    rows: list[Any] = []
    for chunk in range(0, len(wanted), 500):
        rows += _journal_rows(
            session, special_account_id, JournalTransaction.id.in_(wanted[chunk : chunk + 500])
        )
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        key = _uuid_text(row[0])
        amount, assoc = out.get(key, (0, int(row[1])))
        out[key] = (amount + int(row[4]) - int(row[5]), assoc)
    return out
