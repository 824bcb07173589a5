"""Working the mismatch queue.

Each night :func:`sync_run` files the run's exceptions by fingerprint: a new fingerprint is a
new item, one seen before persists (figures that changed are kept in its history), a resolved
item seen again is reopened, one the run itself closed as cleared is found again ("recurred",
open: nobody had resolved it), and a resolved item not seen again is confirmed and closed, as
is a bank follow-up on a problem the run no longer finds. An open item whose bank lines the run
raises as one exception of another kind (an amount mismatch become an unmatched line) is the
same money: it takes that exception over ("kind_changed") and stays open. An open item about
lines or entries that no longer show up (they matched after all) is closed as cleared, and so
is a write-off or adjusting entry awaiting a second person's decision about them (nothing is
booked); an item about an event (a missing statement, a duplicate line, a return, cash, money
across associations), whether open, waiting for the bank or for a decision, stays until a
person resolves it: not seeing an event again says nothing about it.

Only a check that ran can clear or confirm an item by not raising it again: a night without a
statement cannot compare balances, so a balance break (open, resolved or waiting for the bank)
is left exactly as it was, ``night_state``, ``times_seen`` and ``last_seen`` unchanged, for the
next night with a statement to judge (:class:`RunChecks`).

Resolutions: manual match, adjusting entry with a reason (a second person approves above
``QueueConfig.approval_above_fen``), bank-error follow-up, write-off request (a second person
approves it, which books it against 呆坏账核销, or rejects it with a reason), reassignment to
the right association, dismissal with a justification. An item is assigned only to someone
who can work it (:func:`assign`). Every action is kept in the item's history and in the audit
log. Services never commit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from adapters.money import grouped_yuan
from gateway.audit import service as audit
from gateway.auth.credentials import principal_for
from gateway.auth.models import Role, User
from gateway.auth.permissions import ROLE_LABELS, ROLE_PERMISSIONS, ObjectScope, Permission
from gateway.auth.service import find_user, person_key
from gateway.db import insert_rows, utcnow
from gateway.errors import Conflict, HuzhuError, NotFound, RuleViolation, ValidationFailed
from gateway.labels import state_zh
from gateway.ledger import service as ledger
from gateway.ledger.models import (
    AccountCode,
    JournalTransaction,
    LedgerChannel,
    TransactionKind,
)
from gateway.org.models import Association, SpecialAccount
from gateway.queue.models import ItemStatus, NightState, QueueEvent, QueueItem, Resolution
from gateway.reconcile.models import ManualMatch, OpenItem, ReconRun
from gateway.reconcile.source import (
    EXPECTED_PREFIX,
    entry_amounts,
    entry_id_of,
    transaction_id_of,
)
from reconciliation.findings import ExceptionKind, ReconException

# Kinds about an event that happened once: not seeing it again does not mean it is fixed.
EVENT_KINDS = frozenset(
    {
        ExceptionKind.STATEMENT_GAP.value,
        ExceptionKind.DUPLICATE.value,
        ExceptionKind.RETURNED_AFTER_SETTLEMENT.value,
        ExceptionKind.VILLAGE_CASH.value,
        ExceptionKind.CROSS_ASSOCIATION.value,
    }
)
PARKED = (ItemStatus.WAITING_BANK, ItemStatus.WRITE_OFF_REVIEW)
# a request a second person has yet to decide: a write-off, an adjusting entry above the limit
AWAITING_DECISION = (ItemStatus.AWAITING_APPROVAL, ItemStatus.WRITE_OFF_REVIEW)
# The work list's default: what someone has to do something about, the items open and those
# waiting for a second person's decision (an adjusting entry above the limit, a write-off
# request). Items with the bank, settled or closed are shown when asked for by status.
WORKING = (ItemStatus.OPEN, *AWAITING_DECISION)


@dataclass(frozen=True)
class QueueConfig:
    """``approval_above_fen``: an adjusting entry larger than this needs a second person."""

    approval_above_fen: int = 100_000

    def __post_init__(self) -> None:
        if self.approval_above_fen < 0:
            raise ValueError("approval_above_fen must not be negative")


@dataclass(frozen=True)
class RunChecks:
    """Which checks a night's run could make, for the items that depend on them.

    ``balances_compared`` is false on a night without a statement: no balance check ran.
    ``balance_sub_accounts``: the sub-accounts whose balances were compared (the statement's
    and the books'), ``None`` for every one. Every other kind is checked on every run: the
    lines and entries left open are offered to the matching engine each night, statement or
    not. The default is a full run, every check made."""

    balances_compared: bool = True
    balance_sub_accounts: frozenset[str] | None = None

    def ran_for(self, kind: str, sub_account: str | None) -> bool:
        if kind != ExceptionKind.BALANCE_BREAK.value:
            return True
        if not self.balances_compared:
            return False
        return (
            self.balance_sub_accounts is None
            or sub_account is None
            or sub_account in self.balance_sub_accounts
        )


@dataclass
class SyncSummary:
    new: list[int] = field(default_factory=list)
    persisting: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)
    unchecked: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "persisting": len(self.persisting),
            "reopened": len(self.reopened),
            "confirmed": len(self.confirmed),
            "cleared": len(self.cleared),
            "unchecked": len(self.unchecked),
        }


def _resolved_by_posting(
    item: QueueItem,
    resolution: Resolution,
    reason: str,
    transaction_id: uuid.UUID,
    *,
    by: str,
    approver: str | None,
) -> None:
    """The item resolved by a journal transaction: who asked, who approved, and why."""
    item.status = ItemStatus.RESOLVED
    item.resolution = resolution
    item.resolution_note = reason[:600]
    item.resolved_by = by
    item.resolved_at = utcnow()
    item.approved_by = approver
    item.journal_transaction_id = transaction_id


def _event(
    session: Session,
    item: QueueItem,
    *,
    actor: str,
    action: str,
    note: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    actor = _need_text(actor, "请注明操作人", "the person acting must be named")
    payload = dict(data or {})
    session.add(
        QueueEvent(
            item_id=item.id,
            at=utcnow(),
            actor=actor,
            action=action,
            note=note[:600],
            data_json=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
        )
    )
    item.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action=f"queue.{action}",
        chain=(
            audit.association_chain(item.association_id)
            if item.association_id is not None
            else audit.GLOBAL_CHAIN
        ),
        object_type="queue_item",
        object_id=item.id,
        payload={"kind": item.kind, "status": item.status.value, "note": note, **payload},
    )


def _association_for(
    x: ReconException, associations: Mapping[str, int], entry_associations: Mapping[str, int]
) -> int | None:
    for entry_id in x.entry_ids:
        if entry_id in entry_associations:
            return entry_associations[entry_id]
    if x.sub_account is not None:
        return associations.get(x.sub_account)
    return None


def sync_run(
    session: Session,
    *,
    special_account_id: int,
    business_date: date,
    exceptions: Sequence[ReconException],
    associations: Mapping[str, int],
    entry_associations: Mapping[str, int],
    actor: str,
    checks: RunChecks | None = None,
    lines: Mapping[str, str] | None = None,
) -> SyncSummary:
    """File one run's exceptions into the queue (see the module's docstring); ``checks`` says
    which checks ran, so an item whose check did not run is neither cleared nor confirmed.
    ``lines`` (line id -> the line as JSON) are the run's bank lines, kept with each item as
    its evidence; a line not given is read from the open items.

    Each item's history gets its own event; the audit log gets one event for the run naming
    every item it raised, reopened, confirmed or cleared (a run may raise thousands)."""
    checks = checks or RunChecks()
    summary = SyncSummary()
    today = {x.fingerprint: x for x in exceptions}
    items = {
        item.fingerprint: item
        for item in session.scalars(
            select(QueueItem).where(
                QueueItem.special_account_id == special_account_id,
                QueueItem.status != ItemStatus.CLOSED,
            )
        )
    }
    missing = sorted(f for f in today if f not in items)
    for chunk in range(0, len(missing), 500):
        for found in session.scalars(
            select(QueueItem).where(
                QueueItem.special_account_id == special_account_id,
                QueueItem.fingerprint.in_(missing[chunk : chunk + 500]),
            )
        ):
            items[found.fingerprint] = found
    events: list[tuple[int, str, str]] = []
    created: list[tuple[str, ReconException]] = []  # today's new items, by fingerprint
    evidence = _line_evidence(
        session,
        special_account_id,
        {line_id for x in exceptions for line_id in x.line_ids},
        lines or {},
    )
    stamp = business_date.isoformat()
    for fingerprint, x in today.items():
        item = items.get(fingerprint)
        if item is None:
            created.append((fingerprint, x))
            continue
        item.last_seen = business_date
        item.times_seen += 1
        # tonight's figures replace the item's: its history keeps the ones they replace
        changed = (item.actual_fen, item.expected_fen) != (x.actual_fen, x.expected_fen)
        figures = (
            f"{stamp}: 金额有变 figures changed: "
            f"银行 bank {_yuan(x.actual_fen)}（此前 was {_yuan(item.actual_fen)}），"
            f"对照 against {_yuan(x.expected_fen)}（此前 was {_yuan(item.expected_fen)}）"
        )
        item.actual_fen, item.expected_fen = x.actual_fen, x.expected_fen
        item.explanation = x.explanation[:600]  # its figures are tonight's, as the amounts
        if item.evidence_json is None:
            item.evidence_json = _evidence_of(x, evidence)
        if item.resolution is Resolution.CLEARED:
            # closed by a run that no longer found it (or by a statement sent late): nobody
            # resolved it, so it is found again, not "still there after its resolution"
            item.status = ItemStatus.OPEN
            item.night_state = NightState.NEW
            _unresolved(item)
            events.append(
                (
                    item.id,
                    "recurred",
                    f"{stamp}: 对账再次发现（此前未再出现已自动关闭，无人处理过） found again by "
                    "the run (it had closed when a run no longer found it; nobody had acted on it)",
                )
            )
            summary.reopened.append(item.id)
        elif item.status in (ItemStatus.RESOLVED, ItemStatus.CLOSED):
            before = item.resolution
            item.status = ItemStatus.OPEN
            item.night_state = NightState.REOPENED
            _unresolved(item)
            events.append(
                (
                    item.id,
                    "reopened",
                    f"{stamp}: 处理后仍出现 still there after "
                    f"{before.value if before else 'resolution'}",
                )
            )
            summary.reopened.append(item.id)
        else:
            item.night_state = NightState.PERSISTING
            summary.persisting.append(item.id)
        if changed:
            events.append((item.id, "figures_changed", figures))
    created = _carry_over_changed_kinds(
        items, today, created, evidence, business_date, events, summary
    )
    for fingerprint, item in items.items():
        if fingerprint in today or item.status is ItemStatus.CLOSED:
            continue
        if not checks.ran_for(item.kind, item.sub_account):
            summary.unchecked.append(item.id)
            continue
        item.night_state = NightState.GONE
        event = item.kind in EVENT_KINDS
        # Not seeing a problem again confirms what was done about it, or that the bank has
        # corrected it; a problem nobody acted on, or one whose write-off or large adjusting
        # entry awaits a second person, is gone (the request lapses, nothing is booked). Not
        # seeing an event again (a missing day, a copied line) proves nothing about the bank
        # or about a request: such items wait for a person.
        if item.status is ItemStatus.RESOLVED or (
            item.status is ItemStatus.WAITING_BANK and not event
        ):
            item.status = ItemStatus.CLOSED
            events.append((item.id, "confirmed", f"{stamp}: 对账确认已解决 the run confirms it"))
            summary.confirmed.append(item.id)
        elif item.status in (ItemStatus.OPEN, *AWAITING_DECISION) and not event:
            lapsed = item.status in AWAITING_DECISION
            item.status = ItemStatus.CLOSED
            item.resolution = Resolution.CLEARED
            item.resolved_by = actor
            item.resolved_at = utcnow()
            note = f"{stamp}: 对账未再出现 no longer found by the run"
            if lapsed:
                note += "; 待审批的处理失效，未记账 the request awaiting a decision lapses"
            events.append((item.id, "cleared", note))
            summary.cleared.append(item.id)
    session.flush()
    if created:
        now = utcnow()
        # Plain many-row inserts, then the new ids by fingerprint (unique per special account):
        # an insert returning ids in order is sent as statements of thousands of parameters,
        # which the PostgreSQL driver parses in Python, seconds for a night of 10,000 items.
        # Each row is built only when its statement is about to go (``insert_rows``).
        insert_rows(
            session,
            QueueItem,
            (
                {
                    "special_account_id": special_account_id,
                    "association_id": _association_for(x, associations, entry_associations),
                    "fingerprint": fingerprint,
                    "kind": x.kind.value,
                    "severity": int(x.severity),
                    "priority": int(x.severity),
                    "status": ItemStatus.OPEN,
                    "night_state": NightState.NEW,
                    "first_seen": business_date,
                    "last_seen": business_date,
                    "times_seen": 1,
                    "sub_account": x.sub_account,
                    "subject": x.subject[:200],
                    "line_ids_json": json.dumps(list(x.line_ids)),
                    "entry_ids_json": json.dumps(list(x.entry_ids)),
                    "evidence_json": _evidence_of(x, evidence),
                    "expected_fen": x.expected_fen,
                    "actual_fen": x.actual_fen,
                    "explanation": x.explanation[:600],
                    "created_at": now,
                    "updated_at": now,
                }
                for fingerprint, x in created
            ),
        )
        new_ids = {fingerprint for fingerprint, _ in created}
        ids = {
            fingerprint: item_id
            for item_id, fingerprint in session.execute(
                select(QueueItem.id, QueueItem.fingerprint).where(
                    QueueItem.special_account_id == special_account_id,
                    QueueItem.first_seen == business_date,
                )
            )
            if fingerprint in new_ids
        }
        summary.new = [ids[fingerprint] for fingerprint, _ in created]
    events = [(item_id, "raised", stamp) for item_id in summary.new] + events
    now = utcnow()
    insert_rows(
        session,
        QueueEvent,
        (
            {
                "item_id": item_id,
                "at": now,
                "actor": actor,
                "action": action,
                "note": note[:600],
                "data_json": "{}",
            }
            for item_id, action, note in events
        ),
    )
    if events or summary.persisting or summary.unchecked:
        audit.record(
            session,
            actor=actor,
            action="queue.synced",
            object_type="special_account",
            object_id=special_account_id,
            payload={
                "business_date": stamp,
                "raised": summary.new,
                "reopened": summary.reopened,
                "confirmed": summary.confirmed,
                "cleared": summary.cleared,
                "persisting": len(summary.persisting),
                "unchecked": summary.unchecked,
            },
        )
    return summary


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else f"{grouped_yuan(fen)} 元"


def _line_evidence(
    session: Session, special_account_id: int, wanted: set[str], given: Mapping[str, str]
) -> dict[str, Any]:
    """The lines ``wanted`` as the run saw them: from ``given``, else the open items."""
    found = {i: json.loads(given[i]) for i in wanted if i in given}
    missing = sorted(wanted - set(found))
    for chunk in range(0, len(missing), 500):
        for line_id, text in session.execute(
            select(OpenItem.item_id, OpenItem.line_json).where(
                OpenItem.special_account_id == special_account_id,
                OpenItem.item_type == "line",
                OpenItem.item_id.in_(missing[chunk : chunk + 500]),
            )
        ):
            if text:
                found[line_id] = json.loads(text)
    return found


def _carry_over_changed_kinds(
    items: dict[str, QueueItem],
    today: Mapping[str, ReconException],
    created: list[tuple[str, ReconException]],
    evidence: Mapping[str, Any],
    business_date: date,
    events: list[tuple[int, str, str]],
    summary: SyncSummary,
) -> list[tuple[str, ReconException]]:
    """An open item the run no longer finds as it was, whose bank lines tonight's run raises
    in one new exception of another kind (an amount mismatch whose line has left the date
    window of the instalment it names is an unmatched bank line), is still the same money
    nobody has explained: the item takes the new exception over (its kind, figures and
    fingerprint), with the change in its history, instead of closing as if resolved while a
    second item opens. Returns the exceptions still to be raised as new items."""
    by_line: dict[str, list[int]] = {}
    for n, (_fingerprint, x) in enumerate(created):
        for line_id in x.line_ids:
            by_line.setdefault(line_id, []).append(n)
    if not by_line:
        return created
    taken: set[int] = set()
    for fingerprint, item in list(items.items()):
        if fingerprint in today or item.status is not ItemStatus.OPEN:
            continue
        if item.kind in EVENT_KINDS:
            continue
        shared = {n for i in json.loads(item.line_ids_json or "[]") for n in by_line.get(i, ())}
        if len(shared) != 1 or shared & taken:
            continue
        (n,) = shared
        new_fingerprint, x = created[n]
        taken.add(n)
        before = item.kind
        if item.priority == item.severity:
            item.priority = int(x.severity)
        item.kind = x.kind.value
        item.severity = int(x.severity)
        item.fingerprint = new_fingerprint
        item.subject = x.subject[:200]
        item.line_ids_json = json.dumps(list(x.line_ids))
        item.entry_ids_json = json.dumps(list(x.entry_ids))
        item.evidence_json = _evidence_of(x, evidence) or item.evidence_json
        item.expected_fen, item.actual_fen = x.expected_fen, x.actual_fen
        item.explanation = x.explanation[:600]
        item.last_seen = business_date
        item.times_seen += 1
        item.night_state = NightState.PERSISTING
        del items[fingerprint]
        items[new_fingerprint] = item
        events.append(
            (
                item.id,
                "kind_changed",
                f"{business_date}: 同一笔款项，差错类型由 {before} 变为 {item.kind}，仍待处理 "
                f"the same money, now {item.kind} (was {before}): still for a person to resolve",
            )
        )
        summary.persisting.append(item.id)
    return [c for n, c in enumerate(created) if n not in taken]


def _evidence_of(x: ReconException, evidence: Mapping[str, Any]) -> str | None:
    kept = {i: evidence[i] for i in x.line_ids if i in evidence}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True, default=str) if kept else None


def item_evidence(item: QueueItem) -> dict[str, dict[str, Any]]:
    """The bank lines kept with the item (line id -> line), as the run saw them."""
    return dict(json.loads(item.evidence_json)) if item.evidence_json else {}


# --- reading -------------------------------------------------------------------------------


def list_items(
    session: Session,
    *,
    statuses: Iterable[ItemStatus] | None = None,
    special_account_id: int | None = None,
    association_id: int | None = None,
    assignee: str | None = None,
    kind: str | None = None,
) -> list[QueueItem]:
    """Items by priority (highest first), then age; every status but closed by default."""
    wanted = (
        tuple(statuses)
        if statuses is not None
        else tuple(s for s in ItemStatus if s is not ItemStatus.CLOSED)
    )
    query = select(QueueItem).where(QueueItem.status.in_(wanted))
    if special_account_id is not None:
        query = query.where(QueueItem.special_account_id == special_account_id)
    if association_id is not None:
        query = query.where(QueueItem.association_id == association_id)
    if assignee is not None:
        query = query.where(QueueItem.assignee == assignee)
    if kind is not None:
        query = query.where(QueueItem.kind == kind)
    return list(
        session.scalars(
            query.order_by(QueueItem.priority.desc(), QueueItem.first_seen, QueueItem.id)
        )
    )


def get_item(session: Session, item_id: int, *, for_update: bool = False) -> QueueItem:
    """The item; ``for_update`` (every action that changes it) locks its row and reads it
    afresh, so that of two people acting on one item at once the second sees what the first
    did (its state checks then refuse) instead of booking again on what it read before."""
    item = session.get(
        QueueItem, item_id, with_for_update=for_update or None, populate_existing=for_update
    )
    if item is None:
        raise NotFound("差错不存在", f"queue item {item_id} not found", item_id=item_id)
    return item


def history(session: Session, item_id: int) -> list[QueueEvent]:
    get_item(session, item_id)
    return list(
        session.scalars(
            select(QueueEvent).where(QueueEvent.item_id == item_id).order_by(QueueEvent.id)
        )
    )


def item_line_ids(item: QueueItem) -> list[str]:
    return list(json.loads(item.line_ids_json))


def item_entry_ids(item: QueueItem) -> list[str]:
    return list(json.loads(item.entry_ids_json))


def close_gaps_sent_late(
    session: Session, special_account_id: int, days: Sequence[date], *, on: date, actor: str
) -> list[int]:
    """The statement gaps of ``days``, whose statements the bank has now sent and the run of
    ``on`` reconciled with its own: closed as cleared, with that in their history. Returns
    their ids."""
    if not days:
        return []
    subjects = [f"missing:{day.isoformat()}" for day in days]
    closed = []
    for item in session.scalars(
        select(QueueItem).where(
            QueueItem.special_account_id == special_account_id,
            QueueItem.kind == ExceptionKind.STATEMENT_GAP.value,
            QueueItem.subject.in_(subjects),
            QueueItem.status != ItemStatus.CLOSED,
        )
    ):
        item.status = ItemStatus.CLOSED
        item.resolution = Resolution.CLEARED
        item.resolved_by = actor
        item.resolved_at = utcnow()
        _event(
            session,
            item,
            actor=actor,
            action="cleared",
            note=f"{on.isoformat()}: 对账单已补到，已并入当日对账 "
            f"the statement came late and was reconciled with {on.isoformat()}",
        )
        closed.append(item.id)
    return closed


# --- working an item -----------------------------------------------------------------------


def _workable(item: QueueItem, *allowed: ItemStatus) -> None:
    allowed = allowed or (ItemStatus.OPEN,)
    if item.status not in allowed:
        raise Conflict(
            f"差错 {item.id} 当前状态为{state_zh(item.status)}，不能执行此操作",
            f"queue item {item.id} is {item.status.value}: "
            f"this needs {', '.join(s.value for s in allowed)}",
            code="queue_item_state",
        )


def _need_text(text: str, zh: str, en: str) -> str:
    if not text or not text.strip():
        raise ValidationFailed(zh, en)
    return text.strip()


def _unresolved(item: QueueItem) -> None:
    """The item is open again: what was proposed or done about it no longer stands (its
    history keeps it)."""
    item.resolution = None
    item.resolution_note = None
    item.resolved_by = None
    item.resolved_at = None
    item.approved_by = None
    item.proposal_json = None


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two names given for a person are the same person's: "Alice " cannot approve
    alice's request, nor ``--by alice`` one made by ``user:alice`` in the console. Names are
    compared by :func:`gateway.auth.service.person_key`, which no two users share, so two
    accounts are never taken for one person."""
    return a is not None and b is not None and person_key(a) == person_key(b)


