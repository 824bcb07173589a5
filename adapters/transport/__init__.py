"""Moving files to and from banks: the transport protocol and its implementations."""

from adapters.transport.base import (
    Delivery,
    DeliveryStatus,
    InboundAction,
    RemoteFile,
    StagedTransport,
    Transport,
    UploadConventions,
    UploadReport,
    deliver,
    dispose_fetched,
)
from adapters.transport.errors import (
    AuthenticationError,
    ChangedHostKeyError,
    ConnectFailedError,
    ConnectionDroppedError,
    HostKeyError,
    RemoteFileConflictError,
    RemoteFileNotFoundError,
    RemoteOperationError,
    TransientTransportError,
    TransportError,
    TransportTimeoutError,
    UnknownHostKeyError,
)
from adapters.transport.inbound import InboundFile, dispose_inbound, fetch_inbound, ready_files
from adapters.transport.memory import MemoryTransport
from adapters.transport.retry import RetryingTransport, RetryPolicy
from adapters.transport.sftp import SftpSettings, SftpTransport

__all__ = [
    "AuthenticationError",
    "ChangedHostKeyError",
    "ConnectFailedError",
    "ConnectionDroppedError",
    "Delivery",
    "DeliveryStatus",
    "HostKeyError",
    "InboundAction",
    "InboundFile",
    "MemoryTransport",
    "RemoteFile",
    "RemoteFileConflictError",
    "RemoteFileNotFoundError",
    "RemoteOperationError",
    "RetryPolicy",
    "RetryingTransport",
    "SftpSettings",
    "SftpTransport",
    "StagedTransport",
    "TransientTransportError",
    "Transport",
    "TransportError",
    "TransportTimeoutError",
    "UnknownHostKeyError",
    "UploadConventions",
    "UploadReport",
    "deliver",
    "dispose_fetched",
    "dispose_inbound",
    "fetch_inbound",
    "ready_files",
]
