"""Safe XML reading for ISO 20022 files: hardened parser settings and readers whose every
error names the element path, the field and the offending value.

Files are refused whole when they carry a DOCTYPE (so no entity expansion, internal or
external, can happen), are not UTF-8, are not well-formed, or hold a value that does not
convert (amounts with fractions of a minor unit, dates that do not exist...).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Protocol

import iso4217
from lxml import etree

from adapters.errors import FileFormatError
from adapters.records import MAX_AMOUNT_FEN

_unavailable = ""
try:
    from adapters.iso20022._walk import Walker as CompiledWalker
except (ImportError, ValueError) as exc:  # not built, or built against an lxml of another
    # layout (Cython refuses such a module with ValueError): see ``walker``
    CompiledWalker = None  # type: ignore[assignment,misc]
    _unavailable = str(exc)

log = logging.getLogger(__name__)

# Parser settings shared by every reader: no entities, no DTD, no network, no huge trees.
SAFE_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_blank_text": False,
}

# Elements that repeat within their parent; their paths carry a 1-based index.
REPEATED_TAGS = frozenset(
    {
        "Stmt",
        "Ntfctn",
        "Rpt",
        "Ntry",
        "NtryDtls",
        "TxDtls",
        "Bal",
        "PmtInf",
        "CdtTrfTxInf",
        "DrctDbtTxInf",
        "OrgnlPmtInfAndSts",
        "TxInfAndSts",
        "StsRsnInf",
        "NbOfTxsPerSts",
        "AddtlInf",
        "Ustrd",
        "Strd",
        "Prtry",
    }
)

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_DATE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?$")
_DATETIME = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
CHUNK = 1 << 16  # bytes fed to a pull parser at a time
_DECIMAL = re.compile(r"^[0-9]{1,30}(?:\.[0-9]{1,30})?$")


def local_name(tag: object) -> str:
    """``{urn:...}Ntry`` -> ``Ntry``; comments and processing instructions -> ``""``."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def namespace_of(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def check_encoding(data: bytes) -> None:
    """ISO 20022 messages are UTF-8: refuse UTF-16/32 and any other declared encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        raise FileFormatError(
            "file is not UTF-8 (ISO 20022 messages are UTF-8)", field="encoding", value="UTF-16/32"
        )
    head = data[3:512] if data.startswith(b"\xef\xbb\xbf") else data[:512]
    match = _XML_DECL.match(head)
    if match is not None:
        declared = match.group(1).decode("ascii").upper().replace("_", "-")
        if declared not in {"UTF-8", "UTF8"}:
            raise FileFormatError(
                "file is not UTF-8 (ISO 20022 messages are UTF-8)",
                location="XML declaration",
                field="encoding",
                value=match.group(1).decode("ascii"),
            )


def refuse_doctype(element: etree._Element) -> None:
    info = element.getroottree().docinfo
    doctype = getattr(info, "doctype", "")
    if doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise FileFormatError(
            "XML with a DOCTYPE is refused (no DTDs or entities are accepted)",
            location="/",
            field="DOCTYPE",
            value=doctype or "<!DOCTYPE>",
        )


def syntax_error(exc: Exception) -> FileFormatError:
    """Turn an lxml parse failure into the adapters' error, keeping libxml2's line."""
    line = getattr(exc, "lineno", None)
    where = f"line {line}" if line else None
    message = str(exc) or exc.__class__.__name__
    return FileFormatError(f"not well-formed XML: {message}", location=where)


def parse_document(data: bytes) -> etree._Element:
    """Parse a whole (small) document safely and return its root element."""
    if not isinstance(data, bytes | bytearray):
        raise FileFormatError("file content must be bytes", value=type(data).__name__)
    if not data or data.isspace():
        raise FileFormatError("file is empty", location="/")
    check_encoding(data)
    parser = etree.XMLParser(**SAFE_PARSER_OPTIONS)
    try:
        root = etree.fromstring(bytes(data), parser)
    except (etree.LxmlError, ValueError) as exc:
        raise syntax_error(exc) from exc
    if root is None:
        raise FileFormatError("file holds no XML element", location="/")
    refuse_doctype(root)
    return root


def sniff_root(data: bytes) -> etree._Element:
    """Read only as far as the root element's start tag (for streaming readers)."""
    if not data or data.isspace():
        raise FileFormatError("file is empty", location="/")
    check_encoding(data)
    parser = etree.XMLPullParser(events=("start",), **SAFE_PARSER_OPTIONS)
    try:
        for start in range(0, len(data), CHUNK):
            parser.feed(data[start : start + CHUNK])
            for _, root in parser.read_events():
                if isinstance(root, etree._Element):
                    refuse_doctype(root)
                    return root
        parser.close()
    except (etree.LxmlError, ValueError) as exc:
        raise syntax_error(exc) from exc
    raise FileFormatError("file holds no XML element", location="/")


