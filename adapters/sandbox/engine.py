"""The sandbox bank's engine: accounts, cut-off booking, result files and statements.

The engine needs no sockets: it reads instruction files from each institution's ``in/``
folder and writes result and statement files to its ``out/`` folder, all below
``<state_dir>/sftp/<institution>/``, which the SFTP server serves as that institution's root.
It is driven by business dates: ``run_cutoff(d)`` books what arrived, ``end_of_day(d)``
writes the statements and closes the day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from adapters.base import Adapter
from adapters.errors import AdapterError
from adapters.records import (
    Balance,
    Batch,
    Channel,
    CreditDebit,
    Direction,
    InstructionResult,
    PaymentInstruction,
    ResultFile,
    ResultStatus,
    Statement,
    StatementEntry,
    SubAccountBalance,
)
from adapters.registry import load_adapter
from adapters.sandbox.clock import BANK_TZ
from adapters.sandbox.config import InstitutionConfig, SandboxConfig, ShortfallPolicy
from adapters.sandbox.errors import AccountError, BusinessDateError, SandboxError
from adapters.sandbox.faults import FaultKind, InjectedFault, ScheduledFault
from adapters.sandbox.security import file_security
from adapters.sandbox.state import (
    BankState,
    Card,
    CardStatus,
    FileStatus,
    Posting,
    ReceivedFile,
    ScheduledReturn,
    SettledPayment,
    StateStore,
    SubAccount,
)
from adapters.security import SIGNATURE_SUFFIX, FileSecurity, SecurityError

# ISO 20022 reason codes with the words a Chinese bank prints beside them. Where the words
# depend on the bank (AC01, AM05) the result carries only the code and the format adds its own.
REASONS: Mapping[str, str] = {
    "AC01": "账户不存在 (account does not exist)",
    "AC04": "已销户 (account closed)",
    "AC06": "账户冻结 (account blocked)",
    "BE01": "户名不符 (name does not match account)",
    "AM04": "余额不足 (insufficient funds)",
    "AM05": "重复文件，记录已存在 (duplicate file)",
}
PARTIAL_TEXT = "部分扣款，余额不足 (partial debit)"

BTC_DISBURSEMENT = "PMNT/ICDT/ESCT"
BTC_COLLECTION = "PMNT/IDDT/ESDD"
BTC_INCOMING_TRANSFER = "PMNT/RCDT/ESCT"
BTC_RETURN = "PMNT/ICDT/RRTN"
BTC_CASH_WITHDRAWAL = "CAMT/CNTR/CWDL"
BTC_CASH_DEPOSIT = "CAMT/CNTR/CDPT"

IN_DIR = "in"
OUT_DIR = "out"
PROCESSED_DIR = "out/processed"
_IGNORED_SUFFIXES = (".part", ".sha256", ".tmp", SIGNATURE_SUFFIX)


def load_adapter_for(inst: InstitutionConfig) -> Adapter:
    """Build the adapter an institution's files are written in, through the plug-in registry."""
    return load_adapter(inst.adapter, inst.adapter_options, config_dir=inst.adapter_config_dir)


@dataclass(frozen=True, slots=True)
class CutoffReport:
    """What one cut-off did; file names are those in the institutions' folders."""

    business_date: date
    result_files: tuple[str, ...]
    refused_files: tuple[str, ...]
    duplicate_files: tuple[str, ...]


