"""The audit trail compared with the tables it recorded: the journal and the daily statements.

The hash chains prove that the audit log itself is whole; they say nothing of the tables beside
it. Every journal transaction is recorded when it is posted, by one of two kinds of event:

* ``ledger.post`` (object ``journal_transaction``, the transaction's id): one transaction, with
  its association, business date, kind, channel, cash flag, reference, reversed transaction,
  total and legs (account code, debit, credit);
* one event per association for a set posted together (object ``journal_transactions``:
  ``ledger.post_many``, ``payments.results_settled`` for a bank's result file), naming each
  transaction with the same figures (its association is the event's).

Every reconciliation run is recorded by a ``reconcile.run`` event with its statement's hash and
the link to the day before. Here each stored row is compared with the event that recorded it,
so a transaction edited, moved to another date or association, deleted or written behind the
application's back, and a daily statement edited, relinked or deleted, is named with its table,
row, field and both values. The daily statements are also hashed again and their links followed
from day to day.

The audit events come from the chain walk of :func:`gateway.audit.service.verify`, one chain
at a time; the journal is read one association at a time (one streamed query each), the runs in
one streamed query, never a query per row.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, String, and_, select, type_coerce
from sqlalchemy.orm import Session

from gateway.ledger.models import JournalLeg, JournalTransaction, LedgerAccount
from gateway.org.models import SpecialAccount
from gateway.reconcile.models import ReconRun
from reconciliation.statement import ACCOUNT_LEVEL

# The objects of the events that record journal transactions.
POSTING = "journal_transaction"  # ledger.post: one transaction
POSTINGS = "journal_transactions"  # a set posted together: one event per association
RECON_RUN = "recon_run"
RECON_ACTION = "reconcile.run"

# Record problems listed one by one; those beyond are only counted (a database loaded in bulk
# behind the audit log would otherwise list every row).
LISTED_LIMIT = 1000
ROWS_PER_BATCH = 2000
IDS_PER_LOOKUP = 500

AUDITED = ("审计记录", "audited")


@dataclass(frozen=True)
class RecordProblem:
    """A stored row that disagrees with the audit trail, or with itself (also used for notes).

    ``stored`` is the value the table holds; ``expected`` the value it should hold, as
    ``expected_from`` says where it comes from (by default, the audit event ``event``)."""

    table: str
    row_id: str
    field: str
    reason_zh: str
    reason_en: str
    stored: str | None = None
    expected: str | None = None
    expected_from: tuple[str, str] = AUDITED
    event: str | None = None

    def __str__(self) -> str:
        where = f"{self.table} {self.row_id}" + (f" {self.field}" if self.field else "")
        text = f"{where}: {self.reason_zh} / {self.reason_en}"
        zh, en = self.expected_from
        if self.field:  # a field's two values, even when one is empty
            if self.stored is not None or self.expected is not None:
                text += f"; 现存 stored {_shown(self.stored)}, {zh} {en} {_shown(self.expected)}"
        elif self.stored is not None:  # a whole row: what there is of it
            text += f"; 现存 stored {self.stored}"
        elif self.expected is not None:
            text += f"; {zh} {en} {self.expected}"
        if self.event:
            text += f" (审计事件 audit event {self.event})"
        return text


def _shown(value: str | None) -> str:
    return "(无 none)" if value is None else value


@dataclass
class Findings:
    """What the cross-checks found: problems (the first ``LISTED_LIMIT`` listed, the rest
    counted) and notes, which are not problems."""

    problems: list[RecordProblem] = field(default_factory=list)
    notes: list[RecordProblem] = field(default_factory=list)
    unlisted: int = 0

    def problem(self, problem: RecordProblem) -> None:
        if len(self.problems) < LISTED_LIMIT:
            self.problems.append(problem)
        else:
            self.unlisted += 1

    def note(self, note: RecordProblem) -> None:
        self.notes.append(note)


def association_of(chain: str) -> int | None:
    """The association whose chain this is (``association:<id>``), or None."""
    prefix, _, rest = chain.partition(":")
    return int(rest) if prefix == "association" and rest.isdigit() else None


def county_of_chain(chain: str) -> int | None:
    """The county whose chain this is (``county:<id>``), or None."""
    prefix, _, rest = chain.partition(":")
    return int(rest) if prefix == "county" and rest.isdigit() else None


def _unreadable(event: str, what_zh: str, what_en: str) -> RecordProblem:
    return RecordProblem(
        "audit_events",
        event,
        "payload",
        f"审计事件的内容无法读作{what_zh}",
        f"the event's payload cannot be read as {what_en}",
    )


# --- the journal -------------------------------------------------------------------------------

# The header's fields an audit event records, in this order in ``_Recorded.fields`` and
# ``_Stored.fields``, with their Chinese names.
FIELDS: tuple[tuple[str, str], ...] = (
    ("business_date", "记账日期"),
    ("kind", "业务类型"),
    ("channel", "渠道"),
    ("cash_flagged", "现金标记"),
    ("external_ref", "外部参考号"),
    ("total_fen", "金额"),
    ("reversal_of", "冲销对象"),
)

Leg = tuple[str, int, int]  # account code, debit fen, credit fen
StoredLeg = tuple[int, str | None, int | None, int, int]  # id, code, its association, Dr, Cr


def _text(value: object) -> str | None:
    """A value as the report shows it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _id_key(value: object) -> str | None:
    """A transaction id in one spelling, 32 lower-case hex digits (SQLite keeps them so,
    PostgreSQL gives a UUID, payloads the dashed form); cheap, for every row."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value).replace("-", "").lower()


def _shown_id(key: str | None) -> str | None:
    """An id key written as a UUID is (one that is no UUID is shown as it is)."""
    if key is None:
        return None
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return key


def _day(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _legs_text(legs: tuple[Leg, ...]) -> str:
    return ", ".join(
        f"{code} Dr {debit}" if debit else f"{code} Cr {credit}" for code, debit, credit in legs
    )


def _summary(association_id: int, fields: tuple[object, ...]) -> str:
    return f"association {association_id} {_text(fields[0])} {fields[1]} total_fen {fields[5]}"


@dataclass(frozen=True, slots=True)
class _Recorded:
    """A transaction as its audit event recorded it (``fields`` in the order of FIELDS)."""

    event: str
    association_id: int
    fields: tuple[object, ...]
    legs: tuple[Leg, ...]  # in the order posted


def _recorded(
    event: str, association_id: int, item: dict[str, Any], reversal_of: object
) -> _Recorded:
    return _Recorded(
        event,
        association_id,
        (
            item["business_date"],
            item["kind"],
            item["channel"],
            item["cash_flagged"],
            item["external_ref"],
            int(item["total_fen"]),
            _id_key(reversal_of),
        ),
        tuple((str(code), int(dr), int(cr)) for code, dr, cr in item["legs"]),
    )


def recorded_transactions(
    event: str, object_type: str, object_id: str, payload: dict[str, Any]
) -> list[tuple[str, _Recorded]]:
    """The transactions a ledger event records, by id key (raises KeyError, TypeError or
    ValueError when its payload is not a posting's)."""
    if object_type == POSTING:
        association_id = int(payload["association_id"])
        recorded = _recorded(event, association_id, payload, payload["reversal_of"])
        return [(_id_key(object_id) or "", recorded)]
    association_id = int(payload["association_id"])
    return [
        # a set posted together holds no reversals
        (_id_key(item["id"]) or "", _recorded(event, association_id, item, None))
        for item in payload["transactions"]
    ]


@dataclass(frozen=True, slots=True)
class _Stored:
    """A transaction as the journal holds it now (``fields`` in the order of FIELDS)."""

    id: str
    association_id: int
    fields: tuple[object, ...]
    legs: tuple[StoredLeg, ...]

    def plain_legs(self) -> tuple[Leg, ...]:
        """Code, debit and credit of each leg, in the order they were inserted."""
        return tuple((leg[1] or "?", leg[3], leg[4]) for leg in self.legs)


# Read as stored, without the columns' conversions: a value no enum or date knows is compared
# and shown as it is instead of stopping the check.
_JOURNAL_COLUMNS = (
    type_coerce(JournalTransaction.id, String),
    JournalTransaction.association_id,
    type_coerce(JournalTransaction.business_date, String),
    JournalTransaction.kind,
    type_coerce(JournalTransaction.channel, String),
    JournalTransaction.cash_flagged,
    JournalTransaction.external_ref,
    JournalTransaction.total_fen,
    type_coerce(JournalTransaction.reversal_of, String),
    JournalLeg.id,
    type_coerce(LedgerAccount.code, String),
    LedgerAccount.association_id,
    JournalLeg.debit_fen,
    JournalLeg.credit_fen,
)


def stored_transactions(session: Session, where: ColumnElement[bool]) -> Iterator[_Stored]:
    """The journal's transactions matching ``where`` with their legs, streamed in id order
    (plain rows through the session's connection: no ORM work per row)."""
    rows = session.connection().execute(
        select(*_JOURNAL_COLUMNS)
        .outerjoin(JournalLeg, JournalLeg.transaction_id == JournalTransaction.id)
        .outerjoin(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
        .where(where)
        .order_by(JournalTransaction.id, JournalLeg.id)
        .execution_options(yield_per=ROWS_PER_BATCH)
    )
    header: Any = None
    legs: list[StoredLeg] = []
    for row in rows:
        if header is None or row[0] != header[0]:
            if header is not None:
                yield _stored(header, legs)
            header, legs = row, []
        if row[9] is not None:
            legs.append((row[9], row[10], row[11], int(row[12]), int(row[13])))
    if header is not None:
        yield _stored(header, legs)


def _stored(header: Any, legs: list[StoredLeg]) -> _Stored:
    txn_id, association_id, business_date, kind, channel, cash, ref, total, reversal_of = header[:9]
    return _Stored(
        _id_key(txn_id) or "",
        int(association_id),
        (_day(business_date), kind, channel, bool(cash), ref, int(total), _id_key(reversal_of)),
        tuple(legs),
    )


def compare_transaction(stored: _Stored, recorded: _Recorded, findings: Findings) -> None:
    """Name every field of ``stored`` that differs from what ``recorded`` holds."""
    legs = stored.plain_legs()
    if (
        stored.association_id == recorded.association_id
        and stored.fields == recorded.fields
        and legs == recorded.legs
        and all(leg[2] == stored.association_id for leg in stored.legs)
    ):
        return
    # the same legs in another order are the same posting
    legs, audited_legs = tuple(sorted(legs)), tuple(sorted(recorded.legs))
    shown = _shown_id(stored.id) or ""
    if stored.association_id != recorded.association_id:
        findings.problem(
            RecordProblem(
                "journal_transactions",
                shown,
                "association_id",
                "所属协会与审计记录不符（凭证被移到其他协会）",
                "the association differs from what its audit event recorded "
                "(moved to another association)",
                str(stored.association_id),
                str(recorded.association_id),
                event=recorded.event,
            )
        )
    for (name, name_zh), now, then in zip(FIELDS, stored.fields, recorded.fields, strict=True):
        if now != then:
            if name == "reversal_of":
                now, then = _shown_id(_text(now)), _shown_id(_text(then))
            findings.problem(
                RecordProblem(
                    "journal_transactions",
                    shown,
                    name,
                    f"{name_zh}与审计记录不符",
                    f"{name} differs from what its audit event recorded",
                    _text(now),
                    _text(then),
                    event=recorded.event,
                )
            )
    if legs != audited_legs:
        findings.problem(
            RecordProblem(
                "journal_legs",
                f"of {shown}",
                "legs (fen)",
                "分录（科目、借贷金额）与审计记录不符",
                "the legs (accounts and amounts) differ from what the audit event recorded",
                _legs_text(legs),
                _legs_text(audited_legs),
                event=recorded.event,
            )
        )
    for leg_id, code, account_association_id, _, _ in stored.legs:
        if account_association_id != stored.association_id:
            findings.problem(
                RecordProblem(
                    "journal_legs",
                    str(leg_id),
                    "account_id",
                    "分录记在其他协会的科目上",
                    "the leg is booked to an account of another association",
                    f"association {account_association_id} {code}",
                    f"association {stored.association_id} {code}",
                    expected_from=("凭证所属协会", "the transaction's association"),
                    event=recorded.event,
                )
            )


class LedgerCheck:
    """Every journal transaction against the audit event that recorded it, association by
    association: fed each chain's events by the walk (:meth:`see`, :meth:`end_chain`), then
    :meth:`finish` for the associations whose chains had none and the transactions an event
    recorded that their association's journal does not hold."""

    def __init__(self, session: Session, findings: Findings) -> None:
        self.session = session
        self.findings = findings
        self.transactions = 0
        self._recorded: dict[str, _Recorded] = {}
        self._missing: dict[str, _Recorded] = {}
        self._compared: set[int] = set()

    def see(self, chain: str, seq: int, object_type: str, object_id: str, payload: Any) -> None:
        if object_type not in (POSTING, POSTINGS):
            return
        event = f"{chain} seq {seq}"
        try:
            self._recorded.update(recorded_transactions(event, object_type, object_id, payload))
        except (KeyError, TypeError, ValueError, AttributeError):
            self.findings.problem(_unreadable(event, "记账记录", "a posting"))

    def end_chain(self, chain: str) -> None:
        recorded, self._recorded = self._recorded, {}
        association_id = association_of(chain)
        if association_id is None:
            # postings recorded outside an association's chain: looked for by id at the end
            self._missing.update(recorded)
            return
        self._compare_association(association_id, recorded)

    def finish(self, association_ids: Collection[int], *, scoped: bool) -> None:
        """Compare the associations not yet compared and look for the recorded transactions
        their association does not hold: in the other associations of ``association_ids`` when
        ``scoped``, else anywhere."""
        for association_id in sorted(set(association_ids) - self._compared):
            self._compare_association(association_id, {})
        self._look_for_missing(association_ids if scoped else None)

    def _compare_association(self, association_id: int, recorded: dict[str, _Recorded]) -> None:
        self._compared.add(association_id)
        where = JournalTransaction.association_id == association_id
        for stored in stored_transactions(self.session, where):
            self.transactions += 1
            found = recorded.pop(stored.id, None)
            if found is None:
                self.findings.problem(
                    RecordProblem(
                        "journal_transactions",
                        _shown_id(stored.id) or "",
                        "",
                        "没有审计事件记录这笔凭证（在审计日志之外写入）",
                        "no audit event of its association records this transaction "
                        "(written behind the audit log)",
                        _summary(stored.association_id, stored.fields),
                        None,
                    )
                )
            else:
                compare_transaction(stored, found, self.findings)
        self._missing.update(recorded)

    def _look_for_missing(self, association_ids: Collection[int] | None) -> None:
        """The recorded transactions not found in their association: moved to another one
        (compared there, field by field) or deleted."""
        missing = self._missing
        keys = list(missing)
        for start in range(0, len(keys), IDS_PER_LOOKUP):
            ids = []
            for key in keys[start : start + IDS_PER_LOOKUP]:
                try:
                    ids.append(uuid.UUID(key))
                except ValueError:
                    continue
            if not ids:
                continue
            where: ColumnElement[bool] = JournalTransaction.id.in_(ids)
            if association_ids is not None:
                where = and_(where, JournalTransaction.association_id.in_(list(association_ids)))
            for stored in stored_transactions(self.session, where):
                found = missing.pop(stored.id, None)
                if found is not None:
                    compare_transaction(stored, found, self.findings)
        for key, found in missing.items():
            self.findings.problem(
                RecordProblem(
                    "journal_transactions",
                    _shown_id(key) or "",
                    "",
                    "审计事件记录的凭证已不在账簿中（被删除）",
                    "an audit event records this transaction but the journal no longer holds "
                    "it (deleted)",
                    None,
                    _summary(found.association_id, found.fields),
                    event=found.event,
                )
            )
        self._missing = {}


# --- the daily reconciliation statements --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RecordedRun:
    event: str
    special_account: str
    business_date: str
    statement_hash: str
    previous_hash: str


@dataclass(frozen=True, slots=True)
class _Day:
    """The stored day before: what the next day must link to."""

    run_id: int
    business_date: str
    statement_hash: str


STATEMENT = ("对账报告中", "the statement holds")


class StatementCheck:
    """Each stored daily statement hashed again, against its own figures, against the
    ``reconcile.run`` event that recorded it, and linked to the previous stored day of its
    special account.

    An empty link on a day stored while an earlier day exists, when the day's audit event
    recorded it empty too, is a note and not a problem: the chain used to start again after an
    account's first nights without a statement, and those days were not rewritten."""

    def __init__(self, session: Session, findings: Findings) -> None:
        self.session = session
        self.findings = findings
        self.statements = 0
        self._recorded: dict[int, _RecordedRun] = {}

    def see(
        self, chain: str, seq: int, action: str, object_type: str, object_id: str, payload: Any
    ) -> None:
        if object_type != RECON_RUN or action != RECON_ACTION:
            return
        event = f"{chain} seq {seq}"
        try:
            self._recorded[int(object_id)] = _RecordedRun(
                event,
                str(payload["special_account"]),
                str(payload["business_date"]),
                str(payload["statement_hash"]),
                str(payload["previous_hash"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            self.findings.problem(_unreadable(event, "对账记录", "a reconciliation run"))

    def finish(self, county_ids: Collection[int] | None) -> None:
        """Walk the stored runs of the counties' special accounts (all when None), each
        account's days in order, then name the recorded runs no longer stored."""
        query = (
            select(
                ReconRun.id,
                ReconRun.special_account_id,
                SpecialAccount.account_number,
                type_coerce(ReconRun.business_date, String),
                ReconRun.has_statement,
                ReconRun.opening_fen,
                ReconRun.closing_fen,
                ReconRun.sub_closings_json,
                ReconRun.previous_hash,
                ReconRun.statement_hash,
                ReconRun.statement_json,
            )
            .join(SpecialAccount, SpecialAccount.id == ReconRun.special_account_id)
            .order_by(ReconRun.special_account_id, ReconRun.business_date, ReconRun.id)
            .execution_options(yield_per=200)
        )
        if county_ids is not None:
            query = query.where(SpecialAccount.county_id.in_(list(county_ids)))
        account: int | None = None
        before: _Day | None = None
        for row in self.session.connection().execute(query):
            self.statements += 1
            if row.special_account_id != account:
                account, before = row.special_account_id, None
            day = _text(row.business_date) or ""
            recorded = self._recorded.pop(row.id, None)
            self._check_content(row, day)
            self._check_recorded(row, day, recorded)
            self._check_link(row, before, recorded)
            before = _Day(row.id, day, row.statement_hash)
        for run_id, recorded in sorted(self._recorded.items()):
            self.findings.problem(
                RecordProblem(
                    "recon_runs",
                    str(run_id),
                    "",
                    "审计事件记录的每日对账报告已不存在（被删除）",
                    "an audit event records this day's reconciliation but its run is no "
                    "longer stored (deleted)",
                    None,
                    f"{recorded.special_account} {recorded.business_date} "
                    f"statement_hash {recorded.statement_hash}",
                    event=recorded.event,
                )
            )
        self._recorded = {}

    def _problem(
        self,
        run_id: int,
        name: str,
        reason: tuple[str, str],
        stored: object,
        expected: object,
        expected_from: tuple[str, str] = AUDITED,
        event: str | None = None,
    ) -> None:
        self.findings.problem(
            RecordProblem(
                "recon_runs",
                str(run_id),
                name,
                reason[0],
                reason[1],
                _text(stored),
                _text(expected),
                expected_from,
                event,
            )
        )

    def _check_content(self, row: Any, day: str) -> None:
        """The statement hashes to its hash, and the run's columns say what it says."""
        content = row.statement_json or ""
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if digest != row.statement_hash:
            self._problem(
                row.id,
                "statement_json",
                (
                    "对账报告内容与其哈希不符（内容被改动）",
                    "the statement does not hash to its statement_hash (its content was altered)",
                ),
                row.statement_hash,
                digest,
                ("内容的哈希", "its content hashes to"),
            )
        try:
            statement = json.loads(content)
            lines = {line["sub_account"]: line for line in statement["lines"]}
            account_line = lines[ACCOUNT_LEVEL]
            said = {
                "special_account": statement["special_account"],
                "business_date": statement["business_date"],
                "previous_hash": statement["previous_hash"],
                "has_statement": account_line["closing_fen"] is not None,
                "opening_fen": account_line["opening_fen"],
                "closing_fen": account_line["closing_fen"],
                "sub_closings_json": {
                    sub: line["closing_fen"]
                    for sub, line in lines.items()
                    if sub != ACCOUNT_LEVEL and line["closing_fen"] is not None
                },
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            self._problem(
                row.id,
                "statement_json",
                ("不是可读的每日对账报告", "is not a readable daily statement"),
                None,
                None,
            )
            return
        try:
            sub_closings: object = json.loads(row.sub_closings_json or "")
        except ValueError:
            sub_closings = row.sub_closings_json
        held = {
            "special_account": row.account_number,
            "business_date": day,
            "previous_hash": row.previous_hash,
            "has_statement": bool(row.has_statement),
            "opening_fen": row.opening_fen,
            "closing_fen": row.closing_fen,
            "sub_closings_json": sub_closings,
        }
        for name, value in held.items():
            if value != said[name]:
                self._problem(
                    row.id,
                    name,
                    ("与对账报告内容不符", "differs from what the daily statement holds"),
                    json.dumps(value, sort_keys=True) if isinstance(value, dict) else value,
                    json.dumps(said[name], sort_keys=True)
                    if isinstance(said[name], dict)
                    else said[name],
                    STATEMENT,
                )

    def _check_recorded(self, row: Any, day: str, recorded: _RecordedRun | None) -> None:
        if recorded is None:
            self._problem(
                row.id,
                "",
                (
                    "没有审计事件记录这份每日对账报告（在审计日志之外写入）",
                    "no audit event records this day's reconciliation (written behind the "
                    "audit log)",
                ),
                f"{row.account_number} {day}",
                None,
            )
            return
        held = {
            "special_account": row.account_number,
            "business_date": day,
            "statement_hash": row.statement_hash,
            "previous_hash": row.previous_hash,
        }
        for name, value in held.items():
            then = getattr(recorded, name)
            if value != then:
                self._problem(
                    row.id,
                    name,
                    ("与审计记录不符", "differs from what its audit event recorded"),
                    value,
                    then,
                    event=recorded.event,
                )

    def _check_link(self, row: Any, before: _Day | None, recorded: _RecordedRun | None) -> None:
        expected = before.statement_hash if before is not None else ""
        if row.previous_hash == expected:
            return
        if row.previous_hash == "" and recorded is not None and recorded.previous_hash == "":
            assert before is not None
            self.findings.note(
                RecordProblem(
                    "recon_runs",
                    str(row.id),
                    "previous_hash",
                    f"链接为空，未接上前一日（{before.business_date}）：该日存储于对账链覆盖"
                    "无对账单日之前，审计事件记录的也为空，不是篡改",
                    f"an empty link although the day before ({before.business_date}) is "
                    "stored: the day was stored before the chain covered an account's first "
                    "nights without a statement, and its audit event recorded it empty too; "
                    "not tampering",
                )
            )
            return
        if before is None:
            reason = (
                "该专户最早存储的一天却链接到一份未存储的对账报告（更早的日子被删除？）",
                "the account's first stored day links to a statement that is not stored "
                "(earlier days deleted?)",
            )
            source = ("应为空", "expected empty")
        else:
            reason = (
                f"未链接到前一日（{before.business_date}，run {before.run_id}）的对账报告，"
                "对账链断裂",
                f"does not link to the previous stored day ({before.business_date}, run "
                f"{before.run_id}): the chain of daily statements is broken",
            )
            source = ("前一日的哈希", "the day before hashes to")
        self._problem(row.id, "previous_hash", reason, row.previous_hash, expected, source)
