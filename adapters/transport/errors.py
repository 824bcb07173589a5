"""The transport's error hierarchy.

Transient errors (the connection could not be made, dropped, or timed out) may be retried;
everything else (host key, authentication, a conflicting remote file) must not be, because
trying again cannot change the answer and may do harm.
"""

from __future__ import annotations

from adapters.errors import AdapterError


class TransportError(AdapterError):
    """Base of every error a transport raises."""


class TransientTransportError(TransportError):
    """The exchange may succeed if tried again later."""


class ConnectFailedError(TransientTransportError):
    """The server could not be reached or refused the connection."""


class ConnectionDroppedError(TransientTransportError):
    """An established connection was lost in the middle of an operation."""


class TransportTimeoutError(TransientTransportError):
    """Connecting or an operation took longer than the configured timeout."""


class HostKeyError(TransportError):
    """The server's host key is not the pinned one."""

    def __init__(self, message: str, *, host: str, fingerprint: str) -> None:
        self.host = host
        self.fingerprint = fingerprint
        super().__init__(message)


class UnknownHostKeyError(HostKeyError):
    """The server is not listed in the known_hosts file."""


class ChangedHostKeyError(HostKeyError):
    """The server offered a key different from the one pinned for it."""


class AuthenticationError(TransportError):
    """Our key was refused, or our private key could not be loaded."""


class RemoteFileConflictError(TransportError):
    """A remote file exists with other content; a bank's file is never overwritten."""


class RemoteFileNotFoundError(TransportError):
    """The remote file or folder does not exist."""


class RemoteOperationError(TransportError):
    """The server refused an operation (permission denied, failure status)."""
