"""The daily reconciliation statement, its hash chain and fingerprints across nights."""

from __future__ import annotations

import json

from reconciliation.model import PreviousDay
from reconciliation.statement import ACCOUNT_LEVEL, verify_chain
from tests.reconciliation.conftest import (
    CARD_1,
    CARD_3,
    DAY,
    OUT,
    SUB_A,
    SUB_B,
    BookKind,
    BookStatus,
    ExceptionKind,
    Scenario,
    entry,
    line,
    timedelta,
)


def night(day_offset: int, previous: PreviousDay | None, **kw: object) -> Scenario:
    scenario = Scenario(previous=previous, **kw)  # type: ignore[arg-type]
    scenario.business_date = DAY + timedelta(days=day_offset)
    return scenario


def test_statement_has_a_line_per_sub_account_and_the_account() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 50_000, counterparty_account=CARD_1),
            line("L2", 9_000, counterparty_account=CARD_3, sub_account=SUB_B),
        ],
        entries=[entry("B1", 50_000, member_card=CARD_1, status=BookStatus.EXPECTED)],
    )
    statement = scenario.run().statement
    assert [x.sub_account for x in statement.lines] == [ACCOUNT_LEVEL, SUB_A, SUB_B]
    a, b = statement.line_for(SUB_A), statement.line_for(SUB_B)
    assert (a.opening_fen, a.closing_fen, a.matched_count, a.matched_in_fen) == (
        1_000_000,
        1_050_000,
        1,
        50_000,
    )
    assert (a.proposal_count, dict(a.exceptions)) == (1, {})
    assert (b.matched_count, dict(b.exceptions)) == (0, {"unmatched_bank": 1})
    assert b.explained_fen == 9_000
    assert b.unexplained_fen == 0
    total = statement.line_for(ACCOUNT_LEVEL)
    assert total.closing_fen == 1_559_000
    assert dict(total.exceptions) == {"unmatched_bank": 1}


def test_matched_figures_count_only_the_matched_lines_in_and_out() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 50_000, end_to_end_id="E2E-1", counterparty_account=CARD_1),
            line("L2", 30_000, OUT, end_to_end_id="E2E-2", counterparty_account=CARD_1),
            line("L3", 7_000, counterparty_account=CARD_3),
            line("L4", 2_000, OUT, counterparty_account=CARD_3),
            line("L5", 4_000, counterparty_account=CARD_3, sub_account=None),
        ],
        entries=[
            entry("B1", 50_000, end_to_end_id="E2E-1", member_card=CARD_1),
            entry("B2", 30_000, BookKind.DISBURSEMENT, end_to_end_id="E2E-2", member_card=CARD_1),
        ],
    )
    result = scenario.run()
    a = result.statement.line_for(SUB_A)
    assert (a.matched_count, a.matched_in_fen, a.matched_out_fen) == (2, 50_000, 30_000)
    assert dict(a.exceptions) == {"unmatched_bank": 2}
    assert sorted(x.line_ids[0] for x in result.by_kind(ExceptionKind.UNMATCHED_BANK)) == [
        "L3",
        "L4",
        "L5",
    ]


def test_canonical_serialisation_is_sorted_compact_utf8() -> None:
    statement = Scenario(lines=[line("L1", 100, counterparty_account=CARD_3)]).run().statement
    raw = statement.canonical_bytes()
    assert json.loads(raw.decode("utf-8")) == statement.as_dict()
    assert raw.startswith(b'{"business_date":"2026-03-10","exception_fingerprints":[')
    assert (
        raw
        == Scenario(lines=[line("L1", 100, counterparty_account=CARD_3)])
        .run()
        .statement.canonical_bytes()
    )
    assert len(statement.digest) == 64


def test_statements_chain_by_hash_and_a_changed_day_breaks_the_chain() -> None:
    first = night(0, None).run().statement
    second = (
        night(
            1,
            PreviousDay(DAY, first.line_for(ACCOUNT_LEVEL).closing_fen or 0),
            previous_hash=first.digest,
        )
        .run()
        .statement
    )
    third = (
        night(
            2,
            PreviousDay(DAY + timedelta(days=1), second.line_for(ACCOUNT_LEVEL).closing_fen or 0),
            previous_hash=second.digest,
        )
        .run()
        .statement
    )
    assert second.previous_hash == first.digest
    assert verify_chain([first, second, third]) is None
    tampered = night(0, None, ledger_delta={SUB_A: 1}).run().statement
    assert tampered.digest != first.digest
    assert verify_chain([tampered, second, third]) == 1


def test_fingerprints_persist_from_night_to_night_and_resolved_items_disappear() -> None:
    stray = line("L1", 7_000, counterparty_account=CARD_3, booking_date=DAY)
    monday = night(0, None, lines=[stray]).run()
    tuesday = night(1, None, lines=[stray]).run()  # still open: passed in again
    wednesday = night(2, None).run()  # booked by hand in between: not open any more
    (on_monday,) = monday.exceptions
    (on_tuesday,) = tuesday.exceptions
    assert on_monday.fingerprint == on_tuesday.fingerprint
    assert on_monday.fingerprint in monday.statement.exception_fingerprints
    assert on_monday.fingerprint not in wednesday.statement.exception_fingerprints


def test_exception_evidence_and_severity() -> None:
    result = Scenario(
        lines=[line("L1", 49_000, counterparty_account=CARD_1)],
        entries=[entry("B1", 50_000, member_card=CARD_1)],
    ).run()
    (exc,) = result.exceptions
    assert exc.kind.value == "amount_mismatch"
    assert (exc.line_ids, exc.entry_ids, exc.expected_fen, exc.actual_fen) == (
        ("L1",),
        ("B1",),
        50_000,
        49_000,
    )
    assert exc.sub_account == SUB_A
    assert "same reference, different amount" in exc.explanation
    assert "金额不符" in exc.explanation
    assert exc.severity.name == "HIGH"
