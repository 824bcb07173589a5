"""A migrated SQLite database per test (copied from one template) and a small county."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gateway.db import make_engine, make_session_factory
from gateway.migrations import upgrade
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World, build_world


@pytest.fixture(scope="session")
def liquidation_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("liquidation_schema") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def liq_session(tmp_path: Path, liquidation_template: Path) -> Iterator[Session]:
    target = tmp_path / "huzhu.db"
    shutil.copyfile(liquidation_template, target)
    engine = make_engine(f"sqlite:///{target}")
    session = make_session_factory(engine)()
    yield session
    session.rollback()
    session.close()
    engine.dispose()


@pytest.fixture
def small_world(liq_session: Session) -> World:
    world = build_world(liq_session, FieldCipher(bytes(range(32))), capital_fen=1_000_000)
    liq_session.commit()
    return world
