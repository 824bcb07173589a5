"""Inbound bank files: fetch and store them whole, then apply each in one transaction.

- :func:`fetch_inbound` lists the bank's outbound folder, stores each new file with its hash
  and kind (a file whose hash is known is a no-op: only its ``times_seen`` grows), and only
  then puts it away on the server as the bank asks, with its signature and marker. Where the
  bank marks finished files (``sftp.inbound_marker_suffix``), a file without its marker is
  still being written and is left alone until a later night. A file failing its signature or
  decryption is stored quarantined; where the bank signs its files, a refusal notice
  without a valid signature is quarantined too (linked to the batch it names). A file whose
  name (or path) is longer than we keep is stored quarantined under a name cut to fit.
- :func:`reapply_file` puts a quarantined file back to be applied by the next night, for the
  county fund office (audited), unless its signature or decryption failed.
- :func:`apply_result_file` and :func:`apply_statement_file` apply one stored file; any
  defect raises :class:`FileRefused` (or the adapter's ``FileFormatError``) before anything
  is kept: the caller rolls the transaction back and calls :func:`quarantine`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.records import (
    STATUS_CODES,
    BlockStatus,
    FileKind,
    InstructionResult,
    ResultFile,
    ResultStatus,
    Statement,
    StatementEntry,
)
from adapters.security import SIGNATURE_SUFFIX, SecurityError, SignatureMissingError
from adapters.transport.base import InboundAction, Transport, dispose_fetched
from adapters.transport.errors import RemoteFileNotFoundError
from gateway.audit import service as audit
from gateway.batches.banks import BankProfile
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.db import insert_rows, session_scope, utcnow
from gateway.errors import Conflict, HuzhuError, NotFound
from gateway.ingestion.models import (
    InboundFile,
    InboundKind,
    InboundStatus,
    StatementDay,
    StatementLine,
)
from gateway.ingestion.refusals import REFUSAL_SUFFIX, is_refusal_notice, reject_batch
from gateway.ingestion.settle import SetSettlement
from gateway.labels import state_zh
from gateway.loans.models import Loan
from gateway.org.models import Bank, SpecialAccount
from gateway.payments.config import PaymentsConfig
from gateway.payments.follow_ups import file_counties, required_note, resolve_follow_up
from gateway.payments.models import (
    Direction,
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    PaymentInstruction,
    RepaymentScheduleLine,
)
from gateway.payments.service import (
    apply_result,
    apply_return,
    follow_up,
    mark_sent,
    policies_for,
)
from gateway.reconcile.models import ReconRun
from gateway.reconcile.source import statement_date

log = logging.getLogger(__name__)


class FileRefused(HuzhuError):  # noqa: N818 - domain vocabulary
    """An inbound file cannot be applied as a whole."""

    code = "file_refused"


@dataclass
class FetchReport:
    bank_code: str
    stored: list[str] = field(default_factory=list)
    seen_before: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    # files of ours the bank has not marked finished yet: left where they are
    waiting: list[str] = field(default_factory=list)
    # files in the bank's folder no pattern of this bank names (a result file under a name
    # the configuration does not expect, say): left there, and said
    unrecognised: list[str] = field(default_factory=list)


# The prefix of the reason a file failing its signature or decryption is quarantined with;
# such a file is never put back to be applied (:func:`reapply_file`).
SECURITY_FAILED = "签名或解密失败 signature/decryption failed"


def _kind(profile: BankProfile, name: str) -> InboundKind | None:
    if is_refusal_notice(name):
        return InboundKind.REFUSAL
    files = profile.config.files
    if any(fnmatch.fnmatchcase(name, p) for p in files.result_patterns):
        return InboundKind.RESULT
    if any(fnmatch.fnmatchcase(name, p) for p in files.statement_patterns):
        return InboundKind.STATEMENT
    return None


def _column_length(model: type[InboundFile] | type[StatementLine], column: str) -> int:
    """The length of a text column: what we keep of a bank's value, checked in code so that a
    longer one is handled the same on every database (SQLite does not enforce it)."""
    length = getattr(model.__table__.c[column].type, "length", None)
    assert isinstance(length, int)
    return length


# What we keep of a file's name and remote path.
NAME_MAX = _column_length(InboundFile, "name")
REMOTE_PATH_MAX = _column_length(InboundFile, "remote_path")


def cut_to_fit(value: str, limit: int) -> str:
    """``value`` if it fits in ``limit`` characters, else its start with a tail saying it was
    cut and from how many characters, ``limit`` characters in all."""
    if len(value) <= limit:
        return value
    tail = f"…[截断 cut from {len(value)}]"
    return value[: limit - len(tail)] + tail


def fetch_inbound(
    factory: sessionmaker[Session],
    profile: BankProfile,
    transport: Transport,
    *,
    business_date: date,
) -> FetchReport:
    """Fetch every finished result and statement file waiting at the bank and store it.

    Where the bank marks finished files (``NAME`` + ``sftp.inbound_marker_suffix``), a file
    without its marker is left untouched, and a marker is never taken for a file: it is put
    away on the server with its file (as is a marker whose file is gone already)."""
    sftp = profile.config.sftp
    marker = sftp.inbound_marker_suffix
    report = FetchReport(bank_code=profile.code)
    remote = {f.path: f for f in transport.list(sftp.inbound_folder)}
    for path in sorted(remote):
        name = remote[path].name
        if marker is not None and name.endswith(marker):
            file_path = path[: -len(marker)]
            if file_path not in remote and _kind(profile, name[: -len(marker)]) is not None:
                # its file was put away on an earlier night, its marker not (a crash between)
                _put_away_side_file(transport, path, sftp.after_fetch)
            continue
        kind = _kind(profile, name)
        if kind is None:
            if not _side_file_of_ours(profile, name):
                log.warning(
                    "bank %s: %s matches none of its result, statement or refusal names: "
                    "left on the server",
                    profile.code,
                    path,
                )
                report.unrecognised.append(name)
            continue
        if marker is not None and (path + marker) not in remote:
            log.info("bank file %s is not marked finished (%s): left for later", path, marker)
            report.waiting.append(name)
            continue
        raw = transport.fetch(path)
        signature = None
        if profile.security.expects_signature and (path + SIGNATURE_SUFFIX) in remote:
            signature = transport.fetch(path + SIGNATURE_SUFFIX)
        digest = hashlib.sha256(raw).hexdigest()
        reasons: list[str] = []
        try:
            plain = (
                _verified_notice(profile, name, raw, signature)
                if kind is InboundKind.REFUSAL
                else profile.security.unprotect(name, raw, signature)
            )
        except SecurityError as exc:
            plain = raw
            reasons.append(f"{SECURITY_FAILED}: {exc}")
        stored_name = cut_to_fit(name, NAME_MAX)
        stored_path = cut_to_fit(path, REMOTE_PATH_MAX)
        if stored_name != name:
            reasons.append(
                f"文件名过长（{len(name)} 字符，最多保存 {NAME_MAX}），已截断保存 the file name "
                f"of {len(name)} characters is longer than the {NAME_MAX} we keep: stored cut"
            )
        elif stored_path != path:
            reasons.append(
                f"远端路径过长（{len(path)} 字符，最多保存 {REMOTE_PATH_MAX}），已截断保存 the "
                f"remote path of {len(path)} characters is longer than the {REMOTE_PATH_MAX} "
                "we keep: stored cut"
            )
        reason = "; ".join(reasons) or None
        with session_scope(factory) as session:
            known = session.scalar(
                select(InboundFile).where(
                    InboundFile.bank_code == profile.code, InboundFile.sha256 == digest
                )
            )
            if known is not None:
                known.times_seen += 1
                report.seen_before.append(name)
            else:
                stored = InboundFile(
                    bank_code=profile.code,
                    name=stored_name,
                    remote_path=stored_path,
                    kind=kind,
                    sha256=digest,
                    size=len(raw),
                    content=plain,
                    status=InboundStatus.QUARANTINED if reason else InboundStatus.RECEIVED,
                    reason=reason[:1000] if reason else None,
                    business_date=business_date,
                    times_seen=1,
                )
                if stored_name != name or stored_path != path:
                    stored.summary_json = json.dumps(
                        {"full_name": name, "full_remote_path": path}, ensure_ascii=False
                    )
                if reason and kind is InboundKind.REFUSAL:
                    # Nothing of it applies, but the batch it names shows an answer came.
                    stored.batch_id = _refused_batch_id(session, profile.code, name)
                session.add(stored)
                session.flush()
                if reason:
                    _quarantine_follow_up(session, stored, reason, full_name=name)
                    report.quarantined.append(name)
                else:
                    report.stored.append(name)
        # Stored and committed: only now is the file put away on the server, then its side
        # files (a marker left behind by a crash in between is put away on a later night).
        dispose_fetched(transport, path, sftp.after_fetch)
        if signature is not None:
            _put_away_side_file(transport, path + SIGNATURE_SUFFIX, sftp.after_fetch)
        if marker is not None:
            _put_away_side_file(transport, path + marker, sftp.after_fetch)
    return report


def _side_file_of_ours(profile: BankProfile, name: str) -> bool:
    """A signature or checksum beside one of this bank's files (still there or not)."""
    for suffix in (SIGNATURE_SUFFIX, ".sha256", ".md5"):
        if name.endswith(suffix) and _kind(profile, name[: -len(suffix)]) is not None:
            return True
    return False


