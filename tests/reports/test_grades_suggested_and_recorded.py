"""The suggested grade follows the configured rules and says why; the county records the
grade it decides, with who and when, once per period, in the audit log."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.audit.service import association_chain
from gateway.errors import ConfigurationError, Conflict
from gateway.org.models import AssociationGrade
from gateway.reports.figures import evaluate
from gateway.reports.scoring import (
    EvaluationScoring,
    ScoringRule,
    load_grading_config,
    suggest_grade,
)
from gateway.reports.service import (
    county_summary,
    default_since,
    evaluations_of,
    record_grade,
)
from gateway.reports.tables import evaluation_rows
from tests.reports.county_seed import AS_OF, Seeded, add_statement

REPO = Path(__file__).resolve().parents[2]
SCORING = load_grading_config(REPO / "config" / "grading.toml").evaluation


def test_the_seeded_association_loses_points_for_each_problem(seeded: Seeded) -> None:
    figures = evaluate(seeded.session, seeded.world.a.id, as_of=AS_OF)
    suggestion = suggest_grade(figures, SCORING)
    deducted = [(reason.metric, reason.points) for reason in suggestion.reasons]
    assert deducted == [
        ("large_loans_without_approval", 10),
        ("cash_movements", 20),
        ("recovery_rate_percent", 10),
        ("recovery_rate_percent", 15),
        ("overdue_share_percent", 10),
        ("overdue_over_30_days", 2),
        ("top10_share_percent", 5),
        ("loans_over_12_months", 2),
    ]
    assert sum(r.points for r in suggestion.reasons) == 10 + 20 + 10 + 15 + 10 + 2 + 5 + 2
    assert suggestion.score == 100 - 74
    assert suggestion.grade is AssociationGrade.D
    recovery = [r for r in suggestion.reasons if r.metric == "recovery_rate_percent"]
    assert [r.message_zh for r in recovery] == [
        "到期回收率 33.33%，低于 95%：扣 10 分",
        "到期回收率 33.33%，低于 85%：扣 15 分",
    ]


def test_a_clean_association_gets_an_a(seeded: Seeded) -> None:
    figures = evaluate(seeded.session, seeded.world.b.id, as_of=AS_OF)
    suggestion = suggest_grade(figures, SCORING)
    # six members, none of them low-income: only that rule applies
    assert [r.metric for r in suggestion.reasons] == ["low_income_member_share_percent"]
    assert suggestion.score == 95
    assert suggestion.grade is AssociationGrade.A


def test_books_that_disagree_with_the_bank_cost_points(seeded: Seeded) -> None:
    session, b = seeded.session, seeded.world.b
    add_statement(session, b.sub_account_number, [(AS_OF, 1, True, "transfer", 1)], name="S2")
    figures = evaluate(session, b.id, as_of=AS_OF)
    assert figures.bank_agrees is False
    suggestion = suggest_grade(figures, SCORING)
    assert "books_disagree" in {r.metric for r in suggestion.reasons}
    assert suggestion.grade is AssociationGrade.B  # 100 - 5 - 20


def test_thresholds_and_rules_are_configuration(seeded: Seeded, tmp_path: Path) -> None:
    figures = evaluate(seeded.session, seeded.world.b.id, as_of=AS_OF)
    strict = EvaluationScoring(
        grade_a_min=99,
        rules=[ScoringRule(metric="low_income_member_share_percent", below=50, points=30)],
    )
    strict_grade = suggest_grade(figures, strict)
    assert strict_grade.score == 70
    assert strict_grade.grade is AssociationGrade.C  # an A under the shipped rules
    bad = tmp_path / "grading.toml"
    bad.write_text('[[evaluation.rules]]\nmetric = "weather"\nabove = "1"\npoints = 5\n')
    with pytest.raises(ConfigurationError, match="weather"):
        load_grading_config(bad)
    bad.write_text('[[evaluation.rules]]\nmetric = "cash_movements"\npoints = 5\n')
    with pytest.raises(ConfigurationError, match="exactly one of above and below"):
        load_grading_config(bad)


def test_the_county_records_its_grade_with_who_and_when(seeded: Seeded) -> None:
    session, world = seeded.session, seeded.world
    recorded = record_grade(
        session,
        world.a.id,
        SCORING,
        period_end=AS_OF,
        decided_grade=AssociationGrade.C,
        method="县级评估组直接评估",
        actor="张主任",
        self_grade=AssociationGrade.B,
        note="现金问题已整改",
    )
    session.commit()
    assert recorded.suggested_grade is AssociationGrade.D
    assert recorded.decided_by == "张主任"
    assert recorded.decided_at is not None
    assert world.a.grade is AssociationGrade.C
    assert [e.decided_grade for e in evaluations_of(session, world.a.id)] == [AssociationGrade.C]
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.chain == association_chain(world.a.id),
            AuditEvent.action == "association.grade",
        )
    ).one()
    assert event.actor == "张主任"
    assert event.payload["to"] == "C"
    assert event.payload["suggested"] == "D"
    with pytest.raises(Conflict):
        record_grade(
            session,
            world.a.id,
            SCORING,
            period_end=AS_OF,
            decided_grade=AssociationGrade.B,
            method="委托第三方评估",
            actor="李",
        )
    session.rollback()
    summary = county_summary(session, world.county.id, SCORING, as_of=AS_OF)
    row = next(r for r in summary.rows if r.association_id == world.a.id)
    assert (row.self_grade, row.county_grade, row.county_method) == (
        "B",
        "C",
        "县级评估组直接评估",
    )
    rows = evaluation_rows(evaluate(session, world.a.id, as_of=AS_OF), None, recorded)
    assert rows[-1].content == "C"
    assert rows[-1].note.startswith("张主任 ")


def test_the_next_evaluation_starts_after_the_last_one(seeded: Seeded) -> None:
    session, a = seeded.session, seeded.world.a
    assert default_since(session, a.id, AS_OF) is None
    record_grade(
        session, a.id, SCORING, period_end=date(2023, 12, 31), decided_grade=AssociationGrade.B,
        method="委托联合会评估", actor="县办",
    )  # fmt: skip
    assert default_since(session, a.id, AS_OF) == date(2024, 1, 1)
    second = record_grade(
        session, a.id, SCORING, period_end=AS_OF, decided_grade=AssociationGrade.C,
        method="委托联合会评估", actor="县办",
    )  # fmt: skip
    assert second.period_start == date(2024, 1, 1)
