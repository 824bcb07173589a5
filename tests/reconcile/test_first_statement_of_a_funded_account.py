"""The first statement of a special account whose sub-accounts the bank opened empty and funded
that day with what the books hold (as the demo's sandbox bank does): the funding line takes up
the books' opening, so the nights after raise nothing where bank and books agree; a funding that
differs from the books, or two lines that could each be it, is still a balance break."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.recon_support import Nights


def _opened_empty(nights: Nights) -> dict[str, int]:
    """The bank's sub-accounts open at zero; returns what the books hold in each."""
    books = dict(nights.bank)
    nights.bank = dict.fromkeys(books, 0)
    return books


@pytest.mark.parametrize("night_without_statement_first", [False, True])
def test_funding_with_the_books_balance_raises_nothing(
    nights: Nights, night_without_statement_first: bool
) -> None:
    books = _opened_empty(nights)
    if night_without_statement_first:
        # the first run has no statement (a gap, on no calendar); the next starts from the books
        nights.day -= timedelta(days=1)
        assert nights.night(with_statement=False).kinds == {"statement_gap": 1}
    funding = [nights.line(sub, fen, counterparty_name="县财政局") for sub, fen in books.items()]
    first = nights.night(funding)
    assert first.kinds == {}
    assert first.open_lines == 0
    assert nights.night().kinds == {}
    assert nights.night().kinds == {}
    assert [i.kind for i in nights.items()] == (
        ["statement_gap"] if night_without_statement_first else []
    )


def test_funding_short_of_the_books_is_a_balance_break(nights: Nights) -> None:
    books = _opened_empty(nights)
    short = {sub: fen - (10_000 if sub == nights.sub_a else 0) for sub, fen in books.items()}
    first = nights.night([nights.line(sub, fen) for sub, fen in short.items()])
    assert first.kinds == {"balance_break": 1, "unmatched_bank": 1}
    (brk,) = nights.items("balance_break")
    assert brk.subject == f"ledger:{nights.sub_a}"
    assert brk.actual_fen == short[nights.sub_a]
    (line,) = nights.items("unmatched_bank")
    assert line.actual_fen == short[nights.sub_a]
    # the bank still does not hold what the books say: the break persists
    assert nights.night().kinds == {"balance_break": 1, "unmatched_bank": 1}


def test_two_lines_that_could_each_be_the_funding_are_not_guessed(nights: Nights) -> None:
    books = _opened_empty(nights)
    fen = books[nights.sub_a]
    nights.bank[nights.sub_b] = books[nights.sub_b]
    first = nights.night(
        [nights.line(nights.sub_a, fen), nights.line(nights.sub_a, fen, counterparty_name="某人")]
    )
    assert first.kinds["balance_break"] == 1
    assert first.matched_lines == 0
    (brk,) = nights.items("balance_break")
    assert brk.subject == f"ledger:{nights.sub_a}"


def test_an_opening_that_agrees_with_the_books_takes_no_line(nights: Nights) -> None:
    books = dict(nights.bank)
    # the bank already held the books' balance: a credit of the same amount is an ordinary
    # unexplained line, not the opening
    first = nights.night([nights.line(nights.sub_a, books[nights.sub_a])])
    assert first.kinds == {"unmatched_bank": 1}