def _put_away_side_file(transport: Transport, path: str, action: InboundAction) -> None:
    """Put a signature or marker away as its file was; one gone already (the bank may clear
    the side files of a file it sees taken) is no error."""
    with contextlib.suppress(RemoteFileNotFoundError):
        dispose_fetched(transport, path, action)


def _verified_notice(profile: BankProfile, name: str, raw: bytes, signature: bytes | None) -> bytes:
    """A refusal notice's text once its signature holds, where the bank signs its files.

    A notice fails every instruction of the batch it names, so a bank that signs its files
    must sign it too (``NAME.sig``, as its result files); it travels unencrypted."""
    verifier = profile.security.verifier
    if verifier is not None:
        if signature is None:
            raise SignatureMissingError(
                f"缺少签名文件 {name} came without {name}{SIGNATURE_SUFFIX}; "
                "this bank signs every file, its refusal notices too"
            )
        verifier.verify(raw, signature, name=name)
    return raw


def _refused_batch_id(session: Session, bank_code: str, notice_name: str) -> int | None:
    """The batch of ours a refusal notice's name says it refuses, if any."""
    return session.scalar(
        select(PaymentBatch.id).where(
            PaymentBatch.bank_code == bank_code,
            PaymentBatch.file_name == notice_name[: -len(REFUSAL_SUFFIX)],
        )
    )


