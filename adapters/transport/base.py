"""The transport protocol, the generic staged upload, and exactly-once delivery.

A ``Transport`` moves whole files to and from one folder tree on a bank's server. Concrete
transports (SFTP, in-memory) supply a handful of primitives; ``StagedTransport`` builds the
upload the banks expect on top of them:

1. write ``NAME.part`` (a stale one from a crashed attempt is replaced),
2. rename it to ``NAME`` (POSIX rename where the server offers it),
3. write the side files (signature, ``NAME.sha256`` checksum) the same way,
4. write the bank's marker ``NAME.done`` / ``NAME.ok`` last: it tells the bank the file is
   complete, so the bank never picks up half a file.

Every step is idempotent: a step whose file already holds exactly the same bytes is skipped,
and a file holding other bytes is never overwritten (``RemoteFileConflictError``). A
retried upload therefore completes what a dropped one started and never sends twice.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from adapters.transport.errors import (
    RemoteFileConflictError,
    RemoteFileNotFoundError,
    TransportError,
)

PART_SUFFIX = ".part"


@dataclass(frozen=True)
class RemoteFile:
    """One regular file on the server."""

    name: str
    size: int
    mtime: datetime
    folder: str = ""

    @property
    def path(self) -> str:
        return posixpath.join(self.folder, self.name) if self.folder else self.name


@dataclass(frozen=True)
class UploadConventions:
    """How one bank wants files delivered and fetched files put away."""

    marker_suffix: str | None = ".done"
    checksum_suffix: str | None = None
    processed_folder: str | None = None

    def __post_init__(self) -> None:
        for label, suffix in (("marker", self.marker_suffix), ("checksum", self.checksum_suffix)):
            if suffix is not None and (not suffix.startswith(".") or "/" in suffix):
                raise ValueError(f"{label} suffix must look like '.done', got {suffix!r}")


@dataclass(frozen=True)
class UploadReport:
    """What an upload wrote: the paths written, and those already present and identical."""

    path: str
    written: tuple[str, ...]
    already_present: tuple[str, ...]


class InboundAction(enum.StrEnum):
    """What to do with an inbound file once it has been fetched and stored."""

    LEAVE = "leave"
    MOVE = "move"
    DELETE = "delete"


@runtime_checkable
class Transport(Protocol):
    """The operations the gateway needs on a bank's file server."""

    def list(self, folder: str, pattern: str = "*") -> list[RemoteFile]: ...

    def fetch(self, path: str) -> bytes: ...

    def upload(
        self,
        folder: str,
        name: str,
        data: bytes,
        *,
        sidecars: Mapping[str, bytes] | None = None,
    ) -> UploadReport: ...

    def stat(self, path: str) -> RemoteFile | None: ...

    def exists(self, path: str) -> bool: ...

    def rename(self, source: str, target: str) -> None: ...

    def delete(self, path: str) -> None: ...

    def move_to_processed(self, path: str) -> str: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_line(name: str, data: bytes) -> bytes:
    """The checksum file's content, in the format ``sha256sum -c`` reads."""
    return f"{sha256_hex(data)}  {name}\n".encode("ascii")


