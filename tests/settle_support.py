"""Shared helpers for the payments, batches, ingestion and jobs tests.

A migrated SQLite database per test, the small test county of :mod:`gateway.testing`
(bank ``tbank``, special account ``6200001``), the bank's profile speaking the rural bank's
pipe-delimited text format, an in-memory bank server, and ``BankSide``: the bank answering
the files it finds there, through the adapter's bank side.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.bankconfig import parse_bank_config
from adapters.records import (
    Batch,
    CreditDebit,
    Direction,
    InstructionResult,
    ResultFile,
    ResultStatus,
    Statement,
    StatementEntry,
)
from adapters.registry import load_adapter
from adapters.sandbox.clock import BANK_TZ
from adapters.security import FileSecurity
from adapters.transport.base import Transport, UploadConventions
from adapters.transport.memory import MemoryTransport
from gateway.auth import credentials
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.batches.banks import BankProfile
from gateway.batches.calendar import load_calendar
from gateway.db import make_engine, make_session_factory
from gateway.jobs.pipeline import Nightly
from gateway.loans.models import Loan
from gateway.migrations import upgrade
from gateway.payments import service as payments
from gateway.payments.config import CollectionPolicy, PaymentsConfig
from gateway.payments.models import PaymentInstruction
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings
from gateway.testing import World, build_world

REPO = Path(__file__).resolve().parents[1]
BANK = "tbank"
DAY1 = date(2024, 7, 1)  # a Monday; the test county's "today" is Friday 2024-06-28
CIPHER = FieldCipher(bytes(range(32)))

_TEMPLATE: dict[str, Path] = {}


def bank_raw(**overrides: Mapping[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "bank": {"code": BANK, "name": "测试农商行"},
        "adapter": {"name": "cn_text", "layout": "layouts/rcb_pipe.toml"},
        "sftp": {
            "host": "127.0.0.1",
            "port": 2222,
            "username": "tc_county",
            "private_key_path": "/nonexistent/key",
            "known_hosts_path": "/nonexistent/known_hosts",
            "outbound_folder": "in",
            "inbound_folder": "out",
            "processed_folder": "out/processed",
            "after_fetch": "move",
            "marker_suffix": ".done",
        },
        "files": {
            "disbursement_name": "DF_{bank}_{date:%Y%m%d}_{seq:03d}.txt",
            "collection_name": "DK_{bank}_{date:%Y%m%d}_{seq:03d}.txt",
            "result_patterns": ["RESULT_*.txt"],
            "statement_patterns": ["STMT_*.txt"],
        },
        "cutoff": {"disbursement": "16:00", "collection": "15:30"},
        "limits": {"max_lines_per_file": 5000},
    }
    for table, values in overrides.items():
        raw[table] = {**raw.get(table, {}), **values}
    return raw


def bank_profile(**overrides: Mapping[str, Any]) -> BankProfile:
    config = parse_bank_config(
        bank_raw(**overrides), source=REPO / "config" / "banks" / f"{BANK}.toml"
    )
    adapter = load_adapter(
        config.adapter.name, config.adapter.options, config_dir=config.config_dir
    )
    return BankProfile(
        config=config,
        adapter=adapter,
        security=FileSecurity(),
        calendar=load_calendar(REPO / "config" / "calendar" / "cn.toml"),
    )


# The test bank's files under the iso20022 adapter: pain.001/pain.008 out, pain.002 results
# and camt.053 statements / camt.054 notifications in.
ISO_FILES = {
    "disbursement_name": "PAIN001_{bank}_{date:%Y%m%d}_{seq:04d}.xml",
    "collection_name": "PAIN008_{bank}_{date:%Y%m%d}_{seq:04d}.xml",
    "result_patterns": ["RESULT_*.txt", "PAIN002_*.xml"],
    "statement_patterns": ["STMT_*.txt", "CAMT05*.xml"],
}


def use_iso20022(settle: Settle) -> None:
    """Make the test bank speak ISO 20022 (before anything is sent)."""
    raw = bank_raw(files=ISO_FILES)
    raw["adapter"] = {"name": "iso20022"}
    config = parse_bank_config(raw, source=REPO / "config" / "banks" / f"{BANK}.toml")
    adapter = load_adapter(
        config.adapter.name, config.adapter.options, config_dir=config.config_dir
    )
    settle.profile = BankProfile(
        config=config,
        adapter=adapter,
        security=FileSecurity(),
        calendar=load_calendar(REPO / "config" / "calendar" / "cn.toml"),
    )
    settle.nightly = settle.make_nightly()
    settle.bank = BankSide(settle.profile, settle.server)


def memory_bank() -> MemoryTransport:
    return MemoryTransport(
        UploadConventions(marker_suffix=".done", processed_folder="out/processed"),
        folders=["in", "out"],
    )


class Settle:
    """One test's database, county, bank and pipeline."""

    def __init__(self, url: str, *, policy: CollectionPolicy | None = None) -> None:
        self.engine = make_engine(url)
        self.factory: sessionmaker[Session] = make_session_factory(self.engine)
        self.session = self.factory()
        self.world: World = build_world(self.session, CIPHER)
        self.session.commit()
        self.profile = bank_profile()
        self.server = memory_bank()
        self.payments = PaymentsConfig(collections=policy or CollectionPolicy())
        # The business clock's today: the test county's, until a test moves it (a run for a
        # later date is never held to an earlier today).
        self.today: date = self.world.today
        self.nightly = self.make_nightly()
        self.bank = BankSide(self.profile, self.server)

    def make_nightly(self, transport: Callable[[BankProfile], Transport] | None = None) -> Nightly:
        return Nightly(
            factory=self.factory,
            payments=self.payments,
            cipher=CIPHER,
            profile_loader=lambda code: self.profile,
            transport_factory=transport or (lambda profile: self.server),
            clock=lambda: self.today,
        )

    def released_loan(self, amount_fen: int = 500_000, *, term_months: int = 12) -> Loan:
        """A loan applied for, noticed, approved and released: its disbursement is pending."""
        world = self.world
        borrower = world.members_a[len(world.session.scalars(select(Loan)).all()) % 6]
        loan = world.apply(borrower, amount_fen=amount_fen)
        loan.term_months = term_months
        world.approve(loan)
        payments.release_loan(self.session, loan.id, on=world.today)
        self.session.commit()
        return loan

    def fresh(self) -> Session:
        """The test's session, past any snapshot it held: it sees what the steps committed."""
        self.session.rollback()
        self.session.expire_all()
        return self.session

    def instructions(self) -> list[PaymentInstruction]:
        self.fresh()
        return list(
            self.session.scalars(select(PaymentInstruction).order_by(PaymentInstruction.id))
        )

    def collections(self) -> list[PaymentInstruction]:
        return [i for i in self.instructions() if i.direction is Direction.COLLECTION]

    def close(self) -> None:
        self.session.rollback()
        self.session.close()
        self.engine.dispose()