def _quarantine_follow_up(
    session: Session, file: InboundFile, reason: str, *, full_name: str | None = None
) -> None:
    """``full_name``: the file's name as the bank wrote it, where it was stored cut."""
    name = full_name or file.name
    follow_up(
        session,
        FollowUpKind.FILE_QUARANTINED,
        business_date=file.business_date,
        inbound_file_id=file.id,
        message_zh=f"银行文件 {name} 已隔离，未做任何处理：{reason}",
        message_en=f"bank file {name} quarantined, nothing of it applied: {reason}",
    )


def quarantine(session: Session, file_id: int, reason: str, *, answers: str | None = None) -> None:
    """Mark a stored file quarantined with its reason (nothing of it was applied).

    ``answers`` is the message id of the batch the file says it answers, when it could be
    read that far: the file is then linked to that batch (when we sent one of that id to the
    file's bank), so the batch shows an answer that came but was quarantined rather than
    none at all."""
    file = session.get(InboundFile, file_id)
    assert file is not None
    file.status = InboundStatus.QUARANTINED
    file.reason = reason[:1000]
    file.processed_at = utcnow()
    if answers:
        file.batch_id = session.scalar(
            select(PaymentBatch.id).where(
                PaymentBatch.message_id == answers, PaymentBatch.bank_code == file.bank_code
            )
        )
    _quarantine_follow_up(session, file, reason)


def get_inbound_file(session: Session, file_id: int) -> InboundFile:
    """A bank file by id; ``NotFound`` otherwise."""
    file = session.get(InboundFile, file_id)
    if file is None:
        raise NotFound("文件不存在", f"file {file_id} not found")
    return file


# A reapplying note goes to the audit log and, prefixed, resolves the file's follow-ups.
REAPPLY_NOTE_MAX = 500


def reapply_refusal(file: InboundFile) -> Conflict | None:
    """Why :func:`reapply_file` refuses to put ``file`` back whatever the note says (it is not
    quarantined; its signature or decryption failed), or None when it may be put back."""
    if file.status is not InboundStatus.QUARANTINED:
        return Conflict(
            f"银行来文 {file.id} 未被隔离（状态：{state_zh(file.status)}），不能重新处理",
            f"inbound file {file.id} is {file.status.value}, not quarantined: only a "
            "quarantined file can be put back to be applied",
            status=file.status.value,
        )
    if (file.reason or "").startswith(SECURITY_FAILED):
        return Conflict(
            f"银行来文 {file.id} 因签名或解密失败被隔离，重新处理也无法通过验证，请银行重新发送",
            f"inbound file {file.id} was quarantined because its signature or decryption "
            "failed; applying it again cannot make it good: the bank must send it again",
        )
    return None


def reapply_file(session: Session, file_id: int, *, actor: str, note: str) -> InboundFile:
    """Put a quarantined file back to be applied: it is received again, so the next night's
    ``results`` or ``statements`` step applies it, or quarantines it again with its new reason.

    For the county fund office, once what kept the file from applying has changed (a return
    shown before the result file settling the payment, which has come since): a file the bank
    sends again unchanged is only seen again, never applied again by itself. Who and why go to
    the audit log, and the file's open quarantine follow-ups are resolved with the note.
    Refused for a file that is not quarantined, and for one quarantined because its signature
    or decryption failed: applying it again cannot make a bad signature good (the bank must
    send the file again)."""
    text = required_note(
        note,
        REAPPLY_NOTE_MAX,
        "重新处理须说明原因",
        "a note is required: say why the file can apply now",
    )
    file = session.get(InboundFile, file_id, with_for_update=True)
    if file is None:
        raise NotFound(f"银行来文 {file_id} 不存在", f"inbound file {file_id} not found")
    refused = reapply_refusal(file)
    if refused is not None:
        raise refused
    previous = file.reason or ""
    file.status = InboundStatus.RECEIVED
    file.reason = None
    file.processed_at = None
    open_items = session.scalars(
        select(FollowUpItem.id)
        .where(
            FollowUpItem.inbound_file_id == file.id,
            FollowUpItem.kind == FollowUpKind.FILE_QUARANTINED,
            FollowUpItem.resolved.is_(False),
        )
        .order_by(FollowUpItem.id)
    ).all()
    for item_id in open_items:
        resolve_follow_up(
            session, item_id, actor=actor, note=f"文件已重新处理 file reapplied: {text}"
        )
    counties = file_counties(session, file)
    audit.record(
        session,
        actor=actor,
        action="inbound_file.reapplied",
        object_type="inbound_file",
        object_id=file.id,
        payload={
            "bank_code": file.bank_code,
            "name": file.name,
            "kind": file.kind.value,
            "sha256": file.sha256,
            "business_date": file.business_date,
            "quarantine_reason": previous,
            "note": text,
        },
        county_id=counties[0] if len(counties) == 1 else None,
    )
    session.flush()
    return file


