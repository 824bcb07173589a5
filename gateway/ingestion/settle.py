"""Book a result file's full settlements as a set: the common case of a night's answers.

A result that settles its instruction in full (a disbursement paid, or a collection that
pays its schedule line off) is applied in memory — the instruction's transition, the loan's
and schedule line's new state, the repayment schedule of a paid-out loan — and its posting
is collected; all postings then go to the ledger in a few statements through
:func:`gateway.ledger.service.post_many`, which writes one audit event per association chain
naming every instruction, loan and amount settled. Everything else (refusals, partial
collections, answers for loans in an unexpected state) takes the single-instruction path of
:func:`gateway.payments.service.apply_result`, whose rules these mirror.

Nothing here commits: the caller's transaction holds the whole file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from adapters.records import Direction, InstructionResult, ResultStatus
from gateway.errors import Conflict
from gateway.ledger.models import AccountCode, LedgerChannel, TransactionKind
from gateway.ledger.service import Posting, PostingRequest, post_many
from gateway.loans.models import Loan, LoanStatus
from gateway.loans.service import _add_months, after_repayment, collected_legs
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import (
    InstructionStatus,
    PaymentInstruction,
    RepaymentMethod,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from gateway.payments.schedule import build_schedule, split_payment
from gateway.payments.service import caught_up, collected_on_time_until, transition

SETTLING = (ResultStatus.SETTLED, ResultStatus.PARTIALLY_SETTLED)
REPAYING = (LoanStatus.DISBURSED, LoanStatus.REPAYING, LoanStatus.OVERDUE)


@dataclass
class SetSettlement:
    """The full settlements of one result file, booked together by :meth:`book`."""

    session: Session
    inbound_file_id: int
    file_name: str
    business_date: date
    requests: list[PostingRequest]
    settled: list[PaymentInstruction]
    disbursed: list[tuple[Loan, RepaymentMethod]]

    @classmethod
    def start(
        cls, session: Session, *, inbound_file_id: int, file_name: str, business_date: date
    ) -> SetSettlement:
        return cls(session, inbound_file_id, file_name, business_date, [], [], [])

    def take(
        self,
        instruction: PaymentInstruction,
        result: InstructionResult,
        *,
        loan: Loan | None,
        line: RepaymentScheduleLine | None,
        policy: CollectionPolicy,
    ) -> bool:
        """Apply ``result`` here if it settles ``instruction`` in full; False leaves it to
        the single-instruction path (and so does a payment with no loan behind it)."""
        if loan is None or loan.id != instruction.loan_id:
            return False
        if instruction.status not in (InstructionStatus.SENT, InstructionStatus.ACCEPTED):
            return False
        if result.status not in SETTLING or result.settled_amount_fen != instruction.amount_fen:
            return False
        booked_on = result.booking_date or self.business_date
        if instruction.direction is Direction.DISBURSEMENT:
            if loan.status is not LoanStatus.RELEASED:
                return False
            self._settled(instruction, result, booked_on)
            self._disburse(instruction, loan, booked_on, policy.repayment_method)
            return True
        if line is None or loan.status not in REPAYING:
            return False
        if instruction.amount_fen != line.outstanding_principal_fen + line.outstanding_fee_fen:
            return False
        principal, fee = split_payment(
            instruction.amount_fen,
            fee_due_fen=line.outstanding_fee_fen,
            principal_due_fen=line.outstanding_principal_fen,
        )
        if principal > loan.outstanding_principal_fen:
            return False
        self._settled(instruction, result, booked_on)
        self._collect(instruction, loan, line, principal, fee, booked_on)
        return True

    def _settled(
        self, instruction: PaymentInstruction, result: InstructionResult, booked_on: date
    ) -> None:
        instruction.settled_amount_fen = result.settled_amount_fen
        instruction.settled_on = booked_on
        instruction.reason_code = result.reason_code
        instruction.reason_text = result.reason_text or None
        transition(
            self.session,
            instruction,
            InstructionStatus.SETTLED,
            business_date=self.business_date,
            cause="银行已入账 settled",
            inbound_file_id=self.inbound_file_id,
        )
        self.settled.append(instruction)

    def _disburse(
        self,
        instruction: PaymentInstruction,
        loan: Loan,
        booked_on: date,
        method: RepaymentMethod,
    ) -> None:
        loan.status = LoanStatus.DISBURSED
        loan.disbursed_on = booked_on
        loan.due_on = _add_months(booked_on, loan.term_months)
        self.requests.append(
            PostingRequest(
                association_id=loan.association_id,
                business_date=booked_on,
                description=f"发放借款 {loan.contract_no}",
                kind=TransactionKind.DISBURSEMENT,
                legs=[
                    Posting.debit(AccountCode.LOANS_RECEIVABLE, loan.amount_fen, loan.contract_no),
                    # The bank paid it: out of the sub-account, even for a loan entered
                    # as cash (such a loan is paid by the association, not sent to a bank).
                    Posting.credit(AccountCode.BANK_SUB_ACCOUNT, loan.amount_fen, loan.contract_no),
                ],
                channel=LedgerChannel.TRANSFER,
                external_ref=instruction.end_to_end_id,
                note=_note(instruction, loan, "settled", instruction.amount_fen, 0),
            )
        )
        self.disbursed.append((loan, method))

    def _collect(
        self,
        instruction: PaymentInstruction,
        loan: Loan,
        line: RepaymentScheduleLine,
        principal: int,
        fee: int,
        booked_on: date,
    ) -> None:
        legs = collected_legs(loan, AccountCode.BANK_SUB_ACCOUNT, principal, fee)
        loan.principal_repaid_fen += principal
        loan.fee_paid_fen += fee
        after_repayment(loan, booked_on, due_by=collected_on_time_until(instruction, booked_on))
        line.paid_principal_fen += principal
        line.paid_fee_fen += fee
        line.status = ScheduleLineStatus.PAID
        line.next_attempt_on = None
        # Rare (a retry paying off the last arrears): one look at the loan's other lines.
        caught_up(self.session, loan, as_of=booked_on, end_to_end_id=instruction.end_to_end_id)
        self.requests.append(
            PostingRequest(
                association_id=loan.association_id,
                business_date=booked_on,
                description=f"收回借款 {loan.contract_no}",
                kind=TransactionKind.REPAYMENT,
                legs=legs,
                external_ref=instruction.end_to_end_id,
                note=_note(instruction, loan, "settled", principal, fee),
            )
        )

    def book(self) -> int:
        """Post every collected transaction, link it to its instruction and create the
        schedules of the loans paid out; returns how many instructions were settled."""
        if not self.requests:
            return 0
        ids = post_many(
            self.session,
            self.requests,
            audit_action="payments.results_settled",
            audit_payload={"inbound_file_id": self.inbound_file_id, "file": self.file_name},
        )
        by_ref: dict[str, uuid.UUID] = {
            str(r.external_ref): i for r, i in zip(self.requests, ids, strict=True)
        }
        for instruction in self.settled:
            instruction.journal_transaction_id = by_ref[instruction.end_to_end_id]
        self._schedules(self.disbursed)
        self.session.flush()
        return len(self.settled)

    def _schedules(self, disbursed: Iterable[tuple[Loan, RepaymentMethod]]) -> None:
        """Each paid-out loan's repayment schedule, numbered after any cancelled one (a
        loan whose earlier payout was returned keeps its cancelled lines)."""
        pairs = list(disbursed)
        if not pairs:
            return
        earlier: dict[int, int] = {}
        for loan_id, number, status in self.session.execute(
            select(
                RepaymentScheduleLine.loan_id,
                RepaymentScheduleLine.instalment_no,
                RepaymentScheduleLine.status,
            ).where(RepaymentScheduleLine.loan_id.in_({loan.id for loan, _ in pairs}))
        ):
            if status is not ScheduleLineStatus.CANCELLED:
                raise Conflict("还款计划已存在", f"loan {loan_id} has a schedule already")
            earlier[loan_id] = max(earlier.get(loan_id, 0), number)
        rows: list[dict[str, object]] = []
        for loan, method in pairs:
            assert loan.disbursed_on is not None
            first_no = 1 + earlier.get(loan.id, 0)
            rows.extend(
                {
                    "loan_id": loan.id,
                    "instalment_no": first_no + due.instalment_no - 1,
                    "method": method,
                    "due_on": due.due_on,
                    "principal_fen": due.principal_fen,
                    "fee_fen": due.fee_fen,
                    "paid_principal_fen": 0,
                    "paid_fee_fen": 0,
                    "attempts": 0,
                    "next_attempt_on": None,
                    "status": ScheduleLineStatus.OPEN,
                }
                for due in build_schedule(
                    amount_fen=loan.amount_fen,
                    monthly_fee_rate_centipermille=loan.monthly_fee_rate_centipermille,
                    term_months=loan.term_months,
                    disbursed_on=loan.disbursed_on,
                    method=method,
                )
            )
        # Plain rows in one multi-row insert: nothing of this file reads them back as objects.
        self.session.execute(insert(RepaymentScheduleLine), rows)


def _note(
    instruction: PaymentInstruction, loan: Loan, outcome: str, principal_fen: int, fee_fen: int
) -> dict[str, object]:
    return {
        "end_to_end_id": instruction.end_to_end_id,
        "outcome": outcome,
        "amount_fen": instruction.amount_fen,
        "principal_fen": principal_fen,
        "fee_fen": fee_fen,
        "loan_id": loan.id,
        "contract_no": loan.contract_no,
        "loan_status": loan.status.value,
    }