def next_date_to_reconcile(session: Session, special_account_id: int) -> date | None:
    last = session.scalar(
        select(func.max(ReconRun.business_date)).where(
            ReconRun.special_account_id == special_account_id
        )
    )
    return None if last is None else last + timedelta(days=1)


def entry_date(
    session: Session, special_account_id: int, on: date | None, *, seen: date, since: date
) -> date:
    """The business date of an entry a person books to put the books right (an adjusting
    entry, a write-off, the undoing of an automatic posting): by default the next date the
    nightly run reconciles; never later, since the bank lines it answers are closed at once
    and a run of a day before the entry would find the books short of the bank; never before
    ``since``, the day the problem (or the posting undone) arose. ``seen`` is the day the
    problem was last seen, the default where the account has no run yet."""
    if on is not None and on < since:
        raise ValidationFailed(
            f"记账日期不能早于问题出现之日 {since}",
            f"the entry cannot be dated before {since}, the day what it answers arose",
        )
    upto = next_date_to_reconcile(session, special_account_id)
    if upto is None:
        return on or seen
    if on is None:
        return upto
    if on > upto:
        raise ValidationFailed(
            f"记账日期不能晚于下一个待对账日 {upto}",
            f"the entry cannot be dated after {upto}, the next date to reconcile: the bank "
            "lines it answers are closed now, so that night would find the books short",
        )
    return on


