"""A grade the county decided shows only against the period it was decided for: in 附件3's
grade columns and in 附件1's item 7; for any other period they stay blank and the system's
suggestion is shown only as a suggestion. 附件3's 自评等级 holds the association's own grade
as the county recorded it, never the suggestion."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gateway.org.models import AssociationGrade
from gateway.reports.export import COUNTY_COLUMNS
from gateway.reports.figures import evaluate
from gateway.reports.scoring import load_grading_config, suggest_grade
from gateway.reports.service import association_evaluation, county_summary, record_grade
from gateway.reports.tables import CountySummaryRow
from tests.reports.county_seed import AS_OF, Seeded

REPO = Path(__file__).resolve().parents[2]
SCORING = load_grading_config(REPO / "config" / "grading.toml").evaluation
GRADE_COLUMNS = slice(COUNTY_COLUMNS.index("自评等级"), COUNTY_COLUMNS.index("县评估方式") + 1)
SELF_GRADE = COUNTY_COLUMNS.index("自评等级")


def _grade_a(seeded: Seeded, *, self_grade: AssociationGrade | None = AssociationGrade.A) -> None:
    """The county grades association A for the period ending AS_OF (2024-06-30)."""
    record_grade(
        seeded.session,
        seeded.world.a.id,
        SCORING,
        period_end=AS_OF,
        decided_grade=AssociationGrade.A,
        self_grade=self_grade,
        method="县级评估组直接评估",
        actor="县办张",
    )


def _row_of_a(seeded: Seeded, *, as_of: date, since: date | None = None) -> CountySummaryRow:
    summary = county_summary(
        seeded.session, seeded.world.county.id, SCORING, as_of=as_of, since=since
    )
    return next(r for r in summary.rows if r.association_id == seeded.world.a.id)


def test_a_grade_decided_for_an_earlier_period_is_not_a_later_periods_grade(
    seeded: Seeded,
) -> None:
    _grade_a(seeded)
    later = _row_of_a(seeded, since=date(2024, 7, 1), as_of=date(2024, 8, 30))
    assert later.cells()[GRADE_COLUMNS] == ["", "", ""]
    figures = evaluate(
        seeded.session, seeded.world.a.id, as_of=date(2024, 8, 30), since=date(2024, 7, 1)
    )
    assert later.suggested_grade == suggest_grade(figures, SCORING).grade.value


def test_a_summary_without_a_start_shows_only_the_grade_ending_on_its_date(
    seeded: Seeded,
) -> None:
    _grade_a(seeded)
    own = _row_of_a(seeded, as_of=AS_OF)
    assert own.cells()[GRADE_COLUMNS] == ["A", "A", "县级评估组直接评估"]
    later = _row_of_a(seeded, as_of=date(2024, 7, 31))
    assert later.cells()[GRADE_COLUMNS] == ["", "", ""]


def test_a_yearly_summary_shows_the_grade_whose_period_ends_within_the_year(
    seeded: Seeded,
) -> None:
    _grade_a(seeded)
    year_2024 = _row_of_a(seeded, since=date(2024, 1, 1), as_of=date(2024, 12, 31))
    assert year_2024.cells()[GRADE_COLUMNS] == ["A", "A", "县级评估组直接评估"]
    year_2023 = _row_of_a(seeded, since=date(2023, 1, 1), as_of=date(2023, 12, 31))
    assert year_2023.cells()[GRADE_COLUMNS] == ["", "", ""]


def test_the_evaluation_table_of_a_later_period_leaves_the_county_grade_blank(
    seeded: Seeded,
) -> None:
    _grade_a(seeded)
    a = seeded.world.a.id
    for since in (None, date(2024, 7, 1)):
        later = association_evaluation(
            seeded.session, a, SCORING, as_of=date(2024, 8, 30), since=since
        )
        assert later.recorded is None
        item7 = later.rows[-1]
        assert item7.item.startswith("7、")
        assert (item7.content, item7.note) == ("", "时间：")
        item4 = next(r for r in later.rows if r.item.startswith("4、"))
        assert item4.content.startswith(f"系统建议 {later.suggestion.grade.value}")
    own = association_evaluation(seeded.session, a, SCORING, as_of=AS_OF)
    assert own.recorded is not None
    assert own.rows[-1].content == "A"
    assert own.rows[-1].note.startswith("县办张 ")


def test_the_self_grade_column_is_blank_when_no_self_grade_was_recorded(
    seeded: Seeded,
) -> None:
    summary = county_summary(seeded.session, seeded.world.county.id, SCORING, as_of=AS_OF)
    assert summary.rows
    for row in summary.rows:  # nothing recorded: no self-grade, yet a suggestion
        assert row.cells()[SELF_GRADE] == ""
        assert row.suggested_grade in {"A", "B", "C", "D"}
    _grade_a(seeded, self_grade=None)
    graded = _row_of_a(seeded, as_of=AS_OF)
    assert graded.cells()[GRADE_COLUMNS] == ["", "A", "县级评估组直接评估"]


def test_a_recorded_self_grade_fills_the_self_grade_column(seeded: Seeded) -> None:
    record_grade(
        seeded.session,
        seeded.world.a.id,
        SCORING,
        period_end=AS_OF,
        decided_grade=AssociationGrade.C,
        self_grade=AssociationGrade.B,
        method="委托联合会评估",
        actor="县办张",
    )
    row = _row_of_a(seeded, as_of=AS_OF)
    assert row.cells()[GRADE_COLUMNS] == ["B", "C", "委托联合会评估"]
    assert row.suggested_grade == "D"
