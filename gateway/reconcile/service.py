"""Reconciling a special account for a business date, and undoing what was booked automatically.

:func:`reconcile_account` is the one entry point for a night's work on one special account:
the ``huzhu reconcile`` command and the nightly pipeline's ``reconcile`` step
(:func:`reconcile_business_date`) both call it. It loads the bank's statement and the book,
runs the matching engine, books the unambiguous borrower repayments, bank fees and interest
(marked automatic, undoable with :func:`undo_auto_posting`), keeps the items still open for the
next night, stores the daily reconciliation statement chained by hash to the previous day's,
and brings the mismatch queue up to date. It never commits: the caller owns the transaction.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl
from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from adapters.records import Statement
from gateway.audit import service as audit
from gateway.audit.models import AuditEvent
from gateway.db import insert_rows, utcnow
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.ledger import service as ledger
from gateway.ledger.fence import journal_watermark
from gateway.ledger.models import AccountCode, JournalTransaction, TransactionKind
from gateway.loans import service as loans
from gateway.loans.models import LoanStatus
from gateway.org.models import Association, SpecialAccount
from gateway.payments import service as payments
from gateway.payments.models import RepaymentScheduleLine, ScheduleLineStatus
from gateway.payments.schedule import split_payment
from gateway.queue import service as queue
from gateway.reconcile.models import (
    AutoPosting,
    ManualMatch,
    OpenItem,
    ReconRun,
    SeenTransaction,
)
from gateway.reconcile.source import (
    AdapterFor,
    entry_id_of,
    find_statements,
    ledger_balances,
    lines_from_json,
    lines_to_json,
    load_book,
    schedule_line_id_of,
    statement_lines_frame,
    transaction_id_of,
)
from reconciliation.config import MatchConfig
from reconciliation.engine import ReconciliationResult, reconcile_frames
from reconciliation.findings import ExceptionKind, PostingKind, ProposedPosting, ReconException
from reconciliation.frames import LINE_SCHEMA
from reconciliation.model import PreviousDay, ReconciliationRequest, StatementBalances

RECONCILER = "reconciler"
LINE, ENTRY = "line", "entry"
# The nightly step for a run date reconciles the statements of the days before it: a bank
# writes the statement of a day in its evening, the pipeline fetches it the next morning.
STATEMENT_LAG_DAYS = 1
# How long a bank transaction id is remembered after its line's booking date: a statement
# repeating an id within this many days is reported as a duplicate. Banks reprint a line days
# after, not seasons after; the window keeps the record from growing without end.
SEEN_TRANSACTION_DAYS = 60
# How far back a day reconciled without a statement waits for it: a statement sent later
# still, after a later statement was reconciled, has its lines reconciled on the next night.
LATE_STATEMENT_DAYS = SEEN_TRANSACTION_DAYS
# Transaction ids looked up per query (well under SQLite's limit on bound parameters).
_LOOKUP_CHUNK = 10_000


@dataclass(frozen=True)
class AccountOutcome:
    """What one night did for one special account."""

    special_account_id: int
    business_date: date
    run_id: int
    has_statement: bool
    lines: int
    entries: int
    matched_lines: int
    exceptions: tuple[ReconException, ...]
    auto_postings: int
    open_lines: int
    open_entries: int
    statement_hash: str
    queue: queue.SyncSummary
    kinds: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "special_account_id": self.special_account_id,
            "business_date": self.business_date.isoformat(),
            "statement": self.has_statement,
            "lines": self.lines,
            "entries": self.entries,
            "matched_lines": self.matched_lines,
            "exceptions": self.kinds,
            "auto_postings": self.auto_postings,
            "open_lines": self.open_lines,
            "open_entries": self.open_entries,
            "queue": self.queue.as_dict(),
            "statement_hash": self.statement_hash,
        }


def _special(session: Session, special_account_id: int) -> SpecialAccount:
    special = session.get(SpecialAccount, special_account_id)
    if special is None:
        raise NotFound("专户不存在", f"special account {special_account_id} not found")
    return special


def last_run(
    session: Session, special_account_id: int, before: date | None = None
) -> ReconRun | None:
    query = select(ReconRun).where(ReconRun.special_account_id == special_account_id)
    if before is not None:
        query = query.where(ReconRun.business_date < before)
    return session.scalars(query.order_by(ReconRun.business_date.desc()).limit(1)).first()


def _last_statement_run(session: Session, special_account_id: int, before: date) -> ReconRun | None:
    return session.scalars(
        select(ReconRun)
        .where(
            ReconRun.special_account_id == special_account_id,
            ReconRun.business_date < before,
            ReconRun.has_statement.is_(True),
        )
        .order_by(ReconRun.business_date.desc())
        .limit(1)
    ).first()


def _days_without_statement(
    session: Session, special_account_id: int, after: date, before: date, config: MatchConfig
) -> list[date]:
    """The banking days between ``after`` (the last night with a statement) and ``before``
    that were reconciled without one, oldest first."""
    return [
        day
        for day in session.scalars(
            select(ReconRun.business_date)
            .where(
                ReconRun.special_account_id == special_account_id,
                ReconRun.has_statement.is_(False),
                ReconRun.business_date > after,
                ReconRun.business_date < before,
            )
            .order_by(ReconRun.business_date)
        )
        if config.calendar is None or config.calendar.is_banking_day(day)
    ]


@dataclass(frozen=True)
class _LateGap:
    """Days reconciled without a statement before a later statement was reconciled (the run
    ``after``, whose opening bridged them): their statements, sent later still, can no longer
    continue the chain, but their lines must still be reconciled."""

    days: tuple[date, ...]
    after: ReconRun


def _late_gaps(
    session: Session,
    special_account_id: int,
    business_date: date,
    last_statement: ReconRun | None,
    config: MatchConfig,
) -> list[_LateGap]:
    """The days of the last ``LATE_STATEMENT_DAYS`` reconciled without a statement, before
    ``last_statement`` (so out of the chain), whose statement no run has taken in yet (the
    ``late_statements`` of the runs' audit events), grouped by the statement run that followed
    them. Days before the account's first statement are not among them: that statement's
    opening took their movement in."""
    if last_statement is None:
        return []
    since = business_date - timedelta(days=LATE_STATEMENT_DAYS)
    runs = list(
        session.scalars(
            select(ReconRun)
            .where(
                ReconRun.special_account_id == special_account_id,
                ReconRun.business_date >= since,
                ReconRun.business_date <= last_statement.business_date,
            )
            .order_by(ReconRun.business_date)
        )
    )
    gaps = [
        r
        for r in runs
        if not r.has_statement
        and (config.calendar is None or config.calendar.is_banking_day(r.business_date))
    ]
    if not gaps:
        return []
    taken = _taken_in(session, [r.id for r in runs])
    first_statement = session.scalar(
        select(ReconRun.business_date)
        .where(
            ReconRun.special_account_id == special_account_id,
            ReconRun.has_statement.is_(True),
        )
        .order_by(ReconRun.business_date)
        .limit(1)
    )
    groups: dict[int, tuple[list[date], ReconRun]] = {}
    for gap in gaps:
        if gap.business_date in taken or first_statement is None:
            continue
        if gap.business_date < first_statement:
            continue
        after = next(
            (r for r in runs if r.has_statement and r.business_date > gap.business_date), None
        )
        if after is None:
            continue
        groups.setdefault(after.id, ([], after))[0].append(gap.business_date)
    return [_LateGap(tuple(days), after) for days, after in groups.values()]


def _run_events(session: Session, run_ids: Sequence[int], key: str) -> list[str]:
    """The values listed under ``key`` in the ``reconcile.run`` audit events of the runs
    ``run_ids`` (what each run recorded of the late statements and bridged entries)."""
    if not run_ids:
        return []
    values: list[str] = []
    for payload in session.scalars(
        select(AuditEvent.payload).where(
            AuditEvent.action == "reconcile.run",
            AuditEvent.object_type == "recon_run",
            AuditEvent.object_id.in_([str(i) for i in run_ids]),
        )
    ):
        listed = payload.get(key)
        if isinstance(listed, list):
            values.extend(str(v) for v in listed)
    return values


def _taken_in(session: Session, run_ids: Sequence[int]) -> set[date]:
    """The days whose statements, sent late, the runs ``run_ids`` reconciled."""
    return {date.fromisoformat(day) for day in _run_events(session, run_ids, "late_statements")}


def _bridged(session: Session, run: ReconRun) -> list[str]:
    """The book entries ``run`` took as shown by the statements then missing."""
    return _run_events(session, [run.id], "shown_by_missing_statement")


def _balances(statement: Statement, day: date) -> StatementBalances:
    subs = statement.sub_account_balances
    opening = statement.opening_balance_fen
    closing = statement.closing_balance_fen
    if opening is None:
        opening = sum(b.opening_fen for b in subs)
    if closing is None:
        closing = (
            sum(b.closing_fen for b in subs)
            if subs
            else opening + sum(e.signed_amount_fen for e in statement.entries)
        )
    return StatementBalances(
        statement_date=day, opening_fen=opening, closing_fen=closing, sub_accounts=subs
    )


def _settled_since(session: Session, special_account_id: int, run: ReconRun | None) -> set[str]:
    """Entries closed outside a run (manual matches, automatic postings and their undoing).

    Those since the previous run are enough: an entry a person books is dated no later than
    the next date to reconcile (``queue.entry_date``), so the next run is the one offering it,
    and a manual match takes only entries some run has offered already."""
    since = run.started_at if run is not None else None
    settled: set[str] = set()
    matches = select(ManualMatch.entry_ids_json).where(
        ManualMatch.special_account_id == special_account_id
    )
    if since is not None:
        matches = matches.where(ManualMatch.created_at > since)
    for text in session.scalars(matches):
        settled.update(json.loads(text))
    autos = (
        select(AutoPosting.journal_transaction_id, AutoPosting.reversal_transaction_id)
        .join(ReconRun, ReconRun.id == AutoPosting.run_id)
        .where(ReconRun.special_account_id == special_account_id)
    )
    if since is not None:
        autos = autos.where(or_(AutoPosting.created_at > since, AutoPosting.undone_at > since))
    for posted, reversal in session.execute(autos).all():
        settled.add(entry_id_of(posted))
        if reversal is not None:
            settled.add(entry_id_of(reversal))
    return settled


def reconcile_account(
    session: Session,
    special_account_id: int,
    business_date: date,
    *,
    adapter_for: AdapterFor | None = None,
    statement: Statement | None = None,
    config: MatchConfig | None = None,
    actor: str = RECONCILER,
) -> AccountOutcome:
    """Reconcile one special account for one business date (see the module's docstring).

    The statement is ``statement`` when given, else read from the stored inbound statement
    files of the account's bank with ``adapter_for(bank_code)``; with neither, the day has no
    statement (a statement gap). Dates are reconciled in order, each once: after the account's
    first run, only the calendar day after its last reconciled date (:func:`dates_to_reconcile`
    lists the dates that come next, through a given one).
    """
    config = config or MatchConfig()
    special = _special(session, special_account_id)
    later = last_run(session, special_account_id)
    if later is not None and later.business_date >= business_date:
        raise Conflict(
            f"专户 {special.account_number} 已对账至 {later.business_date}",
            f"special account {special.account_number} is reconciled through "
            f"{later.business_date}: {business_date} cannot be reconciled again",
            code="already_reconciled",
        )
    if later is not None and business_date > later.business_date + timedelta(days=1):
        following = later.business_date + timedelta(days=1)
        raise Conflict(
            f"专户 {special.account_number} 已对账至 {later.business_date}，"
            f"须先对账 {following}，不能跳过",
            f"special account {special.account_number} is reconciled through "
            f"{later.business_date}: {following} comes next, {business_date} cannot be "
            "reconciled before it",
            code="earlier_date_first",
            next_date=following.isoformat(),
        )
    started = utcnow()
    # the books as far as this run reads them (every leg up to the watermark committed);
    # what is posted after is the next night's
    watermark = journal_watermark(session)
    previous = later
    previous_statement = _last_statement_run(session, special_account_id, business_date)
    # Statements the bank sent late for days reconciled without one: when every such day has
    # its statement now, their lines join this night's and the last of them is the previous
    # day the opening must continue (a day still missing stays a gap, its movement bridged).
    # They are looked for in the same reading of the stored files as the night's own.
    without = (
        _days_without_statement(
            session, special_account_id, previous_statement.business_date, business_date, config
        )
        if previous_statement is not None and adapter_for is not None
        else []
    )
    # Statements sent later still, after a later statement was reconciled: they can no
    # longer continue the chain, but their lines join this night's, with the entries the later
    # statement's opening took as shown by them, once every day of their gap has come.
    late_gaps = (
        _late_gaps(session, special_account_id, business_date, previous_statement, config)
        if adapter_for is not None
        else []
    )
    wanted = (
        ([] if statement is not None else [business_date])
        + without
        + [day for gap in late_gaps for day in gap.days]
    )
    found = (
        find_statements(session, special, wanted, adapter_for)
        if adapter_for is not None and wanted
        else {}
    )
    out_of_chain = [
        (day, found[day])
        for gap in late_gaps
        if all(day in found for day in gap.days)
        for day in gap.days
    ]
    reoffered = [
        entry_id
        for gap in late_gaps
        if all(day in found for day in gap.days)
        for entry_id in _bridged(session, gap.after)
    ]
    statement = statement if statement is not None else found.get(business_date)
    if statement is not None and statement.account != special.account_number:
        raise ValidationFailed(
            "对账单不属于该专户",
            f"statement {statement.statement_id} is for {statement.account}, "
            f"not {special.account_number}",
        )
    late = (
        [(day, found[day]) for day in without]
        if statement is not None and all(day in found for day in without)
        else []
    )
    found = {}  # the statements are in ``statement`` and ``late`` now

    # bank lines: the day's statement, the late ones and the lines earlier nights left open
    carried = list(
        session.scalars(select(OpenItem).where(OpenItem.special_account_id == special_account_id))
    )
    since = {(o.item_type, o.item_id): o.since for o in carried}
    today = statement_lines_frame(statement) if statement is not None else None
    balances = _balances(statement, business_date) if statement is not None else None
    statement_id = statement.statement_id if statement is not None else None
    statement = None  # its lines are in the frame now: let a large statement go
    old_lines = lines_from_json(o.line_json for o in carried if o.item_type == LINE and o.line_json)
    late_lines = [statement_lines_frame(s) for _, s in (*late, *out_of_chain)]
    late_balances = [_balances(s, day) for day, s in late]
    late_days = sorted(day for day, _ in (*late, *out_of_chain))
    late = out_of_chain = []  # their lines are in the frames now
    frames = [f for f in (today, *late_lines, old_lines) if f is not None and not f.is_empty()]
    lines = (
        pl.concat(frames, how="vertical").unique("line_id", keep="first", maintain_order=True)
        if frames
        else pl.DataFrame(schema=LINE_SCHEMA)
    )

    book = load_book(
        session,
        special_account_id,
        business_date,
        previous_date=previous.business_date if previous else None,
        previous_started=previous.started_at if previous else None,
        open_entry_ids=[o.item_id for o in carried if o.item_type == ENTRY] + reoffered,
        watermark=watermark,
        previous_watermark=previous.journal_watermark if previous else None,
        settled_entry_ids=_settled_since(session, special_account_id, previous),
        line_refs=lines["end_to_end_id"],
        return_window_days=config.return_window_days,
    )
    prev_day = None
    if late_balances:
        last_late = late_balances[-1]
        prev_day = PreviousDay(
            statement_date=last_late.statement_date,
            closing_fen=last_late.closing_fen,
            sub_account_closings_fen={b.sub_account: b.closing_fen for b in last_late.sub_accounts},
        )
    elif previous_statement is not None:
        prev_day = PreviousDay(
            statement_date=previous_statement.business_date,
            closing_fen=previous_statement.closing_fen or 0,
            sub_account_closings_fen=json.loads(previous_statement.sub_closings_json),
        )
    seen = _seen_transactions(session, special_account_id, lines)
    present = set(lines["line_id"].filter(lines["line_id"].is_in(list(seen.values()))))
    request = ReconciliationRequest(
        special_account=special.account_number,
        business_date=business_date,
        statement=balances,
        previous=prev_day,
        ledger_balances_fen=ledger_balances(session, special_account_id, business_date),
        first_statement=previous_statement is None,
        # every stored day links to the day before it, with or without a statement
        previous_hash=previous.statement_hash if previous is not None else "",
        sub_accounts=frozenset(book.associations),
        # ids an earlier statement showed on another line: this night's line is a copy (the
        # line that showed it first, when still open and carried in, is not)
        known_bank_transaction_ids=frozenset(
            txn for txn, first_line in seen.items() if first_line not in present
        ),
        cash_in_hand=book.cash_in_hand,
    )
    result = reconcile_frames(request, lines, book.entries, config)
    exceptions = _kept_exceptions(result)

    run = ReconRun(
        special_account_id=special_account_id,
        business_date=business_date,
        has_statement=balances is not None,
        statement_id=statement_id,
        opening_fen=request.statement.opening_fen if request.statement else None,
        closing_fen=request.statement.closing_fen if request.statement else None,
        sub_closings_json=json.dumps(
            {b.sub_account: b.closing_fen for b in request.statement.sub_accounts}
            if request.statement
            else {},
            sort_keys=True,
        ),
        line_count=len(lines),
        entry_count=len(book.entries),
        previous_hash=result.statement.previous_hash,
        statement_hash=result.statement.digest,
        statement_json=result.statement.canonical_bytes().decode("utf-8"),
        actor=actor,
        started_at=started,
        journal_watermark=watermark,
    )
    session.add(run)
    session.flush()

    pairs = result.match_pairs
    closed_lines = set(pairs["line_id"].to_list())
    closed_entries = set(pairs["entry_id"].drop_nulls().to_list())
    # shown by the statement of a day the bank never sent: the balance moved by their sum
    closed_entries.update(result.missing_statement_entry_ids)
    posted = 0
    undone = _undone_lines(session, special_account_id)
    for proposal in result.proposals:
        if undone.intersection(proposal.line_ids):
            # a person undid this booking before: it is theirs to resolve, never rebooked
            exceptions += (_not_rebooked(proposal),)
            continue
        if _book_proposal(session, run, proposal, lines, book.associations, actor):
            closed_lines.update(proposal.line_ids)
            closed_entries.update(proposal.entry_ids)
            posted += 1
    copies = _copies(exceptions, lines)
    closed_lines |= copies
    _remember_transactions(session, special_account_id, business_date, today, seen, copies)
    returned_lines, returned_entries = _returns_and_their_reversals(
        exceptions, lines, book.entries, book.reversal_of, closed_entries
    )
    closed_lines |= returned_lines
    closed_entries |= returned_entries

    open_lines = lines.filter(~pl.col("line_id").is_in(sorted(closed_lines)))
    open_entries = [
        e
        for e in book.entries.filter(pl.col("status") == "posted")["entry_id"].to_list()
        if e not in closed_entries
    ]
    _keep_open(session, special_account_id, business_date, open_lines, open_entries, since)

    run.matched_count = len(set(pairs["line_id"].to_list()))
    run.exception_count = len(exceptions)
    run.auto_posted_count = posted
    run.open_line_count = len(open_lines)
    run.open_entry_count = len(open_entries)
    run.finished_at = utcnow()
    synced = queue.sync_run(
        session,
        special_account_id=special_account_id,
        business_date=business_date,
        exceptions=exceptions,
        associations=book.associations,
        entry_associations=_entry_associations(book.entries, exceptions),
        actor=actor,
        lines={
            line_id: text
            for line_id, _, text in lines_to_json(
                lines.filter(
                    pl.col("line_id").is_in(sorted({i for x in exceptions for i in x.line_ids}))
                )
            )
        },
        checks=queue.RunChecks(
            balances_compared=request.statement is not None,
            balance_sub_accounts=frozenset(request.ledger_balances_fen).union(
                b.sub_account for b in request.statement.sub_accounts
            )
            if request.statement is not None
            else None,
        ),
    )
    synced.cleared += queue.close_gaps_sent_late(
        session, special_account_id, late_days, on=business_date, actor=actor
    )
    kinds: dict[str, int] = {}
    for x in exceptions:
        kinds[x.kind.value] = kinds.get(x.kind.value, 0) + 1
    audit.record(
        session,
        actor=actor,
        action="reconcile.run",
        object_type="recon_run",
        object_id=run.id,
        payload={
            "special_account": special.account_number,
            "business_date": business_date.isoformat(),
            "statement_hash": run.statement_hash,
            "previous_hash": run.previous_hash,
            "exceptions": kinds,
            "auto_postings": posted,
            **(
                {"shown_by_missing_statement": list(result.missing_statement_entry_ids)}
                if result.missing_statement_entry_ids
                else {}
            ),
            **({"late_statements": [d.isoformat() for d in late_days]} if late_days else {}),
        },
    )
    return AccountOutcome(
        special_account_id=special_account_id,
        business_date=business_date,
        run_id=run.id,
        has_statement=balances is not None,
        lines=len(lines),
        entries=len(book.entries),
        matched_lines=run.matched_count,
        exceptions=exceptions,
        auto_postings=posted,
        open_lines=len(open_lines),
        open_entries=len(open_entries),
        statement_hash=run.statement_hash,
        queue=synced,
        kinds=kinds,
    )


def dates_to_reconcile(session: Session, special_account_id: int, through: date) -> list[date]:
    """The business dates one special account is reconciled on to be reconciled through
    ``through``, oldest first: every calendar day from the day after its last reconciled date
    (the first time: ``through`` only). Empty when it is reconciled through ``through``
    already. The nightly step and ``huzhu reconcile`` both reconcile these, in this order."""
    last = last_run(session, special_account_id)
    current = through if last is None else last.business_date + timedelta(days=1)
    dates = []
    while current <= through:
        dates.append(current)
        current += timedelta(days=1)
    return dates


def refuse_after_today(business_date: date, today: date) -> None:
    """A date after today (the county's) has no statement yet: reconciled, it would close
    every earlier day for good. Refused before anything is done."""
    if business_date > today:
        raise ValidationFailed(
            f"对账日期 {business_date} 晚于今天 {today}：银行尚无该日对账单，未做任何对账",
            f"the business date {business_date} is after today, {today}: the bank has no "
            "statement for it yet; nothing was reconciled",
            code="date_in_future",
            latest=today.isoformat(),
        )


def pending_dates(
    session: Session, day: date, *, lag_days: int = STATEMENT_LAG_DAYS
) -> list[tuple[int, date]]:
    """What the nightly ``reconcile`` step for run date ``day`` has to do: for every special
    account, its :func:`dates_to_reconcile` through ``day - lag_days``, oldest first."""
    through = day - timedelta(days=lag_days)
    return [
        (special_id, current)
        for special_id in session.scalars(select(SpecialAccount.id).order_by(SpecialAccount.id))
        for current in dates_to_reconcile(session, special_id, through)
    ]


def reconcile_business_date(
    session: Session,
    day: date,
    *,
    adapter_for: AdapterFor | None = None,
    config: MatchConfig | None = None,
    lag_days: int = STATEMENT_LAG_DAYS,
    actor: str = RECONCILER,
) -> list[AccountOutcome]:
    """Every account and date of :func:`pending_dates`, each through :func:`reconcile_account`,
    in the caller's one transaction. (The nightly step gives each its own transaction.)"""
    return [
        reconcile_account(
            session, special_id, current, adapter_for=adapter_for, config=config, actor=actor
        )
        for special_id, current in pending_dates(session, day, lag_days=lag_days)
    ]


# --- after the engine ----------------------------------------------------------------------


def _kept_exceptions(result: ReconciliationResult) -> tuple[ReconException, ...]:
    """The engine's exceptions less those about an expected repayment alone: an instalment
    nobody paid by transfer is the collections' business, not a reconciliation exception."""
    kept = []
    for x in result.exceptions:
        if (
            x.kind is ExceptionKind.UNMATCHED_BOOK
            and x.entry_ids
            and all(schedule_line_id_of(e) is not None for e in x.entry_ids)
        ):
            continue
        kept.append(x)
    return tuple(kept)


def _undone_lines(session: Session, special_account_id: int) -> set[str]:
    texts = session.scalars(
        select(AutoPosting.lines_json)
        .join(ReconRun, ReconRun.id == AutoPosting.run_id)
        .where(
            ReconRun.special_account_id == special_account_id,
            AutoPosting.undone_at.is_not(None),
        )
    )
    return {line["line_id"] for text in texts for line in json.loads(text)}


def _not_rebooked(proposal: ProposedPosting) -> ReconException:
    return ReconException(
        ExceptionKind.UNMATCHED_BANK,
        line_ids=tuple(sorted(proposal.line_ids)),
        sub_account=proposal.sub_account,
        subject="undone",
        actual_fen=proposal.amount_fen if proposal.credit else -proposal.amount_fen,
        detail="自动记账已撤销，待人工处理 / automatic posting undone: for a person to resolve",
    )


def _copies(exceptions: Sequence[ReconException], lines: pl.DataFrame) -> set[str]:
    """The copies a duplicate exception names: not real movements, so never kept open."""
    copies: set[str] = set()
    named = sorted({i for x in exceptions if x.kind is ExceptionKind.DUPLICATE for i in x.line_ids})
    dates = dict(
        lines.filter(pl.col("line_id").is_in(named)).select("line_id", "booking_date").iter_rows()
    )
    for x in exceptions:
        if x.kind is not ExceptionKind.DUPLICATE:
            continue
        if x.subject.startswith("copy:"):
            copies.add(x.subject[len("copy:") :])
        elif x.subject.startswith("txn:") and len(x.line_ids) > 1:
            original = min(x.line_ids, key=lambda i: (dates.get(i), i))
            copies.update(i for i in x.line_ids if i != original)
        else:
            copies.update(x.line_ids)
    return copies


def _returns_and_their_reversals(
    exceptions: Sequence[ReconException],
    lines: pl.DataFrame,
    entries: pl.DataFrame,
    reversal_of: dict[str, str],
    closed_entries: set[str],
) -> tuple[set[str], set[str]]:
    """A return the books have reversed already: the return line and the ledger's reversal
    agree, so both close (the queue keeps the returned-after-settlement item)."""
    lines_out: set[str] = set()
    entries_out: set[str] = set()
    returns = [x for x in exceptions if x.kind is ExceptionKind.RETURNED_AFTER_SETTLEMENT]
    if not returns:
        return lines_out, entries_out
    info = {
        row[0]: row[1:]
        for row in lines.select("line_id", "end_to_end_id", "amount_fen", "credit").iter_rows()
    }
    reversals = entries.filter(pl.col("entry_id").is_in(sorted(reversal_of)))
    candidates = {
        (ref, amount, credit): entry_id
        for entry_id, ref, amount, credit in reversals.select(
            "entry_id", "end_to_end_id", "amount_fen", "credit"
        ).iter_rows()
        if entry_id not in closed_entries
    }
    for x in returns:
        for line_id in x.line_ids:
            ref, amount, credit = info.get(line_id, (None, None, None))
            entry_id = candidates.pop((ref, amount, credit), None)
            if entry_id is not None:
                lines_out.add(line_id)
                entries_out.add(entry_id)
    return lines_out, entries_out


def _entry_associations(
    entries: pl.DataFrame, exceptions: Sequence[ReconException]
) -> dict[str, int]:
    """The association of each entry an exception names."""
    named = sorted({e for x in exceptions for e in x.entry_ids})
    return {
        entry_id: int(assoc)
        for entry_id, assoc in entries.filter(pl.col("entry_id").is_in(named))
        .select("entry_id", "association_id")
        .iter_rows()
        if assoc is not None and assoc.isdigit()
    }


_SEPARATOR = "\x1f"  # the unit separator (chr(31)): no bank prints it inside an id


def _seen_transactions(
    session: Session, special_account_id: int, lines: pl.DataFrame
) -> dict[str, str]:
    """Of the lines' bank transaction ids, those an earlier statement showed: id -> the line
    that showed it first. Asked through the driver, in key order: a night can bring a million
    ids, more than a statement of bound parameters each should be built for."""
    column = lines["bank_transaction_id"].drop_nulls().unique().sort()
    ids = column.to_list()
    if not ids:
        return {}
    table = SeenTransaction.__tablename__
    query = f"SELECT bank_transaction_id, line_id FROM {table} WHERE special_account_id = "
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if session.get_bind().dialect.name == "postgresql":
            if column.str.contains(_SEPARATOR, literal=True).any():
                cursor.execute(
                    query + "%s AND bank_transaction_id = ANY(%s)", (special_account_id, ids)
                )
            else:  # one text split by the server: a list of a million is slow to send
                cursor.execute(
                    query + "%s AND bank_transaction_id = ANY(string_to_array(%s, chr(31)))",
                    (special_account_id, _SEPARATOR.join(ids)),
                )
            return dict(cursor.fetchall())
        seen: dict[str, str] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            cursor.execute(
                query + f"? AND bank_transaction_id IN ({marks})", (special_account_id, *chunk)
            )
            seen.update(cursor.fetchall())
        return seen
    finally:
        cursor.close()


def _remember_transactions(
    session: Session,
    special_account_id: int,
    day: date,
    today: pl.DataFrame | None,
    seen: dict[str, str],
    copies: set[str],
) -> None:
    """Record the bank transaction ids today's statement showed for the first time (a copy
    is never the first), and forget those past ``SEEN_TRANSACTION_DAYS``."""
    session.execute(
        delete(SeenTransaction).where(
            SeenTransaction.special_account_id == special_account_id,
            SeenTransaction.booking_date < day - timedelta(days=SEEN_TRANSACTION_DAYS),
        )
    )
    if today is None or today.is_empty():
        return
    first = (
        today.select("bank_transaction_id", "line_id", "booking_date")
        .filter(
            pl.col("bank_transaction_id").is_not_null()
            & ~pl.col("bank_transaction_id").is_in(list(seen))
            & ~pl.col("line_id").is_in(sorted(copies))
        )
        .sort("booking_date", "line_id")
        .unique("bank_transaction_id", keep="first", maintain_order=True)
        .sort("bank_transaction_id")  # inserted in key order: the tree fills left to right
    )
    _bulk_insert(
        session,
        SeenTransaction.__tablename__,
        first.select(
            pl.lit(special_account_id, pl.Int64).alias("special_account_id"),
            "bank_transaction_id",
            "line_id",
            pl.col("booking_date").cast(pl.String),  # ISO dates, as both databases keep them
        ),
    )


def _bulk_insert(session: Session, table: str, rows: pl.DataFrame) -> None:
    """Insert the rows of a frame (columns named as the table's) in the session's transaction,
    through the driver: a night's statement can hold a million lines, too many for one
    parameter set a row. PostgreSQL takes them by COPY, SQLite by ``executemany``."""
    if rows.is_empty():
        return
    columns = ", ".join(rows.columns)
    driver = session.connection().connection.driver_connection
    if session.get_bind().dialect.name == "postgresql":
        command = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
        with driver.cursor() as cursor, cursor.copy(command) as copy:  # type: ignore[union-attr]
            for chunk in rows.iter_slices(100_000):
                copy.write(chunk.write_csv(include_header=False))
        return
    marks = ", ".join("?" for _ in rows.columns)
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows.iter_rows())
    finally:
        cursor.close()


def _keep_open(
    session: Session,
    special_account_id: int,
    day: date,
    open_lines: pl.DataFrame,
    open_entries: Iterable[str],
    since: dict[tuple[str, str], date],
) -> None:
    session.execute(delete(OpenItem).where(OpenItem.special_account_id == special_account_id))
    lines = (
        {
            "special_account_id": special_account_id,
            "item_type": LINE,
            "item_id": line_id,
            "since": since.get((LINE, line_id), booked),
            "line_json": text,
        }
        for line_id, booked, text in lines_to_json(open_lines)
    )
    entries = (
        {
            "special_account_id": special_account_id,
            "item_type": ENTRY,
            "item_id": entry_id,
            "since": since.get((ENTRY, entry_id), day),
            "line_json": None,
        }
        for entry_id in open_entries
    )
    insert_rows(session, OpenItem, itertools.chain(lines, entries))


# --- automatic postings --------------------------------------------------------------------


def _line_json(lines: pl.DataFrame, line_ids: Sequence[str]) -> str:
    chosen = lines.filter(pl.col("line_id").is_in(list(line_ids)))
    return json.dumps(
        [json.loads(text) for _, _, text in lines_to_json(chosen)], ensure_ascii=False
    )


def _reference(lines: pl.DataFrame, line_ids: Sequence[str]) -> str:
    row = lines.filter(pl.col("line_id") == line_ids[0]).row(0, named=True)
    return str(row["bank_transaction_id"] or row["end_to_end_id"] or row["line_id"])[:100]


def _book_proposal(
    session: Session,
    run: ReconRun,
    proposal: ProposedPosting,
    lines: pl.DataFrame,
    associations: dict[str, int],
    actor: str,
) -> bool:
    """Book one proposed posting; False when it cannot be booked (its lines stay open)."""
    association_id = associations.get(proposal.sub_account or "")
    if association_id is None:
        return False
    reference = _reference(lines, proposal.line_ids)
    day = run.business_date
    if proposal.kind is PostingKind.REPAYMENT:
        booked = []
        for entry_id in proposal.entry_ids:
            schedule_id = schedule_line_id_of(entry_id)
            if schedule_id is None:
                return False
            booked.append(_book_repayment(session, schedule_id, reference, day, actor))
        for journal_id, schedule_id, principal, fee in booked:
            _record_auto(
                session,
                run,
                proposal,
                association_id,
                journal_id,
                lines,
                schedule_line_id=schedule_id,
                principal_fen=principal,
                fee_fen=fee,
                amount_fen=principal + fee,
            )
        return True
    amount = proposal.amount_fen
    if proposal.kind is PostingKind.BANK_FEE:
        kind: str = "bank_fee"
        other = AccountCode.EXPENSE_OTHER
        description = "银行手续费（自动）bank fee"
    else:
        kind = TransactionKind.DEPOSIT_INTEREST.value
        other = AccountCode.DEPOSIT_INTEREST
        description = "存款利息（自动）deposit interest"
    bank_leg = (
        ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, amount, reference)
        if proposal.credit
        else ledger.Posting.credit(AccountCode.BANK_SUB_ACCOUNT, amount, reference)
    )
    other_leg = (
        ledger.Posting.credit(other, amount, reference)
        if proposal.credit
        else ledger.Posting.debit(other, amount, reference)
    )
    transaction = ledger.post(
        session,
        association_id=association_id,
        business_date=day,
        description=description,
        kind=kind,
        legs=[bank_leg, other_leg],
        external_ref=reference,
        actor=actor,
    )
    _record_auto(session, run, proposal, association_id, transaction.id, lines, amount_fen=amount)
    return True


def _book_repayment(
    session: Session, schedule_id: int, reference: str, day: date, actor: str
) -> tuple[uuid.UUID, int, int, int]:
    line = session.get(RepaymentScheduleLine, schedule_id)
    assert line is not None
    principal, fee = split_payment(
        line.outstanding_principal_fen + line.outstanding_fee_fen,
        fee_due_fen=line.outstanding_fee_fen,
        principal_due_fen=line.outstanding_principal_fen,
    )
    loan = loans.record_repayment(
        session,
        line.loan_id,
        principal_fen=principal,
        fee_fen=fee,
        business_date=day,
        external_ref=reference,
        actor=actor,
    )
    line.paid_principal_fen += principal
    line.paid_fee_fen += fee
    line.status = ScheduleLineStatus.PAID
    line.next_attempt_on = None
    payments.caught_up(session, loan, as_of=day, end_to_end_id=reference, actor=actor)
    journal_id = session.scalars(
        select(JournalTransaction.id)
        .where(
            JournalTransaction.association_id == loan.association_id,
            JournalTransaction.external_ref == reference,
            JournalTransaction.kind == TransactionKind.REPAYMENT.value,
        )
        .order_by(JournalTransaction.created_at.desc())
        .limit(1)
    ).one()
    return journal_id, schedule_id, principal, fee


def _record_auto(
    session: Session,
    run: ReconRun,
    proposal: ProposedPosting,
    association_id: int,
    journal_id: uuid.UUID,
    lines: pl.DataFrame,
    *,
    amount_fen: int,
    schedule_line_id: int | None = None,
    principal_fen: int = 0,
    fee_fen: int = 0,
) -> None:
    auto = AutoPosting(
        run_id=run.id,
        kind=proposal.kind.value,
        association_id=association_id,
        journal_transaction_id=journal_id,
        schedule_line_id=schedule_line_id,
        principal_fen=principal_fen,
        fee_fen=fee_fen,
        amount_fen=amount_fen,
        lines_json=_line_json(lines, proposal.line_ids),
        reason=proposal.reason[:400],
    )
    session.add(auto)
    session.flush()
    audit.record(
        session,
        actor=RECONCILER,
        action="reconcile.auto_post",
        chain=audit.association_chain(association_id),
        object_type="recon_auto_posting",
        object_id=auto.id,
        payload={
            "kind": proposal.kind.value,
            "journal_transaction_id": str(journal_id),
            "amount_fen": amount_fen,
            "lines": list(proposal.line_ids),
            "auto": True,
        },
    )


def auto_postings(
    *,
    special_account_id: int | None = None,
    association_id: int | None = None,
    undone: bool | None = False,
) -> Select[AutoPosting]:
    """The automatic postings matching the filters (``undone``: None for all), as a query."""
    statement = select(AutoPosting)
    if special_account_id is not None:
        statement = statement.join(ReconRun, ReconRun.id == AutoPosting.run_id).where(
            ReconRun.special_account_id == special_account_id
        )
    if association_id is not None:
        statement = statement.where(AutoPosting.association_id == association_id)
    if undone is not None:
        statement = statement.where(
            AutoPosting.undone_at.is_not(None) if undone else AutoPosting.undone_at.is_(None)
        )
    return statement


def auto_posting_days(session: Session, postings: Iterable[AutoPosting]) -> dict[int, date]:
    """The business date of the run that booked each posting, by posting id, in one query."""
    runs = {auto.id: auto.run_id for auto in postings}
    days: dict[int, date] = dict(
        session.execute(
            select(ReconRun.id, ReconRun.business_date).where(ReconRun.id.in_(set(runs.values())))
        ).all()
    )
    return {auto_id: days[run_id] for auto_id, run_id in runs.items()}


def auto_posting_line_ids(auto: AutoPosting) -> list[str]:
    """The bank lines an automatic posting booked."""
    return [str(data["line_id"]) for data in json.loads(auto.lines_json)]


def get_auto_posting(session: Session, auto_posting_id: int) -> tuple[AutoPosting, Association]:
    """An automatic posting and the association it was booked for; ``NotFound`` otherwise."""
    auto = session.get(AutoPosting, auto_posting_id)
    association = session.get(Association, auto.association_id) if auto else None
    if auto is None or association is None:
        raise NotFound("自动记账不存在", f"automatic posting {auto_posting_id} not found")
    return auto, association


def undo_auto_posting(
    session: Session,
    auto_posting_id: int,
    *,
    actor: str,
    reason: str,
    on: date | None = None,
) -> AutoPosting:
    """Undo an automatic posting: reverse its journal transaction, give a repayment back to
    its instalment, and put its bank lines back among the open items for the next night.

    The reversal is dated ``on``, by default the next date the run reconciles, and never later
    (``queue.entry_date``): from that night on, the books lose the posting as the lines open."""
    auto, _association = get_auto_posting(session, auto_posting_id)
    if auto.undone_at is not None:
        raise Conflict("该自动记账已撤销", f"automatic posting {auto_posting_id} is undone already")
    if not reason.strip():
        raise ValidationFailed("撤销必须说明原因", "undoing an automatic posting needs a reason")
    if not actor.strip():
        raise ValidationFailed("请注明操作人", "the person acting must be named")
    run = session.get(ReconRun, auto.run_id)
    assert run is not None
    on = queue.entry_date(
        session, run.special_account_id, on, seen=run.business_date, since=run.business_date
    )
    reversal = ledger.reverse(
        session,
        auto.journal_transaction_id,
        business_date=on,
        reason=f"撤销自动记账 undo automatic posting: {reason}",
        actor=actor,
    )
    if auto.schedule_line_id is not None:
        line = session.get(RepaymentScheduleLine, auto.schedule_line_id)
        assert line is not None
        line.paid_principal_fen -= auto.principal_fen
        line.paid_fee_fen -= auto.fee_fen
        line.status = ScheduleLineStatus.OVERDUE if line.due_on < on else ScheduleLineStatus.OPEN
        loan = loans.get_loan(session, line.loan_id)
        loan.principal_repaid_fen -= auto.principal_fen
        loan.fee_paid_fen -= auto.fee_fen
        if loan.status in (LoanStatus.REPAID, LoanStatus.REPAYING):
            loan.repaid_on = None
            loan.repaid_on_time = None
            if line.status is ScheduleLineStatus.OVERDUE:
                loan.status = LoanStatus.OVERDUE
            elif loan.principal_repaid_fen == 0 and loan.fee_paid_fen == 0:
                loan.status = LoanStatus.DISBURSED
            else:
                loan.status = LoanStatus.REPAYING
    auto.undone_at = utcnow()
    auto.undone_by = actor
    auto.undo_reason = reason[:400]
    auto.reversal_transaction_id = reversal.id
    for data in json.loads(auto.lines_json):
        session.add(
            OpenItem(
                special_account_id=run.special_account_id,
                item_type=LINE,
                item_id=data["line_id"],
                since=date.fromisoformat(data["booking_date"]),
                line_json=json.dumps(data, ensure_ascii=False),
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="reconcile.auto_post_undone",
        chain=audit.association_chain(auto.association_id),
        object_type="recon_auto_posting",
        object_id=auto.id,
        payload={"reason": reason, "reversal_transaction_id": str(reversal.id)},
    )
    return auto


def transaction_ids(entry_ids: Iterable[str]) -> list[uuid.UUID]:
    return [t for t in (transaction_id_of(e) for e in entry_ids) if t is not None]