@dataclass(frozen=True)
class PendingFile:
    """A stored file waiting to be applied, and whose it is."""

    id: int
    bank_code: str
    kind: InboundKind


def pending_files(session: Session, *kinds: InboundKind) -> list[PendingFile]:
    """The files of these kinds still received (not applied, not quarantined), oldest first."""
    rows = session.execute(
        select(InboundFile.id, InboundFile.bank_code, InboundFile.kind)
        .where(InboundFile.kind.in_(kinds), InboundFile.status == InboundStatus.RECEIVED)
        .order_by(InboundFile.id)
    )
    return [PendingFile(id, bank_code, kind) for id, bank_code, kind in rows]


# --- result files ------------------------------------------------------------------------


def apply_result_file(
    session: Session,
    file: InboundFile,
    parsed: ResultFile,
    *,
    business_date: date,
    config: PaymentsConfig,
    booked_by: date | None = None,
) -> dict[str, int]:
    """Apply a parsed result file to its batch's instructions; refuses it whole if it names
    an unknown batch or an instruction that is not in the batch, or a booking date before
    its batch or after today.

    ``booked_by`` is today on the business clock, the latest booking date possible (None:
    ``business_date``). A date caught up after missed nights, or re-run by hand, is earlier
    than today, and the files fetched for it may answer on any day since."""
    latest = max(business_date, booked_by or business_date)
    if not parsed.original_message_id:
        raise FileRefused("回盘文件未注明原批次", f"{file.name} does not name its batch")
    batch = session.scalar(
        select(PaymentBatch).where(
            PaymentBatch.message_id == parsed.original_message_id,
            PaymentBatch.bank_code == file.bank_code,
        )
    )
    if batch is None:
        raise FileRefused(
            f"回盘文件 {file.name} 对应的批次 {parsed.original_message_id} 不存在",
            f"result file {file.name} answers batch {parsed.original_message_id}, which we "
            "never sent",
        )
    instructions = {
        i.end_to_end_id: i
        for i in session.scalars(
            select(PaymentInstruction)
            .where(PaymentInstruction.batch_id == batch.id)
            .order_by(PaymentInstruction.id)
            .with_for_update()  # two answers for one batch are applied one after the other
        )
    }
    unknown = [r.end_to_end_id for r in parsed.results if r.end_to_end_id not in instructions]
    if unknown:
        raise FileRefused(
            f"回盘文件 {file.name} 含有批次 {batch.file_name} 之外的指令 {unknown[0]}",
            f"result file {file.name} names {len(unknown)} instruction(s) not in batch "
            f"{batch.file_name}, e.g. {unknown[0]}",
        )
    repeated = [e for e, n in Counter(r.end_to_end_id for r in parsed.results).items() if n > 1]
    if repeated:
        raise FileRefused(
            f"回盘文件 {file.name} 重复列出指令 {repeated[0]}",
            f"result file {file.name} lists instruction {repeated[0]} more than once",
        )
    for r in parsed.results:
        if r.booking_date is not None and not (batch.business_date <= r.booking_date <= latest):
            raise FileRefused(
                f"回盘文件 {file.name} 中指令 {r.end_to_end_id} 的入账日期 {r.booking_date} "
                f"不在批次日期 {batch.business_date} 与今日 {latest} 之间",
                f"result file {file.name}: instruction {r.end_to_end_id} booked on "
                f"{r.booking_date}, before its batch of {batch.business_date} or after "
                f"today ({latest})",
            )
    group = _group_verdict(file, parsed)
    whole = _whole_batch_block(file, parsed, batch, group)
    if group is ResultStatus.REJECTED or (
        whole is not None and STATUS_CODES[whole.status] is ResultStatus.REJECTED
    ):
        # The bank rejects the whole batch (at group level, or in the one payment block that
        # holds all of it): as a refusal of the whole file. The instructions it lists keep
        # their own reason; the others, unlisted, take the group's (or block's).
        if group is ResultStatus.REJECTED or whole is None:
            code, text, said = parsed.group_reason_code, parsed.group_reason_text, "GrpSts RJCT"
        else:
            code, text = whole.reason_code, whole.reason_text
            said = f"PmtInfSts RJCT ({whole.block_id or whole.location})"
        words = " ".join(p for p in (code or "", text) if p).strip()
        summary = reject_batch(
            session,
            file,
            batch,
            bank_reason=f"{file.name}: {said} {words}".strip(),
            reason_code=code,
            business_date=business_date,
            config=config,
            error=FileRefused,
            listed={r.end_to_end_id: r for r in parsed.results},
        )
        file.batch_id = batch.id
        return summary
    if (group is ResultStatus.ACCEPTED and not parsed.results) or whole is not None:
        # accepted as a whole, nothing settled yet: each instruction is accepted
        parsed = dataclasses.replace(
            parsed,
            results=tuple(
                InstructionResult(
                    end_to_end_id=i.end_to_end_id,
                    status=ResultStatus.ACCEPTED,
                    settled_amount_fen=0,
                    requested_amount_fen=i.amount_fen,
                )
                for i in instructions.values()
                if i.status in (InstructionStatus.SENT, InstructionStatus.BATCHED)
            ),
        )
    if batch.status is BatchStatus.STORED:
        # The bank answered a batch we had not yet marked sent (a crash in between).
        batch.status = BatchStatus.SENT
        batch.sent_at = utcnow()
        mark_sent(
            session,
            instructions.values(),
            business_date=business_date,
            batch_id=batch.id,
            cause=f"银行已回盘 answered by {file.name}",
        )
    # Load what the answers touch in a few queries instead of a few per instruction.
    loans_by_id = {
        loan.id: loan
        for loan in session.scalars(
            select(Loan).where(
                Loan.id.in_({i.loan_id for i in instructions.values() if i.loan_id is not None})
            )
        )
    }
    line_ids = {i.schedule_line_id for i in instructions.values() if i.schedule_line_id}
    lines = (
        {
            line.id: line
            for line in session.scalars(
                select(RepaymentScheduleLine).where(RepaymentScheduleLine.id.in_(line_ids))
            )
        }
        if line_ids
        else {}
    )
    policies = policies_for(session, {i.association_id for i in instructions.values()}, config)
    in_full = SetSettlement.start(
        session, inbound_file_id=file.id, file_name=file.name, business_date=business_date
    )
    outcome: Counter[str] = Counter()
    for result in parsed.results:
        instruction = instructions[result.end_to_end_id]
        policy = policies[instruction.association_id]
        # a loan-less payout (liquidation) always takes the single-instruction path
        if instruction.loan_id is not None and in_full.take(
            instruction,
            result,
            loan=loans_by_id.get(instruction.loan_id),
            line=lines.get(instruction.schedule_line_id or 0),
            policy=policy,
        ):
            outcome["settled"] += 1
            continue
        outcome[
            apply_result(
                session,
                instruction,
                result,
                business_date=business_date,
                inbound_file_id=file.id,
                config=config,
                policy=policy,
            )
        ] += 1
    in_full.book()
    if all(i.status not in (InstructionStatus.SENT,) for i in instructions.values()):
        batch.status = BatchStatus.ANSWERED
    file.batch_id = batch.id
    return dict(outcome)


