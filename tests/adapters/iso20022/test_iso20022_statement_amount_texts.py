"""Amount texts in a streamed statement read exactly as the general amount reader reads them.

Plain decimals take a short path once a currency has been seen; every other text (signs,
exponents, non-ASCII digits, blanks, fractions of a fen, trailing zeros) must still be read
or refused exactly as ``to_minor`` does, naming the entry's own Amt element.
"""

from __future__ import annotations

from datetime import date, datetime
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.errors import FileFormatError
from adapters.iso20022 import Iso20022Adapter
from adapters.iso20022.xmlread import to_minor
from adapters.records import CreditDebit, Statement, StatementEntry

DAY = date(2026, 11, 23)


def _statement_bytes() -> bytes:
    entries = tuple(
        StatementEntry(DAY, amount, CreditDebit.CREDIT, bank_transaction_id=f"BK{amount}")
        for amount in (100, 222)
    )
    statement = Statement(
        statement_id="S1",
        account="6230910100000012345",
        created_at=datetime(2026, 11, 24, 2, 0),
        from_date=DAY,
        to_date=DAY,
        entries=entries,
        opening_balance_fen=0,
        closing_balance_fen=322,
    )
    return Iso20022Adapter().render_statement(statement)


TEMPLATE = _statement_bytes()
SECOND_AMOUNT = b'Ccy="CNY">2.22<'

amount_texts = st.one_of(
    st.from_regex(r"\A[0-9]{1,32}(\.[0-9]{0,32})?\Z"),
    st.text(alphabet="0123456789.+-eE _ ", min_size=0, max_size=12),
    st.text(alphabet="0123456789.\u0661\u00b2\uff11\u3000", min_size=1, max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(text=amount_texts)
def test_second_entry_amount_reads_as_to_minor_does(text: str) -> None:
    data = TEMPLATE.replace(SECOND_AMOUNT, f'Ccy="CNY">{escape(text)}<'.encode())
    general: int | FileFormatError
    try:
        general = to_minor(text, 2, location=None, field="Amt")
    except FileFormatError as exc:
        general = exc
    if isinstance(general, int) and general > 0:
        (statement,) = Iso20022Adapter().parse_statements(data)
        assert [e.amount_fen for e in statement.entries] == [100, general]
        return
    with pytest.raises(FileFormatError) as caught:
        Iso20022Adapter().parse_statements(data)
    error = caught.value
    assert error.location == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/Amt"
    if isinstance(general, int):  # a zero entry, which to_minor reads but no entry may be
        assert (error.field, error.value) == ("Amt", text)
        assert "zero" in error.reason
        return
    assert (error.field, error.value, error.reason) == ("Amt", general.value, general.reason)


def test_trailing_zeros_past_the_fen_are_read_on_a_later_entry() -> None:
    data = TEMPLATE.replace(SECOND_AMOUNT, b'Ccy="CNY">2.2200<')
    (statement,) = Iso20022Adapter().parse_statements(data)
    assert statement.entries[1].amount_fen == 222
