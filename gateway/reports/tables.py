"""The rows of Wenzhou attachments 1–3, typed, for the console, the exports and the API.

Amounts are carried in fen and rendered as yuan with two decimals; shares and rates are
rendered from exact ratios with half-up rounding (percent to two decimals, per mille to two).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.ledger.service import county_of
from gateway.loans.models import Loan
from gateway.members.models import Member
from gateway.org.models import PilotLevel
from gateway.org.service import get_association
from gateway.reports.figures import EvaluationFigures, deposits_on, evaluate, guarantor_names
from gateway.reports.models import AssociationEvaluation
from gateway.reports.numbers import NOT_APPLICABLE, CountAmount, Ratio, permille, yuan
from gateway.reports.scoring import SuggestedGrade

PILOT_LABEL = {PilotLevel.PROVINCIAL.value: "省级", PilotLevel.MUNICIPAL.value: "市级"}


def _date(value: date | None) -> str:
    return value.isoformat() if value else ""


def _opt(value: int | None) -> str:
    return NOT_APPLICABLE if value is None else str(value)


# --- attachment 1: the evaluation table ------------------------------------------------


@dataclass(frozen=True)
class EvaluationRow:
    """One line of 附件1: 项目, 单位, 调查内容, 备注."""

    item: str
    unit: str
    content: str
    note: str = ""


def _agree(value: bool | None) -> str:
    if value is None:
        return "未收到对账单"
    return "相符" if value else "不符"


def evaluation_rows(
    figures: EvaluationFigures,
    suggestion: SuggestedGrade | None = None,
    recorded: AssociationEvaluation | None = None,
) -> list[EvaluationRow]:
    """附件1 温州市扶贫资金互助组织等级评估表, filled from the figures; item 4 holds the
    self-grade and item 7 the county's grade of ``recorded``, the evaluation the county
    recorded for this period (:func:`evaluation_for_period`), blank without one."""
    f = figures
    rows = [
        EvaluationRow("1、基本情况", "", ""),
        EvaluationRow("1.1 扶贫资金互助会名称", "", f.association_name, f.association_code),
        EvaluationRow("1.2 扶贫资金互助会地址", "", f.address),
        EvaluationRow("1.3 试点级别", "", PILOT_LABEL.get(f.pilot_level, f.pilot_level)),
        EvaluationRow("1.4 启动年份", "", str(f.start_year)),
        EvaluationRow(
            "1.5 管理人员及电话（理事长、监事长、会计）",
            "",
            "理事长：    监事长：    会计：",
            "手填",
        ),
        EvaluationRow("1.6 经费来源", "元", yuan(f.fund_total_fen)),
        EvaluationRow("    其中：财政资金", "元", yuan(f.fiscal_capital_fen)),
        EvaluationRow("    农户互助金", "元", yuan(f.member_deposits_fen)),
        EvaluationRow("    其他投入", "元", yuan(f.other_capital_fen)),
        EvaluationRow("1.7 农户入会情况", "户", str(f.members)),
        EvaluationRow(
            "    其中：低收入农户",
            "户",
            f"{f.low_income_members} 户，低收入农户占 {f.low_income_member_share.percent()} %",
        ),
        EvaluationRow("2、互助会运行情况", "", ""),
        EvaluationRow("2.1 农户借款户数", "户", str(f.borrowers)),
        EvaluationRow(
            "    其中：低收入农户",
            "户",
            f"{f.low_income_borrowers} 户，低收入农户占 {f.low_income_borrower_share.percent()} %",
        ),
        EvaluationRow(
            "2.2 借款限额",
            "元",
            f"最高 {yuan(f.largest_loan_fen)} 元，前10名会员借款总额 {yuan(f.top10_total_fen)} 元，"
            f"占互助会资金总量的 {f.top10_share.percent()} %",
        ),
        EvaluationRow(
            "2.3 借款期限",
            "月",
            f"平均借款期限 {f.average_term_months.decimal(1)} 月，"
            f"最短借款期限 {_opt(f.shortest_term_months)} 月，"
            f"最长借款期限 {_opt(f.longest_term_months)} 月，"
            f"借款期限超过12个月的批数 {f.loans_over_12_months}",
        ),
        EvaluationRow(
            "    2.3.1 逾期情况",
            "",
            f"{f.overdue.count} 笔 {yuan(f.overdue.amount_fen)} 元，"
            f"逾期30天以上的有 {f.overdue_over_30_days} 笔，"
            f"逾期最长一笔时间 {f.longest_overdue_months.decimal(1)} 月"
            f"（{f.longest_overdue_days} 天）",
        ),
        EvaluationRow(
            "2.4 累计发放借款",
            "",
            f"{f.loans_issued.count} 批 {yuan(f.loans_issued.amount_fen)} 元，"
            f"其中向低收入农户发放借款 {f.low_income_loans.count} 笔，"
            f"{yuan(f.low_income_loans.amount_fen)} 元",
        ),
        EvaluationRow("2.5 月占用费率", "‰", f.monthly_fee_rate_permille.decimal(2), "按金额加权"),
        EvaluationRow("2.6 到期回收率", "%", f.recovery_rate.percent()),
        EvaluationRow("2.7 收支情况", "", ""),
        EvaluationRow(
            "    2.7.1 累计收入情况",
            "元",
            f"占用费 {yuan(f.fee_income_fen)} 元，存款利息 {yuan(f.deposit_interest_fen)} 元",
        ),
        EvaluationRow(
            "    2.7.2 费用支出",
            "元",
            f"合计 {yuan(f.expenses_total_fen)} 元，人员补助 {yuan(f.expense_staff_fen)} 元，"
            f"办公费 {yuan(f.expense_office_fen)} 元，收益分红 {yuan(f.expense_dividends_fen)} 元，"
            f"其他 {yuan(f.expense_other_fen)} 元",
        ),
        EvaluationRow("2.7.3 占用费转入资本金", "元", yuan(f.fees_to_capital_fen)),
        EvaluationRow("3、财务管理", "", ""),
        EvaluationRow("3.1 独立建账", "", "系统复式记账，独立子账户", f.association_code),
        EvaluationRow(
            "3.2 会计账目核对",
            "",
            f"借贷平衡 {'是' if f.books_balanced else '否'}；"
            f"会计帐与银行对账单 {_agree(f.bank_agrees)}"
            f"（账面 {yuan(f.ledger_bank_fen)} 元，对账单 "
            f"{yuan(f.statement_bank_fen) if f.statement_bank_fen is not None else '—'} 元）",
        ),
        EvaluationRow(
            "3.3 现金管理情况",
            "元",
            f"库存现金账 {yuan(f.cash_on_hand_fen)} 元",
            f"截至 {f.as_of.isoformat()}",
        ),
        EvaluationRow(
            "3.4 借款支付方式",
            "",
            f"现金支付 {f.disbursed_cash.count} 笔，{yuan(f.disbursed_cash.amount_fen)} 元；"
            f"银行转账 {f.disbursed_transfer.count} 笔，{yuan(f.disbursed_transfer.amount_fen)} 元",
            f"银行回盘确认 {f.bank_confirmed_disbursements} 笔",
        ),
        EvaluationRow(
            "3.5 还款方式",
            "",
            f"现金还付 {f.repaid_cash.count} 笔，{yuan(f.repaid_cash.amount_fen)} 元；"
            f"银行转账 {f.repaid_transfer.count} 笔，{yuan(f.repaid_transfer.amount_fen)} 元",
            f"银行回盘确认 {f.bank_confirmed_repayments} 笔",
        ),
    ]
    flags = "；".join(flag.message_zh for flag in f.flags) or "无"
    rows.append(EvaluationRow("审核提示（需重点核查）", "", flags))
    # item 4: the association's own grade as the county recorded it for this period, beside
    # the system's suggestion; the suggestion's deductions are the problems found
    grades = []
    if recorded is not None and recorded.self_grade is not None:
        grades.append(f"自评 {recorded.self_grade.value}")
    if suggestion is not None:
        grades.append(f"系统建议 {suggestion.grade.value}（{suggestion.score} 分）")
    if grades:
        reasons = ""
        if suggestion is not None:
            reasons = "；".join(r.message_zh for r in suggestion.reasons) or "无扣分"
        rows.append(EvaluationRow("4、自评等级和存在主要问题", "", "；".join(grades), reasons))
    rows.append(EvaluationRow("5、乡镇（街道）审核意见（分管领导签字盖章）", "", ""))
    rows.append(EvaluationRow("6、评估人 / 评估等级 / 时间", "", ""))
    rows.append(
        EvaluationRow(
            "7、县级评估工作领导小组审定评估等级",
            "",
            recorded.decided_grade.value if recorded else "",
            f"{recorded.decided_by} {recorded.decided_at:%Y-%m-%d}" if recorded else "时间：",
        )
    )
    return rows


# --- attachment 2: the loan detail table -----------------------------------------------


@dataclass(frozen=True)
class LoanDetailRow:
    """One loan of 附件2 农户借款明细表; amounts in fen."""

    seq: int
    contract_no: str
    borrower: str
    phone: str
    deposit_fen: int
    low_income: bool
    amount_fen: int
    purpose: str
    disbursed_on: date
    term_months: int
    due_on: date | None
    monthly_fee_rate_centipermille: int
    guarantors: tuple[str, ...]
    repaid_on: date | None
    repaid_fen: int
    fee_income_fen: int
    note: str

    def cells(self) -> list[str | int]:
        return [
            self.seq,
            self.contract_no,
            self.borrower,
            self.phone,
            yuan(self.deposit_fen),
            "是" if self.low_income else "否",
            yuan(self.amount_fen),
            self.purpose,
            _date(self.disbursed_on),
            self.term_months,
            _date(self.due_on),
            permille(self.monthly_fee_rate_centipermille),
            "、".join(self.guarantors),
            _date(self.repaid_on),
            yuan(self.repaid_fen),
            yuan(self.fee_income_fen),
            self.note,
        ]


LOAN_DETAIL_HEADERS = [
    "序号",
    "借款合同号",
    "姓名",
    "电话",
    "入会互助金",
    "是否低收入农户",
    "借款金额",
    "借款用途",
    "发放时间(年月日)",
    "借款期限(月)",
    "到期时间(年月日)",
    "月占用费率(‰)",
    "担保人",
    "归还时间(年月日)",
    "还款金额",
    "占用费收入",
    "备注",
]


@dataclass(frozen=True)
class LoanDetailTable:
    association_name: str
    association_code: str
    since: date | None
    as_of: date
    rows: tuple[LoanDetailRow, ...]

    @property
    def total_deposit_fen(self) -> int:
        return sum(r.deposit_fen for r in self.rows)

    @property
    def total_amount_fen(self) -> int:
        return sum(r.amount_fen for r in self.rows)

    @property
    def total_repaid_fen(self) -> int:
        return sum(r.repaid_fen for r in self.rows)

    @property
    def total_fee_income_fen(self) -> int:
        return sum(r.fee_income_fen for r in self.rows)

    def subtotal_cells(self) -> list[str | int]:
        """The 小计 line: totals where the attachment has a blank, "/" where it has a slash."""
        return [
            "小计",
            f"{len(self.rows)} 笔",
            "/",
            "/",
            yuan(self.total_deposit_fen),
            "/",
            yuan(self.total_amount_fen),
            "/",
            "/",
            "/",
            "/",
            "/",
            "/",
            "/",
            yuan(self.total_repaid_fen),
            yuan(self.total_fee_income_fen),
            "/",
        ]


def loan_detail(
    session: Session,
    association_id: int,
    *,
    as_of: date,
    since: date | None = None,
    figures: EvaluationFigures | None = None,
) -> LoanDetailTable:
    """附件2: every loan disbursed in the period, with what the ledger shows of it at as_of."""
    figures = figures or evaluate(session, association_id, as_of=as_of, since=since)
    association = get_association(session, association_id)
    county = county_of(session, association_id)
    period = [loan for loan in figures.loans if loan.in_period]
    members = {
        m.id: m
        for m in session.scalars(
            select(Member).where(Member.id.in_({loan.member_id for loan in period}))
        )
    }
    loans = {
        loan.id: loan
        for loan in session.scalars(select(Loan).where(Loan.id.in_([x.loan_id for x in period])))
    }
    guarantors = guarantor_names(session, [loan.loan_id for loan in period])
    deposits = deposits_on(session, list(members.values()), as_of)
    rows: list[LoanDetailRow] = []
    for seq, facts in enumerate(period, start=1):
        member = members[facts.member_id]
        loan = loans[facts.loan_id]
        notes: list[str] = []
        if facts.overdue_days is not None:
            notes.append(f"逾期 {facts.overdue_days} 天")
        if facts.channel.value == "cash":
            notes.append("现金发放")
        if facts.amount_fen > county.county_approval_above_fen and not facts.county_approved:
            notes.append("超额未经县级审批")
        if loan.status.value == "written_off":
            notes.append("已核销")
        rows.append(
            LoanDetailRow(
                seq=seq,
                contract_no=facts.contract_no,
                borrower=member.name,
                phone=member.phone,
                deposit_fen=deposits[member.id],
                low_income=facts.low_income,
                amount_fen=facts.amount_fen,
                purpose=loan.purpose,
                disbursed_on=facts.disbursed_on,
                term_months=facts.term_months,
                due_on=facts.due_on,
                monthly_fee_rate_centipermille=facts.monthly_fee_rate_centipermille,
                guarantors=tuple(guarantors.get(facts.loan_id, [])),
                repaid_on=facts.last_repayment_on,
                repaid_fen=facts.principal_repaid_fen,
                fee_income_fen=facts.fee_income_fen,
                note="；".join(notes),
            )
        )
    return LoanDetailTable(
        association_name=association.name,
        association_code=association.code,
        since=since,
        as_of=as_of,
        rows=tuple(rows),
    )


# --- attachment 3: the county summary --------------------------------------------------


@dataclass(frozen=True)
class CountySummaryRow:
    """One association's line of 附件3 评估情况一览表; amounts in fen."""

    association_id: int
    name: str
    pilot_level: str
    founded_on: date
    certified_by: str
    legal_representative: str
    members: int
    low_income_members: int
    capital_fen: int
    member_deposits_fen: int
    loans_count: int
    low_income_loans_count: int
    loans_amount_fen: int
    low_income_loans_amount_fen: int
    monthly_fee_rate: Ratio
    overdue_count: int
    overdue_amount_fen: int
    longest_overdue_days: int
    disbursed_cash_fen: int
    disbursed_transfer_fen: int
    repaid_cash_fen: int
    repaid_transfer_fen: int
    management: str
    fee_income_fen: int
    dividends_fen: int
    fees_to_capital_fen: int
    self_grade: str
    """自评等级: the association's own grade as recorded for the period; blank without one."""
    county_grade: str
    county_method: str
    suggested_grade: str
    """The system's suggestion for the period: not a column of the form."""

    def cells(self) -> list[str | int]:
        return [
            self.name,
            "省级" if self.pilot_level == PilotLevel.PROVINCIAL.value else "",
            "市级" if self.pilot_level == PilotLevel.MUNICIPAL.value else "",
            _date(self.founded_on),
            self.certified_by,
            self.legal_representative,
            self.members,
            self.low_income_members,
            yuan(self.capital_fen),
            yuan(self.member_deposits_fen),
            self.loans_count,
            self.low_income_loans_count,
            yuan(self.loans_amount_fen),
            yuan(self.low_income_loans_amount_fen),
            self.monthly_fee_rate.decimal(2),
            self.overdue_count,
            yuan(self.overdue_amount_fen),
            f"{self.longest_overdue_days} 天" if self.overdue_count else "",
            yuan(self.disbursed_cash_fen),
            yuan(self.disbursed_transfer_fen),
            yuan(self.repaid_cash_fen),
            yuan(self.repaid_transfer_fen),
            self.management,
            yuan(self.fee_income_fen),
            yuan(self.dividends_fen),
            yuan(self.fees_to_capital_fen),
            self.self_grade,
            self.county_grade,
            self.county_method,
        ]