def _group_verdict(file: InboundFile, parsed: ResultFile) -> ResultStatus | None:
    """The verdict of the file's group status (pain.002 ``GrpSts``), if it gives one; refuses
    the file whole when that status contradicts its transactions' or, with no transaction
    statuses, leaves unsaid what moved (settled or partly settled as a whole)."""
    code = parsed.group_status
    if code is None:
        return None
    verdict = _verdict_of(file, code, "的批次状态 GrpSts", "group status GrpSts")
    if not parsed.results:
        _refuse_unsaid_moves(
            file, verdict, f"只有批次状态 GrpSts {code}", f" gives group status GrpSts {code}"
        )
        return verdict
    contradicting: set[ResultStatus] = set()
    if verdict is ResultStatus.REJECTED:
        contradicting = {s for s in ResultStatus if s is not ResultStatus.REJECTED}
    elif verdict is ResultStatus.SETTLED:
        contradicting = {ResultStatus.REJECTED, ResultStatus.PARTIALLY_SETTLED}
    for result in parsed.results:
        if result.status in contradicting:
            raise FileRefused(
                f"回盘文件 {file.name} 的批次状态 GrpSts {code} 与指令 "
                f"{result.end_to_end_id} 的状态 {state_zh(result.status)} 相矛盾",
                f"result file {file.name}: group status GrpSts {code} contradicts instruction "
                f"{result.end_to_end_id}, {result.status.value}",
            )
    return verdict


def _verdict_of(file: InboundFile, code: str, what_zh: str, what_en: str) -> ResultStatus:
    """The verdict a status code (``GrpSts``, ``PmtInfSts``) gives; refuses the file whole for
    a code that is not a status we know."""
    verdict = STATUS_CODES.get(code)
    if verdict is None:
        raise FileRefused(
            f"回盘文件 {file.name} {what_zh} {code!r} 无法识别",
            f"result file {file.name}: {what_en} {code!r} is not a status we know",
        )
    return verdict


def _refuse_unsaid_moves(
    file: InboundFile, verdict: ResultStatus, said_zh: str, said_en: str
) -> None:
    """Refuse the file whole when a status given without transaction statuses settles money
    (fully or partly): which instruction moved how much, and on which day, is not said."""
    if verdict in (ResultStatus.SETTLED, ResultStatus.PARTIALLY_SETTLED):
        raise FileRefused(
            f"回盘文件 {file.name} {said_zh}，没有逐笔状态，"
            "无法得知各笔指令何日入账、入账多少，请银行提供逐笔回盘",
            f"result file {file.name}{said_en} and no transaction status: which instruction "
            "moved how much, and on which day, is not said; ask the bank for a detailed report",
        )


