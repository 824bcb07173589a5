"""The bank's word when it refuses a whole instruction file, and its silence.

A bank that refuses a file (bad signature, undecryptable, unparsable, the wrong special
account) writes ``NAME.refused.txt`` beside its results, in UTF-8::

    文件被拒绝 (file refused): NAME
    原因 (reason): the bank's reason

:func:`apply_refusal_notice` rejects the batch sent as ``NAME`` with that reason: each of its
instructions is refused through the lifecycle (a disbursement's loan goes back to approved,
a collection leaves its loan overdue and is retried per the county's policy) and a follow-up
item of kind ``file_refused`` (银行拒收文件) is raised for the batch; :func:`reject_batch` does
the same for a status report rejecting the batch at group level. :func:`chase_unanswered`
raises a ``no_answer`` follow-up (银行逾期未回盘) for every batch the bank has not answered
within a number of banking days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.records import InstructionResult, ResultStatus
from gateway.batches.calendar import BankingCalendar
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.db import utcnow
from gateway.errors import HuzhuError
from gateway.ingestion.models import InboundFile
from gateway.labels import state_zh
from gateway.payments.config import PaymentsConfig
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    PaymentInstruction,
)
from gateway.payments.service import apply_result, follow_up, mark_sent

REFUSAL_SUFFIX = ".refused.txt"
REFUSED_CODE = "FILE_REFUSED"  # the follow-up's reason code for a refused file
NO_ANSWER_CODE = "NO_ANSWER"  # the follow-up's reason code for a batch left unanswered
_FILE_LABEL = "文件被拒绝"
_REASON_LABEL = "原因"


class NoticeRefused(HuzhuError):  # noqa: N818 - domain vocabulary
    """A refusal notice that cannot be read or names no batch of ours."""

    code = "file_refused"


@dataclass(frozen=True)
class RefusalNotice:
    file_name: str
    reason: str


def is_refusal_notice(name: str) -> bool:
    return name.endswith(REFUSAL_SUFFIX) and len(name) > len(REFUSAL_SUFFIX)


def parse_notice(name: str, content: bytes) -> RefusalNotice:
    """Read a notice; its first line must name the file its own name refers to."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoticeRefused(
            f"拒绝通知 {name} 不是 UTF-8 文本", f"refusal notice {name} is not UTF-8 text: {exc}"
        ) from exc
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, colon, value = line.partition(":")
        key = label.split("(")[0].strip()
        if not colon or key not in (_FILE_LABEL, _REASON_LABEL):
            raise NoticeRefused(
                f"拒绝通知 {name} 第 {number} 行无法识别：{line[:80]!r}",
                f"refusal notice {name} line {number}: unrecognised {line[:80]!r}",
            )
        fields[key] = value.strip()
    refused = fields.get(_FILE_LABEL, "")
    expected = name[: -len(REFUSAL_SUFFIX)] if is_refusal_notice(name) else ""
    if not refused or refused != expected:
        raise NoticeRefused(
            f"拒绝通知 {name} 所称文件 {refused!r} 与通知名不符",
            f"refusal notice {name} names file {refused!r}, expected {expected!r}",
        )
    reason = fields.get(_REASON_LABEL, "")
    if not reason:
        raise NoticeRefused(f"拒绝通知 {name} 未注明原因", f"refusal notice {name} gives no reason")
    return RefusalNotice(file_name=refused, reason=reason)


def apply_refusal_notice(
    session: Session,
    file: InboundFile,
    notice: RefusalNotice,
    *,
    business_date: date,
    config: PaymentsConfig,
) -> dict[str, int]:
    """Reject the refused batch and its instructions with the bank's reason; refuses the
    notice whole if it names no batch of ours or a batch the bank already answered."""
    batch = session.scalar(
        select(PaymentBatch).where(
            PaymentBatch.bank_code == file.bank_code, PaymentBatch.file_name == notice.file_name
        )
    )
    if batch is None:
        raise NoticeRefused(
            f"拒绝通知 {file.name} 所称文件 {notice.file_name} 不是我方发出的批次",
            f"refusal notice {file.name} names {notice.file_name}, which we never sent",
        )
    file.batch_id = batch.id
    return reject_batch(
        session,
        file,
        batch,
        bank_reason=notice.reason,
        reason_code=None,
        business_date=business_date,
        config=config,
        error=NoticeRefused,
    )