COUNTY_SUMMARY_COLUMNS = 29


@dataclass(frozen=True)
class CountySummary:
    county_name: str
    since: date | None
    as_of: date
    rows: tuple[CountySummaryRow, ...]


def evaluation_for_period(
    session: Session, association_id: int, *, as_of: date, since: date | None
) -> AssociationEvaluation | None:
    """The county's recorded evaluation whose grade belongs to the report period
    ``since``..``as_of``, or None: then the report's grade columns stay blank.

    Associations are evaluated once a year (温扶办〔2016〕4号): an evaluation covers the time
    from the day after the previous one (or the association's start) to its ``period_end``,
    the cut-off its figures are taken at (e.g. the end of May), and its grades are the grades
    of that period only. The rule:

    - a report with a start shows the evaluation whose period ends within the report's period
      (``since`` <= ``period_end`` <= ``as_of``; the latest, should the report span several);
    - a report without a start is read as the evaluation period ending at ``as_of``, starting
      after the previous evaluation (as :func:`gateway.reports.service.default_since`), so
      only an evaluation whose period ends on ``as_of`` itself is shown.

    A grade decided for an earlier period is thus never shown as a later period's grade.
    """
    start = as_of if since is None else since
    return session.scalars(
        select(AssociationEvaluation)
        .where(
            AssociationEvaluation.association_id == association_id,
            AssociationEvaluation.period_end >= start,
            AssociationEvaluation.period_end <= as_of,
        )
        .order_by(AssociationEvaluation.period_end.desc())
        .limit(1)
    ).first()


