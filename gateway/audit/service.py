"""Write and verify the hash-chained audit log.

Events are appended in the caller's transaction, so a change and its audit record commit or
roll back together. Each chain's head row is locked while appending (``SELECT ... FOR UPDATE``
on PostgreSQL; SQLite has a single writer), so concurrent appenders to one chain queue and the
chain never forks; events of different associations go to different chains and do not wait
for each other.

County-wide events (a county's special account, reconciliation run, unassigned queue item,
users) go to that county's chain, ``county:<id>``, so a county's readers see their own county
and nothing of the others; what belongs to no county (field-key rotation, system users) stays
on the ``global`` chain, which only the system administrator reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.audit.crosscheck import (
    Findings,
    LedgerCheck,
    RecordProblem,
    StatementCheck,
    association_of,
    county_of_chain,
)
from gateway.audit.models import AuditChainHead, AuditEvent
from gateway.db import utcnow
from gateway.errors import ValidationFailed

GENESIS_HASH = "0" * 64
GLOBAL_CHAIN = "global"


def association_chain(association_id: int) -> str:
    """The chain that holds an association's events."""
    return f"association:{association_id}"


def county_chain(county_id: int) -> str:
    """The chain that holds a county's county-wide events."""
    return f"county:{county_id}"


def _county_of(session: Session, object_type: str, object_id: str) -> int | None:
    """The county a county-wide event's object lives in, or None when it has none."""
    # Imported here: these domains record audit events themselves.
    from gateway.auth.models import User
    from gateway.loans.models import Loan
    from gateway.org.models import Association, SpecialAccount, Town
    from gateway.queue.models import QueueItem
    from gateway.reconcile.models import ReconRun

    if not object_id.isdigit():
        return None
    key = int(object_id)
    account_county = select(SpecialAccount.county_id)
    association_county = select(Town.county_id).join(Association, Association.town_id == Town.id)
    statement: Select[int]
    if object_type == "county":
        return key
    if object_type == "special_account":
        statement = account_county.where(SpecialAccount.id == key)
    elif object_type == "recon_run":
        statement = account_county.join(
            ReconRun, ReconRun.special_account_id == SpecialAccount.id
        ).where(ReconRun.id == key)
    elif object_type == "queue_item":
        statement = account_county.join(
            QueueItem, QueueItem.special_account_id == SpecialAccount.id
        ).where(QueueItem.id == key)
    elif object_type == "loan":
        statement = association_county.join(Loan, Loan.association_id == Association.id).where(
            Loan.id == key
        )
    elif object_type == "user":
        user = session.get(User, key)
        if user is None or user.county_id is not None or user.association_id is None:
            return None if user is None else user.county_id
        statement = association_county.where(Association.id == user.association_id)
    else:
        return None
    return session.scalar(statement)


def _canonical_time(at: datetime) -> str:
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def _normalise(payload: dict[str, Any]) -> dict[str, Any]:
    normalised: dict[str, Any] = json.loads(json.dumps(payload, default=str, ensure_ascii=False))
    return normalised


