"""A real OpenSSH ``sshd`` on a free loopback port, for the transport's interop tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.transport.base import UploadConventions
from adapters.transport.sftp import SftpTransport
from adapters.transport.testing import OpenSshServer, sftp_settings
from tests.conftest import require_service


@pytest.fixture(scope="module")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSshServer]:
    require_service("sshd")
    with OpenSshServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def sftp_root(sshd_server: OpenSshServer, tmp_path: Path) -> Path:
    """A fresh folder tree on the server for one test: ``in``, ``out``, ``out/processed``."""
    root = sshd_server.root / tmp_path.name
    for folder in ("in", "out", "out/processed"):
        (root / folder).mkdir(parents=True)
    return root


@pytest.fixture
def sftp_transport(sshd_server: OpenSshServer, sftp_root: Path) -> Iterator[SftpTransport]:
    conventions = UploadConventions(
        marker_suffix=".done",
        checksum_suffix=".sha256",
        processed_folder=f"{sftp_root.name}/out/processed",
    )
    with SftpTransport(sftp_settings(sshd_server), conventions) as transport:
        yield transport
