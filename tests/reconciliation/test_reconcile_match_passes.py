"""Each match pass, and the traps a naive matcher falls into."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from adapters.records import CreditDebit
from reconciliation.calendar import BankingCalendar
from reconciliation.config import MatchConfig
from reconciliation.findings import PostingKind
from reconciliation.model import BankLine, BookEntry
from tests.reconciliation.conftest import (
    CARD_1,
    CARD_2,
    CARD_3,
    DAY,
    OUT,
    SUB_A,
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

NEXT_DAY = DAY + timedelta(days=1)
EXPECTED = BookStatus.EXPECTED


@dataclass
class Case:
    lines: list[BankLine]
    entries: list[BookEntry]
    matches: list[tuple[str, tuple[str, ...], tuple[str, ...]]]
    exceptions: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    config: MatchConfig = field(default_factory=MatchConfig)
    business_date: object = DAY


CASES = {
    "end_to_end_id": Case(
        [line("L1", 300_000, OUT, end_to_end_id="DSB-1", counterparty_account=CARD_1)],
        [entry("B1", 300_000, BookKind.DISBURSEMENT, end_to_end_id="DSB-1", member_card=CARD_1)],
        [("end_to_end", ("L1",), ("B1",))],
    ),
    "contract_number_in_remittance": Case(
        [
            line(
                "L1", 80_000, remittance="还款 合同号HZ-2026-0007 张三", counterparty_account=CARD_1
            )
        ],
        [
            entry("B1", 80_000, contract_number="HZ-2026-0007", member_card=CARD_1),
            entry("B2", 80_000, contract_number="HZ-2026-0008", member_card=CARD_1),
        ],
        [("contract", ("L1",), ("B1",))],
        # the other loan of the same borrower, same amount, stays open (pending)
    ),
    "two_borrowers_same_amount_same_day_match_by_card": Case(
        [
            line("L1", 50_000, counterparty_account=CARD_2),
            line("L2", 50_000, counterparty_account=CARD_1),
        ],
        [
            entry("B1", 50_000, member_card=CARD_1, status=EXPECTED),
            entry("B2", 50_000, member_card=CARD_2, status=EXPECTED),
        ],
        [("card_amount", ("L1",), ("B2",)), ("card_amount", ("L2",), ("B1",))],
    ),
    "line_booked_a_day_late": Case(
        [line("L1", 50_000, counterparty_account=CARD_1, booking_date=NEXT_DAY)],
        [entry("B1", 50_000, member_card=CARD_1)],
        [("card_amount", ("L1",), ("B1",))],
        business_date=NEXT_DAY,
    ),
    "line_late_beyond_the_window_is_not_matched": Case(
        [line("L1", 50_000, counterparty_account=CARD_1, booking_date=NEXT_DAY)],
        [entry("B1", 50_000, member_card=CARD_1)],
        [],
        [("unmatched_bank", ("L1",), ())],
        config=MatchConfig(days_after=0, pending_days=5),
        business_date=NEXT_DAY,
    ),
    "window_in_banking_days_over_a_weekend": Case(
        # entry on Friday 13th, line on Monday 16th: one banking day late
        [line("L1", 50_000, counterparty_account=CARD_1, booking_date=DAY + timedelta(days=6))],
        [entry("B1", 50_000, member_card=CARD_1, business_date=DAY + timedelta(days=3))],
        [("card_amount", ("L1",), ("B1",))],
        config=MatchConfig(days_after=1, calendar=BankingCalendar()),
        business_date=DAY + timedelta(days=6),
    ),
    "repayment_split_into_two_transfers": Case(
        [
            line("L1", 30_000, counterparty_account=CARD_1),
            line("L2", 20_000, counterparty_account=CARD_1, booking_date=NEXT_DAY),
        ],
        [entry("B1", 50_000, member_card=CARD_1, status=EXPECTED)],
        [("group_sum", ("L1", "L2"), ("B1",))],
        business_date=NEXT_DAY,
    ),
    # no card on the lines: only the contract their remittance names ties them to the entry
    "repayment_split_into_two_transfers_naming_the_contract": Case(
        [
            line("L1", 30_000, remittance="还款 合同号HZ-2026-0009 第一笔"),
            line("L2", 20_000, remittance="还款 合同号HZ-2026-0009 第二笔"),
        ],
        [
            entry("B1", 50_000, member_card=CARD_1, contract_number="HZ-2026-0009"),
            entry("B2", 50_000, member_card=CARD_2, contract_number="HZ-2026-0010"),
        ],
        [("group_sum", ("L1", "L2"), ("B1",))],  # B2, another contract, is pending
    ),
    "transfer_naming_the_contract_for_another_amount": Case(
        [line("L1", 45_000, remittance="还款 合同号HZ-2026-0011")],
        [entry("B1", 50_000, member_card=CARD_1, contract_number="HZ-2026-0011")],
        [],
        [("amount_mismatch", ("L1",), ("B1",))],
    ),
    "two_repayments_in_one_transfer": Case(
        [line("L1", 70_000, counterparty_account=CARD_1)],
        [
            entry("B1", 50_000, member_card=CARD_1, contract_number="HT-1"),
            entry("B2", 20_000, member_card=CARD_1, contract_number="HT-2"),
        ],
        [("group_sum", ("L1",), ("B1", "B2"))],
    ),
    "bank_fee_matches_a_recorded_fee": Case(
        [line("L1", 500, OUT, channel=Channel.FEE, remittance="手续费")],
        [entry("B1", 500, BookKind.BANK_FEE)],
        [("card_amount", ("L1",), ("B1",))],
    ),
    "reversal_and_its_original_cancel": Case(
        [
            line("L1", 100_000, OUT, end_to_end_id="DSB-9", counterparty_account=CARD_3),
            line("L2", 100_000, end_to_end_id="DSB-9", counterparty_account=CARD_3, reversal=True),
        ],
        [],
        [("reversal", ("L1", "L2"), ())],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_match_pass(name: str) -> None:
    case = CASES[name]
    scenario = Scenario(lines=case.lines, entries=case.entries, config=case.config)
    scenario.business_date = case.business_date  # type: ignore[assignment]
    result = scenario.run()
    assert matched(result) == case.matches
    assert kinds(result) == case.exceptions


def test_split_repayment_is_proposed_as_one_auto_posting() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 30_000, counterparty_account=CARD_1),
            line("L2", 20_000, counterparty_account=CARD_1),
        ],
        entries=[entry("B1", 50_000, member_card=CARD_1, status=EXPECTED)],
    )
    (proposal,) = scenario.run().proposals
    assert proposal.kind is PostingKind.REPAYMENT
    assert proposal.auto
    assert proposal.line_ids == ("L1", "L2")
    assert proposal.entry_ids == ("B1",)
    assert proposal.amount_fen == 50_000


def test_posted_repayment_is_matched_but_not_proposed_again() -> None:
    scenario = Scenario(
        lines=[line("L1", 50_000, counterparty_account=CARD_1)],
        entries=[entry("B1", 50_000, member_card=CARD_1, status=BookStatus.POSTED)],
    )
    result = scenario.run()
    assert matched(result) == [("card_amount", ("L1",), ("B1",))]
    assert result.proposals == ()


def test_bank_fee_and_interest_without_book_entries_are_proposals_not_exceptions() -> None:
    scenario = Scenario(
        lines=[
            line("L1", 600, OUT, channel=Channel.FEE, remittance="手续费"),
            line("L2", 1_234, channel=Channel.INTEREST, remittance="结息"),
        ]
    )
    result = scenario.run()
    assert result.exceptions == ()
    assert [(p.kind, p.line_ids, p.amount_fen, p.credit) for p in result.proposals] == [
        (PostingKind.BANK_FEE, ("L1",), 600, False),
        (PostingKind.INTEREST, ("L2",), 1_234, True),
    ]


def test_bank_fee_is_an_exception_when_not_configured_as_a_proposal() -> None:
    scenario = Scenario(
        lines=[line("L1", 600, OUT, channel=Channel.FEE)],
        config=MatchConfig(propose_bank_fees=False),
    )
    result = scenario.run()
    assert result.proposals == ()
    assert kinds(result) == [("unmatched_bank", ("L1",), ())]


@pytest.mark.parametrize("line_amount", [49_999, 50_001])
def test_no_tolerance_on_amounts(line_amount: int) -> None:
    scenario = Scenario(
        lines=[line("L1", line_amount, counterparty_account=CARD_1)],
        entries=[entry("B1", 50_000, member_card=CARD_1)],
    )
    result = scenario.run()
    assert matched(result) == []
    (exc,) = result.exceptions
    assert exc.kind.value == "amount_mismatch"
    assert (exc.expected_fen, exc.actual_fen) == (50_000, line_amount)


def test_end_to_end_amount_difference_is_an_amount_mismatch() -> None:
    scenario = Scenario(
        lines=[line("L1", 4_000_012, end_to_end_id="COL-1", counterparty_account=CARD_1)],
        entries=[entry("B1", 5_000_000, end_to_end_id="COL-1", member_card=CARD_1)],
    )
    result = scenario.run()
    assert kinds(result) == [("amount_mismatch", ("L1",), ("B1",))]
    # the office reads yuan, as the console shows amounts
    assert result.exceptions[0].detail.startswith("应为 50,000.00 元, 银行 40,000.12 元")


def test_direction_must_agree() -> None:
    scenario = Scenario(
        lines=[line("L1", 50_000, CreditDebit.DEBIT, counterparty_account=CARD_1)],
        entries=[entry("B1", 50_000, member_card=CARD_1, business_date=DAY - timedelta(days=5))],
    )
    result = scenario.run()
    assert matched(result) == []
    assert kinds(result) == [("unmatched_bank", ("L1",), ()), ("unmatched_book", (), ("B1",))]
    assert SUB_A in {x.sub_account for x in result.exceptions}
