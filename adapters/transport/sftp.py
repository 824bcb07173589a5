"""The SFTP transport on paramiko.

Key authentication only (Ed25519 or RSA; the passphrase comes from an environment
variable), the server's host key pinned from a known_hosts file (an unknown or changed key
is refused before anything is sent), connect and per-operation timeouts, keepalive. Bulk
transfers pipeline their writes and prefetch their reads. The connection is opened lazily
and re-opened after a transient failure; retrying is left to ``RetryingTransport``.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fnmatch
import hashlib
import os
import posixpath
import socket
import stat as stat_module
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paramiko

from adapters.transport.base import PART_SUFFIX, RemoteFile, StagedTransport, UploadConventions
from adapters.transport.errors import (
    AuthenticationError,
    ChangedHostKeyError,
    ConnectFailedError,
    ConnectionDroppedError,
    RemoteFileConflictError,
    RemoteFileNotFoundError,
    RemoteOperationError,
    TransportError,
    TransportTimeoutError,
    UnknownHostKeyError,
)

# Our receive window. Pipelined writes are limited by the server's window, not this one;
# for downloads a larger window only lets unread data pile up in paramiko's receive buffer,
# whose reads shift the whole buffer, so more than a few MiB makes downloads slower.
_WINDOW_SIZE = 2 * 1024 * 1024
_MAX_PACKET_SIZE = 256 * 1024
_WRITE_CHUNK = 1024 * 1024
_PREFETCH_REQUESTS = 256
_READ_PIECE = 32768  # paramiko's SFTP request size
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


@dataclass(frozen=True)
class SftpSettings:
    """Where and how to connect. No secret is held here: the passphrase is an env var name."""

    host: str
    port: int
    username: str
    private_key_path: Path
    known_hosts_path: Path
    private_key_passphrase_env: str | None = None
    connect_timeout: float = 15.0
    operation_timeout: float = 60.0
    keepalive_interval: int = 30

    @property
    def known_hosts_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as OpenSSH prints it (``SHA256:…``)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class SftpTransport(StagedTransport):
    """One bank's SFTP server."""

    def __init__(
        self, settings: SftpSettings, conventions: UploadConventions | None = None
    ) -> None:
        super().__init__(conventions)
        self.settings = settings
        self._ssh: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def __repr__(self) -> str:
        s = self.settings
        return f"SftpTransport({s.username}@{s.known_hosts_name})"

    # --- connection ----------------------------------------------------------------------

    def _client(self) -> paramiko.SFTPClient:
        if self._sftp is not None and self._ssh is not None and self._ssh.is_active():
            return self._sftp
        self.close()
        self._sftp = self._connect()
        return self._sftp

    def _load_key(self) -> paramiko.PKey:
        s = self.settings
        passphrase: bytes | None = None
        if s.private_key_passphrase_env:
            value = os.environ.get(s.private_key_passphrase_env)
            passphrase = value.encode("utf-8") if value else None
        where = f"private key {s.private_key_path}"
        try:
            # paramiko hands the password to cryptography, which needs bytes; the stubs say str.
            return paramiko.PKey.from_path(s.private_key_path, passphrase)  # type: ignore[arg-type]
        except (paramiko.PasswordRequiredException, TypeError):
            # TypeError: cryptography's answer for an encrypted OpenSSH key without password.
            hint = (
                f"set environment variable {s.private_key_passphrase_env}"
                if s.private_key_passphrase_env
                else "configure private_key_passphrase_env"
            )
            raise AuthenticationError(f"私钥需要口令 {where} is encrypted: {hint}") from None
        except FileNotFoundError:
            raise AuthenticationError(f"私钥文件不存在 {where} does not exist") from None
        except (paramiko.SSHException, ValueError, OSError):
            raise AuthenticationError(
                f"私钥无法读取 {where} cannot be loaded (wrong passphrase or not an "
                "Ed25519/RSA key)"
            ) from None

    def _pinned_keys(self) -> dict[str, paramiko.PKey]:
        s = self.settings
        try:
            host_keys = paramiko.HostKeys(str(s.known_hosts_path))
        except FileNotFoundError:
            raise UnknownHostKeyError(
                f"known_hosts 文件不存在 known_hosts file {s.known_hosts_path} does not exist; "
                f"cannot verify {s.known_hosts_name}",
                host=s.known_hosts_name,
                fingerprint="",
            ) from None
        except (OSError, paramiko.SSHException) as exc:
            raise TransportError(
                f"known_hosts 文件无法读取 cannot read {s.known_hosts_path}: {exc}"
            ) from None
        entry = host_keys.lookup(s.known_hosts_name)
        return dict(entry) if entry is not None else {}

    def _connect(self) -> paramiko.SFTPClient:
        s = self.settings
        key = self._load_key()
        pinned = self._pinned_keys()
        where = f"{s.username}@{s.known_hosts_name}"
        try:
            sock = socket.create_connection((s.host, s.port), timeout=s.connect_timeout)
        except TimeoutError:
            raise TransportTimeoutError(
                f"连接超时 connecting to {where} timed out after {s.connect_timeout} s"
            ) from None
        except OSError as exc:
            raise ConnectFailedError(f"无法连接 cannot connect to {where}: {exc}") from None
        ssh = paramiko.Transport(
            sock, default_window_size=_WINDOW_SIZE, default_max_packet_size=_MAX_PACKET_SIZE
        )
        try:
            ssh.banner_timeout = s.connect_timeout
            ssh.handshake_timeout = s.connect_timeout
            ssh.auth_timeout = s.connect_timeout
            if pinned:
                ssh.get_security_options().key_types = _host_key_algorithms(pinned)
            self._start(ssh, where)
            self._check_host_key(ssh.get_remote_server_key(), pinned)
            try:
                ssh.auth_publickey(s.username, key)
            except paramiko.AuthenticationException:
                raise AuthenticationError(
                    f"认证失败 {where} refused our key {s.private_key_path} ({fingerprint(key)})"
                ) from None
            ssh.set_keepalive(s.keepalive_interval)
            sftp = paramiko.SFTPClient.from_transport(
                ssh, window_size=_WINDOW_SIZE, max_packet_size=_MAX_PACKET_SIZE
            )
            if sftp is None:
                raise ConnectionDroppedError(
                    f"SFTP 子系统不可用 {where} refused the sftp subsystem"
                )
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(s.operation_timeout)
        except BaseException:
            ssh.close()
            raise
        self._ssh = ssh
        return sftp

    def _start(self, ssh: paramiko.Transport, where: str) -> None:
        try:
            ssh.start_client(timeout=self.settings.connect_timeout)
        except TimeoutError:
            raise TransportTimeoutError(f"握手超时 SSH handshake with {where} timed out") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectFailedError(
                f"SSH 握手失败 SSH handshake with {where} failed: {exc}"
            ) from None

    def _check_host_key(self, offered: paramiko.PKey, pinned: dict[str, paramiko.PKey]) -> None:
        s = self.settings
        name = s.known_hosts_name
        offered_print = fingerprint(offered)
        if not pinned:
            raise UnknownHostKeyError(
                f"未知主机，拒绝连接 host {name} is not in {s.known_hosts_path}; it offered "
                f"{offered.get_name()} {offered_print}. Verify that fingerprint with the bank "
                "before adding it.",
                host=name,
                fingerprint=offered_print,
            )
        expected = pinned.get(offered.get_name())
        if expected is None or expected.asbytes() != offered.asbytes():
            pinned_prints = ", ".join(f"{t} {fingerprint(k)}" for t, k in pinned.items())
            raise ChangedHostKeyError(
                f"主机密钥已变更，拒绝连接 host key for {name} has changed: it offered "
                f"{offered.get_name()} {offered_print}, {s.known_hosts_path} pins "
                f"{pinned_prints}",
                host=name,
                fingerprint=offered_print,
            )

    def close(self) -> None:
        sftp, ssh = self._sftp, self._ssh
        self._sftp = None
        self._ssh = None
        if sftp is not None and ssh is not None and ssh.is_active():
            # Closing the channel politely may fail on a half-dead connection; the
            # transport below is torn down regardless, which releases everything.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                sftp.close()
        if ssh is not None:
            ssh.close()

    @contextmanager
    def _guard(self, operation: str, path: str) -> Iterator[paramiko.SFTPClient]:
        """Run one operation, mapping paramiko's and the socket's errors to ours."""
        client = self._client()
        where = f"{operation} {path} on {self.settings.known_hosts_name}"
        try:
            yield client
        except TransportError:
            raise
        except TimeoutError:
            self.close()
            raise TransportTimeoutError(
                f"操作超时 {where} timed out after {self.settings.operation_timeout} s"
            ) from None
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise RemoteFileNotFoundError(f"远端文件不存在 {where}: no such file") from None
            if exc.errno == errno.EACCES:
                raise RemoteOperationError(f"权限不足 {where}: permission denied") from None
            if self._connection_lost(client, exc):
                self.close()
                raise ConnectionDroppedError(f"连接中断 {where}: connection lost ({exc})") from None
            raise RemoteOperationError(f"远端操作失败 {where}: {exc}") from None
        except (EOFError, paramiko.SSHException) as exc:
            self.close()
            raise ConnectionDroppedError(f"连接中断 {where}: connection lost ({exc})") from None

    def _connection_lost(self, client: paramiko.SFTPClient, exc: OSError) -> bool:
        """Whether an error without an SFTP status means the connection is gone."""
        if exc.errno in {errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ENOTCONN}:
            return True
        if self._ssh is None or not self._ssh.is_active():
            return True
        channel = client.get_channel()
        return channel is None or bool(channel.closed or channel.eof_received)

    # --- primitives ----------------------------------------------------------------------

    def list(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        with self._guard("list", folder) as sftp:
            entries = sftp.listdir_attr(folder)
        found = []
        for attr in entries:
            name = attr.filename
            if attr.st_mode is None or not stat_module.S_ISREG(attr.st_mode):
                continue
            if name.endswith(PART_SUFFIX) or not fnmatch.fnmatchcase(name, pattern):
                continue
            found.append(RemoteFile(name, attr.st_size or 0, _mtime(attr), folder))
        return sorted(found, key=lambda f: f.name)

    def fetch(self, path: str) -> bytes:
        with self._guard("fetch", path) as sftp, sftp.open(path, "rb") as remote:
            size = remote.stat().st_size or 0
            remote.prefetch(size, _PREFETCH_REQUESTS)
            # Read request-sized pieces: one large read() concatenates bytes quadratically.
            buffer = bytearray()
            while len(buffer) < size:
                piece = remote.read(_READ_PIECE)
                if not piece:
                    break
                buffer += piece
            data = bytes(buffer)
        if len(data) != size:
            raise ConnectionDroppedError(
                f"文件读取不完整 fetch {path}: got {len(data)} of {size} bytes"
            )
        return data

    def stat(self, path: str) -> RemoteFile | None:
        try:
            with self._guard("stat", path) as sftp:
                attr = sftp.stat(path)
        except RemoteFileNotFoundError:
            return None
        folder, name = posixpath.split(path)
        return RemoteFile(name, attr.st_size or 0, _mtime(attr), folder)

    def rename(self, source: str, target: str) -> None:
        if self.stat(target) is not None:
            raise RemoteFileConflictError(f"目标文件已存在 rename target exists: {target}")
        with self._guard("rename", source) as sftp:
            sftp.rename(source, target)

    def delete(self, path: str) -> None:
        with self._guard("delete", path) as sftp:
            sftp.remove(path)

    def ping(self) -> None:
        with self._guard("ping", ".") as sftp:
            sftp.normalize(".")

    def _write(self, path: str, data: bytes) -> None:
        with self._guard("upload", path) as sftp:
            # Unbuffered, pipelined: each write is sent at once without waiting for its
            # status; close() collects them all and reports the first failure.
            remote = sftp.open(path, "wb", bufsize=0)
            try:
                remote.set_pipelined(True)
                for offset in range(0, len(data), _WRITE_CHUNK):
                    remote.write(data[offset : offset + _WRITE_CHUNK])
                remote.close()
            except BaseException:
                # The first error is what the caller needs; closing the handle of a file on
                # a lost connection can only fail again, so that second failure is dropped.
                remote.set_pipelined(False)
                with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                    remote.close()
                raise

    def _publish(self, source: str, target: str) -> None:
        with self._guard("rename", source) as sftp:
            try:
                sftp.posix_rename(source, target)
                return
            except OSError as exc:
                if exc.errno is not None or "unsupported" not in str(exc).lower():
                    raise
            # The server lacks posix-rename@openssh.com; a plain rename into a free name
            # is atomic too, and deliver() has made sure the name is free.
            sftp.rename(source, target)


def _host_key_algorithms(pinned: dict[str, paramiko.PKey]) -> list[str]:
    algorithms: list[str] = []
    for key_type in pinned:
        if key_type == "ssh-rsa":
            algorithms.extend(_RSA_ALGORITHMS)
        else:
            algorithms.append(key_type)
    return algorithms


def _mtime(attr: paramiko.SFTPAttributes) -> datetime:
    return datetime.fromtimestamp(attr.st_mtime or 0, UTC)