def event_hash(
    *,
    chain: str,
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
            "chain": chain,
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


def _lock_head(session: Session, chain: str) -> AuditChainHead | None:
    return session.execute(
        select(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _create_head(session: Session, chain: str) -> None:
    """Insert the chain's head unless another transaction just did (no error either way)."""
    values = {"chain": chain, "last_seq": 0, "last_hash": GENESIS_HASH}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql_insert(AuditChainHead).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(AuditChainHead).values(values).on_conflict_do_nothing())


def _routed(
    session: Session, chain: str, object_type: str, object_id: object, county_id: int | None
) -> str:
    """The chain an event goes to: a global-chain event with a county goes to that county's."""
    if chain != GLOBAL_CHAIN:
        return chain
    county = county_id
    if county is None:
        county = _county_of(session, object_type, str(object_id))
    return chain if county is None else county_chain(county)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    payload: dict[str, Any] | None = None,
    chain: str = GLOBAL_CHAIN,
    county_id: int | None = None,
) -> AuditEvent:
    """Append one event to ``chain`` in the session's transaction.

    Association-scoped changes pass ``chain=association_chain(id)``. An event for the global
    chain goes to its county's chain instead: ``county_id`` when given, else the county of the
    object (a county, user, special account, reconciliation run, queue item or loan); an
    event with no county stays on the global chain."""
    chain = _routed(session, chain, object_type, object_id, county_id)
    head = _lock_head(session, chain)
    if head is None:
        _create_head(session, chain)
        head = _lock_head(session, chain)
        assert head is not None
    at = utcnow()
    body = _normalise(payload or {})
    seq = head.last_seq + 1
    digest = event_hash(
        chain=chain,
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
        chain=chain,
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
class AuditEntry:
    """One event for :func:`record_many` (the arguments of :func:`record`)."""

    chain: str
    actor: str
    action: str
    object_type: str
    object_id: object
    payload: dict[str, Any] = field(default_factory=dict)
    county_id: int | None = None  # for a global-chain event: its county, when known


def _lock_heads(session: Session, chains: list[str]) -> dict[str, AuditChainHead]:
    return {
        head.chain: head
        for head in session.scalars(
            select(AuditChainHead)
            .where(AuditChainHead.chain.in_(chains))
            .order_by(AuditChainHead.chain)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }


def record_many(session: Session, entries: Sequence[AuditEntry]) -> int:
    """Append many events, in order, in the session's transaction; returns how many.

    The same chain rules as :func:`record` (a global-chain event goes to its county's chain
    when it has a county): every chain's head is locked (all of them in one
    statement, in chain order) and each event links to the one before it in its chain; the
    events go in with one multi-row insert. Returns the number of events written."""
    if not entries:
        return 0
    # global-chain events go to their county's chain, as with ``record``
    routed = [_routed(session, e.chain, e.object_type, e.object_id, e.county_id) for e in entries]
    chains = sorted(set(routed))
    heads = _lock_heads(session, chains)
    missing = [chain for chain in chains if chain not in heads]
    if missing:
        values = [{"chain": c, "last_seq": 0, "last_hash": GENESIS_HASH} for c in missing]
        if session.get_bind().dialect.name == "postgresql":
            statement: Any = postgresql_insert(AuditChainHead).values(values)
        else:
            statement = sqlite_insert(AuditChainHead).values(values)
        session.execute(statement.on_conflict_do_nothing())
        heads = _lock_heads(session, chains)
    at = utcnow()
    rows = []
    for entry, chain in zip(entries, routed, strict=True):
        head = heads[chain]
        body = _normalise(entry.payload)
        seq = head.last_seq + 1
        digest = event_hash(
            chain=chain,
            prev_hash=head.last_hash,
            seq=seq,
            at=at,
            actor=entry.actor,
            action=entry.action,
            object_type=entry.object_type,
            object_id=str(entry.object_id),
            payload=body,
        )
        rows.append(
            {
                "chain": chain,
                "seq": seq,
                "at": at,
                "actor": entry.actor,
                "action": entry.action,
                "object_type": entry.object_type,
                "object_id": str(entry.object_id),
                "payload": body,
                "prev_hash": head.last_hash,
                "hash": digest,
            }
        )
        head.last_seq = seq
        head.last_hash = digest
    session.execute(insert(AuditEvent), rows)
    session.flush()
    return len(rows)


@dataclass(frozen=True)
class KeptHead:
    """A chain's head as exported (``huzhu audit heads``) and kept outside the database."""

    chain: str
    seq: int
    hash: str


def chain_heads(session: Session) -> list[KeptHead]:
    """Every chain's head, by chain: what the operator keeps to compare with later."""
    rows = session.execute(
        select(AuditChainHead.chain, AuditChainHead.last_seq, AuditChainHead.last_hash).order_by(
            AuditChainHead.chain
        )
    )
    return [KeptHead(chain, int(seq), digest) for chain, seq, digest in rows]


def heads_document(heads: Sequence[KeptHead], exported_at: datetime) -> dict[str, Any]:
    """The export of the chain heads, as :func:`read_kept_heads` reads it back."""
    return {
        "exported_at": _canonical_time(exported_at),
        "heads": [{"chain": h.chain, "seq": h.seq, "hash": h.hash} for h in heads],
    }


def read_kept_heads(text: str) -> list[KeptHead]:
    """The chain heads of an export written by ``huzhu audit heads``."""
    try:
        document = json.loads(text)
        heads = [
            KeptHead(str(item["chain"]), int(item["seq"]), str(item["hash"]))
            for item in document["heads"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed(
            "不是 huzhu audit heads 导出的链头文件",
            f"not a file of chain heads written by huzhu audit heads ({exc})",
        ) from exc
    if len({h.chain for h in heads}) != len(heads):
        raise ValidationFailed(
            "链头文件中同一条链出现了两次", "the file names a chain's head twice"
        )
    return heads


@dataclass(frozen=True)
class ChainProblem:
    chain: str
    seq: int
    reason_zh: str
    reason_en: str

    def __str__(self) -> str:
        return f"{self.chain} seq {self.seq}: {self.reason_zh} / {self.reason_en}"


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found: ``problems`` in the chains themselves; ``record_problems``,
    the rows of the journal and of the daily statements that disagree with the audit trail (the
    first ``LISTED_LIMIT`` of them; ``unlisted`` counts the rest); ``notes``, worth a look but
    not problems."""

    checked: int
    chains: int
    problems: list[ChainProblem]
    record_problems: list[RecordProblem] = field(default_factory=list)
    transactions: int = 0
    statements: int = 0
    notes: list[RecordProblem] = field(default_factory=list)
    unlisted: int = 0
    kept: int = 0  # kept chain heads compared

    @property
    def ok(self) -> bool:
        return not self.problems and not self.record_problems and not self.unlisted

    @property
    def listed(self) -> list[ChainProblem | RecordProblem]:
        """Every problem listed: the chains' first."""
        return [*self.problems, *self.record_problems]


_EVENT_COLUMNS = (
    AuditEvent.chain,
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


def _associations_in(session: Session, chains: Collection[str] | None) -> list[int]:
    from gateway.org.models import Association

    if chains is None:
        return list(session.scalars(select(Association.id).order_by(Association.id)))
    return sorted({a for a in map(association_of, chains) if a is not None})


def _counties_in(chains: Collection[str] | None) -> list[int] | None:
    if chains is None:
        return None
    return sorted({c for c in map(county_of_chain, chains) if c is not None})


def verify(
    session: Session,
    chains: Collection[str] | None = None,
    *,
    kept: Sequence[KeptHead] = (),
) -> VerifyReport:
    """Walk every chain (or only ``chains``): gaps (deleted rows), broken links, altered rows
    and a missing tail are reported by chain and sequence number. Then the tables the events
    recorded are compared with them (see :mod:`gateway.audit.crosscheck`): every journal
    transaction of the chains' associations, and every daily reconciliation statement of their
    counties' special accounts, named by table, row and field with the stored and the audited
    value.

    ``kept`` are chain heads exported earlier and kept outside the database: a chain that now
    ends before a kept head, or holds another event there, is reported (the head row, which
    the database only lets move forward, is no proof against whoever can drop its guard)."""
    # Plain rows, not ORM objects: what the database holds now, never an identity-map copy.
    head_rows = select(AuditChainHead.chain, AuditChainHead.last_seq, AuditChainHead.last_hash)
    event_rows = select(*_EVENT_COLUMNS)
    if chains is not None:
        head_rows = head_rows.where(AuditChainHead.chain.in_(list(chains)))
        event_rows = event_rows.where(AuditEvent.chain.in_(list(chains)))
    heads = {
        chain: (last_seq, last_hash) for chain, last_seq, last_hash in session.execute(head_rows)
    }
    rows = session.execute(
        event_rows.order_by(AuditEvent.chain, AuditEvent.seq).execution_options(yield_per=1000)
    )
    problems: list[ChainProblem] = []
    findings = Findings()
    ledger = LedgerCheck(session, findings)
    statements = StatementCheck(session, findings)
    checked = 0
    walked: dict[str, tuple[int, str]] = {}
    current: str | None = None
    kept_seq = {h.chain: h.seq for h in kept if chains is None or h.chain in chains}
    at_kept_seq: dict[str, str] = {}
    for event in rows:
        checked += 1
        if event.chain != current:
            if current is not None:
                ledger.end_chain(current)
            current = event.chain
        expected_seq, running = walked.get(event.chain, (0, GENESIS_HASH))
        expected_seq += 1
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    event.chain,
                    expected_seq,
                    f"第 {expected_seq} 至 {event.seq - 1} 条事件缺失（被删除）",
                    f"events {expected_seq}..{event.seq - 1} are missing (deleted)",
                )
            )
        if event.prev_hash != running:
            problems.append(
                ChainProblem(
                    event.chain,
                    event.seq,
                    "前序哈希不符，链条断裂",
                    "prev_hash does not match the previous event: the chain is broken",
                )
            )
        recomputed = event_hash(
            chain=event.chain,
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
                    event.chain,
                    event.seq,
                    "事件内容被改动（哈希不符）",
                    "the event was altered: its hash does not match its content",
                )
            )
        walked[event.chain] = (event.seq, event.hash)
        if kept_seq.get(event.chain) == event.seq:
            at_kept_seq[event.chain] = event.hash
        ledger.see(event.chain, event.seq, event.object_type, event.object_id, event.payload)
        statements.see(
            event.chain,
            event.seq,
            event.action,
            event.object_type,
            event.object_id,
            event.payload,
        )
    if current is not None:
        ledger.end_chain(current)
    for chain in sorted(set(heads) | set(walked)):
        head_seq, head_hash = heads.get(chain, (0, GENESIS_HASH))
        last_seq, last_hash = walked.get(chain, (0, GENESIS_HASH))
        if chain not in heads:
            problems.append(
                ChainProblem(chain, last_seq, "链头记录缺失", "the chain's head row is missing")
            )
        elif head_seq != last_seq or head_hash != last_hash:
            problems.append(
                ChainProblem(
                    chain,
                    last_seq + 1,
                    f"链尾缺失：应有 {head_seq} 条事件，实有 {last_seq} 条",
                    f"the chain head names event {head_seq} but the log ends at {last_seq}",
                )
            )
    problems += _against_kept(kept, kept_seq, walked, at_kept_seq)
    ledger.finish(_associations_in(session, chains), scoped=chains is not None)
    statements.finish(_counties_in(chains))
    return VerifyReport(
        checked=checked,
        chains=len(set(heads) | set(walked)),
        problems=problems,
        record_problems=findings.problems,
        transactions=ledger.transactions,
        statements=statements.statements,
        notes=findings.notes,
        unlisted=findings.unlisted,
        kept=len(kept_seq),
    )


def _against_kept(
    kept: Sequence[KeptHead],
    kept_seq: dict[str, int],
    walked: dict[str, tuple[int, str]],
    at_kept_seq: dict[str, str],
) -> list[ChainProblem]:
    """The chains that end before their kept head, or hold another event where it was."""
    problems = []
    for head in kept:
        if head.chain not in kept_seq or head.seq <= 0:
            continue
        last_seq = walked.get(head.chain, (0, GENESIS_HASH))[0]
        if last_seq < head.seq:
            problems.append(
                ChainProblem(
                    head.chain,
                    last_seq + 1,
                    f"链比保存的链头导出短：导出时已到第 {head.seq} 条事件，现在只到第 "
                    f"{last_seq} 条（最新的事件被删除）",
                    f"the chain is shorter than its kept head: it had reached event "
                    f"{head.seq}, the log now ends at {last_seq} (its newest events were "
                    "deleted)",
                )
            )
        elif at_kept_seq.get(head.chain) != head.hash:
            problems.append(
                ChainProblem(
                    head.chain,
                    head.seq,
                    "与保存的链头导出不符：这一条事件的哈希不同（链被改写）",
                    "differs from its kept head: this event has another hash (the chain "
                    "was rewritten)",
                )
            )
    return problems