def _whole_batch_block(
    file: InboundFile, parsed: ResultFile, batch: PaymentBatch, group: ResultStatus | None
) -> BlockStatus | None:
    """The payment block answered as a whole (``PmtInfSts``, no transaction statuses) that
    holds every instruction of the batch, if the file gives one.

    A batch may be written as several payment blocks (one per requested date and debtor
    account), and the file does not say which instructions a block held: a block is mapped
    only when it says it holds as many instructions as the batch (``OrgnlNbOfTxs``) and the
    file answers nothing else. Any other block rejecting or settling its instructions as a
    whole refuses the file (its instructions cannot be told); one accepting them changes
    nothing and is left. A block status contradicting the group status refuses the file."""
    found: BlockStatus | None = None
    for block in parsed.block_statuses:
        name = block.block_id or block.location
        verdict = _verdict_of(
            file,
            block.status,
            f"付款块 {name} 的状态 PmtInfSts",
            f"payment block {name} status PmtInfSts",
        )
        if group is not None and (verdict is ResultStatus.REJECTED) != (
            group is ResultStatus.REJECTED
        ):
            raise FileRefused(
                f"回盘文件 {file.name} 付款块 {name} 的状态 PmtInfSts {block.status} 与批次状态 "
                f"GrpSts {parsed.group_status} 相矛盾",
                f"result file {file.name}: payment block {name} status PmtInfSts "
                f"{block.status} contradicts group status GrpSts {parsed.group_status}",
            )
        if group is ResultStatus.REJECTED:
            continue  # the whole batch is rejected at group level anyway
        holds_all = (
            block.transaction_count == batch.line_count
            and len(parsed.block_statuses) == 1
            and not parsed.results
        )
        _refuse_unsaid_moves(
            file,
            verdict,
            f"付款块 {name} 只有状态 PmtInfSts {block.status}",
            f": payment block {name} gives status PmtInfSts {block.status}",
        )
        if holds_all:
            found = block
        elif verdict is ResultStatus.REJECTED:
            count = (
                f"{block.transaction_count} 笔"
                if block.transaction_count is not None
                else "未注明笔数"
            )
            count_en = (
                f"holds {block.transaction_count} instruction(s)"
                if block.transaction_count is not None
                else "does not say how many instructions it holds (OrgnlNbOfTxs)"
            )
            raise FileRefused(
                f"回盘文件 {file.name} 拒绝了付款块 {name}（PmtInfSts RJCT，{count}，批次 "
                f"{batch.file_name} 共 {batch.line_count} 笔），但未逐笔列出，无法确定被拒绝的是"
                "哪些指令，请银行提供逐笔回盘",
                f"result file {file.name} rejects payment block {name} (PmtInfSts RJCT) "
                f"without transaction statuses; the block {count_en} of the "
                f"{batch.line_count} in batch {batch.file_name}, so which instructions it "
                "rejects cannot be told from the file; ask the bank for a detailed report",
            )
    return found


# --- statements --------------------------------------------------------------------------