def summary_row(
    session: Session,
    figures: EvaluationFigures,
    suggestion: SuggestedGrade | None,
) -> CountySummaryRow:
    """One association's line of 附件3. The grade columns (自评等级, 县评估等级, 县评估方式)
    come only from the evaluation recorded for the report's period
    (:func:`evaluation_for_period`), blank otherwise; 自评等级 is the association's own grade
    as the county recorded it, blank when none was recorded. The system's suggestion is kept
    apart (``suggested_grade``): the form has no column for it."""
    association = get_association(session, figures.association_id)
    recorded = evaluation_for_period(
        session, figures.association_id, as_of=figures.as_of, since=figures.since
    )
    return CountySummaryRow(
        association_id=figures.association_id,
        name=figures.association_name,
        pilot_level=figures.pilot_level,
        founded_on=association.start_date,
        certified_by="",  # 发证单位 and 法人代表 are not kept by the system
        legal_representative="",
        members=figures.members,
        low_income_members=figures.low_income_members,
        capital_fen=figures.fiscal_capital_fen + figures.other_capital_fen,
        member_deposits_fen=figures.member_deposits_fen,
        loans_count=figures.loans_issued.count,
        low_income_loans_count=figures.low_income_loans.count,
        loans_amount_fen=figures.loans_issued.amount_fen,
        low_income_loans_amount_fen=figures.low_income_loans.amount_fen,
        monthly_fee_rate=figures.monthly_fee_rate_permille,
        overdue_count=figures.overdue.count,
        overdue_amount_fen=figures.overdue.amount_fen,
        longest_overdue_days=figures.longest_overdue_days,
        disbursed_cash_fen=figures.disbursed_cash.amount_fen,
        disbursed_transfer_fen=figures.disbursed_transfer.amount_fen,
        repaid_cash_fen=figures.repaid_cash.amount_fen,
        repaid_transfer_fen=figures.repaid_transfer.amount_fen,
        management="银行代管",
        fee_income_fen=figures.fee_income_fen,
        dividends_fen=figures.expense_dividends_fen,
        fees_to_capital_fen=figures.fees_to_capital_fen,
        self_grade=(
            recorded.self_grade.value
            if recorded is not None and recorded.self_grade is not None
            else ""
        ),
        suggested_grade=suggestion.grade.value if suggestion else "",
        county_grade=recorded.decided_grade.value if recorded else "",
        county_method=recorded.method if recorded else "",
    )


