"""Validation of every file the adapter writes against the official ISO 20022 schemas.

The schema files in ``xsd/`` are the official ones, vendored unchanged (see ``xsd/README.md``).
Each is compiled once per ``Schemas`` instance, on first use.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any, cast

from lxml import etree

from adapters.errors import SchemaValidationError

SCHEMA_FILES = {
    "pain.001.001.09": "pain.001.001.09.xsd",
    "pain.008.001.08": "pain.008.001.08.xsd",
    "camt.053.001.08": "camt.053.001.08.xsd",
}


class Schemas:
    """The compiled schemas one adapter instance validates against."""

    def __init__(self) -> None:
        self._compiled: dict[str, etree.XMLSchema] = {}

    def has(self, message: str) -> bool:
        return message in SCHEMA_FILES

    def get(self, message: str) -> etree.XMLSchema:
        schema = self._compiled.get(message)
        if schema is None:
            source = (
                resources.files("adapters.iso20022").joinpath("xsd").joinpath(SCHEMA_FILES[message])
            )
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            document = etree.fromstring(source.read_bytes(), parser)
            schema = etree.XMLSchema(document)
            self._compiled[message] = schema
        return schema

    def validate(self, message: str, document: etree._ElementTree | etree._Element) -> None:
        """Raise ``SchemaValidationError`` naming the first violations, if any."""
        schema = self.get(message)
        if schema.validate(document):
            return
        errors = cast(Iterable[Any], schema.error_log)
        problems = [f"{e.path or f'line {e.line}'}: {e.message}" for e in errors][:5]
        raise SchemaValidationError(
            f"rendered {message} is not valid against its official schema: " + "; ".join(problems)
        )
