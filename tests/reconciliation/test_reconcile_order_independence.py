"""The same inputs in any order give the same output."""

from __future__ import annotations

import itertools

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.engine import ReconciliationResult, reconcile_frames
from reconciliation.frames import entries_frame, lines_frame
from tests.reconciliation.conftest import (
    CARD_1,
    CARD_2,
    CARD_3,
    DAY,
    OUT,
    SUB_B,
    BookKind,
    BookStatus,
    Channel,
    Scenario,
    entry,
    line,
    timedelta,
)

EXPECTED = BookStatus.EXPECTED

LINES = [
    line("L01", 300_000, OUT, end_to_end_id="D-1", counterparty_account=CARD_1),
    line("L02", 50_000, counterparty_account=CARD_2),
    line("L03", 50_000, counterparty_account=CARD_3),
    line("L04", 30_000, counterparty_account=CARD_1, remittance="还款 HT-0001"),
    line("L05", 20_000, counterparty_account=CARD_1, remittance="还款 HT-0001"),
    line("L06", 70_000, counterparty_account="6230999900000001"),
    line("L07", 500, OUT, channel=Channel.FEE),
    line("L08", 12_000, bank_transaction_code="PMNT/CNTR/CDPT"),
    line("L09", 8_000, counterparty_account=CARD_2, bank_transaction_id="T9"),
    line("L10", 8_000, counterparty_account=CARD_2, bank_transaction_id="T9"),
    line("L11", 40_000, end_to_end_id="C-7", counterparty_account=CARD_3),
    line("L12", 10_000, OUT, counterparty_account=SUB_B),
    line("L13", 60_000, counterparty_account=CARD_3, sub_account=SUB_B),
]
ENTRIES = [
    entry("B01", 300_000, BookKind.DISBURSEMENT, end_to_end_id="D-1", member_card=CARD_1),
    entry("B02", 50_000, member_card=CARD_2, status=EXPECTED),
    entry("B03", 50_000, member_card=CARD_3, status=EXPECTED),
    entry("B04", 50_000, member_card=CARD_1, contract_number="HT-0001", status=EXPECTED),
    entry("B05", 8_000, member_card=CARD_2),
    entry("B06", 45_000, end_to_end_id="C-7", member_card=CARD_3),
    entry("B07", 60_000, member_card=CARD_3, contract_number="HT-0009"),
    entry("B08", 25_000, member_card=CARD_2, business_date=DAY - timedelta(days=9)),
    entry("B09", 25_000, member_card=CARD_2, business_date=DAY - timedelta(days=9)),
    entry("B10", 9_900, member_card=CARD_1, channel=Channel.CASH),
    entry("B11", 1_000, member_card=CARD_3),
]


def summary(result: ReconciliationResult) -> tuple[object, ...]:
    return (
        result.exceptions,
        result.matches(),
        # the frames row for row, not only the sorted objects built from them
        result.match_pairs.rows(),
        result.proposals_frame.rows(),
        result.proposals,
        result.pending_entry_ids,
        result.statement.canonical_bytes(),
    )


BASELINE = summary(Scenario(lines=list(LINES), entries=list(ENTRIES)).run())


def test_the_pool_exercises_every_path() -> None:
    exceptions, matches, pairs, proposal_rows, proposals, pending, _ = BASELINE
    assert {x.kind.value for x in exceptions} >= {  # type: ignore[attr-defined]
        "duplicate",
        "village_cash",
        "cross_association",
        "amount_mismatch",
        "unmatched_bank",
    }
    assert len(matches) >= 4  # type: ignore[arg-type]
    assert proposals
    assert len(proposal_rows) == len(proposals)  # type: ignore[arg-type]
    assert len(pairs) >= len(matches)  # type: ignore[arg-type]
    assert pending


@settings(max_examples=40, deadline=None)
@given(st.permutations(LINES), st.permutations(ENTRIES))
def test_shuffled_inputs_give_identical_output(lines: list[object], entries: list[object]) -> None:
    result = Scenario(lines=lines, entries=entries).run()  # type: ignore[arg-type]
    assert summary(result) == BASELINE


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(LINES) - 1), max_size=4, unique=True))
def test_frames_in_many_chunks_give_identical_output(cuts: list[int]) -> None:
    """A frame built piece by piece (a statement read in parts, a query fetched in batches) is
    reconciled exactly like the same frame in one piece."""
    scenario = Scenario(lines=list(LINES), entries=list(ENTRIES))
    whole_lines, whole_entries = lines_frame(LINES), entries_frame(ENTRIES)
    bounds = [0, *sorted(cuts), len(LINES)]
    chunked_lines = pl.concat(
        [whole_lines.slice(a, b - a) for a, b in itertools.pairwise(bounds)], rechunk=False
    )
    chunked_entries = pl.concat(
        [whole_entries.slice(0, 3), whole_entries.slice(3, None)], rechunk=False
    )
    assert chunked_lines.n_chunks() == len(bounds) - 1
    result = reconcile_frames(scenario.request(), chunked_lines, chunked_entries, scenario.config)
    assert summary(result) == BASELINE
