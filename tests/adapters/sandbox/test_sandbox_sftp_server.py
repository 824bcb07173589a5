"""The sandbox bank's SFTP server, driven by paramiko and by OpenSSH's own ``sftp`` client."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncssh
import paramiko
import pytest

from adapters.sandbox import FaultKind, InjectedFault, ManualClock, SandboxServer
from adapters.sandbox.faults import RefusalWindow

USER = "linyi"


def _keypair(folder: Path, name: str) -> Path:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = folder / name
    key.write_private_key(str(path))
    key.write_public_key(str(path) + ".pub")
    path.chmod(0o600)
    return path


class Bank:
    def __init__(self, tmp_path: Path, refusals: tuple[RefusalWindow, ...] = ()) -> None:
        self.keys = tmp_path / "keys"
        self.keys.mkdir()
        self.client_key = _keypair(self.keys, "linyi_client")
        self.other_key = _keypair(self.keys, "stranger")
        self.root = tmp_path / "state" / "sftp"
        for sub in ("in", "out", "out/processed"):
            (self.root / USER / sub).mkdir(parents=True)
        (self.root / "feixian" / "out").mkdir(parents=True)
        (self.root / "feixian" / "out" / "SECRET.txt").write_text("other county")
        self.clock = ManualClock(datetime(2025, 3, 3, 9, 0))
        self.faults: list[InjectedFault] = []
        self.server = SandboxServer(
            self.root,
            {USER: [Path(str(self.client_key) + ".pub")], "feixian": []},
            host_key_path=tmp_path / "state" / "ssh_host_ed25519_key",
            clock=self.clock,
            refusals=refusals,
            fault_sink=self.faults.append,
        )
        self.known_hosts = tmp_path / "known_hosts"

    def __enter__(self) -> Bank:
        self.server.start()
        self.known_hosts.write_text(self.server.known_hosts_line())
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def paramiko(self, key: Path | None = None) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            "127.0.0.1",
            port=self.server.port,
            username=USER,
            key_filename=str(key or self.client_key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
        return client


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path) as running:
        yield running


def test_paramiko_client_does_every_operation_the_transport_needs(bank: Bank) -> None:
    with bank.paramiko() as client:
        sftp = client.open_sftp()
        assert sorted(sftp.listdir("/")) == ["in", "out"]
        with sftp.open("/in/DF_001.txt.part", "wb") as handle:
            handle.write(b"HEADER|1|100.00\n")
        sftp.posix_rename("/in/DF_001.txt.part", "/in/DF_001.txt")
        sftp.rename("/in/DF_001.txt", "/in/DF_002.txt")
        with sftp.open("/in/DF_002.txt.done", "wb"):
            pass
        assert sftp.stat("/in/DF_002.txt").st_size == 16
        assert sftp.lstat("/in/DF_002.txt.done").st_size == 0
        assert sorted(sftp.listdir("/in")) == ["DF_002.txt", "DF_002.txt.done"]
        sftp.mkdir("/out/archive")
        (bank.root / USER / "out" / "RESULT_1.txt").write_bytes("回盘".encode("gb18030"))
        with sftp.open("/out/RESULT_1.txt", "rb") as handle:
            assert handle.read().decode("gb18030") == "回盘"
        sftp.rename("/out/RESULT_1.txt", "/out/processed/RESULT_1.txt")
        sftp.remove("/in/DF_002.txt.done")
        assert sftp.normalize("../../..") == "/"
        with pytest.raises(FileNotFoundError):
            sftp.stat("/../feixian/out/SECRET.txt")
    assert (bank.root / USER / "in" / "DF_002.txt").read_bytes() == b"HEADER|1|100.00\n"
    assert (bank.root / USER / "out" / "processed" / "RESULT_1.txt").exists()
    assert (bank.root / USER / "out" / "archive").is_dir()


def test_unknown_client_key_is_refused(bank: Bank) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        bank.paramiko(bank.other_key)


def test_a_user_without_keys_cannot_log_in(bank: Bank) -> None:
    client = paramiko.SSHClient()
    client.load_host_keys(str(bank.known_hosts))
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(
            "127.0.0.1",
            port=bank.server.port,
            username="feixian",
            key_filename=str(bank.client_key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
    client.close()


def test_host_key_is_kept_across_restarts(tmp_path: Path) -> None:
    with Bank(tmp_path) as first:
        line = first.server.host_public_key()
    again = SandboxServer(
        tmp_path / "state" / "sftp",
        {},
        host_key_path=tmp_path / "state" / "ssh_host_ed25519_key",
        clock=first.clock,
    )
    assert again.host_public_key() == line
    assert line.startswith("ssh-ed25519 ")


def test_refuses_connections_by_count_and_records_it(tmp_path: Path) -> None:
    with Bank(tmp_path, refusals=(RefusalWindow(count=2),)) as bank:
        for _ in range(2):
            with pytest.raises((paramiko.SSHException, EOFError, OSError)):
                bank.paramiko()
        with bank.paramiko() as client:
            assert client.open_sftp().listdir("/in") == []
    assert [f.kind for f in bank.faults] == [FaultKind.SFTP_REFUSED] * 2
    assert bank.server.refused_connections == 2


def test_refuses_connections_during_a_window_of_bank_time(tmp_path: Path) -> None:
    window = RefusalWindow(start=datetime(2025, 3, 3, 10, 0), end=datetime(2025, 3, 3, 11, 0))
    with Bank(tmp_path, refusals=(window,)) as bank:
        with bank.paramiko():
            pass
        bank.clock.set(datetime(2025, 3, 3, 10, 30))
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            bank.paramiko()
        bank.clock.set(datetime(2025, 3, 3, 11, 0))
        with bank.paramiko():
            pass
    (fault,) = bank.faults
    assert fault.date.isoformat() == "2025-03-03"


def _openssh_sftp(bank: Bank, batch: str, key: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    batch_file = cwd / "batch.txt"
    batch_file.write_text(batch)
    return subprocess.run(
        [
            "/usr/bin/sftp",
            "-b",
            str(batch_file),
            "-i",
            str(key),
            "-P",
            str(bank.server.port),
            "-o",
            f"UserKnownHostsFile={bank.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            "-F",
            "/dev/null",
            f"{USER}@127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@pytest.mark.sshd
def test_openssh_sftp_client_uploads_renames_lists_and_downloads(
    bank: Bank, tmp_path: Path
) -> None:
    work = tmp_path / "client"
    work.mkdir()
    (work / "DF_001.txt").write_bytes("代发|张三|1000.00\n".encode("gb18030"))
    (work / "empty").write_bytes(b"")
    (bank.root / USER / "out" / "RESULT_1.txt").write_bytes(b"result")
    result = _openssh_sftp(
        bank,
        "put DF_001.txt /in/DF_001.txt.part\n"
        "rename /in/DF_001.txt.part /in/DF_001.txt\n"
        "put empty /in/DF_001.txt.done\n"
        "ls -1 /in\n"
        "get /out/RESULT_1.txt fetched.txt\n"
        "rename /out/RESULT_1.txt /out/processed/RESULT_1.txt\n",
        bank.client_key,
        work,
    )
    assert result.returncode == 0, result.stderr
    assert "DF_001.txt.done" in result.stdout
    assert (bank.root / USER / "in" / "DF_001.txt").read_bytes() == (
        work / "DF_001.txt"
    ).read_bytes()
    assert (work / "fetched.txt").read_bytes() == b"result"
    assert (bank.root / USER / "out" / "processed" / "RESULT_1.txt").exists()


@pytest.mark.sshd
def test_openssh_sftp_client_cannot_leave_its_folder(bank: Bank, tmp_path: Path) -> None:
    work = tmp_path / "client"
    work.mkdir()
    (work / "x.txt").write_text("x")
    result = _openssh_sftp(
        bank,
        "cd ../../..\n"
        "pwd\n"
        "ls -1\n"
        "-get /../feixian/out/SECRET.txt stolen.txt\n"
        "-get ../../../etc/passwd passwd.txt\n"
        "put x.txt ../../x.txt\n",
        bank.client_key,
        work,
    )
    assert result.returncode == 0, result.stderr
    assert "Remote working directory: /\n" in result.stdout
    assert not (work / "stolen.txt").exists()
    assert not (work / "passwd.txt").exists()
    assert (bank.root / USER / "x.txt").read_text() == "x"  # landed inside its own root
    assert not (bank.root / "x.txt").exists()


@pytest.mark.sshd
def test_openssh_sftp_client_with_an_unknown_key_is_refused(bank: Bank, tmp_path: Path) -> None:
    work = tmp_path / "client"
    work.mkdir()
    result = _openssh_sftp(bank, "ls /in\n", bank.other_key, work)
    assert result.returncode != 0
    assert "Permission denied" in result.stderr


def test_only_sftp_is_served_no_commands_or_tunnels(bank: Bank) -> None:
    with bank.paramiko() as client:
        with pytest.raises(paramiko.SSHException):
            client.exec_command("id", timeout=5)
        transport = client.get_transport()
        assert transport is not None
        with pytest.raises(paramiko.ChannelException):
            transport.open_channel(
                "direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 40000), timeout=5
            )
