"""The adapter interface: what every bank format, built in or shipped by a bank, provides.

Adapters are pure: bytes in, records out, no I/O. They are registered under the
entry-point group ``huzhu.adapters``; the entry point names a class derived from
``Adapter`` whose ``from_options`` builds it from that bank's ``[adapter]`` table in
``config/banks/*.toml``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Self

from adapters.records import Batch, Direction, FileKind, ResultFile, Statement

# A bank's adapter options exactly as read from TOML; each adapter validates its own.
AdapterOptions = Mapping[str, object]


class Adapter(ABC):
    """Both sides of one bank file format."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_options(cls, options: AdapterOptions, *, config_dir: Path) -> Self:
        """Build the adapter from its options; ``config_dir`` resolves relative paths."""

    # --- institution side (production) -------------------------------------------------

    @abstractmethod
    def render_disbursement(self, batch: Batch) -> bytes:
        """Render a credit-transfer batch (代付) as the bank's file."""

    @abstractmethod
    def render_collection(self, batch: Batch) -> bytes:
        """Render a direct-debit batch (代扣) as the bank's file."""

    def render_batch(self, batch: Batch) -> bytes:
        if batch.direction is Direction.DISBURSEMENT:
            return self.render_disbursement(batch)
        return self.render_collection(batch)

    @abstractmethod
    def parse_result(self, data: bytes) -> ResultFile:
        """Parse a result file (回盘, pain.002); raise ``FileFormatError`` on any defect."""

    @abstractmethod
    def parse_statements(self, data: bytes) -> tuple[Statement, ...]:
        """Parse a statement or notification file; one file may hold several statements."""

    @abstractmethod
    def detect_kind(self, file_name: str, head: bytes) -> FileKind | None:
        """Tell an inbound file's kind from its name and first bytes, or None if not ours."""

    # --- bank side (sandbox bank, tests) -----------------------------------------------

    @abstractmethod
    def parse_instructions(self, data: bytes) -> Batch:
        """Parse an instruction file as the bank would, checking its control totals."""

    @abstractmethod
    def render_result(self, result: ResultFile, batch: Batch) -> bytes:
        """Render the bank's result file for ``batch``."""

    @abstractmethod
    def render_statement(self, statement: Statement) -> bytes:
        """Render the bank's statement file."""
