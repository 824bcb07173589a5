"""Our SFTP client against OpenSSH's sshd: files, pinning, a dropped upload, delivery."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from adapters.transport import (
    AuthenticationError,
    ChangedHostKeyError,
    ConnectFailedError,
    ConnectionDroppedError,
    DeliveryStatus,
    RemoteFileConflictError,
    RemoteFileNotFoundError,
    RetryingTransport,
    RetryPolicy,
    SftpTransport,
    TransportTimeoutError,
    UnknownHostKeyError,
    UploadConventions,
    deliver,
)
from adapters.transport.testing import (
    DroppingRelay,
    OpenSshServer,
    free_port,
    generate_ed25519,
    sftp_settings,
)

pytestmark = pytest.mark.sshd


def test_upload_writes_file_checksum_and_marker_and_leaves_no_part(
    sftp_transport: SftpTransport, sftp_root: Path
) -> None:
    data = "代发批次 DF|张三|100.00\r\n".encode("gb18030") * 1000
    report = sftp_transport.upload(f"{sftp_root.name}/in", "DF_001.txt", data)

    inbox = sftp_root / "in"
    assert (inbox / "DF_001.txt").read_bytes() == data
    assert (inbox / "DF_001.txt.done").read_bytes() == b""
    digest = hashlib.sha256(data).hexdigest()
    assert (inbox / "DF_001.txt.sha256").read_text() == f"{digest}  DF_001.txt\n"
    assert sorted(p.name for p in inbox.iterdir()) == [
        "DF_001.txt",
        "DF_001.txt.done",
        "DF_001.txt.sha256",
    ]
    assert report.written[-1].endswith("DF_001.txt.done")
    # OpenSSH's own checker agrees with the checksum file.
    check = subprocess.run(
        ["sha256sum", "-c", "DF_001.txt.sha256"], cwd=inbox, capture_output=True, timeout=30
    )
    assert check.returncode == 0, check.stderr


def test_list_fetch_rename_delete_and_move_to_processed(
    sftp_transport: SftpTransport, sftp_root: Path
) -> None:
    out = sftp_root / "out"
    (out / "RESULT_A.txt").write_bytes(b"result a")
    (out / "RESULT_B.txt").write_bytes(b"result b" * 10)
    (out / "STMT_1.txt").write_bytes(b"statement")
    (out / "RESULT_C.txt.part").write_bytes(b"half")
    folder = f"{sftp_root.name}/out"

    listed = sftp_transport.list(folder, "RESULT_*")
    assert [(f.name, f.size) for f in listed] == [("RESULT_A.txt", 8), ("RESULT_B.txt", 80)]
    assert sftp_transport.fetch(listed[1].path) == b"result b" * 10

    sftp_transport.rename(f"{folder}/STMT_1.txt", f"{folder}/STMT_2.txt")
    assert (out / "STMT_2.txt").exists()
    assert not (out / "STMT_1.txt").exists()
    with pytest.raises(RemoteFileConflictError):
        sftp_transport.rename(f"{folder}/RESULT_A.txt", f"{folder}/RESULT_B.txt")

    moved = sftp_transport.move_to_processed(f"{folder}/RESULT_A.txt")
    assert moved == f"{folder}/processed/RESULT_A.txt"
    assert (out / "processed" / "RESULT_A.txt").read_bytes() == b"result a"
    (out / "RESULT_A.txt").write_bytes(b"same name again next day")
    again = sftp_transport.move_to_processed(f"{folder}/RESULT_A.txt")
    assert again == f"{folder}/processed/RESULT_A.txt.1"
    assert (out / "processed" / "RESULT_A.txt").read_bytes() == b"result a"

    sftp_transport.delete(f"{folder}/STMT_2.txt")
    assert not (out / "STMT_2.txt").exists()
    with pytest.raises(RemoteFileNotFoundError):
        sftp_transport.fetch(f"{folder}/STMT_2.txt")
    assert sftp_transport.stat(f"{folder}/STMT_2.txt") is None
    sftp_transport.ping()


def test_stale_part_from_a_crash_is_replaced(
    sftp_transport: SftpTransport, sftp_root: Path
) -> None:
    inbox = sftp_root / "in"
    (inbox / "DK_001.txt.part").write_bytes(b"garbage from a crashed attempt, longer than data")
    sftp_transport.upload(f"{sftp_root.name}/in", "DK_001.txt", b"the real batch")
    assert (inbox / "DK_001.txt").read_bytes() == b"the real batch"
    assert not (inbox / "DK_001.txt.part").exists()


def test_changed_host_key_is_refused_naming_host_and_fingerprint(
    sshd_server: OpenSshServer, tmp_path: Path
) -> None:
    impostor = tmp_path / "impostor"
    generate_ed25519(impostor)
    key_type, key_b64 = impostor.with_suffix(".pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd_server.port} {key_type} {key_b64}\n")

    with (
        pytest.raises(ChangedHostKeyError) as caught,
        SftpTransport(sftp_settings(sshd_server, known_hosts=known_hosts)) as transport,
    ):
        transport.ping()
    message = str(caught.value)
    assert f"[127.0.0.1]:{sshd_server.port}" in message
    assert caught.value.fingerprint.startswith("SHA256:")
    assert caught.value.fingerprint in message


def test_unknown_host_is_refused(sshd_server: OpenSshServer, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sshd_server.known_hosts_line(port=sshd_server.port + 1))
    with (
        pytest.raises(UnknownHostKeyError) as caught,
        SftpTransport(sftp_settings(sshd_server, known_hosts=known_hosts)) as transport,
    ):
        transport.list(".")
    assert "not in" in str(caught.value)
    assert caught.value.fingerprint.startswith("SHA256:")


def test_foreign_client_key_is_refused_and_not_retried(
    sshd_server: OpenSshServer, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger"
    generate_ed25519(stranger)
    settings = sftp_settings(sshd_server)
    settings = type(settings)(**{**settings.__dict__, "private_key_path": stranger})
    sleeps: list[float] = []
    transport = RetryingTransport(SftpTransport(settings), RetryPolicy(), sleep=sleeps.append)
    with pytest.raises(AuthenticationError, match="refused our key"):
        transport.ping()
    assert sleeps == []


def test_nobody_listening_is_a_transient_connect_failure(sshd_server: OpenSshServer) -> None:
    with (
        pytest.raises(ConnectFailedError),
        SftpTransport(sftp_settings(sshd_server, port=free_port())) as transport,
    ):
        transport.ping()


def test_dropped_upload_leaves_no_file_and_the_retry_completes_it_once(
    sshd_server: OpenSshServer, sftp_root: Path, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    with DroppingRelay(sshd_server.port) as relay:
        known_hosts = sshd_server.write_known_hosts(tmp_path / "known_hosts", relay.port)
        settings = sftp_settings(sshd_server, port=relay.port, known_hosts=known_hosts)
        conventions = UploadConventions(marker_suffix=".done")
        folder = f"{sftp_root.name}/in"

        # Without retries: the connection dies one megabyte into the upload.
        relay.drop_next_after(1024 * 1024)
        with (
            pytest.raises(ConnectionDroppedError),
            SftpTransport(settings, conventions) as bare,
        ):
            bare.upload(folder, "DF_big.txt", data)
        assert relay.dropped.is_set()
        inbox = sftp_root / "in"
        assert not (inbox / "DF_big.txt").exists()
        assert not (inbox / "DF_big.txt.done").exists()

        # With retries: the first attempt is cut again, the second completes it.
        relay.dropped.clear()
        relay.drop_next_after(1024 * 1024)
        sleeps: list[float] = []
        retrying = RetryingTransport(
            SftpTransport(settings, conventions),
            RetryPolicy(max_attempts=3, initial_delay=0.5),
            sleep=sleeps.append,
        )
        with retrying:
            outcome = deliver(retrying, folder, "DF_big.txt", data, digest)
        assert relay.dropped.is_set()
        assert sleeps == [0.5]
        assert outcome.status is DeliveryStatus.DELIVERED
        assert (inbox / "DF_big.txt").read_bytes() == data
        assert (inbox / "DF_big.txt.done").exists()
        assert sorted(p.name for p in inbox.iterdir()) == ["DF_big.txt", "DF_big.txt.done"]


def test_delivering_an_already_delivered_batch_uploads_nothing(
    sftp_transport: SftpTransport, sftp_root: Path
) -> None:
    data = b"H|batch|1\r\nD|1|100.00\r\nT|1|100.00\r\n"
    digest = hashlib.sha256(data).hexdigest()
    folder = f"{sftp_root.name}/in"
    first = deliver(sftp_transport, folder, "DF_002.txt", data, digest)
    assert first.status is DeliveryStatus.DELIVERED
    stamp = (sftp_root / "in" / "DF_002.txt").stat().st_mtime_ns

    second = deliver(sftp_transport, folder, "DF_002.txt", data, digest)
    assert second.status is DeliveryStatus.ALREADY_DELIVERED
    assert second.written == ()
    assert (sftp_root / "in" / "DF_002.txt").stat().st_mtime_ns == stamp

    other = b"H|batch|1\r\nD|1|999.00\r\nT|1|999.00\r\n"
    with pytest.raises(RemoteFileConflictError, match="refusing to overwrite"):
        deliver(sftp_transport, folder, "DF_002.txt", other, hashlib.sha256(other).hexdigest())
    assert (sftp_root / "in" / "DF_002.txt").read_bytes() == data


def test_download_cut_midway_is_a_dropped_connection_and_the_retry_fetches_it_whole(
    sshd_server: OpenSshServer, sftp_root: Path, tmp_path: Path
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    (sftp_root / "out" / "STMT_big.txt").write_bytes(data)
    path = f"{sftp_root.name}/out/STMT_big.txt"
    with DroppingRelay(sshd_server.port) as relay:
        known_hosts = sshd_server.write_known_hosts(tmp_path / "known_hosts", relay.port)
        settings = sftp_settings(sshd_server, port=relay.port, known_hosts=known_hosts)
        relay.drop_next_after(1024 * 1024, downstream=True)
        with SftpTransport(settings) as bare, pytest.raises(ConnectionDroppedError):
            bare.fetch(path)
        relay.drop_next_after(1024 * 1024, downstream=True)
        sleeps: list[float] = []
        with RetryingTransport(SftpTransport(settings), sleep=sleeps.append) as retrying:
            assert retrying.fetch(path) == data
        assert len(sleeps) == 1


def test_a_hung_server_times_out_instead_of_blocking(
    sshd_server: OpenSshServer, sftp_root: Path, tmp_path: Path
) -> None:
    with DroppingRelay(sshd_server.port) as relay:
        known_hosts = sshd_server.write_known_hosts(tmp_path / "known_hosts", relay.port)
        settings = sftp_settings(sshd_server, port=relay.port, known_hosts=known_hosts)
        settings = type(settings)(**{**settings.__dict__, "operation_timeout": 1.0})
        relay.drop_next_after(256 * 1024, stall=True)
        with SftpTransport(settings) as transport, pytest.raises(TransportTimeoutError):
            transport.upload(f"{sftp_root.name}/in", "DF_hung.txt", os.urandom(1024 * 1024))
        assert not (sftp_root / "in" / "DF_hung.txt").exists()


def test_passphrase_protected_client_key_from_the_environment(
    sshd_server: OpenSshServer, sftp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "locked_ed25519"
    passphrase = "示范县-key-pass-7"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(key)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    authorized = sshd_server.workdir / "authorized_keys"
    authorized.write_text(authorized.read_text() + key.with_suffix(".pub").read_text())
    base = sftp_settings(sshd_server)
    settings = type(base)(
        **{**base.__dict__, "private_key_path": key, "private_key_passphrase_env": "HZ_T_PASS"}
    )

    monkeypatch.delenv("HZ_T_PASS", raising=False)
    with SftpTransport(settings) as transport, pytest.raises(AuthenticationError) as missing:
        transport.ping()
    assert "HZ_T_PASS" in str(missing.value)

    monkeypatch.setenv("HZ_T_PASS", passphrase + "x")
    with SftpTransport(settings) as transport, pytest.raises(AuthenticationError) as wrong:
        transport.ping()
    assert passphrase not in str(wrong.value)
    assert str(key) in str(wrong.value)

    monkeypatch.setenv("HZ_T_PASS", passphrase)
    with SftpTransport(settings) as transport:
        assert transport.list(f"{sftp_root.name}/in") == []
        assert passphrase not in repr(transport)
