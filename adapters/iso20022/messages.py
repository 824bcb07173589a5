"""The ISO 20022 message types this adapter reads and writes, told apart by namespace."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from adapters.errors import FileFormatError
from adapters.iso20022.xmlread import local_name, namespace_of
from adapters.records import FileKind

NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:([a-z]{4})\.([0-9]{3})\.001\.([0-9]{2})")
_HEAD_NAMESPACE = re.compile(
    rb"xmlns(?::[A-Za-z_][\w.-]*)?\s*=\s*[\"'](urn:iso:std:iso:20022:tech:xsd:[^\"']+)[\"']"
)


@dataclass(frozen=True, slots=True)
class MessageType:
    """One ISO 20022 message definition and the versions of it we accept."""

    area: str  # "pain" or "camt"
    number: str  # "001", "053"...
    versions: range
    root: str  # the element directly under Document
    kind: FileKind

    @property
    def name(self) -> str:
        return f"{self.area}.{self.number}"

    def namespace(self, version: int) -> str:
        return f"{NS_PREFIX}{self.area}.{self.number}.001.{version:02d}"


CREDIT_TRANSFER = MessageType(
    "pain", "001", range(3, 13), "CstmrCdtTrfInitn", FileKind.DISBURSEMENT_BATCH
)
DIRECT_DEBIT = MessageType(
    "pain", "008", range(2, 12), "CstmrDrctDbtInitn", FileKind.COLLECTION_BATCH
)
STATUS_REPORT = MessageType("pain", "002", range(3, 15), "CstmrPmtStsRpt", FileKind.RESULT)
STATEMENT = MessageType("camt", "053", range(2, 14), "BkToCstmrStmt", FileKind.STATEMENT)
NOTIFICATION = MessageType(
    "camt", "054", range(2, 14), "BkToCstmrDbtCdtNtfctn", FileKind.NOTIFICATION
)

MESSAGE_TYPES = (CREDIT_TRANSFER, DIRECT_DEBIT, STATUS_REPORT, STATEMENT, NOTIFICATION)


def identify(namespace: str) -> tuple[MessageType, int] | None:
    """The message type and version of a namespace, or None when it is not one we know."""
    match = _NAMESPACE.fullmatch(namespace)
    if match is None:
        return None
    area, number, version = match.group(1), match.group(2), int(match.group(3))
    for message in MESSAGE_TYPES:
        if message.area == area and message.number == number and version in message.versions:
            return message, version
    return None


def expect_root(root: etree._Element, *accepted: MessageType) -> tuple[MessageType, int, str]:
    """Check a document's root against the accepted message types; return type, version, ns."""
    names = " or ".join(m.name for m in accepted)
    if local_name(root.tag) != "Document":
        raise FileFormatError(
            f"root element must be Document (expected {names})",
            location=f"/{local_name(root.tag) or '?'}",
            field="root",
            value=local_name(root.tag),
        )
    ns = namespace_of(root.tag)
    found = identify(ns)
    if found is None or found[0] not in accepted:
        versions = ", ".join(
            f"{m.name}.001.{m.versions.start:02d}-{m.versions.stop - 1:02d}" for m in accepted
        )
        raise FileFormatError(
            f"wrong namespace or version: expected {versions}",
            location="/Document",
            field="xmlns",
            value=ns or "(none)",
        )
    return found[0], found[1], ns


def detect(head: bytes) -> FileKind | None:
    """A file's kind from the ISO 20022 namespace in its first bytes, or None."""
    for match in _HEAD_NAMESPACE.finditer(head):
        found = identify(match.group(1).decode("ascii", errors="replace"))
        if found is not None:
            return found[0].kind
    return None