class BankEngine:
    """The bank: its accounts, its books and its daily cycle. Thread-safe."""

    def __init__(self, config: SandboxConfig, adapters: Mapping[str, Adapter]) -> None:
        missing = [i.name for i in config.institutions if i.name not in adapters]
        if missing:
            raise SandboxError(f"no adapter given for institution(s) {', '.join(missing)}")
        self.config = config
        self._adapters = dict(adapters)
        self._security: dict[str, FileSecurity] = {}
        for inst in config.institutions:
            security = file_security(inst.security, config.state_dir)
            if security is not None:
                self._security[inst.name] = security
        self._plan = config.faults
        self._institutions = {i.name: i for i in config.institutions}
        self._lock = threading.RLock()
        self._bulk_depth = 0
        self.state_dir = config.state_dir
        self.sftp_root = config.state_dir / "sftp"
        self._store = StateStore(config.state_dir)
        self._state: BankState = self._store.load()
        for inst in config.institutions:
            for sub in (IN_DIR, OUT_DIR, PROCESSED_DIR):
                (self.sftp_root / inst.name / sub).mkdir(parents=True, exist_ok=True)
            (self.state_dir / "received" / inst.name).mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_config(cls, config: SandboxConfig) -> BankEngine:
        adapters = {i.name: load_adapter_for(i) for i in config.institutions}
        return cls(config, adapters)

    # --- folders ------------------------------------------------------------------------

    def institution_root(self, institution: str) -> Path:
        self._institution(institution)
        return self.sftp_root / institution

    # --- seeding API: how the county fund office opens accounts ------------------------

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Open many accounts in one go: saved once at the end, or not at all on an error."""
        with self._changing():
            self._bulk_depth += 1
            try:
                yield
            finally:
                self._bulk_depth -= 1
            self._save()

    def open_sub_account(
        self, institution: str, number: str, name: str, *, on: date, initial_fen: int = 0
    ) -> None:
        """Open an association's sub-account in ``institution``'s special account."""
        with self._changing():
            self._institution(institution)
            if number in self._state.sub_accounts or number in self._state.cards:
                raise AccountError(f"account {number} exists already")
            self._check_open(on)
            self._state.sub_accounts[number] = SubAccount(
                number=number, name=name, institution=institution, opened_on=on
            )
            if initial_fen:
                self._deposit_sub(number, initial_fen, on, "县财政局 (county finance bureau)", "")
            self._save()

    def open_card(
        self,
        number: str,
        holder_name: str,
        *,
        balance_fen: int = 0,
        status: CardStatus = CardStatus.ACTIVE,
        registered_name: str | None = None,
    ) -> None:
        """Open a member's Huinong One-Card (惠农一卡通)."""
        with self._changing():
            if number in self._state.cards or number in self._state.sub_accounts:
                raise AccountError(f"account {number} exists already")
            if balance_fen < 0:
                raise AccountError(f"opening balance must not be negative: {balance_fen}")
            self._state.cards[number] = Card(
                number=number,
                holder_name=holder_name,
                status=status,
                balance_fen=balance_fen,
                registered_name=registered_name,
            )
            self._save()

    def deposit(
        self,
        account: str,
        amount_fen: int,
        *,
        on: date,
        counterparty_name: str = "县财政局 (county finance bureau)",
        counterparty_account: str | None = None,
        remittance: str = "",
    ) -> str | None:
        """Credit a sub-account by transfer (returns its bank transaction id) or a card."""
        if amount_fen <= 0:
            raise AccountError(f"deposit must be a positive number of fen: {amount_fen}")
        with self._changing():
            if account in self._state.cards:
                self._state.cards[account].balance_fen += amount_fen
                self._save()
                return None
            if account not in self._state.sub_accounts:
                raise AccountError(f"no account {account}")
            self._check_open(on)
            txn = self._deposit_sub(
                account, amount_fen, on, counterparty_name, remittance, counterparty_account
            )
            self._save()
            return txn

    def set_card_status(
        self, number: str, status: CardStatus, *, registered_name: str | None = None
    ) -> None:
        with self._changing():
            card = self._card(number)
            card.status = status
            if registered_name is not None:
                card.registered_name = registered_name
            self._save()

    def balance_fen(self, account: str) -> int:
        with self._lock:
            if account in self._state.sub_accounts:
                return self._state.sub_accounts[account].balance_fen
            return self._card(account).balance_fen

    def card(self, number: str) -> Card:
        with self._lock:
            return self._card(number).model_copy()

    def special_account_balance_fen(self, institution: str) -> int:
        with self._lock:
            return sum(
                s.balance_fen
                for s in self._state.sub_accounts.values()
                if s.institution == institution
            )

    def injected_faults(self) -> tuple[InjectedFault, ...]:
        """The ledger of every fault the bank injected, in the order they happened."""
        with self._lock:
            return tuple(f.model_copy() for f in self._state.faults)

    def record_fault(self, fault: InjectedFault) -> None:
        with self._changing():
            self._state.faults.append(fault)
            self._save()

    def received_files(self, institution: str | None = None) -> tuple[ReceivedFile, ...]:
        with self._lock:
            return tuple(
                f.model_copy()
                for f in self._state.files
                if institution is None or f.institution == institution
            )

    def postings(self, institution: str | None = None) -> tuple[Posting, ...]:
        with self._lock:
            return tuple(
                p.model_copy()
                for p in self._state.postings
                if institution is None or p.institution == institution
            )

    @property
    def closed_through(self) -> date | None:
        with self._lock:
            return self._state.closed_through

    # --- daily cycle ------------------------------------------------------------------

    def pick_up(self, on: date) -> tuple[ReceivedFile, ...]:
        """Take every complete instruction file from the institutions' ``in/`` folders."""
        with self._changing():
            self._check_open(on)
            taken = self._pick_up_all(on)
            self._save()
            return tuple(f.model_copy() for f in taken)

    def run_cutoff(self, business_date: date) -> CutoffReport:
        """Pick up what arrived and book every batch due by ``business_date``."""
        with self._changing():
            self._check_open(business_date)
            self._apply_scheduled_card_faults(business_date)
            self._post_deferred(business_date)
            taken = self._pick_up_all(business_date)
            results = [
                f.result_name
                for f in taken
                if f.status is FileStatus.DUPLICATE and f.result_name is not None
            ]
            for record in self._state.files:
                if record.status is not FileStatus.PENDING:
                    continue
                if record.requested_date is not None and record.requested_date > business_date:
                    continue
                results.append(self._book_file(record, business_date))
            self._save()
            return CutoffReport(
                business_date=business_date,
                result_files=tuple(results),
                refused_files=tuple(f.name for f in taken if f.status is FileStatus.REFUSED),
                duplicate_files=tuple(f.name for f in taken if f.status is FileStatus.DUPLICATE),
            )

    def end_of_day(self, business_date: date) -> tuple[Statement, ...]:
        """Post the day's own events, write each institution's statement, close the day.

        Returns the statements made, including one withheld by a no-statement fault.
        """
        with self._changing():
            self._check_open(business_date)
            self._apply_scheduled_card_faults(business_date)
            self._post_deferred(business_date)
            self._post_returns(business_date)
            statements: list[Statement] = []
            for inst in self.config.institutions:
                self._day_events(inst, business_date)
                statements.append(self._statement(inst, business_date))
            self._state.closed_through = business_date
            self._save()
            return tuple(statements)

    # --- picking up -------------------------------------------------------------------

    def _pick_up_all(self, on: date) -> list[ReceivedFile]:
        taken: list[ReceivedFile] = []
        for inst in self.config.institutions:
            taken.extend(self._pick_up_institution(inst, on))
        return taken

    def _pick_up_institution(self, inst: InstitutionConfig, on: date) -> list[ReceivedFile]:
        self._sweep_markers(inst)
        folder = self.sftp_root / inst.name / IN_DIR
        taken: list[ReceivedFile] = []
        for path in sorted(folder.iterdir()):
            if path.is_symlink() or not path.is_file() or not self._is_complete(inst, path):
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # taken back by the institution while we looked
            digest = hashlib.sha256(data).hexdigest()
            earlier = [f for f in self._state.files if f.institution == inst.name]
            if any(f.name == path.name and f.sha256 == digest for f in earlier):
                continue  # the file we already took, still lying there
            try:
                plain = self._unprotect(inst, path, data)
            except SecurityError as exc:
                reason = f"签名或加密不符 (signature or encryption refused): {exc}"
                self._write_notice(inst, path.name, reason)
                record = ReceivedFile(
                    institution=inst.name,
                    name=path.name,
                    sha256=digest,
                    received_on=on,
                    status=FileStatus.REFUSED,
                    reason=reason,
                )
            else:
                content = hashlib.sha256(plain).hexdigest()
                accepted = [
                    f for f in earlier if f.status in (FileStatus.PENDING, FileStatus.BOOKED)
                ]
                duplicate_of = next(
                    (
                        f
                        for f in accepted
                        if f.name == path.name or content in (f.sha256, f.content_sha256)
                    ),
                    None,
                )
                record = self._receive(inst, path.name, plain, digest, on, duplicate_of)
                record.content_sha256 = content
            self._state.files.append(record)
            taken.append(record)
        return taken

    def _unprotect(self, inst: InstitutionConfig, path: Path, data: bytes) -> bytes:
        """Verify the institution's signature and decrypt, as its security policy says."""
        security = self._security.get(inst.name)
        if security is None:
            return data
        signature_path = path.with_name(path.name + SIGNATURE_SUFFIX)
        signature = signature_path.read_bytes() if signature_path.is_file() else None
        return security.unprotect(path.name, data, signature)

    def _sweep_markers(self, inst: InstitutionConfig) -> None:
        """Remove our ``out/`` markers and signatures whose file the institution has taken."""
        folder = self.sftp_root / inst.name / OUT_DIR
        for suffix in (inst.out_marker, SIGNATURE_SUFFIX):
            if not suffix:
                continue
            for side in folder.glob("*" + suffix):
                if not side.with_name(side.name[: -len(suffix)]).exists():
                    side.unlink(missing_ok=True)

    def _is_complete(self, inst: InstitutionConfig, path: Path) -> bool:
        name = path.name
        if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES):
            return False
        if any(name.endswith(suffix) for suffix in inst.marker_suffixes):
            return False
        return any(path.with_name(name + suffix).is_file() for suffix in inst.marker_suffixes)

    def _receive(
        self,
        inst: InstitutionConfig,
        name: str,
        data: bytes,
        digest: str,
        on: date,
        duplicate_of: ReceivedFile | None,
    ) -> ReceivedFile:
        adapter = self._adapters[inst.name]
        try:
            batch = adapter.parse_instructions(data)
        except AdapterError as exc:
            reason = f"文件格式错误 (malformed file): {exc}"
            self._write_notice(inst, name, reason)
            return ReceivedFile(
                institution=inst.name,
                name=name,
                sha256=digest,
                received_on=on,
                status=FileStatus.REFUSED,
                reason=reason,
            )
        record = ReceivedFile(
            institution=inst.name,
            name=name,
            sha256=digest,
            received_on=on,
            status=FileStatus.PENDING,
            message_id=batch.message_id,
            requested_date=batch.requested_date,
        )
        if duplicate_of is not None:
            same = "同名 (same name)" if duplicate_of.name == name else "同内容 (same content)"
            record.status = FileStatus.DUPLICATE
            record.reason = f"{REASONS['AM05']}: {same} as {duplicate_of.name}"
            results = tuple(
                InstructionResult(
                    end_to_end_id=i.end_to_end_id,
                    status=ResultStatus.REJECTED,
                    settled_amount_fen=0,
                    requested_amount_fen=i.amount_fen,
                    reason_code="AM05",
                    reason_text="",  # the format's own words for AM05
                )
                for i in batch.instructions
            )
            record.result_name = self._write_result(inst, record, batch, results, on)
            return record
        if batch.special_account != inst.special_account:
            reason = (
                f"专户账号不符 (special account {batch.special_account!r} is not "
                f"{inst.name}'s {inst.special_account!r})"
            )
            self._write_notice(inst, name, reason)
            record.status = FileStatus.REFUSED
            record.reason = reason
            return record
        stored = self.state_dir / "received" / inst.name / digest
        _write_atomic(stored, data)
        return record

    # --- booking ----------------------------------------------------------------------

    def _book_file(self, record: ReceivedFile, on: date) -> str:
        inst = self._institution(record.institution)
        adapter = self._adapters[inst.name]
        data = (self.state_dir / "received" / inst.name / record.sha256).read_bytes()
        batch = adapter.parse_instructions(data)
        results = tuple(self._book(inst, batch, instr, on) for instr in batch.instructions)
        record.status = FileStatus.BOOKED
        record.result_name = self._write_result(inst, record, batch, results, on)
        return record.result_name

    def _book(
        self, inst: InstitutionConfig, batch: Batch, instr: PaymentInstruction, on: date
    ) -> InstructionResult:
        if batch.direction is Direction.DISBURSEMENT:
            return self._book_disbursement(inst, instr, on)
        return self._book_collection(inst, instr, on)

    def _book_disbursement(
        self, inst: InstitutionConfig, instr: PaymentInstruction, on: date
    ) -> InstructionResult:
        sub = self._state.sub_accounts.get(instr.debtor_account)
        if sub is None or sub.institution != inst.name:
            return _rejected(instr, "AC01", "")
        self._instruction_card_faults(inst, instr, instr.creditor_account, sub.number, on)
        refusal = self._card_refusal(instr.creditor_account, instr.creditor_name)
        if refusal is not None:
            return _rejected(instr, refusal, "" if refusal == "AC01" else REASONS[refusal])
        if self._available_fen(sub) < instr.amount_fen:
            return _rejected(instr, "AM04", f"子账户{REASONS['AM04']}")
        card = self._state.cards[instr.creditor_account]
        card.balance_fen += instr.amount_fen
        txn = self._post_instruction(
            inst, sub, instr, on, credit=False, amount_fen=instr.amount_fen, btc=BTC_DISBURSEMENT
        )
        payment = SettledPayment(
            institution=inst.name,
            end_to_end_id=instr.end_to_end_id,
            disbursement=True,
            sub_account=sub.number,
            card=card.number,
            card_name=card.holder_name,
            amount_fen=instr.amount_fen,
            booked_on=on,
            txn_id=txn,
            remittance=instr.remittance,
        )
        self._state.settled.append(payment)
        self._maybe_schedule_return(payment, on)
        return InstructionResult(
            end_to_end_id=instr.end_to_end_id,
            status=ResultStatus.SETTLED,
            settled_amount_fen=instr.amount_fen,
            requested_amount_fen=instr.amount_fen,
            booking_date=on,
        )

    def _book_collection(
        self, inst: InstitutionConfig, instr: PaymentInstruction, on: date
    ) -> InstructionResult:
        sub = self._state.sub_accounts.get(instr.creditor_account)
        if sub is None or sub.institution != inst.name:
            return _rejected(instr, "AC01", "")
        self._instruction_card_faults(inst, instr, instr.debtor_account, sub.number, on)
        refusal = self._card_refusal(instr.debtor_account, instr.debtor_name)
        if refusal is not None:
            return _rejected(instr, refusal, "" if refusal == "AC01" else REASONS[refusal])
        card = self._state.cards[instr.debtor_account]
        policy = self._shortfall_faults(inst, instr, card, sub.number, on)
        amount = instr.amount_fen
        if card.balance_fen < amount:
            if policy is ShortfallPolicy.PARTIAL and card.balance_fen > 0:
                amount = card.balance_fen
            else:
                return _rejected(instr, "AM04", REASONS["AM04"])
        card.balance_fen -= amount
        self._post_instruction(
            inst, sub, instr, on, credit=True, amount_fen=amount, btc=BTC_COLLECTION
        )
        partial = amount < instr.amount_fen
        return InstructionResult(
            end_to_end_id=instr.end_to_end_id,
            status=ResultStatus.PARTIALLY_SETTLED if partial else ResultStatus.SETTLED,
            settled_amount_fen=amount,
            requested_amount_fen=instr.amount_fen,
            reason_code="AM04" if partial else None,
            reason_text=PARTIAL_TEXT if partial else "",
            booking_date=on,
        )

    def _card_refusal(self, number: str, name: str) -> str | None:
        card = self._state.cards.get(number)
        if card is None:
            return "AC01"
        if card.status is CardStatus.CLOSED:
            return "AC04"
        if card.status is CardStatus.FROZEN:
            return "AC06"
        if card.status is CardStatus.NAME_MISMATCH or card.holder_name != name:
            return "BE01"
        return None

    def _available_fen(self, sub: SubAccount) -> int:
        held = sum(
            p.amount_fen
            for p in self._state.deferred
            if p.sub_account == sub.number and not p.credit
        )
        return sub.balance_fen - held

    def _post_instruction(
        self,
        inst: InstitutionConfig,
        sub: SubAccount,
        instr: PaymentInstruction,
        on: date,
        *,
        credit: bool,
        amount_fen: int,
        btc: str,
    ) -> str:
        card_account = instr.debtor_account if credit else instr.creditor_account
        card_name = instr.debtor_name if credit else instr.creditor_name
        delayed = self._plan.rolls(FaultKind.DELAYED_BOOKING, inst.name, on, instr.end_to_end_id)
        delayed = delayed or any(
            s.matches_instruction(on, instr.end_to_end_id, card_account)
            for s in self._plan.scheduled_for(FaultKind.DELAYED_BOOKING)
        )
        booking = on + timedelta(days=1) if delayed else on
        posting = Posting(
            txn_id=self._state.take_txn_id(on),
            institution=inst.name,
            sub_account=sub.number,
            booking_date=booking,
            value_date=on,
            amount_fen=amount_fen,
            credit=credit,
            channel=Channel.TRANSFER,
            bank_transaction_code=btc,
            counterparty_account=card_account,
            counterparty_name=card_name,
            end_to_end_id=instr.end_to_end_id,
            remittance=instr.remittance,
        )
        if delayed:
            self._state.deferred.append(posting)
            self._fault(
                on,
                FaultKind.DELAYED_BOOKING,
                inst.name,
                sub.number,
                amount_fen,
                instr.end_to_end_id,
                f"value {on.isoformat()}, booked {booking.isoformat()}, txn {posting.txn_id}",
            )
        else:
            self._apply(posting)
        return posting.txn_id

    def _apply(self, posting: Posting) -> None:
        sub = self._state.sub_accounts[posting.sub_account]
        sub.balance_fen += posting.amount_fen if posting.credit else -posting.amount_fen
        self._state.postings.append(posting)

    def _post_deferred(self, on: date) -> None:
        due = [p for p in self._state.deferred if p.booking_date <= on]
        self._state.deferred = [p for p in self._state.deferred if p.booking_date > on]
        for posting in due:
            posting.booking_date = on
            self._apply(posting)

    # --- injected faults on instructions ---------------------------------------------

    def _instruction_card_faults(
        self, inst: InstitutionConfig, instr: PaymentInstruction, number: str, sub: str, on: date
    ) -> None:
        card = self._state.cards.get(number)
        if card is None or card.status is not CardStatus.ACTIVE:
            return
        for kind, status in (
            (FaultKind.CLOSED_CARD, CardStatus.CLOSED),
            (FaultKind.FROZEN_CARD, CardStatus.FROZEN),
            (FaultKind.NAME_MISMATCH, CardStatus.NAME_MISMATCH),
        ):
            scheduled = any(
                s.end_to_end_id == instr.end_to_end_id for s in self._plan.scheduled_for(kind)
            )
            if scheduled or self._plan.rolls(kind, inst.name, on, instr.end_to_end_id):
                card.status = status
                self._fault(
                    on,
                    kind,
                    inst.name,
                    sub,
                    instr.amount_fen,
                    instr.end_to_end_id,
                    f"card {number}",
                )
                return

    def _apply_scheduled_card_faults(self, on: date) -> None:
        for kind, status in (
            (FaultKind.CLOSED_CARD, CardStatus.CLOSED),
            (FaultKind.FROZEN_CARD, CardStatus.FROZEN),
            (FaultKind.NAME_MISMATCH, CardStatus.NAME_MISMATCH),
        ):
            for index, entry in enumerate(self._plan.scheduled):
                if entry.kind is not kind or entry.card is None or entry.end_to_end_id:
                    continue
                if entry.on is not None and entry.on > on:
                    continue
                if self._already_applied(entry, index):
                    continue
                card = self._state.cards.get(entry.card)
                if card is None:
                    continue
                card.status = status
                self._fault(
                    on,
                    kind,
                    entry.institution or self._only_institution(),
                    entry.sub_account,
                    0,
                    entry.card,
                    f"scheduled #{index}: card {entry.card} {status.value}",
                )

    def _already_applied(self, entry: ScheduledFault, index: int) -> bool:
        tag = f"scheduled #{index}:"
        return any(f.kind is entry.kind and f.detail.startswith(tag) for f in self._state.faults)

    def _shortfall_faults(
        self,
        inst: InstitutionConfig,
        instr: PaymentInstruction,
        card: Card,
        sub: str,
        on: date,
    ) -> ShortfallPolicy:
        for kind in (FaultKind.PARTIAL_DEBIT, FaultKind.INSUFFICIENT_FUNDS):
            scheduled = next(
                (
                    s
                    for s in self._plan.scheduled_for(kind)
                    if s.matches_instruction(on, instr.end_to_end_id, card.number)
                ),
                None,
            )
            rolled = self._plan.rolls(kind, inst.name, on, instr.end_to_end_id)
            if scheduled is None and not rolled:
                continue
            rng = self._plan.rng("shortfall", kind.value, on, instr.end_to_end_id)
            if kind is FaultKind.PARTIAL_DEBIT:
                if instr.amount_fen < 2:
                    continue
                left = (
                    scheduled.amount_fen
                    if scheduled is not None and scheduled.amount_fen is not None
                    else rng.randrange(1, instr.amount_fen)
                )
                left = min(left, instr.amount_fen - 1)
            else:
                left = rng.randrange(0, instr.amount_fen)
            card.balance_fen = min(card.balance_fen, left)
            self._fault(
                on,
                kind,
                inst.name,
                sub,
                instr.amount_fen - card.balance_fen,
                instr.end_to_end_id,
                f"card {card.number} left with {card.balance_fen} fen",
            )
            return ShortfallPolicy.PARTIAL if kind is FaultKind.PARTIAL_DEBIT else inst.shortfall
        return inst.shortfall

    def _maybe_schedule_return(self, payment: SettledPayment, on: date) -> None:
        scheduled = next(
            (
                s
                for s in self._plan.scheduled_for(FaultKind.RETURNED_PAYMENT)
                if s.end_to_end_id == payment.end_to_end_id
            ),
            None,
        )
        if scheduled is None and not self._plan.rolls(
            FaultKind.RETURNED_PAYMENT, payment.institution, on, payment.end_to_end_id
        ):
            return
        days = self._plan.return_after_days
        reason = "AC04"
        if scheduled is not None:
            days = scheduled.after_days or days
            reason = scheduled.reason_code or reason
            if scheduled.on is not None and scheduled.on > on:
                days = (scheduled.on - on).days
        self._state.returns.append(
            ScheduledReturn(
                due=on + timedelta(days=max(days, 1)), payment=payment, reason_code=reason
            )
        )

    def _post_returns(self, on: date) -> None:
        due = [r for r in self._state.returns if r.due <= on]
        self._state.returns = [r for r in self._state.returns if r.due > on]
        for ret in due:
            payment = ret.payment
            card = self._state.cards.get(payment.card)
            if card is not None:
                card.balance_fen -= min(card.balance_fen, payment.amount_fen)
                if ret.reason_code == "AC04":
                    card.status = CardStatus.CLOSED
            posting = Posting(
                txn_id=self._state.take_txn_id(on),
                institution=payment.institution,
                sub_account=payment.sub_account,
                booking_date=on,
                value_date=on,
                amount_fen=payment.amount_fen,
                credit=True,
                bank_transaction_code=BTC_RETURN,
                counterparty_account=payment.card,
                counterparty_name=payment.card_name,
                end_to_end_id=payment.end_to_end_id,
                remittance=f"退汇 (return) {REASONS.get(ret.reason_code, ret.reason_code)}",
                return_reason_code=ret.reason_code,
            )
            self._apply(posting)
            self._fault(
                on,
                FaultKind.RETURNED_PAYMENT,
                payment.institution,
                payment.sub_account,
                payment.amount_fen,
                payment.end_to_end_id,
                f"settled {payment.booked_on.isoformat()} txn {payment.txn_id}, "
                f"returned {ret.reason_code} txn {posting.txn_id}",
            )

    # --- a day's own events and the statement ------------------------------------------

    def _day_events(self, inst: InstitutionConfig, on: date) -> None:
        for index, entry in enumerate(self._plan.scheduled):
            if entry.kind not in (
                FaultKind.CASH_WITHDRAWAL,
                FaultKind.CASH_DEPOSIT,
                FaultKind.UNEXPECTED_CREDIT,
                FaultKind.TRANSFER_REPAYMENT,
            ):
                continue
            if entry.on != on or entry.sub_account is None or entry.amount_fen is None:
                continue
            sub = self._state.sub_accounts.get(entry.sub_account)
            if sub is None or sub.institution != inst.name:
                continue
            self._day_event(inst, entry.kind, sub, entry.amount_fen, on, entry, index)
        subs = sorted(
            (s for s in self._state.sub_accounts.values() if s.institution == inst.name),
            key=lambda s: s.number,
        )
        if not subs:
            return
        for kind in (
            FaultKind.CASH_WITHDRAWAL,
            FaultKind.CASH_DEPOSIT,
            FaultKind.UNEXPECTED_CREDIT,
            FaultKind.TRANSFER_REPAYMENT,
        ):
            if not self._plan.rolls(kind, inst.name, on):
                continue
            rng = self._plan.rng("day", kind.value, inst.name, on)
            sub = rng.choice(subs)
            top = self._plan.random_amount_max_fen
            if kind is FaultKind.CASH_WITHDRAWAL:
                top = min(top, self._available_fen(sub))
            if top < 1:
                continue
            self._day_event(inst, kind, sub, rng.randint(1, top), on, None, None)

    def _day_event(
        self,
        inst: InstitutionConfig,
        kind: FaultKind,
        sub: SubAccount,
        amount_fen: int,
        on: date,
        entry: ScheduledFault | None,
        index: int | None,
    ) -> None:
        rng = self._plan.rng("event", kind.value, sub.number, on, index)
        posting = Posting(
            txn_id=self._state.take_txn_id(on),
            institution=inst.name,
            sub_account=sub.number,
            booking_date=on,
            value_date=on,
            amount_fen=amount_fen,
            credit=kind is not FaultKind.CASH_WITHDRAWAL,
        )
        reference = posting.txn_id
        if kind is FaultKind.CASH_WITHDRAWAL:
            posting.channel = Channel.CASH
            posting.bank_transaction_code = BTC_CASH_WITHDRAWAL
            posting.counterparty_name = (entry and entry.counterparty_name) or "柜面取现 (counter)"
            posting.remittance = "现金支取 (cash withdrawal)"
        elif kind is FaultKind.CASH_DEPOSIT:
            posting.channel = Channel.CASH
            posting.bank_transaction_code = BTC_CASH_DEPOSIT
            posting.counterparty_name = (entry and entry.counterparty_name) or "村会计 (treasurer)"
            posting.remittance = "现金存款 (cash deposit)"
        elif kind is FaultKind.UNEXPECTED_CREDIT:
            posting.bank_transaction_code = BTC_INCOMING_TRANSFER
            posting.counterparty_account = (entry and entry.counterparty_account) or (
                f"6230{rng.randrange(10**14):014d}"
            )
            posting.counterparty_name = (entry and entry.counterparty_name) or "不明来款 (unknown)"
            posting.remittance = "转账 (transfer)"
        else:
            if not self._transfer_repayment(posting, sub, entry, on):
                return
            reference = posting.remittance
        self._apply(posting)
        detail = f"txn {posting.txn_id}"
        if index is not None:
            detail = f"scheduled #{index}: {detail}"
        self._fault(on, kind, inst.name, sub.number, posting.amount_fen, reference, detail)

    def _transfer_repayment(
        self,
        posting: Posting,
        sub: SubAccount,
        entry: ScheduledFault | None,
        on: date,
    ) -> bool:
        """Fill ``posting`` as a borrower's own transfer into the special account."""
        posting.bank_transaction_code = BTC_INCOMING_TRANSFER
        if entry is not None and entry.card is not None:
            card = self._state.cards.get(entry.card)
            name = card.holder_name if card is not None else (entry.counterparty_name or "")
            posting.counterparty_account = entry.card
            posting.counterparty_name = name
            posting.remittance = f"还款 {entry.reference}"
            if card is not None:
                card.balance_fen -= min(card.balance_fen, posting.amount_fen)
            return True
        loans = [p for p in self._state.settled if p.disbursement and p.sub_account == sub.number]
        if not loans:
            return False
        pick = self._plan.rng("repay", sub.number, on).choice(loans)
        posting.amount_fen = min(posting.amount_fen, pick.amount_fen)
        posting.counterparty_account = pick.card
        posting.counterparty_name = pick.card_name
        posting.remittance = f"还款 {pick.remittance or pick.end_to_end_id}"
        card = self._state.cards.get(pick.card)
        if card is not None:
            card.balance_fen -= min(card.balance_fen, posting.amount_fen)
        return True

    def _statement(self, inst: InstitutionConfig, on: date) -> Statement:
        statement = self._build_statement(inst, on)
        if statement.entries:
            entries = self._maybe_duplicate_line(inst, on, list(statement.entries))
            statement = dataclasses.replace(statement, entries=tuple(entries))
        withheld = any(
            s.on == on and s.institution in (None, inst.name)
            for s in self._plan.scheduled_for(FaultKind.NO_STATEMENT)
        ) or self._plan.rolls(FaultKind.NO_STATEMENT, inst.name, on)
        if withheld:
            self._fault(on, FaultKind.NO_STATEMENT, inst.name, None, 0, statement.statement_id, "")
            return statement
        data = self._adapters[inst.name].render_statement(statement)
        name = inst.statement_name.format(
            account=inst.special_account,
            date=on,
            institution=inst.name,
            seq=self._state.take_file_seq(),
            statement_id=statement.statement_id,
        )
        self._write_out(inst, name, data)
        self._state.statements.setdefault(inst.name, []).append(name)
        return statement

    def _build_statement(self, inst: InstitutionConfig, on: date) -> Statement:
        """The true statement of ``on`` from the books, whatever day it is now."""
        subs = sorted(
            (
                s
                for s in self._state.sub_accounts.values()
                if s.institution == inst.name and s.opened_on <= on
            ),
            key=lambda s: s.number,
        )
        later: dict[str, int] = {}
        moved: dict[str, int] = {}
        today: list[Posting] = []
        for p in self._state.postings:
            if p.institution != inst.name or p.booking_date < on:
                continue
            if p.booking_date > on:
                later[p.sub_account] = later.get(p.sub_account, 0) + _net(p)
            else:
                today.append(p)
                moved[p.sub_account] = moved.get(p.sub_account, 0) + _net(p)
        closings = {s.number: s.balance_fen - later.get(s.number, 0) for s in subs}
        openings = {n: closing - moved.get(n, 0) for n, closing in closings.items()}
        running = dict(openings)
        entries: list[StatementEntry] = []
        for p in today:
            running[p.sub_account] += _net(p)
            entries.append(_entry(p, running[p.sub_account]))
        opening, closing = sum(openings.values()), sum(closings.values())
        return Statement(
            statement_id=f"STMT{on:%Y%m%d}{inst.name.upper().replace('-', '')}",
            account=inst.special_account,
            account_name=inst.special_account_name,
            created_at=datetime.combine(on, self.config.statement_time, tzinfo=BANK_TZ),
            from_date=on,
            to_date=on,
            entries=tuple(entries),
            opening_balance_fen=opening,
            closing_balance_fen=closing,
            balances=(
                Balance(amount_fen=opening, on=on, kind="opening"),
                Balance(amount_fen=closing, on=on, kind="closing"),
            ),
            sub_account_balances=tuple(
                SubAccountBalance(
                    sub_account=number,
                    opening_fen=openings[number],
                    closing_fen=closings[number],
                )
                for number in closings
            ),
        )

    def resend_statement(self, institution: str, on: date) -> str:
        """Write the correct statement of a closed day again, as a bank does when asked.

        This is how a missing statement or one with a duplicated line is put right: the
        file holds the true lines and balances, with no fault injected. Returns its name.
        """
        with self._changing():
            inst = self._institution(institution)
            closed = self._state.closed_through
            if closed is None or on > closed:
                raise BusinessDateError(
                    f"business date {on.isoformat()} is not closed yet: no statement to resend"
                )
            statement = self._build_statement(inst, on)
            data = self._adapters[inst.name].render_statement(statement)
            name = inst.statement_name.format(
                account=inst.special_account,
                date=on,
                institution=inst.name,
                seq=self._state.take_file_seq(),
                statement_id=statement.statement_id,
            )
            name = self._write_out(inst, name, data, unique=True)
            self._state.statements.setdefault(inst.name, []).append(name)
            self._save()
            return name

    def _maybe_duplicate_line(
        self, inst: InstitutionConfig, on: date, entries: list[StatementEntry]
    ) -> list[StatementEntry]:
        scheduled = next(
            (
                s
                for s in self._plan.scheduled_for(FaultKind.DUPLICATE_LINE)
                if s.on == on and s.institution in (None, inst.name)
            ),
            None,
        )
        if scheduled is None and not self._plan.rolls(FaultKind.DUPLICATE_LINE, inst.name, on):
            return entries
        index = self._plan.rng("duplicate", inst.name, on).randrange(len(entries))
        if scheduled is not None and (scheduled.end_to_end_id or scheduled.reference):
            wanted = {scheduled.end_to_end_id, scheduled.reference} - {None, ""}
            index = next(
                (
                    i
                    for i, e in enumerate(entries)
                    if e.end_to_end_id in wanted or e.bank_transaction_id in wanted
                ),
                index,
            )
        line = entries[index]
        self._fault(
            on,
            FaultKind.DUPLICATE_LINE,
            inst.name,
            line.sub_account,
            line.amount_fen,
            line.bank_transaction_id or "",
            f"line {index + 1} printed twice",
        )
        return [*entries[: index + 1], line, *entries[index + 1 :]]

    # --- files out ----------------------------------------------------------------------

    def _write_result(
        self,
        inst: InstitutionConfig,
        record: ReceivedFile,
        batch: Batch,
        results: Sequence[InstructionResult],
        on: date,
    ) -> str:
        seq = self._state.take_file_seq()
        statuses = {r.status for r in results}
        if statuses == {ResultStatus.REJECTED}:
            group = "RJCT"
        elif statuses <= {ResultStatus.SETTLED, ResultStatus.ACCEPTED}:
            group = "ACSC"
        else:
            group = "PART"
        result = ResultFile(
            message_id=f"RS{on:%Y%m%d}{seq:06d}",
            original_message_id=batch.message_id,
            created_at=datetime.combine(on, self.config.cutoff, tzinfo=BANK_TZ),
            results=tuple(results),
            group_status=group,
        )
        data = self._adapters[inst.name].render_result(result, batch)
        name = inst.result_name.format(
            message_id=batch.message_id,
            result_id=result.message_id,
            date=on,
            seq=seq,
            institution=inst.name,
            name=Path(record.name).stem,
        )
        return self._write_out(inst, name, data, unique=True)

    def _write_notice(self, inst: InstitutionConfig, name: str, reason: str) -> None:
        """A refusal notice travels unencrypted (the county may not be able to decrypt what
        it sent wrongly), but a bank that signs its files signs it too: a notice fails a
        whole batch, so the county must be able to trust it."""
        text = f"文件被拒绝 (file refused): {name}\n原因 (reason): {reason}\n"
        self._write_out(inst, f"{name}.refused.txt", text.encode("utf-8"), protect=False, sign=True)

    def _write_out(
        self,
        inst: InstitutionConfig,
        name: str,
        data: bytes,
        *,
        unique: bool = False,
        protect: bool = True,
        sign: bool = False,
    ) -> str:
        """Write an outbound file, its side files, then its marker.

        The institution's security policy encrypts and signs it (``protect``), or only signs
        it (``sign``, where the policy signs); ``unique`` never replaces an earlier file.
        """
        if "/" in name or name.startswith("."):
            raise SandboxError(f"out file name must be a plain name: {name!r}")
        folder = self.sftp_root / inst.name / OUT_DIR
        if unique:
            stem, suffix = Path(name).stem, Path(name).suffix
            n = 1
            if (folder / name).is_file() and (folder / name).read_bytes() == data:
                return name  # written already, before a restart
            while (folder / name).exists() or (
                self.sftp_root / inst.name / PROCESSED_DIR / name
            ).exists():
                n += 1
                name = f"{stem}_{n}{suffix}"
        security = self._security.get(inst.name)
        if security is not None and protect:
            protected = security.protect(data)
            _write_atomic(folder / name, protected.data)
            for suffix, content in protected.sidecars.items():
                _write_atomic(folder / (name + suffix), content)
        else:
            _write_atomic(folder / name, data)
            if sign and security is not None and security.signer is not None:
                _write_atomic(
                    folder / (name + SIGNATURE_SUFFIX), security.signer.signature_file(data)
                )
        if inst.out_marker:
            _write_atomic(folder / (name + inst.out_marker), b"")
        return name

    # --- helpers ------------------------------------------------------------------------

    def _deposit_sub(
        self,
        number: str,
        amount_fen: int,
        on: date,
        counterparty_name: str,
        remittance: str,
        counterparty_account: str | None = None,
    ) -> str:
        sub = self._state.sub_accounts[number]
        posting = Posting(
            txn_id=self._state.take_txn_id(on),
            institution=sub.institution,
            sub_account=number,
            booking_date=on,
            value_date=on,
            amount_fen=amount_fen,
            credit=True,
            bank_transaction_code=BTC_INCOMING_TRANSFER,
            counterparty_account=counterparty_account,
            counterparty_name=counterparty_name,
            remittance=remittance,
        )
        self._apply(posting)
        return posting.txn_id

    def _fault(
        self,
        on: date,
        kind: FaultKind,
        institution: str,
        sub_account: str | None,
        amount_fen: int,
        reference: str,
        detail: str,
    ) -> None:
        self._state.faults.append(
            InjectedFault(
                date=on,
                kind=kind,
                institution=institution,
                sub_account=sub_account,
                amount_fen=amount_fen,
                reference=reference,
                detail=detail,
            )
        )

    def _check_open(self, on: date) -> None:
        closed = self._state.closed_through
        if closed is not None and on <= closed:
            raise BusinessDateError(
                f"business date {on.isoformat()} is closed (end of day ran through "
                f"{closed.isoformat()})"
            )

    def _only_institution(self) -> str:
        names = list(self._institutions)
        return names[0] if len(names) == 1 else ""

    def _institution(self, name: str) -> InstitutionConfig:
        try:
            return self._institutions[name]
        except KeyError:
            raise AccountError(f"no institution {name!r}") from None

    def _card(self, number: str) -> Card:
        try:
            return self._state.cards[number]
        except KeyError:
            raise AccountError(f"no card {number}") from None

    def _save(self) -> None:
        if self._bulk_depth == 0:
            self._store.save(self._state)

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the lock for a change; if it fails half-way, go back to the saved state."""
        with self._lock:
            try:
                yield
            except BaseException:
                self._state = self._store.load()
                raise


def _rejected(instr: PaymentInstruction, code: str, text: str) -> InstructionResult:
    return InstructionResult(
        end_to_end_id=instr.end_to_end_id,
        status=ResultStatus.REJECTED,
        settled_amount_fen=0,
        requested_amount_fen=instr.amount_fen,
        reason_code=code,
        reason_text=text,
    )


def _net(p: Posting) -> int:
    return p.amount_fen if p.credit else -p.amount_fen


def _entry(p: Posting, balance_after_fen: int) -> StatementEntry:
    return StatementEntry(
        booking_date=p.booking_date,
        amount_fen=p.amount_fen,
        credit_debit=CreditDebit.CREDIT if p.credit else CreditDebit.DEBIT,
        bank_transaction_id=p.txn_id,
        value_date=p.value_date,
        channel=p.channel,
        bank_transaction_code=p.bank_transaction_code,
        counterparty_account=p.counterparty_account,
        counterparty_name=p.counterparty_name,
        end_to_end_id=p.end_to_end_id,
        remittance=p.remittance,
        sub_account=p.sub_account,
        return_reason_code=p.return_reason_code,
        balance_after_fen=balance_after_fen,
    )


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
