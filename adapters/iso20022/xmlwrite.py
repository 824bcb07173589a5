"""Writing large XML fast: pretty-printed text built directly, then parsed once to validate.

The layout is the one lxml's ``pretty_print`` gives (two spaces per level, text inline), so
files read the same whichever way they were written.
"""

from __future__ import annotations

from lxml import etree

from adapters.errors import RenderError
from adapters.iso20022.xmlread import SAFE_PARSER_OPTIONS

DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\r": "&#13;",
        "\n": "&#10;",
        "\t": "&#9;",
    }
)


def escape_text(text: str) -> str:
    # letters and digits only (ids, account numbers, most names) need no escaping
    return text if text.isalnum() else text.translate(_TEXT)


def escape_attribute(text: str) -> str:
    return text.translate(_ATTRIBUTE)


class XmlLines:
    """An XML document written line by line."""

    __slots__ = ("_depth", "_indent", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = [DECLARATION]
        self._depth = 0
        self._indent = ""

    @property
    def indent(self) -> str:
        """The indentation of an element written now."""
        return self._indent

    def text(self, piece: str) -> None:
        """Append elements already written as text, laid out from the current ``indent``."""
        self.parts.append(piece)

    def open(self, tag: str, namespace: str | None = None) -> None:
        declared = f' xmlns="{namespace}"' if namespace else ""
        self.parts.append(f"{self._indent}<{tag}{declared}>\n")
        self._depth += 1
        self._indent = "  " * self._depth

    def close(self, tag: str) -> None:
        self._depth -= 1
        self._indent = "  " * self._depth
        self.parts.append(f"{self._indent}</{tag}>\n")

    def leaf(self, tag: str, text: str) -> None:
        self.parts.append(f"{self._indent}<{tag}>{escape_text(text)}</{tag}>\n")

    def amount(self, tag: str, text: str, currency: str) -> None:
        """An amount element with its ``Ccy`` attribute."""
        ccy = escape_attribute(currency)
        self.parts.append(f'{self._indent}<{tag} Ccy="{ccy}">{escape_text(text)}</{tag}>\n')

    def empty(self, tag: str) -> None:
        self.parts.append(f"{self._indent}<{tag}/>\n")

    def finish(self, what: str) -> tuple[bytes, etree._ElementTree]:
        """The document's bytes and its parsed tree (for schema validation)."""
        try:
            data = "".join(self.parts).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise RenderError(f"{what}: text that UTF-8 cannot carry ({exc.reason})") from None
        parser = etree.XMLParser(**SAFE_PARSER_OPTIONS)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            raise RenderError(f"{what}: text that XML cannot carry ({exc})") from None
        return data, etree.ElementTree(root)
