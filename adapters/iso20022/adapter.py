"""The ``iso20022`` adapter: pain.001/pain.008 out, pain.002 and camt.053/camt.054 in.

Institution side: credit transfers are written as pain.001.001.09, direct debits as
pain.008.001.08, each validated against its official schema before it leaves; status reports
(pain.002 .03-.14) and statements/notifications (camt.053/camt.054 .02-.13) are read.
Bank side (sandbox bank, tests): initiation files are read with their control totals checked
both ways, status reports written as pain.002.001.10 and statements as camt.053.001.08
(schema-validated).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from adapters.base import Adapter, AdapterOptions
from adapters.errors import AdapterLoadError, FileFormatError
from adapters.iso20022.initiation import (
    CREDIT_TRANSFER_LAYOUT,
    DIRECT_DEBIT_LAYOUT,
    InitiationParser,
    InitiationRenderer,
)
from adapters.iso20022.messages import detect
from adapters.iso20022.schemas import Schemas
from adapters.iso20022.statement import StatementReader, StatementRenderer
from adapters.iso20022.status_report import StatusReportRenderer, parse_status_report
from adapters.iso20022.xmlread import parse_document
from adapters.records import CURRENCY, MAX_AMOUNT_FEN, Batch, FileKind, ResultFile, Statement

# Keys a bank's [adapter] table may carry that are not options of this adapter.
_IGNORED_OPTION_KEYS = frozenset({"name", "adapter"})


class Iso20022Adapter(Adapter):
    """ISO 20022 XML files, both sides."""

    name: ClassVar[str] = "iso20022"
    # Largest amount: the adapters' shared bound (the schemas would allow 18 digits).
    max_amount_fen: ClassVar[int] = MAX_AMOUNT_FEN

    def __init__(self, *, currency: str | None = CURRENCY) -> None:
        """``currency`` is the one currency status reports and statements may carry (CNY);
        None reads any ISO 4217 currency, for other projects' sample files only."""
        self.currency = currency
        self.schemas = Schemas()
        self._credit_transfer = InitiationRenderer(CREDIT_TRANSFER_LAYOUT, self.schemas)
        self._direct_debit = InitiationRenderer(DIRECT_DEBIT_LAYOUT, self.schemas)
        self._credit_transfer_reader = InitiationParser(CREDIT_TRANSFER_LAYOUT)
        self._direct_debit_reader = InitiationParser(DIRECT_DEBIT_LAYOUT)
        self._statements = StatementReader(currency=currency)
        self._statement_writer = StatementRenderer(self.schemas)
        self._status_writer = StatusReportRenderer()

    @classmethod
    def from_options(cls, options: AdapterOptions, *, config_dir: Path) -> Self:
        unknown = sorted(set(options) - _IGNORED_OPTION_KEYS)
        if unknown:
            raise AdapterLoadError(
                f"iso20022 adapter takes no options; unknown: {', '.join(unknown)}"
            )
        return cls()

    # --- institution side ---------------------------------------------------------------

    def render_disbursement(self, batch: Batch) -> bytes:
        return self._credit_transfer.render(batch)

    def render_collection(self, batch: Batch) -> bytes:
        return self._direct_debit.render(batch)

    def parse_result(self, data: bytes) -> ResultFile:
        return parse_status_report(data, currency=self.currency)

    def parse_statements(self, data: bytes) -> tuple[Statement, ...]:
        return self._statements.parse(data)

    def detect_kind(self, file_name: str, head: bytes) -> FileKind | None:
        return detect(head)

    # --- bank side ----------------------------------------------------------------------

    def parse_instructions(self, data: bytes) -> Batch:
        kind = detect(data[:4096]) if isinstance(data, bytes | bytearray) else None
        if kind is FileKind.COLLECTION_BATCH:
            return self._direct_debit_reader.parse(data)
        if kind is FileKind.DISBURSEMENT_BATCH:
            return self._credit_transfer_reader.parse(data)
        root = parse_document(data)  # refuses malformed input with its own reason
        raise FileFormatError(
            "not a payment initiation file (expected pain.001 or pain.008)",
            location="/Document",
            field="xmlns",
            value=root.nsmap.get(root.prefix) or "(none)",
        )

    def render_result(self, result: ResultFile, batch: Batch) -> bytes:
        return self._status_writer.render(result, batch)

    def render_statement(self, statement: Statement) -> bytes:
        return self._statement_writer.render(statement)
