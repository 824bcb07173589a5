"""Report services: the county summary, suggested and recorded grades, monthly and annual
reports. Services take the session first and never commit."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.ledger.models import AccountCode, AccountType
from gateway.ledger.service import county_of, trial_balance
from gateway.org.models import AssociationGrade, County
from gateway.org.service import associations_of_county, lock_association
from gateway.reports.figures import EvaluationFigures, evaluate
from gateway.reports.models import AssociationEvaluation
from gateway.reports.periods import check_period, check_year
from gateway.reports.scoring import EvaluationScoring, SuggestedGrade, suggest_grade
from gateway.reports.tables import (
    CountySummary,
    EvaluationRow,
    evaluation_for_period,
    evaluation_rows,
    summary_row,
)

EVALUATION_METHODS = ("县级评估组直接评估", "委托联合会评估", "委托第三方评估")


def get_county(session: Session, county_id: int) -> County:
    county = session.get(County, county_id)
    if county is None:
        raise NotFound("县不存在", f"county {county_id} not found")
    return county


def default_since(session: Session, association_id: int, as_of: date) -> date | None:
    """Where an evaluation period starts (温扶办〔2016〕4号): the day after the previous
    evaluation's period, or the association's start (None) when it was never evaluated."""
    previous = session.scalar(
        select(AssociationEvaluation.period_end)
        .where(
            AssociationEvaluation.association_id == association_id,
            AssociationEvaluation.period_end < as_of,
        )
        .order_by(AssociationEvaluation.period_end.desc())
        .limit(1)
    )
    return None if previous is None else previous + timedelta(days=1)


def suggestion_for(
    session: Session,
    association_id: int,
    scoring: EvaluationScoring,
    *,
    as_of: date,
    since: date | None = None,
) -> tuple[EvaluationFigures, SuggestedGrade]:
    figures = evaluate(session, association_id, as_of=as_of, since=since)
    return figures, suggest_grade(figures, scoring)


@dataclass(frozen=True)
class Evaluation:
    """An association's evaluation (附件1) for one period, as the command line, the API and
    the console show it: the figures, the suggestion, the table's rows, and the grade the
    county recorded for this period (None when none was: see
    :func:`gateway.reports.tables.evaluation_for_period`)."""

    figures: EvaluationFigures
    suggestion: SuggestedGrade
    rows: list[EvaluationRow]
    recorded: AssociationEvaluation | None


def association_evaluation(
    session: Session,
    association_id: int,
    scoring: EvaluationScoring,
    *,
    as_of: date,
    since: date | None = None,
) -> Evaluation:
    """附件1 for the period ending ``as_of``; without ``since`` the period starts after the
    previous evaluation (or at the association's start)."""
    check_period(since, as_of)
    if since is None:
        since = default_since(session, association_id, as_of)
    figures, suggestion = suggestion_for(session, association_id, scoring, as_of=as_of, since=since)
    recorded = evaluation_for_period(session, association_id, as_of=as_of, since=since)
    return Evaluation(figures, suggestion, evaluation_rows(figures, suggestion, recorded), recorded)


def county_summary(
    session: Session,
    county_id: int,
    scoring: EvaluationScoring,
    *,
    as_of: date,
    since: date | None = None,
) -> CountySummary:
    """附件3: one row per association of the county."""
    county = get_county(session, county_id)
    rows = []
    for association in associations_of_county(session, county_id):
        figures, suggestion = suggestion_for(
            session, association.id, scoring, as_of=as_of, since=since
        )
        rows.append(summary_row(session, figures, suggestion))
    return CountySummary(county_name=county.name, since=since, as_of=as_of, rows=tuple(rows))


def record_grade(
    session: Session,
    association_id: int,
    scoring: EvaluationScoring,
    *,
    period_end: date,
    decided_grade: AssociationGrade,
    method: str,
    actor: str,
    period_start: date | None = None,
    self_grade: AssociationGrade | None = None,
    note: str = "",
) -> AssociationEvaluation:
    """The county records the grade it decided (who, when), beside the suggestion it saw."""
    if not actor.strip():
        raise ValidationFailed("必须注明评定人", "the person recording the grade is required")
    if not method.strip():
        raise ValidationFailed("必须注明县评估方式", "the evaluation method is required")
    association = lock_association(session, association_id)
    existing = session.scalar(
        select(AssociationEvaluation.id).where(
            AssociationEvaluation.association_id == association_id,
            AssociationEvaluation.period_end == period_end,
        )
    )
    if existing is not None:
        raise Conflict(
            f"协会 {association.code} 截至 {period_end} 的评估等级已记录",
            f"association {association.code} already has a grade for the period ending "
            f"{period_end}",
            code="evaluation_exists",
        )
    if period_start is None:
        period_start = default_since(session, association_id, period_end)
    _figures, suggestion = suggestion_for(
        session, association_id, scoring, as_of=period_end, since=period_start
    )
    evaluation = AssociationEvaluation(
        association_id=association_id,
        period_start=period_start,
        period_end=period_end,
        suggested_grade=suggestion.grade,
        suggested_score=suggestion.score,
        reasons=[
            {
                "metric": r.metric,
                "value": r.value,
                "threshold": r.threshold,
                "points": r.points,
                "message_zh": r.message_zh,
                "message_en": r.message_en,
            }
            for r in suggestion.reasons
        ],
        self_grade=self_grade,
        decided_grade=decided_grade,
        method=method,
        decided_by=actor,
        note=note,
    )
    session.add(evaluation)
    before = association.grade
    association.grade = decided_grade
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="association.grade",
        chain=audit.association_chain(association_id),
        object_type="association",
        object_id=association_id,
        payload={
            "evaluation_id": evaluation.id,
            "period_end": period_end.isoformat(),
            "from": before.value if before else None,
            "to": decided_grade.value,
            "suggested": suggestion.grade.value,
            "score": suggestion.score,
            "method": method,
        },
    )
    return evaluation


