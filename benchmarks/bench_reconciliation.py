"""The matching engine at a million lines against a million entries, next to DuckDB's hash join.

The generated day (seeded) has 1% anomalies covering every exception kind besides the ordinary
traffic (payments by end-to-end id, transfers by card, repayments naming their contract, split
repayments, fees, interest, entries still pending). The run checks that every injected anomaly
is reported as its kind and that nothing else is.
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from adapters.records import SubAccountBalance
from benchmarks import Section
from reconciliation.config import MatchConfig
from reconciliation.engine import ReconciliationResult, reconcile_frames
from reconciliation.frames import ENTRY_SCHEMA, LINE_SCHEMA
from reconciliation.model import PreviousDay, ReconciliationRequest, StatementBalances

TITLE = "Reconciliation engine: 1,000,000 bank lines against 1,000,000 book entries"

DAY = date(2026, 3, 10)
ACCOUNT = "6228000000000001"
SUBS = 2_000


@dataclass(frozen=True)
class Generated:
    request: ReconciliationRequest
    lines: pl.DataFrame
    entries: pl.DataFrame
    expected: frozenset[
        tuple[str, tuple[str, ...], tuple[str, ...], str]
    ]  # kind, lines, entries, subject
    injected: dict[str, int]


def _ids(prefix: str, start: int, count: int) -> pl.Series:
    digits = pl.int_range(start, start + count).cast(pl.String).str.zfill(8)
    return pl.select(pl.format(prefix + "{}", digits)).to_series()


def _frame(columns: dict[str, object], n: int, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    data = {}
    for name, dtype in schema.items():
        value = columns.get(name)
        if isinstance(value, pl.Series | np.ndarray | list):
            data[name] = pl.Series(name, value).cast(dtype)
        else:
            data[name] = pl.Series(name, [value] * n if n else [], dtype=dtype)
    return pl.DataFrame(data)


def generate(n: int = 1_000_000, seed: int = 20260310, anomaly_share: float = 0.01) -> Generated:
    rng = np.random.default_rng(seed)
    m = max(2, int(n * anomaly_share / 10))  # per anomaly kind: 1% of the volume over 10 kinds
    subs_n = max(100, min(SUBS, n // 50))
    sub_names = [f"SUB-{i:04d}" for i in range(subs_n)]
    lines: list[pl.DataFrame] = []
    entries: list[pl.DataFrame] = []
    expected: set[tuple[str, tuple[str, ...], tuple[str, ...], str]] = set()
    counter = {"line": 0, "entry": 0, "card": 0}

    def take(kind: str, k: int) -> int:
        start = counter[kind]
        counter[kind] += k
        return start

    def subs(k: int) -> np.ndarray:
        return np.array(sub_names, dtype=object)[rng.integers(0, subs_n, k)]

    def cards(k: int) -> pl.Series:
        return _ids("62300000", take("card", k), k)

    def add(
        k: int,
        line: dict[str, object] | None,
        entry: dict[str, object] | None,
        *,
        amounts: np.ndarray | None = None,
        credit: np.ndarray | bool = True,
    ) -> tuple[pl.Series, pl.Series]:
        """k lines and/or k entries sharing sub-account, card, amount and direction per row."""
        amounts = rng.integers(100, 3_000_000, k) if amounts is None else amounts
        sub = subs(k)
        card = cards(k)
        credit_arr = np.full(k, credit) if isinstance(credit, bool) else credit
        line_ids = entry_ids = pl.Series(dtype=pl.String)
        if line is not None:
            line_ids = _ids("L", take("line", k), k)
            base: dict[str, object] = {
                "line_id": line_ids,
                "special_account": ACCOUNT,
                "sub_account": sub,
                "booking_date": DAY,
                "credit": credit_arr,
                "amount_fen": amounts,
                "bank_transaction_id": _ids("T", counter["line"] - k, k),
                "remittance": "",
                "counterparty_account": card,
                "channel": "transfer",
                "bank_transaction_code": "PMNT/RCDT/ESCT",
                "reversal": False,
                "occurrence": 0,
            }
            base.update(line)
            lines.append(_frame(base, k, LINE_SCHEMA))
        if entry is not None:
            entry_ids = _ids("B", take("entry", k), k)
            base = {
                "entry_id": entry_ids,
                "association_id": sub,
                "sub_account": sub,
                "business_date": DAY,
                "credit": credit_arr,
                "amount_fen": amounts,
                "kind": np.where(credit_arr, "repayment", "disbursement"),
                "member_card": card,
                "card_is_member": True,
                "channel": "transfer",
                "status": "posted",
            }
            base.update(entry)
            entries.append(_frame(base, k, ENTRY_SCHEMA))
        return line_ids, entry_ids

    def expect(kind: str, ls: pl.Series, es: pl.Series) -> None:
        for i in range(max(len(ls), len(es))):
            expected.add((kind, (ls[i],) if len(ls) else (), (es[i],) if len(es) else (), ""))

    injected: dict[str, int] = {}
    # --- ordinary traffic ------------------------------------------------------------
    ordinary = n - 6 * m  # the anomalies below add about 6 m lines
    by_e2e = int(ordinary * 0.94)
    by_card = int(ordinary * 0.03)
    by_contract = int(ordinary * 0.02)
    fees = max(1, ordinary - by_e2e - by_card - by_contract - m)  # m pending entries below
    e2e = _ids("E2E", 0, by_e2e)
    credit = rng.random(by_e2e) < 0.6
    add(by_e2e, {"end_to_end_id": e2e}, {"end_to_end_id": e2e}, credit=credit)
    add(by_card, {"remittance": "还款"}, {"status": "expected"})
    contracts = _ids("HT", 0, by_contract)
    add(
        by_contract,
        {"remittance": pl.select(pl.format("还款 合同{} 本息", pl.lit(contracts))).to_series()},
        {"contract_number": contracts, "status": "expected"},
    )
    half = fees // 2
    add(half, {"channel": "fee", "remittance": "手续费"}, None, credit=False)
    add(fees - half, {"channel": "interest", "remittance": "结息"}, None)
    add(m, None, {"status": "posted"})  # posted today, not on the statement yet: pending
    # disbursements reconciled on earlier days, passed in for returns and duplicates
    add(
        fees + m,
        None,
        {"status": "settled", "business_date": DAY - timedelta(days=7)},
        credit=False,
    )
    # split repayments: one entry, two transfers from the same card
    split_amounts = rng.integers(2, 1_000_000, m // 2) * 2
    _, es = add(m // 2, None, {"status": "expected"}, amounts=split_amounts)
    split_entries = entries[-1]
    for _ in range(2):
        ids = _ids("L", take("line", m // 2), m // 2)
        lines.append(
            _frame(
                {
                    "line_id": ids,
                    "special_account": ACCOUNT,
                    "sub_account": split_entries["sub_account"],
                    "booking_date": DAY,
                    "credit": True,
                    "amount_fen": split_entries["amount_fen"] // 2,
                    "bank_transaction_id": _ids("T", counter["line"] - m // 2, m // 2),
                    "remittance": "分期还款",
                    "counterparty_account": split_entries["member_card"],
                    "channel": "transfer",
                    "bank_transaction_code": "PMNT/RCDT/ESCT",
                    "reversal": False,
                    "occurrence": 0,
                },
                m // 2,
                LINE_SCHEMA,
            )
        )

    # --- anomalies -----------------------------------------------------------------------
    ls, es = add(m, {"remittance": "往来款"}, None)
    expect("unmatched_bank", ls, es)
    e2e = _ids("LOST", 0, m)
    ls, es = add(m, None, {"end_to_end_id": e2e, "business_date": DAY - timedelta(days=10)})
    expect("unmatched_book", ls, es)
    e2e = _ids("MIS", 0, m)
    amounts = rng.integers(100, 3_000_000, m)
    ls, _ = add(m, {"end_to_end_id": e2e}, None, amounts=amounts + 1)
    last_cards = lines[-1]["counterparty_account"]
    entries.append(
        lines[-1]
        .select(
            entry_id=_ids("B", take("entry", m), m),
            association_id="sub_account",
            sub_account="sub_account",
            business_date="booking_date",
            credit="credit",
            amount_fen=pl.col("amount_fen") - 1,
            kind=pl.lit("repayment"),
            end_to_end_id="end_to_end_id",
            member_card=last_cards,
            card_is_member=pl.lit(True),
            channel=pl.lit("transfer"),
            status=pl.lit("posted"),
        )
        .pipe(lambda f: _frame(dict(f.to_dict()), m, ENTRY_SCHEMA))
    )
    expected.update(
        ("amount_mismatch", (a,), (b,), "")
        for a, b in zip(ls, entries[-1]["entry_id"], strict=True)
    )
    # ambiguous: one transfer, two open collections of the same card and amount
    k = m // 2
    ls, es1 = add(k, {"remittance": "还款"}, {"status": "expected"})
    twin = entries[-1].with_columns(entry_id=_ids("B", take("entry", k), k))
    entries.append(twin)
    for i in range(k):
        pair = tuple(sorted((es1[i], twin["entry_id"][i])))
        expected.add(("ambiguous", (ls[i],), pair, ""))
    # duplicate: the same bank transaction booked twice
    first = lines[0].head(m)
    copy = first.with_columns(line_id=_ids("L", take("line", m), m))
    lines.append(copy)
    expected.update(
        ("duplicate", tuple(sorted((a, b))), (), f"txn:{t}")
        for a, b, t in zip(
            first["line_id"], copy["line_id"], first["bank_transaction_id"], strict=True
        )
    )
    # village cash: counter deposits on a sub-account
    ls, es = add(m, {"bank_transaction_code": "CAMT/CNTR/CDPT", "remittance": "现金存入"}, None)
    expect("village_cash", ls, es)
    # cross-association: repayment credited to another association's sub-account
    e2e = _ids("XA", 0, m)
    ls, es = add(m, {"end_to_end_id": e2e}, {"end_to_end_id": e2e})
    moved = lines[-1].with_columns(
        sub_account=pl.when(pl.col("sub_account") == sub_names[0])
        .then(pl.lit(sub_names[1]))
        .otherwise(pl.lit(sub_names[0]))
    )
    lines[-1] = moved
    expected.update(("cross_association", (a,), (b,), "") for a, b in zip(ls, es, strict=True))
    # cross-association: a disbursement paid to a card that is not a member of the association
    k = m // 2
    e2e = _ids("NM", 0, k)
    ls, es = add(
        k, {"end_to_end_id": e2e}, {"end_to_end_id": e2e, "card_is_member": False}, credit=False
    )
    expected.update(("cross_association", (a,), (b,), "") for a, b in zip(ls, es, strict=True))
    # village cash: a lump deposit naming a loan, paid from a card that is not the borrower's
    contracts = _ids("LUMP", 0, k)
    ls, es = add(
        k,
        {
            "remittance": pl.select(pl.format("代缴 {}", pl.lit(contracts))).to_series(),
            "counterparty_account": cards(k),
        },
        {"contract_number": contracts, "status": "expected"},
    )
    expected.update(("village_cash", (a,), (b,), "") for a, b in zip(ls, es, strict=True))
    # village cash: the books record a repayment taken in cash
    ls, es = add(k, None, {"channel": "cash"})
    expect("village_cash", ls, es)
    # returned after settlement: a return of a disbursement reconciled days ago
    e2e = _ids("RET", 0, m)
    ls, _ = add(m, {"end_to_end_id": e2e, "return_reason_code": "AC04"}, None)
    ret_lines = lines[-1]
    entries.append(
        _frame(
            {
                "entry_id": _ids("B", take("entry", m), m),
                "association_id": ret_lines["sub_account"],
                "sub_account": ret_lines["sub_account"],
                "business_date": DAY - timedelta(days=5),
                "credit": False,
                "amount_fen": ret_lines["amount_fen"],
                "kind": "disbursement",
                "end_to_end_id": e2e,
                "member_card": ret_lines["counterparty_account"],
                "card_is_member": True,
                "channel": "transfer",
                "status": "settled",
            },
            m,
            ENTRY_SCHEMA,
        )
    )
    expected.update(
        ("returned_after_settlement", (a,), (b,), "")
        for a, b in zip(ls, entries[-1]["entry_id"], strict=True)
    )
    injected = {
        kind: sum(1 for x in expected if x[0] == kind) for kind in sorted({x[0] for x in expected})
    }

    all_lines = pl.concat(lines)
    all_entries = pl.concat(entries)
    # shuffle both sides: the engine must not depend on order
    all_lines = all_lines.sample(fraction=1.0, shuffle=True, seed=seed)
    all_entries = all_entries.sample(fraction=1.0, shuffle=True, seed=seed + 1)

    # balances: opening per sub-account, closing = opening + the day's lines, ledger = opening +
    # posted entries; then 1% of sub-accounts get a ledger break and 1% an opening gap
    opening = {
        s: int(v) for s, v in zip(sub_names, rng.integers(10**6, 10**9, subs_n), strict=True)
    }
    signed_l = pl.when(pl.col("credit")).then(pl.col("amount_fen")).otherwise(-pl.col("amount_fen"))
    moved_by = dict(all_lines.group_by("sub_account").agg(signed_l.sum()).iter_rows())
    posted_by = dict(
        all_entries.filter(pl.col("status") == "posted")
        .group_by("sub_account")
        .agg(signed_l.sum())
        .iter_rows()
    )
    breaks = max(1, subs_n // 100)
    ledger = {s: opening[s] + posted_by.get(s, 0) for s in sub_names}
    for s in sub_names[-breaks:]:
        ledger[s] -= 1
        expected.add(("balance_break", (), (), f"ledger:{s}"))
    previous_closing = dict(opening)
    for s in sub_names[-2 * breaks : -breaks]:
        previous_closing[s] += 100
        expected.add(("statement_gap", (), (), f"opening:{s}:{DAY.isoformat()}"))
    injected["balance_break"] = breaks
    injected["statement_gap"] = breaks
    closing = {s: opening[s] + moved_by.get(s, 0) for s in sub_names}
    statement = StatementBalances(
        statement_date=DAY,
        opening_fen=sum(opening.values()),
        closing_fen=sum(closing.values()),
        sub_accounts=tuple(SubAccountBalance(s, opening[s], closing[s]) for s in sub_names),
    )
    request = ReconciliationRequest(
        special_account=ACCOUNT,
        business_date=DAY,
        statement=statement,
        previous=PreviousDay(
            statement_date=DAY - timedelta(days=1),
            closing_fen=sum(opening.values()),
            sub_account_closings_fen=previous_closing,
        ),
        ledger_balances_fen=ledger,
        sub_accounts=frozenset(sub_names),
    )
    return Generated(request, all_lines, all_entries, frozenset(expected), injected)


def found(
    result: ReconciliationResult,
) -> frozenset[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    return frozenset(
        (
            x.kind.value,
            x.line_ids,
            x.entry_ids,
            x.subject if x.kind.value in ("balance_break", "statement_gap", "duplicate") else "",
        )
        for x in result.exceptions
    )


def _duckdb_join(
    con: duckdb.DuckDBPyConnection, lines: pl.DataFrame, entries: pl.DataFrame, *, slim: bool
) -> int:
    """The plain hash join: bank lines to book entries on the end-to-end id, result materialised.

    ``slim`` hands DuckDB only the two columns each side needs, zero-copy (Arrow string views);
    otherwise the frames are handed over whole, as a caller registering them would.
    """
    if slim:
        newest = pl.CompatLevel.newest()
        lines = lines.select("line_id", "end_to_end_id")
        entries = entries.select("entry_id", "end_to_end_id")
        con.register("bank_lines", lines.to_arrow(compat_level=newest))
        con.register("book_entries", entries.to_arrow(compat_level=newest))
    else:
        con.register("bank_lines", lines.to_arrow())
        con.register("book_entries", entries.to_arrow())
    table = con.sql(
        "SELECT l.line_id, e.entry_id FROM bank_lines l "
        "JOIN book_entries e ON l.end_to_end_id = e.end_to_end_id"
    ).to_arrow_table()
    return table.num_rows


def run(n: int = 1_000_000, repeat: int = 3) -> Section:
    section = Section(TITLE)
    t0 = time.perf_counter()
    data = generate(n)
    gen_s = time.perf_counter() - t0
    config = MatchConfig()
    con = duckdb.connect()
    engine_times: list[float] = []
    whole_times: list[float] = []
    slim_times: list[float] = []
    result = None
    for _ in range(repeat):  # interleaved, so all three see the same load on the machine
        t = time.perf_counter()
        result = reconcile_frames(data.request, data.lines, data.entries, config)
        engine_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        _duckdb_join(con, data.lines, data.entries, slim=False)
        whole_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        _duckdb_join(con, data.lines, data.entries, slim=True)
        slim_times.append(time.perf_counter() - t)
    assert result is not None
    engine_s = statistics.median(engine_times)
    whole_s = statistics.median(whole_times)
    slim_s = statistics.median(slim_times)
    t = time.perf_counter()
    pairs = len(result.match_pairs)
    materialise_s = time.perf_counter() - t
    got = found(result)
    missed = data.expected - got
    false = got - data.expected
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    section.add(
        "bank lines / book entries",
        f"{len(data.lines):,} / {len(data.entries):,}",
        "1,000,000 each",
        len(data.lines) >= n and len(data.entries) >= n,
    )
    section.add(f"engine (median of {repeat})", f"{engine_s:.2f} s", "", True)
    section.add(
        f"DuckDB join, frames handed over whole (median of {repeat})", f"{whole_s:.2f} s", "", True
    )
    section.add(
        f"DuckDB join, two key columns zero-copy (median of {repeat})", f"{slim_s:.2f} s", "", True
    )
    section.add(
        "engine / DuckDB (frames whole)",
        f"{engine_s / whole_s:.2f}×",
        "≤ 3×",
        engine_s <= 3 * whole_s,
    )
    section.add(
        "engine / DuckDB (key columns only)",
        f"{engine_s / slim_s:.2f}×",
        "≤ 3×",
        engine_s <= 3 * slim_s,
    )
    section.add(
        "injected anomalies found",
        f"{len(data.expected) - len(missed):,} of {len(data.expected):,}",
        "all",
        not missed,
    )
    section.add("false exceptions", f"{len(false):,}", "0", not false)
    section.add("peak memory (process RSS)", f"{peak_mib:,.0f} MiB", "< 2,048 MiB", peak_mib < 2048)
    section.notes.append(
        "anomalies injected: " + ", ".join(f"{k} {v:,}" for k, v in sorted(data.injected.items()))
    )
    section.notes.append(
        f"matched {pairs:,} pairs; {len(result.proposals_frame):,} proposals; "
        f"{len(result.pending_entry_ids):,} pending; generation took {gen_s:.1f} s (not timed); "
        f"turning the matched pairs' row indices into id strings on first access took "
        f"{materialise_s:.2f} s (not in the engine time)"
    )
    section.notes.append(
        "engine: validation, every pass, every check, exceptions, proposals (as a frame) and "
        "the daily statement; DuckDB: the plain join on the end-to-end id, result materialised; "
        "the runs are interleaved on a 2-core machine shared with other work, so absolute times "
        "vary from run to run and the ratios are what to read"
    )
    return section
