"""Bank lines from the adapters' statement records."""

from __future__ import annotations

from collections import Counter

from adapters.records import Statement, StatementEntry
from reconciliation.model import BankLine, StatementBalances


def _content(entry: StatementEntry) -> tuple[object, ...]:
    return (
        entry.booking_date,
        entry.amount_fen,
        entry.credit_debit,
        entry.bank_transaction_id,
        entry.value_date,
        entry.reversal,
        entry.channel,
        entry.bank_transaction_code,
        entry.counterparty_account,
        entry.counterparty_name,
        entry.end_to_end_id,
        entry.remittance,
        entry.sub_account,
        entry.return_reason_code,
    )


def line_from_entry(
    entry: StatementEntry,
    *,
    line_id: str,
    special_account: str,
    sub_account: str | None = None,
    occurrence: int = 0,
) -> BankLine:
    """One bank line; ``sub_account`` is used when the entry does not name its own."""
    return BankLine(
        line_id=line_id,
        special_account=special_account,
        sub_account=entry.sub_account or sub_account,
        booking_date=entry.booking_date,
        credit_debit=entry.credit_debit,
        amount_fen=entry.amount_fen,
        value_date=entry.value_date,
        bank_transaction_id=entry.bank_transaction_id,
        end_to_end_id=entry.end_to_end_id,
        remittance=entry.remittance,
        counterparty_account=entry.counterparty_account,
        counterparty_name=entry.counterparty_name,
        channel=entry.channel,
        bank_transaction_code=entry.bank_transaction_code,
        reversal=entry.reversal,
        return_reason_code=entry.return_reason_code,
        occurrence=occurrence,
    )


def lines_from_statement(statement: Statement) -> tuple[BankLine, ...]:
    """Every entry of a statement as a bank line, ids ``<statement id>:<position>`` from 1.

    Lines of identical content are numbered 0, 1, 2... in ``occurrence`` in file order.
    """
    seen: Counter[tuple[object, ...]] = Counter()
    lines: list[BankLine] = []
    for position, entry in enumerate(statement.entries, start=1):
        content = _content(entry)
        lines.append(
            line_from_entry(
                entry,
                line_id=f"{statement.statement_id}:{position}",
                special_account=statement.account,
                sub_account=statement.sub_account,
                occurrence=seen[content],
            )
        )
        seen[content] += 1
    return tuple(lines)


def balances_from_statement(statement: Statement) -> StatementBalances:
    """The statement's balances for the engine; refuses a statement that lacks them."""
    if statement.opening_balance_fen is None or statement.closing_balance_fen is None:
        raise ValueError(
            f"statement {statement.statement_id} has no opening or closing balance "
            "/ 对账单缺少期初或期末余额"
        )
    day = statement.to_date or statement.from_date
    if day is None:
        raise ValueError(f"statement {statement.statement_id} names no date / 对账单缺少日期")
    return StatementBalances(
        statement_date=day,
        opening_fen=statement.opening_balance_fen,
        closing_fen=statement.closing_balance_fen,
        sub_accounts=statement.sub_account_balances,
    )
