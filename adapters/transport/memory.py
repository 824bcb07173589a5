"""An in-memory transport with the SFTP transport's semantics, for unit tests.

Folders must exist (``folders=`` or ``make_folder``), ``.part`` files are visible to
``stat`` but never listed, renames never overwrite. Faults can be injected: fail the next
N operations with a transient error, or drop the connection in the middle of the next
file write (the partial ``.part`` stays behind, as on a real server).
"""

from __future__ import annotations

import fnmatch
import posixpath
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.transport.base import PART_SUFFIX, RemoteFile, StagedTransport, UploadConventions
from adapters.transport.errors import (
    ConnectionDroppedError,
    RemoteFileConflictError,
    RemoteFileNotFoundError,
    TransportError,
)


@dataclass
class _Blob:
    data: bytes
    mtime: datetime


def _dropped(operation: str) -> TransportError:
    return ConnectionDroppedError(f"连接中断 connection dropped during {operation}")


class MemoryTransport(StagedTransport):
    """A dictionary of files behaving like a bank's SFTP folder tree."""

    def __init__(
        self,
        conventions: UploadConventions | None = None,
        *,
        folders: Iterable[str] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(conventions)
        self._files: dict[str, _Blob] = {}
        self._folders: set[str] = {""}
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._fail_next = 0
        self._fail_factory: Callable[[str], TransportError] = _dropped
        self._drop_write_after: int | None = None
        self._lose_reply_at: int | None = None
        self._fail_at: int | None = None
        self.operations: list[tuple[str, str]] = []
        self.closed = False
        for folder in folders:
            self.make_folder(folder)
        if self.conventions.processed_folder is not None:
            self.make_folder(self.conventions.processed_folder)

    # --- test helpers --------------------------------------------------------------------

    def make_folder(self, folder: str) -> None:
        parts = posixpath.normpath(folder).split("/")
        for i in range(1, len(parts) + 1):
            self._folders.add("/".join(parts[:i]))

    def put(self, path: str, data: bytes) -> None:
        """Place a file directly, as the bank would."""
        self._require_folder(path)
        self._files[_norm(path)] = _Blob(data, self._clock())

    def files(self) -> dict[str, bytes]:
        """A snapshot of every file and its content."""
        return {path: blob.data for path, blob in sorted(self._files.items())}

    def fail_next(self, count: int, error: Callable[[str], TransportError] | None = None) -> None:
        """Make the next ``count`` operations raise (a dropped connection by default)."""
        self._fail_next = count
        self._fail_factory = error or _dropped

    def drop_next_write_after(self, byte_count: int) -> None:
        """Write only ``byte_count`` bytes of the next file, then drop the connection."""
        self._drop_write_after = byte_count

    def fail_operation(self, index: int) -> None:
        """Drop the connection at operation number ``index``, before it takes effect."""
        self._fail_at = index

    def lose_reply_of_operation(self, index: int) -> None:
        """Let operation number ``index`` (counting from 0 over ``operations``) take effect
        on the server, then drop the connection before its reply: the client cannot tell
        whether it happened."""
        self._lose_reply_at = index

    def writes(self) -> list[str]:
        """Paths written so far, in order."""
        return [path for op, path in self.operations if op == "write"]

    # --- primitives ----------------------------------------------------------------------

    def _begin(self, operation: str, path: str) -> int:
        self.operations.append((operation, path))
        index = len(self.operations) - 1
        self.closed = False
        if index == self._fail_at:
            self._fail_at = None
            raise _dropped(operation)
        if self._fail_next > 0:
            self._fail_next -= 1
            raise self._fail_factory(operation)
        return index

    def _reply(self, index: int, operation: str) -> None:
        if index == self._lose_reply_at:
            self._lose_reply_at = None
            raise _dropped(f"the reply to {operation}")

    def _require_folder(self, path: str) -> None:
        folder = posixpath.dirname(_norm(path))
        if folder not in self._folders:
            raise RemoteFileNotFoundError(f"远端目录不存在 no such remote folder: {folder}")

    def list(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        with self._lock:
            self._begin("list", folder)
            key = _norm(folder)
            if key not in self._folders:
                raise RemoteFileNotFoundError(f"远端目录不存在 no such remote folder: {folder}")
            found = []
            for path, blob in self._files.items():
                parent, name = posixpath.split(path)
                if parent != key or name.endswith(PART_SUFFIX):
                    continue
                if fnmatch.fnmatchcase(name, pattern):
                    found.append(RemoteFile(name, len(blob.data), blob.mtime, folder))
            return sorted(found, key=lambda f: f.name)

    def fetch(self, path: str) -> bytes:
        with self._lock:
            self._begin("fetch", path)
            blob = self._files.get(_norm(path))
            if blob is None:
                raise RemoteFileNotFoundError(f"远端文件不存在 no such remote file: {path}")
            return blob.data

    def stat(self, path: str) -> RemoteFile | None:
        with self._lock:
            self._begin("stat", path)
            blob = self._files.get(_norm(path))
            if blob is None:
                return None
            folder, name = posixpath.split(path)
            return RemoteFile(name, len(blob.data), blob.mtime, folder)

    def rename(self, source: str, target: str) -> None:
        with self._lock:
            index = self._begin("rename", source)
            self._move(source, target, overwrite=False)
            self._reply(index, "rename")

    def delete(self, path: str) -> None:
        with self._lock:
            index = self._begin("delete", path)
            if self._files.pop(_norm(path), None) is None:
                raise RemoteFileNotFoundError(f"远端文件不存在 no such remote file: {path}")
            self._reply(index, "delete")

    def ping(self) -> None:
        with self._lock:
            self._begin("ping", "")

    def close(self) -> None:
        self.closed = True

    def _write(self, path: str, data: bytes) -> None:
        with self._lock:
            index = self._begin("write", path)
            self._require_folder(path)
            drop_after = self._drop_write_after
            if drop_after is not None:
                self._drop_write_after = None
                self._files[_norm(path)] = _Blob(data[:drop_after], self._clock())
                raise _dropped(f"write of {path}")
            self._files[_norm(path)] = _Blob(data, self._clock())
            self._reply(index, "write")

    def _publish(self, source: str, target: str) -> None:
        with self._lock:
            index = self._begin("publish", source)
            self._move(source, target, overwrite=True)
            self._reply(index, "publish")

    def _move(self, source: str, target: str, *, overwrite: bool) -> None:
        blob = self._files.get(_norm(source))
        if blob is None:
            raise RemoteFileNotFoundError(f"远端文件不存在 no such remote file: {source}")
        self._require_folder(target)
        if not overwrite and _norm(target) in self._files:
            raise RemoteFileConflictError(f"目标文件已存在 rename target exists: {target}")
        del self._files[_norm(source)]
        self._files[_norm(target)] = blob


def _norm(path: str) -> str:
    normal = posixpath.normpath(path)
    return "" if normal == "." else normal
