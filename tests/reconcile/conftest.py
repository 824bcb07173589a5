from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.migrations import upgrade
from tests.recon_support import Nights
from tests.settle_support import BANK, REPO


@pytest.fixture
def nights(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Nights]:
    """Nights on a copy of the migrated SQLite template, or on a fresh migrated PostgreSQL
    database when parametrized so (see ``ON_EACH_DATABASE``)."""
    url = None
    if getattr(request, "param", "sqlite") == "postgres":
        url = request.getfixturevalue("postgres_database")
        upgrade(url)
    built = Nights(tmp_path, url)
    yield built
    built.close()


@pytest.fixture
def huzhu_env(
    nights: Nights, tmp_path: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``huzhu`` command pointed at the nights' database and the test configuration."""
    settings = tmp_path / "settings.toml"
    settings.write_text(f'database_url = "{nights.settle.engine.url}"\n', encoding="utf-8")
    monkeypatch.setenv("HUZHU_CONFIG", str(settings))
    monkeypatch.setenv("HUZHU_CONFIG_DIR", str(config_dir))


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The project's configuration plus the test bank (the rural bank's format), on the
    default holiday calendar: what ``huzhu reconcile`` reads the bank's calendar from."""
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    rcb = (target / "banks" / "rcb.toml").read_text(encoding="utf-8")
    (target / "banks" / f"{BANK}.toml").write_text(
        rcb.replace('code = "rcb"', f'code = "{BANK}"'), encoding="utf-8"
    )
    return target
