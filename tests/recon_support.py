"""Nights of reconciliation for the queue and reconcile tests, without a bank server.

``Nights`` holds the small test county of :mod:`gateway.testing` (special account ``6200001``,
sub-accounts ``6200001-1`` and ``6200001-2`` with 100,000 yuan each in the books) and plays
the bank: each :meth:`Nights.night` writes that day's statement from the lines given (balances
carried from day to day, so only what a test breaks breaks) and reconciles it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import Adapter
from adapters.records import CreditDebit, Statement, StatementEntry, SubAccountBalance
from adapters.sandbox.clock import BANK_TZ
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementDay
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans import service as loans
from gateway.loans.models import Loan
from gateway.members.service import CARD_FIELD
from gateway.org.models import SpecialAccount
from gateway.payments import service as payments
from gateway.payments.models import RepaymentMethod, RepaymentScheduleLine
from gateway.queue.models import QueueItem
from gateway.reconcile.service import AccountOutcome, reconcile_account
from tests.settle_support import CIPHER, Settle, migrated_sqlite

FIRST = date(2024, 7, 1)
ACCOUNT = "6200001"

# A module whose nights run on SQLite and again on PostgreSQL says ``pytestmark =
# ON_EACH_DATABASE`` (the ``nights`` fixture of tests/reconcile takes the parameter).
ON_EACH_DATABASE = pytest.mark.parametrize(
    "nights", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


class Nights:
    def __init__(self, tmp_path: Path, url: str | None = None) -> None:
        """On a copy of the migrated SQLite template, or on the (migrated) database at ``url``."""
        self.settle = Settle(url or migrated_sqlite(tmp_path))
        self.session: Session = self.settle.session
        self.world = self.settle.world
        self.sub_a = self.world.a.sub_account_number
        self.sub_b = self.world.b.sub_account_number
        self.special_id = self.session.scalars(select(SpecialAccount.id)).one()
        self.bank: dict[str, int] = {
            a.sub_account_number: balance(self.session, a.id, AccountCode.BANK_SUB_ACCOUNT)
            for a in (self.world.a, self.world.b)
        }
        self.day = FIRST
        self._txn = 0

    def line(self, sub: str, amount_fen: int, *, credit: bool = True, **kw: Any) -> StatementEntry:
        self._txn += 1
        kw.setdefault("bank_transaction_id", f"T{self._txn:06d}")
        kw.setdefault("booking_date", self.day)
        return StatementEntry(
            amount_fen=amount_fen,
            credit_debit=CreditDebit.CREDIT if credit else CreditDebit.DEBIT,
            sub_account=sub,
            **kw,
        )

    def _disburse(self, amount_fen: int) -> tuple[Loan, str, StatementEntry]:
        """A loan to the first member of association 1, disbursed in the books today: the loan,
        the borrower's card, and the bank's line paying it (end-to-end id ``DSB-<contract>``)."""
        loan = self.settle.released_loan(amount_fen)
        session = self.settle.fresh()
        e2e = f"DSB-{loan.contract_no}"
        loans.mark_disbursed(session, loan.id, business_date=self.day, external_ref=e2e)
        session.commit()
        card = CIPHER.decrypt(CARD_FIELD, self.world.members_a[0].card_cipher)
        line = self.line(
            self.sub_a, amount_fen, credit=False, end_to_end_id=e2e, counterparty_account=card
        )
        return loan, card, line

    def paid_out_today(self, amount_fen: int) -> StatementEntry:
        """A loan disbursed in the books today, and the bank's line paying it, for the test
        to place on a statement."""
        return self._disburse(amount_fen)[2]

    def disbursed_loan(self) -> tuple[Loan, str, RepaymentScheduleLine]:
        """A loan paid out today (the bank's line and the books agree, the night reconciled)
        with its schedule: the loan, the borrower's card and the first instalment."""
        loan, card, out = self._disburse(240_000)
        session = self.settle.fresh()
        disbursed = session.get(Loan, loan.id)
        assert disbursed is not None
        (first, *_rest) = payments.create_schedule(
            session, disbursed, RepaymentMethod.EQUAL_INSTALMENTS
        )
        session.commit()
        assert self.night([out]).exceptions == ()
        return loan, card, first

    def statement(
        self, entries: Iterable[StatementEntry], closing_delta: Mapping[str, int] | None = None
    ) -> Statement:
        entries = tuple(entries)
        opening = dict(self.bank)
        closing = dict(opening)
        for e in entries:
            assert e.sub_account is not None
            closing[e.sub_account] += e.signed_amount_fen
        for sub, delta in (closing_delta or {}).items():
            closing[sub] += delta
        self.bank = closing
        return Statement(
            statement_id=f"STMT{self.day:%Y%m%d}",
            account=ACCOUNT,
            created_at=datetime.combine(self.day, datetime.min.time(), tzinfo=BANK_TZ),
            from_date=self.day,
            to_date=self.day,
            entries=entries,
            opening_balance_fen=sum(opening.values()),
            closing_balance_fen=sum(closing.values()),
            sub_account_balances=tuple(
                SubAccountBalance(sub, opening[sub], closing[sub]) for sub in sorted(opening)
            ),
        )

    def night(
        self,
        entries: Iterable[StatementEntry] = (),
        *,
        closing_delta: Mapping[str, int] | None = None,
        with_statement: bool = True,
    ) -> AccountOutcome:
        """Reconcile the current day, commit, and move on to the next day."""
        statement = self.statement(entries, closing_delta) if with_statement else None
        outcome = reconcile_account(self.session, self.special_id, self.day, statement=statement)
        self.session.commit()
        self.day += timedelta(days=1)
        return outcome

    def items(self, kind: str | None = None) -> list[QueueItem]:
        query = select(QueueItem).order_by(QueueItem.id)
        if kind is not None:
            query = query.where(QueueItem.kind == kind)
        return list(self.settle.fresh().scalars(query))

    def item(self, kind: str) -> QueueItem:
        (found,) = self.items(kind)
        return found

    def staff(
        self,
        username: str,
        role: Role = Role.COUNTY_OFFICER,
        *,
        display_name: str = "",
        association_id: int | None = None,
    ) -> str:
        """A user of the county (of association ``association_id`` if given, of the test bank
        for a bank operator), committed; their user name, to assign items to."""
        session = self.settle.fresh()
        account = session.get(SpecialAccount, self.special_id)
        assert account is not None
        create_user(
            session,
            username=username,
            display_name=display_name,
            role=role,
            county_id=None
            if association_id is not None or role is Role.ADMIN
            else account.county_id,
            association_id=association_id,
            bank_id=account.bank_id if role is Role.BANK_OPERATOR else None,
        )
        session.commit()
        return username

    def close(self) -> None:
        self.settle.close()


def store_statement(
    session: Session,
    adapter: Adapter,
    statement: Statement,
    fetched: date,
    *,
    record_day: bool = True,
) -> None:
    """The statement stored as the test bank's file fetched on ``fetched``, as ingestion
    stores it (applied); ``record_day=False``: as a file applied before the days of its
    statements were recorded."""
    data = adapter.render_statement(statement)
    day = statement.to_date
    assert day is not None
    file = InboundFile(
        bank_code="tbank",
        name=f"STMT_{day:%Y%m%d}.txt",
        remote_path=f"out/STMT_{day:%Y%m%d}.txt",
        kind=InboundKind.STATEMENT,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content=data,
        status=InboundStatus.APPLIED,
        business_date=fetched,
    )
    session.add(file)
    session.flush()
    if not record_day:
        return
    # the day it reports, as applying it records
    session.add(
        StatementDay(
            inbound_file_id=file.id,
            bank_code=file.bank_code,
            account=statement.account,
            statement_date=day,
            kind=statement.kind.value,
        )
    )
