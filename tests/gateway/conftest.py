"""Fixtures for the gateway's tests, reusable by every later gateway test.

``db_url`` runs a test on SQLite and on PostgreSQL (the latter marked ``postgres``); the
schema is created by the Alembic migrations: once per test session for SQLite (a template
file copied per test) and once per fresh PostgreSQL database. ``world`` builds a small county
with two associations, members with valid cards and IDs, and fiscal capital in the ledger.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import make_engine, make_session_factory
from gateway.migrations import upgrade
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World, WorldFactory, build_world


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "huzhu.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    upgrade(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(bytes(range(32)))


@pytest.fixture
def make_world(session: Session, cipher: FieldCipher) -> WorldFactory:
    """Build the test county; keyword arguments override the policy (e.g. ``notice_days``)."""

    def build(**kwargs: Any) -> World:
        built = build_world(session, cipher, **kwargs)
        session.commit()
        return built

    return build


@pytest.fixture
def world(make_world: WorldFactory) -> World:
    return make_world()
