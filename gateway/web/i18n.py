"""The console's words, Chinese first with English beside; the ``lang`` cookie switches."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from starlette.requests import Request

from adapters.money import grouped_yuan
from gateway.api.router import BUSINESS_ZONE
from gateway.batches.endpoints import BatchStep
from gateway.db import as_utc
from gateway.labels import LABELLED_STATES, STATE_LABELS, STATUS_LABELS
from gateway.liquidation.service import BANK_ACTOR
from gateway.reconcile.service import RECONCILER

LANGUAGES = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    "app_name": ("互助资金结算平台", "Huzhu Settle"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "dashboard": ("总览", "Dashboard"),
    "associations": ("互助协会", "Associations"),
    "association": ("协会", "Association"),
    "members": ("会员", "Members"),
    "member": ("会员", "Member"),
    "loans": ("借款", "Loans"),
    "queue": ("差异队列", "Mismatch queue"),
    "batches": ("批次与文件", "Batches and files"),
    "reports": ("报表下载", "Reports"),
    "audit": ("审计日志", "Audit log"),
    "balance": ("子账户余额", "Sub-account balance"),
    "account_balance": ("余额", "Balance"),
    "outstanding": ("在贷余额", "Loans outstanding"),
    "overdue": ("逾期", "Overdue"),
    "cash_flags": ("现金标记", "Cash flags"),
    "status": ("状态", "Status"),
    "code": ("代码", "Code"),
    "name": ("名称", "Name"),
    "town": ("乡镇", "Town"),
    "grade": ("等级", "Grade"),
    "sub_account": ("子账户", "Sub-account"),
    "card": ("惠农一卡通", "Huinong card"),
    "resident_id": ("身份证号", "Resident ID"),
    "phone": ("电话", "Phone"),
    "deposit": ("入会互助金", "Member deposit"),
    "credit_grade": ("信用等级", "Credit grade"),
    "contract_no": ("合同号", "Contract no."),
    "amount": ("金额", "Amount"),
    "night_seen": ("最近对账", "Last run"),
    "difference": ("差额", "Difference"),
    "bank": ("银行", "Bank"),
    "books": ("账面", "Books"),
    "borrower": ("借款人", "Borrower"),
    "applied_on": ("申请日期", "Applied on"),
    "due_on": ("到期日", "Due on"),
    "accounts": ("科目余额", "Account balances"),
    "debit": ("借方", "Debit"),
    "credit": ("贷方", "Credit"),
    "when": ("时间", "When"),
    "actor": ("操作人", "Actor"),
    "action": ("操作", "Action"),
    "object": ("对象", "Object"),
    "details": ("详情", "Details"),
    "next_page": ("下一页", "Next page"),
    "newest_page": ("回到最新", "Back to the newest"),
    "all_dates": ("全部日期", "All dates"),
    "no_items": ("暂无记录", "Nothing here"),
    "unmask": ("查看完整号码（将记入审计）", "Reveal full numbers (audited)"),
    "error": ("出错了", "Something went wrong"),
    "request_invalid": (
        "请求参数不合法，请检查后重试：",
        "The request is invalid; check it and retry:",
    ),
    "back": ("返回", "Back"),
    "balances_chart": ("各协会子账户余额（元）", "Sub-account balance by association (yuan)"),
    "balances_chart_note": (
        "橙色：该协会有逾期借款或现金标记",
        "Orange: the association has overdue loans or cash flags",
    ),
    "open_items_note": (
        "橙色：村级现金或跨协会资金，须优先处理",
        "Orange: village cash or cross-association money, to handle first",
    ),
    "last_night": ("昨夜批处理", "Last night's batches"),
    "reconciliation": ("对账", "Reconciliation"),
    "open_items": ("待处理差异", "Open items"),
    "language": ("English", "中文"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "skip": ("跳到正文", "Skip to content"),
    "total": ("合计", "Total"),
    "type": ("类型", "Type"),
    "priority": ("优先级", "Priority"),
    "first_seen": ("首次发现", "First seen"),
    "assignee": ("处理人", "Assignee"),
    "assigned_to_me": ("分派给我的", "Assigned to me"),
    "filter": ("筛选", "Filter"),
    "all": ("全部", "All"),
    "bank_lines": ("银行流水", "Bank lines"),
    "book_entries": ("候选账务", "Candidate book entries"),
    "evidence": ("证据", "Evidence"),
    "history": ("处理记录", "History"),
    "resolve": ("处理", "Resolve"),
    "justification": ("理由/说明（必填）", "Justification (required)"),
    "target_association": ("目标协会（改归时）", "Target association (reassign)"),
    "confirm_resolve": (
        "确认执行此处理？此操作将记入审计日志。",
        "Carry out this resolution? It is recorded in the audit log.",
    ),
    "assign": ("分派", "Assign"),
    "done_notice": ("已提交", "Done"),
    "now_state": ("当前状态", "now"),
    "business_date": ("业务日期", "Business date"),
    "file": ("文件", "File"),
    "lines": ("笔数", "Lines"),
    "matched": ("已匹配", "Matched"),
    "exceptions": ("异常", "Exceptions"),
    "opening": ("期初", "Opening"),
    "closing": ("期末", "Closing"),
    "inbound_files": ("银行来文", "Files from banks"),
    "download": ("下载", "Download"),
    "kbd_help": (
        "快捷键：j / k 在列表中上下移动，Enter 打开",
        "Keys: j / k move through the list, Enter opens",
    ),
    "description": ("摘要", "Description"),
    "counterparty": ("对方", "Counterparty"),
    "open": ("未核销", "open"),
    "period_report": ("月报/年报（科目发生额）", "Period report (account movements)"),
    "loan_detail": ("借款明细表（附件2）", "Loan detail table (attachment 2)"),
    "county_summary": (
        "县汇总表（附件3，含建议等级）",
        "County summary (attachment 3, suggested grades)",
    ),
    "evaluation": ("等级评估（附件1）", "Evaluation (attachment 1)"),
    "evaluation_intro": (
        "按账簿计算的附件1数据与系统建议等级；起始日留空时从上次评估之后算起",
        "Attachment 1 figures from the books with the suggested grade; without a start "
        "date the period begins after the previous evaluation",
    ),
    "show_evaluation": ("查看评估", "Show the evaluation"),
    "evaluation_figures": ("主要指标", "Figures"),
    "figure": ("指标", "Figure"),
    "figure_value": ("数值", "Value"),
    "unit": ("单位", "Unit"),
    "evaluation_funding": ("资金来源（元）", "Where the fund comes from (yuan)"),
    "evaluation_channels": (
        "借款发放与还款方式（笔 · 元）",
        "Loans paid out and repaid (count · yuan)",
    ),
    "evaluation_shares": ("评分所用比例（%）", "Shares the grade is scored on (%)"),
    "suggested_grade": ("系统建议等级", "Suggested grade"),
    "score": ("得分", "Score"),
    "deductions": ("扣分原因", "Deductions"),
    "no_deductions": ("无扣分", "No deductions"),
    "deduction_value": ("实际值", "Value"),
    "threshold": ("标准", "Threshold"),
    "points": ("扣分", "Points"),
    "review_flags": ("审核提示（需重点核查）", "For the reviewer to check"),
    "no_flags": ("无", "None"),
    "decided_grade": ("县级审定等级", "Grade decided by the county"),
    "not_decided": ("尚未审定", "Not decided yet"),
    "evaluation_table": ("附件1 等级评估表", "Attachment 1 evaluation table"),
    "period_since_start": ("成立以来", "since the start"),
    "start": ("起始日", "From"),
    "end": ("截止日", "To"),
    "as_of": ("截至", "As of"),
    "format": ("格式", "Format"),
    "second_review": (
        "第二人复核（大额调整分录）",
        "Second person's review (large adjusting entry)",
    ),
    "second_review_write_off": (
        "第二人审批（核销申请）",
        "Second person's decision (write-off request)",
    ),
    "proposed_by": ("提出人", "Proposed by"),
    "requested_by": ("申请人", "Requested by"),
    "write_off_reason": ("核销理由", "Grounds"),
    "review_note": (
        "意见（退回时必填）",
        "Note (required to return it)",
    ),
    "approve": ("批准并记账", "Approve and post"),
    "return": ("退回", "Return"),
    "not_found_line": ("（流水已不在未达项中）", "(no longer open)"),
    "match_choice": ("人工匹配：选择流水与账务", "Manual match: choose the lines and entries"),
    "match_choice_note": (
        "仅用于人工匹配。勾选本专户仍未达的银行流水和账务，流水合计须与账务合计相符（到分），"
        "且须属同一协会：各协会的资金不得跨村。",
        "Used by a manual match only. Tick open bank lines and book entries of this special "
        "account; the lines must add up to the entries to the fen, and all must be one "
        "association's: no association's funds cross to another village.",
    ),
    "resolve_none": (
        "此项的钱仍未对上，现在不能驳回：银行更正后由下一次对账确认；核销申请在复核处决定。",
        "Its money is still open, so it cannot be dismissed now: the next run confirms it once "
        "the bank has corrected it; a write-off request is decided in the review.",
    ),
    "match_nothing_open": (
        "本专户已没有未达的流水或账务，无法人工匹配。",
        "Nothing of this special account is open: a manual match has nothing to take.",
    ),
    "match_source": ("来源", "Source"),
    "open_since": ("未达起始日", "Open since"),
    "bank_line": ("银行流水", "Bank line"),
    "book_entry": ("账务", "Book entry"),
    "this_item": ("本差错", "this item"),
    "register_member": ("登记会员", "Register a member"),
    "no_new_members": (
        "本协会已撤销或正在撤销清算，不再登记新会员。",
        "This association is closed or being liquidated: it registers no new members.",
    ),
    "no_new_loans": (
        "本协会不在正常运行状态，不受理借款申请。",
        "This association is not active: it takes no loan applications.",
    ),
    "apply_loan": ("借款申请", "Apply for a loan"),
    "member_no": ("会员编号", "Member no."),
    "member_name": ("姓名", "Name"),
    "card_number": ("惠农一卡通卡号", "Huinong card number"),
    "household_no": ("户号", "Household no."),
    "joined_on": ("入会日期", "Joined on"),
    "low_income": ("低收入户（建档立卡）", "Low-income household"),
    "entry_grade": ("（默认：本县入门等级）", "(default: the county's entry grade)"),
    "credit_grade_reason": ("等级理由", "Reason for the grade"),
    "credit_grade_reason_hint": (
        "选择入门等级以外的等级时必填，记入审计日志",
        "required for a grade other than the entry grade; recorded in the audit log",
    ),
    "purpose": ("借款用途", "Purpose"),
    "amount_yuan": ("借款金额（元）", "Amount (yuan)"),
    "amount_hint": (
        "如 12000 或 12000.50，最多两位小数",
        "e.g. 12000 or 12000.50, at most two decimals",
    ),
    "term_months": ("期限（月）", "Term (months)"),
    "fee_rate_permille": ("月费率（‰）", "Monthly fee rate (‰)"),
    "fee_rate_hint": ("如 6.5 表示 6.5‰，最多两位小数", "e.g. 6.5 for 6.5‰, at most two decimals"),
    "guarantors": ("担保人（三户联保）", "Guarantors (joint guarantee)"),
    "guarantors_hint": (
        "按住 Ctrl 可多选；担保人须来自其他农户",
        "Hold Ctrl to choose several; guarantors come from other households",
    ),
    "choose": ("请选择", "Choose"),
    "channel": ("资金渠道", "Channel"),
    "channel_transfer": ("银行转账", "Bank transfer"),
    "channel_cash": ("现金（过渡期，将被标记）", "Cash (transitional, flagged)"),
    "form_refused": ("未能保存，请修改后重试：", "Not saved; correct and retry:"),
    "submit_member": ("登记", "Register"),
    "submit_loan": ("提交申请", "Submit application"),
    "follow_ups": ("待办事项", "Bank follow-ups"),
    "open_follow_ups": ("待办银行事项", "Open bank follow-ups"),
    "follow_ups_intro": (
        "银行处理失败、退汇、文件被隔离或拒收、批次未生成或未回盘等需要县办跟进的事项。",
        "What the bank's answers leave for the fund office: failed payments, returns, "
        "quarantined or refused files, batches not built or not answered.",
    ),
    "state_open": ("待处理", "Open"),
    "state_resolved": ("已处理", "Resolved"),
    "message": ("说明", "Message"),
    "links": ("相关", "Related"),
    "loan": ("借款", "Loan"),
    "batch": ("批次", "Batch"),
    "resolution_note": ("处理说明（必填）", "What was done (required)"),
    "resolved_by": ("处理人", "Resolved by"),
    "resolve_follow_up": ("标记已处理", "Mark resolved"),
    "confirm_follow_up": (
        "确认已处理此事项？处理说明将记入审计日志。",
        "Mark this follow-up resolved? The note is recorded in the audit log.",
    ),
    "follow_up_done": ("已处理，已移出待办列表", "Resolved and removed from the open list"),
    "auto_postings": ("自动记账", "Automatic postings"),
    "auto_postings_intro": (
        "对账时无需人工即记入账簿的款项：借款人按合同金额转账还款、银行手续费、存款利息。"
        "如记错，撤销后冲回该笔分录，对应流水次日交由人工处理，不再自动记账。",
        "What the reconciler booked without a person: a borrower's exact transfer, a bank fee, "
        "interest. Undoing one reverses its entry; its bank line goes to a person the next "
        "night and is never booked automatically again.",
    ),
    "auto_standing": ("有效", "Standing"),
    "auto_undone": ("已撤销", "Undone"),
    "auto_undo": ("撤销", "Undo"),
    "auto_undo_reason": ("撤销原因（必填）", "Why (required)"),
    "auto_undo_confirm": (
        "确认撤销这笔自动记账？将冲回分录并记入审计日志。",
        "Undo this automatic posting? Its entry is reversed and the audit log records it.",
    ),
    "auto_undone_notice": ("已撤销，分录已冲回", "Undone; the entry is reversed"),
    "auto_kind_repayment": ("借款人转账还款", "Borrower's transfer"),
    "auto_kind_bank_fee": ("银行手续费", "Bank fee"),
    "auto_kind_interest": ("存款利息", "Interest"),
    "instalment": ("期次", "instalment"),
    "bank_file": ("银行来文", "Bank file"),
    "received_at": ("接收时间", "Received"),
    "processed_at": ("处理时间", "Processed"),
    "times_seen": ("接收次数", "Times received"),
    "size": ("大小（字节）", "Size (bytes)"),
    "quarantine_reason": ("隔离原因", "Why it was quarantined"),
    "reapply": ("重新处理", "Apply again"),
    "reapply_intro": (
        "重新处理后，文件回到“已接收，待处理”，由下一次夜间批处理再次处理；仍有问题时将再次"
        "隔离并写明原因。该文件未处理的隔离待办随之标记已处理。",
        "Applied again, the file is received once more and the next nightly run processes "
        "it; if it still cannot apply it is quarantined again with the new reason. Its open "
        "quarantine follow-ups are resolved with the note.",
    ),
    "reapply_note": (
        "重新处理的理由（必填，记入审计日志）",
        "Why it can apply now (required; recorded in the audit log)",
    ),
    "confirm_reapply": (
        "确认将此文件放回待处理？下一次夜间批处理将重新处理，此操作将记入审计日志。",
        "Put this file back to be applied by the next nightly run? It is recorded in the "
        "audit log.",
    ),
    "reapplied_notice": (
        "已放回待处理：下一次夜间批处理将重新处理此文件，其隔离待办已标记已处理",
        "Put back: the next nightly run applies the file; its quarantine follow-ups are resolved",
    ),
    "cannot_reapply": ("不能重新处理：", "Cannot be applied again: "),
    "file_follow_ups": ("该文件的待办事项", "Follow-ups about this file"),
    "open_file_to_reapply": ("查看文件并重新处理", "Open the file to apply it again"),
    "keep_quarantined": (
        "文件保持隔离，不再处理（如银行已重新发送更正后的文件）",
        "The file stays quarantined and is not to be applied (the bank sent a corrected file, say)",
    ),
}


KIND_LABELS: dict[str, tuple[str, str]] = {
    "unmatched_bank": ("银行流水未匹配", "Unmatched bank line"),
    "unmatched_book": ("账务未匹配", "Unmatched book entry"),
    "amount_mismatch": ("金额不符", "Amount mismatch"),
    "ambiguous": ("匹配不唯一", "Ambiguous match"),
    "duplicate": ("重复流水", "Duplicate"),
    "village_cash": ("村级现金", "Village cash"),
    "cross_association": ("跨协会资金", "Cross-association"),
    "balance_break": ("余额不符", "Balance break"),
    "statement_gap": ("对账单缺失", "Statement gap"),
    "returned_after_settlement": ("入账后退汇", "Returned after settlement"),
}

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "dismiss": ("说明理由后驳回", "Dismiss with a justification"),
    "bank_error": ("银行差错，跟进更正", "Bank error: follow up"),
    "write_off": ("申请核销", "Request write-off"),
    "manual_match": ("人工匹配", "Match by hand"),
    "adjusting_entry": ("调整分录", "Adjusting entry"),
    "reassign": ("改归其他协会", "Reassign to another association"),
}


# What a queue item's history row records (``QueueEvent.action``, written by
# gateway.queue.service): the history's 操作 column shows these, never the identifier.
QUEUE_EVENT_LABELS: dict[str, tuple[str, str]] = {
    "raised": ("对账发现，新建差错", "Raised by the reconciliation run"),
    "reopened": ("处理后仍出现，重新打开", "Reopened: still there after its resolution"),
    "confirmed": ("对账确认已解决", "Confirmed by the reconciliation run"),
    "cleared": ("对账未再出现，已关闭", "Cleared: no longer found by the run"),
    "recurred": (
        "对账再次发现，重新打开（此前自动关闭，无人处理过）",
        "Found again by the run after it had cleared (nobody had resolved it)",
    ),
    "figures_changed": ("对账金额有变，记下此前金额", "Figures changed: the earlier ones kept"),
    "kind_changed": (
        "同一笔款项差错类型有变，仍待处理",
        "Same money, another kind of exception: still open",
    ),
    "assigned": ("分派处理人", "Assigned"),
    "resolved": ("已处理", "Resolved"),
    "adjustment_proposed": (
        "提出调整分录，待第二人复核",
        "Adjusting entry proposed, awaiting a second person",
    ),
    "adjustment_approved": ("调整分录已批准并记账", "Adjusting entry approved and posted"),
    "adjustment_rejected": ("调整分录被退回", "Adjusting entry returned"),
    "bank_follow_up": ("银行差错，等待银行更正", "Bank error: waiting for the bank"),
    "write_off_requested": (
        "申请核销，待第二人审批",
        "Write-off requested, awaiting a second person",
    ),
    "write_off_approved": ("核销已批准并记账", "Write-off approved and posted"),
    "write_off_rejected": ("核销申请被退回", "Write-off request returned"),
    "reassigned": ("改归其他协会", "Reassigned to another association"),
    "dismissed": ("说明理由后驳回", "Dismissed with a justification"),
}

# What an audit event records (``AuditEvent.action``, written by the services through
# gateway.audit.service.record): the audit log's 操作 column shows these. A queue item's
# events are its history's, under ``queue.``.
AUDIT_ACTION_LABELS: dict[str, tuple[str, str]] = {
    "county.create": ("新建县", "County created"),
    "town.create": ("新建乡镇", "Town created"),
    "bank.create": ("新建合作银行", "Cooperating bank created"),
    "special_account.create": ("新建专户", "Special account created"),
    "association.create": ("新建协会", "Association created"),
    "association.status": ("协会运行状态变更", "Association status changed"),
    "association.grade": ("县级审定协会等级", "Association grade decided by the county"),
    "capital.contribution": ("资金投入入账", "Capital or deposit booked"),
    "member.register": ("登记会员", "Member registered"),
    "member.unmask": (
        "查看完整卡号和身份证号",
        "Full card and resident ID numbers viewed",
    ),
    "member.credit_review": ("年度信用等级评定", "Yearly credit grade review"),
    "member.credit_grade_adjust": ("调整会员信用等级", "Member's credit grade adjusted"),
    "loan.apply": ("借款申请", "Loan applied for"),
    "loan.notice": ("开始公示", "Public notice started"),
    "loan.council_approve": ("理事会审批通过", "Approved by the council"),
    "loan.county_approve": ("县级审批通过", "Approved by the county"),
    "loan.release": ("放行，待银行代付", "Released for the bank's payout"),
    "loan.payment_failed": ("放款失败", "Payout failed"),
    "loan.payment_returned": (
        "放款被退汇，借款回到已审批",
        "Payout returned by the bank; the loan is approved again",
    ),
    "loan.disbursed": ("已放款", "Disbursed"),
    "loan.repayment": ("还款入账", "Repayment booked"),
    "loan.overdue": ("转为逾期", "Marked overdue"),
    "loan.caught_up": ("逾期已还清，恢复还款中", "Overdue instalments paid, repaying again"),
    "loan.recovered_after_write_off": ("核销后收回", "Recovered after the write-off"),
    "loan.reject": ("拒绝借款", "Loan rejected"),
    "loan.cancel": ("取消借款", "Loan cancelled"),
    "ledger.post": ("记账", "Journal entry posted"),
    "ledger.post_many": ("批量记账", "Journal entries posted"),
    "payments.results_settled": ("银行回盘入账", "Bank results booked"),
    "inbound_file.reapplied": ("银行来文重新处理", "Bank file applied again"),
    "follow_up.resolved": ("待办事项已处理", "Bank follow-up resolved"),
    "reconcile.run": ("对账", "Reconciliation run"),
    "reconcile.auto_post": ("自动记账", "Posted automatically"),
    "reconcile.auto_post_undone": ("撤销自动记账", "Automatic posting undone"),
    "queue.synced": ("对账结果记入差异队列", "Reconciliation results filed in the queue"),
    **{f"queue.{action}": label for action, label in QUEUE_EVENT_LABELS.items()},
    "liquidation.start": ("开始撤销清算", "Liquidation started"),
    "liquidation.write_off_listed": ("列入核销待审", "Loan listed for write-off"),
    "liquidation.write_off_decided": ("核销审定", "Write-off decided"),
    "liquidation.close_books": ("损益结转", "Income and expenses carried to capital"),
    "liquidation.close_books_again": (
        "再次损益结转",
        "Income and expenses carried to capital again",
    ),
    "liquidation.refunds_requested": ("申请退还会员互助金", "Member deposit refunds requested"),
    "liquidation.capital_account": (
        "指定财政资金退回账户",
        "Account for returning capital named",
    ),
    "liquidation.capital_requested": ("申请退回财政资金", "Capital returns requested"),
    "liquidation.payout_list": (
        "导出代发清单（含完整卡号）",
        "Payout list printed (full card numbers)",
    ),
    "liquidation.payout_settled": ("清算款项已入账", "Payout settled"),
    "liquidation.payout_failed": ("清算款项支付失败", "Payout failed"),
    "liquidation.payout_returned": ("清算款项被退汇", "Payout returned by the bank"),
    "liquidation.close": ("协会撤销完成", "Association closed"),
    "user.create": ("新建用户", "User created"),
    "user.password": ("设置密码", "Password set"),
    "user.disable": ("停用用户", "User disabled"),
    "user.token": ("签发接口令牌", "API token issued"),
    "security.field_key_rotated": ("更换字段加密密钥", "Field encryption key rotated"),
}


# Who acted, where no person did: the actors the services and commands name besides a user
# (``user:<name>``) or a command line's ``--by``. The pages show these, never the identifier.
ACTOR_LABELS: dict[str, tuple[str, str]] = {
    "system": ("系统", "System"),
    RECONCILER: ("夜间对账", "Nightly reconciliation"),
    "huzhu reconcile": (
        "命令行对账（huzhu reconcile）",
        "Reconciliation run from the command line",
    ),
    "cli": ("命令行", "Command line"),
    BANK_ACTOR: ("银行来文", "The bank's files"),
    "demo": ("演示数据", "Demo data"),
}


def actor_label(lang: str, actor: str) -> str | None:
    """The words for an actor that is not a person (:data:`ACTOR_LABELS`); None for others."""
    found = ACTOR_LABELS.get(actor)
    if found is None:
        return None
    zh, en = found
    return en if lang == "en" else zh


# What an audit event is about (``AuditEvent.object_type``): the audit log's 对象 column.
OBJECT_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "county": ("县", "County"),
    "town": ("乡镇", "Town"),
    "bank": ("合作银行", "Bank"),
    "special_account": ("专户", "Special account"),
    "association": ("协会", "Association"),
    "member": ("会员", "Member"),
    "loan": ("借款", "Loan"),
    "capital_contribution": ("资金投入", "Capital contribution"),
    "journal_transaction": ("记账凭证", "Journal entry"),
    "journal_transactions": ("记账凭证（批量）", "Journal entries"),
    "inbound_file": ("银行来文", "Bank file"),
    "follow_up": ("待办事项", "Bank follow-up"),
    "recon_run": ("对账", "Reconciliation run"),
    "recon_auto_posting": ("自动记账", "Automatic posting"),
    "queue_item": ("差错", "Queue item"),
    "liquidation": ("撤销清算", "Liquidation"),
    "user": ("用户", "User"),
    "field_key": ("字段加密密钥", "Field encryption key"),
}


def object_type_label(lang: str, object_type: str) -> str:
    """What an audit event is about, in words; an unknown type shows as stored."""
    zh, en = OBJECT_TYPE_LABELS.get(object_type, (object_type, object_type))
    return en if lang == "en" else zh


FEN_SUFFIX = "_fen"


def _is_fen(key: str, value: object) -> bool:
    return key.endswith(FEN_SUFFIX) and isinstance(value, int) and not isinstance(value, bool)


def _in_yuan(lang: str, value: object) -> object:
    """``value`` with every ``*_fen`` amount inside it as yuan text, its key without the suffix:
    {"amount_fen": 26797} -> {"amount": "267.97 元"}."""
    unit = " yuan" if lang == "en" else " 元"
    if isinstance(value, dict):
        return {
            (str(k)[: -len(FEN_SUFFIX)] if _is_fen(str(k), v) else str(k)): (
                yuan(v) + unit if _is_fen(str(k), v) else _in_yuan(lang, v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_in_yuan(lang, v) for v in value]
    return value


def _legs_text(lang: str, legs: object) -> str | None:
    """A posting's legs ([account, debit fen, credit fen], gateway.ledger.service) in words:
    "借 1002 200,000.00；贷 3001 200,000.00"; None when they are not of that shape."""
    if not isinstance(legs, list):
        return None
    parts = []
    for leg in legs:
        if not (
            isinstance(leg, list)
            and len(leg) == 3
            and all(isinstance(x, int) and not isinstance(x, bool) for x in leg[1:])
        ):
            return None
        account, debit, credit = leg
        if debit:
            parts.append(f"{'Dr' if lang == 'en' else '借'} {account} {yuan(debit)}")
        if credit:
            parts.append(f"{'Cr' if lang == 'en' else '贷'} {account} {yuan(credit)}")
    return ("; " if lang == "en" else "；").join(parts)


def audit_details(lang: str, payload: object) -> list[tuple[str, str, str]]:
    """An audit event's payload as the audit log shows it: (key, label, text) for each field,
    money in yuan to the fen (a ``*_fen`` field, a posting's legs), never integer fen."""
    if not isinstance(payload, dict):
        return [("", "", json.dumps(payload, ensure_ascii=False, default=str))]
    unit = " yuan" if lang == "en" else " 元"
    shown = []
    for key, value in sorted(payload.items()):
        key = str(key)
        label, text = key, None
        if _is_fen(key, value):
            label, text = key[: -len(FEN_SUFFIX)], yuan(value) + unit
        elif key == "legs":
            text = _legs_text(lang, value)
        if text is None:
            if value is None:
                text = "—"
            elif isinstance(value, bool):
                text = ("yes" if value else "no") if lang == "en" else ("是" if value else "否")
            elif isinstance(value, dict | list):
                text = json.dumps(_in_yuan(lang, value), ensure_ascii=False, default=str)
            else:
                text = str(value)
        shown.append((key, label, text))
    return shown


# A payment batch's state and the steps of its history (gateway.batches.endpoints.BatchStep).
BATCH_STATE_LABELS: dict[str, tuple[str, str]] = {
    "stored": ("已生成，待发送", "Stored, to be sent"),
    "sent": ("已送达银行，待回盘", "Sent, awaiting the answer"),
    "answered": ("银行已回盘", "Answered by the bank"),
    "rejected": ("银行拒收整份文件", "Refused whole by the bank"),
    "file_received": ("银行来文已接收，待处理", "Bank file received, not processed yet"),
    "file_quarantined": ("银行来文已隔离，未处理", "Bank file quarantined, nothing applied"),
}


# The states and kinds the pages show, by the enum they come from (gateway.labels), and the
# steps of a batch's history: the console prints ``label(group, value)``, never the identifier.
ENUM_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    **STATE_LABELS,
    "batch_step": BATCH_STATE_LABELS,
}

