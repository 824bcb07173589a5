from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.settle_support import BANK, REPO


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