def pull(data: bytes, parser: etree.XMLPullParser) -> Iterator[tuple[str, etree._Element]]:
    """Feed ``data`` to a pull parser in chunks, yielding its events as they come.

    No copy of the whole file is made; lxml parse errors propagate to the caller.
    """
    for start in range(0, len(data), CHUNK):
        parser.feed(data[start : start + CHUNK])
        for event, element in parser.read_events():
            if isinstance(element, etree._Element):
                yield event, element
    parser.close()
    for event, element in parser.read_events():
        if isinstance(element, etree._Element):
            yield event, element


class Reader:
    """Namespace-aware element access whose errors name the full element path.

    ``anchor`` is an element whose absolute path is already known as ``prefix`` (the root
    for whole documents, a statement entry for streamed statements whose earlier siblings
    have been cleared away).
    """

    def __init__(self, ns: str, anchor: etree._Element, prefix: str) -> None:
        self.ns = ns
        self.anchor = anchor
        self.prefix = prefix
        self._paths: dict[str, str] = {}

    def q(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            found = "/".join(f"{{{self.ns}}}{step}" for step in path.split("/"))
            self._paths[path] = found
        return found

    def find(self, element: etree._Element, path: str) -> etree._Element | None:
        return element.find(self.q(path))

    def findall(self, element: etree._Element, path: str) -> list[etree._Element]:
        return element.findall(self.q(path))

    def where(self, element: etree._Element) -> str:
        steps: list[str] = []
        node: etree._Element | None = element
        while node is not None and node is not self.anchor:
            name = local_name(node.tag)
            if name in REPEATED_TAGS:
                index = 1
                sibling = node.getprevious()
                while sibling is not None:
                    if sibling.tag == node.tag:
                        index += 1
                    sibling = sibling.getprevious()
                name = f"{name}[{index}]"
            steps.append(name)
            node = node.getparent()
        steps.reverse()
        return "/".join([self.prefix, *steps]) if steps else self.prefix

    def where_path(self, element: etree._Element, path: str) -> str:
        return f"{self.where(element)}/{path}"

    def text(self, element: etree._Element, path: str) -> str | None:
        """The text of the first ``path`` under ``element``, stripped; None when absent/empty."""
        found = element.find(self.q(path))
        if found is None:
            return None
        value = found.text
        if value is None:
            return None
        value = value.strip()
        return value or None

    def raw_text(self, element: etree._Element, path: str) -> str | None:
        """Like ``text`` but verbatim (for names and free text, kept as the bank wrote them)."""
        found = element.find(self.q(path))
        if found is None or not found.text:
            return None
        return str(found.text)

    def require(self, element: etree._Element, path: str) -> str:
        value = self.text(element, path)
        if value is None:
            raise FileFormatError(
                "required element is missing or empty",
                location=self.where_path(element, path),
                field=path.rpartition("/")[2],
            )
        return value

    def first_text(self, element: etree._Element, *paths: str) -> str | None:
        for path in paths:
            value = self.text(element, path)
            if value is not None:
                return value
        return None

    # --- typed values --------------------------------------------------------------------

    def date_at(self, element: etree._Element, path: str) -> date | None:
        value = self.text(element, path)
        if value is None:
            return None
        try:
            return to_date(value, location=None, field=path)
        except FileFormatError as exc:
            raise self._placed(exc, self.where_path(element, path)) from None

    def datetime_at(self, element: etree._Element, path: str) -> datetime | None:
        value = self.text(element, path)
        if value is None:
            return None
        try:
            return to_datetime(value, location=None, field=path)
        except FileFormatError as exc:
            raise self._placed(exc, self.where_path(element, path)) from None

    def date_choice(self, element: etree._Element, path: str) -> date | None:
        """A ``DateAndDateTimeChoice``: ``path/Dt`` or the date part of ``path/DtTm``."""
        found = self.find(element, path)
        if found is None:
            return None
        day = self.date_at(found, "Dt")
        if day is not None:
            return day
        stamp = self.text(found, "DtTm")
        if stamp is None:
            raise FileFormatError(
                "date element holds neither Dt nor DtTm",
                location=self.where(found),
                field=local_name(found.tag),
            )
        try:
            return to_datetime(stamp, location=None, field="DtTm").date()
        except FileFormatError as exc:
            raise self._placed(exc, self.where_path(found, "DtTm")) from None

    def amount(
        self, element: etree._Element, path: str, *, only: str | None = None
    ) -> tuple[int, str] | None:
        """An amount element with its ``Ccy`` attribute, as (minor units, currency); with
        ``only``, an amount in any other currency is refused."""
        found = self.find(element, path)
        if found is None:
            return None
        return self.amount_of(found, only=only)

    def amount_of(self, found: etree._Element, *, only: str | None = None) -> tuple[int, str]:
        field = local_name(found.tag)
        currency = found.get("Ccy")
        try:
            if currency is None:
                raise FileFormatError("amount has no Ccy attribute", location=None, field="Ccy")
            check_currency(currency, only, location=None)
            exponent = minor_exponent(currency, location=None)
            return to_minor(found.text or "", exponent, location=None, field=field), currency
        except FileFormatError as exc:
            raise self._placed(exc, self.where(found)) from None

    @staticmethod
    def _placed(error: FileFormatError, location: str) -> FileFormatError:
        """The same error, now naming where it happened (paths are built only on failure)."""
        return type(error)(error.reason, location=location, field=error.field, value=error.value)


def check_currency(currency: str, only: str | None, *, location: str | None) -> None:
    """Refuse an amount's ``Ccy`` other than ``only`` (None: any currency is read)."""
    if only is not None and currency != only:
        raise FileFormatError(
            f"amount is not in {only} (money here is {only} only)",
            location=location,
            field="Ccy",
            value=currency,
        )


def minor_exponent(currency: str, *, location: str | None = None) -> int:
    """ISO 4217 minor-unit exponent of ``currency`` (CNY 2, JPY 0, BHD 3)."""
    try:
        exponent = iso4217.Currency(currency).exponent
    except ValueError:
        raise FileFormatError(
            "not an ISO 4217 currency code", location=location, field="Ccy", value=currency
        ) from None
    if exponent is None:
        raise FileFormatError(
            "currency has no minor unit (not a money currency)",
            location=location,
            field="Ccy",
            value=currency,
        )
    return exponent


def to_minor(text: str, exponent: int, *, location: str | None, field: str) -> int:
    """Exact decimal text to minor units; refuses signs, exponents, sub-minor fractions and
    anything above ``MAX_AMOUNT_FEN`` (see ``check_bound``)."""
    raw = text.strip()
    if not _DECIMAL.match(raw):
        raise FileFormatError(
            "not a plain non-negative decimal amount", location=location, field=field, value=text
        )
    whole, _, frac = raw.partition(".")
    if len(frac) > exponent:
        if frac[exponent:].strip("0"):
            raise FileFormatError(
                f"amount has a fraction of the currency's minor unit (10^-{exponent})",
                location=location,
                field=field,
                value=text,
            )
        frac = frac[:exponent]
    minor = int(whole) * 10**exponent + int(frac.ljust(exponent, "0") or "0")
    check_bound(minor, text, location=location, field=field)
    return minor


def check_bound(minor: int, text: str, *, location: str | None, field: str) -> None:
    """Refuse an amount, balance or control total beyond ``MAX_AMOUNT_FEN`` (what the
    database's 64-bit columns hold, with room to add them up)."""
    if minor > MAX_AMOUNT_FEN:
        raise FileFormatError(
            f"amount exceeds the largest allowed ({MAX_AMOUNT_FEN} fen)",
            location=location,
            field=field,
            value=text,
        )


def to_date(text: str, *, location: str | None, field: str) -> date:
    match = _DATE.match(text.strip())
    if match is None:
        raise FileFormatError(
            "not an ISO date (YYYY-MM-DD)", location=location, field=field, value=text
        )
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise FileFormatError(
            "date does not exist", location=location, field=field, value=text
        ) from None


def to_datetime(text: str, *, location: str | None, field: str) -> datetime:
    match = _DATETIME.match(text.strip())
    if match is None:
        raise FileFormatError(
            "not an ISO date-time (YYYY-MM-DDThh:mm:ss)", location=location, field=field, value=text
        )
    base, fraction, zone = match.groups()
    stamp = base
    if fraction:
        stamp += "." + fraction[:6].ljust(6, "0")
    if zone:
        stamp += "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        raise FileFormatError(
            "date-time does not exist", location=location, field=field, value=text
        ) from None


