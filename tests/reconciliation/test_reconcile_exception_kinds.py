"""Every exception kind, raised for the right items and only for them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reconciliation.calendar import BankingCalendar
from reconciliation.config import MatchConfig
from reconciliation.engine import reconcile
from reconciliation.findings import ExceptionKind, Severity
from reconciliation.model import CashInHand, CreditDebit, PreviousDay
from tests.reconciliation.conftest import (
    CARD_1,
    CARD_2,
    CARD_3,
    DAY,
    OUT,
    SUB_A,
    SUB_B,
    BookKind,
    BookStatus,
    Channel,
    Scenario,
    entry,
    kinds,
    line,
    matched,
    timedelta,
)

EXPECTED = BookStatus.EXPECTED
SETTLED = BookStatus.SETTLED


def test_ambiguous_candidates_are_raised_never_guessed() -> None:
    # one transfer of 50,000 from card 1, two open collections of 50,000 for card 1
    scenario = Scenario(
        lines=[line("L1", 50_000, counterparty_account=CARD_1)],
        entries=[
            entry("B1", 50_000, member_card=CARD_1, status=EXPECTED),
            entry("B2", 50_000, member_card=CARD_1, status=EXPECTED),
        ],
    )
    result = scenario.run()
    assert matched(result) == []
    assert result.proposals == ()
    (exc,) = result.exceptions
    assert exc.kind is ExceptionKind.AMBIGUOUS
    assert exc.line_ids == ("L1",)
    assert exc.entry_ids == ("B1", "B2")
    assert result.pending_entry_ids == ()


def test_ambiguous_group_sums_are_raised() -> None:
    # 30,000 + 20,000 from card 1 could pay either of two 50,000 collections
    scenario = Scenario(
        lines=[
            line("L1", 30_000, counterparty_account=CARD_1),
            line("L2", 20_000, counterparty_account=CARD_1),
        ],
        entries=[
            entry("B1", 50_000, member_card=CARD_1),
            entry("B2", 50_000, member_card=CARD_1),
        ],
    )
    result = scenario.run()
    assert matched(result) == []
    assert kinds(result) == [("ambiguous", ("L1", "L2"), ("B1", "B2"))]


def test_unmatched_book_entry_is_pending_until_the_configured_banking_days() -> None:
    calendar = BankingCalendar()
    friday = DAY + timedelta(days=3)
    monday = DAY + timedelta(days=6)
    tuesday = DAY + timedelta(days=7)
    book = [entry("B1", 50_000, member_card=CARD_1, business_date=friday)]
    config = MatchConfig(pending_days=2, calendar=calendar)
    on_monday = Scenario(entries=book, config=config, business_date=monday).run()
    assert on_monday.pending_entry_ids == ("B1",)
    assert on_monday.exceptions == ()
    on_tuesday = Scenario(entries=book, config=config, business_date=tuesday).run()
    assert on_tuesday.pending_entry_ids == ()
    assert kinds(on_tuesday) == [("unmatched_book", (), ("B1",))]


def test_unmatched_bank_line() -> None:
    result = Scenario(lines=[line("L1", 12_300, counterparty_account=CARD_3)]).run()
    (exc,) = result.exceptions
    assert (exc.kind, exc.line_ids, exc.actual_fen) == (
        ExceptionKind.UNMATCHED_BANK,
        ("L1",),
        12_300,
    )
    assert exc.severity is Severity.MEDIUM


def test_duplicate_bank_transaction_id() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 50_000, counterparty_account=CARD_1, bank_transaction_id="T-77"),
            line("L2", 50_000, counterparty_account=CARD_1, bank_transaction_id="T-77"),
        ],
        entries=[entry("B1", 50_000, member_card=CARD_1)],
    )
    result = scenario.run()
    assert matched(result) == [("card_amount", ("L1",), ("B1",))]
    assert kinds(result) == [("duplicate", ("L1", "L2"), ())]


def test_identical_lines_beyond_the_book_are_duplicates() -> None:
    twin: dict[str, Any] = {"counterparty_account": CARD_1, "remittance": "还款"}
    scenario = Scenario(
        lines=[line("L1", 50_000, **twin), line("L2", 50_000, occurrence=1, **twin)],
        entries=[entry("B1", 50_000, member_card=CARD_1)],
    )
    result = scenario.run()
    assert matched(result) == [("card_amount", ("L1",), ("B1",))]
    assert kinds(result) == [("duplicate", ("L1", "L2"), ())]
    assert result.exceptions[0].subject == "copy:L2"


def test_identical_lines_without_a_book_entry_one_unmatched_one_duplicate() -> None:
    twin: dict[str, Any] = {"counterparty_account": CARD_3, "remittance": "往来款"}
    scenario = Scenario(lines=[line("L1", 9_900, **twin), line("L2", 9_900, occurrence=1, **twin)])
    assert kinds(scenario.run()) == [
        ("duplicate", ("L1", "L2"), ()),
        ("unmatched_bank", ("L1",), ()),
    ]


def test_a_line_already_reconciled_earlier_is_a_duplicate() -> None:
    scenario = Scenario(
        lines=[line("L9", 300_000, OUT, end_to_end_id="DSB-1", counterparty_account=CARD_1)],
        entries=[
            entry(
                "B1",
                300_000,
                BookKind.DISBURSEMENT,
                end_to_end_id="DSB-1",
                member_card=CARD_1,
                status=SETTLED,
                business_date=DAY - timedelta(days=3),
            )
        ],
    )
    assert kinds(scenario.run()) == [("duplicate", ("L9",), ("B1",))]


@pytest.mark.parametrize(
    ("bank_line", "why"),
    [
        (line("L1", 20_000, bank_transaction_code="PMNT/CNTR/CDPT"), "ISO cash deposit code"),
        (line("L1", 20_000, OUT, bank_transaction_code="CAMT/CNTR/CWDL"), "ISO cash withdrawal"),
        (line("L1", 20_000, channel=Channel.CASH), "cash channel"),
        (line("L1", 20_000, remittance="现金存入"), "摘要 of a cn_text statement"),
    ],
)
def test_village_cash_on_the_sub_account(bank_line: object, why: str) -> None:
    result = Scenario(lines=[bank_line]).run()  # type: ignore[list-item]
    assert kinds(result) == [("village_cash", ("L1",), ())], why
    # the cash itself, signed as the bank moved it, for the office to see
    (cash,) = result.exceptions
    assert (cash.actual_fen, cash.expected_fen) == (bank_line.signed_amount_fen, None)  # type: ignore[attr-defined]


def test_cash_entry_in_the_books_is_village_cash_even_when_matched() -> None:
    scenario = Scenario(
        lines=[line("L1", 50_000, counterparty_account=CARD_1)],
        entries=[entry("B1", 50_000, member_card=CARD_1, channel=Channel.CASH)],
    )
    result = scenario.run()
    assert matched(result) == [("card_amount", ("L1",), ("B1",))]
    assert kinds(result) == [("village_cash", ("L1",), ("B1",))]
    assert (result.exceptions[0].actual_fen, result.exceptions[0].expected_fen) == (50_000, 50_000)


def test_cash_paid_out_by_hand_in_the_books_is_village_cash() -> None:
    """A cash entry that moved no sub-account (cash on hand) is matched to nothing and raised
    on its own; it is not a book entry the bank owes, so nothing is pending or unmatched."""
    scenario = Scenario(lines=[line("L1", 50_000, counterparty_account=CARD_1)])
    request = replace(
        scenario.request(),
        cash_in_hand=(CashInHand("C1", SUB_B, CreditDebit.DEBIT, 30_000),),
    )
    result = reconcile(request, scenario.lines, scenario.entries, scenario.config)
    cash = [x for x in result.exceptions if x.kind is ExceptionKind.VILLAGE_CASH]
    assert [(x.entry_ids, x.sub_account, x.expected_fen) for x in cash] == [
        (("C1",), SUB_B, -30_000)
    ]
    assert result.pending_entry_ids == ()
    assert result.statement.line_for(SUB_B).exceptions == {"village_cash": 1}
    assert cash[0].fingerprint in result.statement.exception_fingerprints


def test_lump_deposit_from_someone_who_is_not_the_borrower() -> None:
    scenario = Scenario(
        lines=[line("L1", 80_000, counterparty_account=CARD_3, remittance="代缴 HT-0042")],
        entries=[
            entry("B1", 80_000, member_card=CARD_1, contract_number="HT-0042", status=EXPECTED)
        ],
    )
    result = scenario.run()
    assert kinds(result) == [("village_cash", ("L1",), ("B1",))]
    assert result.proposals == ()  # never booked automatically


def test_money_between_two_sub_accounts_is_cross_association() -> None:
    scenario = Scenario(lines=[line("L1", 10_000, OUT, counterparty_account=SUB_B)])
    result = scenario.run()
    assert kinds(result) == [("cross_association", ("L1",), ())]
    assert result.exceptions[0].actual_fen == -10_000


def test_disbursement_to_a_card_of_another_association() -> None:
    scenario = Scenario(
        lines=[line("L1", 100_000, OUT, end_to_end_id="D-1", counterparty_account=CARD_2)],
        entries=[
            entry(
                "B1",
                100_000,
                BookKind.DISBURSEMENT,
                end_to_end_id="D-1",
                member_card=CARD_2,
                card_is_member=False,
            )
        ],
    )
    assert kinds(scenario.run()) == [("cross_association", ("L1",), ("B1",))]


def test_repayment_credited_to_the_wrong_association() -> None:
    scenario = Scenario(
        lines=[line("L1", 50_000, counterparty_account=CARD_1, sub_account=SUB_B)],
        entries=[entry("B1", 50_000, member_card=CARD_1, sub_account=SUB_A)],
    )
    result = scenario.run()
    assert kinds(result) == [("cross_association", ("L1",), ("B1",))]
    (exc,) = result.exceptions
    assert exc.sub_account == SUB_B


@pytest.mark.parametrize(
    ("line_sub", "paid_from", "expected"),
    [
        (SUB_B, CARD_1, [("cross_association", ("L1",), ("B1",))]),
        (SUB_A, CARD_3, [("village_cash", ("L1",), ("B1",))]),
        (None, CARD_1, []),  # a line naming no sub-account is not on another one
        (SUB_A, CARD_1, []),
    ],
    ids=["wrong-association", "not-the-borrower", "no-sub-account-named", "clean"],
)
def test_checks_on_a_pair_matched_by_end_to_end_id(
    line_sub: str | None, paid_from: str, expected: list[object]
) -> None:
    """The bulk pass checks its pairs as it makes them, like every other pass."""
    scenario = Scenario(
        lines=[
            line(
                "L1",
                50_000,
                end_to_end_id="R-1",
                counterparty_account=paid_from,
                sub_account=line_sub,
            )
        ],
        entries=[entry("B1", 50_000, end_to_end_id="R-1", member_card=CARD_1)],
    )
    result = scenario.run()
    assert [m.match_pass.value for m in result.matches()] == ["end_to_end"]
    assert kinds(result) == expected


def test_return_of_a_settled_disbursement() -> None:
    scenario = Scenario(
        lines=[
            line(
                "L1",
                300_000,
                end_to_end_id="DSB-5",
                counterparty_account=CARD_1,
                return_reason_code="AC04",
            )
        ],
        entries=[
            entry(
                "B1",
                300_000,
                BookKind.DISBURSEMENT,
                end_to_end_id="DSB-5",
                member_card=CARD_1,
                status=SETTLED,
                business_date=DAY - timedelta(days=4),
            )
        ],
    )
    assert kinds(scenario.run()) == [("returned_after_settlement", ("L1",), ("B1",))]


def test_reversal_of_a_posted_disbursement_on_the_same_day() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 100_000, OUT, end_to_end_id="DSB-9", counterparty_account=CARD_3),
            line("L2", 100_000, end_to_end_id="DSB-9", counterparty_account=CARD_3, reversal=True),
        ],
        entries=[
            entry("B1", 100_000, BookKind.DISBURSEMENT, end_to_end_id="DSB-9", member_card=CARD_3)
        ],
    )
    result = scenario.run()
    assert matched(result) == [("reversal", ("L1", "L2"), ())]
    assert kinds(result) == [("returned_after_settlement", ("L1", "L2"), ("B1",))]


def test_balance_break_when_the_ledger_disagrees_without_an_open_item() -> None:
    scenario = Scenario(
        lines=[line("L1", 50_000, counterparty_account=CARD_1)],
        entries=[entry("B1", 50_000, member_card=CARD_1)],
        ledger_delta={SUB_B: -700},
    )
    result = scenario.run()
    (exc,) = result.exceptions
    assert (exc.kind, exc.sub_account) == (ExceptionKind.BALANCE_BREAK, SUB_B)
    assert (exc.expected_fen, exc.actual_fen) == (499_300, 500_000)


def test_offsetting_breaks_in_two_sub_accounts_are_both_reported() -> None:
    scenario = Scenario(ledger_delta={SUB_A: 1_000, SUB_B: -1_000})
    result = scenario.run()
    assert [(x.kind.value, x.sub_account) for x in result.exceptions] == [
        ("balance_break", SUB_A),
        ("balance_break", SUB_B),
    ]
    assert result.statement.line_for("*").unexplained_fen == 0
    assert result.statement.line_for(SUB_A).unexplained_fen == -1_000


def test_open_items_explain_the_difference_without_a_break() -> None:
    scenario = Scenario(
        lines=[line("L1", 7_000, counterparty_account=CARD_3)],  # not in the ledger
        entries=[entry("B1", 50_000, member_card=CARD_1)],  # posted, bank not shown yet
    )
    result = scenario.run()
    assert [x.kind.value for x in result.exceptions] == ["unmatched_bank"]
    assert result.pending_entry_ids == ("B1",)
    assert result.statement.line_for(SUB_A).explained_fen == 7_000 - 50_000


def test_missing_statement_day_is_a_gap() -> None:
    calendar = BankingCalendar()
    previous = PreviousDay(statement_date=DAY - timedelta(days=5), closing_fen=1_500_000)
    scenario = Scenario(previous=previous, config=MatchConfig(calendar=calendar))
    # one exception per missing banking day: Friday and Monday, not the weekend
    friday, monday = scenario.run().exceptions
    assert {friday.kind, monday.kind} == {ExceptionKind.STATEMENT_GAP}
    assert (friday.subject, monday.subject) == ("missing:2026-03-06", "missing:2026-03-09")
    assert "2026-03-06" in friday.detail
    assert "2026-03-09" in monday.detail


@pytest.mark.parametrize(
    ("moved_fen", "shown", "found"),
    [
        # the bank's balance moved on the missing Monday by exactly the open payment of Monday
        (-240_000, ("B1",), [("statement_gap", "missing:2026-03-09")]),
        # it moved 5 yuan more than the books hold: nothing is guessed, the payment stays open
        # and the balance breaks
        (
            -240_500,
            (),
            [("balance_break", "ledger:SUB-A"), ("statement_gap", "missing:2026-03-09")],
        ),
        # it did not move: the payment is still on its way, pending as any other
        (0, (), [("statement_gap", "missing:2026-03-09")]),
    ],
)
def test_payment_on_a_missing_day_is_taken_as_shown_only_when_the_balance_moved_by_it(
    moved_fen: int, shown: tuple[str, ...], found: list[tuple[str, str]]
) -> None:
    previous = PreviousDay(
        statement_date=DAY - timedelta(days=2),  # Sunday's statement; Monday's never came
        closing_fen=1_500_000 - moved_fen,
        sub_account_closings_fen={SUB_A: 1_000_000 - moved_fen, SUB_B: 500_000},
    )
    payment = entry("B1", 240_000, BookKind.DISBURSEMENT, business_date=DAY - timedelta(days=1))
    # the books agreed with Sunday's closing and paid 2,400 yuan on Monday; the bank's
    # balance moved by ``moved_fen`` on Monday
    scenario = Scenario(entries=[payment], previous=previous, ledger_delta={SUB_A: -moved_fen})
    result = scenario.run()
    assert [(x.kind.value, x.subject) for x in result.exceptions] == found
    assert result.missing_statement_entry_ids == shown
    assert result.pending_entry_ids == (() if shown else ("B1",))
    line = result.statement.line_for(SUB_A)
    # unaccounted for, the whole of the missing day's movement stays unexplained
    assert line.unexplained_fen == (-240_500 if moved_fen == -240_500 else 0)


def test_opening_that_is_not_the_previous_closing_is_a_gap() -> None:
    previous = PreviousDay(
        statement_date=DAY - timedelta(days=1),
        closing_fen=1_500_000,
        sub_account_closings_fen={SUB_A: 1_000_100, SUB_B: 500_000},
    )
    result = Scenario(previous=previous).run()
    assert [(x.kind.value, x.subject) for x in result.exceptions] == [
        ("statement_gap", f"opening:SUB-A:{DAY.isoformat()}"),
    ]


def test_no_statement_on_a_banking_day_is_a_gap() -> None:
    result = Scenario(statement=False).run()
    assert [(x.kind.value, x.subject) for x in result.exceptions] == [
        ("statement_gap", "missing:2026-03-10"),
    ]


def test_a_bank_transaction_id_seen_on_an_earlier_statement_is_a_duplicate() -> None:
    scenario = Scenario(
        lines=[line("L7", 50_000, counterparty_account=CARD_1, bank_transaction_id="T-OLD")],
        entries=[entry("B1", 50_000, member_card=CARD_1)],
    )
    request = scenario.request()
    seen = replace(request, known_bank_transaction_ids=frozenset({"T-OLD"}))
    result = reconcile(seen, scenario.lines, scenario.entries, scenario.config)
    assert kinds(result) == [("duplicate", ("L7",), ())]
    assert result.pending_entry_ids == ("B1",)  # the copy confirms nothing


def test_return_without_end_to_end_id_found_by_card_and_amount() -> None:
    scenario = Scenario(
        lines=[line("L1", 120_000, counterparty_account=CARD_2, return_reason_code="AC01")],
        entries=[
            entry(
                "B1",
                120_000,
                BookKind.DISBURSEMENT,
                member_card=CARD_2,
                status=SETTLED,
                business_date=DAY - timedelta(days=20),
            )
        ],
    )
    assert kinds(scenario.run()) == [("returned_after_settlement", ("L1",), ("B1",))]


def test_return_older_than_the_window_is_unmatched() -> None:
    scenario = Scenario(
        lines=[line("L1", 120_000, counterparty_account=CARD_2, return_reason_code="AC01")],
        entries=[
            entry(
                "B1",
                120_000,
                BookKind.DISBURSEMENT,
                member_card=CARD_2,
                status=SETTLED,
                business_date=DAY - timedelta(days=90),
            )
        ],
    )
    assert kinds(scenario.run()) == [("unmatched_bank", ("L1",), ())]


def test_a_reversal_that_fits_two_originals_is_ambiguous() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 5_000, OUT, counterparty_account=CARD_3),
            line("L2", 5_000, OUT, counterparty_account=CARD_3, remittance="第二笔"),
            line("L3", 5_000, counterparty_account=CARD_3, reversal=True),
        ],
    )
    result = scenario.run()
    assert ("ambiguous", ("L1", "L2", "L3"), ()) in kinds(result)
    assert matched(result) == []


def test_repeated_end_to_end_id_pairs_the_line_of_the_same_amount() -> None:
    """Two lines carry one end-to-end id; the entry's amount picks one, the other is left."""
    scenario = Scenario(
        lines=[
            line("L1", 50_000, end_to_end_id="R-7", counterparty_account=CARD_1),
            line("L2", 70_000, end_to_end_id="R-7", counterparty_account=CARD_1),
        ],
        entries=[entry("B1", 50_000, end_to_end_id="R-7", member_card=CARD_1)],
    )
    result = scenario.run()
    assert matched(result) == [("end_to_end", ("L1",), ("B1",))]
    assert kinds(result) == [("unmatched_bank", ("L2",), ())]


def test_repeated_end_to_end_id_with_no_amount_agreeing_is_ambiguous() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 50_000, end_to_end_id="R-8", counterparty_account=CARD_1),
            line("L2", 70_000, end_to_end_id="R-8", counterparty_account=CARD_1),
        ],
        entries=[
            entry("B1", 60_000, end_to_end_id="R-8", member_card=CARD_1),
            entry("B2", 80_000, end_to_end_id="R-8", member_card=CARD_1),
        ],
    )
    result = scenario.run()
    assert matched(result) == []
    (exc,) = result.exceptions
    assert (exc.kind, exc.line_ids, exc.entry_ids) == (
        ExceptionKind.AMBIGUOUS,
        ("L1", "L2"),
        ("B1", "B2"),
    )
    assert "amounts differ" in exc.detail
