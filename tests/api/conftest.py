"""Fixtures for the API tests: a migrated database with the test county, one user per role
(and one out of scope for each), and an HTTP client per user.

Two associations ``a`` and ``b`` share one county and one bank; ``other`` is a second county
with its own bank and association, so every scope has an object outside it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from adapters.transport.memory import MemoryTransport
from gateway.api.app import create_app
from gateway.auth import credentials
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.db import make_engine, make_session_factory
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.migrations import upgrade
from gateway.org import service as org
from gateway.org.models import Association, PilotLevel
from gateway.queue import service as queue
from gateway.reconcile.models import AutoPosting, OpenItem, ReconRun
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import PolicyDefaults, Settings
from gateway.testing import World, build_world
from reconciliation.findings import ExceptionKind, ReconException

PASSWORD = "correct-horse-42"
CIPHER_KEY = bytes(range(32))


@dataclass
class Seeded:
    world: World
    other: Association  # an association in another county, under another bank
    other_county_id: int
    tokens: dict[str, str]  # username -> bearer token
    users: dict[str, Role]


# Username -> (role, scope). "a" and "b" are associations of the test county.
USERS: dict[str, tuple[Role, str]] = {
    "admin": (Role.ADMIN, "none"),
    "officer": (Role.COUNTY_OFFICER, "county"),
    "reviewer": (Role.COUNTY_REVIEWER, "county"),
    "treasurer_a": (Role.TREASURER, "a"),
    "treasurer_b": (Role.TREASURER, "b"),
    "bank_op": (Role.BANK_OPERATOR, "county"),
    "auditor": (Role.AUDITOR, "county"),
    "auditor_a": (Role.AUDITOR, "a"),
    "officer_other": (Role.COUNTY_OFFICER, "other"),
}


# Users who sign in with a password in the tests (argon2 is slow on purpose).
SIGN_IN_USERS = ("officer", "reviewer", "treasurer_a", "auditor")


def seed(session: Session, cipher: FieldCipher) -> Seeded:
    world = build_world(session, cipher)
    other_county = org.create_county(
        session, code="OC", name="邻县", fund_office_name="邻县互助资金办", policy=PolicyDefaults()
    )
    other_bank = org.get_or_create_bank(session, code="obank", name="邻县农商行")
    other_account = org.create_special_account(
        session, other_county, other_bank, account_number="7700001", name="邻县专户"
    )
    other_town = org.create_town(session, other_county, code="O1", name="邻镇")
    other = org.create_association(
        session,
        code="OC-1",
        name="邻镇一村互助协会",
        town=other_town,
        special_account=other_account,
        sub_account_number="7700001-1",
        pilot_level=PilotLevel.MUNICIPAL,
        start_date=date(2021, 1, 1),
    )
    bank_id = world.a.special_account.bank_id
    for username, (role, scope) in USERS.items():
        create_user(
            session,
            username=username,
            display_name=username,
            role=role,
            county_id={"county": world.county.id, "other": other_county.id}.get(scope),
            association_id={"a": world.a.id, "b": world.b.id}.get(scope),
            bank_id=bank_id if role == Role.BANK_OPERATOR else None,
            can_unmask=username == "officer",
        )
        if username in SIGN_IN_USERS:
            credentials.set_password(session, username, PASSWORD, actor="test")
    tokens = {
        username: credentials.issue_token(session, username, name="test", actor="test")
        for username in USERS
    }
    session.commit()
    return Seeded(
        world=world,
        other=other,
        other_county_id=other_county.id,
        tokens=tokens,
        users={u: r for u, (r, _) in USERS.items()},
    )


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    """The migrated schema with the seeded county, built once and copied for each test."""
    path = tmp_path_factory.mktemp("api-schema") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            seeded = seed(session, FieldCipher(CIPHER_KEY))
    finally:
        engine.dispose()
    return path, seeded


@pytest.fixture
def api_db_url(tmp_path: Path, seeded_template: tuple[Path, Seeded]) -> str:
    target = tmp_path / "huzhu.db"
    shutil.copyfile(seeded_template[0], target)
    return f"sqlite:///{target}"


@pytest.fixture
def api_engine(api_db_url: str) -> Iterator[Engine]:
    engine = make_engine(api_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def api_sessions(api_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(api_engine)


@pytest.fixture
def field_cipher() -> FieldCipher:
    return FieldCipher(CIPHER_KEY)


@pytest.fixture
def seeded(seeded_template: tuple[Path, Seeded]) -> Seeded:
    """What the template holds (ids, tokens); objects are detached, read their ids only."""
    return seeded_template[1]


@pytest.fixture
def app(api_engine: Engine, field_cipher: FieldCipher, seeded: Seeded, tmp_path: Path) -> FastAPI:
    settings = Settings(database_url=str(api_engine.url), field_key_file=tmp_path / "unused.key")
    bank = MemoryTransport()
    return create_app(
        settings,
        engine=api_engine,
        cipher=field_cipher,
        bank_transports={"tbank": lambda: bank},
        console=False,
    )


ClientFor = Callable[[str | None], TestClient]


@pytest.fixture
def client_for(app: FastAPI, seeded: Seeded) -> Iterator[ClientFor]:
    """A client authenticated with the named user's bearer token (None: anonymous)."""
    clients: list[TestClient] = []

    def make(username: str | None) -> TestClient:
        client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
        if username is not None:
            client.headers["Authorization"] = f"Bearer {seeded.tokens[username]}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@dataclass
