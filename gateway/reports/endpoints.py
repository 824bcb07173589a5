"""``/api/v1`` report downloads as XLSX (laid out like the forms) or CSV: an association's
monthly/annual report and loan detail table (附件2), the county summary (附件3)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from io import BytesIO
from typing import Annotated, Any

from fastapi import Query, Request, Response

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.router import ObjectId, county_scope, domain_router
from gateway.auth.errors import Forbidden
from gateway.auth.permissions import Permission
from gateway.errors import ValidationFailed
from gateway.org.endpoints import get_county, visible_association
from gateway.reports import export
from gateway.reports import service as reports
from gateway.reports.scoring import load_grading_config
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
    filename = f"{name}.{fmt.value}"
    return Response(
        content=body,
        media_type=media,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
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
    if end < start or (end - start).days > 366:
        raise ValidationFailed(
            "报表期间无效（须在一年之内）", "the period must run forward and last a year at most"
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
