"""``/api/v1`` reports: an association's evaluation (附件1 figures with the suggested grade and
its reasons) as JSON, and the report downloads as XLSX (laid out like the forms) or CSV: the
evaluation table (附件1), an association's monthly/annual report and loan detail table (附件2),
the county summary (附件3)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from io import BytesIO
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import BaseModel

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.downloads import attachment
from gateway.api.router import ObjectId, county_scope, domain_router
from gateway.auth.errors import Forbidden
from gateway.auth.permissions import Permission
from gateway.errors import ValidationFailed
from gateway.org.endpoints import get_county, visible_association
from gateway.reports import export
from gateway.reports import service as reports
from gateway.reports.figures import EvaluationFigures
from gateway.reports.numbers import CountAmount, Ratio, yuan
from gateway.reports.periods import check_period
from gateway.reports.scoring import EvaluationScoring, load_grading_config
from gateway.reports.tables import loan_detail

router = domain_router("报表 reports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {XLSX: {}, "text/csv": {}}, "description": "the report file"}
}


class ReportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


def _download(name: str, fmt: ReportFormat, sheet: Any, csv_text: str) -> Response:
    if fmt is ReportFormat.CSV:
        body = ("\ufeff" + csv_text).encode("utf-8")  # with a BOM, as Excel expects
        media = CSV
    else:
        book = export.new_workbook()
        sheet(book)
        buffer = BytesIO()
        book.save(buffer)
        body, media = buffer.getvalue(), XLSX
    return Response(
        content=body,
        media_type=media,
        headers={"Content-Disposition": attachment(f"{name}.{fmt.value}")},
    )


@router.get(
    "/associations/{association_id}/reports/period",
    response_class=Response,
    responses=DOWNLOAD_RESPONSES,
    summary="月报/年报 Period report (account movements) of an association",
)
def period_report(
    association_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
    start: Annotated[date, Query()],
    end: Annotated[date, Query()],
    format: Annotated[ReportFormat, Query()] = ReportFormat.XLSX,
) -> Response:
    visible_association(session, principal, association_id, Permission.READ_REPORTS)
    check_period(start, end)
    if (end - start).days > 366:
        raise ValidationFailed(
            "报表期间无效（须在一年之内）", "the period must last a year at most"
        )
    report = reports.period_report(session, association_id, start, end)
    return _download(
        f"period-{association_id}-{start}-{end}",
        format,
        lambda book: export.period_sheet(book, report),
        export.period_csv(report),
    )


@router.get(
    "/associations/{association_id}/reports/loan-detail",
    response_class=Response,
    responses=DOWNLOAD_RESPONSES,
    summary="借款明细表（附件2）Loan detail table",
)
def loan_detail_report(
    association_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
    as_of: Annotated[date, Query()],
    since: Annotated[date | None, Query()] = None,
    format: Annotated[ReportFormat, Query()] = ReportFormat.XLSX,
) -> Response:
    visible_association(session, principal, association_id, Permission.READ_REPORTS)
    table = loan_detail(session, association_id, as_of=as_of, since=since)
    return _download(
        f"loan-detail-{association_id}-{as_of}",
        format,
        lambda book: export.loan_detail_sheet(book, table),
        export.loan_detail_csv(table),
    )


@router.get(
    "/counties/{county_id}/reports/summary",
    response_class=Response,
    responses=DOWNLOAD_RESPONSES,
    summary="县汇总表（附件3）County summary with suggested grades",
)
def county_summary_report(
    county_id: ObjectId,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    as_of: Annotated[date, Query()],
    since: Annotated[date | None, Query()] = None,
    format: Annotated[ReportFormat, Query()] = ReportFormat.XLSX,
) -> Response:
    principal.require(Permission.READ_REPORTS)
    if principal.association_id is not None:
        # The summary compares every association of the county; associations see their own.
        raise Forbidden("县汇总表仅向县级用户开放", "the county summary is for county-wide users")
    county = get_county(session, county_id)
    principal.require(Permission.READ_REPORTS, county_scope(county))
    config = load_grading_config(request.app.state.settings.config_dir / "grading.toml")
    summary = reports.county_summary(
        session, county_id, config.evaluation, as_of=as_of, since=since
    )
    return _download(
        f"county-summary-{county.code}-{as_of}",
        format,
        lambda book: export.county_summary_sheet(book, summary),
        export.county_summary_csv(summary),
    )


# --- attachment 1: the evaluation --------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One headline figure of the evaluation with its label in Chinese and English."""

    key: str
    label_zh: str
    label_en: str
    unit: str
    read: Callable[[EvaluationFigures], str]