# The enum each group labels: every value of it has a label in both languages.
LABELLED_ENUMS: dict[str, type[StrEnum]] = {**LABELLED_STATES, "batch_step": BatchStep}


def enum_label(lang: str, group: str, value: str) -> str:
    """The label of ``value`` of the enum ``group`` names; an unknown value shows as stored."""
    zh, en = ENUM_LABELS[group].get(value, (value, value))
    return en if lang == "en" else zh


def batch_state_label(lang: str, state: str) -> str:
    zh, en = BATCH_STATE_LABELS.get(state, (state, state))
    return en if lang == "en" else zh


def status_label(lang: str, status: str) -> str:
    zh, en = STATUS_LABELS.get(status, (status, status))
    return en if lang == "en" else zh


def kind_label(lang: str, kind: str) -> str:
    zh, en = KIND_LABELS.get(kind, (kind, kind))
    return en if lang == "en" else zh


# What an item's "books" figure (``expected_fen``) is, where it is not the books alone, by the
# prefix of the item's subject: the side of the check the bank's figure is held against.
EXPECTED_LABELS: dict[str, tuple[str, str]] = {
    "ledger:": ("账面加未达项", "Books + open items"),
    "statement:": ("期初加当日流水", "Opening + the day's lines"),
    "opening:": ("上日期末", "Previous closing"),
}