class BankSide:
    """The bank reading our instruction files from the in-memory server and answering."""

    def __init__(self, profile: BankProfile, server: MemoryTransport) -> None:
        self.adapter = profile.adapter
        self.server = server
        self.taken: set[str] = set()
        self._seq = 0

    def batches(self) -> dict[str, Batch]:
        """Every complete instruction file not answered yet, parsed as the bank does."""
        files = self.server.files()
        found = {}
        for path, data in files.items():
            if not path.startswith("in/") or path.endswith((".done", ".part", ".sig")):
                continue
            if path + ".done" in files and path not in self.taken:
                found[path] = self.adapter.parse_instructions(data)
        return found

    def answer(
        self,
        on: date,
        outcome: Callable[[str, int], tuple[ResultStatus, int, str | None]] | None = None,
    ) -> list[str]:
        """Answer every new batch; ``outcome(e2e, amount)`` gives status, amount, reason."""
        names = []
        for path, batch in self.batches().items():
            self.taken.add(path)
            results = []
            for item in batch.instructions:
                status, settled, code = (
                    outcome(item.end_to_end_id, item.amount_fen)
                    if outcome
                    else (ResultStatus.SETTLED, item.amount_fen, None)
                )
                results.append(
                    InstructionResult(
                        end_to_end_id=item.end_to_end_id,
                        status=status,
                        settled_amount_fen=settled,
                        requested_amount_fen=item.amount_fen,
                        reason_code=code,
                        booking_date=on if settled else None,
                    )
                )
            names.append(self.put_result(batch, results, on))
        return names

    def answer_one(
        self,
        batch: Batch,
        status: ResultStatus,
        settled_fen: int,
        on: date,
        *,
        booked_on: date | None = None,
        reason_code: str | None = None,
    ) -> str:
        """A result file answering only the batch's first instruction, as the test says."""
        item = batch.instructions[0]
        return self.put_result(
            batch,
            [
                InstructionResult(
                    end_to_end_id=item.end_to_end_id,
                    status=status,
                    settled_amount_fen=settled_fen,
                    requested_amount_fen=item.amount_fen,
                    reason_code=reason_code,
                    booking_date=booked_on,
                )
            ],
            on,
        )

    def put_result(self, batch: Batch, results: list[InstructionResult], on: date) -> str:
        self._seq += 1
        statuses = {r.status for r in results}
        result = ResultFile(
            message_id=f"RS{on:%Y%m%d}{self._seq:06d}",
            original_message_id=batch.message_id,
            created_at=datetime.combine(on, datetime.min.time(), tzinfo=BANK_TZ).replace(hour=16),
            results=tuple(results),
            group_status="ACSC" if statuses == {ResultStatus.SETTLED} else "PART",
        )
        name = f"RESULT_{batch.message_id}_{self._seq}.txt"
        self.server.put(f"out/{name}", self.adapter.render_result(result, batch))
        return name

    def put_statement(self, statement: Statement, name: str) -> bytes:
        data = self.adapter.render_statement(statement)
        self.server.put(f"out/{name}", data)
        return data

    def put_return(self, instruction: PaymentInstruction, on: date, txn: str) -> None:
        """The bank's statement for ``on`` shows the collection sent back to the borrower
        (association A's sub-account)."""
        entry = StatementEntry(
            booking_date=on,
            amount_fen=instruction.settled_amount_fen,
            credit_debit=CreditDebit.DEBIT,
            bank_transaction_id=txn,
            sub_account="6200001-1",
            counterparty_name="张三",
            remittance="退汇",
            end_to_end_id=instruction.end_to_end_id,
            return_reason_code="MD06",
            bank_transaction_code="PMNT/IDDT/RRTN",
        )
        self.put_statement(statement(on, [entry]), f"STMT_6200001_{on:%Y%m%d}_{txn}.txt")