class StagedTransport(ABC):
    """A transport built from primitives; upload and move-to-processed are shared."""

    def __init__(self, conventions: UploadConventions | None = None) -> None:
        self.conventions = conventions or UploadConventions()

    # --- primitives every concrete transport supplies -----------------------------------

    @abstractmethod
    def list(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        """Regular files in ``folder`` whose name matches the glob, sorted by name.

        Files still being written (``*.part``) are never listed.
        """

    @abstractmethod
    def fetch(self, path: str) -> bytes:
        """The whole content of a remote file."""

    @abstractmethod
    def stat(self, path: str) -> RemoteFile | None:
        """The remote file, or None when there is none."""

    @abstractmethod
    def rename(self, source: str, target: str) -> None:
        """Rename; refuses with ``RemoteFileConflictError`` when ``target`` exists."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove a remote file; ``RemoteFileNotFoundError`` when absent."""

    @abstractmethod
    def ping(self) -> None:
        """Check the server answers (connecting if need be)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; the transport may be used again afterwards."""

    @abstractmethod
    def _write(self, path: str, data: bytes) -> None:
        """Create or truncate ``path`` and write ``data`` to it."""

    @abstractmethod
    def _publish(self, source: str, target: str) -> None:
        """Atomically rename ``source`` to ``target`` (POSIX rename where offered)."""

    # --- shared behaviour ----------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def upload(
        self,
        folder: str,
        name: str,
        data: bytes,
        *,
        sidecars: Mapping[str, bytes] | None = None,
    ) -> UploadReport:
        """Deliver ``data`` as ``folder/name`` with its side files and marker.

        ``sidecars`` maps a suffix (``".sig"``) to the bytes of ``NAME + suffix``.
        """
        _check_name(name)
        files: list[tuple[str, bytes]] = [(name, data)]
        extra = dict(sidecars or {})
        if self.conventions.checksum_suffix is not None:
            extra.setdefault(self.conventions.checksum_suffix, checksum_line(name, data))
        for suffix, content in extra.items():
            if suffix == self.conventions.marker_suffix or not suffix.startswith("."):
                raise ValueError(f"side-file suffix {suffix!r} is not allowed")
            files.append((name + suffix, content))
        written: list[str] = []
        present: list[str] = []
        for file_name, content in files:
            path = posixpath.join(folder, file_name)
            if self._place(path, content):
                written.append(path)
            else:
                present.append(path)
        if self.conventions.marker_suffix is not None:
            marker = posixpath.join(folder, name + self.conventions.marker_suffix)
            if self.stat(marker) is None:
                self._write(marker, b"")
                written.append(marker)
            else:
                present.append(marker)
        return UploadReport(
            path=posixpath.join(folder, name),
            written=tuple(written),
            already_present=tuple(present),
        )

    def _place(self, path: str, content: bytes) -> bool:
        """Write one file through ``.part`` and rename; False if identical already there."""
        existing = self.stat(path)
        if existing is not None:
            if existing.size == len(content) and self.fetch(path) == content:
                return False
            raise RemoteFileConflictError(
                f"远端已有同名文件且内容不同，拒绝覆盖 remote file {path} exists with other "
                f"content ({existing.size} bytes, ours {len(content)} bytes); "
                "a bank's file is never overwritten"
            )
        part = path + PART_SUFFIX
        self._write(part, content)
        self._publish(part, path)
        return True

    def move_to_processed(self, path: str) -> str:
        """Move a fetched file into the processed folder; returns its new path.

        If a file of that name was processed before, ``.1``, ``.2`` … is appended: nothing
        on the server is ever overwritten.
        """
        folder = self.conventions.processed_folder
        if folder is None:
            raise TransportError("no processed folder is configured for this bank")
        name = posixpath.basename(path)
        target = posixpath.join(folder, name)
        counter = 0
        while self.stat(target) is not None:
            counter += 1
            target = posixpath.join(folder, f"{name}.{counter}")
        self.rename(path, target)
        return target

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_name(name: str) -> None:
    if not name or "/" in name or name in {".", ".."} or name.endswith(PART_SUFFIX):
        raise ValueError(f"not a plain file name: {name!r}")


class DeliveryStatus(enum.StrEnum):
    DELIVERED = "delivered"
    ALREADY_DELIVERED = "already_delivered"


@dataclass(frozen=True)
class Delivery:
    """The outcome of ``deliver``."""

    status: DeliveryStatus
    path: str
    written: tuple[str, ...] = field(default=())


def deliver(
    transport: Transport,
    folder: str,
    name: str,
    data: bytes,
    sha256: str,
    *,
    sidecars: Mapping[str, bytes] | None = None,
) -> Delivery:
    """Deliver a batch's stored bytes exactly once.

    ``sha256`` is the hash stored with the batch. If ``NAME`` is already on the server with
    that hash the batch was delivered before: its content is not sent again (a marker or side
    file a crash left unwritten is completed). If ``NAME`` holds anything else the delivery is
    refused loudly, never overwritten. Otherwise the file is uploaded.
    """
    expected = sha256.lower()
    if sha256_hex(data) != expected:
        raise ValueError(
            f"the bytes given for {name} do not match their stored SHA-256 {expected}; "
            "a batch is only ever sent from its stored bytes"
        )
    path = posixpath.join(folder, name)
    existing = transport.stat(path)
    if existing is not None:
        remote_hash = sha256_hex(transport.fetch(path))
        if remote_hash != expected:
            raise RemoteFileConflictError(
                f"远端同名文件内容不同，拒绝发送 {path} is already on the server with SHA-256 "
                f"{remote_hash}, the batch's is {expected}; refusing to overwrite the bank's file"
            )
        report = transport.upload(folder, name, data, sidecars=sidecars)
        return Delivery(DeliveryStatus.ALREADY_DELIVERED, path, report.written)
    report = transport.upload(folder, name, data, sidecars=sidecars)
    return Delivery(DeliveryStatus.DELIVERED, path, report.written)


def dispose_fetched(transport: Transport, path: str, action: InboundAction) -> str | None:
    """Apply the bank's configured action to a fetched inbound file.

    Returns the file's new path (``move``), its unchanged path (``leave``) or None (``delete``).
    """
    if action is InboundAction.LEAVE:
        return path
    if action is InboundAction.MOVE:
        return transport.move_to_processed(path)
    # Deleting is idempotent: a retry after a lost reply finds the file already gone.
    with contextlib.suppress(RemoteFileNotFoundError):
        transport.delete(path)
    return None
