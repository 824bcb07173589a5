"""Safe XML reading for ISO 20022 files: hardened parser settings and readers whose every
error names the element path, the field and the offending value.

Files are refused whole when they carry a DOCTYPE (so no entity expansion, internal or
external, can happen), are not UTF-8, are not well-formed, or hold a value that does not
convert (amounts with fractions of a minor unit, dates that do not exist...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import iso4217
from lxml import etree

from adapters.errors import FileFormatError

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

    def amount(self, element: etree._Element, path: str) -> tuple[int, str] | None:
        """An amount element with its ``Ccy`` attribute, as (minor units, currency)."""
        found = self.find(element, path)
        if found is None:
            return None
        return self.amount_of(found)

    def amount_of(self, found: etree._Element) -> tuple[int, str]:
        field = local_name(found.tag)
        currency = found.get("Ccy")
        try:
            if currency is None:
                raise FileFormatError("amount has no Ccy attribute", location=None, field="Ccy")
            exponent = minor_exponent(currency, location=None)
            return to_minor(found.text or "", exponent, location=None, field=field), currency
        except FileFormatError as exc:
            raise self._placed(exc, self.where(found)) from None

    @staticmethod
    def _placed(error: FileFormatError, location: str) -> FileFormatError:
        """The same error, now naming where it happened (paths are built only on failure)."""
        return type(error)(error.reason, location=location, field=error.field, value=error.value)


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
    """Exact decimal text to minor units; refuses signs, exponents and sub-minor fractions."""
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
    return int(whole) * 10**exponent + int(frac.ljust(exponent, "0") or "0")


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


class Paths:
    """Relative path names of one kind of subtree (statement entries, their ``TxDtls``).

    Each (parent path, tag) pair is named once and the name reused for every subtree of the
    kind, so indexing a subtree costs a dictionary lookup per element rather than string
    slicing and joining. ``stop`` names a relative path whose subtrees are not descended
    into (they are read as their own ``Flat``). One table serves one parse.
    """

    __slots__ = ("base", "steps", "stop", "strip")

    def __init__(self, strip: int, stop: str | None = None, base: str = "") -> None:
        self.strip = strip  # length of the "{namespace}" prefix of tags
        self.stop = stop
        self.base = base  # this level's path plus "/", empty at the subtree's root
        # tag -> (relative path, the level below or None when not descended into)
        self.steps: dict[str, tuple[str, Paths | None]] = {}

    def step(self, tag: str) -> tuple[str, Paths | None]:
        name = self.base + tag[self.strip :]
        below = None if name == self.stop else Paths(self.strip, self.stop, name + "/")
        found = self.steps[tag] = (name, below)
        return found


class Flat:
    """One element's descendants indexed by relative path, read in a single pass.

    Streaming readers meet the same small subtree (a statement entry) a hundred thousand
    times; indexing it once makes every later lookup a dictionary access. ``first`` holds
    the first element at each path, ``more`` the later ones where a path repeats. Errors
    name ``prefix`` plus the relative path.
    """

    __slots__ = ("first", "more", "prefix")

    def __init__(self, element: etree._Element, prefix: str, paths: Paths) -> None:
        self.prefix = prefix
        self.first: dict[str, etree._Element] = {}
        self.more: dict[str, list[etree._Element]] = {}
        self._walk(element, paths)

    def _walk(self, element: etree._Element, level: Paths) -> None:
        first = self.first
        steps = level.steps
        for child in element:
            tag = child.tag
            try:
                name, below = steps[tag]
            except KeyError:
                if not isinstance(tag, str):
                    continue  # comments and processing instructions
                name, below = level.step(tag)
            if name in first:
                self.more.setdefault(name, []).append(child)
            else:
                first[name] = child
            if below is not None and len(child):
                self._walk(child, below)

    def where(self, path: str) -> str:
        return f"{self.prefix}/{path}"

    def elements(self, path: str) -> list[etree._Element]:
        found = self.first.get(path)
        if found is None:
            return []
        return [found, *self.more.get(path, ())]

    def has(self, path: str) -> bool:
        return path in self.first

    def text(self, path: str) -> str | None:
        found = self.first.get(path)
        if found is None:
            return None
        value = found.text
        if value is None:
            return None
        value = value.strip()
        return value or None

    def raw_text(self, path: str) -> str | None:
        found = self.first.get(path)
        if found is None or not found.text:
            return None
        return str(found.text)

    def texts(self, path: str) -> list[str]:
        return [e.text or "" for e in self.elements(path)]

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

    def amount(self, path: str) -> tuple[int, str] | None:
        element = self.first.get(path)
        if element is None:
            return None
        currency = element.get("Ccy")
        try:
            if currency is None:
                raise FileFormatError("amount has no Ccy attribute", location=None, field="Ccy")
            exponent = minor_exponent(currency, location=None)
            field = path.rpartition("/")[2]
            return to_minor(element.text or "", exponent, location=None, field=field), currency
        except FileFormatError as exc:
            raise self._placed(exc, path) from None
