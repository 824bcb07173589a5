"""Property tests: any sequence of valid postings (and reversals) across associations keeps
each association's books balanced, each balance equal to the sum of its legs, and no amount
path loses or invents a fen."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from adapters.money import format_yuan, parse_yuan
from gateway.ledger import service as ledger
from gateway.ledger.models import CHART, AccountCode, AccountType, TransactionKind
from gateway.ledger.service import Posting
from gateway.loans.service import fee_fen
from gateway.org import service as org
from gateway.org.models import Association, PilotLevel
from gateway.testing import World

ACCOUNTS = [code for code in AccountCode if code != AccountCode.CASH_ON_HAND]
AMOUNT = st.integers(min_value=1, max_value=10**12)


@st.composite
def balanced_legs(draw: st.DrawFn) -> list[Posting]:
    """Debits of any sizes, and the same total split into any number of credits."""
    debits = draw(st.lists(AMOUNT, min_size=1, max_size=4))
    total = sum(debits)
    pieces = draw(st.integers(min_value=1, max_value=min(4, total)))
    cuts = (
        sorted(draw(st.sets(st.integers(1, total - 1), min_size=pieces - 1, max_size=pieces - 1)))
        if pieces > 1
        else []
    )
    credits = [b - a for a, b in itertools.pairwise([0, *cuts, total])]
    legs = [Posting.debit(draw(st.sampled_from(ACCOUNTS)), d) for d in debits]
    legs += [Posting.credit(draw(st.sampled_from(ACCOUNTS)), c) for c in credits]
    return draw(st.permutations(legs))


STEP = st.tuples(
    st.sampled_from(["a", "b"]),
    st.integers(min_value=0, max_value=30),
    st.one_of(balanced_legs(), st.integers(min_value=0, max_value=50)),  # int: reverse one
)

_counter = itertools.count()


def _fresh_pair(world: World, session: Session) -> dict[str, Association]:
    """Two new associations (the example's own books) in the world's county."""
    n = next(_counter)
    town = world.a.town
    special = world.a.special_account
    made = {}
    for key in ("a", "b"):
        made[key] = org.create_association(
            session,
            code=f"P{n}{key}",
            name=f"性质测试{n}{key}",
            town=town,
            special_account=special,
            sub_account_number=f"P-{n}-{key}",
            pilot_level=PilotLevel.MUNICIPAL,
            start_date=date(2020, 1, 1),
        )
    return made


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=12))
def test_postings_keep_every_association_balanced(
    world: World, session: Session, steps: list
) -> None:
    books = _fresh_pair(world, session)
    start = date(2024, 1, 1)
    expected: dict[str, dict[AccountCode, list[int]]] = {
        k: defaultdict(lambda: [0, 0]) for k in books
    }
    posted: dict[str, list] = {k: [] for k in books}
    for key, day, action in steps:
        association = books[key]
        when = start + timedelta(days=day)
        if isinstance(action, int):
            candidates = [t for t in posted[key] if t[1] is None]
            if not candidates:
                continue
            original, _ = candidates[action % len(candidates)]
            ledger.reverse(session, original.id, business_date=when, reason="性质测试")
            for leg in original.legs:
                expected[key][leg.account.code][0] += leg.credit_fen
                expected[key][leg.account.code][1] += leg.debit_fen
            posted[key] = [(t, "reversed" if t is original else r) for t, r in posted[key]]
            continue
        tx = ledger.post(
            session,
            association_id=association.id,
            business_date=when,
            description="性质测试",
            kind=TransactionKind.ADJUSTMENT,
            legs=action,
        )
        posted[key].append((tx, None))
        for leg in action:
            expected[key][leg.account][0] += leg.debit_fen
            expected[key][leg.account][1] += leg.credit_fen
    session.flush()

    for key, association in books.items():
        tb = ledger.trial_balance(session, association.id)
        assert tb.balanced
        totals = {row.code: (row.debit_fen, row.credit_fen) for row in tb.rows}
        for code in AccountCode:
            want = tuple(expected[key].get(code, [0, 0]))
            assert totals[code] == want, (key, code)
            sign = 1 if CHART[code][0].debit_normal else -1
            assert ledger.balance(session, association.id, code) == sign * (want[0] - want[1])
        # The accounting equation, in fen exactly.
        by_type: dict[AccountType, int] = defaultdict(int)
        for row in tb.rows:
            by_type[row.account_type] += row.balance_fen
        assert by_type[AccountType.ASSET] + by_type[AccountType.EXPENSE] == (
            by_type[AccountType.LIABILITY]
            + by_type[AccountType.EQUITY]
            + by_type[AccountType.INCOME]
        )
    session.rollback()


@settings(max_examples=200)
@given(fen=st.integers(min_value=-(10**15), max_value=10**15))
def test_yuan_text_round_trips_every_fen(fen: int) -> None:
    assert parse_yuan(format_yuan(fen)) == fen


@settings(max_examples=200)
@given(
    amount=st.integers(min_value=1, max_value=10**9),
    rate=st.integers(min_value=0, max_value=5_000),
    months=st.integers(min_value=1, max_value=36),
)
def test_fee_is_the_exact_rate_rounded_half_up(amount: int, rate: int, months: int) -> None:
    exact = Fraction(amount * rate * months, 100 * 1000)
    fee = fee_fen(amount, rate, months)
    assert abs(Fraction(fee) - exact) <= Fraction(1, 2)
    assert fee == int(exact + Fraction(1, 2))  # half up, never a float in between
