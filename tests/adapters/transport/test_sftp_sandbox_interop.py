"""Our SFTP client against the sandbox bank's asyncssh server (a second, independent peer)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.sandbox.clock import ManualClock
from adapters.sandbox.sftp_server import SandboxServer
from adapters.transport import (
    ChangedHostKeyError,
    ConnectFailedError,
    DeliveryStatus,
    RetryingTransport,
    RetryPolicy,
    SftpSettings,
    SftpTransport,
    UploadConventions,
    deliver,
)
from adapters.transport.testing import generate_ed25519

USER = "rcb_county"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[SandboxServer, SftpSettings, Path]]:
    key = tmp_path / "client_ed25519"
    generate_ed25519(key)
    root = tmp_path / "sftp"
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    server = SandboxServer(
        root, {USER: [key.with_suffix(".pub")]}, host_key_path=tmp_path / "host_key", clock=clock
    )
    with server:
        home = root / USER
        for folder in ("in", "out", "out/processed"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(server.known_hosts_line())
        settings = SftpSettings(
            host="127.0.0.1",
            port=server.port,
            username=USER,
            private_key_path=key,
            known_hosts_path=known_hosts,
            connect_timeout=10,
            operation_timeout=20,
        )
        yield server, settings, home


def test_deliver_fetch_and_move_through_the_sandbox_server(
    sandbox: tuple[SandboxServer, SftpSettings, Path],
) -> None:
    _, settings, home = sandbox
    data = "H|DF|1|100.00\r\nD|1|6217000000000001|张三|100.00\r\n".encode("gb18030")
    digest = hashlib.sha256(data).hexdigest()
    conventions = UploadConventions(
        marker_suffix=".done", checksum_suffix=".sha256", processed_folder="/out/processed"
    )
    with SftpTransport(settings, conventions) as transport:
        first = deliver(transport, "/in", "DF_rcb_20260302_001.txt", data, digest)
        again = deliver(transport, "/in", "DF_rcb_20260302_001.txt", data, digest)
        assert first.status is DeliveryStatus.DELIVERED
        assert again.status is DeliveryStatus.ALREADY_DELIVERED
        assert sorted(p.name for p in (home / "in").iterdir()) == [
            "DF_rcb_20260302_001.txt",
            "DF_rcb_20260302_001.txt.done",
            "DF_rcb_20260302_001.txt.sha256",
        ]
        assert (home / "in" / "DF_rcb_20260302_001.txt").read_bytes() == data

        (home / "out" / "RESULT_M1.txt").write_bytes(b"result")
        listed = transport.list("/out", "RESULT_*.txt")
        assert [f.name for f in listed] == ["RESULT_M1.txt"]
        assert transport.fetch(listed[0].path) == b"result"
        assert transport.move_to_processed(listed[0].path) == "/out/processed/RESULT_M1.txt"
        assert (home / "out" / "processed" / "RESULT_M1.txt").read_bytes() == b"result"


def test_the_sandbox_host_key_is_pinned(
    sandbox: tuple[SandboxServer, SftpSettings, Path], tmp_path: Path
) -> None:
    server, settings, _ = sandbox
    other = tmp_path / "other_host"
    generate_ed25519(other)
    key_type, key_b64 = other.with_suffix(".pub").read_text().split()[:2]
    pinned = tmp_path / "pinned"
    pinned.write_text(f"[127.0.0.1]:{server.port} {key_type} {key_b64}\n")
    wrong = SftpSettings(**{**settings.__dict__, "known_hosts_path": pinned})
    with SftpTransport(wrong) as transport, pytest.raises(ChangedHostKeyError):
        transport.ping()


def test_refused_connections_are_retried_until_the_bank_is_back(
    sandbox: tuple[SandboxServer, SftpSettings, Path],
) -> None:
    server, settings, _ = sandbox
    server.gate.refuse_next(2)
    sleeps: list[float] = []
    transport = RetryingTransport(
        SftpTransport(settings), RetryPolicy(max_attempts=4), sleep=sleeps.append
    )
    with transport:
        transport.ping()
    assert sleeps == [1.0, 2.0]
    assert server.refused_connections == 2


def test_giving_up_when_the_bank_stays_away(
    sandbox: tuple[SandboxServer, SftpSettings, Path],
) -> None:
    server, settings, _ = sandbox
    server.gate.refuse_next(5)
    transport = RetryingTransport(
        SftpTransport(settings), RetryPolicy(max_attempts=2), sleep=lambda _: None
    )
    with transport, pytest.raises(ConnectFailedError):
        transport.ping()
