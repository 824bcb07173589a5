"""Attachments 2 and 3 and the evaluation table, exported as XLSX and CSV and read back:
every cell that carries a figure is checked against the raw rows."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from gateway.loans.models import Loan, LoanGuarantor
from gateway.members.models import Member
from gateway.reports import export
from gateway.reports.figures import evaluate
from gateway.reports.scoring import EvaluationScoring, load_grading_config, suggest_grade
from gateway.reports.service import county_summary
from gateway.reports.tables import LOAN_DETAIL_HEADERS, chart_groups, evaluation_rows, loan_detail
from tests.reports.county_seed import AS_OF, Seeded

REPO = Path(__file__).resolve().parents[2]


def fen_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _scoring() -> EvaluationScoring:
    return load_grading_config(REPO / "config" / "grading.toml").evaluation


def test_loan_detail_xlsx_has_every_loan_as_the_books_show_it(
    seeded: Seeded, tmp_path: Path
) -> None:
    session, a = seeded.session, seeded.world.a
    table = loan_detail(session, a.id, as_of=AS_OF)
    book = export.new_workbook()
    export.loan_detail_sheet(book, table)
    path = export.save(book, tmp_path / "detail.xlsx")

    sheet = load_workbook(path)["附件2 借款明细表"]
    assert sheet["A1"].value == "温州市扶贫资金互助组织农户借款明细表"
    assert sheet["C3"].value == "借款人情况"
    assert "C3:F3" in {str(r) for r in sheet.merged_cells.ranges}
    assert [sheet.cell(row=4, column=c).value for c in range(3, 7)] == [
        "姓 名",
        "电 话",
        "入会互助金",
        "是否低收入农户",
    ]
    loans = list(
        session.scalars(
            select(Loan)
            .where(Loan.association_id == a.id, Loan.disbursed_on.is_not(None))
            .order_by(Loan.disbursed_on, Loan.contract_no)
        )
    )
    assert len(table.rows) == len(loans) == 7
    for offset, loan in enumerate(loans):
        row = [sheet.cell(row=5 + offset, column=c).value for c in range(1, 18)]
        member = session.get(Member, loan.member_id)
        assert member is not None
        guarantors = [
            g.name
            for g in session.scalars(
                select(Member)
                .join(LoanGuarantor, LoanGuarantor.member_id == Member.id)
                .where(LoanGuarantor.loan_id == loan.id)
                .order_by(LoanGuarantor.id)
            )
        ]
        assert row[0] == offset + 1
        assert row[1] == loan.contract_no
        assert row[2] == member.name
        assert row[3] == member.phone
        assert row[4] == fen_text(member.deposit_fen)
        assert row[5] == ("是" if member.low_income else "否")
        assert row[6] == fen_text(loan.amount_fen)
        assert row[7] == loan.purpose
        assert loan.disbursed_on is not None
        assert row[8] == loan.disbursed_on.isoformat()
        assert row[9] == loan.term_months
        assert row[10] == (loan.due_on.isoformat() if loan.due_on else "")
        rate = loan.monthly_fee_rate_centipermille
        assert row[11] == f"{rate // 100}.{rate % 100:02d}"
        assert row[12] == "、".join(guarantors)
        assert row[14] == fen_text(loan.principal_repaid_fen)
        assert row[15] == fen_text(loan.fee_paid_fen)
    subtotal = [sheet.cell(row=5 + len(loans), column=c).value for c in range(1, 18)]
    assert subtotal[0] == "小计"
    assert subtotal[2] == "/"
    assert subtotal[6] == fen_text(sum(x.amount_fen for x in loans)) == "66000.00"
    assert subtotal[15] == fen_text(sum(x.fee_paid_fen for x in loans))
    notes = {
        sheet.cell(row=5 + i, column=2).value: sheet.cell(row=5 + i, column=17).value
        for i in range(len(loans))
    }
    assert notes["A-L3"] == "逾期 121 天；超额未经县级审批"
    assert notes["A-L4"] == "现金发放"
    assert notes["A-L1"] in ("", None)


def test_loan_detail_csv_matches_the_sheet(seeded: Seeded) -> None:
    table = loan_detail(seeded.session, seeded.world.a.id, as_of=AS_OF)
    parsed = list(csv.reader(io.StringIO(export.loan_detail_csv(table))))
    assert parsed[0] == LOAN_DETAIL_HEADERS
    assert [r[1] for r in parsed[1:-1]] == [r.contract_no for r in table.rows]
    assert parsed[-1][0] == "小计"
    assert parsed[-1][6] == "66000.00"


def test_county_summary_has_one_row_per_association(seeded: Seeded, tmp_path: Path) -> None:
    session, world = seeded.session, seeded.world
    summary = county_summary(session, world.county.id, _scoring(), as_of=AS_OF)
    book = export.new_workbook()
    export.county_summary_sheet(book, summary)
    path = export.save(book, tmp_path / "county.xlsx")
    sheet = load_workbook(path)["附件3 评估情况一览表"]
    assert sheet["A1"].value == "2024年度温州市扶贫资金互助组织评估情况一览表"
    assert sheet["K3"].value == "借款情况"
    assert sheet["K5"].value == "总数"
    rows = {sheet.cell(row=r, column=1).value: r for r in (6, 7)}
    assert set(rows) == {world.a.name, world.b.name}

    def cell(name: str, column: int) -> object:
        return sheet.cell(row=rows[name], column=column).value

    a_members = list(session.scalars(select(Member).where(Member.association_id == world.a.id)))
    a_loans = list(
        session.scalars(
            select(Loan).where(Loan.association_id == world.a.id, Loan.disbursed_on.is_not(None))
        )
    )
    assert cell(world.a.name, 2) == "省级"
    assert cell(world.a.name, 7) == len(a_members)
    assert cell(world.a.name, 8) == sum(m.low_income for m in a_members)
    assert cell(world.a.name, 10) == fen_text(sum(m.deposit_fen for m in a_members))
    assert cell(world.a.name, 11) == len(a_loans)
    assert cell(world.a.name, 13) == "66000.00"
    assert cell(world.a.name, 16) == 2
    assert cell(world.a.name, 17) == "28000.00"
    assert cell(world.a.name, 19) == "10000.00"  # paid out in cash
    assert cell(world.a.name, 21) == "6432.00"  # repaid in cash
    assert cell(world.a.name, 23) == "银行代管"
    assert cell(world.b.name, 11) == 1
    assert cell(world.b.name, 24) == "144.00"
    parsed = list(csv.reader(io.StringIO(export.county_summary_csv(summary))))
    assert len(parsed) == 3
    assert len(parsed[0]) == len(parsed[1]) == 29


def test_evaluation_table_lists_figures_suggestion_and_flags(
    seeded: Seeded, tmp_path: Path
) -> None:
    figures = evaluate(seeded.session, seeded.world.a.id, as_of=AS_OF)
    suggestion = suggest_grade(figures, _scoring())
    rows = evaluation_rows(figures, suggestion)
    book = export.new_workbook()
    export.evaluation_sheet(book, rows, figures.association_name)
    sheet = load_workbook(export.save(book, tmp_path / "eval.xlsx"))["附件1 等级评估表"]
    by_item = {
        str(sheet.cell(row=r, column=1).value).strip(): sheet.cell(row=r, column=3).value
        for r in range(4, sheet.max_row + 1)
    }
    assert by_item["1.7 农户入会情况"] == "6"
    assert by_item["2.2 借款限额"] == (
        "最高 25000.00 元，前10名会员借款总额 66000.00 元，占互助会资金总量的 52.67 %"
    )
    assert by_item["2.3.1 逾期情况"] == (
        "2 笔 28000.00 元，逾期30天以上的有 1 笔，逾期最长一笔时间 4.0 月（121 天）"
    )
    assert by_item["2.6 到期回收率"] == "33.33"
    assert by_item["3.4 借款支付方式"] == ("现金支付 1 笔，10000.00 元；银行转账 6 笔，56000.00 元")
    assert "超过 20000.00 元且无县级审批记录" in str(by_item["审核提示（需重点核查）"])
    assert by_item["4、自评等级和存在主要问题"] == (
        f"系统建议 {suggestion.grade.value}（{suggestion.score} 分）"
    )
    assert by_item["7、县级评估工作领导小组审定评估等级"] in ("", None)
    assert export.evaluation_csv(rows).splitlines()[0] == "项目,单位,调查内容,备注"
    assert date(2024, 6, 30) == figures.as_of


def test_chart_groups_carry_the_same_figures(seeded: Seeded) -> None:
    figures = evaluate(seeded.session, seeded.world.a.id, as_of=AS_OF)
    groups = {g.title: g.measures for g in chart_groups(figures)}
    paid = groups["借款支付方式 Disbursements"]
    assert [(m.value, m.warn) for m in paid] == [(5_600_000, False), (1_000_000, True)]
    outstanding = groups["借款余额 Loans outstanding"]
    assert outstanding[1].text == "2 笔 28000.00 元"
    assert outstanding[0].value + outstanding[1].value == sum(
        x.outstanding_fen for x in figures.loans
    )
