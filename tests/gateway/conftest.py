"""Fixtures for the gateway's tests, reusable by every later gateway test.

``db_url`` runs a test on SQLite and on PostgreSQL (the latter marked ``postgres``) in a fresh
database copied from a template that the Alembic migrations built once per test session.
``world`` is a small county with two associations, members with valid cards and IDs and
fiscal capital in the ledger (see ``gateway.testing``); ``make_world`` builds one with other
policy settings.
"""

from __future__ import annotations

import inspect
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import make_engine, make_session_factory
from gateway.migrations import upgrade
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World, WorldFactory, build_world, load_world

POSTGRES_ADMIN_URL = os.environ.get(
    "HUZHU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_FIELD_KEY = bytes(range(32))


def _seed_world(url: str) -> None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            build_world(session, FieldCipher(TEST_FIELD_KEY))
            session.commit()
    finally:
        engine.dispose()


class DatabaseTemplates:
    """Migrated databases built once per test session (per xdist worker) and copied for each
    test: ``schema`` is the empty schema at Alembic head, ``world`` also holds the test county.
    PostgreSQL copies are ``CREATE DATABASE ... TEMPLATE``, far quicker than migrating."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: dict[str, Path] = {}
        self._postgres: dict[str, str] = {}
        self._admin: Engine | None = None
        self._shared: dict[str, str] = {}
        self._shared_postgres: list[str] = []

    def sqlite(self, kind: str) -> Path:
        if kind not in self._sqlite:
            path = self.folder / f"{kind}.db"
            upgrade(f"sqlite:///{path}")
            if kind == "world":
                _seed_world(f"sqlite:///{path}")
            self._sqlite[kind] = path
        return self._sqlite[kind]

    @property
    def admin(self) -> Engine:
        if self._admin is None:
            self._admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        return self._admin

    def postgres_url(self, name: str) -> str:
        base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
        return f"{base}/{name}"

    def postgres(self, kind: str) -> str:
        if kind not in self._postgres:
            name = f"huzhu_tpl_{uuid.uuid4().hex[:12]}"
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            self._postgres[kind] = name
            upgrade(self.postgres_url(name))
            if kind == "world":
                _seed_world(self.postgres_url(name))
        return self._postgres[kind]

    def shared_url(self, backend: str, kind: str) -> str:
        """One database per kind for the tests that roll back everything they do."""
        key = f"shared-{backend}-{kind}"
        if key not in self._shared:
            if backend == "sqlite":
                target = self.folder / f"{key}.db"
                shutil.copyfile(self.sqlite(kind), target)
                self._shared[key] = f"sqlite:///{target}"
            else:
                name = self.clone_postgres(kind)
                self._shared_postgres.append(name)
                self._shared[key] = self.postgres_url(name)
        return self._shared[key]

    def clone_postgres(self, kind: str) -> str:
        template = self.postgres(kind)
        name = f"huzhu_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    def drop_postgres(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        for name in [*self._shared_postgres, *self._postgres.values()]:
            self.drop_postgres(name)
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplates]:
    templates = DatabaseTemplates(tmp_path_factory.mktemp("db-templates"))
    yield templates
    templates.close()


REAL_DB_FIXTURES = frozenset({"db_url", "engine", "session_factory"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "real_db: the test needs real commits in its own fresh database (see tests/gateway)",
    )


def _needs_real_db(request: pytest.FixtureRequest) -> bool:
    """Tests that take ``db_url``, ``engine`` or ``session_factory`` themselves (other
    connections, the CLI, concurrency) or are marked ``real_db`` get a fresh database where
    commits are real; all others run in one transaction that is rolled back afterwards."""
    if request.node.get_closest_marker("real_db") is not None:
        return True
    function = getattr(request.node, "function", None)
    if function is None:
        return True
    return bool(REAL_DB_FIXTURES & set(inspect.signature(function).parameters))


def _kind(request: pytest.FixtureRequest) -> str:
    return "world" if "world" in request.fixturenames else "schema"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on; every gateway test runs on both."""
    backend: str = request.param
    return backend


@pytest.fixture
def db_url(
    request: pytest.FixtureRequest,
    db_backend: str,
    tmp_path: Path,
    db_templates: DatabaseTemplates,
) -> Iterator[str]:
    """A fresh database at Alembic head for this test alone (holding the test county when the
    test uses ``world``); commits in it are real."""
    kind = _kind(request)
    if db_backend == "sqlite":
        target = tmp_path / "huzhu.db"
        shutil.copyfile(db_templates.sqlite(kind), target)
        yield f"sqlite:///{target}"
        return
    name = db_templates.clone_postgres(kind)
    try:
        yield db_templates.postgres_url(name)
    finally:
        db_templates.drop_postgres(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(
    request: pytest.FixtureRequest, db_backend: str, db_templates: DatabaseTemplates
) -> Iterator[Session]:
    """A session for the test. In a shared database it runs inside one outer transaction:
    the test's commits only release savepoints and everything is rolled back at the end."""
    if _needs_real_db(request):
        factory: sessionmaker[Session] = request.getfixturevalue("session_factory")
        real = factory()
        yield real
        real.rollback()
        real.close()
        return
    shared = make_engine(db_templates.shared_url(db_backend, _kind(request)))
    connection = shared.connect()
    outer = connection.begin()
    rolled = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield rolled
    finally:
        rolled.close()
        outer.rollback()
        connection.close()
        shared.dispose()


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(TEST_FIELD_KEY)


@pytest.fixture
def make_world(session: Session, cipher: FieldCipher) -> WorldFactory:
    """Build the test county; keyword arguments override the policy (e.g. ``notice_days``)."""

    def build(**kwargs: Any) -> World:
        built = build_world(session, cipher, **kwargs)
        session.commit()
        return built

    return build


@pytest.fixture
def world(session: Session, cipher: FieldCipher) -> World:
    """The test county, copied from a template database built once per test session."""
    return load_world(session, cipher)
