"""Building batches: claim pending instructions, split them by the bank's limits, render each
batch once and store its bytes and SHA-256 — all in the caller's one transaction.

A batch that cannot be rendered is rolled back to its savepoint alone. The instructions that
cannot be written on their own (a member's name holding the layout's delimiter, say) stay
pending, each with a follow-up item for its own association saying why, and the batch of the
rest is built the same night; a batch that fails for no one instruction keeps all of its
instructions pending, with a follow-up per association. The other batches go ahead.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.bankconfig import MESSAGE_ID_CODE_CHARS
from adapters.errors import AdapterError
from adapters.money import grouped_yuan
from adapters.records import Batch, Direction
from adapters.records import PaymentInstruction as InstructionRecord
from adapters.security import SecurityError
from gateway.batches.banks import BankProfile, encode_sidecars
from gateway.batches.calendar import cutoff_time
from gateway.batches.hooks import crash_point
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.errors import HuzhuError
from gateway.loans import service as loans
from gateway.loans.models import Loan
from gateway.members.models import Member
from gateway.members.service import CARD_FIELD
from gateway.org.models import Association, Bank, County, SpecialAccount
from gateway.payments.config import PaymentsConfig
from gateway.payments.models import (
    FollowUpKind,
    InstructionStatus,
    PaymentInstruction,
    PaymentPurpose,
)
from gateway.payments.service import collection_not_sent, follow_up, payout_failed, transition
from gateway.security.fieldcrypt import FieldCipher

log = logging.getLogger(__name__)

PREFIX = {Direction.DISBURSEMENT: "DF", Direction.COLLECTION: "DK"}


@dataclass
class BuildReport:
    bank_code: str
    business_date: date
    banking_day: bool = True
    batches: list[int] = field(default_factory=list)
    instructions: int = 0
    refused: list[str] = field(default_factory=list)


def execution_date(
    profile: BankProfile,
    direction: Direction,
    business_date: date,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> date:
    """The day the bank is asked to execute a batch of ``business_date`` on.

    Its business date, when the batch is built that day before the bank's cut-off for
    ``direction``. Built on a later day (``today``: a night caught up, a date re-run by hand),
    that day, or the bank's next banking day after it. Built on the day it asks for but at or
    after the cut-off (the wall clock ``now`` in the bank's zone), the next banking day: a file
    the bank receives past its cut-off is executed on its next day at the earliest."""
    day = business_date
    if today is not None and today > day:
        day = profile.calendar.next_banking_day(today)
    zone = ZoneInfo(profile.config.bank.timezone)
    moment = (now or datetime.now(zone)).astimezone(zone)
    if moment.date() == day and moment.time() >= cutoff_time(profile.config, direction):
        day = profile.calendar.next_banking_day(day + timedelta(days=1))
    return day


def split_by_limits(
    amounts: list[int], *, max_lines: int, max_amount_fen: int | None
) -> list[list[int]]:
    """Greedy, order-keeping split of positions into files within the bank's limits.

    An amount above ``max_amount_fen`` on its own is left out (the caller refuses it)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, amount in enumerate(amounts):
        if max_amount_fen is not None and amount > max_amount_fen:
            continue
        over_lines = len(current) >= max_lines
        over_amount = max_amount_fen is not None and total + amount > max_amount_fen
        if current and (over_lines or over_amount):
            chunks.append(current)
            current, total = [], 0
        current.append(index)
        total += amount
    if current:
        chunks.append(current)
    return chunks


def message_id(bank_code: str, direction: Direction, business_date: date, sequence: int) -> str:
    code = bank_code.upper()[:MESSAGE_ID_CODE_CHARS]
    return f"{PREFIX[direction]}{code}{business_date:%Y%m%d}{sequence:03d}"


def build_batches(
    session: Session,
    profile: BankProfile,
    *,
    business_date: date,
    cipher: FieldCipher,
    payments: PaymentsConfig,
    now: datetime | None = None,
    today: date | None = None,
) -> BuildReport:
    """Claim every pending instruction due by ``business_date`` at this bank and store its
    batches. Nothing is built on a day the bank does not work.

    ``today``: the day the batches are built on when later than ``business_date`` (a night
    caught up, a date re-run by hand); the bank is then asked to execute them on that day, or
    the bank's next banking day after it (:func:`execution_date`), never on a day gone by."""
    report = BuildReport(bank_code=profile.code, business_date=business_date)
    if not profile.calendar.is_banking_day(business_date):
        report.banking_day = False
        return report
    accounts = session.scalars(
        select(SpecialAccount)
        .join(Bank, Bank.id == SpecialAccount.bank_id)
        .where(Bank.code == profile.code)
        .order_by(SpecialAccount.id)
    ).all()
    for account in accounts:
        for direction in (Direction.DISBURSEMENT, Direction.COLLECTION):
            execute_on = execution_date(profile, direction, business_date, today=today, now=now)
            _build_for(
                session,
                profile,
                account,
                direction,
                business_date,
                execute_on,
                cipher,
                payments,
                now,
                report,
            )
    return report


def _build_for(
    session: Session,
    profile: BankProfile,
    account: SpecialAccount,
    direction: Direction,
    business_date: date,
    execute_on: date,
    cipher: FieldCipher,
    payments: PaymentsConfig,
    now: datetime | None,
    report: BuildReport,
) -> None:
    pending = list(
        session.scalars(
            select(PaymentInstruction)
            .where(
                PaymentInstruction.special_account_id == account.id,
                PaymentInstruction.direction == direction,
                PaymentInstruction.status == InstructionStatus.PENDING,
                PaymentInstruction.requested_date <= business_date,
            )
            .order_by(PaymentInstruction.id)
            .with_for_update(skip_locked=True)
        )
    )
    if not pending:
        return
    limits = profile.config.limits
    cap = limits.max_amount_fen_per_file
    for instruction in pending:
        if cap is not None and instruction.amount_fen > cap:
            _refuse_over_limit(session, instruction, cap, business_date, payments)
            report.refused.append(instruction.end_to_end_id)
    chunks = split_by_limits(
        [i.amount_fen for i in pending], max_lines=limits.max_lines_per_file, max_amount_fen=cap
    )
    crash_point("after_claim")

    def store(members: list[PaymentInstruction]) -> PaymentBatch:
        with session.begin_nested():  # a batch that cannot be stored leaves nothing behind
            return _store_batch(
                session,
                profile,
                account,
                direction,
                business_date,
                execute_on,
                members,
                cipher,
                now,
            )

    def not_built(members: list[PaymentInstruction], exc: Exception) -> None:
        log.warning("batch for %s %s refused: %s", profile.code, direction.value, exc)
        _batch_not_built(session, members, direction, business_date, exc)
        report.refused.extend(i.end_to_end_id for i in members)

    for chunk in chunks:
        members = [pending[i] for i in chunk]
        try:
            batch = store(members)
        except _NOT_BUILT as exc:
            # one instruction's field (a name with the layout's delimiter in it, say) must not
            # hold every other one: find those that cannot be written, hold them back alone
            # and build the batch of the rest tonight
            unwritable = _unwritable(
                session, profile, account, direction, business_date, execute_on, members, cipher
            )
            if not _held_alone(members, unwritable):
                not_built(members, exc)
                continue
            for instruction, problem in unwritable.items():
                _instruction_not_written(session, instruction, direction, business_date, problem)
                report.refused.append(instruction.end_to_end_id)
            members = [i for i in members if i not in unwritable]
            if not members:
                continue
            try:
                batch = store(members)
            except _NOT_BUILT as again:
                not_built(members, again)
                continue
        report.batches.append(batch.id)
        report.instructions += len(members)


_NOT_BUILT = (AdapterError, SecurityError, HuzhuError, ValueError)


def _unwritable(
    session: Session,
    profile: BankProfile,
    account: SpecialAccount,
    direction: Direction,
    business_date: date,
    execute_on: date,
    members: list[PaymentInstruction],
    cipher: FieldCipher,
) -> dict[PaymentInstruction, Exception]:
    """The instructions of a batch that could not be rendered that cannot be rendered on their
    own either, each with why. Rendering is all it takes (nothing is stored); a batch fails
    seldom, so rendering each line alone then costs little."""
    county = session.get(County, account.county_id)
    assert county is not None
    problems: dict[PaymentInstruction, Exception] = {}
    for instruction in members:
        try:
            (record,) = _records(session, [instruction], direction, cipher)
            profile.adapter.render_batch(
                _batch_record(
                    profile, account, county, direction, business_date, execute_on, (record,)
                )
            )
        except _NOT_BUILT as exc:
            problems[instruction] = exc
    return problems


def _held_alone(
    members: list[PaymentInstruction], unwritable: dict[PaymentInstruction, Exception]
) -> bool:
    """Whether the instructions that cannot be written are what stops the batch. None of them
    failing alone, or several all failing for one same reason (a layout or key that writes no
    line at all), is the batch's own fault: its instructions are held together."""
    if not unwritable:
        return False
    if len(members) > 1 and len(unwritable) == len(members):
        return len({str(exc) for exc in unwritable.values()}) > 1
    return True


def _instruction_not_written(
    session: Session,
    instruction: PaymentInstruction,
    direction: Direction,
    business_date: date,
    problem: Exception,
) -> None:
    """The instruction stays pending and is tried again each round; its association (and the
    county) is told once while the follow-up is open, and no one else sees its fields."""
    follow_up(
        session,
        FollowUpKind.BATCH_NOT_BUILT,
        business_date=business_date,
        instruction=instruction,
        amount_fen=instruction.amount_fen,
        message_zh=f"指令 {instruction.end_to_end_id} 无法写入批次文件，暂不发出，"
        f"其余指令照常组批：{problem}",
        message_en=f"instruction {instruction.end_to_end_id} cannot be written into a "
        f"{direction.value} batch file and waits; the others went ahead: {problem}",
        once_open=True,
    )


def _batch_not_built(
    session: Session,
    members: list[PaymentInstruction],
    direction: Direction,
    business_date: date,
    exc: Exception,
) -> None:
    """One follow-up per association whose instructions were in the batch that could not be
    built, so each is seen by the people who look after that association (and its county)."""
    by_association: dict[int, list[PaymentInstruction]] = {}
    for instruction in members:
        by_association.setdefault(instruction.association_id, []).append(instruction)
    for association_id, held in by_association.items():
        ids = ", ".join(i.end_to_end_id for i in held[:5]) + ("…" if len(held) > 5 else "")
        follow_up(
            session,
            FollowUpKind.BATCH_NOT_BUILT,
            business_date=business_date,
            association_id=association_id,
            amount_fen=sum(i.amount_fen for i in held),
            message_zh=f"批次无法生成（本协会 {len(held)} 笔，{ids}）：{exc}",
            message_en=f"a {direction.value} batch could not be built; this association's "
            f"{len(held)} instruction(s) ({ids}) wait: {exc}",
            # tried again each round until mended: one open follow-up, not one a round; keyed
            # by the first instruction it holds, so that a batch of the other direction (or
            # of other instructions) failing too is told of on its own
            instruction=held[0],
            once_open=True,
        )


def _refuse_over_limit(
    session: Session,
    instruction: PaymentInstruction,
    cap: int,
    business_date: date,
    payments: PaymentsConfig,
) -> None:
    cause = (
        f"单笔金额超过银行单文件上限 {grouped_yuan(cap)} 元 "
        f"amount above the bank's per-file limit of {cap} fen"
    )
    transition(
        session, instruction, InstructionStatus.FAILED, business_date=business_date, cause=cause
    )
    if instruction.purpose is not PaymentPurpose.LOAN:
        payout_failed(session, instruction, reason=cause, business_date=business_date)
        return
    if instruction.direction is Direction.DISBURSEMENT and instruction.loan_id is not None:
        loans.payment_failed(session, instruction.loan_id, reason=cause)
    elif instruction.direction is Direction.COLLECTION:
        collection_not_sent(session, instruction, business_date=business_date, config=payments)
    follow_up(
        session,
        FollowUpKind.OVER_FILE_LIMIT,
        business_date=business_date,
        instruction=instruction,
        amount_fen=instruction.amount_fen,
        message_zh=f"指令 {instruction.end_to_end_id} {cause}",
        message_en=f"instruction {instruction.end_to_end_id}: {cause}",
    )


def _next_sequence(
    session: Session, bank_code: str, direction: Direction, business_date: date
) -> int:
    last = session.scalar(
        select(func.max(PaymentBatch.sequence)).where(
            PaymentBatch.bank_code == bank_code,
            PaymentBatch.direction == direction,
            PaymentBatch.business_date == business_date,
        )
    )
    return int(last or 0) + 1


def _store_batch(
    session: Session,
    profile: BankProfile,
    account: SpecialAccount,
    direction: Direction,
    business_date: date,
    execute_on: date,
    members: list[PaymentInstruction],
    cipher: FieldCipher,
    now: datetime | None,
) -> PaymentBatch:
    sequence = _next_sequence(session, profile.code, direction, business_date)
    name = profile.config.files.batch_file_name(direction, business_date, sequence, profile.code)
    msg_id = message_id(profile.code, direction, business_date, sequence)
    county = session.get(County, account.county_id)
    assert county is not None
    record = _batch_record(
        profile,
        account,
        county,
        direction,
        business_date,
        execute_on,
        _records(session, members, direction, cipher),
        sequence=sequence,
        now=now,
    )
    rendered = profile.adapter.render_batch(record)
    protected = profile.security.protect(rendered)
    batch = PaymentBatch(
        bank_code=profile.code,
        special_account_id=account.id,
        direction=direction,
        business_date=business_date,
        sequence=sequence,
        message_id=msg_id,
        file_name=name,
        status=BatchStatus.STORED,
        line_count=len(members),
        total_fen=sum(i.amount_fen for i in members),
        content=protected.data,
        sha256=hashlib.sha256(protected.data).hexdigest(),
        sidecars_json=encode_sidecars(protected.sidecars),
        delivery_attempts=0,
    )
    session.add(batch)
    session.flush()
    for instruction in members:
        instruction.batch_id = batch.id
        transition(
            session,
            instruction,
            InstructionStatus.BATCHED,
            business_date=business_date,
            cause=f"组批 batched in {name}",
            batch_id=batch.id,
        )
    session.flush()
    return batch


def _batch_record(
    profile: BankProfile,
    account: SpecialAccount,
    county: County,
    direction: Direction,
    business_date: date,
    execute_on: date,
    records: tuple[InstructionRecord, ...],
    *,
    sequence: int = 1,
    now: datetime | None = None,
) -> Batch:
    created = (now or datetime.now(ZoneInfo(profile.config.bank.timezone))).replace(microsecond=0)
    return Batch(
        message_id=message_id(profile.code, direction, business_date, sequence),
        direction=direction,
        special_account=account.account_number,
        special_account_name=account.name,
        created_at=created,
        requested_date=execute_on,
        # an instruction due on an earlier day (a weekend, a holiday, a night missed) is asked
        # of the bank for the day its batch goes out: no bank executes on a day gone by
        instructions=tuple(
            r if r.requested_date >= execute_on else replace(r, requested_date=execute_on)
            for r in records
        ),
        bank_code=profile.code.upper(),
        initiator_name=county.fund_office_name,
        creditor_scheme_id=None,
    )


def _records(
    session: Session, members: list[PaymentInstruction], direction: Direction, cipher: FieldCipher
) -> tuple[InstructionRecord, ...]:
    people = {
        m.id: m
        for m in session.scalars(
            select(Member).where(
                Member.id.in_({i.member_id for i in members if i.member_id is not None})
            )
        )
    }
    villages = {
        a.id: a
        for a in session.scalars(
            select(Association).where(Association.id.in_({i.association_id for i in members}))
        )
    }
    loan_ids = {i.loan_id for i in members if i.loan_id is not None}
    contracts = dict(
        session.execute(select(Loan.id, Loan.contract_no).where(Loan.id.in_(loan_ids))).all()
    )
    signed = dict(
        session.execute(
            select(Loan.id, func.coalesce(Loan.disbursed_on, Loan.applied_on)).where(
                Loan.id.in_(loan_ids)
            )
        ).all()
    )
    out: list[InstructionRecord] = []
    for instruction in members:
        association = villages[instruction.association_id]
        if instruction.purpose is not PaymentPurpose.LOAN:
            out.append(_payout_record(instruction, association, people, cipher))
            continue
        assert instruction.loan_id is not None
        assert instruction.member_id is not None
        member = people[instruction.member_id]
        contract = contracts[instruction.loan_id]
        card = cipher.decrypt(CARD_FIELD, member.card_cipher)
        if direction is Direction.DISBURSEMENT:
            out.append(
                InstructionRecord(
                    end_to_end_id=instruction.end_to_end_id,
                    amount_fen=instruction.amount_fen,
                    debtor_account=association.sub_account_number,
                    debtor_name=association.name,
                    creditor_account=card,
                    creditor_name=member.name,
                    requested_date=instruction.requested_date,
                    remittance=f"借款 {contract} 放款",
                    purpose="LOAN",
                )
            )
            continue
        out.append(
            InstructionRecord(
                end_to_end_id=instruction.end_to_end_id,
                amount_fen=instruction.amount_fen,
                debtor_account=card,
                debtor_name=member.name,
                creditor_account=association.sub_account_number,
                creditor_name=association.name,
                requested_date=instruction.requested_date,
                remittance=f"借款 {contract} 还款",
                purpose="LOAR",
                mandate_id=f"MD{contract}"[:35],
                mandate_signed_on=signed[instruction.loan_id],
            )
        )
    return tuple(out)


def _payout_record(
    instruction: PaymentInstruction,
    association: Association,
    people: dict[int, Member],
    cipher: FieldCipher,
) -> InstructionRecord:
    """A liquidation payout out of the sub-account: a deposit onto the member's card, or
    capital onto the account the county named."""
    if instruction.purpose is PaymentPurpose.DEPOSIT_REFUND:
        assert instruction.member_id is not None
        member = people[instruction.member_id]
        account = cipher.decrypt(CARD_FIELD, member.card_cipher)
        name = member.name
        remittance = f"{association.name}撤销清算退还入会互助金"
    else:
        assert instruction.payee_account is not None
        assert instruction.payee_name is not None
        account = instruction.payee_account
        name = instruction.payee_name
        remittance = f"{association.name}撤销清算退还财政资金"
    return InstructionRecord(
        end_to_end_id=instruction.end_to_end_id,
        amount_fen=instruction.amount_fen,
        debtor_account=association.sub_account_number,
        debtor_name=association.name,
        creditor_account=account,
        creditor_name=name,
        requested_date=instruction.requested_date,
        remittance=remittance,
        purpose="OTHR",
    )