def _percent(ratio: Callable[[EvaluationFigures], Ratio]) -> Callable[[EvaluationFigures], str]:
    return lambda f: ratio(f).percent()


INDICATORS: tuple[Indicator, ...] = (
    Indicator("fund_total", "1.6 资金总量", "Fund total", "元", lambda f: yuan(f.fund_total_fen)),
    Indicator(
        "fiscal_capital",
        "其中：财政资金",
        "of which fiscal capital",
        "元",
        lambda f: yuan(f.fiscal_capital_fen),
    ),
    Indicator(
        "member_deposits",
        "农户互助金",
        "members' deposits",
        "元",
        lambda f: yuan(f.member_deposits_fen),
    ),
    Indicator(
        "other_capital", "其他投入", "other capital", "元", lambda f: yuan(f.other_capital_fen)
    ),
    Indicator("members", "1.7 入会农户", "Member households", "户", lambda f: str(f.members)),
    Indicator(
        "low_income_member_share",
        "低收入农户占会员比例",
        "Low-income share of members",
        "%",
        _percent(lambda f: f.low_income_member_share),
    ),
    Indicator("borrowers", "2.1 借款户数", "Borrowers", "户", lambda f: str(f.borrowers)),
    Indicator(
        "low_income_borrower_share",
        "低收入农户占借款户比例",
        "Low-income share of borrowers",
        "%",
        _percent(lambda f: f.low_income_borrower_share),
    ),
    Indicator(
        "largest_loan",
        "2.2 最高单笔借款",
        "Largest loan",
        "元",
        lambda f: yuan(f.largest_loan_fen),
    ),
    Indicator(
        "top10_share",
        "前10名借款占资金总量",
        "Top-10 borrowers' share of the fund",
        "%",
        _percent(lambda f: f.top10_share),
    ),
    Indicator(
        "average_term",
        "2.3 平均借款期限",
        "Average term",
        "月",
        lambda f: f.average_term_months.decimal(1),
    ),
    Indicator(
        "overdue",
        "2.3.1 逾期借款",
        "Overdue loans",
        "元",
        lambda f: f"{f.overdue.count} 笔 / {yuan(f.overdue.amount_fen)}",
    ),
    Indicator(
        "overdue_share",
        "逾期金额占借款余额",
        "Overdue share of outstanding loans",
        "%",
        _percent(lambda f: f.overdue_share),
    ),
    Indicator(
        "loans_issued",
        "2.4 累计发放借款",
        "Loans issued",
        "元",
        lambda f: f"{f.loans_issued.count} 笔 / {yuan(f.loans_issued.amount_fen)}",
    ),
    Indicator(
        "monthly_fee_rate",
        "2.5 月占用费率",
        "Monthly fee rate",
        "‰",
        lambda f: f.monthly_fee_rate_permille.decimal(2),
    ),
    Indicator(
        "recovery_rate",
        "2.6 到期回收率",
        "Recovery rate of principal fallen due",
        "%",
        _percent(lambda f: f.recovery_rate),
    ),
    Indicator(
        "fee_income", "2.7.1 占用费收入", "Fee income", "元", lambda f: yuan(f.fee_income_fen)
    ),
    Indicator("expenses", "2.7.2 费用支出", "Expenses", "元", lambda f: yuan(f.expenses_total_fen)),
    Indicator(
        "cash_movements",
        "3.4/3.5 现金收付",
        "Cash movements",
        "笔",
        lambda f: str(f.disbursed_cash.count + f.repaid_cash.count + f.statement_cash_lines),
    ),
)


def evaluation_scoring(request: Request) -> EvaluationScoring:
    return load_grading_config(request.app.state.settings.config_dir / "grading.toml").evaluation


class IndicatorOut(BaseModel):
    key: str
    label_zh: str
    label_en: str
    unit: str
    value: str


class ReasonOut(BaseModel):
    metric: str
    value: str
    threshold: str
    points: int
    message_zh: str
    message_en: str


class FlagOut(BaseModel):
    code: str
    message_zh: str
    message_en: str
    reference: str


class EvaluationRowOut(BaseModel):
    item: str
    unit: str
    content: str
    note: str


