"""What a nightly run left for a person: the bank files it quarantined, the other follow-ups it
raised for the county fund office, and the mismatch-queue items it opened.

Read as what was added after :func:`mark` (the highest follow-up and queue item ids before the
run): every quarantine raises a follow-up naming its file, so a file quarantined when it was
fetched, when it was applied, or applied again after ``huzhu files reapply`` is found alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.ingestion.models import InboundFile
from gateway.payments.models import FollowUpItem, FollowUpKind
from gateway.queue.models import ItemStatus, QueueItem


@dataclass(frozen=True)
class Mark:
    """The highest follow-up and queue item ids before a run (0: none yet)."""

    follow_up_id: int
    queue_item_id: int


@dataclass(frozen=True)
class QuarantinedFile:
    file_id: int
    bank_code: str
    name: str
    reason: str
    follow_up_id: int


@dataclass(frozen=True)
class FollowUp:
    follow_up_id: int
    kind: FollowUpKind
    business_date: date
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class NewItem:
    item_id: int
    kind: str
    business_date: date
    sub_account: str | None
    actual_fen: int | None
    explanation: str


@dataclass(frozen=True)
class Attention:
    quarantined: tuple[QuarantinedFile, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()  # the others: refused payments, unanswered batches…
    queue_items: tuple[NewItem, ...] = ()
    queue_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.quarantined or self.follow_ups or self.queue_items)


def mark(session: Session) -> Mark:
    return Mark(
        follow_up_id=session.scalar(select(func.max(FollowUpItem.id))) or 0,
        queue_item_id=session.scalar(select(func.max(QueueItem.id))) or 0,
    )


def since(session: Session, before: Mark) -> Attention:
    """What was raised after ``before`` and is still open."""
    quarantined: list[QuarantinedFile] = []
    others: list[FollowUp] = []
    for item, file in session.execute(
        select(FollowUpItem, InboundFile)
        .outerjoin(InboundFile, InboundFile.id == FollowUpItem.inbound_file_id)
        .where(FollowUpItem.id > before.follow_up_id, FollowUpItem.resolved.is_(False))
        .order_by(FollowUpItem.id)
    ).all():
        if item.kind is FollowUpKind.FILE_QUARANTINED and file is not None:
            quarantined.append(
                QuarantinedFile(
                    file_id=file.id,
                    bank_code=file.bank_code,
                    name=file.name,
                    reason=file.reason or "",
                    follow_up_id=item.id,
                )
            )
        else:
            others.append(
                FollowUp(item.id, item.kind, item.business_date, item.message_zh, item.message_en)
            )
    items = tuple(
        NewItem(
            item_id=q.id,
            kind=q.kind,
            business_date=q.first_seen,
            sub_account=q.sub_account,
            actual_fen=q.actual_fen,
            explanation=q.explanation,
        )
        for q in session.scalars(
            select(QueueItem)
            .where(QueueItem.id > before.queue_item_id, QueueItem.status != ItemStatus.CLOSED)
            .order_by(QueueItem.id)
        )
    )
    by_kind: dict[str, int] = {}
    for new in items:
        by_kind[new.kind] = by_kind.get(new.kind, 0) + 1
    return Attention(tuple(quarantined), tuple(others), items, by_kind)