class PostgresApi:
    seeded: Seeded
    sessions: sessionmaker[Session]
    app: FastAPI

    def client(self, username: str) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver", raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {self.seeded.tokens[username]}"
        return client


@pytest.fixture
def postgres_api(postgres_database: str, tmp_path: Path) -> Iterator[PostgresApi]:
    """The seeded county on a fresh PostgreSQL database, with the app over it."""
    upgrade(postgres_database)
    engine = make_engine(postgres_database, pool_size=8)
    try:
        sessions = make_session_factory(engine)
        with sessions() as session:
            seeded = seed(session, FieldCipher(CIPHER_KEY))
        settings = Settings(database_url=postgres_database, field_key_file=tmp_path / "k.key")
        app = create_app(
            settings,
            engine=engine,
            cipher=FieldCipher(CIPHER_KEY),
            bank_transports={},
            console=False,
        )
        yield PostgresApi(seeded, sessions, app)
    finally:
        engine.dispose()


def file_open_line(
    session: Session,
    association: Association,
    kind: ExceptionKind,
    line: dict[str, object],
    *,
    detail: str = "",
    actor: str = "nightly",
) -> int:
    """A bank line of the association's sub-account (booked 2024-06-27; ``line`` gives the rest:
    id, credit, amount, channel, counterparty, remittance), filed by the nightly queue service
    (as ``actor``) as an item of ``kind`` with the line kept open as its evidence. Returns the
    item id."""
    line_id = str(line["line_id"])
    amount_fen = int(str(line["amount_fen"]))
    full = {
        "special_account": association.special_account.account_number,
        "sub_account": association.sub_account_number,
        "booking_date": "2024-06-27",
        "end_to_end_id": None,
        **line,
    }
    session.add(
        OpenItem(
            special_account_id=association.special_account_id,
            item_type="line",
            item_id=line_id,
            since=date(2024, 6, 27),
            line_json=json.dumps(full, ensure_ascii=False),
        )
    )
    summary = queue.sync_run(
        session,
        special_account_id=association.special_account_id,
        business_date=date(2024, 6, 27),
        exceptions=[
            ReconException(
                kind=kind,
                line_ids=(line_id,),
                sub_account=association.sub_account_number,
                actual_fen=amount_fen if full["credit"] else -amount_fen,
                detail=detail,
            )
        ],
        associations={association.sub_account_number: association.id},
        entry_associations={},
        actor=actor,
    )
    session.flush()
    return summary.new[0]


def file_village_cash(
    session: Session, association: Association, *, tag: str, amount_fen: int = 500_000
) -> int:
    """A cash deposit on the association's sub-account, filed as a village-cash item."""
    return file_open_line(
        session,
        association,
        ExceptionKind.VILLAGE_CASH,
        {
            "line_id": f"STMT-{tag}:1",
            "credit": True,
            "amount_fen": amount_fen,
            "channel": "cash",
            "counterparty_account": None,
            "counterparty_name": "现金存入",
            "remittance": "柜台现金存款",
        },
        detail="子账户现金存入 cash deposited on the sub-account",
    )


def file_booked_village_cash(
    session: Session, association: Association, *, tag: str, amount_fen: int = 500_000
) -> int:
    """A village-cash item whose cash deposit the books have answered since (matched by hand):
    its line is no longer open (the item keeps it as evidence), so the item moves no money of
    its own and may be dismissed with a justification."""
    item = file_village_cash(session, association, tag=tag, amount_fen=amount_fen)
    session.execute(
        delete(OpenItem).where(
            OpenItem.special_account_id == association.special_account_id,
            OpenItem.item_id == f"STMT-{tag}:1",
        )
    )
    session.flush()
    return item


FEE_FEN = 250


def book_fee_automatically(sessions: sessionmaker[Session], seeded: Seeded) -> tuple[int, int]:
    """A 2.50 yuan bank fee the reconciler booked for association a, as its run records it.
    Returns (posting id, special account id)."""
    with sessions() as session:
        a = session.merge(seeded.world.a)
        run = ReconRun(
            special_account_id=a.special_account_id,
            business_date=date(2024, 6, 27),
            has_statement=True,
            previous_hash="",
            statement_hash="0" * 64,
            statement_json="{}",
        )
        session.add(run)
        session.flush()
        fee = ledger.post(
            session,
            association_id=a.id,
            business_date=date(2024, 6, 27),
            description="银行手续费（自动）bank fee",
            kind="bank_fee",
            legs=[
                ledger.Posting.credit(AccountCode.BANK_SUB_ACCOUNT, FEE_FEN, "T-FEE"),
                ledger.Posting.debit(AccountCode.EXPENSE_OTHER, FEE_FEN, "T-FEE"),
            ],
            external_ref="T-FEE",
            actor="reconciler",
        )
        line = {
            "line_id": "STMT-FEE:1",
            "special_account": a.special_account.account_number,
            "sub_account": a.sub_account_number,
            "booking_date": date(2024, 6, 27).isoformat(),
            "amount_fen": FEE_FEN,
            "credit": False,
            "channel": "fee",
            "remittance": "手续费",
        }
        auto = AutoPosting(
            run_id=run.id,
            kind="bank_fee",
            association_id=a.id,
            journal_transaction_id=fee.id,
            amount_fen=FEE_FEN,
            lines_json=json.dumps([line], ensure_ascii=False),
            reason="银行手续费",
        )
        session.add(auto)
        session.commit()
        return auto.id, a.special_account_id
