"""A generated day with every anomaly kind: all of them found, and nothing else."""

from __future__ import annotations

from collections import Counter

from benchmarks.bench_reconciliation import found, generate
from reconciliation.engine import reconcile_frames


def test_every_injected_anomaly_is_found_and_nothing_else() -> None:
    day = generate(n=20_000, seed=7)
    result = reconcile_frames(day.request, day.lines, day.entries)
    got = found(result)
    assert got - day.expected == set()
    assert day.expected - got == set()
    kinds = Counter(kind for kind, *_ in got)
    assert set(kinds) == {
        "unmatched_bank",
        "unmatched_book",
        "amount_mismatch",
        "ambiguous",
        "duplicate",
        "village_cash",
        "cross_association",
        "balance_break",
        "statement_gap",
        "returned_after_settlement",
    }
    assert len(result.proposals) > 0
    assert len(result.pending_entry_ids) > 0