def children(element: etree._Element) -> Iterator[etree._Element]:
    """Element children only (comments and processing instructions skipped)."""
    for child in element:
        if isinstance(child.tag, str):
            yield child


# --------------------------------------------------------------------------- subtree tables

# A table is one element's subtree as text, read in one pass (statement entries are met a
# hundred thousand times; a dictionary access per later lookup is what makes that cheap):
#   first: relative path ("Amt", "NtryDtls/Btch/MsgId") -> the verbatim text of the first
#          element at that path (what lxml's ``.text`` gives: None when the element starts
#          with no text), plus "path/@name" -> the value of each attribute without a
#          namespace on that first element;
#   more:  path -> the texts of the later elements at a path that repeats, None if none;
#   subs:  path -> one table per element at a stop path (their subtrees are not in this
#          table), None if none.
# Only elements in the message's namespace are read: an element in another namespace (or
# none), and everything below it, is left out, as are comments and processing instructions.
Texts = dict[str, str | None]
Table = tuple[Texts, dict[str, list[str | None]] | None, dict[str, list["Table"]] | None]
# Stop paths of a kind of subtree, each with the stop paths of its own tables.
Stops = Mapping[str, "Stops"]


class ReferenceWalker:
    """Builds tables with lxml's Python API: the definition of what a table holds, and the
    walk used where the compiled one (``adapters.iso20022._walk``) is not built or hands a
    subtree back."""

    def __init__(self, namespace: str, stops: Stops) -> None:
        self.prefix = f"{{{namespace}}}"
        self.stops = stops

    def walk(self, element: etree._Element) -> Table:
        return self._table(element, self.stops)

    def _table(self, element: etree._Element, stops: Stops) -> Table:
        first: dict[str, str | None] = {}
        more: dict[str, list[str | None]] = {}
        subs: dict[str, list[Table]] = {}
        self._walk(element, "", stops, first, more, subs)
        return first, more or None, subs or None

    def _walk(
        self,
        element: etree._Element,
        base: str,
        stops: Stops,
        first: dict[str, str | None],
        more: dict[str, list[str | None]],
        subs: dict[str, list[Table]],
    ) -> None:
        prefix = self.prefix
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or not tag.startswith(prefix):
                continue
            path = base + tag[len(prefix) :]
            text = child.text
            if path in first:
                more.setdefault(path, []).append(text)
            else:
                first[path] = text
                for name, value in child.items():
                    if isinstance(name, str) and not name.startswith("{"):
                        first[f"{path}/@{name}"] = str(value)
            below = stops.get(path)
            if below is not None:
                subs.setdefault(path, []).append(self._table(child, below))
            else:
                self._walk(child, path + "/", stops, first, more, subs)


