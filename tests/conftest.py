"""Suite-wide fixtures: which outside services a marked test needs, and how to get them.

A test marked ``postgres``, ``sshd``, ``chromium`` or ``libreoffice`` is skipped with the
reason when the service is missing on a developer's machine, and fails under ``CI=true``,
where ``.ci/run`` installs what is missing.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "samples"
POSTGRES_ADMIN_URL = os.environ.get(
    "HUZHU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@functools.cache
def _postgres_problem() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
    except OSError as exc:
        return f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc})"
    return None


def _which_any(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
        )
        if found:
            return found
    return None


@functools.cache
def _sshd_problem() -> str | None:
    if _which_any("sshd") is None:
        return "OpenSSH's sshd is not installed (apt-get install openssh-server)"
    if _which_any("sftp") is None:
        return "OpenSSH's sftp client is not installed (apt-get install openssh-client)"
    return None


@functools.cache
def _chromium_problem() -> str | None:
    if _which_any("chromium", "chromium-browser") is None:
        return "Chromium is not installed (apt-get install chromium)"
    return None


@functools.cache
def _libreoffice_problem() -> str | None:
    if _which_any("soffice", "libreoffice") is None:
        return "LibreOffice is not installed (apt-get install libreoffice-calc-nogui)"
    return None


_SERVICE_CHECKS = {
    "postgres": _postgres_problem,
    "sshd": _sshd_problem,
    "chromium": _chromium_problem,
    "libreoffice": _libreoffice_problem,
}


def require_service(marker: str) -> None:
    """Skip (or under CI=true fail) the running test when ``marker``'s service is missing."""
    problem = _SERVICE_CHECKS[marker]()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"required under CI=true: {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(autouse=True)
def _marked_services(request: pytest.FixtureRequest) -> None:
    for marker in _SERVICE_CHECKS:
        if request.node.get_closest_marker(marker) is not None:
            require_service(marker)


@pytest.fixture
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.fail(f"the shared samples are missing at {SAMPLES_DIR}", pytrace=False)
    return SAMPLES_DIR


def _admin_engine_url() -> str:
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards.

    Yields its SQLAlchemy URL. Tests using it must be marked ``postgres``.
    """
    require_service("postgres")
    import sqlalchemy as sa

    name = f"huzhu_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_admin_engine_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        base, _, _ = _admin_engine_url().rpartition("/")
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