def statement(
    on: date, entries: list[StatementEntry], *, opening_fen: int = 0, sub_balances: Any = ()
) -> Statement:
    closing = opening_fen + sum(e.signed_amount_fen for e in entries)
    return Statement(
        statement_id=f"STMT{on:%Y%m%d}",
        account="6200001",
        account_name="测试县互助资金专户",
        created_at=datetime.combine(on, datetime.min.time(), tzinfo=BANK_TZ).replace(hour=20),
        from_date=on,
        to_date=on,
        entries=tuple(entries),
        opening_balance_fen=opening_fen,
        closing_balance_fen=closing,
        sub_account_balances=tuple(sub_balances),
    )


def migrated_sqlite(tmp_path: Path) -> str:
    if "path" not in _TEMPLATE:
        template = tmp_path.parent / "settle_template.db"
        upgrade(f"sqlite:///{template}")
        _TEMPLATE["path"] = template
    target = tmp_path / "huzhu.db"
    shutil.copyfile(_TEMPLATE["path"], target)
    return f"sqlite:///{target}"


def settle_in(tmp_path: Path, **kwargs: Any) -> Iterator[Settle]:
    """For a test module's fixture: ``yield from settle_in(tmp_path)``."""
    built = Settle(migrated_sqlite(tmp_path), **kwargs)
    yield built
    built.close()


CLI_KEY_ENV = "HUZHU_TEST_FIELD_KEY"


def settle_on_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    """A ``Settle`` on the database a fixture's parameter names: ``sqlite`` (a copy of the
    migrated template) or ``postgres`` (a fresh migrated database, the test marked so)."""
    if request.param == "sqlite":
        yield from settle_in(tmp_path)
        return
    url: str = request.getfixturevalue("postgres_database")
    upgrade(url)
    built = Settle(url)
    yield built
    built.close()


def cli_environment(settle: Settle, tmp_path: Path, *, columns: int = 240) -> dict[str, str]:
    """The environment for running ``huzhu`` commands against ``settle``'s database: a
    settings file naming it, and a field key (all zero bytes) in ``CLI_KEY_ENV``."""
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text(
        f'database_url = "{settle.engine.url.render_as_string(hide_password=False)}"\n'
        f'field_key_env = "{CLI_KEY_ENV}"\n',
        encoding="utf-8",
    )
    return {
        "HUZHU_CONFIG": str(settings_file),
        CLI_KEY_ENV: base64.b64encode(bytes(32)).decode(),
        "COLUMNS": str(columns),
    }


def http_app(settle: Settle, tmp_path: Path, *, console: bool = True) -> FastAPI:
    """The HTTP app (the API and, unless ``console`` is off, the console) over ``settle``'s
    database, with no bank connections."""
    from gateway.api.app import create_app  # the app imports every domain: only when wanted

    settings = Settings(database_url=str(settle.engine.url), field_key_file=tmp_path / "unused.key")
    return create_app(
        settings, engine=settle.engine, cipher=CIPHER, bank_transports={}, console=console
    )


def client_as(
    settle: Settle,
    app: FastAPI,
    username: str,
    role: Role,
    *,
    county_id: int | None = None,
    association_id: int | None = None,
) -> TestClient:
    """A client of ``app`` signed in by bearer token as a new user of ``role`` (committed)."""
    create_user(
        settle.session,
        username=username,
        display_name=username,
        role=role,
        county_id=county_id,
        association_id=association_id,
    )
    token = credentials.issue_token(settle.session, username, name="test", actor="test")
    settle.session.commit()
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client