def _resolved(
    session: Session, item: QueueItem, resolution: Resolution, *, actor: str, note: str
) -> None:
    item.resolution = resolution
    item.resolution_note = note[:600]
    item.resolved_by = actor
    item.resolved_at = utcnow()


def item_scope(session: Session, item: QueueItem) -> ObjectScope:
    """Where the item lives, for the scope checks: its special account's county and bank, and
    its association when it has one."""
    account = session.get(SpecialAccount, item.special_account_id)
    assert account is not None  # a foreign key
    return ObjectScope(
        county_id=account.county_id, association_id=item.association_id, bank_id=account.bank_id
    )


_QUEUE_ROLES = tuple(r for r in Role if Permission.WORK_QUEUE in ROLE_PERMISSIONS[r])


def eligible_assignees(session: Session, item: QueueItem) -> list[User]:
    """Who the item may be assigned to: the active users whose role works the queue and whose
    scope covers the item, by display name (what the console offers; :func:`assign` checks)."""
    scope = item_scope(session, item)
    users = session.scalars(
        select(User)
        .where(User.active.is_(True), User.role.in_(_QUEUE_ROLES))
        .order_by(User.display_name, User.username)
    )
    return [
        user for user in users if _assignee_refusal(session, user, user.username, scope) is None
    ]


def _assignee_refusal(
    session: Session, user: User | None, typed: str, scope: ObjectScope
) -> ValidationFailed | None:
    """Why the user named ``typed`` cannot be given an item of ``scope``, or ``None``. A user
    of another county is answered as one who does not exist, as the scope checks do."""
    principal = principal_for(session, user) if user is not None else None
    if (
        user is None
        or principal is None
        or (principal.role is not Role.ADMIN and principal.home_county_id != scope.county_id)
    ):
        return ValidationFailed(
            f"不能分派给 {typed}：本县没有这个用户",
            f"cannot assign the item to {typed}: there is no such user in its county",
            code="assignee_unknown",
            assignee=typed,
        )
    if not user.active:
        return ValidationFailed(
            f"不能分派给 {typed}：该用户已停用",
            f"cannot assign the item to {typed}: the account is disabled",
            code="assignee_disabled",
            assignee=typed,
        )
    if not principal.has(Permission.WORK_QUEUE):
        zh, en = ROLE_LABELS[user.role]
        return ValidationFailed(
            f"不能分派给 {typed}：{zh}无权处理对账差错",
            f"cannot assign the item to {typed}: a user with the role {en.lower()} cannot "
            "work the mismatch queue",
            code="assignee_cannot_work_queue",
            assignee=typed,
            role=user.role.value,
        )
    if not principal.covers(scope):
        return ValidationFailed(
            f"不能分派给 {typed}：该用户的管辖范围不含此差错",
            f"cannot assign the item to {typed}: their scope does not cover the item",
            code="assignee_out_of_scope",
            assignee=typed,
        )
    return None


