"""The suggested grade (A/B/C/D): a documented, configurable scoring of the evaluation figures.

The rules live in ``config/grading.toml``: the score starts at 100, each rule whose condition
holds deducts its points, and the thresholds turn the score into a grade. Every deduction is
returned as a reason a reviewer can read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from gateway.errors import ConfigurationError
from gateway.org.models import AssociationGrade
from gateway.reports.figures import EvaluationFigures
from gateway.reports.numbers import Ratio, round_half_up

MetricValue = Fraction | None


@dataclass(frozen=True)
class Metric:
    label_zh: str
    label_en: str
    unit: str
    read: Callable[[EvaluationFigures], MetricValue]


def _ratio_percent(ratio: Ratio) -> MetricValue:
    value = ratio.value
    return None if value is None else value * 100


METRICS: dict[str, Metric] = {
    "large_loans_without_approval": Metric(
        "单笔超额借款无县级审批",
        "loans above the county threshold without county approval",
        "笔",
        lambda f: Fraction(
            sum(1 for flag in f.flags if flag.code == "large_loan_without_county_approval")
        ),
    ),
    "cash_movements": Metric(
        "现金收付",
        "cash movements",
        "笔",
        lambda f: Fraction(f.disbursed_cash.count + f.repaid_cash.count + f.statement_cash_lines),
    ),
    "books_disagree": Metric(
        "账账、账实不符",
        "books out of balance or not agreeing with the bank",
        "",
        lambda f: Fraction(int(not f.books_balanced or f.bank_agrees is False)),
    ),
    "overdue_share_percent": Metric(
        "逾期金额占借款余额",
        "overdue share of outstanding loans",
        "%",
        lambda f: _ratio_percent(f.overdue_share),
    ),
    "overdue_over_30_days": Metric(
        "逾期30天以上借款",
        "loans overdue more than 30 days",
        "笔",
        lambda f: Fraction(f.overdue_over_30_days),
    ),
    "recovery_rate_percent": Metric(
        "到期回收率",
        "recovery rate of principal fallen due",
        "%",
        lambda f: _ratio_percent(f.recovery_rate),
    ),
    "low_income_member_share_percent": Metric(
        "低收入农户占会员比例",
        "low-income share of members",
        "%",
        lambda f: _ratio_percent(f.low_income_member_share),
    ),
    "top10_share_percent": Metric(
        "前10名借款占资金总量",
        "top-10 borrowers' share of the fund",
        "%",
        lambda f: _ratio_percent(f.top10_share),
    ),
    "loans_over_12_months": Metric(
        "期限超过12个月的借款",
        "loans over 12 months",
        "笔",
        lambda f: Fraction(f.loans_over_12_months),
    ),
}


class ScoringRule(BaseModel):
    metric: str
    above: Decimal | None = None
    below: Decimal | None = None
    points: int = Field(gt=0)
    per_item: bool = False
    max_points: int | None = Field(default=None, gt=0)

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(sorted(METRICS))}")
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> ScoringRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"rule on {self.metric}: give exactly one of above and below")
        return self

    @property
    def threshold(self) -> Fraction:
        bound = self.above if self.above is not None else self.below
        assert bound is not None
        return Fraction(bound)

    @property
    def comparison(self) -> Literal["above", "below"]:
        return "above" if self.above is not None else "below"


class EvaluationScoring(BaseModel):
    grade_a_min: int = Field(default=90, ge=0, le=100)
    grade_b_min: int = Field(default=75, ge=0, le=100)
    grade_c_min: int = Field(default=60, ge=0, le=100)
    rules: list[ScoringRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> EvaluationScoring:
        if not self.grade_a_min >= self.grade_b_min >= self.grade_c_min:
            raise ValueError("grade thresholds must satisfy A >= B >= C")
        return self

    def grade_for(self, score: int) -> AssociationGrade:
        if score >= self.grade_a_min:
            return AssociationGrade.A
        if score >= self.grade_b_min:
            return AssociationGrade.B
        if score >= self.grade_c_min:
            return AssociationGrade.C
        return AssociationGrade.D


class CreditReviewRules(BaseModel):
    steps_up: int = Field(default=1, ge=0)
    steps_down: int = Field(default=1, ge=0)


class GradingConfig(BaseModel):
    evaluation: EvaluationScoring = Field(default_factory=EvaluationScoring)
    credit: CreditReviewRules = Field(default_factory=CreditReviewRules)


def load_grading_config(path: Path) -> GradingConfig:
    """Read ``grading.toml``; a bad file is refused with the reason."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return GradingConfig.model_validate(raw)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"评级配置文件不存在：{path}", f"grading configuration not found: {path}"
        ) from exc
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigurationError(
            f"评级配置文件有误：{path}：{exc}", f"invalid grading configuration {path}: {exc}"
        ) from exc


@dataclass(frozen=True)
class Reason:
    """One deduction: which figure, its value, the rule's threshold and the points."""

    metric: str
    value: str
    threshold: str
    points: int
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class SuggestedGrade:
    grade: AssociationGrade
    score: int
    reasons: tuple[Reason, ...]


def _text(value: Fraction) -> str:
    return round_half_up(value, 0) if value.denominator == 1 else round_half_up(value, 2)


def suggest_grade(figures: EvaluationFigures, scoring: EvaluationScoring) -> SuggestedGrade:
    """Score the figures by the configured rules; each deduction comes with its reason."""
    score = 100
    reasons: list[Reason] = []
    for rule in scoring.rules:
        metric = METRICS[rule.metric]
        value = metric.read(figures)
        if value is None:
            continue
        threshold = rule.threshold
        holds = value > threshold if rule.comparison == "above" else value < threshold
        if not holds:
            continue
        points = rule.points * int(value) if rule.per_item else rule.points
        if rule.max_points is not None:
            points = min(points, rule.max_points)
        if points <= 0:
            continue
        score -= points
        word_zh = "高于" if rule.comparison == "above" else "低于"
        word_en = "above" if rule.comparison == "above" else "below"
        shown, bound = _text(value), _text(threshold)
        reasons.append(
            Reason(
                metric=rule.metric,
                value=shown,
                threshold=bound,
                points=points,
                message_zh=f"{metric.label_zh} {shown}{metric.unit}，{word_zh} {bound}"
                f"{metric.unit}：扣 {points} 分",
                message_en=f"{metric.label_en} {shown}{metric.unit} is {word_en} {bound}"
                f"{metric.unit}: minus {points} points",
            )
        )
    score = max(score, 0)
    return SuggestedGrade(grade=scoring.grade_for(score), score=score, reasons=tuple(reasons))
