"""The matching engine for one special account and business date.

Passes, each on what the previous ones left:

1. exact reference: the end-to-end id; then a contract number found in the remittance text
   (same direction and amount, within the date window);
2. counterparty card + amount + date window (bank fees and interest: sub-account + amount);
3. one-to-many and many-to-one by sum, only under an explicit grouping key (the same card,
   contract or end-to-end id within the window).

A pass matches only a pair (or group) that is the sole candidate on both sides; where more than
one fits, every candidate goes into one ``ambiguous`` exception and nothing is guessed. Amounts
never match with a tolerance. Decisions depend on sets of candidates, never on input order, and
every output is sorted by stable keys, so the same inputs in any order give the same output.

The engine works on Polars frames (``reconcile_frames``); ``reconcile`` takes dataclasses and
runs the same code.
"""

from __future__ import annotations

import gc
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from functools import cached_property
from operator import itemgetter

import numpy as np
import polars as pl

from adapters.money import grouped_yuan
from reconciliation.config import MatchConfig
from reconciliation.findings import (
    ExceptionKind,
    PostingKind,
    ProposedPosting,
    ReconException,
)
from reconciliation.frames import (
    ENTRY_SCHEMA,
    LINE_SCHEMA,
    check_schema,
    entries_frame,
    lines_frame,
)
from reconciliation.model import (
    BankLine,
    BookEntry,
    BookKind,
    BookStatus,
    ReconciliationRequest,
    signed,
)
from reconciliation.statement import DailyStatement, SubTotals, build_statement

K = ExceptionKind


class MatchPass(StrEnum):
    END_TO_END = "end_to_end"
    CONTRACT = "contract"
    CARD_AMOUNT = "card_amount"
    GROUP_SUM = "group_sum"
    REVERSAL = "reversal"  # a bank line and its reversal, cancelling each other
    OPENING = "opening"  # the first run: a line taking up the books' opening balance


@dataclass(frozen=True, slots=True)
class Match:
    """A group of bank lines and book entries that the bank and the books agree on."""

    group_id: str
    match_pass: MatchPass
    line_ids: tuple[str, ...]
    entry_ids: tuple[str, ...]


@dataclass(frozen=True)
class ReconciliationResult:
    """The outcome for one special account and business date.

    ``match_pairs`` has one row per (line, entry) pair of a match group: columns ``group_id``,
    ``match_pass``, ``line_id``, ``entry_id`` (null for the lines of a reversal pair), sorted
    by group, line and entry; ``matches()`` gives the groups. ``proposals_frame`` holds the
    proposed postings column by column, sorted by kind and first bank line, ``proposals`` the
    same as objects. Both are built on first use, from the row indices and the unordered
    ``proposal_rows`` the run leaves.
    """

    request: ReconciliationRequest
    pair_index: pl.DataFrame  # _g, match_pass, _li, _ei: row indices into the input frames
    line_ids: pl.Series  # the input lines' ids, by row index
    entry_ids: pl.Series  # the input entries' ids, by row index
    exceptions: tuple[ReconException, ...]
    pending_entry_ids: tuple[str, ...]
    proposal_rows: pl.DataFrame  # PROPOSAL columns, in no particular order
    statement: DailyStatement
    # open posted entries that days without a statement account for, to the fen (the first
    # statement after those days shows the bank's balance moved by exactly their sum)
    missing_statement_entry_ids: tuple[str, ...] = ()

    @cached_property
    def match_pairs(self) -> pl.DataFrame:
        index = self.pair_index
        return pl.DataFrame(
            {
                "group_id": self.line_ids.gather(index["_g"]),
                "match_pass": index["match_pass"].cast(pl.String),
                "line_id": self.line_ids.gather(index["_li"]),
                "entry_id": self.entry_ids.gather(index["_ei"]),
            },
            schema=_PAIR_SCHEMA,
        ).sort("group_id", "line_id", "entry_id", nulls_last=True)

    @cached_property
    def proposals_frame(self) -> pl.DataFrame:
        """The proposed postings, sorted by kind and first bank line."""
        return (
            self.proposal_rows.with_columns(pl.col("line_ids").list.first().alias("_first_line"))
            .sort("kind", "_first_line")
            .drop("_first_line")
        )

    @cached_property
    def proposals(self) -> tuple[ProposedPosting, ...]:
        """The proposals as objects, sorted by kind and first bank line."""
        return tuple(
            ProposedPosting(
                PostingKind(kind),
                tuple(line_ids),
                tuple(entry_ids),
                sub,
                amount,
                credit=credit,
                reason=reason,
            )
            for kind, line_ids, entry_ids, sub, amount, credit, reason in (
                self.proposals_frame.iter_rows()
            )
        )

    def matches(self) -> tuple[Match, ...]:
        grouped = (
            self.match_pairs.group_by("group_id")
            .agg(
                pl.col("match_pass").first(),
                pl.col("line_id").drop_nulls().unique().sort(),
                pl.col("entry_id").drop_nulls().unique().sort(),
            )
            .sort("group_id")
        )
        return tuple(
            Match(row[0], MatchPass(row[1]), tuple(row[2]), tuple(row[3]))
            for row in grouped.iter_rows()
        )

    def by_kind(self, kind: ExceptionKind) -> tuple[ReconException, ...]:
        return tuple(x for x in self.exceptions if x.kind is kind)


class ReconciliationInputError(ValueError):
    """The lines or entries handed to the engine are not usable; nothing was reconciled."""


_PASS_ENUM = pl.Enum([p.value for p in MatchPass])  # each pair's pass as a small integer code

_PAIR_SCHEMA: dict[str, pl.DataType] = {
    "group_id": pl.String(),
    "match_pass": pl.String(),
    "line_id": pl.String(),
    "entry_id": pl.String(),
}

# How the engine keeps pairs: with the row index of the line and the entry in the run's frames.
_PAIR_TYPES: dict[str, pl.DataType] = {
    "_g": pl.Int64(),  # the row index of the group's first line (by id): its id is the group id
    "match_pass": _PASS_ENUM,
    "_li": pl.Int64(),
    "_ei": pl.Int64(),
    "_first": pl.Boolean(),  # the first row of its bank line (a line may pair with many entries)
    # the pair checks when the pass that made the pair computed them (null: _checks does)
    "_wrong_sub": pl.Boolean(),  # the line's sub-account is not the entry's
    "_not_borrower": pl.Boolean(),  # a collection paid in from a card not the borrower's
}

# The columns a matching pass carries into its joins.
_L_SLIM = ["line_id", "_li", "l_credit", "l_amount", "l_day"]
_E_SLIM = ["entry_id", "_ei", "e_credit", "e_amount", "e_day"]

# What makes two bank lines identical (everything but their ids and occurrence).
_CONTENT = [
    "l_date",
    "l_credit",
    "l_amount",
    "l_e2e",
    "remittance",
    "cp",
    "l_sub",
    "l_channel",
    "btc",
    "reversal",
    "return_reason_code",
]

_IN_LEDGER = (BookStatus.POSTED.value, BookStatus.SETTLED.value)
_COLLECTED = (BookKind.REPAYMENT.value, BookKind.USAGE_FEE.value)
_FEE_KEY = {BookKind.BANK_FEE.value: "fee", BookKind.INTEREST.value: "interest"}


def reconcile(
    request: ReconciliationRequest,
    lines: Sequence[BankLine],
    entries: Sequence[BookEntry],
    config: MatchConfig | None = None,
) -> ReconciliationResult:
    """Reconcile dataclass inputs (the same engine as ``reconcile_frames``)."""
    return reconcile_frames(request, lines_frame(lines), entries_frame(entries), config)


def reconcile_frames(
    request: ReconciliationRequest,
    lines: pl.DataFrame,
    entries: pl.DataFrame,
    config: MatchConfig | None = None,
) -> ReconciliationResult:
    """Reconcile frames of ``LINE_SCHEMA`` and ``ENTRY_SCHEMA``."""
    return _Run(request, config or MatchConfig(), lines, entries).run()


# The columns rows are gathered from by index; gathering from a chunked column is many times
# slower, so these are made one chunk each first.
_GATHERED_L = ("line_id", "l_e2e", "l_amount", "l_credit", "l_channel", "l_sub", "btc", "cp")
_GATHERED_E = ("entry_id", "e_e2e", "e_amount", "e_credit", "status", "kind", "e_sub", "card")


