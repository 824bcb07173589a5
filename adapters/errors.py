"""The adapters' error hierarchy.

Every parser and renderer raises only these. An error names where it happened (line or
XML element), the field and the offending value, so bank operations can fix a file without
guessing.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every error an adapter raises."""


class AdapterNotFoundError(AdapterError):
    """No adapter is registered under the configured name."""


class AdapterLoadError(AdapterError):
    """An adapter is registered but could not be loaded or is not an adapter."""


class FileFormatError(AdapterError):
    """A bank file is malformed: it is refused whole, nothing of it is applied."""

    def __init__(
        self,
        reason: str,
        *,
        location: str | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        self.reason = reason
        self.location = location
        self.field = field
        self.value = value
        super().__init__(self._compose())

    def _compose(self) -> str:
        parts: list[str] = []
        if self.location:
            parts.append(self.location)
        if self.field:
            parts.append(f"field {self.field}")
        if self.value is not None:
            text = repr(self.value)
            if len(text) > 80:
                text = text[:77] + "..."
            parts.append(f"value {text}")
        where = ", ".join(parts)
        return f"{where}: {self.reason}" if where else self.reason


class ControlTotalError(FileFormatError):
    """Declared control count or sum differs from the details."""


class RenderError(AdapterError):
    """A batch cannot be rendered (empty, duplicate ids, amount out of range, schema-invalid)."""


class SchemaValidationError(RenderError):
    """A rendered file failed validation against its official schema."""