def reject_batch(
    session: Session,
    file: InboundFile,
    batch: PaymentBatch,
    *,
    bank_reason: str,
    reason_code: str | None,
    business_date: date,
    config: PaymentsConfig,
    error: type[HuzhuError],
    listed: Mapping[str, InstructionResult] | None = None,
) -> dict[str, int]:
    """Reject every instruction of ``batch``, refused whole by the bank with ``bank_reason``
    (``reason_code``: the bank's code, kept on each instruction), through the lifecycle: a
    disbursement's loan goes back to approved, a collection is retried per policy; the batch
    is rejected and a ``file_refused`` follow-up is raised for it. ``listed``: the rejections
    the bank gave for some instructions of its own (by end-to-end id), kept with their own
    reason code and words; the others take the batch's.

    ``file`` says so (a refusal notice, or a status report rejecting the batch at group
    level). Raises ``error`` when the batch was answered already, as a whole or in part: a
    refusal of the whole file contradicts that answer."""
    if batch.status is BatchStatus.REJECTED:
        return {"already_rejected": 1}
    if batch.status is BatchStatus.ANSWERED:
        raise error(
            f"批次 {batch.file_name} 已回盘，不能再被整份拒绝",
            f"batch {batch.file_name} was answered already; a refusal of it cannot apply",
        )
    instructions = list(
        session.scalars(
            select(PaymentInstruction)
            .where(PaymentInstruction.batch_id == batch.id)
            .order_by(PaymentInstruction.id)
            .with_for_update()
        )
    )
    answered = [
        i
        for i in instructions
        if i.status
        not in (InstructionStatus.BATCHED, InstructionStatus.SENT, InstructionStatus.ACCEPTED)
    ]
    if answered:
        raise error(
            f"批次 {batch.file_name} 已有 {len(answered)} 笔回盘（如 {answered[0].end_to_end_id} "
            f"{state_zh(answered[0].status)}），不能再被整份拒绝",
            f"batch {batch.file_name} has {len(answered)} instruction(s) answered already (e.g. "
            f"{answered[0].end_to_end_id} {answered[0].status.value}); a refusal of the whole "
            "file contradicts that and cannot apply",
        )
    if batch.status is BatchStatus.STORED:
        # The bank refused a batch we had not yet marked sent (a crash in between).
        batch.sent_at = utcnow()
        mark_sent(
            session,
            instructions,
            business_date=business_date,
            batch_id=batch.id,
            cause=f"银行已拒绝 refused by the bank: {file.name}",
        )
    reason = f"银行拒绝整份文件 file refused: {bank_reason}"
    outcome: Counter[str] = Counter()
    own = listed or {}
    for instruction in instructions:
        given = own.get(instruction.end_to_end_id)
        outcome[
            apply_result(
                session,
                instruction,
                InstructionResult(
                    end_to_end_id=instruction.end_to_end_id,
                    status=ResultStatus.REJECTED,
                    settled_amount_fen=0,
                    requested_amount_fen=instruction.amount_fen,
                    reason_code=(given.reason_code if given else None) or reason_code,
                    reason_text=_words(given, reason)[:400],
                    booking_date=given.booking_date if given else None,
                ),
                business_date=business_date,
                inbound_file_id=file.id,
                config=config,
            )
        ] += 1
    batch.status = BatchStatus.REJECTED
    batch.last_error = reason[:1000]
    follow_up(
        session,
        FollowUpKind.FILE_REFUSED,
        business_date=business_date,
        batch_id=batch.id,
        inbound_file_id=file.id,
        amount_fen=batch.total_fen,
        reason_code=REFUSED_CODE,
        message_zh=f"银行拒绝了批次文件 {batch.file_name}（{batch.line_count} 笔）："
        f"{bank_reason}；各笔指令已按失败处理，请核实后重新发起",
        message_en=f"the bank refused batch file {batch.file_name} ({batch.line_count} "
        f"instructions): {bank_reason}; each instruction failed, check and send again",
    )
    session.flush()
    return {"rejected_instructions": sum(outcome.values()), **outcome}


def _words(given: InstructionResult | None, batch_reason: str) -> str:
    """An instruction's reason words: the bank's own for one it listed with a reason (a code
    alone says it), else the batch's refusal."""
    if given is not None and (given.reason_text or given.reason_code):
        return given.reason_text
    return batch_reason


def answer_due_by(calendar: BankingCalendar, sent_on: date, banking_days: int) -> date:
    """The last day the bank may answer a batch of ``sent_on``: ``banking_days`` banking
    days after it."""
    return calendar.banking_days(sent_on + timedelta(days=1), banking_days)[-1]


def chase_unanswered(
    session: Session,
    *,
    business_date: date,
    banking_days: int,
    calendar_of: Callable[[str], BankingCalendar | None],
) -> list[int]:
    """Raise a follow-up, once, for each sent batch still unanswered ``banking_days`` banking
    days after its business date; returns the batches chased.

    ``calendar_of`` gives None for a bank whose configuration cannot be read tonight: its
    stored answers wait too, so its batches are left to a later night rather than chased."""
    if banking_days < 1:
        raise ValueError("banking_days must be at least 1")
    chased_before = set(
        session.scalars(
            select(FollowUpItem.batch_id).where(FollowUpItem.kind == FollowUpKind.NO_ANSWER)
        )
    )
    chased = []
    for batch in session.scalars(
        select(PaymentBatch)
        .where(PaymentBatch.status == BatchStatus.SENT, PaymentBatch.business_date < business_date)
        .order_by(PaymentBatch.id)
    ):
        if batch.id in chased_before:
            continue
        calendar = calendar_of(batch.bank_code)
        if calendar is None:
            continue
        due_by = answer_due_by(calendar, batch.business_date, banking_days)
        if business_date <= due_by:
            continue
        follow_up(
            session,
            FollowUpKind.NO_ANSWER,
            business_date=business_date,
            batch_id=batch.id,
            amount_fen=batch.total_fen,
            reason_code=NO_ANSWER_CODE,
            message_zh=f"批次 {batch.file_name}（{batch.business_date} 发出，"
            f"{batch.line_count} 笔）超过 {banking_days} 个银行工作日未回盘，请与银行核实",
            message_en=f"batch {batch.file_name} sent {batch.business_date} "
            f"({batch.line_count} instructions) has no answer after {banking_days} banking "
            "days: check with the bank",
        )
        chased.append(batch.id)
    session.flush()
    return chased
