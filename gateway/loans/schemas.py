"""Inputs of the loan service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from gateway.ledger.models import LedgerChannel


@dataclass(frozen=True)
class LoanApplication:
    contract_no: str
    member_id: int
    purpose: str
    amount_fen: int
    term_months: int
    # Hundredths of a per mille per month: 6.5‰ is 650.
    monthly_fee_rate_centipermille: int
    applied_on: date
    guarantor_ids: tuple[int, ...] = field(default_factory=tuple)
    channel: LedgerChannel = LedgerChannel.TRANSFER