def _one_chunk(frame: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    chunked = [c for c in columns if frame[c].n_chunks() > 1]
    if not chunked:
        return frame
    return frame.with_columns(frame[c].rechunk() for c in chunked)


def _signed(side: str) -> pl.Expr:
    """The amount in fen, negative for money out (``side``: ``l`` or ``e``)."""
    amount = pl.col(f"{side}_amount")
    return pl.when(pl.col(f"{side}_credit")).then(amount).otherwise(-amount)


def _one_of(col: str, values: Iterable[str]) -> pl.Expr:
    """``col`` is one of a few ``values`` (null where ``col`` is null), as ``is_in`` gives it.

    A chain of equalities: on a million strings and two or three values it is several times
    faster than ``is_in``.
    """
    return pl.any_horizontal(pl.col(col).eq(v) for v in values)


def _collected() -> pl.Expr:
    """An entry collected from a card: a repayment or usage fee paid in (the borrower's card)."""
    return _one_of("kind", _COLLECTED) & pl.col("e_credit") & pl.col("card").is_not_null()


def _hash_or_null(col: str) -> pl.Expr:
    """The column's 64-bit hash, null where the column is null (a hash is never null)."""
    return pl.when(pl.col(col).is_not_null()).then(pl.col(col).hash(seed=0))


def _repeated(values: pl.Series) -> np.ndarray:
    """Which non-null values occur more than once: found on 64-bit hashes, confirmed on values."""
    out = np.zeros(len(values), dtype=bool)
    present = values.is_not_null()
    every = values.hash(seed=0)
    hashed = every.filter(present) if values.null_count() else every
    # one sort of the hashes (Polars' sort, several times faster than NumPy's on a million; on
    # one thread, as fast here as on two at half the CPU): equal neighbours are the only values
    # that can repeat
    ordered = hashed.sort(multithreaded=False).to_numpy()
    repeats = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(repeats):
        return out
    suspect = every.is_in(pl.Series(repeats).unique().implode()) & present
    idx = np.flatnonzero(suspect.to_numpy())
    out[idx] = values.gather(idx).is_duplicated().to_numpy()
    return out


def _take(frame: pl.DataFrame, mask: np.ndarray) -> pl.DataFrame:
    """The rows of ``frame`` where ``mask`` is set, gathered by position: for a few rows of a
    wide frame, much faster than filtering every column on the mask."""
    return frame[np.flatnonzero(mask)]


def _rows_with(frame: pl.DataFrame, col: str, ids: Iterable[str]) -> pl.DataFrame:
    """The rows whose ``col`` is one of ``ids``."""
    wanted = pl.Series(list(set(ids)), dtype=pl.String)
    if wanted.is_empty():
        return frame.clear()
    return frame.filter(pl.col(col).is_in(wanted.implode()))


def _rows_matching(frame: pl.DataFrame, wanted: dict[str, pl.Series]) -> pl.DataFrame:
    """Rows where any column holds one of its wanted values: hashes first, strings to confirm."""

    def hashed(col: str, values: pl.Series) -> pl.Expr:
        return pl.col(col).hash(seed=0).is_in(values.drop_nulls().unique().hash(seed=0).implode())

    def exact(col: str, values: pl.Series) -> pl.Expr:
        return pl.col(col).is_in(values.drop_nulls().unique().implode())

    items = list(wanted.items())
    maybe = frame.select(pl.any_horizontal(hashed(c, v) for c, v in items)).to_series()
    near = _take(frame, maybe.to_numpy())
    return near.filter(pl.any_horizontal(exact(c, v) for c, v in items).fill_null(False))


def _edges(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """The rows of a two-column frame of ids as pairs (much faster than ``iter_rows``)."""
    a, b = frame.columns
    return list(zip(frame[a].to_list(), frame[b].to_list(), strict=True))


def _union_components(pairs: Iterable[tuple[str, str]]) -> list[tuple[list[str], list[str]]]:
    """Connected components of a bipartite graph of (line id, entry id) edges, sorted."""
    edges = list(pairs)
    left = Counter(a for a, _ in edges)
    right = Counter(b for _, b in edges)
    # an edge whose two ends have no other edge is a component by itself
    out = [([a], [b]) for a, b in edges if left[a] == 1 and right[b] == 1]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for line_id, entry_id in edges:
        if left[line_id] == 1 and right[entry_id] == 1:
            continue
        a, b = "L" + line_id, "E" + entry_id
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for node in parent:
        side = groups[find(node)]
        (side[0] if node[0] == "L" else side[1]).append(node[1:])
    out.extend((sorted(ls), sorted(es)) for ls, es in groups.values())
    return sorted(out)


class _CyclicGcPause:
    """Python's cyclic garbage collector paused while any run is in progress.

    A run makes no reference cycles, but the tens of thousands of short-lived containers it
    builds (ids, exceptions, groups) set off full collections of the whole process, each tens
    of milliseconds. Whatever cycles other threads make meanwhile are collected once the last
    run ends; a collector that was off when the first run began stays off.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._runs == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._runs += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._runs -= 1
            if self._runs == 0 and self._resume:
                gc.enable()


_GC_PAUSE = _CyclicGcPause()


# kind, line ids, entry ids, sub-account, subject, expected, actual, detail
_Raised = tuple[
    ExceptionKind, tuple[str, ...], tuple[str, ...], str | None, str, int | None, int | None, str
]


@dataclass(frozen=True, slots=True)
class _Matched:
    """What the matching passes leave for the checks."""

    ordinary: pl.DataFrame  # bank lines left unmatched
    active: pl.DataFrame  # book entries left unmatched
    returns: pl.DataFrame  # returns and reversals left unexplained
    not_copy: np.ndarray  # lines that are not a repeated bank transaction id


@dataclass(frozen=True, slots=True)
class _Pairs:
    """Every pair the passes made (``_PAIR_TYPES``), one chunk, with its row indices as arrays."""

    frame: pl.DataFrame
    g: np.ndarray  # the group's anchor line (row index)
    li: np.ndarray  # the line (row index)
    ei: np.ndarray  # the entry (row index), -1 for none: the last slot of an entry-sized mask

    @classmethod
    def of(cls, frames: Sequence[pl.DataFrame]) -> _Pairs:
        frame = pl.concat([pl.DataFrame(schema=_PAIR_TYPES), *frames], rechunk=True)
        return cls(
            frame,
            frame["_g"].to_numpy(),
            frame["_li"].to_numpy(),
            frame["_ei"].fill_null(-1).to_numpy(),
        )


@dataclass(frozen=True, slots=True)
class _Amounts:
    """Signed amounts in fen by line id and by entry id, for the lines and entries a check
    raises an exception about."""

    lines: dict[str, int]
    entries: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Flags:
    """Lines and entries flagged from the inputs alone, and the collections among the entries."""

    flagged_lines: pl.DataFrame
    cash_lines: list[str]
    inter_sub: list[str]
    flagged_entries: pl.DataFrame
    cash_entries: list[str]
    non_member: list[str]
    collected: np.ndarray  # collections paid in from a card (repayments, usage fees)
    expected_collection: np.ndarray  # entries an automatic booking may confirm


# Sums taken before matching: per sub-account over every line (bank, today, in, out, count),
# and each sub-account's posted entries' signed sum.
_AllTotals = tuple[pl.DataFrame, dict[str | None, int]]


class _Run:
    """One reconciliation run.

    ``L`` and ``E`` are all lines and entries with a row index (``_li``, ``_ei``); the passes
    hand on residual frames, and ``l_used``/``e_used`` mark rows a pass or an exception consumed.
    """

    def __init__(
        self,
        request: ReconciliationRequest,
        config: MatchConfig,
        lines: pl.DataFrame,
        entries: pl.DataFrame,
    ) -> None:
        self.request = request
        self.config = config
        self.lines = check_schema(lines, LINE_SCHEMA, "bank line")
        self.entries = check_schema(entries, ENTRY_SCHEMA, "book entry")
        # raised exceptions as ReconException fields, built once their sub-accounts are known
        self.raised: list[_Raised] = []
        self.pairs: list[pl.DataFrame] = []  # _PAIR_TYPES
        self.covered_lines: set[str] = set()  # lines an exception already speaks for
        self.copy_rows: set[int] = set()  # lines (by row) a duplicate exception calls a copy
        self.covered_entries: set[str] = set()
        self.run_ordinal = 0
        self._ordinals: pl.DataFrame | None = None
        self.l_matched = np.zeros(len(self.lines), dtype=bool)
        self.e_matched = np.zeros(len(self.entries), dtype=bool)
        self.opening_matched_fen: dict[str, int] = {}  # sub-account -> line taking the opening
        # entries the movement on days without a statement accounts for, and that movement
        self.missing_statement_entries: list[str] = []
        self.missing_days_moved_fen: dict[str, int] = {}

    # ---------------------------------------------------------------- preparation

    def _problems(self) -> list[str]:
        """Everything that makes the input unusable (empty when it is fine)."""
        lines, entries = self.lines, self.entries
        problems: list[str] = []
        for frame, id_col, what in ((lines, "line_id", "line"), (entries, "entry_id", "entry")):
            ids = frame[id_col]
            if ids.null_count():
                problems.append(f"a {what} has no id")
            elif _repeated(ids).any():
                dup = frame.filter(pl.col(id_col).is_duplicated())[id_col].unique().sort()
                problems.append(f"{what} ids not unique: {', '.join(dup.head(5).to_list())}")
            amounts = frame["amount_fen"]
            if amounts.null_count() or (len(amounts) and amounts.min() <= 0):  # type: ignore[operator]
                bad = frame.filter(pl.col("amount_fen").is_null() | (pl.col("amount_fen") <= 0))
                problems.append(
                    f"{what} {bad[id_col][0]}: amount_fen must be a positive number of fen"
                )
        for col in ("booking_date", "credit"):
            if lines[col].null_count():
                problems.append(f"a line has no {col}")
        for col in ("business_date", "credit", "sub_account", "kind", "status"):
            if entries[col].null_count():
                problems.append(f"an entry has no {col}")
        if (lines["special_account"] != self.request.special_account).any():
            other = lines.filter(pl.col("special_account") != self.request.special_account)
            problems.append(
                f"line {other['line_id'][0]} belongs to special account "
                f"{other['special_account'][0]}, not {self.request.special_account}"
            )
        statuses = {s.value for s in BookStatus}
        kinds = {k.value for k in BookKind}
        # three statuses are checked by equality; the kinds, more of them, by their distinct values
        if not entries.select(_one_of("status", statuses).all()).item():
            unknown = set(entries["status"].drop_nulls().unique().to_list()) - statuses
            problems.append(f"unknown entry status: {', '.join(sorted(unknown))}")
        if unknown := set(entries["kind"].drop_nulls().unique().to_list()) - kinds:
            problems.append(f"unknown entry kind: {', '.join(sorted(unknown))}")
        return problems

    def _with_ordinal(self, frame: pl.DataFrame, date_col: str, out: str) -> pl.DataFrame:
        if self._ordinals is None:
            return frame.with_columns(pl.col(date_col).cast(pl.Int64).alias(out))
        return frame.join(
            self._ordinals.rename({"day": date_col, "ordinal": out}), on=date_col, how="left"
        )

    def _prepare(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        req, cfg = self.request, self.config
        if cfg.calendar is not None:
            dates = [
                d
                for d in (
                    self.lines["booking_date"].min(),
                    self.lines["booking_date"].max(),
                    self.entries["business_date"].min(),
                    self.entries["business_date"].max(),
                    self.entries["first_expected"].min(),
                    self.entries["first_expected"].max(),
                    req.business_date,
                )
                if isinstance(d, date)
            ]
            start, end = min(dates), max(dates)
            self._ordinals = cfg.calendar.ordinal_table(start, end)
            self.run_ordinal = cfg.calendar.banking_days_between(start, req.business_date) + int(
                cfg.calendar.is_banking_day(start)
            )
        else:
            self.run_ordinal = (req.business_date - date(1970, 1, 1)).days
        lines = self.lines.rename(
            {
                "sub_account": "l_sub",
                "booking_date": "l_date",
                "credit": "l_credit",
                "amount_fen": "l_amount",
                "bank_transaction_id": "l_txn",
                "end_to_end_id": "l_e2e",
                "counterparty_account": "cp",
                "channel": "l_channel",
                "bank_transaction_code": "btc",
            }
        ).drop("special_account", "value_date", "counterparty_name")
        entries = self.entries.rename(
            {
                "sub_account": "e_sub",
                "business_date": "e_date",
                "credit": "e_credit",
                "amount_fen": "e_amount",
                "end_to_end_id": "e_e2e",
                "contract_number": "contract",
                "member_card": "card",
                "channel": "e_channel",
            }
        )
        return (
            _one_chunk(lines, _GATHERED_L)
            .with_row_index("_li")
            .with_columns(pl.col("_li").cast(pl.Int64)),
            _one_chunk(entries, _GATHERED_E)
            .with_row_index("_ei")
            .with_columns(pl.col("_ei").cast(pl.Int64)),
        )

    def _enrich(
        self, lines: pl.DataFrame, entries: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Day ordinals and matching keys, computed for the (small) residual frames only."""
        if "l_day" not in lines.columns:
            lines = self._with_ordinal(lines, "l_date", "l_day")
            fee_channel = pl.col("l_channel").is_in(["fee", "interest"])
            lines = lines.with_columns(
                pl.when(fee_channel)
                .then(
                    pl.concat_str(pl.col("l_channel"), pl.lit("|"), pl.col("l_sub").fill_null(""))
                )
                .otherwise(pl.lit("card|") + pl.col("cp"))
                .alias("l_key")
            )
        if "e_day" not in entries.columns:
            entries = self._with_ordinal(entries, "e_date", "e_day")
            entries = entries.with_columns(
                pl.when(pl.col("kind").is_in(list(_FEE_KEY)))
                .then(
                    pl.concat_str(
                        pl.col("kind").replace_strict(_FEE_KEY, default=""),
                        pl.lit("|"),
                        pl.col("e_sub"),
                    )
                )
                .otherwise(pl.lit("card|") + pl.col("card"))
                .alias("e_key")
            )
        return lines, entries

    def _window(self) -> pl.Expr:
        gap = pl.col("l_day") - pl.col("e_day")
        return gap.is_between(-self.config.days_before, self.config.days_after)

    # ---------------------------------------------------------------- exceptions

    def _raise(
        self,
        kind: ExceptionKind,
        line_ids: Iterable[str] = (),
        entry_ids: Iterable[str] = (),
        *,
        sub_account: str | None = None,
        subject: str = "",
        expected_fen: int | None = None,
        actual_fen: int | None = None,
        detail: str = "",
        cover_lines: Iterable[str] | None = None,
    ) -> None:
        """Record an exception; the items it covers get no other (unmatched) exception.

        Ids given as a tuple are taken as already sorted and distinct; any other iterable is
        sorted here. ``cover_lines`` limits which lines are covered (the rest are evidence
        only). The sub-account, when not given, is filled in at the end from the first line or
        entry.
        """
        ls = line_ids if isinstance(line_ids, tuple) else tuple(sorted(set(line_ids)))
        es = entry_ids if isinstance(entry_ids, tuple) else tuple(sorted(set(entry_ids)))
        self.covered_lines.update(ls if cover_lines is None else cover_lines)
        self.covered_entries.update(es)
        self.raised.append((kind, ls, es, sub_account, subject, expected_fen, actual_fen, detail))

    def _exceptions(self, lines: pl.DataFrame, entries: pl.DataFrame) -> list[ReconException]:
        """The raised exceptions in ``ReconException.sort_key`` order, each without a
        sub-account given the one of its first line (or, failing that, first entry) that
        names one."""
        # sorted as raw tuples on (kind, subject, line ids, entry ids): the exceptions' order
        raised = sorted(self.raised, key=itemgetter(0, 4, 1, 2))
        want_l = {i for x in raised if x[3] is None for i in x[1]}
        want_e = {i for x in raised if x[3] is None for i in x[2]}
        l_rows = _rows_with(lines.select("line_id", "l_sub"), "line_id", want_l).drop_nulls()
        l_sub = dict(zip(l_rows["line_id"].to_list(), l_rows["l_sub"].to_list(), strict=True))
        e_rows = _rows_with(entries.select("entry_id", "e_sub"), "entry_id", want_e)
        e_sub = dict(zip(e_rows["entry_id"].to_list(), e_rows["e_sub"].to_list(), strict=True))
        out = []
        for kind, ls, es, sub, subject, expected, actual, detail in raised:
            if sub is None:
                for i in ls:
                    if (sub := l_sub.get(i)) is not None:
                        break
                else:
                    for i in es:
                        if (sub := e_sub.get(i)) is not None:
                            break
            out.append(ReconException(kind, ls, es, sub, subject, expected, actual, detail))
        return out

    # ---------------------------------------------------------------- matching helpers

    def _add_pairs(
        self,
        pairs: pl.DataFrame,
        match_pass: MatchPass,
        group: pl.Expr,
        first: pl.Expr | None = None,
    ) -> None:
        """``pairs`` has _li and _ei (null for a reversal); ``group`` gives the anchor's _li.

        ``pairs`` may carry the pair checks (``_wrong_sub``, ``_not_borrower``) already.
        """
        checked = [
            pl.col(c) if c in pairs.columns else pl.lit(None, pl.Boolean).alias(c)
            for c in ("_wrong_sub", "_not_borrower")
        ]
        frame = pairs.select(
            group.cast(pl.Int64).alias("_g"),
            pl.lit(match_pass.value, _PASS_ENUM).alias("match_pass"),
            pl.col("_li").cast(pl.Int64),
            pl.col("_ei").cast(pl.Int64),
            (pl.lit(True) if first is None else first).alias("_first"),
            *checked,
        )
        self.pairs.append(frame)
        self.l_matched[frame["_li"].to_numpy()] = True
        self.e_matched[frame["_ei"].drop_nulls().to_numpy()] = True

    def _take_unique(
        self, cand: pl.DataFrame, match_pass: MatchPass
    ) -> tuple[pl.Series, pl.Series]:
        """Match the pairs that are each side's only candidate; raise the rest as ambiguous.

        Returns the row indices (``_li``, ``_ei``) of the lines and entries consumed (matched
        or raised).
        """
        if cand.is_empty():
            return pl.Series("_li", [], pl.Int64), pl.Series("_ei", [], pl.Int64)
        cand = cand.unique(["line_id", "entry_id"])
        # Identical lines are interchangeable: only the first of them is a candidate, so choosing
        # it is not a guess; a later identical one left over is then reported as a duplicate.
        crowded = pl.len().over("entry_id") > 1
        if cand.select(crowded.any()).item():
            many = cand.filter(crowded).select("line_id", "entry_id", "_li", "_ei")
            content = self.L.select("_li", "occurrence", *_CONTENT).filter(
                pl.col("_li").is_in(many["_li"].implode())
            )
            many = (
                many.join(content, on="_li")
                .sort("occurrence", "line_id")
                .unique(["entry_id", *_CONTENT], keep="first", maintain_order=True)
                .select("line_id", "entry_id", "_li", "_ei")
            )
            cand = pl.concat([cand.filter(~crowded).select(many.columns), many])
        cand = cand.with_columns(
            pl.len().over("line_id").alias("_nl"), pl.len().over("entry_id").alias("_ne")
        )
        unique = cand.filter((pl.col("_nl") == 1) & (pl.col("_ne") == 1))
        self._add_pairs(unique, match_pass, pl.col("_li"))
        rest = cand.filter((pl.col("_nl") > 1) | (pl.col("_ne") > 1))
        for ls, es in _union_components(_edges(rest.select("line_id", "entry_id"))):
            self._raise(
                K.AMBIGUOUS,
                ls,
                es,
                detail=f"{len(ls)} 笔流水 / lines, {len(es)} 笔账务 / entries ({match_pass.value})",
            )
        return cand["_li"].unique(), cand["_ei"].unique()

    @staticmethod
    def _components_with_rows(
        pairs: pl.DataFrame,
    ) -> Iterator[tuple[list[str], list[str], list[int], list[int]]]:
        """``_union_components`` of (line_id, entry_id), each with its rows (_li, _ei)."""
        l_row = dict(zip(pairs["line_id"].to_list(), pairs["_li"].to_list(), strict=True))
        e_row = dict(zip(pairs["entry_id"].to_list(), pairs["_ei"].to_list(), strict=True))
        for ls, es in _union_components(_edges(pairs.select("line_id", "entry_id"))):
            yield ls, es, [l_row[i] for i in ls], [e_row[i] for i in es]

    @staticmethod
    def _drop(frame: pl.DataFrame, col: str, ids: set[str]) -> pl.DataFrame:
        if not ids:
            return frame
        return frame.filter(~pl.col(col).is_in(list(ids)))

    @staticmethod
    def _drop_rows(frame: pl.DataFrame, col: str, rows: pl.Series) -> pl.DataFrame:
        """``frame`` less the rows whose index column ``col`` (``_li``, ``_ei``) is in ``rows``."""
        if rows.is_empty():
            return frame
        return frame.filter(~pl.col(col).is_in(rows.implode()))

    def _contract_keys(self, lines: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
        """(line_id, contract) for every contract number of ``entries`` named in a remittance.

        Taken once, on what the bulk pass leaves; the later passes work on fewer lines and
        entries, for which these keys are a superset that joins the same candidates.
        """
        if lines.is_empty() or entries["contract"].null_count() == len(entries):
            return pl.DataFrame(schema={"line_id": pl.String, "contract": pl.String})
        tokens = (
            lines.select(
                "line_id",
                pl.col("remittance")
                .str.extract_all(self.config.contract_pattern)
                .alias("contract"),
            )
            .explode("contract")
            .drop_nulls("contract")
            .unique()
        )
        known = entries.select("contract").drop_nulls().unique()
        return tokens.join(known, on="contract", how="semi")

    # ---------------------------------------------------------------- the run

    def run(self) -> ReconciliationResult:
        self.L, self.E = self._prepare()
        # The million-row passes that need no matching run on a second thread: the sums and
        # validation from the start, the input checks beside the residual passes. An invalid
        # input is refused whole: nothing is returned before validation has passed.
        with _GC_PAUSE, ThreadPoolExecutor(max_workers=1) as pool:
            all_totals = pool.submit(self._all_totals)
            problems = pool.submit(self._problems)
            try:
                state, flags = self._match(pool, all_totals)
                result = self._finish(state, flags.result(), all_totals)
            except Exception as exc:
                if found := problems.result():
                    raise ReconciliationInputError("; ".join(found)) from exc
                raise
            if problems.result():
                raise ReconciliationInputError("; ".join(problems.result()))
            return result

    def _match(
        self,
        pool: ThreadPoolExecutor,
        all_totals: Future[_AllTotals],
    ) -> tuple[_Matched, Future[_Flags]]:
        """The matching passes; the input checks are handed to ``pool`` once the bulk pass is
        done, to run beside the residual passes. The opening pass of a first statement reads
        the posted sums from ``all_totals``."""
        lines, entries = self.L, self.E
        # masks over the full frames, so the bulk pass never copies a million rows
        is_settled = entries["status"].eq(BookStatus.SETTLED.value).to_numpy()
        settled = _take(entries, is_settled)
        usable_e = ~is_settled
        not_copy = ~self._duplicate_transaction_ids(lines)
        is_return = (
            lines.select(pl.col("reversal") | pl.col("return_reason_code").is_not_null())
            .to_series()
            .to_numpy()
        )
        returns = _take(lines, is_return & not_copy)
        usable_l = not_copy & ~is_return
        usable_l &= ~self._pass_opening(lines, usable_l, all_totals)
        returns = self._reversal_pairs(returns, lines, usable_l, entries)

        ordinary, active = self._pass_end_to_end(lines, entries, usable_l, usable_e)
        flags = pool.submit(self._check_inputs)
        ordinary, active = self._enrich(ordinary, active)
        returns, settled = self._enrich(returns, settled)
        contracts = self._contract_keys(ordinary, active)
        ordinary, active = self._pass_contract(ordinary, active, contracts)
        ordinary, active = self._pass_card(ordinary, active)
        ordinary, active = self._pass_group_sum(ordinary, active, contracts)
        ordinary, active = self._amount_mismatches(ordinary, active, contracts)
        returns = self._returns_after_settlement(returns, entries)
        ordinary = self._settled_duplicates(ordinary, settled)

        return _Matched(ordinary, active, returns, not_copy), flags

    def _finish(
        self,
        state: _Matched,
        flags: _Flags,
        all_totals: Future[_AllTotals],
    ) -> ReconciliationResult:
        lines, entries = self.L, self.E
        ordinary, active, returns, not_copy = (
            state.ordinary,
            state.active,
            state.returns,
            state.not_copy,
        )
        pairs = _Pairs.of(self.pairs)
        self._checks(pairs, flags)
        proposals = self._proposals(pairs, ordinary, flags.expected_collection)
        leftover = pl.concat([ordinary, returns], how="diagonal_relaxed")
        self._content_duplicates(leftover, lines, not_copy)
        self._explain_missing_days(active)
        pending = self._unmatched(leftover, active, proposals)
        totals = self._balances_and_continuity(self._totals(all_totals.result()))
        exceptions = tuple(self._exceptions(lines, entries))
        pending_subs = Counter(
            active.filter(pl.col("entry_id").is_in(list(pending)))["e_sub"].to_list()
        )
        proposal_subs = {
            sub: int(n) for sub, n in proposals.group_by("sub_account").len().iter_rows()
        }
        statement = build_statement(
            self.request, totals, exceptions, pending_subs, proposal_subs, len(proposals)
        )
        return ReconciliationResult(
            self.request,
            pairs.frame.select("_g", "match_pass", "_li", "_ei"),
            self.lines["line_id"],
            self.entries["entry_id"],
            exceptions,
            pending,
            proposals,
            statement,
            tuple(sorted(self.missing_statement_entries)),
        )

    def _all_totals(self) -> _AllTotals:
        """Per sub-account sums over every line and posted entry, before any matching.

        The line sums carry the count and the money in and out of *every* line; the matched
        figures are these less the few lines left unmatched (``_totals``), so the million-row
        pass runs beside the matching passes rather than after them.
        """
        signed_l, signed_e = _signed("l"), _signed("e")
        stmt = self.request.statement
        day = stmt.statement_date if stmt else self.request.business_date
        per_line = (
            self.L.lazy()
            .select(
                "l_sub",
                signed_l.alias("bank"),
                pl.when(pl.col("l_date") == day).then(signed_l).otherwise(0).alias("today"),
                *self._in_out(),
            )
            .group_by("l_sub")
            .agg(pl.exclude("l_sub").sum(), pl.len().alias("count"))
        )
        posted = pl.col("status").eq(BookStatus.POSTED.value)
        per_entry = (
            self.E.lazy()
            .select("e_sub", pl.when(posted).then(signed_e).otherwise(0).alias("ledger"))
            .group_by("e_sub")
            .agg(pl.col("ledger").sum())
        )
        by_line, by_entry = pl.collect_all([per_line, per_entry])
        return by_line, dict(by_entry.select("e_sub", "ledger").iter_rows())

    @staticmethod
    def _in_out() -> tuple[pl.Expr, pl.Expr]:
        amount, credit = pl.col("l_amount"), pl.col("l_credit")
        return (
            pl.when(credit).then(amount).otherwise(0).alias("in"),
            pl.when(~credit).then(amount).otherwise(0).alias("out"),
        )

    def _totals(self, all_totals: _AllTotals) -> dict[str | None, SubTotals]:
        """Per sub-account: every line and posted entry, the matched lines, the day's movement."""
        by_line, by_entry = all_totals
        ledgers = dict(by_entry)
        unmatched = (
            self.L.lazy()
            .select("l_sub", *self._in_out())
            .filter(pl.lit(pl.Series("_u", ~self.l_matched)))
            .group_by("l_sub")
            .agg(pl.col("in", "out").sum().name.prefix("u_"), pl.len().alias("u_count"))
        )
        rows = by_line.lazy().join(unmatched, on="l_sub", how="left", nulls_equal=True)
        totals: dict[str | None, SubTotals] = {}
        for sub, bank, today, count, m_in, m_out in (
            rows.select(
                "l_sub",
                "bank",
                "today",
                pl.col("count") - pl.col("u_count").fill_null(0),
                pl.col("in") - pl.col("u_in").fill_null(0),
                pl.col("out") - pl.col("u_out").fill_null(0),
            )
            .collect()
            .iter_rows()
        ):
            totals[sub] = SubTotals(
                bank_items_fen=bank,
                ledger_items_fen=ledgers.pop(sub, 0),
                day_movement_fen=today,
                matched_count=count,
                matched_in_fen=m_in,
                matched_out_fen=m_out,
            )
        for sub, ledger in ledgers.items():
            totals[sub] = SubTotals(ledger_items_fen=ledger)
        return totals

    def _duplicate_transaction_ids(self, lines: pl.DataFrame) -> np.ndarray:
        """Raise the later copies of a bank transaction id; returns their mask."""
        known = self.request.known_bank_transaction_ids
        mask = pl.Series(_repeated(lines["l_txn"]))
        if known:
            mask = mask | lines["l_txn"].is_in(list(known)).fill_null(False)
        dropped = np.zeros(len(lines), dtype=bool)
        dups = lines.select("line_id", "l_txn", "l_date", "l_amount", "_li").filter(mask)
        if dups.is_empty():
            return dropped
        drop: set[str] = set()
        grouped = (
            dups.sort("l_date", "line_id")
            .group_by("l_txn", maintain_order=True)
            .agg(pl.col("line_id"), pl.col("l_amount").first())
        )
        for txn, ids, amount in grouped.iter_rows():
            originals = [] if txn in known else ids[:1]
            for line_id in ids[len(originals) :]:
                self._raise(
                    K.DUPLICATE,
                    [line_id, *originals],
                    subject=f"txn:{txn}",
                    actual_fen=int(amount),
                    detail=f"银行流水号重复 / bank transaction id {txn} seen before",
                    cover_lines=[line_id],
                )
                drop.add(line_id)
        rows = dups.filter(pl.col("line_id").is_in(list(drop)))["_li"]
        self.copy_rows.update(rows.to_list())
        dropped[rows.to_numpy()] = True
        return dropped

    def _ref(self) -> pl.Expr:
        return pl.coalesce(
            pl.lit("e2e|") + pl.col("l_e2e"), pl.lit("cp|") + pl.col("cp"), pl.col("line_id")
        )

    def _reversal_pairs(
        self,
        returns: pl.DataFrame,
        lines: pl.DataFrame,
        usable: np.ndarray,
        entries: pl.DataFrame,
    ) -> pl.DataFrame:
        """Pair each reversal with the line it reverses: same reference and amount, other way.

        The originals consumed are cleared in ``usable``; returns the returns left.
        """
        if returns.is_empty():
            return returns
        orig = _rows_matching(lines, {"l_e2e": returns["l_e2e"], "cp": returns["cp"]})
        orig = orig.filter(pl.Series(usable[orig["_li"].to_numpy()])).with_columns(
            self._ref().alias("ref")
        )
        rev = returns.with_columns(self._ref().alias("ref"))
        cand = rev.join(orig, on=["ref", "l_amount"], suffix="_o").filter(
            (pl.col("l_credit") != pl.col("l_credit_o")) & (pl.col("l_date_o") <= pl.col("l_date"))
        )
        if cand.is_empty():
            return returns
        usable[cand["_li_o"].to_numpy()] = False
        cand = cand.with_columns(
            pl.len().over("line_id").alias("_nr"), pl.len().over("line_id_o").alias("_no")
        )
        unique = cand.filter((pl.col("_nr") == 1) & (pl.col("_no") == 1))
        used_r = set(cand["line_id"].to_list())
        rest = cand.filter((pl.col("_nr") > 1) | (pl.col("_no") > 1))
        for rs, os_ in _union_components(_edges(rest.select("line_id", "line_id_o"))):
            self._raise(
                K.AMBIGUOUS,
                [*rs, *os_],
                detail="冲正对应多笔原交易 / a reversal fits more than one original line",
            )
        hits = entries.filter(
            pl.col("e_e2e").is_in(unique["l_e2e_o"].drop_nulls().unique().implode())
            & _one_of("status", _IN_LEDGER)
        )
        posted = dict(hits.select("e_e2e", "entry_id").iter_rows())
        for line_id, original, e2e, amount in unique.select(
            "line_id", "line_id_o", "l_e2e_o", "l_amount"
        ).iter_rows():
            if e2e in posted:
                self._raise(
                    K.RETURNED_AFTER_SETTLEMENT,
                    [line_id, original],
                    [posted[e2e]],
                    actual_fen=int(amount),
                    detail="已入账的款项被冲正 / a posted payment was reversed",
                )
        group = (
            pl.when(pl.col("line_id") < pl.col("line_id_o"))
            .then(pl.col("_li"))
            .otherwise(pl.col("_li_o"))
        )
        both = pl.concat(
            [
                unique.select(group.alias("_g"), "line_id", "_li"),
                unique.select(
                    group.alias("_g"),
                    pl.col("line_id_o").alias("line_id"),
                    pl.col("_li_o").alias("_li"),
                ),
            ]
        ).with_columns(
            pl.lit(None, pl.String).alias("entry_id"), pl.lit(None, pl.Int64).alias("_ei")
        )
        self._add_pairs(both, MatchPass.REVERSAL, pl.col("_g"))
        return self._drop(returns, "line_id", used_r)

    def _pass_opening(
        self,
        lines: pl.DataFrame,
        usable_l: np.ndarray,
        all_totals: Future[_AllTotals],
    ) -> np.ndarray:
        """The first statement of an account only (``first_statement``): per sub-account whose
        statement opening differs from the books' start (the ledger balance less the posted
        entries offered), the one line of the day for exactly that difference.

        Returns the mask of the lines taken; each is recorded in ``opening_matched_fen`` so the
        balance check counts it as explained by the books' opening. Two or more such lines on
        one sub-account are not guessed between: none is taken, and the balance check breaks.
        """
        taken = np.zeros(len(lines), dtype=bool)
        req = self.request
        if not req.first_statement or req.statement is None:
            return taken
        offered = all_totals.result()[1]  # the posted entries' signed sum per sub-account
        signed = lines.select(_signed("l")).to_series().to_numpy()
        subs = lines["l_sub"].to_numpy()
        today = (lines["l_date"] == req.business_date).fill_null(False).to_numpy()
        for bal in sorted(req.statement.sub_accounts, key=lambda b: b.sub_account):
            start = req.ledger_balances_fen.get(bal.sub_account, 0) - offered.get(
                bal.sub_account, 0
            )
            gap = start - bal.opening_fen
            if gap == 0:
                continue
            found = np.flatnonzero(usable_l & today & (subs == bal.sub_account) & (signed == gap))
            if len(found) != 1:
                continue
            taken[found] = True
            self.opening_matched_fen[bal.sub_account] = gap
            self._add_pairs(
                pl.DataFrame(
                    {"_li": found, "_ei": [None]}, schema={"_li": pl.Int64, "_ei": pl.Int64}
                ),
                MatchPass.OPENING,
                pl.col("_li"),
            )
        return taken

    def _pass_end_to_end(
        self,
        lines: pl.DataFrame,
        entries: pl.DataFrame,
        usable_l: np.ndarray,
        usable_e: np.ndarray,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The bulk pass: a join on the end-to-end id's 64-bit hash over numbers only.

        Equal ids have equal hashes, so no pair is missed; every joined pair is then checked on
        the ids themselves, so a hash collision never pairs two different ids. The join carries
        what the pair checks need (amount, direction, and hashes of the sub-accounts, the
        counterparty and the borrower's card), so a million pairs are checked as they are made.
        """
        l_side = (
            lines.lazy()
            .filter(pl.lit(pl.Series(usable_l)) & pl.col("l_e2e").is_not_null())
            .select(
                "_li",
                pl.col("l_e2e").hash(seed=0).alias("_h"),
                _signed("l").alias("_amt"),
                _hash_or_null("l_sub").alias("_ls"),
                _hash_or_null("cp").alias("_cp"),
            )
        )
        e_side = (
            entries.lazy()
            .filter(pl.lit(pl.Series(usable_e)) & pl.col("e_e2e").is_not_null())
            .select(
                "_ei",
                pl.col("e_e2e").hash(seed=0).alias("_h"),
                _signed("e").alias("_amt"),
                pl.col("e_sub").hash(seed=0).alias("_es"),
                pl.when(_collected()).then(pl.col("card").hash(seed=0)).alias("_card"),
            )
        )
        # different hashes mean different strings, so no check flags what is not different
        joined = (
            l_side.join(e_side, on="_h")
            .select(
                "_li",
                "_ei",
                (pl.col("_amt") == pl.col("_amt_right")).alias("same"),
                (pl.col("_ls") != pl.col("_es")).fill_null(False).alias("_wrong_sub"),
                (pl.col("_cp") != pl.col("_card")).fill_null(False).alias("_not_borrower"),
            )
            .collect()
        )
        verified = self.L["l_e2e"].gather(joined["_li"]) == self.E["e_e2e"].gather(joined["_ei"])
        if not verified.all():  # a hash collision: those pairs are no pairs
            joined = joined.filter(verified)
        li_np, ei_np = joined["_li"].to_numpy(), joined["_ei"].to_numpy()
        multi = (np.bincount(li_np, minlength=len(self.L)) > 1)[li_np] | (
            np.bincount(ei_np, minlength=len(self.E)) > 1
        )[ei_np]
        same = joined["same"].to_numpy()
        single = ~multi
        self._add_pairs(
            joined.filter(pl.Series(single & same)).drop("same"),
            MatchPass.END_TO_END,
            pl.col("_li"),
        )
        d_li, d_ei = li_np[single & ~same], ei_np[single & ~same]
        differ = pl.DataFrame(
            {
                "line_id": self.L["line_id"].gather(d_li),
                "entry_id": self.E["entry_id"].gather(d_ei),
                "l_amount": self.L["l_amount"].gather(d_li),
                "l_credit": self.L["l_credit"].gather(d_li),
                "e_amount": self.E["e_amount"].gather(d_ei),
                "e_credit": self.E["e_credit"].gather(d_ei),
            }
        )
        for row in differ.iter_rows(named=True):
            self._amount_mismatch((row["line_id"],), (row["entry_id"],), row, "end_to_end")
        used_l = np.zeros(len(self.L), dtype=bool)
        used_e = np.zeros(len(self.E), dtype=bool)
        used_l[li_np[single]] = True
        used_e[ei_np[single]] = True
        same_expr = (pl.col("l_amount") == pl.col("e_amount")) & (
            pl.col("l_credit") == pl.col("e_credit")
        )
        # An end-to-end id that repeats on one side: the resolver decides (or raises).
        multi_pairs = pl.DataFrame({"_li": li_np[multi], "_ei": ei_np[multi]})
        if len(multi_pairs):
            # the few rows involved, gathered by row index (``_li``/``_ei`` are the row numbers)
            cand = multi_pairs.join(lines[np.unique(li_np[multi])], on="_li").join(
                entries[np.unique(ei_np[multi])], on="_ei"
            )
            used_li, used_ei = self._take_unique(cand.filter(same_expr), MatchPass.END_TO_END)
            used_l[used_li.to_numpy()] = True
            used_e[used_ei.to_numpy()] = True
            rest = cand.filter(~same_expr)
            for ls, es, l_rows, e_rows in self._components_with_rows(rest):
                if used_l[l_rows].any() or used_e[e_rows].any():
                    continue
                used_l[l_rows] = True
                used_e[e_rows] = True
                self._raise(
                    K.AMBIGUOUS,
                    ls,
                    es,
                    detail="端到端标识重复且金额不一 / end-to-end id repeats, amounts differ",
                )
        return _take(lines, usable_l & ~used_l), _take(entries, usable_e & ~used_e)

    def _amount_mismatch(
        self, line_ids: Sequence[str], entry_ids: Sequence[str], row: dict[str, object], via: str
    ) -> None:
        expected = row["e_amount"]
        actual = row["l_amount"]
        assert isinstance(expected, int)
        assert isinstance(actual, int)
        e_sign = 1 if row["e_credit"] else -1
        l_sign = 1 if row["l_credit"] else -1
        self._raise(
            K.AMOUNT_MISMATCH,
            line_ids,
            entry_ids,
            expected_fen=e_sign * expected,
            actual_fen=l_sign * actual,
            detail=(
                f"应为 {grouped_yuan(e_sign * expected)} 元, "
                f"银行 {grouped_yuan(l_sign * actual)} 元 (via {via})"
            ),
        )

    def _pass_contract(
        self, lines: pl.DataFrame, entries: pl.DataFrame, keys: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        if keys.is_empty():
            return lines, entries
        cand = (
            lines.select(_L_SLIM)
            .join(keys, on="line_id")
            .join(
                entries.select(*_E_SLIM, "contract"),
                left_on=["contract", "l_credit", "l_amount"],
                right_on=["contract", "e_credit", "e_amount"],
                coalesce=False,
            )
            .filter(self._window())
        )
        used_l, used_e = self._take_unique(cand, MatchPass.CONTRACT)
        return self._drop_rows(lines, "_li", used_l), self._drop_rows(entries, "_ei", used_e)

    def _pass_card(
        self, lines: pl.DataFrame, entries: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        cand = (
            lines.select(*_L_SLIM, "l_key")
            .drop_nulls("l_key")
            .join(
                entries.select(*_E_SLIM, "e_key").drop_nulls("e_key"),
                left_on=["l_key", "l_credit", "l_amount"],
                right_on=["e_key", "e_credit", "e_amount"],
                coalesce=False,
            )
        )
        cand = cand.filter(self._window())
        used_l, used_e = self._take_unique(cand, MatchPass.CARD_AMOUNT)
        return self._drop_rows(lines, "_li", used_l), self._drop_rows(entries, "_ei", used_e)

    @staticmethod
    def _group_keys(
        lines: pl.DataFrame, entries: pl.DataFrame, contracts: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Long frames of (id, key): the card, each contract named (``contracts``, from
        ``_contract_keys``) and the end-to-end id."""
        l_keys = [
            lines.select("line_id", pl.col("l_key").alias("key")),
            lines.select("line_id", (pl.lit("e2e|") + pl.col("l_e2e")).alias("key")),
            contracts.select("line_id", (pl.lit("contract|") + pl.col("contract")).alias("key")),
        ]
        e_keys = [
            entries.select("entry_id", pl.col("e_key").alias("key")),
            entries.select("entry_id", (pl.lit("e2e|") + pl.col("e_e2e")).alias("key")),
            entries.select("entry_id", (pl.lit("contract|") + pl.col("contract")).alias("key")),
        ]
        return (
            pl.concat(l_keys).drop_nulls().unique(),
            pl.concat(e_keys).drop_nulls().unique(),
        )

    def _pass_group_sum(
        self, lines: pl.DataFrame, entries: pl.DataFrame, contracts: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        if lines.is_empty() or entries.is_empty():
            return lines, entries
        l_keys, e_keys = self._group_keys(lines, entries, contracts)
        l_side = lines.select("line_id", "l_credit", "l_amount", "l_day").join(l_keys, on="line_id")
        e_side = entries.select("entry_id", "e_credit", "e_amount", "e_day").join(
            e_keys, on="entry_id"
        )
        cand = l_side.join(
            e_side, left_on=["key", "l_credit"], right_on=["key", "e_credit"]
        ).filter(self._window())
        groups: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
        # many lines -> one entry, and one line -> many entries, each under one key
        for anchor, member, anchor_amt, member_amt in (
            ("entry_id", "line_id", "e_amount", "l_amount"),
            ("line_id", "entry_id", "l_amount", "e_amount"),
        ):
            sums = (
                cand.group_by(anchor, "key")
                .agg(
                    pl.col(member).unique().sort().alias("members"),
                    pl.col(anchor_amt).first().alias("target"),
                )
                .filter(pl.col("members").list.len() >= 2)
            )
            amounts = dict(cand.select(member, member_amt).unique().iter_rows())
            for anchor_id, _key, members, target in sums.iter_rows():
                if sum(amounts[m] for m in members) != target:
                    continue
                if anchor == "entry_id":
                    groups.add((tuple(members), (anchor_id,)))
                else:
                    groups.add(((anchor_id,), tuple(members)))
        if not groups:
            return lines, entries
        owners: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = defaultdict(list)
        for group in groups:
            for item in ("L" + x for x in group[0]):
                owners[item].append(group)
            for item in ("E" + x for x in group[1]):
                owners[item].append(group)
        clean = [
            g
            for g in groups
            if all(len(owners["L" + x]) == 1 for x in g[0])
            and all(len(owners["E" + x]) == 1 for x in g[1])
        ]
        clean_set = set(clean)
        contested = [g for g in groups if g not in clean_set]
        used_l: set[str] = set()
        used_e: set[str] = set()
        rows: list[tuple[str, str, str, bool]] = []
        for g_lines, g_entries in sorted(clean):
            used_l.update(g_lines)
            used_e.update(g_entries)
            rows.extend(
                (g_lines[0], line_id, entry_id, entry_id == g_entries[0])
                for line_id in g_lines
                for entry_id in g_entries
            )
        edges = [(line_id, entry_id) for ls, es in contested for line_id in ls for entry_id in es]
        for ls, es in _union_components(edges):
            used_l.update(ls)
            used_e.update(es)
            self._raise(
                K.AMBIGUOUS,
                ls,
                es,
                detail="按合计金额有多种组合 / more than one grouping sums up",
            )
        if rows:
            frame = pl.DataFrame(
                rows,
                schema={
                    "_gid": pl.String,
                    "line_id": pl.String,
                    "entry_id": pl.String,
                    "_f": pl.Boolean,
                },
                orient="row",
            )
            frame = (
                frame.join(lines.select("line_id", "_li"), on="line_id")
                .join(entries.select("entry_id", "_ei"), on="entry_id")
                .join(
                    lines.select(pl.col("line_id").alias("_gid"), pl.col("_li").alias("_g")),
                    on="_gid",
                )
            )
            self._add_pairs(frame, MatchPass.GROUP_SUM, pl.col("_g"), pl.col("_f"))
        return self._drop(lines, "line_id", used_l), self._drop(entries, "entry_id", used_e)

    def _amount_mismatches(
        self, lines: pl.DataFrame, entries: pl.DataFrame, contracts: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """A line and an entry alone under one key, same way, different amounts."""
        if lines.is_empty() or entries.is_empty():
            return lines, entries
        l_keys, e_keys = self._group_keys(lines, entries, contracts)
        cand = (
            lines.select("line_id", "l_credit", "l_day")
            .join(l_keys, on="line_id")
            .join(
                entries.select("entry_id", "e_credit", "e_day").join(e_keys, on="entry_id"),
                left_on=["key", "l_credit"],
                right_on=["key", "e_credit"],
            )
            .filter(self._window())
        )
        if cand.is_empty():
            return lines, entries
        used_l: set[str] = set()
        used_e: set[str] = set()
        amounts_l = dict(lines.select("line_id", "l_amount").iter_rows())
        amounts_e = dict(entries.select("entry_id", "e_amount").iter_rows())
        credit_l = dict(lines.select("line_id", "l_credit").iter_rows())
        for ls, es in _union_components(_edges(cand.select("line_id", "entry_id"))):
            if len(ls) == 1 and len(es) == 1:
                row: dict[str, object] = {
                    "e_amount": amounts_e[es[0]],
                    "l_amount": amounts_l[ls[0]],
                    "e_credit": credit_l[ls[0]],
                    "l_credit": credit_l[ls[0]],
                }
                self._amount_mismatch(ls, es, row, "card/contract")
                used_l.update(ls)
                used_e.update(es)
        return self._drop(lines, "line_id", used_l), self._drop(entries, "entry_id", used_e)

    def _returns_after_settlement(
        self, returns: pl.DataFrame, entries: pl.DataFrame
    ) -> pl.DataFrame:
        """A return or reversal whose original is a payment the books hold as settled."""
        if returns.is_empty():
            return returns
        near = _rows_matching(entries, {"e_e2e": returns["l_e2e"], "card": returns["cp"]})
        near = near.filter(
            _one_of("status", _IN_LEDGER) | pl.Series(self.e_matched[near["_ei"].to_numpy()])
        )
        near = self._enrich(returns, near)[1]
        by_ref = returns.join(near, left_on="l_e2e", right_on="e_e2e").filter(
            (pl.col("l_amount") == pl.col("e_amount")) & (pl.col("l_credit") != pl.col("e_credit"))
        )
        by_card = returns.filter(~pl.col("line_id").is_in(by_ref["line_id"].implode())).join(
            near, left_on=["cp", "l_amount"], right_on=["card", "e_amount"], coalesce=False
        )
        by_card = by_card.filter(
            (pl.col("l_credit") != pl.col("e_credit"))
            & (pl.col("l_day") - pl.col("e_day")).is_between(0, self.config.return_window_days)
        )
        cand = pl.concat(
            [by_ref.select("line_id", "entry_id"), by_card.select("line_id", "entry_id")]
        ).unique()
        amounts = dict(returns.select("line_id", "l_amount").iter_rows())
        used: set[str] = set()
        for ls, es in _union_components(_edges(cand)):
            used.update(ls)
            if len(ls) == 1 and len(es) == 1:
                self._raise(
                    K.RETURNED_AFTER_SETTLEMENT,
                    ls,
                    es,
                    actual_fen=int(amounts[ls[0]]),
                    detail="已结算款项被退回 / returned by the bank after it was settled",
                )
            else:
                self._raise(
                    K.AMBIGUOUS,
                    ls,
                    es,
                    detail="退回对应多笔原支付 / a return fits more than one payment",
                )
        return self._drop(returns, "line_id", used)

    def _settled_duplicates(self, lines: pl.DataFrame, settled: pl.DataFrame) -> pl.DataFrame:
        """A line whose end-to-end id belongs to an entry already reconciled earlier."""
        if lines.is_empty() or settled.is_empty():
            return lines
        hits = lines.join(
            settled.filter(pl.col("e_e2e").is_not_null()).select("entry_id", "e_e2e"),
            left_on="l_e2e",
            right_on="e_e2e",
        )
        for line_id, entry_id in hits.select("line_id", "entry_id").sort("line_id").iter_rows():
            self._raise(
                K.DUPLICATE,
                [line_id],
                [entry_id],
                detail="该笔已于此前对账 / already reconciled on an earlier day",
            )
        self.copy_rows.update(hits["_li"].to_list())
        return self._drop(lines, "line_id", set(hits["line_id"].to_list()))

    # ---------------------------------------------------------------- checks after matching

    def _group_members(
        self, pairs: pl.DataFrame, g_all: np.ndarray, groups: list[int], amounts: _Amounts
    ) -> dict[int, tuple[list[str], list[str]]]:
        """The lines and entries of each match group in ``groups``; their signed amounts go
        into ``amounts``."""
        wanted = np.zeros(len(self.L), dtype=bool)
        wanted[groups] = True
        sub = self._with_ids(pairs.filter(pl.Series(wanted[g_all])))
        # the group's rows only: a null entry index (a reversal pair) gathers nulls
        sub = sub.with_columns(
            self.L[c].gather(sub["_li"]) for c in ("l_amount", "l_credit")
        ).with_columns(self.E[c].gather(sub["_ei"]) for c in ("e_amount", "e_credit"))
        amounts.lines.update(sub.select("line_id", _signed("l")).iter_rows())
        amounts.entries.update(sub.select("entry_id", _signed("e")).drop_nulls().iter_rows())
        grouped = sub.group_by("_g").agg(
            pl.col("line_id").drop_nulls().unique().sort(),
            pl.col("entry_id").drop_nulls().unique().sort(),
        )
        return {int(g): (ls, es) for g, ls, es in grouped.iter_rows()}

    def _with_ids(self, pairs: pl.DataFrame) -> pl.DataFrame:
        """The pairs with their line and entry ids (and the group id) as strings."""
        return pairs.with_columns(
            self.L["line_id"].gather(pairs["_g"]).alias("group_id"),
            self.L["line_id"].gather(pairs["_li"]).alias("line_id"),
            self.E["entry_id"].gather(pairs["_ei"]).alias("entry_id"),
        )

    def _cash_line_mask(self) -> pl.Expr:
        mask = pl.col("l_channel").eq("cash")
        if self.config.cash_codes:
            # bank transaction codes repeat: search each distinct code once
            codes = self.L["btc"].drop_nulls().unique()
            cash_codes = codes.filter(codes.str.contains_any(list(self.config.cash_codes)))
            mask = mask | pl.col("btc").is_in(cash_codes.implode())
        if self.config.cash_words:
            mask = mask | pl.col("remittance").str.contains_any(list(self.config.cash_words))
        return mask.fill_null(False)

    def _check_inputs(self) -> _Flags:
        """What the checks need from the inputs alone (runs beside the matching passes)."""
        lines, entries = self.L, self.E
        subs = set(self.request.sub_accounts)
        if self.request.statement:
            subs.update(b.sub_account for b in self.request.statement.sub_accounts)
        if not subs:
            subs.update(entries["e_sub"].unique().to_list())
        sub_list = pl.Series(sorted(subs), dtype=pl.String)
        # One pass per side, its expressions evaluated side by side. A counterparty that is a
        # sub-account is found on hashes here and confirmed on the strings below.
        cp_h = pl.col("cp").hash(seed=0)
        per_line = lines.select(
            self._cash_line_mask().alias("cash"),
            (cp_h.is_in(sub_list.hash(seed=0).implode()) & pl.col("cp").is_not_null()).alias(
                "maybe_sub"
            ),
        )
        open_entry = pl.col("status").ne(BookStatus.SETTLED.value)
        per_entry = entries.select(
            (pl.col("e_channel").eq("cash") & open_entry).alias("cash"),
            (
                ~pl.col("card_is_member")
                & pl.col("kind").eq(BookKind.DISBURSEMENT.value)
                & open_entry
            ).alias("non_member"),
            _collected().alias("collected"),
            (pl.col("status").eq(BookStatus.EXPECTED.value) & _one_of("kind", _COLLECTED)).alias(
                "expected_collection"
            ),
        )
        cash_l = per_line["cash"]
        flagged_lines = lines.filter(cash_l | per_line["maybe_sub"]).with_columns(
            cash_l.filter(cash_l | per_line["maybe_sub"]).alias("_cash")
        )
        cash_lines = flagged_lines.filter(pl.col("_cash"))["line_id"].to_list()
        inter_sub = flagged_lines.filter(pl.col("cp").is_in(sub_list.implode()))[
            "line_id"
        ].to_list()
        flagged_lines = flagged_lines.filter(
            pl.col("_cash") | pl.col("cp").is_in(sub_list.implode()).fill_null(False)
        ).drop("_cash")
        cash_e, non_member_e = per_entry["cash"], per_entry["non_member"]
        flagged_entries = entries.filter(cash_e | non_member_e)
        cash_entries = entries["entry_id"].filter(cash_e).to_list()
        non_member = entries["entry_id"].filter(non_member_e).to_list()

        return _Flags(
            flagged_lines=flagged_lines,
            cash_lines=cash_lines,
            inter_sub=inter_sub,
            flagged_entries=flagged_entries,
            cash_entries=cash_entries,
            non_member=non_member,
            collected=per_entry["collected"].to_numpy(),
            expected_collection=per_entry["expected_collection"].to_numpy(),
        )

    def _checks(self, matched: _Pairs, flags: _Flags) -> None:
        lines, entries = self.L, self.E
        flagged_lines, flagged_entries = flags.flagged_lines, flags.flagged_entries
        cash_lines, inter_sub = flags.cash_lines, flags.inter_sub
        cash_entries, non_member = flags.cash_entries, flags.non_member
        pairs, g_all, li_all, ei_all = matched.frame, matched.g, matched.li, matched.ei
        # The bulk pass checked its pairs as it made them; the others are checked here, on the
        # strings: a line on another sub-account than its entry, and a collection paid in
        # from a card that is not the borrower's.
        wrong_sub = pairs["_wrong_sub"].fill_null(False).to_numpy().copy()
        not_borrower = pairs["_not_borrower"].fill_null(False).to_numpy().copy()
        todo = np.flatnonzero(pairs["_wrong_sub"].is_null().to_numpy() & (ei_all >= 0))
        if len(todo):
            li, ei = li_all[todo], ei_all[todo]
            wrong_sub[todo] = (
                (self.L["l_sub"].gather(li) != self.E["e_sub"].gather(ei)).fill_null(False)
            ).to_numpy()
            paid_by_other = (self.L["cp"].gather(li) != self.E["card"].gather(ei)).fill_null(False)
            not_borrower[todo] = flags.collected[ei] & paid_by_other.to_numpy()
        wrong_sub_groups = np.unique(g_all[wrong_sub])
        not_borrower_groups = np.unique(g_all[not_borrower])

        flag_l = np.zeros(len(lines), dtype=bool)
        flag_l[flagged_lines["_li"].to_numpy()] = True
        flag_e = np.zeros(len(entries) + 1, dtype=bool)  # the last slot stands for "no entry"
        flag_e[flagged_entries["_ei"].to_numpy()] = True
        hit = self._with_ids(pairs.filter(pl.Series(flag_l[li_all] | flag_e[ei_all])))
        group_of_l = dict(hit.select("line_id", "_g").drop_nulls().iter_rows())
        group_of_e = dict(hit.select("entry_id", "_g").drop_nulls().iter_rows())
        groups = set(group_of_l.values()) | set(group_of_e.values())
        groups.update(wrong_sub_groups.tolist(), not_borrower_groups.tolist())
        # each line's and entry's signed amount, for the figures the exceptions carry
        amounts = _Amounts(
            dict(flagged_lines.select("line_id", _signed("l")).iter_rows()),
            dict(flagged_entries.select("entry_id", _signed("e")).iter_rows()),
        )
        members = self._group_members(pairs, g_all, sorted(groups), amounts) if groups else {}

        def raise_for(
            kind: ExceptionKind,
            l_ids: Iterable[str],
            e_ids: Iterable[str],
            groups_: Iterable[int],
            detail: str,
        ) -> None:
            items: dict[int | str, tuple[set[str], set[str]]] = {}
            for line_id in l_ids:
                gid = group_of_l.get(line_id, "L" + line_id)
                items.setdefault(gid, (set(), set()))[0].add(line_id)
            for entry_id in e_ids:
                gid = group_of_e.get(entry_id, "E" + entry_id)
                items.setdefault(gid, (set(), set()))[1].add(entry_id)
            for gid in groups_:
                items.setdefault(gid, (set(), set()))
            for gid in items:
                ls, es = items[gid]
                if gid in members:
                    ls.update(members[gid][0])
                    es.update(members[gid][1])
                self._raise(
                    kind,
                    ls,
                    es,
                    actual_fen=sum(amounts.lines[i] for i in ls) if ls else None,
                    expected_fen=sum(amounts.entries[i] for i in es) if es else None,
                    detail=detail,
                )

        raise_for(
            K.VILLAGE_CASH,
            cash_lines,
            cash_entries,
            (),
            "现金存取或现金记账 / cash deposit, withdrawal or cash entry",
        )
        raise_for(
            K.VILLAGE_CASH,
            (),
            (),
            not_borrower_groups.tolist(),
            "非借款人代缴 / paid in by someone who is not the borrower",
        )
        for cash in self.request.cash_in_hand:
            self._raise(
                K.VILLAGE_CASH,
                (),
                (cash.entry_id,),
                sub_account=cash.sub_account,
                expected_fen=signed(cash.credit_debit, cash.amount_fen),
                detail="现金收付记账（库存现金）/ cash paid or taken in by hand, in the books",
            )
        raise_for(
            K.CROSS_ASSOCIATION,
            inter_sub,
            (),
            (),
            "子账户之间划转 / money moved between sub-accounts",
        )
        raise_for(
            K.CROSS_ASSOCIATION,
            (),
            non_member,
            (),
            "收款卡非本协会会员 / paid to a card that is not a member of the association",
        )
        raise_for(
            K.CROSS_ASSOCIATION,
            (),
            (),
            wrong_sub_groups.tolist(),
            "记入其他协会子账户 / booked on another association's sub-account",
        )

    def _proposals(
        self, matched: _Pairs, lines: pl.DataFrame, expected: np.ndarray
    ) -> pl.DataFrame:
        """Proposed postings as a frame of the result's ``proposal_rows`` columns, unordered.

        ``expected`` marks the entries (by row) that are expected collections."""
        pairs, g_all, ei_all = matched.frame, matched.g, matched.ei
        expected = np.append(expected, False)  # the last slot stands for "no entry"
        in_group = np.zeros(len(self.L), dtype=bool)
        in_group[g_all[expected[ei_all]]] = True
        rows = pairs.filter(pl.Series(in_group[g_all]))
        li, ei = rows["_li"], rows["_ei"]
        rows = self._with_ids(rows).with_columns(
            self.L["l_channel"].gather(li).alias("l_channel"),
            self.L["l_credit"].gather(li).alias("l_credit"),
            self.L["l_sub"].gather(li).alias("l_sub"),
            self.L["l_amount"].gather(li).alias("l_amount"),
            self.E["status"].gather(ei).alias("status"),
            self.E["kind"].gather(ei).alias("kind"),
        )
        clean = (
            pl.col("l_channel").eq("transfer")
            & pl.col("l_credit")
            & pl.col("status").eq(BookStatus.EXPECTED.value)
            & _one_of("kind", _COLLECTED)
        )
        # a group an exception already speaks for is never booked automatically
        covered = rows.filter(
            pl.col("line_id").is_in(list(self.covered_lines))
            | pl.col("entry_id").is_in(list(self.covered_entries))
        )["_g"]
        rows = rows.filter(~pl.col("_g").is_in(covered.implode()))
        # most groups are one line and one entry: those need no grouping
        g = rows["_g"].to_numpy()
        alone = pl.Series((np.bincount(g, minlength=len(self.L)) == 1)[g])
        singles = rows.filter(alone & clean).select(
            "group_id",
            pl.concat_list("line_id").alias("line_id"),
            pl.concat_list("entry_id").alias("entry_id"),
            "l_sub",
            pl.col("l_amount").alias("amount"),
        )
        groups = (
            rows.filter(~alone)
            .group_by("_g")
            .agg(
                pl.col("group_id").first(),
                pl.col("line_id").unique().sort(),
                pl.col("entry_id").unique().sort(),
                clean.all().alias("clean"),
                pl.col("l_sub").first(),
                pl.col("l_amount").filter(pl.col("_first")).sum().alias("amount"),
            )
            .filter(pl.col("clean"))
            .select(singles.columns)
        )
        groups = pl.concat([singles, groups])
        repayments = groups.select(
            pl.lit(PostingKind.REPAYMENT.value).alias("kind"),
            pl.col("line_id").alias("line_ids"),
            pl.col("entry_id").alias("entry_ids"),
            pl.col("l_sub").alias("sub_account"),
            pl.col("amount").cast(pl.Int64).alias("amount_fen"),
            pl.lit(True).alias("credit"),
            pl.format("借款人转账还款 / borrower repayment by transfer ({})", "group_id").alias(
                "reason"
            ),
        )
        wanted = []
        if self.config.propose_bank_fees:
            wanted.append("fee")
        if self.config.propose_interest:
            wanted.append("interest")
        fees = lines.filter(
            pl.col("l_channel").is_in(wanted) & ~pl.col("line_id").is_in(list(self.covered_lines))
        ).select(
            pl.col("l_channel")
            .replace_strict(
                {"fee": PostingKind.BANK_FEE.value, "interest": PostingKind.INTEREST.value}
            )
            .alias("kind"),
            pl.concat_list("line_id").alias("line_ids"),
            pl.concat_list(pl.lit(None, pl.String)).list.drop_nulls().alias("entry_ids"),
            pl.col("l_sub").alias("sub_account"),
            pl.col("l_amount").alias("amount_fen"),
            pl.col("l_credit").alias("credit"),
            pl.when(pl.col("l_channel") == "fee")
            .then(pl.lit("银行手续费 / bank fee"))
            .otherwise(pl.lit("利息收入 / interest"))
            .alias("reason"),
        )
        return pl.concat([repayments, fees.cast(repayments.schema)])

    def _content_duplicates(
        self, leftover: pl.DataFrame, lines: pl.DataFrame, not_copy: np.ndarray
    ) -> None:
        """A leftover line identical to another line of the run beyond the expected occurrence."""
        content = _CONTENT
        left = leftover.filter(~pl.col("line_id").is_in(list(self.covered_lines)))
        if left.is_empty():
            return
        # the lines of the same amounts, less the copies already found, in the columns compared
        same_amount = (
            lines["l_amount"].is_in(left["l_amount"].unique().implode()).fill_null(False).to_numpy()
        )
        near = _take(lines.select("line_id", "occurrence", *content), same_amount & not_copy)
        twins = (
            left.select("line_id", "occurrence", *content)
            .join(
                near,
                on=content,
                nulls_equal=True,
                suffix="_t",
            )
            .filter(pl.col("line_id") != pl.col("line_id_t"))
        )
        if twins.is_empty():
            return
        left_ids = set(left["line_id"].to_list())
        grouped = (
            twins.sort("line_id", "line_id_t")
            .group_by("line_id", maintain_order=True)
            .agg(pl.col("occurrence").first(), pl.col("occurrence_t"), pl.col("line_id_t"))
        )
        amounts = dict(left.select("line_id", "l_amount").iter_rows())
        row_of = dict(left.select("line_id", "_li").iter_rows())
        for lid, occurrence, occ_t, ids_t in grouped.iter_rows():
            mine = (int(occurrence), lid)
            others = list(zip(occ_t, ids_t, strict=True))
            # the first of identical lines (or one that matched) stands; later leftovers are copies
            if any(t not in left_ids or (o, t) < mine for o, t in others):
                self._raise(
                    K.DUPLICATE,
                    [lid, *(t for _, t in others)],
                    subject=f"copy:{lid}",
                    actual_fen=int(amounts[lid]),
                    detail="相同流水超出预期次数 / identical line beyond the expected count",
                    cover_lines=[lid],
                )
                self.copy_rows.add(row_of[lid])

    def _unmatched(
        self,
        lines: pl.DataFrame,
        entries: pl.DataFrame,
        proposals: pl.DataFrame,
    ) -> tuple[str, ...]:
        proposed = proposals["line_ids"].explode().drop_nulls()
        for line_id, amount, credit in (
            lines.filter(
                ~pl.col("line_id").is_in(list(self.covered_lines))
                & ~pl.col("line_id").is_in(proposed.implode())
            )
            .select("line_id", "l_amount", "l_credit")
            .sort("line_id")
            .iter_rows()
        ):
            self._raise(
                K.UNMATCHED_BANK,
                (line_id,),
                actual_fen=amount if credit else -amount,
            )
        open_entries = entries.filter(~pl.col("entry_id").is_in(list(self.covered_entries)))
        open_entries = self._with_ordinal(
            open_entries.with_columns(pl.coalesce("first_expected", "e_date").alias("_since")),
            "_since",
            "_since_day",
        )
        overdue = pl.col("_since_day") <= self.run_ordinal - self.config.pending_days
        for entry_id, amount, credit in (
            open_entries.filter(overdue)
            .select("entry_id", "e_amount", "e_credit")
            .sort("entry_id")
            .iter_rows()
        ):
            self._raise(
                K.UNMATCHED_BOOK,
                (),
                (entry_id,),
                expected_fen=amount if credit else -amount,
            )
        return tuple(open_entries.filter(~overdue)["entry_id"].sort().to_list())

    def _copies_today(self) -> dict[str | None, int]:
        """Per sub-account, the signed sum of the copies booked on the statement date."""
        stmt = self.request.statement
        if not self.copy_rows or stmt is None:
            return {}
        sums: dict[str | None, int] = {}
        rows = (
            self.L.select("l_date", "l_sub", "l_amount", "l_credit")[sorted(self.copy_rows)]
        ).filter(pl.col("l_date") == stmt.statement_date)
        for sub, amount, credit in rows.select("l_sub", "l_amount", "l_credit").iter_rows():
            sums[sub] = sums.get(sub, 0) + (amount if credit else -amount)
        return sums

    def _without_displayed_copies(
        self, totals: dict[str | None, SubTotals]
    ) -> dict[str | None, SubTotals]:
        """The totals less the copies the bank's own balances show it did not book.

        A duplicated line is either a copy the bank also booked (a double posting: the closing
        balance includes it, opening plus every line equals the closing) or a copy it only
        printed (opening plus the lines less the copies equals the closing). The statement's
        own balances tell the two apart, per sub-account: a printed copy is no movement and
        no bank item, so it raises no balance break (its duplicate exception is the finding);
        a booked copy stays in both, so the difference it makes to the books is explained by
        its duplicate exception. When neither fits, nothing is taken out and the break shows.
        """
        stmt = self.request.statement
        copies = self._copies_today()
        if stmt is None or not copies:
            return totals
        adjusted = dict(totals)
        for bal in stmt.sub_accounts:
            sub = bal.sub_account
            copy_fen = copies.get(sub, 0)
            current = adjusted.get(sub)
            if not copy_fen or current is None:
                continue
            with_copies = bal.opening_fen + current.day_movement_fen
            if with_copies != bal.closing_fen and with_copies - copy_fen == bal.closing_fen:
                adjusted[sub] = replace(
                    current,
                    day_movement_fen=current.day_movement_fen - copy_fen,
                    bank_items_fen=current.bank_items_fen - copy_fen,
                )
        return adjusted

    def _missing_days(self) -> list[date]:
        """The banking days between the previous statement and this business date that no
        statement covers (empty on a first run)."""
        req, cal = self.request, self.config.calendar
        if req.previous is None:
            return []
        expected_prev = (
            cal.previous_banking_day(req.business_date)
            if cal
            else date.fromordinal(req.business_date.toordinal() - 1)
        )
        if req.previous.statement_date >= expected_prev:
            return []
        start = date.fromordinal(req.previous.statement_date.toordinal() + 1)
        if cal:
            return list(cal.banking_days_in(start, expected_prev))
        return [
            date.fromordinal(d) for d in range(start.toordinal(), expected_prev.toordinal() + 1)
        ]

    def _explain_missing_days(self, entries: pl.DataFrame) -> None:
        """Days the bank sent no statement for still moved money, and the first statement after
        them shows how much: its opening less the last statement's closing, per sub-account.

        Where that movement equals, to the fen, the signed sum of the posted entries still open
        from the missing days (or, failing that, from those days and before), the entries are
        taken as shown by the missing statements: no unmatched-entry exception, they leave the
        open items (``missing_statement_entry_ids``), and the balance check counts the movement.
        A movement they do not account for is left to the balance check, which breaks as it
        would have; the missing days stay statement gaps either way.
        """
        req = self.request
        stmt, prev = req.statement, req.previous
        missing = self._missing_days()
        if stmt is None or prev is None or not missing or entries.is_empty():
            return
        first, last = missing[0], missing[-1]
        open_posted = entries.filter(
            (pl.col("status") == BookStatus.POSTED.value)
            & (pl.col("e_date") <= last)
            & ~pl.col("entry_id").is_in(list(self.covered_entries))
        ).select("entry_id", "e_sub", "e_date", _signed("e").alias("_amount"))
        if open_posted.is_empty():
            return
        for bal in sorted(stmt.sub_accounts, key=lambda b: b.sub_account):
            before = prev.sub_account_closings_fen.get(bal.sub_account)
            moved = None if before is None else bal.opening_fen - before
            if not moved:
                continue
            own = open_posted.filter(pl.col("e_sub") == bal.sub_account)
            for chosen in (own.filter(pl.col("e_date") >= first), own):
                if not chosen.is_empty() and chosen["_amount"].sum() == moved:
                    ids = chosen["entry_id"].sort().to_list()
                    self.covered_entries.update(ids)
                    self.missing_statement_entries.extend(ids)
                    self.missing_days_moved_fen[bal.sub_account] = moved
                    break

    def _balances_and_continuity(
        self, totals: dict[str | None, SubTotals]
    ) -> dict[str | None, SubTotals]:
        """Continuity and balance checks; returns the totals they used (printed copies out,
        see :meth:`_without_displayed_copies`), which the daily statement reports."""
        req = self.request
        stmt = req.statement
        cal = self.config.calendar
        totals = self._without_displayed_copies(totals)
        for sub, moved_fen in self.missing_days_moved_fen.items():
            # the bank's movement on the days without a statement, which the open entries of
            # those days account for (``_explain_missing_days``), counts as bank items
            t = totals.get(sub, SubTotals())
            totals[sub] = replace(t, bank_items_fen=t.bank_items_fen + moved_fen)
        if req.previous is not None:
            missing = self._missing_days()
            if missing:
                # one item per missing day, with the subject the night of that day gave it
                # (``missing:<day>`` below), so the queue carries it over instead of opening
                # a second item for the same day
                for day in missing:
                    self._raise(
                        K.STATEMENT_GAP,
                        subject=f"missing:{day.isoformat()}",
                        expected_fen=req.previous.closing_fen,
                        actual_fen=stmt.opening_fen if stmt else None,
                        detail=f"缺少 {day.isoformat()} 的对账单 / statement missing for "
                        f"{day.isoformat()} (上一份对账单 last statement "
                        f"{req.previous.statement_date.isoformat()})",
                    )
            elif stmt is not None:
                # a break of continuity is an event of the statement's day: one on another day
                # is another item, with its own figures (``opening:<what>:<day>``)
                stamp = stmt.statement_date.isoformat()
                if stmt.opening_fen != req.previous.closing_fen:
                    self._raise(
                        K.STATEMENT_GAP,
                        subject=f"opening:account:{stamp}",
                        expected_fen=req.previous.closing_fen,
                        actual_fen=stmt.opening_fen,
                        detail="期初余额不等于上日期末 / opening differs from the previous closing",
                    )
                prev_subs = req.previous.sub_account_closings_fen
                for bal in sorted(stmt.sub_accounts, key=lambda b: b.sub_account):
                    before = prev_subs.get(bal.sub_account)
                    if before is not None and before != bal.opening_fen:
                        self._raise(
                            K.STATEMENT_GAP,
                            sub_account=bal.sub_account,
                            subject=f"opening:{bal.sub_account}:{stamp}",
                            expected_fen=before,
                            actual_fen=bal.opening_fen,
                            detail="子账户期初不等于上日期末 / opening is not the last closing",
                        )
        if stmt is None:
            if cal is None or cal.is_banking_day(req.business_date):
                self._raise(
                    K.STATEMENT_GAP,
                    subject=f"missing:{req.business_date.isoformat()}",
                    detail="当日无对账单 / no statement for the business date",
                )
            return totals
        moved = {sub: t.day_movement_fen for sub, t in totals.items()}
        bank_items = {sub: t.bank_items_fen for sub, t in totals.items()}
        ledger_items = {sub: t.ledger_items_fen for sub, t in totals.items()}
        for bal in sorted(stmt.sub_accounts, key=lambda b: b.sub_account):
            sub = bal.sub_account
            if bal.opening_fen + moved.get(sub, 0) != bal.closing_fen:
                self._raise(
                    K.BALANCE_BREAK,
                    sub_account=sub,
                    subject=f"statement:{sub}",
                    expected_fen=bal.opening_fen + moved.get(sub, 0),
                    actual_fen=bal.closing_fen,
                    detail="期初加当日流水不等于期末 / opening plus the lines is not the closing",
                )
        subs = {b.sub_account for b in stmt.sub_accounts} | set(req.ledger_balances_fen)
        closing = {b.sub_account: b.closing_fen for b in stmt.sub_accounts}
        for sub in sorted(subs):
            ledger = req.ledger_balances_fen.get(sub, 0)
            bank = closing.get(sub, 0)
            # a line that took up the books' opening (first run) is explained by the books
            explained = (
                bank_items.get(sub, 0)
                - ledger_items.get(sub, 0)
                - self.opening_matched_fen.get(sub, 0)
            )
            if bank - ledger != explained:
                self._raise(
                    K.BALANCE_BREAK,
                    sub_account=sub,
                    subject=f"ledger:{sub}",
                    expected_fen=ledger + explained,
                    actual_fen=bank,
                    detail=(
                        f"银行 {grouped_yuan(bank)} 元, 账面 {grouped_yuan(ledger)} 元, "
                        f"未达账项 {grouped_yuan(explained)} 元, "
                        f"不明差额 {grouped_yuan(bank - ledger - explained)} 元 "
                        "/ unexplained difference"
                    ),
                )
        return totals