class Walker(Protocol):
    def walk(self, element: etree._Element) -> Table: ...


_warned = False


def walker(namespace: str, stops: Stops) -> Walker:
    """The compiled walk when the extension is built (as every install builds it), else the
    reference walk, with a warning logged once per process: results are the same, reading
    large statements is slower."""
    global _warned
    reference = ReferenceWalker(namespace, stops)
    if CompiledWalker is None:
        if not _warned:
            _warned = True
            log.warning(
                "adapters.iso20022._walk is not built or does not load (%s); reinstall the "
                "package to build it. Statements are read with the slower pure-Python walk",
                _unavailable or "not found",
            )
        return reference
    return CompiledWalker(namespace, stops, reference.walk)


_NOTHING: Mapping[str, Any] = MappingProxyType({})


class Flat:
    """One subtree's table (see ``Table``) with typed, located reads.

    Errors name the subtree's location plus the relative path: ``prefix``, followed by
    ``step`` when given (kept apart so that the location is only joined when it is needed).
    """

    __slots__ = ("first", "more", "prefix", "step", "subs")

    def __init__(self, table: Table, prefix: str, step: str = "") -> None:
        self.prefix = prefix
        self.step = step
        first, more, subs = table
        self.first = first
        self.more: Mapping[str, list[str | None]] = more or _NOTHING
        self.subs: Mapping[str, list[Table]] = subs or _NOTHING

    @property
    def location(self) -> str:
        return f"{self.prefix}/{self.step}" if self.step else self.prefix

    def where(self, path: str) -> str:
        return f"{self.location}/{path}"

    def has(self, path: str) -> bool:
        return path in self.first

    def tables(self, path: str) -> list[Flat]:
        """The tables of the elements at stop path ``path``, each located by its index."""
        found = self.subs.get(path)
        if not found:
            return []
        location = self.location
        return [Flat(table, location, f"{path}[{n}]") for n, table in enumerate(found, start=1)]

    def text(self, path: str) -> str | None:
        """The first ``path``'s text, stripped; None when absent or empty."""
        value = self.first.get(path)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def raw_text(self, path: str) -> str | None:
        """Like ``text`` but verbatim (names and free text, kept as the bank wrote them)."""
        return self.first.get(path) or None

    def texts(self, path: str) -> list[str]:
        """The verbatim texts of every element at ``path`` ("" for one without text)."""
        if path not in self.first:
            return []
        return [self.first[path] or "", *(text or "" for text in self.more.get(path, ()))]

    def first_text(self, *paths: str) -> str | None:
        for path in paths:
            value = self.text(path)
            if value is not None:
                return value
        return None

    def require(self, path: str) -> str:
        value = self.text(path)
        if value is None:
            raise FileFormatError(
                "required element is missing or empty",
                location=self.where(path),
                field=path.rpartition("/")[2],
            )
        return value

    def _placed(self, error: FileFormatError, path: str) -> FileFormatError:
        return type(error)(
            error.reason, location=self.where(path), field=error.field, value=error.value
        )

    def date_choice(self, path: str) -> date | None:
        """``path/Dt`` or the date part of ``path/DtTm`` (as the bank wrote it)."""
        day = self.text(f"{path}/Dt")
        try:
            if day is not None:
                return to_date(day, location=None, field="Dt")
            stamp = self.text(f"{path}/DtTm")
            if stamp is not None:
                return to_datetime(stamp, location=None, field="DtTm").date()
        except FileFormatError as exc:
            raise self._placed(exc, f"{path}/{'Dt' if day is not None else 'DtTm'}") from None
        if path in self.first:
            raise FileFormatError(
                "date element holds neither Dt nor DtTm",
                location=self.where(path),
                field=path.rpartition("/")[2],
            )
        return None

    def amount(self, path: str, *, only: str | None = None) -> tuple[int, str] | None:
        """The amount at ``path`` as (minor units, currency); with ``only``, an amount in
        any other currency is refused."""
        first = self.first
        if path not in first:
            return None
        currency = first.get(f"{path}/@Ccy")
        try:
            if currency is None:
                raise FileFormatError("amount has no Ccy attribute", location=None, field="Ccy")
            check_currency(currency, only, location=None)
            exponent = minor_exponent(currency, location=None)
            field = path.rpartition("/")[2]
            return to_minor(first[path] or "", exponent, location=None, field=field), currency
        except FileFormatError as exc:
            raise self._placed(exc, path) from None
