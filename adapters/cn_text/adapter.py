"""``CnTextAdapter``: one generic engine, configured by a layout."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import ClassVar, Self

from adapters.base import Adapter, AdapterOptions
from adapters.cn_text import instructions, results, statements
from adapters.cn_text.codec import Codec
from adapters.cn_text.layout import Layout, LayoutError, layout_from_mapping, load_layout
from adapters.errors import RenderError
from adapters.records import Batch, Direction, FileKind, ResultFile, Statement

_OPTION_KEYS = {"name", "layout"}


class CnTextAdapter(Adapter):
    """Delimited or fixed-width text files of Chinese rural cooperative banks.

    Options (a bank's ``[adapter]`` table): ``layout`` is either a path to a layout TOML
    file, relative to ``config_dir``, or an inline layout table.
    """

    name: ClassVar[str] = "cn_text"

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._codec = Codec(layout)

    @property
    def max_amount_fen(self) -> int:
        """The largest single amount the layout's amount column can hold."""
        return self.layout.max_amount_fen

    @classmethod
    def from_options(cls, options: AdapterOptions, *, config_dir: Path) -> Self:
        unknown = set(options) - _OPTION_KEYS
        if unknown:
            raise LayoutError(
                f"cn_text adapter options: unknown key(s) {', '.join(sorted(unknown))} "
                "(expected 'layout')"
            )
        layout = options.get("layout")
        if isinstance(layout, str):
            path = Path(layout)
            return cls(load_layout(path if path.is_absolute() else config_dir / path))
        if isinstance(layout, Mapping):
            return cls(layout_from_mapping(layout, origin="[adapter.layout]"))
        raise LayoutError(
            "cn_text adapter options: 'layout' must be a path to a layout TOML file or an "
            f"inline layout table, got {layout!r}"
        )

    # --- institution side --------------------------------------------------------------

    def render_disbursement(self, batch: Batch) -> bytes:
        if batch.direction is not Direction.DISBURSEMENT:
            raise RenderError(f"batch {batch.message_id} is a {batch.direction.value} batch")
        return instructions.render_batch(self.layout, batch)

    def render_collection(self, batch: Batch) -> bytes:
        if batch.direction is not Direction.COLLECTION:
            raise RenderError(f"batch {batch.message_id} is a {batch.direction.value} batch")
        return instructions.render_batch(self.layout, batch)

    def parse_result(self, data: bytes) -> ResultFile:
        return results.parse(self.layout, data)

    def parse_statements(self, data: bytes) -> tuple[Statement, ...]:
        return statements.parse(self.layout, data)

    def detect_kind(self, file_name: str, head: bytes) -> FileKind | None:
        """The kind whose name pattern matches and whose header the first line is."""
        base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
        named = [
            spec
            for spec in self.layout.files.values()
            if any(fnmatch(base, pattern) for pattern in spec.name_patterns)
        ]
        if not head:
            return named[0].kind if len(named) == 1 else None
        first = head.split(b"\n", 1)[0].rstrip(b"\r")
        line: str | bytes = first
        if self.layout.format == "delimited":
            try:
                line = first.decode(self.layout.encoding)
            except UnicodeDecodeError:
                # ``head`` may end inside a character; what decodes is enough to tell.
                line = first.decode(self.layout.encoding, "ignore")
        spec = self._codec.identify(named, line)
        return spec.kind if spec is not None else None

    # --- bank side ---------------------------------------------------------------------

    def parse_instructions(self, data: bytes) -> Batch:
        return instructions.parse(self.layout, data)

    def render_result(self, result: ResultFile, batch: Batch) -> bytes:
        return results.render(self.layout, result, batch)

    def render_statement(self, statement: Statement) -> bytes:
        return statements.render(self.layout, statement)

    def file_name(self, kind: FileKind, message_id: str) -> str:
        """The name this layout gives a file of ``kind`` for ``message_id``."""
        for spec in self.layout.files.values():
            if spec.kind is kind:
                return spec.file_name.format(message_id=message_id)
        raise RenderError(f"layout {self.layout.name} has no {kind.value} file")
