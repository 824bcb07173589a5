"""The reconciliation engine: a pure library that matches book entries to bank entries.

No database and no I/O: it takes entries and returns matches and typed exceptions.

For one special account and business date::

    from reconciliation import (
        MatchConfig, ReconciliationRequest, reconcile, reconcile_frames,
        lines_from_statement, balances_from_statement,
    )

    request = ReconciliationRequest(
        special_account=statement.account,
        business_date=day,
        statement=balances_from_statement(statement),
        previous=PreviousDay(...),             # yesterday's closing and statement hash
        ledger_balances_fen={sub: fen, ...},   # POSTED + SETTLED entries per sub-account
        sub_accounts=frozenset(all_sub_accounts),
        known_bank_transaction_ids=frozenset(seen_before),
    )
    result = reconcile(request, lines, entries, MatchConfig(calendar=calendar))

``lines`` are today's bank lines plus every line still open from earlier days; ``entries`` are
the book entries still open (EXPECTED or POSTED) plus recently SETTLED ones for returns and
duplicates. With a million rows build Polars frames of ``LINE_SCHEMA``/``ENTRY_SCHEMA`` and call
``reconcile_frames``: the same engine, without a Python object per row.

The result carries:

- ``match_pairs`` (and ``matches()``): what the bank and the books agree on, by pass;
- ``exceptions``: ``ReconException`` items (kind, severity, ids, expected/actual fen, a Chinese
  and English explanation) with a ``fingerprint`` stable from night to night, so a queue can
  tell new, persisting and resolved items apart;
- ``pending_entry_ids``: book entries the bank may still show (within ``pending_days``);
- ``proposals`` (``proposals_frame``): postings the gateway may book by itself and undo later:
  borrower repayments by transfer that confirm an expected collection, bank fees and interest;
- ``statement``: the daily reconciliation statement per sub-account, with ``canonical_bytes()``
  and ``digest`` chained to the previous day's (``ReconciliationRequest.previous_hash``).

A duplicated bank line (a repeated bank transaction id, an identical line beyond the expected
count, a line of an entry reconciled earlier) is one ``duplicate`` exception. Whether the bank
also booked the copy is read from the statement's own balances, per sub-account: when opening
plus the lines less the copies equals the closing, the copy was only printed and is left out of
the balance checks and the daily statement; when opening plus every line equals the closing,
the bank booked it twice and the copy stays in (the duplicate exception explains the
difference to the books). A closing that fits neither is a ``balance_break`` as well.

A day with no statement is a ``statement_gap`` with subject ``missing:<day>``: raised that
night, and again (same subject, same fingerprint) by the next statement that shows the gap.

Invalid input (duplicate ids, amounts that are not positive fen, a line of another special
account, unknown entry kinds) raises ``ReconciliationInputError`` and nothing is returned.
"""

from reconciliation.calendar import BankingCalendar
from reconciliation.config import MatchConfig
from reconciliation.convert import balances_from_statement, line_from_entry, lines_from_statement
from reconciliation.engine import (
    Match,
    MatchPass,
    ReconciliationInputError,
    ReconciliationResult,
    reconcile,
    reconcile_frames,
)
from reconciliation.findings import (
    ExceptionKind,
    PostingKind,
    ProposedPosting,
    ReconException,
    Severity,
)
from reconciliation.frames import ENTRY_SCHEMA, LINE_SCHEMA, entries_frame, lines_frame
from reconciliation.model import (
    BankLine,
    BookEntry,
    BookKind,
    BookStatus,
    PreviousDay,
    ReconciliationRequest,
    StatementBalances,
)
from reconciliation.statement import DailyStatement, StatementLine, verify_chain

__all__ = [
    "ENTRY_SCHEMA",
    "LINE_SCHEMA",
    "BankLine",
    "BankingCalendar",
    "BookEntry",
    "BookKind",
    "BookStatus",
    "DailyStatement",
    "ExceptionKind",
    "Match",
    "MatchConfig",
    "MatchPass",
    "PostingKind",
    "PreviousDay",
    "ProposedPosting",
    "ReconException",
    "ReconciliationInputError",
    "ReconciliationRequest",
    "ReconciliationResult",
    "Severity",
    "StatementBalances",
    "StatementLine",
    "balances_from_statement",
    "entries_frame",
    "line_from_entry",
    "lines_frame",
    "lines_from_statement",
    "reconcile",
    "reconcile_frames",
    "verify_chain",
]