def assign(
    session: Session, item_id: int, *, assignee: str, actor: str, priority: int | None = None
) -> QueueItem:
    """Give the item to a person to work: ``assignee`` names an active user whose role works
    the queue and whose scope covers the item (a user name, found as :func:`find_user` finds
    it, and kept as the user's own name); anyone else is refused with the reason, since an
    item given to someone who cannot work it sits unseen."""
    item = get_item(session, item_id, for_update=True)
    if item.status is ItemStatus.CLOSED:
        _workable(item, *(s for s in ItemStatus if s is not ItemStatus.CLOSED))
    typed = _need_text(assignee, "请指定处理人", "an assignee is needed")
    user = find_user(session, typed)
    refusal = _assignee_refusal(session, user, typed, item_scope(session, item))
    if refusal is not None:
        raise refusal
    assert user is not None  # refused otherwise
    before = item.assignee
    item.assignee = user.username
    if priority is not None:
        if not 1 <= priority <= 9:
            raise ValidationFailed("优先级须在 1 到 9 之间", "priority must be between 1 and 9")
        item.priority = priority
    _event(
        session,
        item,
        actor=actor,
        action="assigned",
        note=f"{before or '-'} -> {item.assignee}",
        data={"assignee": item.assignee, "priority": item.priority},
    )
    return item


def _open_lines(
    session: Session, special_account_id: int, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    rows = session.scalars(
        select(OpenItem).where(
            OpenItem.special_account_id == special_account_id,
            OpenItem.item_type == "line",
            OpenItem.item_id.in_(list(ids)),
        )
    )
    return {row.item_id: json.loads(row.line_json or "{}") for row in rows}


def _open_entries(session: Session, special_account_id: int, ids: Sequence[str]) -> set[str]:
    return set(
        session.scalars(
            select(OpenItem.item_id).where(
                OpenItem.special_account_id == special_account_id,
                OpenItem.item_type == "entry",
                OpenItem.item_id.in_(list(ids)),
            )
        )
    )


def _close_open_items(
    session: Session, special_account_id: int, lines: Iterable[str], entries: Iterable[str]
) -> int:
    """Take the lines and entries out of the open items; returns how many were open."""
    closed = 0
    for item_type, ids in (("line", list(lines)), ("entry", list(entries))):
        if ids:
            result = session.execute(
                delete(OpenItem)
                .where(
                    OpenItem.special_account_id == special_account_id,
                    OpenItem.item_type == item_type,
                    OpenItem.item_id.in_(ids),
                )
                .execution_options(synchronize_session=False)
            )
            closed += getattr(result, "rowcount", 0)
    return closed


def _signed_lines(lines: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(int(d["amount_fen"]) * (1 if d["credit"] else -1) for d in lines.values())


def _open_money(
    session: Session, item: QueueItem
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]]]:
    """The item's own bank lines and book entries still open (one matched or reversed since
    is no longer the item's money): the lines as the run kept them, and each entry's signed
    amount (into the sub-account) and association."""
    account = item.special_account_id
    lines = _open_lines(session, account, item_line_ids(item))
    entries = sorted(_open_entries(session, account, item_entry_ids(item)))
    return lines, entry_amounts(session, account, entries)


def _all_accounted_for(session: Session, item: QueueItem) -> bool:
    """Whether the item is about bank lines or book entries none of which is open any more:
    each was matched or reversed since (a return the books reversed, say), so nothing of the
    item is left to match or to book."""
    lines, entries = _open_money(session, item)
    return bool(item_line_ids(item) or item_entry_ids(item)) and not (lines or entries)


_ACCOUNTED_FOR_ZH = "该差错涉及的银行流水和账务都已对上（已匹配或已冲销）"
_ACCOUNTED_FOR_EN = (
    "the bank lines and book entries of this item are all accounted for (matched or reversed)"
)


def _signed_yuan(fen: int) -> str:
    return f"+{grouped_yuan(fen)}" if fen > 0 else grouped_yuan(fen)


def _line_words(line_id: str, line: Mapping[str, Any] | None) -> tuple[str, str]:
    """A bank line as staff know it (day, signed amount, who and what), Chinese and English;
    the line's id only when nothing else is known of it."""
    if not line or line.get("amount_fen") is None:
        return f"银行流水（编号 {line_id}）", f"bank line (number {line_id})"
    amount = int(line["amount_fen"]) * (1 if line.get("credit") else -1)
    said = " ".join(str(t) for t in (line.get("counterparty_name"), line.get("remittance")) if t)
    said = said[:60]
    day = line.get("booking_date") or ""
    return (
        f"银行流水 {day} {_signed_yuan(amount)} {said}".strip(),
        f"bank line {day} {_signed_yuan(amount)} {said}".strip(),
    )


