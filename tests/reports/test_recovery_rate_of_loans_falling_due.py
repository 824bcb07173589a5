"""2.6 到期回收率 of a later evaluation counts every loan falling due within its period,
including loans disbursed before the period began: a loan paid out in the spring and left
unpaid when it fell due in the autumn lowers the autumn evaluation's rate and grade."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gateway.reports.figures import evaluate
from gateway.reports.numbers import Ratio
from gateway.reports.scoring import load_grading_config, suggest_grade
from tests.reports.county_seed import AS_OF, Seeded, lend

REPO = Path(__file__).resolve().parents[2]
SCORING = load_grading_config(REPO / "config" / "grading.toml").evaluation
SECOND_PERIOD = (date(2024, 7, 1), date(2024, 12, 31))


def _spring_loan_left_unpaid(seeded: Seeded) -> None:
    """B-L2: 6,000 yuan paid out on 2024-03-01 for 6 months, due 2024-09-01, never repaid;
    B-L3: paid out in the second period, falling due after it."""
    world = seeded.world
    lend(world, world.members_b[1], "B-L2", amount_fen=600_000, term_months=6, rate=600,
         disbursed_on=date(2024, 3, 1))  # fmt: skip
    lend(world, world.members_b[2], "B-L3", amount_fen=700_000, term_months=12, rate=600,
         disbursed_on=date(2024, 8, 1))  # fmt: skip
    world.session.flush()


def test_a_loan_disbursed_before_the_period_and_unpaid_when_due_in_it_lowers_the_rate(
    seeded: Seeded,
) -> None:
    _spring_loan_left_unpaid(seeded)
    b = seeded.world.b.id
    first = evaluate(seeded.session, b, as_of=AS_OF)
    assert first.recovery_rate.percent() == "—"  # nothing fell due by 2024-06-30

    since, as_of = SECOND_PERIOD
    second = evaluate(seeded.session, b, since=since, as_of=as_of)
    # B-L1 (4,000 yuan, disbursed 2024-01-02, due 2024-07-02, repaid in full) and B-L2 fell
    # due in the period; B-L3 is the period's only loan issued and falls due in 2025
    assert second.loans_issued.count == 1
    assert second.due_principal_fen == 400_000 + 600_000
    assert second.recovered_principal_fen == 400_000
    assert second.recovery_rate == Ratio(400_000, 1_000_000)
    assert second.recovery_rate.percent() == "40.00"

    recovery = [
        r for r in suggest_grade(second, SCORING).reasons if r.metric == "recovery_rate_percent"
    ]
    assert [r.message_zh for r in recovery] == [
        "到期回收率 40%，低于 95%：扣 10 分",
        "到期回收率 40%，低于 85%：扣 15 分",
    ]


def test_loans_that_fell_due_before_the_period_are_left_to_the_earlier_evaluation(
    seeded: Seeded,
) -> None:
    # A-L3 (due 2024-03-01, unpaid) and A-L5 (due 2024-06-10, unpaid) belong to the first
    # half-year; the second counts A-L2, A-L4 and A-L7, due between July and December
    since, as_of = SECOND_PERIOD
    second = evaluate(seeded.session, seeded.world.a.id, since=since, as_of=as_of)
    due = {
        loan.contract_no
        for loan in second.loans
        if loan.due_on is not None and since <= loan.due_on <= as_of
    }
    assert due == {"A-L2", "A-L4", "A-L7"}
    assert second.due_principal_fen == 500_000 + 1_000_000 + 900_000
    assert second.recovered_principal_fen == 200_000 + 100_000
