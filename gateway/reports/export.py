"""XLSX and CSV exports laid out like the Wenzhou attachments.

The XLSX sheets follow the printed forms: a title row, the attachment's header rows with the
same merged cells, one row per item, and the sign-off line. CSV carries one flat header row and
the same cells (UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from gateway.ledger.models import AccountCode
from gateway.reports.numbers import yuan
from gateway.reports.service import CountyPeriodReport, PeriodReport
from gateway.reports.tables import (
    LOAN_DETAIL_HEADERS,
    CountySummary,
    EvaluationRow,
    LoanDetailTable,
)

Cell = str | int
THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP = Alignment(vertical="center", wrap_text=True)
TITLE = Font(bold=True, size=14)
BOLD = Font(bold=True)

EVALUATION_HEADERS = ["项目", "单位", "调查内容", "备注"]

# 附件3: the three header rows. Group headers span the columns named in COUNTY_GROUPS.
COUNTY_COLUMNS = [
    "单位名称",
    "类型(省级)",
    "类型(市级)",
    "成立时间",
    "发证单位",
    "法人代表",
    "会员数",
    "其中低收入农户数",
    "资本金",
    "农户互助金",
    "借款笔数(总数)",
    "借款笔数(低收入农户数)",
    "借款额(总额)",
    "借款额(低收入农户额)",
    "月费率(‰)",
    "逾期笔数",
    "逾期金额",
    "最长逾期时间",
    "借款支付方式(现金)",
    "借款支付方式(银行转账)",
    "还款方式(现金)",
    "还款方式(银行转账)",
    "管理方式",
    "借款收入",
    "分红",
    "转资本金",
    "自评等级",
    "县评估等级",
    "县评估方式",
]


def _write_row(
    sheet: Worksheet, row: int, cells: Sequence[Cell], *, bold: bool = False, box: bool = True
) -> None:
    for column, value in enumerate(cells, start=1):
        cell = sheet.cell(row=row, column=column, value=value)
        cell.alignment = CENTER if bold else WRAP
        if bold:
            cell.font = BOLD
        if box:
            cell.border = BOX


def _text_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character is about two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _fit_heights(sheet: Worksheet, first_row: int, last_row: int, *, line: float = 15) -> None:
    """Give wrapped rows the height their longest cell needs (spreadsheet programs do not
    all recompute it when opening the file)."""
    widths = {
        column: (dimension.width or 8.43) for column, dimension in sheet.column_dimensions.items()
    }
    for row in range(first_row, last_row + 1):
        lines = 1
        for cell in sheet[row]:
            if cell.value is None or cell.coordinate in sheet.merged_cells:
                continue
            width = max(widths.get(cell.column_letter, 8.43) - 1, 1)
            for part in str(cell.value).split("\n"):
                lines = max(lines, -(-_text_width(part) // int(width)))
        if lines > 1:
            sheet.row_dimensions[row].height = line * lines


def _title(sheet: Worksheet, row: int, text: str, width: int) -> None:
    sheet.cell(row=row, column=1, value=text).font = TITLE
    sheet.cell(row=row, column=1).alignment = CENTER
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    sheet.row_dimensions[row].height = 28


def _landscape(sheet: Worksheet, *, wide: bool = False) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A3 if wide else sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.5)


def _widths(sheet: Worksheet, widths: Sequence[float]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


# --- attachment 1 ----------------------------------------------------------------------


def evaluation_sheet(book: Workbook, rows: Sequence[EvaluationRow], association: str) -> Worksheet:
    sheet = book.create_sheet("附件1 等级评估表")
    _title(sheet, 1, "温州市扶贫资金互助组织等级评估表", 4)
    sheet.cell(row=2, column=1, value=f"互助组织：{association}")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=4)
    _write_row(sheet, 3, EVALUATION_HEADERS, bold=True)
    for offset, item in enumerate(rows):
        _write_row(sheet, 4 + offset, [item.item, item.unit, item.content, item.note])
        if not item.unit and not item.content and not item.note:
            sheet.cell(row=4 + offset, column=1).font = BOLD
    _widths(sheet, [30, 8, 70, 28])
    _fit_heights(sheet, 4, 3 + len(rows))
    _landscape(sheet)
    return sheet


def evaluation_csv(rows: Sequence[EvaluationRow]) -> str:
    return _csv(EVALUATION_HEADERS, [[r.item.strip(), r.unit, r.content, r.note] for r in rows])


# --- attachment 2 ----------------------------------------------------------------------


def loan_detail_sheet(book: Workbook, table: LoanDetailTable) -> Worksheet:
    sheet = book.create_sheet("附件2 借款明细表")
    width = len(LOAN_DETAIL_HEADERS)
    _title(sheet, 1, "温州市扶贫资金互助组织农户借款明细表", width)
    sheet.cell(row=2, column=1, value=f"扶贫资金互助组织：{table.association_name}（盖章）")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=10)
    sheet.cell(row=2, column=width - 2, value="金额单位：元")
    # Two header rows: 借款人情况 spans 姓名/电话/入会互助金/是否低收入农户 (columns 3-6).
    top = [*LOAN_DETAIL_HEADERS[:2], "借款人情况", "", "", "", *LOAN_DETAIL_HEADERS[6:]]
    _write_row(sheet, 3, top, bold=True)
    _write_row(sheet, 4, ["", "", "姓 名", "电 话", "入会互助金", "是否低收入农户"], bold=True)
    for column in range(1, width + 1):
        if not 3 <= column <= 6:
            sheet.cell(row=4, column=column).border = BOX
            sheet.merge_cells(start_row=3, start_column=column, end_row=4, end_column=column)
    sheet.merge_cells(start_row=3, start_column=3, end_row=3, end_column=6)
    sheet.row_dimensions[3].height = 22
    sheet.row_dimensions[4].height = 30
    row = 5
    for line in table.rows:
        _write_row(sheet, row, line.cells())
        row += 1
    _write_row(sheet, row, table.subtotal_cells(), bold=True)
    row += 2
    sheet.cell(
        row=row,
        column=1,
        value="填报人：            联系电话：            "
        f"填报日期：{table.as_of:%Y 年 %m 月 %d 日}",
    )
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    _widths(sheet, [5, 13, 8, 12, 10, 7, 11, 8, 11, 6, 11, 7, 14, 11, 11, 9, 14])
    _fit_heights(sheet, 5, 4 + len(table.rows))
    _landscape(sheet)
    return sheet


def loan_detail_csv(table: LoanDetailTable) -> str:
    return _csv(LOAN_DETAIL_HEADERS, [*(r.cells() for r in table.rows), table.subtotal_cells()])


# --- attachment 3 ----------------------------------------------------------------------


def county_summary_sheet(book: Workbook, summary: CountySummary) -> Worksheet:
    sheet = book.create_sheet("附件3 评估情况一览表")
    width = len(COUNTY_COLUMNS)
    year = summary.as_of.year
    _title(sheet, 1, f"{year}年度温州市扶贫资金互助组织评估情况一览表", width)
    sheet.cell(row=2, column=1, value=f"县（市、区）：{summary.county_name}")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=8)
    first = [
        "单位名称", "类型", "", "成立\n时间", "发证单位", "法人代表", "会员数", "其中低收入农户数",
        "资本金", "农户互助金", "借款情况", "", "", "", "", "逾期情况", "", "",
        "借款支付方式", "", "还款方式", "",
        "管理方式（单独管理、银行代管、联合会代管）", "借款收入", "分红", "转资本金",
        "自评等级", "县评估等级", "县评估方式",
    ]  # fmt: skip
    second = [
        "", "省级", "市级", "", "", "", "", "", "", "", "借款笔数", "", "借款额", "",
        "月费率(‰)", "逾期笔数", "逾期金额", "最长逾期时间", "现金", "银行转账", "现金",
        "银行转账", "", "", "", "", "", "", "",
    ]  # fmt: skip
    third = [""] * width
    third[10:14] = ["总数", "低收入农户数", "总额", "低收入农户额"]
    _write_row(sheet, 3, first, bold=True)
    _write_row(sheet, 4, second, bold=True)
    _write_row(sheet, 5, third, bold=True)
    spans = [
        (3, 2, 3, 3),  # 类型 over 省级/市级
        (3, 11, 3, 15),  # 借款情况
        (3, 16, 3, 18),  # 逾期情况
        (3, 19, 3, 20),  # 借款支付方式
        (3, 21, 3, 22),  # 还款方式
        (4, 11, 4, 12),  # 借款笔数
        (4, 13, 4, 14),  # 借款额
    ]
    for column in (1, 4, 5, 6, 7, 8, 9, 10, 23, 24, 25, 26, 27, 28, 29):
        spans.append((3, column, 5, column))
    for column in (2, 3, 15, 16, 17, 18, 19, 20, 21, 22):
        spans.append((4, column, 5, column))
    for r1, c1, r2, c2 in spans:
        sheet.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    for header_row, height in ((3, 48), (4, 22), (5, 22)):
        sheet.row_dimensions[header_row].height = height
    row = 6
    for line in summary.rows:
        _write_row(sheet, row, line.cells())
        row += 1
    row += 1
    sheet.cell(row=row, column=1, value="填报人：")
    sheet.cell(row=row, column=15, value="审核人：")
    _widths(sheet, [16, *([6] * 2), 11, 12, 8, *([7] * 2), *([12] * 2), *([7] * 2)])
    for column in range(13, width + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 10
    _landscape(sheet, wide=True)
    return sheet


def county_summary_csv(summary: CountySummary) -> str:
    return _csv(COUNTY_COLUMNS, [row.cells() for row in summary.rows])


# --- monthly and annual reports --------------------------------------------------------

PERIOD_HEADERS = ["科目代码", "科目名称", "期初余额", "本期借方", "本期贷方", "期末余额"]
# the same columns in English, for the terminal's headings (beside the Chinese)
PERIOD_HEADERS_EN = ["code", "account", "opening", "debit", "credit", "closing"]


def period_rows(report: PeriodReport) -> list[list[Cell]]:
    return [
        [
            a.code.value,
            a.name_zh,
            yuan(a.opening_fen),
            yuan(a.debit_fen),
            yuan(a.credit_fen),
            yuan(a.closing_fen),
        ]
        for a in report.accounts
    ]


def period_sheet(book: Workbook, report: PeriodReport) -> Worksheet:
    sheet = book.create_sheet(f"{report.association_code} 报表"[:31])
    _title(sheet, 1, f"{report.association_name} 会计报表 {report.start} 至 {report.end}", 6)
    _write_row(sheet, 2, PERIOD_HEADERS, bold=True)
    row = 3
    for cells in period_rows(report):
        _write_row(sheet, row, cells)
        row += 1
    f = report.figures
    summary = [
        ("本期发放借款", f"{f.loans_issued.count} 笔，{yuan(f.loans_issued.amount_fen)} 元"),
        ("本期占用费收入", f"{yuan(f.fee_income_fen)} 元"),
        ("期末逾期借款", f"{f.overdue.count} 笔，{yuan(f.overdue.amount_fen)} 元"),
        ("借贷平衡", "是" if report.balanced else "否"),
    ]
    row += 1
    for label, value in summary:
        _write_row(sheet, row, [label, value], box=False)
        row += 1
    _widths(sheet, [10, 22, 14, 14, 14, 14])
    return sheet


def county_period_sheet(book: Workbook, report: CountyPeriodReport) -> Worksheet:
    sheet = book.create_sheet("全县汇总")
    _title(sheet, 1, f"{report.county_name} 互助资金汇总表 {report.start} 至 {report.end}", 9)
    _write_row(sheet, 2, COUNTY_PERIOD_HEADERS, bold=True)
    row = 3
    for cells in county_period_rows(report):
        _write_row(sheet, row, cells, bold=cells[0] == "合计")
        row += 1
    _widths(sheet, [22, *([13] * 8)])
    return sheet


def county_period_rows(report: CountyPeriodReport) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    totals = [0] * 8
    for item in report.associations:
        f = item.figures
        values = [
            item.closing(AccountCode.BANK_SUB_ACCOUNT),
            item.closing(AccountCode.LOANS_RECEIVABLE),
            item.closing(AccountCode.MEMBER_DEPOSITS),
            f.loans_issued.count,
            f.loans_issued.amount_fen,
            f.fee_income_fen,
            f.overdue.count,
            f.overdue.amount_fen,
        ]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        rows.append([item.association_name, *_money_or_count(values)])
    rows.append(["合计", *_money_or_count(totals)])
    return rows


COUNTY_PERIOD_HEADERS = [
    "协会",
    "银行存款",
    "应收借款",
    "会员互助金",
    "本期发放笔数",
    "本期发放金额",
    "本期占用费",
    "期末逾期笔数",
    "期末逾期金额",
]
COUNTY_PERIOD_HEADERS_EN = [
    "association",
    "bank",
    "loans receivable",
    "member deposits",
    "loans issued",
    "amount issued",
    "fees",
    "overdue loans",
    "overdue amount",
]


def county_period_csv(report: CountyPeriodReport) -> str:
    return _csv(COUNTY_PERIOD_HEADERS, county_period_rows(report))


def period_csv(report: PeriodReport) -> str:
    return _csv(PERIOD_HEADERS, period_rows(report))


def _money_or_count(values: list[int]) -> list[Cell]:
    counts = {3, 6}
    return [v if i in counts else yuan(v) for i, v in enumerate(values)]


# --- files -----------------------------------------------------------------------------


def new_workbook() -> Workbook:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    return book


def save(book: Workbook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _csv(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8-sig", newline="")
    return path