def _entry_words(
    session: Session, special_account_id: int, entry_ids: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """Book entries as staff know them (day, signed amount, description), Chinese and English;
    an entry the journal does not hold is named by its id."""
    amounts = entry_amounts(session, special_account_id, entry_ids)
    transactions = {t: e for e in entry_ids if (t := transaction_id_of(e)) is not None}
    found: dict[str, tuple[str, str]] = {}
    if transactions:
        for transaction_id, day, text in session.execute(
            select(
                JournalTransaction.id,
                JournalTransaction.business_date,
                JournalTransaction.description,
            ).where(JournalTransaction.id.in_(list(transactions)))
        ):
            entry_id = transactions[transaction_id]
            amount = _signed_yuan(amounts[entry_id][0]) if entry_id in amounts else ""
            found[entry_id] = (
                f"账务 {day} {amount} {text[:60]}",
                f"book entry {day} {amount} {text[:60]}",
            )
    return {e: found.get(e, (f"账务（编号 {e}）", f"book entry (number {e})")) for e in entry_ids}


def _match(
    session: Session,
    item: QueueItem,
    lines: Sequence[str],
    entries: Sequence[str],
    *,
    actor: str,
    allow_unbalanced: bool = False,
) -> int:
    """Record lines and entries as matched and take them out of the open items; returns the
    signed difference (lines minus entries), which must be zero unless allowed."""
    account = item.special_account_id
    found_lines = _open_lines(session, account, lines)
    open_entries = _open_entries(session, account, entries)
    gone_lines = [i for i in lines if i not in found_lines]
    gone_entries = [e for e in entries if e not in open_entries]
    if gone_lines or gone_entries:
        evidence = item_evidence(item)
        words = [_line_words(i, evidence.get(i)) for i in gone_lines[:5]]
        entry_words = _entry_words(session, account, gone_entries[:5])
        words += [entry_words[e] for e in gone_entries[:5]]
        raise Conflict(
            "以下银行流水或账务不在未达项中（已被匹配或冲销，或记账后尚未经过对账）："
            f"{'；'.join(zh for zh, _ in words[:5])}。请刷新页面后按现有未达项处理",
            "these bank lines or book entries are not open (matched or reversed since, or "
            f"not reconciled yet since they were booked): {'; '.join(en for _, en in words[:5])}"
            ". Reload the page and work with what is open",
            code="not_open",
            lines=gone_lines,
            entries=gone_entries,
        )
    amounts = entry_amounts(session, account, entries)
    owners = _owners(
        session,
        account,
        found_lines,
        {e: amounts[e] for e in entries if e in amounts},
        unheld=item.association_id,
    )
    if len(owners) > 1:
        zh, en = _owners_in_words(session, account, owners, found_lines)
        raise RuleViolation(
            f"不能跨协会匹配：所选银行流水和账务分属不同协会（{zh}）。各协会的资金不得跨村，"
            "人工匹配只能匹配同一协会子账户的流水和记入该协会的账务",
            f"a manual match cannot pair the money of different associations ({en}): no "
            "association's funds may cross to another village, so a match takes only lines on "
            "one association's sub-account and entries booked to that association",
            code="match_across_associations",
            associations=sorted(i for i in owners if i is not None),
        )
    entry_sum = sum(amounts[e][0] for e in entries if e in amounts)
    difference = _signed_lines(found_lines) - entry_sum
    if difference != 0 and not allow_unbalanced:
        raise RuleViolation(
            f"人工匹配金额不符：流水合计与账务合计相差 {grouped_yuan(difference)} 元",
            "manual match does not balance: lines minus entries is "
            f"{grouped_yuan(difference)} yuan",
            code="match_unbalanced",
        )
    session.add(
        ManualMatch(
            special_account_id=account,
            queue_item_id=item.id,
            line_ids_json=json.dumps(sorted(lines)),
            entry_ids_json=json.dumps(sorted(entries)),
            amount_fen=_signed_lines(found_lines),
            actor=actor,
        )
    )
    if _close_open_items(session, account, lines, entries) != len({*lines}) + len({*entries}):
        # another person's match took one of them between our reading and our taking it
        raise Conflict(
            "流水或账务刚被他人匹配，请刷新后重试",
            "a line or entry was just matched by someone else: look again and retry",
            code="not_open",
        )
    return difference


def resolve_manual_match(
    session: Session,
    item_id: int,
    *,
    actor: str,
    line_ids: Sequence[str] | None = None,
    entry_ids: Sequence[str] | None = None,
    note: str = "",
) -> QueueItem:
    """Match bank lines to book entries by hand (the item's own unless others are named);
    the signed sums must agree to the fen."""
    item = get_item(session, item_id, for_update=True)
    _workable(item)
    if about_the_statement(item):
        raise RuleViolation(
            "对账单缺失或不连续、不平，是银行对账单本身的问题，没有可人工匹配的流水和账务：请向"
            "银行反映（银行差错跟进），或说明理由后驳回",
            "a statement missing, not following on or not adding up is a fault of the bank's "
            "statement, with no lines or entries to match: follow it up with the bank (bank "
            "error) or dismiss it with a justification",
            code="statement_not_matchable",
        )
    if _all_accounted_for(session, item):
        raise RuleViolation(
            f"{_ACCOUNTED_FOR_ZH}，没有可人工匹配的内容：请说明理由后驳回",
            f"{_ACCOUNTED_FOR_EN}: there is nothing to match; dismiss it with a justification",
            code="nothing_left_to_match",
        )
    lines = list(line_ids) if line_ids is not None else item_line_ids(item)
    entries = list(entry_ids) if entry_ids is not None else item_entry_ids(item)
    if not lines and not entries:
        raise ValidationFailed("请指定要匹配的流水和账务", "name the lines and entries to match")
    _match(session, item, lines, entries, actor=actor)
    _resolved(session, item, Resolution.MANUAL_MATCH, actor=actor, note=note)
    item.status = ItemStatus.RESOLVED
    _event(
        session,
        item,
        actor=actor,
        action="resolved",
        note=note,
        data={"resolution": "manual_match", "lines": lines, "entries": entries},
    )
    return item


@dataclass(frozen=True)
class MatchCandidate:
    """An open bank line or book entry of the item's special account, offered for a manual
    match: its id, the day it has been open since, its signed amount (into the sub-account)
    and what it says; ``own`` when it is one of the item's own; ``association`` whose money it
    is (code and name: a line's by its sub-account, an entry's by its books; empty for a line
    on a sub-account no association holds), since a match takes one association's only."""

    kind: str  # line | entry
    item_id: str
    since: date
    amount_fen: int | None
    text: str
    own: bool
    association_id: int | None = None
    association: str = ""


def match_candidates(
    session: Session, item: QueueItem, *, limit: int = 100
) -> list[MatchCandidate]:
    """What a manual match of ``item`` may take: the item's own lines and entries that are
    still open, then the other open lines and entries of its special account (those of the
    association whose money the item is first), oldest first, at most ``limit`` besides its
    own. Each says whose money it is."""
    own = set(item_line_ids(item)) | set(item_entry_ids(item))
    query = select(OpenItem).where(OpenItem.special_account_id == item.special_account_id)
    if own:
        query = query.where(OpenItem.item_id.not_in(own))
    rows = list(session.scalars(query.order_by(OpenItem.since, OpenItem.id).limit(limit * 4)))
    if own:
        rows = (
            list(
                session.scalars(
                    select(OpenItem).where(
                        OpenItem.special_account_id == item.special_account_id,
                        OpenItem.item_id.in_(own),
                    )
                )
            )
            + rows
        )
    entry_ids = [r.item_id for r in rows if r.item_type == "entry"]
    amounts = entry_amounts(session, item.special_account_id, entry_ids)
    transactions = {t: e for e in entry_ids if (t := transaction_id_of(e)) is not None}
    descriptions = {
        transactions[t]: text
        for t, text in session.execute(
            select(JournalTransaction.id, JournalTransaction.description).where(
                JournalTransaction.id.in_(list(transactions))
            )
        )
    }
    lines = {r.item_id: json.loads(r.line_json or "{}") for r in rows if r.item_type == "line"}
    # whose money each is: a line on a sub-account no association holds is nobody's here
    owner = {
        i: association_id
        for association_id, (line_ids, entries) in _owners(
            session, item.special_account_id, lines, amounts, unheld=None
        ).items()
        for i in (*line_ids, *entries)
    }
    names = {
        a.id: f"{a.code} {a.name}"
        for a in session.scalars(
            select(Association).where(
                Association.id.in_({i for i in owner.values() if i is not None})
            )
        )
    }
    found: list[MatchCandidate] = []
    for row in rows:
        if row.item_type == "line":
            line = lines[row.item_id]
            amount = line.get("amount_fen")
            signed = None if amount is None else int(amount) * (1 if line.get("credit") else -1)
            text = f"{line.get('counterparty_name') or ''} {line.get('remittance') or ''}"
        else:
            signed = amounts[row.item_id][0] if row.item_id in amounts else None
            text = descriptions.get(row.item_id, "")
        association_id = owner.get(row.item_id)
        found.append(
            MatchCandidate(
                kind=row.item_type,
                item_id=row.item_id,
                since=row.since,
                amount_fen=signed,
                text=text.strip()[:120],
                own=row.item_id in own,
                association_id=association_id,
                association=names.get(association_id, "") if association_id is not None else "",
            )
        )
    mine = [c for c in found if c.own]
    others = [c for c in found if not c.own]
    home = _money_association(session, item)
    if home is not None:
        others.sort(key=lambda c: c.association_id != home)  # stable: oldest first in each
    return mine + others[:limit]


def _adjustment_amount(session: Session, item: QueueItem) -> int:
    """What the books must move (signed, into the sub-account) so the item's lines and entries
    still open agree (one matched or reversed since is no longer the item's money); for an
    item about no line or entry (a balance break), the bank's figure less the books'."""
    if item_line_ids(item) or item_entry_ids(item):
        lines, entries = _open_money(session, item)
        return _signed_lines(lines) - sum(amount for amount, _ in entries.values())
    if item.actual_fen is None or item.expected_fen is None:
        return 0
    return item.actual_fen - item.expected_fen


def _nothing_to_book(session: Session, item: QueueItem, what_zh: str, what_en: str) -> HuzhuError:
    """The refusal of an adjusting entry or write-off for an item with no difference."""
    if _all_accounted_for(session, item):
        return RuleViolation(
            f"{_ACCOUNTED_FOR_ZH}，没有{what_zh}的金额：请说明理由后驳回",
            f"{_ACCOUNTED_FOR_EN}: there is nothing {what_en}; dismiss it with a justification",
            code="nothing_to_book",
        )
    return ValidationFailed(
        f"该差错没有{what_zh}的金额，请用人工匹配或驳回",
        f"nothing {what_en}: use a manual match or a dismissal",
        code="nothing_to_book",
    )


# The subject of a balance break between the bank's own figures: its opening plus the day's
# lines is not its closing (the one between the bank and the books is ``ledger:<sub>``).
STATEMENT_BREAK_PREFIX = "statement:"


def is_statement_break(item: QueueItem) -> bool:
    """A balance break between the bank's own figures (``statement:<sub>``)."""
    return item.kind == ExceptionKind.BALANCE_BREAK.value and item.subject.startswith(
        STATEMENT_BREAK_PREFIX
    )


def _sub_account_association(session: Session, item: QueueItem) -> int | None:
    """The association of the item's special account holding the item's sub-account, if any
    (a sub-account number of another special account names no association here)."""
    if item.sub_account is None:
        return None
    return session.scalar(
        select(Association.id).where(
            Association.special_account_id == item.special_account_id,
            Association.sub_account_number == item.sub_account,
        )
    )


def _owners(
    session: Session,
    special_account_id: int,
    lines: Mapping[str, Mapping[str, Any]],
    entries: Mapping[str, tuple[int, int]],
    *,
    unheld: int | None,
) -> dict[int | None, tuple[list[str], list[str]]]:
    """Whose money the lines and entries are: association id -> (its line ids, its entry
    ids). An entry is the money of the association it is booked to; a line that of the
    association of the special account holding its sub-account. A line whose sub-account no
    association there holds (one naming another county's sub-account) is ``unheld``'s: the
    association a person handed the item to, ``None`` until they have."""
    subs = sorted({str(line["sub_account"]) for line in lines.values() if line.get("sub_account")})
    holders: dict[str, int] = {}
    if subs:
        holders = {
            sub: association_id
            for sub, association_id in session.execute(
                select(Association.sub_account_number, Association.id).where(
                    Association.special_account_id == special_account_id,
                    Association.sub_account_number.in_(subs),
                )
            )
        }
    owners: dict[int | None, tuple[list[str], list[str]]] = {}
    for line_id, line in lines.items():
        holder = holders.get(str(line.get("sub_account") or ""), unheld)
        owners.setdefault(holder, ([], []))[0].append(line_id)
    for entry_id, (_, association_id) in entries.items():
        owners.setdefault(association_id, ([], []))[1].append(entry_id)
    return owners


def _owners_in_words(
    session: Session,
    special_account_id: int,
    owners: Mapping[int | None, tuple[list[str], list[str]]],
    lines: Mapping[str, Mapping[str, Any]],
) -> tuple[str, str]:
    """Each association (code and name) with the lines and entries that are its money, as
    staff know them, Chinese and English."""
    names: dict[int | None, tuple[str, str]] = {
        a.id: (f"{a.code} {a.name}", f"{a.code} {a.name}")
        for a in session.scalars(
            select(Association).where(Association.id.in_([i for i in owners if i is not None]))
        )
    }
    names[None] = (
        "不属于本专户任何协会的子账户（请先改归到该笔钱所属的协会）",
        "a sub-account no association of the special account holds (reassign the item to the "
        "association whose money it is first)",
    )
    entry_words = _entry_words(
        session, special_account_id, [e for _, entries in owners.values() for e in entries]
    )
    zh: list[str] = []
    en: list[str] = []
    for association_id in sorted(owners, key=lambda i: names.get(i, ("", ""))[0]):
        line_ids, entry_ids = owners[association_id]
        words = [_line_words(i, lines.get(i)) for i in line_ids[:3]]
        words += [entry_words[e] for e in entry_ids[:3]]
        name_zh, name_en = names.get(association_id, (str(association_id), str(association_id)))
        zh.append(f"{name_zh}：{'、'.join(w for w, _ in words)}")
        en.append(f"{name_en}: {', '.join(w for _, w in words)}")
    return "；".join(zh), "; ".join(en)


def _statement_gap_refusal(item: QueueItem) -> RuleViolation:
    """Why a statement gap is nothing to book: a day's statement the bank has not sent, or a
    statement that does not follow on from the one before."""
    day = item.subject.rsplit(":", 1)[-1]
    if item.subject.startswith("missing:"):
        return RuleViolation(
            f"缺少 {day} 的银行对账单：这是银行没有送来对账单，不是账上的差额，调整分录或核销"
            "都不能记。请向银行索取该日对账单（银行差错跟进），对账单补到并对账后本项自动关闭；"
            "或说明理由后驳回",
            f"the bank's statement for {day} is missing: a statement the bank has not sent is "
            "no difference in the books, and neither an adjusting entry nor a write-off may be "
            "booked for it. Ask the bank for that day's statement (bank error); the item closes "
            "once the statement arrives and is reconciled. Or dismiss it with a justification",
            code="statement_gap_not_bookable",
        )
    return RuleViolation(
        f"银行 {day} 对账单的期初余额不等于上一份对账单的期末余额：这是银行对账单本身不连续，"
        "账上记一笔纠正不了。请向银行反映（银行差错跟进），或说明理由后驳回；账面与银行的差额"
        "在子账户的余额差错中处理",
        f"the opening balance of the bank's statement of {day} is not the closing of the "
        "statement before: the bank's statements do not follow on, which no entry in the books "
        "can put right. Follow it up with the bank (bank error) or dismiss it with a "
        "justification; a difference between the books and the bank is worked on the "
        "sub-account's balance item",
        code="statement_gap_not_bookable",
    )


def about_the_statement(item: QueueItem) -> bool:
    """Whether the item is about the bank's statement itself (a day's statement missing, one
    not following on, one not adding up), not about any line or entry: nothing to match by
    hand or to book, only to raise with the bank or dismiss."""
    return item.kind == ExceptionKind.STATEMENT_GAP.value or is_statement_break(item)


def _bookable(session: Session, item: QueueItem) -> None:
    """Whether an adjusting entry or a write-off may be booked for the item at all: only for
    money that is one association's, its lines and entries still open (or, for a balance
    break, the difference on a sub-account an association of the special account holds).

    A break in the bank's own statement (``statement:<sub>``) is nothing the books can put
    right: the same difference between the bank and the books is its ``ledger:<sub>`` item,
    and an entry for each would book the money twice. Nor is a statement gap, a day's
    statement the bank did not send or one that does not follow on (its figures are the
    whole special account's, no association's), nor a repeated bank line (a copy is no money;
    an original still open is its own item's). An entry booked for the item is matched with
    the item's own entries, which must be book entries: an instalment the books only expect
    (``s:`` ids, an amount mismatch with a borrower's transfer) is settled in the borrower's
    loan, then matched by hand. Lines and entries of more than one association are refused:
    one association's books would take another's money (rule 1)."""
    if is_statement_break(item):
        raise RuleViolation(
            "银行对账单本身不平（期初加当日流水不等于期末），账上记一笔纠正不了：请向银行反映"
            "（银行差错跟进），或说明理由后驳回；账面与银行的差额在该子账户的账面差错中处理",
            "the bank's own statement does not add up (its opening plus the day's lines is not "
            "its closing), which no entry in the books can put right: follow it up with the "
            "bank (bank error) or dismiss it with a justification; the difference between the "
            "books and the bank is worked on the sub-account's ledger item",
            code="statement_break_not_bookable",
        )
    if item.kind == ExceptionKind.STATEMENT_GAP.value:
        raise _statement_gap_refusal(item)
    if item.kind in _COPY_KINDS:
        raise RuleViolation(
            "重复的银行流水不是另一笔钱，账上不能为它记调整分录或核销：请向银行核实是否重复记账"
            "（银行差错跟进），或说明理由后驳回；原流水如未对上，在它自己的差错中处理",
            "a repeated bank line is no money of its own, and neither an adjusting entry nor a "
            "write-off may be booked for it: ask the bank whether it booked it twice (bank "
            "error) or dismiss it with a justification; an original line still unmatched is "
            "worked on its own item",
            code="duplicate_not_bookable",
        )
    expected = [e for e in item_entry_ids(item) if e.startswith(EXPECTED_PREFIX)]
    if expected:
        raise ValidationFailed(
            f"差错涉及应收未收的还款计划 {expected[0]}：请在借款中登记实际还款后人工匹配",
            f"the item involves an expected instalment ({expected[0]}), not a book entry: "
            "record the repayment on the loan and match it by hand",
        )
    if (
        item.kind == ExceptionKind.BALANCE_BREAK.value
        and _sub_account_association(session, item) is None
    ):
        sub = item.sub_account or "—"
        raise RuleViolation(
            f"子账户 {sub} 不属于本专户的任何协会，它的差额不能记入任何协会的账（改归也不行）："
            "请向银行核实该子账户（银行差错跟进），或说明理由后驳回",
            f"sub-account {sub} is held by no association of this special account: its "
            "difference cannot go to any association's books, reassigned or not; ask the bank "
            "about the sub-account (bank error) or dismiss it with a justification",
            code="sub_account_of_no_association",
            sub_account=item.sub_account,
        )
    lines, entries = _open_money(session, item)
    owners = _owners(session, item.special_account_id, lines, entries, unheld=item.association_id)
    if len(owners) > 1:
        zh, en = _owners_in_words(session, item.special_account_id, owners, lines)
        raise RuleViolation(
            f"该差错的银行流水和账务分属不同协会（{zh}）。调整分录或核销只能记入一个协会的账，"
            "各协会的资金不得跨村：请把记错协会的账务冲销后记入所属协会，或向银行反映"
            "（银行差错跟进）",
            f"the bank lines and book entries of this item are the money of different "
            f"associations ({en}). An adjusting entry or a write-off goes to one association's "
            "books, and no association's funds may cross to another village: reverse what was "
            "booked to the wrong association and book it to its own, or follow it up with the "
            "bank (bank error)",
            code="money_of_several_associations",
            associations=sorted(i for i in owners if i is not None),
        )


def _money_association(session: Session, item: QueueItem) -> int | None:
    """The association whose money the item is (see :func:`_association_id`), ``None`` when
    nothing says."""
    lines, entries = _open_money(session, item)
    owners = _owners(session, item.special_account_id, lines, entries, unheld=item.association_id)
    if len(owners) == 1 and (owner := next(iter(owners))) is not None:
        return owner
    found = _sub_account_association(session, item)
    return found if found is not None else item.association_id


def _association_id(session: Session, item: QueueItem) -> int:
    """The association whose books an entry resolving the item goes to: the one of the item's
    special account whose sub-account the money is in, whoever the item was handed to; else
    the item's own (the one it was reassigned to). A sub-account number of another special
    account (a line naming another county's sub-account) names no association here.

    Where the item's lines and entries still open are one association's money (by the
    sub-accounts of the lines, the associations the entries are booked to), it is that one:
    the entry is matched with them (``_bookable`` refuses money of several)."""
    found = _money_association(session, item)
    if found is not None:
        return found
    why_zh, why_en = (
        (
            f"（子账户 {item.sub_account} 不属于本专户的任何协会）",
            f" (sub-account {item.sub_account} is none of its special account's)",
        )
        if item.sub_account is not None
        else ("", "")
    )
    raise ValidationFailed(
        f"无法确定该差错所属协会{why_zh}，请先改归本专户下的协会",
        f"the item belongs to no association{why_en}: reassign it first to an association of "
        "its special account",
        code="no_association",
        sub_account=item.sub_account,
    )


def resolve_adjusting_entry(
    session: Session,
    item_id: int,
    *,
    actor: str,
    reason: str,
    counter_account: AccountCode = AccountCode.SUSPENSE,
    on: date | None = None,
    config: QueueConfig | None = None,
) -> QueueItem:
    """Post an adjusting entry for the difference the item shows, with a reason.

    The amount is the item's own difference (its lines less its entries, or the bank's figure
    less the books' for a balance break). Above ``approval_above_fen`` it waits for a second
    person (:func:`approve_adjustment`); otherwise it is posted at once.
    """
    config = config or QueueConfig()
    item = get_item(session, item_id, for_update=True)
    _workable(item)
    reason = _need_text(reason, "调整分录必须说明原因", "an adjusting entry needs a reason")
    if counter_account is AccountCode.BANK_SUB_ACCOUNT:
        raise ValidationFailed("对方科目不能是银行存款", "the counter account cannot be 1002")
    if counter_account is AccountCode.WRITE_OFF:
        raise ValidationFailed(
            "核销须提出核销申请，由另一人审批",
            "a write-off (5101) is requested as a write-off, for a second person to decide",
        )
    _bookable(session, item)
    amount = _adjustment_amount(session, item)
    if amount == 0:
        raise _nothing_to_book(session, item, "需要调整", "to adjust")
    _association_id(session, item)  # refused now, not when the second person approves
    on = entry_date(
        session, item.special_account_id, on, seen=item.last_seen, since=item.first_seen
    )
    proposal = {
        "amount_fen": amount,
        "counter_account": counter_account.value,
        "reason": reason,
        "on": on.isoformat(),
        "proposed_by": actor,
    }
    item.proposal_json = json.dumps(proposal, ensure_ascii=False, sort_keys=True)
    if abs(amount) > config.approval_above_fen:
        item.status = ItemStatus.AWAITING_APPROVAL
        _resolved(session, item, Resolution.ADJUSTING_ENTRY, actor=actor, note=reason)
        _event(
            session,
            item,
            actor=actor,
            action="adjustment_proposed",
            note=reason,
            data={**proposal, "needs_approval_above_fen": config.approval_above_fen},
        )
        return item
    _post_adjustment(session, item, proposal, actor=actor, approver=None)
    return item


def approve_adjustment(session: Session, item_id: int, *, actor: str, note: str = "") -> QueueItem:
    """A second person approves a proposed adjusting entry, which is then posted; their
    ``note`` (what they checked) is kept in the item's history and the audit log.

    The entry is posted only for the difference the item still shows: one that has changed
    since the proposal (the bank took part of the money back, say) is refused, for the
    proposal to be rejected and made again, as for a write-off request."""
    item = get_item(session, item_id, for_update=True)
    _workable(item, ItemStatus.AWAITING_APPROVAL)
    proposal = json.loads(item.proposal_json or "{}")
    if same_person(actor, proposal.get("proposed_by")):
        raise RuleViolation(
            "调整分录须由另一人复核",
            "an adjusting entry above the limit needs a second person to approve it",
            code="second_person_required",
        )
    _bookable(session, item)
    amount = int(proposal["amount_fen"])
    current = _adjustment_amount(session, item)
    if current == 0:
        raise RuleViolation(
            "该差错已没有需要调整的金额，请退回调整分录",
            "the item has no difference left to adjust: reject the adjusting entry",
            code="nothing_to_adjust",
        )
    if current != amount:
        raise Conflict(
            f"差错金额已变动（提出时 {grouped_yuan(amount)} 元，现为 {grouped_yuan(current)} 元），"
            "请退回后按现差额重新提出",
            f"the item's difference has changed since the adjusting entry was proposed "
            f"({grouped_yuan(amount)} yuan, now {grouped_yuan(current)} yuan): reject it and "
            "propose it again",
            code="adjustment_amount_changed",
        )
    _post_adjustment(
        session,
        item,
        proposal,
        actor=proposal["proposed_by"],
        approver=actor,
        review_note=note.strip(),
    )
    return item


def reject_adjustment(session: Session, item_id: int, *, actor: str, note: str) -> QueueItem:
    item = get_item(session, item_id, for_update=True)
    _workable(item, ItemStatus.AWAITING_APPROVAL)
    note = _need_text(note, "退回须说明原因", "a rejection needs a reason")
    item.status = ItemStatus.OPEN
    _unresolved(item)
    _event(session, item, actor=actor, action="adjustment_rejected", note=note)
    return item


def _book_difference(
    session: Session,
    item: QueueItem,
    *,
    amount: int,
    counter: AccountCode,
    memo: str,
    description: str,
    kind: TransactionKind,
    on: date,
    actor: str,
    booked_by: str,
) -> JournalTransaction:
    """Post ``amount`` (signed, into the sub-account) between the bank sub-account and
    ``counter`` and match the new entry with the item's lines and entries, so the next run
    finds nothing left of the item (or raises it again if the books still disagree)."""
    association_id = _association_id(session, item)
    bank = (
        ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, amount, f"差错 {item.id}")
        if amount > 0
        else ledger.Posting.credit(AccountCode.BANK_SUB_ACCOUNT, -amount, f"差错 {item.id}")
    )
    other = (
        ledger.Posting.credit(counter, amount, memo[:200])
        if amount > 0
        else ledger.Posting.debit(counter, -amount, memo[:200])
    )
    transaction = ledger.post(
        session,
        association_id=association_id,
        business_date=on,
        description=description[:400],
        kind=kind,
        legs=[bank, other],
        channel=LedgerChannel.INTERNAL,
        external_ref=f"queue:{item.id}",
        actor=booked_by,
    )
    new_entry = entry_id_of(transaction.id)
    # the item's lines and entries still open, the money ``amount`` answers
    still_open_lines, still_open_entries = _open_money(session, item)
    lines, entries = list(still_open_lines), list(still_open_entries)
    session.add(
        OpenItem(
            special_account_id=item.special_account_id,
            item_type="entry",
            item_id=new_entry,
            since=on,
        )
    )
    session.flush()
    _match(
        session,
        item,
        lines,
        [*entries, new_entry],
        actor=actor,
        allow_unbalanced=not lines and not entries,
    )
    return transaction


