"""A throw-away OpenSSH server on loopback, and a TCP relay that can cut a connection.

Used by the transport's interoperability tests and the SFTP benchmark, and useful to an
integrator who wants to try the transport against a real ``sshd`` without a bank.
The server runs ``sshd -D -e`` as the current user with freshly generated Ed25519 host
and client keys, serves ``internal-sftp`` rooted at a temporary folder, and stops with
the context manager.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from adapters.transport.sftp import SftpSettings

_START_TIMEOUT = 15.0


def find_executable(name: str) -> str | None:
    """``name`` on PATH or in /usr/sbin (where Debian puts sshd)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path("/usr/sbin") / name
    return str(candidate) if candidate.exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, deadline: float, process: subprocess.Popen[bytes]) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def generate_ed25519(path: Path, comment: str = "huzhu") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


class OpenSshServer:
    """``sshd`` on a free loopback port serving SFTP from ``root``."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="huzhu-sshd-"))
        self.root = self.workdir / "root"
        self.host_key = self.workdir / "host_ed25519"
        self.client_key = self.workdir / "client_ed25519"
        self.known_hosts = self.workdir / "known_hosts"
        self.config = self.workdir / "sshd_config"
        self.log = self.workdir / "sshd.log"
        self.username = getpass.getuser()
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def known_hosts_line(self, port: int | None = None) -> str:
        public = (self.host_key.with_suffix(".pub")).read_text().split()
        return f"[127.0.0.1]:{port or self.port} {public[0]} {public[1]}\n"

    def write_known_hosts(self, path: Path, port: int | None = None) -> Path:
        path.write_text(self.known_hosts_line(port))
        return path

    def start(self) -> Self:
        sshd = find_executable("sshd")
        if sshd is None:
            raise RuntimeError("OpenSSH's sshd is not installed")
        self.root.mkdir(parents=True, exist_ok=True)
        generate_ed25519(self.host_key, "huzhu-test-host")
        generate_ed25519(self.client_key, "huzhu-test-client")
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(self.client_key.with_suffix(".pub").read_text())
        if os.geteuid() == 0:
            # sshd started by root insists on its privilege-separation folder.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for _ in range(3):
            self.port = free_port()
            self.config.write_text(
                "\n".join(
                    [
                        f"Port {self.port}",
                        "ListenAddress 127.0.0.1",
                        f"HostKey {self.host_key}",
                        "PidFile none",
                        "UsePAM no",
                        "StrictModes no",
                        "PermitRootLogin prohibit-password",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "PubkeyAuthentication yes",
                        f"AuthorizedKeysFile {authorized}",
                        f"AllowUsers {self.username}",
                        "Subsystem sftp internal-sftp",
                        f"ForceCommand internal-sftp -d {self.root}",
                        "MaxStartups 50",
                        "LogLevel ERROR",
                        "",
                    ]
                )
            )
            log = self.log.open("ab")
            self._process = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            log.close()
            if _wait_for_port(self.port, time.monotonic() + _START_TIMEOUT, self._process):
                self.write_known_hosts(self.known_hosts)
                return self
            self._stop_process()
        raise RuntimeError(f"sshd did not start; its log:\n{self.log.read_text()}")

    def _stop_process(self) -> None:
        process = self._process
        self._process = None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        self._stop_process()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def sftp_command(self, batch_file: Path, port: int | None = None) -> Sequence[str]:
        """OpenSSH's ``sftp -b`` against this server, with our client key and pinning."""
        sftp = find_executable("sftp") or "sftp"
        return [
            sftp,
            "-q",
            "-b",
            str(batch_file),
            "-F",
            "/dev/null",
            "-P",
            str(port or self.port),
            "-i",
            str(self.client_key),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            f"{self.username}@127.0.0.1",
        ]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def sftp_settings(
    server: OpenSshServer, *, port: int | None = None, known_hosts: Path | None = None
) -> SftpSettings:
    """Settings for our transport to reach ``server`` (or a relay on ``port``)."""
    return SftpSettings(
        host="127.0.0.1",
        port=port or server.port,
        username=server.username,
        private_key_path=server.client_key,
        known_hosts_path=known_hosts or server.known_hosts,
        connect_timeout=10,
        operation_timeout=30,
        keepalive_interval=5,
    )


@dataclass(frozen=True)
class _Cut:
    after: int
    downstream: bool
    stall: bool


class DroppingRelay:
    """A loopback TCP relay to ``target_port`` that can cut or stall the next connection.

    ``drop_next_after(n)`` makes the next connection close both ways once ``n`` bytes have
    gone from client to server (``downstream=True``: from server to client): a connection
    lost in the middle of an upload (or download). ``stall=True`` stops relaying instead
    of closing, as a hung server would. Later connections are relayed whole.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._cut: _Cut | None = None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.dropped = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def drop_next_after(
        self, byte_count: int, *, downstream: bool = False, stall: bool = False
    ) -> None:
        with self._lock:
            self._cut = _Cut(byte_count, downstream, stall)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()  # the client sees the refusal as a closed connection
                continue
            upstream.settimeout(None)
            with self._lock:
                cut, self._cut = self._cut, None
                self._sockets.extend([client, upstream])
            pair = (client, upstream)
            up_cut = cut if cut is not None and not cut.downstream else None
            down_cut = cut if cut is not None and cut.downstream else None
            for source, sink, this_cut in (
                (client, upstream, up_cut),
                (upstream, client, down_cut),
            ):
                thread = threading.Thread(
                    target=self._pump, args=(source, sink, this_cut, pair), daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        cut: _Cut | None,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        budget = cut.after if cut is not None else None
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if budget is not None:
                    if len(chunk) >= budget:
                        sink.sendall(chunk[:budget])
                        self.dropped.set()
                        if cut is not None and cut.stall:
                            self._stopping.wait()
                        break
                    budget -= len(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
