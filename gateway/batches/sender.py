"""Sending stored batches exactly once, and re-sending one on request.

Each batch goes in three steps, each safe to repeat after a crash: read the stored bytes
(committed when the batch was built), ``deliver()`` them under the batch's deterministic
name (an identical file already on the server counts as delivered, a different one is
refused), then mark the batch and its instructions sent in one transaction. A batch whose
delivery fails is recorded and the next batch is tried; a server that cannot be reached ends
the round, and the next run takes up what is still stored.

Only one sender delivers a batch at a time: it first takes the batch's send lease (a
compare-and-set on ``sending_owner``/``sending_since``), so two nights' steps caught up side
by side, or a step and ``resend``, never write the same ``.part`` at once, and a sender that
finds the batch already sent once it holds the lease leaves it alone. The holder renews the
lease while it uploads (for at most ``LONGEST_SEND``). A lease left by a crashed process of
this host is taken over at once; any other once ``SEND_LEASE`` passes unrenewed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from adapters.transport.base import Delivery, DeliveryStatus, Transport, deliver
from adapters.transport.errors import TransientTransportError, TransportError
from gateway.batches.banks import BankProfile, decode_sidecars
from gateway.batches.hooks import crash_point
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.db import as_utc, session_scope, utcnow
from gateway.errors import Conflict, NotFound
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.ingestion.refusals import REFUSAL_SUFFIX
from gateway.payments.follow_ups import resolve_follow_up
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    PaymentInstruction,
)
from gateway.payments.service import follow_up, mark_sent
from gateway.processes import KeepAlive, claim_token, process_gone

log = logging.getLogger(__name__)

# How long a sender's hold on a batch lasts, unrenewed, when its process cannot be seen to
# have died (another host). The holder renews it every quarter of that while it uploads, for
# at most LONGEST_SEND (an upload still going then is taken to be hung).
SEND_LEASE = timedelta(minutes=30)
LONGEST_SEND = timedelta(hours=4)


@dataclass
class SendReport:
    bank_code: str
    delivered: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    # batches another run was delivering (file name -> that run), left to it
    busy: dict[str, str] = field(default_factory=dict)
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
        with _sending(factory, batch_id) as holder:
            if holder.elsewhere is not None:
                report.busy[holder.file_name] = holder.elsewhere
                continue
            with session_scope(factory) as session:
                batch = session.get(PaymentBatch, batch_id)
                assert batch is not None
                if batch.status is not BatchStatus.STORED:
                    continue  # delivered by another run since the list was read
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


@dataclass
class _Hold:
    """The outcome of asking for a batch's send lease."""

    file_name: str
    token: str
    elsewhere: str | None  # the run holding it instead of us, or None: ours


@contextmanager
def _sending(factory: sessionmaker[Session], batch_id: int) -> Iterator[_Hold]:
    """Hold the batch's send lease for the block (``elsewhere`` says who has it otherwise).

    Renewed while the block runs (a slow upload keeps it), released when the block ends,
    however it ends; a crash leaves it to be taken over."""
    hold = _claim(factory, batch_id)
    if hold.elsewhere is not None:
        yield hold
        return

    def renew() -> bool:
        return _change_hold(factory, batch_id, hold.token, owner=hold.token, since=utcnow())

    keep = KeepAlive(
        renew,
        every=SEND_LEASE.total_seconds() / 4,
        longest=LONGEST_SEND.total_seconds(),
        what="sending batch",
        where={"batch": hold.file_name},
    )
    try:
        with keep:
            yield hold
    finally:
        _change_hold(factory, batch_id, hold.token, owner=None, since=None)


def _change_hold(
    factory: sessionmaker[Session],
    batch_id: int,
    token: str,
    *,
    owner: str | None,
    since: datetime | None,
) -> bool:
    """Renew (or give back) the hold ``token`` has on the batch; False when it has none."""
    with session_scope(factory) as session:
        changed = session.execute(
            update(PaymentBatch)
            .where(PaymentBatch.id == batch_id, PaymentBatch.sending_owner == token)
            .values(sending_owner=owner, sending_since=since)
            .execution_options(synchronize_session=False)
        )
        return getattr(changed, "rowcount", 0) == 1


def _claim(factory: sessionmaker[Session], batch_id: int) -> _Hold:
    token = claim_token()
    with session_scope(factory) as session:
        name, holder, since = session.execute(
            select(
                PaymentBatch.file_name, PaymentBatch.sending_owner, PaymentBatch.sending_since
            ).where(PaymentBatch.id == batch_id)
        ).one()
    now = utcnow()
    if since is not None and as_utc(since) > now - SEND_LEASE and not process_gone(holder or ""):
        return _Hold(name, token, holder or "?")
    # A compare-and-set in a transaction of its own, begun by the write: of two senders that
    # both saw the lease free, the second's update finds it changed and takes nothing.
    unchanged = (
        PaymentBatch.sending_since.is_(None)
        if since is None
        else PaymentBatch.sending_since == since
    )
    with session_scope(factory) as session:
        taken = session.execute(
            update(PaymentBatch)
            .where(PaymentBatch.id == batch_id, unchanged)
            .values(sending_owner=token, sending_since=now)
            .execution_options(synchronize_session=False)
        )
        won = getattr(taken, "rowcount", 0) == 1
    return _Hold(name, token, None if won else "?")


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
                message_zh=f"批次文件 {batch.file_name} 无法送达，每次运行将重试：{exc}",
                message_en=f"batch file {batch.file_name} could not be delivered (tried again "
                f"each run): {exc}",
                once_open=True,  # tried again each round: one open follow-up says so
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
    # the failure the office was told of is over: its follow-up says how it ended
    for item in session.scalars(
        select(FollowUpItem.id).where(
            FollowUpItem.batch_id == batch.id,
            FollowUpItem.kind == FollowUpKind.DELIVERY_FAILED,
            FollowUpItem.resolved.is_(False),
        )
    ):
        with contextlib.suppress(Conflict):  # the office resolved it a moment before
            resolve_follow_up(
                session,
                item,
                actor="system",
                note=f"批次文件已于 {business_date.isoformat()} 送达银行 "
                f"delivered: {delivery.path}",
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
    with _sending(factory, batch_id) as holder:
        if holder.elsewhere is not None:
            raise Conflict(
                f"批次文件 {holder.file_name} 正由另一进程发送（{holder.elsewhere}），请稍后查看",
                f"batch file {holder.file_name} is being delivered by another run "
                f"({holder.elsewhere}); look again once it has finished",
                code="batch_being_sent",
            )
        with session_scope(factory) as session:
            batch = session.get(PaymentBatch, batch_id)
            assert batch is not None
            refuse_judged_batch(session, batch)
            name, data, sha256 = batch.file_name, batch.content, batch.sha256
            sidecars = decode_sidecars(batch.sidecars_json)
        delivery = deliver(
            transport, profile.config.sftp.outbound_folder, name, data, sha256, sidecars=sidecars
        )
        with session_scope(factory) as session:
            _mark_batch_sent(session, batch_id, business_date, delivery)
    return delivery