def _post_adjustment(
    session: Session,
    item: QueueItem,
    proposal: Mapping[str, Any],
    *,
    actor: str,
    approver: str | None,
    review_note: str = "",
) -> None:
    """Book a proposed adjusting entry; ``review_note`` is what the approver wrote, shown as
    the approval's note in the history (the proposal's reason otherwise)."""
    amount = int(proposal["amount_fen"])
    reason = str(proposal["reason"])
    transaction = _book_difference(
        session,
        item,
        amount=amount,
        counter=AccountCode(proposal["counter_account"]),
        memo=reason,
        description=f"对账调整 reconciliation adjustment (差错 {item.id})：{reason}",
        kind=TransactionKind.ADJUSTMENT,
        on=date.fromisoformat(proposal["on"]),
        actor=actor,
        booked_by=approver or actor,
    )
    _resolved_by_posting(
        item, Resolution.ADJUSTING_ENTRY, reason, transaction.id, by=actor, approver=approver
    )
    _event(
        session,
        item,
        actor=approver or actor,
        action="adjustment_approved" if approver else "resolved",
        note=review_note or reason,
        data={
            "resolution": "adjusting_entry",
            "amount_fen": amount,
            "journal_transaction_id": str(transaction.id),
            "proposed_by": actor,
            "approved_by": approver,
            **({"reason": reason, "review_note": review_note} if review_note else {}),
        },
    )


