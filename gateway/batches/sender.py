"""Sending stored batches exactly once, and re-sending one on request.

Each batch goes in three steps, each safe to repeat after a crash: read the stored bytes
(committed when the batch was built), ``deliver()`` them under the batch's deterministic
name (an identical file already on the server counts as delivered, a different one is
refused), then mark the batch and its instructions sent in one transaction. A batch whose
delivery fails is recorded and the next batch is tried; a server that cannot be reached ends
the round, and the next run takes up what is still stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.transport.base import Delivery, DeliveryStatus, Transport, deliver
from adapters.transport.errors import TransientTransportError, TransportError
from gateway.batches.banks import BankProfile, decode_sidecars
from gateway.batches.hooks import crash_point
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.db import session_scope, utcnow
from gateway.errors import Conflict, NotFound
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.ingestion.refusals import REFUSAL_SUFFIX
from gateway.payments.models import FollowUpKind, InstructionStatus, PaymentInstruction
from gateway.payments.service import follow_up, mark_sent

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    bank_code: str
    delivered: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unreachable: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and self.unreachable is None


def _stored(session: Session, bank_code: str) -> list[int]:
    return list(
        session.scalars(
            select(PaymentBatch.id)
            .where(PaymentBatch.bank_code == bank_code, PaymentBatch.status == BatchStatus.STORED)
            .order_by(PaymentBatch.id)
        )
    )


def send_stored_batches(
    factory: sessionmaker[Session],
    profile: BankProfile,
    transport: Transport,
    *,
    business_date: date,
) -> SendReport:
    """Deliver every stored, unsent batch of this bank, oldest first."""
    report = SendReport(bank_code=profile.code)
    with session_scope(factory) as session:
        ids = _stored(session, profile.code)
    for batch_id in ids:
        with session_scope(factory) as session:
            batch = session.get(PaymentBatch, batch_id)
            assert batch is not None
            name, data, sha256 = batch.file_name, batch.content, batch.sha256
            sidecars = decode_sidecars(batch.sidecars_json)
        try:
            delivery = deliver(
                transport,
                profile.config.sftp.outbound_folder,
                name,
                data,
                sha256,
                sidecars=sidecars,
            )
        except TransientTransportError as exc:
            _record_failure(factory, batch_id, business_date, exc, lasting=False)
            report.unreachable = str(exc)
            log.warning("bank %s unreachable, %s stays stored: %s", profile.code, name, exc)
            break
        except TransportError as exc:
            _record_failure(factory, batch_id, business_date, exc, lasting=True)
            report.failed[name] = str(exc)
            continue
        crash_point("before_mark_sent")
        with session_scope(factory) as session:
            _mark_batch_sent(session, batch_id, business_date, delivery)
        if delivery.status is DeliveryStatus.DELIVERED:
            report.delivered.append(name)
        else:
            report.already_there.append(name)
    return report


def _record_failure(
    factory: sessionmaker[Session],
    batch_id: int,
    business_date: date,
    exc: Exception,
    *,
    lasting: bool,
) -> None:
    with session_scope(factory) as session:
        batch = session.get(PaymentBatch, batch_id)
        assert batch is not None
        batch.delivery_attempts += 1
        batch.last_error = str(exc)[:1000]
        if lasting:
            follow_up(
                session,
                FollowUpKind.DELIVERY_FAILED,
                business_date=business_date,
                batch_id=batch.id,
                amount_fen=batch.total_fen,
                message_zh=f"批次文件 {batch.file_name} 无法送达：{exc}",
                message_en=f"batch file {batch.file_name} could not be delivered: {exc}",
            )


def _mark_batch_sent(
    session: Session, batch_id: int, business_date: date, delivery: Delivery
) -> None:
    batch = session.get(PaymentBatch, batch_id, with_for_update=True)
    assert batch is not None
    if batch.status is not BatchStatus.STORED:
        return
    batch.status = BatchStatus.SENT
    batch.sent_at = utcnow()
    batch.delivery_attempts += 1
    batch.last_error = None
    how = "已送达" if delivery.status is DeliveryStatus.DELIVERED else "银行已有同一文件"
    mark_sent(
        session,
        session.scalars(
            select(PaymentInstruction).where(PaymentInstruction.batch_id == batch.id)
        ).all(),
        business_date=business_date,
        batch_id=batch.id,
        cause=f"{how} {delivery.status.value}: {delivery.path}",
    )


def refuse_judged_batch(session: Session, batch: PaymentBatch) -> None:
    """Refuse to send again a batch the bank has already judged.

    A batch the bank refused whole (its refusal notice applied, or one waiting to be) is
    never re-delivered: the bank judged these very bytes, and a batch's bytes are never
    rendered again. The refusal failed each of its instructions through the lifecycle (a
    disbursement's loan back to approved, a collection retried per the county's policy, a
    payout marked to be paid again), so the corrected instructions go out in a new batch
    under a new file name. A batch the bank answered (a result file names it, or its
    instructions are past ``sent``) is not sent again either."""
    notice = session.scalar(
        select(InboundFile.name).where(
            InboundFile.bank_code == batch.bank_code,
            InboundFile.kind == InboundKind.REFUSAL,
            InboundFile.name == f"{batch.file_name}{REFUSAL_SUFFIX}",
            InboundFile.status != InboundStatus.QUARANTINED,
        )
    )
    if batch.status is BatchStatus.REJECTED or notice is not None:
        why = batch.last_error or f"拒绝通知 refusal notice {notice}"
        raise Conflict(
            f"银行已拒收批次文件 {batch.file_name}（{why}），原文件不再重发："
            "其各笔指令已按失败处理，核实更正后重新放行，将随新批次以新文件名发出",
            f"the bank refused batch file {batch.file_name} ({why}); its stored bytes are "
            "not sent again: its instructions failed, and once corrected and released again "
            "they go out in a new batch under a new file name",
            code="batch_refused",
        )
    answered = session.scalar(
        select(InboundFile.id).where(
            InboundFile.batch_id == batch.id, InboundFile.kind == InboundKind.RESULT
        )
    )
    beyond = session.scalar(
        select(PaymentInstruction.id).where(
            PaymentInstruction.batch_id == batch.id,
            PaymentInstruction.status.not_in((InstructionStatus.BATCHED, InstructionStatus.SENT)),
        )
    )
    if batch.status is BatchStatus.ANSWERED or answered is not None or beyond is not None:
        raise Conflict(
            f"银行已回盘批次 {batch.file_name}，不再重发",
            f"the bank has answered batch {batch.file_name}; it is not sent again",
            code="batch_answered",
        )


def resend(
    factory: sessionmaker[Session],
    profile: BankProfile,
    transport: Transport,
    batch_id: int,
    *,
    business_date: date,
) -> Delivery:
    """Deliver a batch's stored bytes again, only if the bank does not have them already.

    Refused for a batch the bank refused whole or answered (:func:`refuse_judged_batch`);
    otherwise ``deliver()`` checks the server and sends the stored bytes only when the file
    is not there."""
    with session_scope(factory) as session:
        batch = session.get(PaymentBatch, batch_id)
        if batch is None or batch.bank_code != profile.code:
            raise NotFound(
                f"批次 {batch_id} 不存在", f"batch {batch_id} not found at {profile.code}"
            )
        refuse_judged_batch(session, batch)
        name, data, sha256 = batch.file_name, batch.content, batch.sha256
        sidecars = decode_sidecars(batch.sidecars_json)
    delivery = deliver(
        transport, profile.config.sftp.outbound_folder, name, data, sha256, sidecars=sidecars
    )
    with session_scope(factory) as session:
        _mark_batch_sent(session, batch_id, business_date, delivery)
    return delivery
