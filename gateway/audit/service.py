"""Write and verify the hash-chained audit log.

Events are appended in the caller's transaction, so a change and its audit record commit or
roll back together. The chain-head row is locked while appending (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite has a single writer), so concurrent appenders queue and the chain never
forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.models import AuditChainHead, AuditEvent
from gateway.db import utcnow

GENESIS_HASH = "0" * 64
HEAD_ID = 1


def _canonical_time(at: datetime) -> str:
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def _normalise(payload: dict[str, Any]) -> dict[str, Any]:
    normalised: dict[str, Any] = json.loads(json.dumps(payload, default=str, ensure_ascii=False))
    return normalised


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: dict[str, Any],
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "at": _canonical_time(at),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "payload": payload,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain in the session's transaction."""
    head = session.execute(
        select(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    at = utcnow()
    body = _normalise(payload or {})
    seq = head.last_seq + 1
    digest = event_hash(
        prev_hash=head.last_hash,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        payload=body,
    )
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        payload=body,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(event)
    head.last_seq = seq
    head.last_hash = digest
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason_zh: str
    reason_en: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason_zh} / {self.reason_en}"


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyReport:
    """Walk the whole chain: gaps (deleted rows), broken links and altered rows are reported."""
    head = session.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(
            AuditChainHead.id == HEAD_ID
        )
    ).one()
    problems: list[ChainProblem] = []
    expected_seq = 1
    running = GENESIS_HASH
    checked = 0
    # Plain rows, not ORM objects: what the database holds now, never an identity-map copy.
    rows = session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.object_type,
            AuditEvent.object_id,
            AuditEvent.payload,
            AuditEvent.prev_hash,
            AuditEvent.hash,
        )
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )
    for event in rows:
        checked += 1
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    expected_seq,
                    f"第 {expected_seq} 至 {event.seq - 1} 条事件缺失（被删除）",
                    f"events {expected_seq}..{event.seq - 1} are missing (deleted)",
                )
            )
        if event.prev_hash != running:
            problems.append(
                ChainProblem(
                    event.seq,
                    "前序哈希不符，链条断裂",
                    "prev_hash does not match the previous event: the chain is broken",
                )
            )
        recomputed = event_hash(
            prev_hash=event.prev_hash,
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            payload=event.payload,
        )
        if recomputed != event.hash:
            problems.append(
                ChainProblem(
                    event.seq,
                    "事件内容被改动（哈希不符）",
                    "the event was altered: its hash does not match its content",
                )
            )
        running = event.hash
        expected_seq = event.seq + 1
    last_seq = expected_seq - 1
    if head.last_seq != last_seq or head.last_hash != running:
        problems.append(
            ChainProblem(
                last_seq + 1,
                f"链尾缺失：应有 {head.last_seq} 条事件，实有 {last_seq} 条",
                f"the chain head names event {head.last_seq} but the log ends at {last_seq}",
            )
        )
    return VerifyReport(checked=checked, problems=problems)
