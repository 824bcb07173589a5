"""The engine's settings. Every bound is explicit; amounts never have a tolerance."""

from __future__ import annotations

from dataclasses import dataclass

from reconciliation.calendar import BankingCalendar

# ISO 20022 bank transaction (sub)family codes for cash at the counter.
DEFAULT_CASH_CODES: tuple[str, ...] = ("CNTR", "CDPT", "CWDL")
# 摘要 words that cn_text statements use for cash deposits and withdrawals.
DEFAULT_CASH_WORDS: tuple[str, ...] = ("现金", "现存", "现取", "存现", "取现", "现支", "柜面存款")
# A contract number in remittance text: a run of letters, digits and dashes.
DEFAULT_CONTRACT_PATTERN = r"[0-9A-Za-z][0-9A-Za-z\-]{3,}"


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """How the engine matches and when it raises.

    ``days_before``/``days_after`` bound how far a bank line's booking date may be before/after
    the book entry's business date in passes 2 and 3 (banking days when ``calendar`` is given,
    calendar days otherwise). ``pending_days`` is how many banking days a book entry may wait
    for the bank before it becomes an ``unmatched_book`` exception. ``return_window_days``
    bounds how far back a return may refer to a settled disbursement found by card and amount.
    """

    days_before: int = 1
    days_after: int = 3
    pending_days: int = 2
    return_window_days: int = 60
    calendar: BankingCalendar | None = None
    cash_codes: tuple[str, ...] = DEFAULT_CASH_CODES
    cash_words: tuple[str, ...] = DEFAULT_CASH_WORDS
    contract_pattern: str = DEFAULT_CONTRACT_PATTERN
    propose_bank_fees: bool = True
    propose_interest: bool = True

    def __post_init__(self) -> None:
        for name in ("days_before", "days_after", "pending_days", "return_window_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"MatchConfig.{name} must not be negative")