def evaluations_of(session: Session, association_id: int) -> list[AssociationEvaluation]:
    return list(
        session.scalars(
            select(AssociationEvaluation)
            .where(AssociationEvaluation.association_id == association_id)
            .order_by(AssociationEvaluation.period_end)
        )
    )


# --- monthly and annual reports --------------------------------------------------------


def month_bounds(year: int, month: int) -> tuple[date, date]:
    check_year(year)
    if not 1 <= month <= 12:
        raise ValidationFailed("月份必须在 1 到 12 之间", f"month must be 1..12, got {month}")
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def year_bounds(year: int) -> tuple[date, date]:
    check_year(year)
    return date(year, 1, 1), date(year, 12, 31)


@dataclass(frozen=True)
class AccountMovement:
    """One account over the period: opening balance, debits, credits, closing balance
    (balances on the account's normal side)."""

    code: AccountCode
    name_zh: str
    account_type: AccountType
    opening_fen: int
    debit_fen: int
    credit_fen: int
    closing_fen: int


@dataclass(frozen=True)
class PeriodReport:
    """An association's monthly or annual report (月报/年报)."""

    association_id: int
    association_code: str
    association_name: str
    start: date
    end: date
    accounts: tuple[AccountMovement, ...]
    figures: EvaluationFigures

    @property
    def balanced(self) -> bool:
        return sum(a.debit_fen for a in self.accounts) == sum(a.credit_fen for a in self.accounts)

    def closing(self, code: AccountCode) -> int:
        return next((a.closing_fen for a in self.accounts if a.code == code), 0)


def period_report(session: Session, association_id: int, start: date, end: date) -> PeriodReport:
    """Balances and movements of every account over [start, end], with the period's figures."""
    check_period(start, end)
    closing = trial_balance(session, association_id, end)
    if start == date.min:  # nothing is booked before the first day there is: opening nil
        before = {row.code: replace(row, debit_fen=0, credit_fen=0) for row in closing.rows}
    else:
        opening = trial_balance(session, association_id, start - timedelta(days=1))
        before = {row.code: row for row in opening.rows}
    accounts = []
    for row in closing.rows:
        prior = before[row.code]
        accounts.append(
            AccountMovement(
                code=row.code,
                name_zh=row.name_zh,
                account_type=row.account_type,
                opening_fen=prior.balance_fen,
                debit_fen=row.debit_fen - prior.debit_fen,
                credit_fen=row.credit_fen - prior.credit_fen,
                closing_fen=row.balance_fen,
            )
        )
    figures = evaluate(session, association_id, as_of=end, since=start)
    return PeriodReport(
        association_id=association_id,
        association_code=figures.association_code,
        association_name=figures.association_name,
        start=start,
        end=end,
        accounts=tuple(accounts),
        figures=figures,
    )


@dataclass(frozen=True)
class CountyPeriodReport:
    county_name: str
    start: date
    end: date
    associations: tuple[PeriodReport, ...]

    def total(self, code: AccountCode) -> int:
        return sum(report.closing(code) for report in self.associations)


def county_period_report(
    session: Session, county_id: int, start: date, end: date
) -> CountyPeriodReport:
    check_period(start, end)
    county = get_county(session, county_id)
    reports = tuple(
        period_report(session, association.id, start, end)
        for association in associations_of_county(session, county_id)
    )
    return CountyPeriodReport(county_name=county.name, start=start, end=end, associations=reports)


def county_id_of(session: Session, association_id: int) -> int:
    return county_of(session, association_id).id
