"""A duplicated bank line and the balances: the statement's own balances tell a copy the bank
only printed (no balance break: the duplicate is the one finding) from one it also booked
(its closing includes it: still only the duplicate) from a balance that fits neither."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciliation.engine import reconcile
from tests.reconciliation.conftest import CARD_1, CARD_3, SUB_A, Scenario, entry, kinds, line


def _txn_twins() -> dict[str, Any]:
    return {
        "lines": [
            line("L1", 50_000, counterparty_account=CARD_1, bank_transaction_id="T-77"),
            line("L2", 50_000, counterparty_account=CARD_1, bank_transaction_id="T-77"),
        ],
        "entries": [entry("B1", 50_000, member_card=CARD_1)],
    }


def test_a_printed_copy_of_a_transaction_id_raises_no_balance_break() -> None:
    result = Scenario(**_txn_twins(), printed_only=frozenset({"L2"})).run()
    assert kinds(result) == [("duplicate", ("L1", "L2"), ())]
    sub = result.statement.line_for(SUB_A)
    assert sub.unexplained_fen == 0
    assert result.statement.line_for("*").unexplained_fen == 0


def test_a_booked_copy_is_the_duplicate_alone_too() -> None:
    result = Scenario(**_txn_twins()).run()
    assert kinds(result) == [("duplicate", ("L1", "L2"), ())]
    assert result.statement.line_for(SUB_A).unexplained_fen == 0


def test_a_printed_identical_line_raises_no_balance_break() -> None:
    twin: dict[str, Any] = {"counterparty_account": CARD_3, "remittance": "往来款"}
    scenario = Scenario(
        lines=[line("L1", 9_900, **twin), line("L2", 9_900, occurrence=1, **twin)],
        printed_only=frozenset({"L2"}),
    )
    assert kinds(scenario.run()) == [
        ("duplicate", ("L1", "L2"), ()),
        ("unmatched_bank", ("L1",), ()),
    ]


def test_a_balance_that_fits_neither_reading_is_still_a_break() -> None:
    scenario = Scenario(**_txn_twins(), printed_only=frozenset({"L2"}))
    request = scenario.request()
    assert request.statement is not None
    # the bank's closing is 7 fen off both readings: with the copy and without it
    subs = tuple(
        replace(b, closing_fen=b.closing_fen + 7) if b.sub_account == SUB_A else b
        for b in request.statement.sub_accounts
    )
    statement = replace(
        request.statement, sub_accounts=subs, closing_fen=request.statement.closing_fen + 7
    )
    result = reconcile(
        replace(request, statement=statement), scenario.lines, scenario.entries, scenario.config
    )
    found = [(x.kind.value, x.subject) for x in result.exceptions]
    assert ("duplicate", "txn:T-77") in found
    assert ("balance_break", f"statement:{SUB_A}") in found
    assert ("balance_break", f"ledger:{SUB_A}") in found