def resolve_bank_error(session: Session, item_id: int, *, actor: str, note: str) -> QueueItem:
    """The bank is in error: follow it up and wait for its correction; the run closes the item
    once the problem is gone."""
    item = get_item(session, item_id, for_update=True)
    _workable(item)
    note = _need_text(note, "请记录向银行反映的情况", "record what was raised with the bank")
    item.status = ItemStatus.WAITING_BANK
    _resolved(session, item, Resolution.BANK_ERROR, actor=actor, note=note)
    _event(session, item, actor=actor, action="bank_follow_up", note=note)
    return item


def request_write_off(session: Session, item_id: int, *, actor: str, note: str) -> QueueItem:
    """Ask for the item's difference to be written off; the item waits for a second person to
    decide (:func:`approve_write_off`, :func:`reject_write_off`).

    The amount asked for is the item's own difference, as for an adjusting entry, and is kept
    with the request so the reviewer decides on the figure the requester saw."""
    item = get_item(session, item_id, for_update=True)
    _workable(item)
    note = _need_text(note, "核销申请须说明理由", "a write-off request needs its grounds")
    _bookable(session, item)
    amount = _adjustment_amount(session, item)
    if amount == 0:
        raise _nothing_to_book(session, item, "可核销", "to write off")
    _association_id(session, item)
    request = {"amount_fen": amount, "reason": note, "requested_by": actor}
    item.proposal_json = json.dumps(request, ensure_ascii=False, sort_keys=True)
    item.status = ItemStatus.WRITE_OFF_REVIEW
    _resolved(session, item, Resolution.WRITE_OFF, actor=actor, note=note)
    _event(session, item, actor=actor, action="write_off_requested", note=note, data=request)
    return item


def _write_off_request(item: QueueItem, actor: str) -> dict[str, Any]:
    """The pending request of an item under write-off review, refused to its requester."""
    _workable(item, ItemStatus.WRITE_OFF_REVIEW)
    request: dict[str, Any] = json.loads(item.proposal_json or "{}")
    requested_by = request.get("requested_by") or item.resolved_by
    if same_person(actor, requested_by):
        raise RuleViolation(
            "核销申请须由申请人以外的另一人审批",
            "a write-off request is decided by someone other than the person who made it",
            code="second_person_required",
        )
    request["requested_by"] = requested_by
    return request