class SuggestionOut(BaseModel):
    grade: str
    score: int
    reasons: list[ReasonOut]


class RecordedGradeOut(BaseModel):
    period_start: date | None
    period_end: date
    decided_grade: str
    decided_by: str
    self_grade: str | None
    """自评等级: the association's own grade as the county recorded it; null when none was."""


class EvaluationOut(BaseModel):
    association_id: int
    association_code: str
    association_name: str
    since: date | None
    as_of: date
    figures: dict[str, Any]
    """Every figure of 附件1 as computed from the books (amounts in fen; counts and amounts as
    ``{"count", "amount_fen"}``), the per-loan facts left out."""
    indicators: list[IndicatorOut]
    flags: list[FlagOut]
    suggestion: SuggestionOut
    rows: list[EvaluationRowOut]
    """The table 附件1 as downloaded: 项目, 单位, 调查内容, 备注."""
    recorded: RecordedGradeOut | None


def figures_json(figures: EvaluationFigures) -> dict[str, Any]:
    """The figures as plain data: every field but the per-loan facts and the flags."""
    plain: dict[str, Any] = {}
    for f in dataclasses.fields(figures):
        if f.name in ("loans", "flags"):
            continue
        value = getattr(figures, f.name)
        plain[f.name] = dataclasses.asdict(value) if isinstance(value, CountAmount) else value
    return plain


def evaluation_out(evaluation: reports.Evaluation) -> EvaluationOut:
    f = evaluation.figures
    recorded = evaluation.recorded
    return EvaluationOut(
        association_id=f.association_id,
        association_code=f.association_code,
        association_name=f.association_name,
        since=f.since,
        as_of=f.as_of,
        figures=figures_json(f),
        indicators=[
            IndicatorOut(
                key=i.key, label_zh=i.label_zh, label_en=i.label_en, unit=i.unit, value=i.read(f)
            )
            for i in INDICATORS
        ],
        flags=[FlagOut(**dataclasses.asdict(flag)) for flag in f.flags],
        suggestion=SuggestionOut(
            grade=evaluation.suggestion.grade.value,
            score=evaluation.suggestion.score,
            reasons=[ReasonOut(**dataclasses.asdict(r)) for r in evaluation.suggestion.reasons],
        ),
        rows=[EvaluationRowOut(**dataclasses.asdict(r)) for r in evaluation.rows],
        recorded=RecordedGradeOut(
            period_start=recorded.period_start,
            period_end=recorded.period_end,
            decided_grade=recorded.decided_grade.value,
            decided_by=recorded.decided_by,
            self_grade=recorded.self_grade.value if recorded.self_grade is not None else None,
        )
        if recorded is not None
        else None,
    )


@router.get(
    "/associations/{association_id}/evaluation",
    response_model=EvaluationOut,
    summary="等级评估（附件1）Evaluation figures with the suggested grade and its reasons",
)
def read_evaluation(
    association_id: ObjectId,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    as_of: Annotated[date, Query()],
    since: Annotated[date | None, Query()] = None,
) -> EvaluationOut:
    """附件1 for the period ``since``..``as_of`` (without ``since``: after the previous
    evaluation). The suggested grade follows the county's scoring rules; each deduction comes
    with its reason."""
    visible_association(session, principal, association_id, Permission.READ_REPORTS)
    evaluation = reports.association_evaluation(
        session, association_id, evaluation_scoring(request), as_of=as_of, since=since
    )
    return evaluation_out(evaluation)


@router.get(
    "/associations/{association_id}/reports/evaluation",
    response_class=Response,
    responses=DOWNLOAD_RESPONSES,
    summary="等级评估表（附件1）Evaluation table download",
)
def evaluation_report(
    association_id: ObjectId,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    as_of: Annotated[date, Query()],
    since: Annotated[date | None, Query()] = None,
    format: Annotated[ReportFormat, Query()] = ReportFormat.XLSX,
) -> Response:
    visible_association(session, principal, association_id, Permission.READ_REPORTS)
    evaluation = reports.association_evaluation(
        session, association_id, evaluation_scoring(request), as_of=as_of, since=since
    )
    return _download(
        f"evaluation-{association_id}-{as_of}",
        format,
        lambda book: export.evaluation_sheet(
            book, evaluation.rows, evaluation.figures.association_name
        ),
        export.evaluation_csv(evaluation.rows),
    )
