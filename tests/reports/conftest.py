"""A migrated SQLite database per test (copied from one template) and the seeded county of
:mod:`county_seed`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from county_seed import Seeded, seed_county
from sqlalchemy.orm import Session

from gateway.db import make_engine, make_session_factory
from gateway.migrations import upgrade
from gateway.security.fieldcrypt import FieldCipher


@pytest.fixture(scope="session")
def reports_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports_schema") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def report_session(tmp_path: Path, reports_template: Path) -> Iterator[Session]:
    target = tmp_path / "huzhu.db"
    shutil.copyfile(reports_template, target)
    engine = make_engine(f"sqlite:///{target}")
    session = make_session_factory(engine)()
    yield session
    session.rollback()
    session.close()
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded_any_db(
    request: pytest.FixtureRequest, tmp_path: Path, reports_template: Path
) -> Iterator[Seeded]:
    """The seeded county on SQLite and on PostgreSQL (the latter marked ``postgres``)."""
    if request.param == "sqlite":
        target = tmp_path / "huzhu.db"
        shutil.copyfile(reports_template, target)
        url = f"sqlite:///{target}"
    else:
        url = request.getfixturevalue("postgres_database")
        upgrade(url)
    engine = make_engine(url)
    session = make_session_factory(engine)()
    built = seed_county(session, FieldCipher(bytes(range(32))))
    session.commit()
    yield built
    session.rollback()
    session.close()
    engine.dispose()


@pytest.fixture
def seeded(report_session: Session) -> Seeded:
    built = seed_county(report_session, FieldCipher(bytes(range(32))))
    report_session.commit()
    return built
