"""Collecting the files a bank leaves for us: only complete ones, with their signatures.

A bank that writes a marker (``NAME.done``) next to each finished file has its files
taken only once the marker is there, so a file still being written is never read. A
detached signature ``NAME.sig``, when present, is fetched with the file. After the caller
has stored a file, ``dispose_inbound`` applies the bank's leave/move/delete rule to the
file and its side files together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters.records import FileKind
from adapters.transport.base import InboundAction, RemoteFile, Transport, dispose_fetched

SIGNATURE_SUFFIX = ".sig"


@dataclass(frozen=True)
class InboundFile:
    """One fetched inbound file, exactly as received."""

    kind: FileKind
    remote: RemoteFile
    data: bytes
    signature: bytes | None

    @property
    def name(self) -> str:
        return self.remote.name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def ready_files(
    transport: Transport,
    folder: str,
    patterns: Mapping[FileKind, Sequence[str]],
    *,
    marker_suffix: str | None,
) -> list[tuple[FileKind, RemoteFile]]:
    """Complete files matching the patterns, oldest first; a name matches its first kind."""
    claimed: dict[str, tuple[FileKind, RemoteFile]] = {}
    for kind, globs in patterns.items():
        for pattern in globs:
            for remote in transport.list(folder, pattern):
                claimed.setdefault(remote.name, (kind, remote))
    ready = []
    for kind, remote in claimed.values():
        if marker_suffix is not None and not transport.exists(remote.path + marker_suffix):
            continue
        ready.append((kind, remote))
    return sorted(ready, key=lambda item: (item[1].mtime, item[1].name))


def fetch_inbound(
    transport: Transport,
    folder: str,
    patterns: Mapping[FileKind, Sequence[str]],
    *,
    marker_suffix: str | None,
    signature_suffix: str = SIGNATURE_SUFFIX,
) -> list[InboundFile]:
    """Fetch every complete inbound file and its signature (None when the bank sent none)."""
    fetched = []
    for kind, remote in ready_files(transport, folder, patterns, marker_suffix=marker_suffix):
        data = transport.fetch(remote.path)
        signature_path = remote.path + signature_suffix
        signature = transport.fetch(signature_path) if transport.exists(signature_path) else None
        fetched.append(InboundFile(kind, remote, data, signature))
    return fetched


def dispose_inbound(
    transport: Transport,
    inbound: InboundFile,
    action: InboundAction,
    *,
    marker_suffix: str | None,
    signature_suffix: str = SIGNATURE_SUFFIX,
) -> str | None:
    """Leave, move or delete a stored inbound file together with its marker and signature.

    Returns the file's path afterwards (None once deleted).
    """
    if action is InboundAction.LEAVE:
        return inbound.remote.path
    for suffix in (signature_suffix, marker_suffix):
        if suffix is None:
            continue
        side = inbound.remote.path + suffix
        if transport.exists(side):
            dispose_fetched(transport, side, action)
    return dispose_fetched(transport, inbound.remote.path, action)