# --- for the console's charts ----------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One bar of a chart: a value in fen or a count, the text shown, and a warning mark."""

    label: str
    value: int
    text: str
    warn: bool = False


@dataclass(frozen=True)
class ChartGroup:
    title: str
    measures: tuple[Measure, ...]


def _moved(label: str, moved: CountAmount, *, warn: bool = False) -> Measure:
    text = f"{moved.count} 笔 {yuan(moved.amount_fen)} 元"
    return Measure(label, moved.amount_fen, text, warn=warn and moved.count > 0)


def _amount(label: str, fen: int) -> Measure:
    return Measure(label, fen, yuan(fen))


def chart_groups(figures: EvaluationFigures) -> list[ChartGroup]:
    """The evaluation figures grouped as the console draws them; cash and overdue warn."""
    f = figures
    current = sum(x.outstanding_fen for x in f.loans) - f.overdue.amount_fen
    return [
        ChartGroup(
            "借款支付方式 Disbursements",
            (
                _moved("银行转账 transfer", f.disbursed_transfer),
                _moved("现金 cash", f.disbursed_cash, warn=True),
            ),
        ),
        ChartGroup(
            "还款方式 Repayments",
            (
                _moved("银行转账 transfer", f.repaid_transfer),
                _moved("现金 cash", f.repaid_cash, warn=True),
            ),
        ),
        ChartGroup(
            "借款余额 Loans outstanding",
            (_amount("正常 current", current), _moved("逾期 overdue", f.overdue, warn=True)),
        ),
        ChartGroup(
            "收支 Income and expenses",
            (
                _amount("占用费 fees", f.fee_income_fen),
                _amount("存款利息 interest", f.deposit_interest_fen),
                _amount("人员补助 staff", f.expense_staff_fen),
                _amount("办公费 office", f.expense_office_fen),
                _amount("分红 dividends", f.expense_dividends_fen),
                _amount("其他 other", f.expense_other_fen),
            ),
        ),
    ]