def fingerprint(account: str, entry: StatementEntry) -> str:
    """A line's content, for banks that give no transaction id."""
    parts = [
        account,
        entry.sub_account or "",
        entry.booking_date.isoformat(),
        str(entry.amount_fen),
        entry.credit_debit.value,
        "R" if entry.reversal else "",
        entry.counterparty_account or "",
        entry.end_to_end_id or "",
        entry.remittance,
        entry.bank_transaction_code,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def dedupe_keys(account: str, entries: tuple[StatementEntry, ...]) -> list[str]:
    """``txn:<id>`` where the bank gives an id, else ``fp:<fingerprint>:<n>`` for the n-th
    identical line of this statement, so a repeated statement maps onto the same keys."""
    seen: Counter[str] = Counter()
    keys = []
    for entry in entries:
        if entry.bank_transaction_id:
            keys.append(f"txn:{entry.bank_transaction_id}")
            continue
        fp = fingerprint(account, entry)
        seen[fp] += 1
        keys.append(f"fp:{fp}:{seen[fp]}")
    return keys


def apply_statement_file(
    session: Session,
    file: InboundFile,
    statements: tuple[Statement, ...],
    *,
    business_date: date,
) -> dict[str, int]:
    """Keep each statement line once and apply returns (退汇) of settled payments.

    Refused whole (nothing kept) when a statement is for an account that is not one of ours at
    the file's bank, when it brings new lines for a day already reconciled against a statement
    (a restatement nobody would reconcile), when a line does not fit what we store, and when
    the file contradicts itself (:func:`_check_statements`)."""
    _check_statements(file, statements)
    outcome: Counter[str] = Counter()
    for statement in statements:
        special = _our_special_account(session, file, statement)
        rows: list[dict[str, object]] = []
        keys = dedupe_keys(statement.account, statement.entries)
        known = set(
            session.scalars(
                select(StatementLine.dedupe_key).where(
                    StatementLine.bank_code == file.bank_code,
                    StatementLine.account == statement.account,
                    StatementLine.dedupe_key.in_(set(keys)),
                )
            )
        )
        for position, (key, entry) in enumerate(zip(keys, statement.entries, strict=True), 1):
            if key in known:
                outcome["duplicate_lines"] += 1
                continue
            known.add(key)
            rows.append(_line(file, statement, entry, key, position))
            outcome["new_lines"] += 1
            if entry.return_reason_code and entry.end_to_end_id:
                outcome[_apply_return(session, file, special, entry, business_date)] += 1
        if rows:
            _refuse_restatement(session, file, statement, special, len(rows))
        # Plain multi-row inserts per statement (``insert_rows``: a statement of a million lines
        # goes in bounded statements), before the next statement of the file looks for its
        # lines; the unique (bank_code, account, dedupe_key) still holds.
        insert_rows(session, StatementLine, rows)
    _record_statement_days(session, file, statements)
    session.flush()
    return dict(outcome)


def _record_statement_days(
    session: Session, file: InboundFile, statements: tuple[Statement, ...]
) -> None:
    """Which account and day each statement of the file reports, so the reconciler finds a
    day's statement by that day, whichever night fetched the file (a night caught up fetches
    what the bank wrote since under its own, earlier date)."""
    days = {
        (statement.account, day, statement.kind.value)
        for statement in statements
        if (day := statement_date(statement)) is not None
    }
    session.add_all(
        StatementDay(
            inbound_file_id=file.id,
            bank_code=file.bank_code,
            account=account,
            statement_date=day,
            kind=kind,
        )
        for account, day, kind in sorted(days)
    )


def entry_place(position: int, entry: StatementEntry) -> tuple[str, str]:
    """Where a statement line is in its file, as bank staff read the file (Chinese, English):
    the file's own line where the adapter knows it (a cn_text file: after its header and
    sub-account balance lines, entry 3 may be line 5), else the entry's position in its
    statement with the bank's references for it (camt: ``AcctSvcrRef``, ``NtryRef``)."""
    if entry.source_line is not None:
        return f"文件第 {entry.source_line} 行", f"line {entry.source_line} of the file"
    refs = [f"AcctSvcrRef {entry.bank_transaction_id}"] if entry.bank_transaction_id else []
    refs.extend(f"NtryRef {value}" for kind, value in entry.references if kind == "NtryRef")
    shown = f"（{', '.join(refs)}）" if refs else ""
    return f"第 {position} 笔{shown}", f"entry {position}" + (
        f" ({', '.join(refs)})" if refs else ""
    )


def _check_statements(file: InboundFile, statements: tuple[Statement, ...]) -> None:
    """Refuse a file holding two different statements for one account and day (only one is
    ever reconciled), a line booked outside its statement's period, or two different lines
    under one bank transaction id (a line repeated exactly is kept once, as a file sent
    twice is)."""
    days: dict[tuple[str, date], tuple[int, Statement]] = {}
    ids: dict[tuple[str, str], tuple[int, int, StatementEntry]] = {}
    several = len(statements) > 1

    def where(number: int, position: int, entry: StatementEntry) -> tuple[str, str]:
        at_zh, at_en = entry_place(position, entry)
        if several:
            return f"第 {number} 份对账单{at_zh}", f"statement {number}, {at_en}"
        return at_zh, at_en

    for number, statement in enumerate(statements, 1):
        account = statement.account
        day = statement_date(statement)
        if statement.kind is FileKind.STATEMENT and day is not None:
            first = days.setdefault((account, day), (number, statement))
            if first[1] != statement:
                raise FileRefused(
                    f"对账单 {file.name} 含账户 {account} 在 {day} 的两份不同对账单"
                    f"（第 {first[0]} 份 {first[1].statement_id}，第 {number} 份 "
                    f"{statement.statement_id}）",
                    f"statement file {file.name} holds two statements for account {account} "
                    f"on {day} (statement {first[0]}, {first[1].statement_id}, and statement "
                    f"{number}, {statement.statement_id}) that differ; only one day's "
                    "statement can be reconciled",
                )
        start, end = statement.from_date, statement.to_date
        for position, entry in enumerate(statement.entries, 1):
            booked = entry.booking_date
            if (start is not None and booked < start) or (end is not None and booked > end):
                at_zh, at_en = where(number, position, entry)
                raise FileRefused(
                    f"对账单 {file.name} 账户 {account} {at_zh}流水的入账日期 booking_date "
                    f"{booked} 不在对账单期间 {start or ''}–{end or ''} 内",
                    f"statement file {file.name}, {at_en}, account {account}: booking_date "
                    f"{booked} is outside the statement's period {start or '…'} to "
                    f"{end or '…'}",
                )
            txid = entry.bank_transaction_id
            if not txid:
                continue
            seen = ids.setdefault((account, txid), (number, position, entry))
            if seen[2] == entry:
                continue
            differ = [
                f.name
                for f in dataclasses.fields(StatementEntry)
                if f.compare and getattr(seen[2], f.name) != getattr(entry, f.name)
            ]
            name = differ[0]
            first_zh, first_en = where(seen[0], seen[1], seen[2])
            at_zh, at_en = where(number, position, entry)
            before, now = getattr(seen[2], name), getattr(entry, name)
            raise FileRefused(
                f"对账单 {file.name} 账户 {account} {first_zh}与{at_zh}流水的交易流水号同为 "
                f"{txid}，但 {name} 不同（{before} / {now}）",
                f"statement file {file.name}, account {account}: {first_en} and {at_en} both "
                f"have bank_transaction_id {txid!r} but differ in {', '.join(differ)} "
                f"({name} {before} and {now})",
            )


def _our_special_account(
    session: Session, file: InboundFile, statement: Statement
) -> SpecialAccount:
    special = session.scalar(
        select(SpecialAccount)
        .join(Bank, Bank.id == SpecialAccount.bank_id)
        .where(Bank.code == file.bank_code, SpecialAccount.account_number == statement.account)
    )
    if special is None:
        raise FileRefused(
            f"对账单 {file.name} 的账户 {statement.account} 不是我方在该行开立的专户",
            f"statement file {file.name} is for account {statement.account}, which is not one "
            f"of our special accounts at bank {file.bank_code}",
        )
    return special


def _refuse_restatement(
    session: Session,
    file: InboundFile,
    statement: Statement,
    special: SpecialAccount,
    new_lines: int,
) -> None:
    """A statement bringing new lines for a day already reconciled against a statement would
    never be reconciled: the office must hear of it, so the file is refused whole."""
    day = statement_date(statement)
    if day is None:
        return
    reconciled = session.scalar(
        select(ReconRun.id).where(
            ReconRun.special_account_id == special.id,
            ReconRun.business_date == day,
            ReconRun.has_statement.is_(True),
        )
    )
    if reconciled is not None:
        raise FileRefused(
            f"对账单 {file.name} 重发了已对账日 {day} 的对账单，"
            f"并含 {new_lines} 笔原对账单没有的流水",
            f"statement file {file.name} restates {day}, already reconciled for account "
            f"{statement.account}, with {new_lines} line(s) the first statement did not hold",
        )


def _apply_return(
    session: Session,
    file: InboundFile,
    special: SpecialAccount,
    entry: StatementEntry,
    business_date: date,
) -> str:
    instruction = session.scalar(
        select(PaymentInstruction).where(PaymentInstruction.end_to_end_id == entry.end_to_end_id)
    )
    if instruction is None:
        return "returns_unmatched"
    e2e = instruction.end_to_end_id
    if instruction.special_account_id != special.id:
        raise FileRefused(
            f"退汇 {e2e} 出现在账户 {special.account_number}，原指令不是从该专户发出",
            f"a return of {e2e} shows on account {special.account_number}; the instruction "
            "was not paid from or to that special account",
        )
    # a payment out comes back in, a collection taken in goes back out
    returned_in = instruction.direction is Direction.DISBURSEMENT
    if entry.credit_debit.value != ("CRDT" if returned_in else "DBIT"):
        expected_zh = "代付退回应为贷方入账" if returned_in else "代扣退回应为借方出账"
        raise FileRefused(
            f"退汇 {e2e} 方向不符：{expected_zh}",
            f"a return of {e2e} must be a {'credit' if returned_in else 'debit'}: the "
            f"{instruction.direction.value} went {'out' if returned_in else 'in'}",
        )
    if instruction.status is InstructionStatus.SETTLED and (
        instruction.settled_amount_fen != entry.amount_fen
    ):
        raise FileRefused(
            f"退汇金额与原指令 {e2e} 不符",
            f"return of {e2e} is {entry.amount_fen} fen, "
            f"{instruction.settled_amount_fen} fen were settled",
        )
    return apply_return(
        session,
        instruction,
        business_date=entry.booking_date or business_date,
        reason_code=entry.return_reason_code,
        inbound_file_id=file.id,
    )


def _line(
    file: InboundFile, statement: Statement, entry: StatementEntry, key: str, position: int
) -> dict[str, object]:
    row: dict[str, object] = dict(
        inbound_file_id=file.id,
        bank_code=file.bank_code,
        account=statement.account,
        sub_account=entry.sub_account or statement.sub_account,
        dedupe_key=key,
        booking_date=entry.booking_date,
        value_date=entry.value_date,
        amount_fen=entry.amount_fen,
        credit=entry.credit_debit.value == "CRDT",
        reversal=entry.reversal,
        channel=entry.channel.value,
        bank_transaction_id=entry.bank_transaction_id,
        bank_transaction_code=entry.bank_transaction_code[:60],
        end_to_end_id=entry.end_to_end_id,
        counterparty_account=entry.counterparty_account,
        counterparty_name=(entry.counterparty_name or None) and entry.counterparty_name[:200],
        remittance=entry.remittance[:400],
        return_reason_code=entry.return_reason_code,
        balance_after_fen=entry.balance_after_fen,
    )
    for column, limit in _LINE_TEXT_LIMITS.items():
        value = row[column]
        if isinstance(value, str) and len(value) > limit:
            field_name = "bank_transaction_id" if column == "dedupe_key" else column
            shown = value if len(value) <= 60 else value[:57] + "..."
            at_zh, at_en = entry_place(position, entry)
            raise FileRefused(
                f"对账单 {file.name} {at_zh}流水的 {field_name} 过长",
                f"statement file {file.name}, {at_en}, account {statement.account}: "
                f"{field_name} {shown!r} is longer than the {limit} characters a bank sends",
            )
    return row


# Statement-line text columns a bank's value goes into whole: a longer value is refused.
_LINE_TEXT_LIMITS: dict[str, int] = {
    name: _column_length(StatementLine, name)
    for name in (
        "account",
        "sub_account",
        "dedupe_key",
        "bank_transaction_id",
        "end_to_end_id",
        "counterparty_account",
        "return_reason_code",
    )
}


# What a file's summary keeps when the file is applied: its name and path as the bank wrote
# them, where they were stored cut.
_KEPT_SUMMARY = ("full_name", "full_remote_path")


def finish(file: InboundFile, summary: Mapping[str, object]) -> None:
    file.status = InboundStatus.APPLIED
    before = json.loads(file.summary_json or "{}")
    kept = {k: before[k] for k in _KEPT_SUMMARY if isinstance(before, dict) and k in before}
    file.summary_json = json.dumps(
        {**kept, **summary}, ensure_ascii=False, sort_keys=True, default=str
    )
    file.processed_at = utcnow()