def expected_label(lang: str, subject: str) -> str:
    """The label of an item's ``expected_fen``: 账面 Books, or what a balance check held the
    bank's figure against (a balance break compares the bank with the books plus the items
    still open; a statement gap compares the opening with the previous closing)."""
    prefix = subject.partition(":")[0] + ":"
    zh, en = EXPECTED_LABELS.get(prefix, TEXT["books"])
    return en if lang == "en" else zh


def queue_event_label(lang: str, action: str) -> str:
    """What a history row of a queue item records; an unknown id shows as stored."""
    zh, en = QUEUE_EVENT_LABELS.get(action, (action, action))
    return en if lang == "en" else zh


def audit_action_label(lang: str, action: str) -> str:
    """What an audit event records; an unknown id shows as stored."""
    zh, en = AUDIT_ACTION_LABELS.get(action, (action, action))
    return en if lang == "en" else zh


def action_label(lang: str, action: str) -> str:
    zh, en = ACTION_LABELS.get(action, (action, action))
    return en if lang == "en" else zh


def language(request: Request) -> str:
    chosen = request.cookies.get("lang", "zh")
    return chosen if chosen in LANGUAGES else "zh"


def translate(lang: str, key: str) -> str:
    zh, en = TEXT[key]
    return en if lang == "en" else zh


def local_time(moment: datetime | None, seconds: bool = False) -> str:
    """A stored moment (UTC; naive from SQLite) as Beijing time, the zone of every business
    date the console shows, with its offset: "2024-06-27 21:05 (UTC+8)"."""
    if moment is None:
        return "—"
    shown = as_utc(moment).astimezone(BUSINESS_ZONE)
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " (UTC+8)"


def yuan(fen: int) -> str:
    """Fen as yuan text with thousands separators, exact: 123456 -> "1,234.56"."""
    return grouped_yuan(fen)