def approve_write_off(
    session: Session, item_id: int, *, actor: str, on: date | None = None, note: str = ""
) -> QueueItem:
    """A second person approves a write-off request: the difference is booked against
    呆坏账核销 (5101) on ``on`` (a shortfall as a loss, Dr 5101 / Cr 1002; a surplus the other
    way), the item is resolved and the next run confirms it or reopens it. The approver's
    ``note`` is kept in the item's history and the audit log."""
    item = get_item(session, item_id, for_update=True)
    request = _write_off_request(item, actor)
    _bookable(session, item)
    current = _adjustment_amount(session, item)
    amount = int(request.get("amount_fen", current))  # a request made before amounts were kept
    if current == 0:
        raise RuleViolation(
            "该差错已没有可核销的金额，请退回申请",
            "the item has no difference left to write off: reject the request",
            code="nothing_to_write_off",
        )
    if current != amount:
        raise Conflict(
            f"差错金额已变动（申请时 {grouped_yuan(amount)} 元，现为 {grouped_yuan(current)} 元），"
            "请退回后重新申请",
            f"the item's difference has changed since the request ({grouped_yuan(amount)} "
            f"yuan, now {grouped_yuan(current)} yuan): reject it and request again",
            code="write_off_amount_changed",
        )
    reason = str(request.get("reason") or item.resolution_note or "")
    requested_by = str(request["requested_by"])
    on = entry_date(
        session, item.special_account_id, on, seen=item.last_seen, since=item.first_seen
    )
    transaction = _book_difference(
        session,
        item,
        amount=amount,
        counter=AccountCode.WRITE_OFF,
        memo=reason,
        description=f"对账核销 reconciliation write-off (差错 {item.id})：{reason}",
        kind=TransactionKind.WRITE_OFF,
        on=on,
        actor=requested_by,
        booked_by=actor,
    )
    _resolved_by_posting(
        item, Resolution.WRITE_OFF, reason, transaction.id, by=requested_by, approver=actor
    )
    _event(
        session,
        item,
        actor=actor,
        action="write_off_approved",
        note=note.strip() or reason,
        data={
            "resolution": "write_off",
            "amount_fen": amount,
            "on": on.isoformat(),
            "journal_transaction_id": str(transaction.id),
            "requested_by": requested_by,
            "approved_by": actor,
            **({"reason": reason, "review_note": note.strip()} if note.strip() else {}),
        },
    )
    return item


def reject_write_off(session: Session, item_id: int, *, actor: str, note: str) -> QueueItem:
    """A second person turns a write-off request down with a reason; the item is open again
    and its history keeps the request and the rejection."""
    item = get_item(session, item_id, for_update=True)
    request = _write_off_request(item, actor)
    note = _need_text(note, "退回须说明原因", "a rejection needs a reason")
    item.status = ItemStatus.OPEN
    _unresolved(item)
    _event(
        session,
        item,
        actor=actor,
        action="write_off_rejected",
        note=note,
        data={
            "amount_fen": request.get("amount_fen"),
            "requested_by": request["requested_by"],
            "request_reason": request.get("reason"),
        },
    )
    return item


def review(
    session: Session,
    item_id: int,
    *,
    actor: str,
    approve: bool,
    note: str,
    on: date | None = None,
) -> QueueItem:
    """The second person's decision on whatever the item waits for: a large adjusting entry
    (awaiting approval) or a write-off request (write-off review). ``note`` is the reason of a
    rejection (required) or what the approver noted (kept in the history and audit log)."""
    item = get_item(session, item_id, for_update=True)
    _workable(item, ItemStatus.AWAITING_APPROVAL, ItemStatus.WRITE_OFF_REVIEW)
    if item.status is ItemStatus.WRITE_OFF_REVIEW:
        if approve:
            return approve_write_off(session, item_id, actor=actor, on=on, note=note)
        return reject_write_off(session, item_id, actor=actor, note=note)
    if approve:
        return approve_adjustment(session, item_id, actor=actor, note=note)
    return reject_adjustment(session, item_id, actor=actor, note=note)


def reassign(
    session: Session, item_id: int, *, actor: str, association_id: int, note: str
) -> QueueItem:
    """The item belongs to another association (money booked to the wrong one): it is handed
    over, open, for that association to resolve. The run goes on raising it until the money or
    the books are put right; handing it over resolves nothing, so nothing is "reopened"."""
    item = get_item(session, item_id, for_update=True)
    _workable(item)
    note = _need_text(note, "改归须说明理由", "a reassignment needs a reason")
    target = session.get(Association, association_id)
    if target is None:
        raise NotFound("协会不存在", f"association {association_id} not found")
    if target.id == item.association_id:
        raise ValidationFailed(
            f"差错 {item.id} 已属于 {target.name}，无需改归：请选择另一协会",
            f"queue item {item.id} belongs to {target.code} already: nothing to reassign; "
            "choose another association",
            code="same_association",
            field="association_id",
        )
    if target.special_account_id != item.special_account_id:
        raise RuleViolation(
            "只能改归到同一专户下的协会",
            "an item can only go to an association of the same special account",
            code="other_special_account",
        )
    before = item.association_id
    item.association_id = association_id
    item.assignee = None  # the other association's people take it up
    _event(
        session,
        item,
        actor=actor,
        action="reassigned",
        note=note,
        data={"from_association": before, "to_association": association_id},
    )
    return item


# Items whose copies of a bank line are no money: the bank showed one movement twice.
_COPY_KINDS = frozenset({ExceptionKind.DUPLICATE.value})


def money_left_open(session: Session, item: QueueItem) -> int:
    """The money (signed fen) by which the item's bank lines and book entries still open
    differ (one matched since counts no more): what a dismissal would drop from the next
    night's balance (0 for a duplicate's copy, and for an item about no line or entry)."""
    if item.kind in _COPY_KINDS or not (item_line_ids(item) or item_entry_ids(item)):
        return 0
    return _adjustment_amount(session, item)


def refused_resolutions(session: Session, item: QueueItem) -> frozenset[str]:
    """The resolutions (``Resolution`` values) the service would refuse for the item whatever
    a person typed, so that the console does not offer them: booking what ``_bookable``
    refuses (a break in the bank's own statement, an instalment the books only expect) or an
    item with no difference to book (its lines and entries agree, or were all matched or
    reversed since); a manual match of an item about the bank's statement itself or one none
    of whose lines and entries is open any more; and dismissing an item whose money is still
    open."""
    refused: set[str] = set()
    booking = {Resolution.ADJUSTING_ENTRY.value, Resolution.WRITE_OFF.value}
    try:
        _bookable(session, item)
    except HuzhuError:  # nothing may be booked for it: neither an entry nor a write-off
        refused |= booking
    else:
        if _adjustment_amount(session, item) == 0:
            refused |= booking
    if about_the_statement(item) or _all_accounted_for(session, item):
        refused.add(Resolution.MANUAL_MATCH.value)
    if money_left_open(session, item):
        refused.add(Resolution.DISMISS.value)
    return frozenset(refused)


def dismiss(session: Session, item_id: int, *, actor: str, justification: str) -> QueueItem:
    """Dismiss with a justification; the item's lines and entries are no longer carried.

    An item whose own bank lines and book entries still differ in money (an unmatched line
    or entry, an amount mismatch, cash paid in at village level nobody booked) is not
    dismissed: taken off the open items, that money would be missing from the next night's
    balance, raised again as an unlinked balance break while the dismissal was confirmed. It
    is put right by a manual match (with the entry or line that answers it), an adjusting
    entry, or a bank follow-up. A repeated bank line (a duplicate) moves no money of its own,
    and its dismissal leaves the original line it names open for that line's own item."""
    item = get_item(session, item_id, for_update=True)
    _workable(item, ItemStatus.OPEN, *PARKED)
    justification = _need_text(
        justification, "驳回必须说明理由", "a dismissal needs a justification"
    )
    if amount := money_left_open(session, item):
        raise RuleViolation(
            f"该差错涉及的银行流水与账务记录相差 {grouped_yuan(abs(amount))} 元，驳回后这笔钱"
            "将无从对账：请人工匹配、作调整分录，或向银行反映（银行差错跟进）",
            f"the bank lines and book entries of this item differ by "
            f"{grouped_yuan(abs(amount))} yuan; dismissed, the money would be left "
            "unaccounted for: match it by hand, book an adjusting entry, or follow it up "
            "with the bank (bank error)",
            code="dismissal_leaves_money_unaccounted",
        )
    if item.kind not in _COPY_KINDS:
        # a duplicate's copies were never kept open; the original it names as evidence is
        # its own item's money, still to be matched or booked there
        _close_open_items(
            session, item.special_account_id, item_line_ids(item), item_entry_ids(item)
        )
    item.status = ItemStatus.RESOLVED
    _resolved(session, item, Resolution.DISMISS, actor=actor, note=justification)
    _event(session, item, actor=actor, action="dismissed", note=justification)
    return item


RESOLUTIONS: tuple[str, ...] = tuple(r.value for r in Resolution if r is not Resolution.CLEARED)
