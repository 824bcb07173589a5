"""The Chinese and English labels of the states and kinds users read.

The console, the command line and every refusal message name a loan's, a payment's or a
file's state by these labels, never by the identifier stored in the database.
"""

from __future__ import annotations

from enum import StrEnum

from adapters.records import Channel, Direction, ResultStatus
from gateway.ingestion.models import InboundKind, InboundStatus
from gateway.ledger.models import LedgerChannel
from gateway.loans.models import LoanStatus
from gateway.members.models import MemberStatus
from gateway.org.models import AssociationStatus
from gateway.payments.models import InstructionStatus
from gateway.queue.models import ItemStatus, NightState

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("待处理", "Open"),
    "awaiting_approval": ("待第二人复核", "Awaiting approval"),
    "waiting_bank": ("等待银行更正", "Waiting for the bank"),
    "write_off_review": ("核销待审", "Write-off review"),
    "resolved": ("已处理，待对账确认", "Resolved, to be confirmed"),
    "closed": ("已关闭", "Closed"),
}


# The states and kinds users read, by the enum they come from: pages, the command line and
# the messages of refusals print these, never the stored identifier.
STATE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "loan_status": {
        "applied": ("已申请", "Applied"),
        "noticed": ("公示中", "On public notice"),
        "council_approved": ("理事会已审批", "Approved by the council"),
        "county_approved": ("县级已审批", "Approved by the county"),
        "released": ("已放行，待银行代付", "Released, awaiting the bank's payout"),
        "disbursed": ("已放款", "Disbursed"),
        "repaying": ("还款中", "Repaying"),
        "overdue": ("逾期", "Overdue"),
        "repaid": ("已结清", "Repaid in full"),
        "rejected": ("已拒绝", "Rejected"),
        "cancelled": ("已取消", "Cancelled"),
        "written_off": ("已核销", "Written off"),
    },
    "member_status": {
        "active": ("正常", "Active"),
        "suspended": ("已暂停", "Suspended"),
        "withdrawn": ("已退会", "Withdrawn"),
    },
    "association_status": {
        "active": ("正常运行", "Active"),
        "suspended": ("暂停运行", "Suspended"),
        "liquidating": ("撤销清算中", "Being liquidated"),
        "closed": ("已撤销", "Closed"),
    },
    "instruction_status": {
        "pending": ("待发送", "Pending"),
        "batched": ("已组批", "Batched"),
        "sent": ("已送达银行", "Sent to the bank"),
        "accepted": ("银行已受理", "Accepted by the bank"),
        "rejected": ("银行拒绝", "Rejected by the bank"),
        "settled": ("已入账", "Settled"),
        "failed": ("失败", "Failed"),
        "returned": ("已退汇冲销", "Returned and reversed"),
    },
    "result_status": {
        "accepted": ("已受理", "Accepted"),
        "settled": ("已入账", "Settled"),
        "partially_settled": ("部分入账", "Partly settled"),
        "rejected": ("已拒绝", "Rejected"),
    },
    "inbound_status": {
        "received": ("已接收，待处理", "Received, not processed yet"),
        "applied": ("已处理", "Processed"),
        "quarantined": ("已隔离", "Quarantined"),
    },
    "inbound_kind": {
        "result": ("回盘文件", "Result file"),
        "statement": ("对账单", "Statement"),
        "refusal": ("拒绝通知", "Refusal notice"),
    },
    "direction": {
        "disbursement": ("代付（放款）", "Disbursement"),
        "collection": ("代扣（收款）", "Collection"),
    },
    "bank_channel": {
        "transfer": ("转账", "Transfer"),
        "cash": ("现金", "Cash"),
        "fee": ("手续费", "Bank fee"),
        "interest": ("利息", "Interest"),
        "other": ("其他", "Other"),
    },
    "ledger_channel": {
        "transfer": ("银行转账", "Bank transfer"),
        "cash": ("现金", "Cash"),
        "internal": ("记账调整", "Book adjustment"),
    },
    "item_status": STATUS_LABELS,
    "night_state": {
        "new": ("新增", "New last night"),
        "persisting": ("持续出现", "Still there"),
        "reopened": ("处理后仍出现", "Back after its resolution"),
        "gone": ("未再出现", "Not found by the last run"),
    },
}

# The enum each group labels: every value of it has a label in both languages.
LABELLED_STATES: dict[str, type[StrEnum]] = {
    "loan_status": LoanStatus,
    "member_status": MemberStatus,
    "association_status": AssociationStatus,
    "instruction_status": InstructionStatus,
    "result_status": ResultStatus,
    "inbound_status": InboundStatus,
    "inbound_kind": InboundKind,
    "direction": Direction,
    "bank_channel": Channel,
    "ledger_channel": LedgerChannel,
    "item_status": ItemStatus,
    "night_state": NightState,
}
_GROUP_OF: dict[type[StrEnum], str] = {enum: group for group, enum in LABELLED_STATES.items()}


def state_zh(state: StrEnum) -> str:
    """The Chinese label of a stored state or kind, for a message a user reads."""
    return STATE_LABELS[_GROUP_OF[type(state)]][state.value][0]
