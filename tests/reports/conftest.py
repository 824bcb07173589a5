"""The seeded county of :mod:`county_seed`, built once into a SQLite template that each test
copies; ``seeded_any_db`` builds it afresh on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gateway.db import make_engine, make_session_factory
from gateway.migrations import upgrade
from gateway.security.fieldcrypt import FieldCipher
from tests.reports.county_seed import Seeded, load_seeded, seed_county

CIPHER = FieldCipher(bytes(range(32)))


@pytest.fixture(scope="session")
def reports_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports_schema") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, reports_template: Path) -> Path:
    """The seeded county, built once per test session; each test works on a copy."""
    path = tmp_path_factory.mktemp("reports_seeded") / "seeded.db"
    shutil.copyfile(reports_template, path)
    engine = make_engine(f"sqlite:///{path}")
    session = make_session_factory(engine)()
    seed_county(session, CIPHER)
    session.commit()
    session.close()
    engine.dispose()
    return path


@pytest.fixture
def report_session(tmp_path: Path, seeded_template: Path) -> Iterator[Session]:
    target = tmp_path / "huzhu.db"
    shutil.copyfile(seeded_template, target)
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
    built = seed_county(session, CIPHER)
    session.commit()
    yield built
    session.rollback()
    session.close()
    engine.dispose()


@pytest.fixture
def seeded(report_session: Session) -> Seeded:
    return load_seeded(report_session, CIPHER)
