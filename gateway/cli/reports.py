"""``huzhu reports``: the Wenzhou evaluation table, loan detail and county summary, monthly
and annual reports (XLSX and CSV), recorded grades and the yearly credit-grade review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.cells import cell_len
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli._common import cli_session, console, current_settings, parse_date
from gateway.errors import NotFound
from gateway.org.models import AssociationGrade, County
from gateway.reports.scoring import GradingConfig, load_grading_config
from gateway.settings import Settings

if TYPE_CHECKING:
    from openpyxl import Workbook

reports_app = typer.Typer(help="评估与报表 Evaluation and reports.", no_args_is_help=True)

AssociationOpt = Annotated[str, typer.Option("--association", help="Association code.")]
CountyOpt = Annotated[str, typer.Option("--county", help="County code.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="End of period (YYYY-MM-DD).")]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Start of period (YYYY-MM-DD); evaluation: after the last one."),
]
XlsxOpt = Annotated[Path | None, typer.Option("--xlsx", help="Write an XLSX file here.")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Write a CSV file here.")]


def _day(value: str | None, default: date) -> date:
    return parse_date(value) if value else default


def grading(settings: Settings) -> GradingConfig:
    return load_grading_config(settings.config_dir / "grading.toml")


def _association_id(session: Session, code: str) -> int:
    from gateway.org.service import get_association_by_code

    return get_association_by_code(session, code).id


def _county_id(session: Session, code: str) -> int:
    found = session.scalar(select(County.id).where(County.code == code))
    if found is None:
        raise NotFound(f"县代码 {code} 不存在", f"county {code} not found")
    return found


@reports_app.command("evaluation")
def evaluation_command(
    association: AssociationOpt,
    as_of: AsOfOpt = None,
    since: SinceOpt = None,
    xlsx: XlsxOpt = None,
    csv_path: CsvOpt = None,
) -> None:
    """附件1 等级评估表 with the suggested grade and its reasons."""
    from gateway.reports import export
    from gateway.reports.service import association_evaluation

    settings = current_settings()
    end = _day(as_of, settings.today())
    start = parse_date(since) if since else None
    scoring = grading(settings).evaluation
    with cli_session(settings) as session:
        evaluation = association_evaluation(
            session, _association_id(session, association), scoring, as_of=end, since=start
        )
    figures, suggestion, rows = evaluation.figures, evaluation.suggestion, evaluation.rows
    table = Table(title=f"{figures.association_name} 等级评估表（截至 {end}）")
    for header in ("项目", "单位", "调查内容", "备注"):
        table.add_column(header)
    for row in rows:
        table.add_row(row.item, row.unit, row.content, row.note)
    console().print(table)
    console().print(f"建议等级 suggested grade: {suggestion.grade.value} ({suggestion.score})")
    _export(
        xlsx,
        csv_path,
        lambda book: export.evaluation_sheet(book, rows, figures.association_name),
        lambda: export.evaluation_csv(rows),
    )


@reports_app.command("loans")
def loans_command(
    association: AssociationOpt,
    as_of: AsOfOpt = None,
    since: SinceOpt = None,
    xlsx: XlsxOpt = None,
    csv_path: CsvOpt = None,
) -> None:
    """附件2 农户借款明细表."""
    from gateway.reports import export
    from gateway.reports.tables import loan_detail

    settings = current_settings()
    end = _day(as_of, settings.today())
    start = parse_date(since) if since else None
    with cli_session(settings) as session:
        detail = loan_detail(session, _association_id(session, association), as_of=end, since=start)
    console().print(
        f"{detail.association_name}: {len(detail.rows)} 笔借款 loans, "
        f"{export.yuan(detail.total_amount_fen)} 元"
    )
    _export(
        xlsx,
        csv_path,
        lambda book: export.loan_detail_sheet(book, detail),
        lambda: export.loan_detail_csv(detail),
    )


@reports_app.command("county")
def county_command(
    county: CountyOpt,
    as_of: AsOfOpt = None,
    since: SinceOpt = None,
    xlsx: XlsxOpt = None,
    csv_path: CsvOpt = None,
) -> None:
    """附件3 评估情况一览表: one row per association."""
    from gateway.reports import export
    from gateway.reports.service import county_summary

    settings = current_settings()
    end = _day(as_of, settings.today())
    start = parse_date(since) if since else None
    scoring = grading(settings).evaluation
    with cli_session(settings) as session:
        summary = county_summary(
            session, _county_id(session, county), scoring, as_of=end, since=start
        )
    table = Table(title=f"{summary.county_name} 评估情况一览表（截至 {end}）")
    for header in (
        "协会",
        "会员",
        "借款笔数",
        "借款额",
        "逾期笔数",
        "建议等级",
        "自评等级",
        "县评估等级",
    ):
        table.add_column(header)
    for row in summary.rows:
        table.add_row(
            row.name,
            str(row.members),
            str(row.loans_count),
            export.yuan(row.loans_amount_fen),
            str(row.overdue_count),
            row.suggested_grade,
            row.self_grade,
            row.county_grade,
        )
    console().print(table)
    _export(
        xlsx,
        csv_path,
        lambda book: export.county_summary_sheet(book, summary),
        lambda: export.county_summary_csv(summary),
    )


def _export(
    xlsx: Path | None,
    csv_path: Path | None,
    fill_sheet: Callable[[Workbook], object],
    csv_text: Callable[[], str],
) -> None:
    """Write the report as XLSX and/or CSV where asked, saying where each went."""
    from gateway.reports import export

    if xlsx:
        book = export.new_workbook()
        fill_sheet(book)
        console().print(f"XLSX: {export.save(book, xlsx)}")
    if csv_path:
        console().print(f"CSV: {export.write_csv(csv_text(), csv_path)}")


def _period(
    kind: tuple[str, str],
    county: str | None,
    association: str | None,
    start: date,
    end: date,
    xlsx: Path | None,
    csv_path: Path | None,
) -> None:
    """A monthly or annual report (``kind``: its Chinese and English name) on the terminal,
    titled with whose and which period it is, and in the files asked for."""
    from gateway.reports import export
    from gateway.reports.service import county_period_report, period_report

    if (county is None) == (association is None):
        raise typer.BadParameter("give exactly one of --county and --association")
    settings = current_settings()
    book = export.new_workbook()
    with cli_session(settings) as session:
        if county is not None:
            report = county_period_report(session, _county_id(session, county), start, end)
            export.county_period_sheet(book, report)
            for item in report.associations:
                export.period_sheet(book, item)
            text = export.county_period_csv(report)
            lines = export.county_period_rows(report)
            whose = f"{report.county_name} 全县汇总 county"
            text_columns = 1  # the association's name; the rest are amounts and counts
            headings = zip(
                export.COUNTY_PERIOD_HEADERS, export.COUNTY_PERIOD_HEADERS_EN, strict=True
            )
        else:
            single = period_report(session, _association_id(session, association or ""), start, end)
            export.period_sheet(book, single)
            text = export.period_csv(single)
            lines = export.period_rows(single)
            whose = f"{single.association_name}（{single.association_code}）"
            text_columns = 2  # the account's code and name
            headings = zip(export.PERIOD_HEADERS, export.PERIOD_HEADERS_EN, strict=True)
    cells = [[str(cell) for cell in line] for line in lines]
    table = Table(title=f"{whose} {kind[0]} {kind[1]}：{start} 至 {end}")
    for number, (zh, en) in enumerate(headings):
        # no cell is cut short: the headings wrap instead, and a table wider than the
        # terminal is printed whole
        table.add_column(
            f"{zh}\n{en}",
            justify="left" if number < text_columns else "right",
            overflow="fold",
            min_width=max((cell_len(row[number]) for row in cells), default=0),
        )
    for row in cells:
        table.add_row(*row)
    console().print(table, crop=False)
    if xlsx:
        console().print(f"XLSX: {export.save(book, xlsx)}")
    if csv_path:
        console().print(f"CSV: {export.write_csv(text, csv_path)}")


@reports_app.command("monthly")
def monthly_command(
    year: Annotated[int, typer.Option("--year")],
    month: Annotated[int, typer.Option("--month")],
    county: Annotated[str | None, typer.Option("--county")] = None,
    association: Annotated[str | None, typer.Option("--association")] = None,
    xlsx: XlsxOpt = None,
    csv_path: CsvOpt = None,
) -> None:
    """月报: one association, or a county with every association."""
    from gateway.reports.service import month_bounds

    _period(
        ("月报", "monthly report"), county, association, *month_bounds(year, month), xlsx, csv_path
    )


@reports_app.command("annual")
def annual_command(
    year: Annotated[int, typer.Option("--year")],
    county: Annotated[str | None, typer.Option("--county")] = None,
    association: Annotated[str | None, typer.Option("--association")] = None,
    xlsx: XlsxOpt = None,
    csv_path: CsvOpt = None,
) -> None:
    """年报: one association, or a county with every association."""
    from gateway.reports.service import year_bounds

    _period(("年报", "annual report"), county, association, *year_bounds(year), xlsx, csv_path)


@reports_app.command("record-grade")
def record_grade_command(
    association: AssociationOpt,
    grade: Annotated[AssociationGrade, typer.Option("--grade", help="A, B, C or D.")],
    method: Annotated[str, typer.Option("--method", help="县评估方式.")],
    actor: Annotated[str, typer.Option("--actor", help="Who decides (audit log).")],
    period_end: Annotated[str, typer.Option("--period-end", help="YYYY-MM-DD.")],
    since: SinceOpt = None,
    self_grade: Annotated[AssociationGrade | None, typer.Option("--self-grade")] = None,
    note: Annotated[str, typer.Option("--note")] = "",
) -> None:
    """Record the grade the county decided, beside the suggestion."""
    from gateway.reports.service import record_grade

    settings = current_settings()
    with cli_session(settings) as session:
        recorded = record_grade(
            session,
            _association_id(session, association),
            grading(settings).evaluation,
            period_end=parse_date(period_end),
            period_start=parse_date(since) if since else None,
            decided_grade=grade,
            self_grade=self_grade,
            method=method,
            actor=actor,
            note=note,
        )
        suggested = recorded.suggested_grade.value
    console().print(f"已记录 recorded: {grade.value}（建议 suggested {suggested}）by {actor}")


@reports_app.command("credit-review")
def credit_review_command(
    county: CountyOpt,
    year: Annotated[int, typer.Option("--year")],
    actor: Annotated[str, typer.Option("--actor")],
) -> None:
    """Yearly credit-grade review of every member of the county."""
    from gateway.grading.service import review_year

    settings = current_settings()
    with cli_session(settings) as session:
        reviews = review_year(
            session, _county_id(session, county), year, grading(settings).credit, actor=actor
        )
        changed = sum(1 for r in reviews if r.from_grade != r.to_grade)
    console().print(f"{year} 年评定 reviewed {len(reviews)} 名会员, {changed} 名等级变动 changed")


def register(app: typer.Typer) -> None:
    app.add_typer(reports_app, name="reports")
