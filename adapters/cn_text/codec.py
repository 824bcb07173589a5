"""Cutting a cn_text file into records and writing records back, plus value conversions.

Delimited files are decoded once and cut with ``str.split``; fixed-width files are cut in
bytes of the encoding (as banks count columns) and each field decoded on its own. Every
defect becomes a ``FileFormatError`` naming the line, the field and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NoReturn

from adapters.cn_text.layout import FileSpec, Layout, RecordSpec
from adapters.errors import ControlTotalError, FileFormatError, RenderError
from adapters.records import MAX_AMOUNT_FEN

_UTF8_BOM = b"\xef\xbb\xbf"
_CJK = re.compile("[\u4e00-\u9fff]")
# Control characters (C0 except CR/LF, DEL, C1), the replacement character, noncharacters,
# Unicode line separators and a CR not followed by LF: none belongs in a bank text file.
_BAD_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufffe\uffff\u2028\u2029"


# Control sums and balances are bounded by the adapters' shared bound (what the database's
# 64-bit columns hold), not by the layout's largest single amount.
TOTAL_LIMIT_FEN = MAX_AMOUNT_FEN
_MAX_DIGITS = 24


def line_of(data: bytes, position: int) -> int:
    return data.count(b"\n", 0, position) + 1


@dataclass(slots=True)
class RawFile:
    """A file cut into records: values are the fields in layout order, as text.

    Detail lines are kept as lines and cut one at a time by ``details()``, so a large file
    never holds all its fields at once.
    """

    spec: FileSpec
    header: list[str]
    balances: list[tuple[int, list[str]]]
    detail_lines: list[str] | list[bytes]
    first_detail_line: int
    trailer: list[str] | None
    trailer_line: int
    codec: Codec

    @property
    def detail_count(self) -> int:
        return len(self.detail_lines)

    def details(self) -> Iterator[list[str]]:
        """Each detail record's fields, checked; raises on the first bad line."""
        return self.codec.iter_details(self)


class Codec:
    """Reads and writes the records of one layout."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        bad = _BAD_CHARS if layout.delimiter == "\t" else _BAD_CHARS + "\t"
        self._field_bad = re.compile(f"[{bad}\r\n]")
        self._gb = layout.encoding.lower().replace("-", "").replace("_", "") in {
            "gb18030",
            "gbk",
            "gb2312",
            "cp936",
        }

    # --- reading ---------------------------------------------------------------------

    def decode(self, data: bytes) -> str:
        """Decode the whole file, refusing wrong encodings and control characters."""
        layout = self.layout
        if not data:
            raise FileFormatError("file is empty", location="line 1")
        if data.startswith(_UTF8_BOM) and self._gb:
            raise FileFormatError(
                f"file starts with a UTF-8 byte-order mark; this layout expects {layout.encoding}",
                location="line 1",
                field="encoding",
                value=data[:3],
            )
        try:
            text = data.decode(layout.encoding)
        except UnicodeDecodeError as exc:
            self._refuse_utf8(data)
            raise FileFormatError(
                f"bytes invalid in {layout.encoding}",
                location=f"line {line_of(data, exc.start)}",
                field="encoding",
                value=data[exc.start : exc.start + 4],
            ) from None
        if "\ufffd" in text:
            at = text.index("\ufffd")
            raise FileFormatError(
                "replacement character: the file was damaged by a wrong conversion",
                location=f"line {text.count(chr(10), 0, at) + 1}",
                field="encoding",
                value="\ufffd",
            )
        if not data.isascii():
            self._refuse_utf8(data)
        return text

    def check_line(self, line: str, lineno: int) -> None:
        """Refuse control and undecodable characters; lines that are printable pass fast."""
        if line.isprintable():
            return
        bad = self._field_bad.search(line)
        if bad is not None:
            raise FileFormatError(
                "control or undecodable character in the file",
                location=f"line {lineno}",
                field="encoding",
                value=bad.group(),
            )

    def _refuse_utf8(self, data: bytes) -> None:
        """Chinese text that is valid UTF-8 was not written in GB18030: refuse it as such."""
        if not self._gb:
            return
        try:
            as_utf8 = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        if _CJK.search(as_utf8):
            raise FileFormatError(
                f"file is UTF-8 text; this layout expects {self.layout.encoding}",
                location="line 1",
                field="encoding",
            )

    def identify(self, specs: Sequence[FileSpec], first_line: str | bytes) -> FileSpec | None:
        """The file kind whose header this first line is, if any."""
        for spec in specs:
            values = self._cut_head(spec.header, first_line)
            if values is not None and self._consts_match(spec.header, values):
                return spec
        return None

    def _cut_head(self, record: RecordSpec, line: str | bytes) -> list[str] | None:
        layout = self.layout
        if layout.format == "delimited":
            text = line.decode(layout.encoding, "replace") if isinstance(line, bytes) else line
            parts = text.split(layout.delimiter)
            if layout.trailing_delimiter and parts and parts[-1] == "":
                parts.pop()
            return parts if parts and parts[0] == record.tag else None
        raw = line if isinstance(line, bytes) else line.encode(layout.encoding, "replace")
        values: list[str] = []
        start = 0
        for spec in record.fields:
            assert spec.width is not None
            chunk = raw[start : start + spec.width]
            start += spec.width
            values.append(self._fixed_value(spec.pad, chunk.decode(layout.encoding, "replace")))
        return values if values and values[0] == record.tag else None

    @staticmethod
    def _consts_match(record: RecordSpec, values: list[str]) -> bool:
        return all(
            spec.const is None or (i < len(values) and values[i] == spec.const)
            for i, spec in enumerate(record.fields)
        )

    def read(self, specs: Sequence[FileSpec], data: bytes, what: str) -> RawFile:
        """Cut ``data`` into records of whichever of ``specs`` its header names."""
        text = self.decode(data)
        # Lines end with CRLF or LF; any other CR or line separator stays inside its line,
        # where check_line refuses it.
        lines = text.split("\r\n" if "\r\n" in text else "\n")
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            raise FileFormatError("file holds no records", location="line 1")
        head: str | bytes = lines[0]
        if self.layout.format == "fixed":
            head = lines[0].encode(self.layout.encoding)
        spec = self.identify(specs, head)
        if spec is None:
            tags = ", ".join(
                repr(s.header.tag)
                + "".join(f" {f.name}={f.const!r}" for f in s.header.fields if f.const)
                for s in specs
            )
            raise FileFormatError(
                f"first line is not a {what} header (expected {tags})",
                location="line 1",
                field="record_type",
                value=lines[0][:40],
            )
        if self.layout.format == "delimited":
            return self._read_delimited(spec, lines)
        return self._read_fixed(spec, text)

    def _split(self, record: RecordSpec, line: str, lineno: int) -> list[str]:
        parts = line.split(self.layout.delimiter)
        if self.layout.trailing_delimiter:
            if parts[-1] != "":
                raise FileFormatError(
                    f"line does not end with the delimiter {self.layout.delimiter!r}",
                    location=f"line {lineno}",
                    field=record.role,
                    value=line[-20:],
                )
            parts.pop()
        if len(parts) != len(record.fields):
            raise FileFormatError(
                f"{record.role} record has {len(parts)} fields, expected {len(record.fields)}",
                location=f"line {lineno}",
                field=record.role,
                value=line[:60],
            )
        return parts

    def _check_consts(self, record: RecordSpec, values: list[str], lineno: int) -> None:
        for i, spec in enumerate(record.fields):
            if spec.const is not None and values[i] != spec.const:
                raise FileFormatError(
                    f"expected {spec.const!r}",
                    location=f"line {lineno}",
                    field=spec.name,
                    value=values[i],
                )

    def _classify(self, spec: FileSpec, tag: str, lineno: int, line: str) -> RecordSpec:
        for record in spec.records:
            if record.tag == tag and record is not spec.header:
                return record
        if tag == spec.header.tag:
            raise FileFormatError(
                "a second header record", location=f"line {lineno}", field="record_type", value=tag
            )
        raise FileFormatError(
            f"unknown record type (expected one of {[r.tag for r in spec.records]})",
            location=f"line {lineno}",
            field="record_type",
            value=line[:40],
        )

    def _read_delimited(self, spec: FileSpec, lines: list[str]) -> RawFile:
        self.check_line(lines[0], 1)
        self.check_line(lines[-1], len(lines))
        header = self._split(spec.header, lines[0], 1)
        self._check_consts(spec.header, header, 1)
        delimiter = self.layout.delimiter
        trailer: list[str] | None = None
        end = len(lines)
        if spec.trailer is not None:
            last = lines[-1]
            if len(lines) < 2 or last.split(delimiter, 1)[0] != spec.trailer.tag:
                raise FileFormatError(
                    "file ends without its trailer record (truncated?)",
                    location=f"line {len(lines)}",
                    field="record_type",
                    value=last[:40],
                )
            trailer = self._split(spec.trailer, last, len(lines))
            self._check_consts(spec.trailer, trailer, len(lines))
            end -= 1
        balances: list[tuple[int, list[str]]] = []
        index = 1
        if spec.balance is not None:
            btag = spec.balance.tag
            while index < end and lines[index].split(delimiter, 1)[0] == btag:
                self.check_line(lines[index], index + 1)
                values = self._split(spec.balance, lines[index], index + 1)
                self._check_consts(spec.balance, values, index + 1)
                balances.append((index + 1, values))
                index += 1
        return RawFile(
            spec, header, balances, lines[index:end], index + 1, trailer, len(lines), self
        )

    def iter_details(self, raw: RawFile) -> Iterator[list[str]]:
        if self.layout.format == "fixed":
            return self._iter_fixed(raw)
        return self._iter_delimited(raw)

    def _iter_delimited(self, raw: RawFile) -> Iterator[list[str]]:
        spec = raw.spec
        detail = spec.detail
        dtag = detail.tag
        delimiter = self.layout.delimiter
        trailing = self.layout.trailing_delimiter
        width = len(detail.fields) + (1 if trailing else 0)
        consts = any(f.const is not None for f in detail.fields)
        first = raw.first_detail_line
        check_line = self.check_line
        for offset, line in enumerate(raw.detail_lines):
            assert isinstance(line, str)
            if not line.isprintable():
                check_line(line, first + offset)
            parts = line.split(delimiter)
            if len(parts) != width or parts[0] != dtag or (trailing and parts[-1] != ""):
                self.detail_problem(spec, line, first + offset)
            elif trailing:
                parts.pop()
            if consts:
                self._check_consts(detail, parts, first + offset)
            yield parts

    def detail_problem(self, spec: FileSpec, line: str, lineno: int) -> NoReturn:
        """Say what is wrong with a delimited line that is not a well-formed detail."""
        if not line.strip():
            raise FileFormatError("empty line inside the file", location=f"line {lineno}")
        tag = line.split(self.layout.delimiter, 1)[0]
        if tag != spec.detail.tag:
            self._classify(spec, tag, lineno, line)
            raise FileFormatError(
                "record out of order", location=f"line {lineno}", field="record_type", value=tag
            )
        self._split(spec.detail, line, lineno)
        raise FileFormatError("malformed detail record", location=f"line {lineno}", value=line)

    @staticmethod
    def _fixed_value(pad: str, text: str) -> str:
        return text.strip(" ") if pad == " " else text

    def _cut_fixed(self, record: RecordSpec, line: bytes, lineno: int) -> list[str]:
        total = sum(f.width or 0 for f in record.fields)
        if len(line) != total:
            raise FileFormatError(
                f"{record.role} record is {len(line)} bytes long, expected {total}",
                location=f"line {lineno}",
                field=record.role,
                value=line[:60].decode(self.layout.encoding, "replace"),
            )
        values: list[str] = []
        start = 0
        encoding = self.layout.encoding
        for spec in record.fields:
            width = spec.width or 0
            chunk = line[start : start + width]
            start += width
            try:
                text = chunk.decode(encoding)
            except UnicodeDecodeError:
                raise FileFormatError(
                    "field boundary cuts through a character (column widths are in bytes)",
                    location=f"line {lineno}",
                    field=spec.name,
                    value=chunk,
                ) from None
            values.append(self._fixed_value(spec.pad, text))
        self._check_consts(record, values, lineno)
        return values

    def _read_fixed(self, spec: FileSpec, text: str) -> RawFile:
        encoding = self.layout.encoding
        texts = text.split("\r\n" if "\r\n" in text else "\n")
        while texts and not texts[-1].strip():
            texts.pop()
        for n, line in enumerate(texts, start=1):
            self.check_line(line, n)
        lines = [line.encode(encoding) for line in texts]
        while lines and not lines[-1].strip():
            lines.pop()
        header = self._cut_fixed(spec.header, lines[0], 1)
        end = len(lines)
        trailer: list[str] | None = None
        if spec.trailer is not None:
            tag = spec.trailer.tag.encode("ascii")
            if len(lines) < 2 or not lines[-1].startswith(tag):
                raise FileFormatError(
                    "file ends without its trailer record (truncated?)",
                    location=f"line {len(lines)}",
                    field="record_type",
                    value=lines[-1][:40].decode(encoding, "replace"),
                )
            trailer = self._cut_fixed(spec.trailer, lines[-1], len(lines))
            end -= 1
        balances: list[tuple[int, list[str]]] = []
        index = 1
        if spec.balance is not None:
            btag = spec.balance.tag.encode("ascii")
            while index < end and lines[index].startswith(btag):
                balances.append((index + 1, self._cut_fixed(spec.balance, lines[index], index + 1)))
                index += 1
        return RawFile(
            spec, header, balances, lines[index:end], index + 1, trailer, len(lines), self
        )

    def _iter_fixed(self, raw: RawFile) -> Iterator[list[str]]:
        spec = raw.spec
        encoding = self.layout.encoding
        dtag = spec.detail.tag.encode("ascii")
        for offset, line in enumerate(raw.detail_lines):
            assert isinstance(line, bytes)
            lineno = raw.first_detail_line + offset
            if not line.startswith(dtag):
                if not line.strip():
                    raise FileFormatError("empty line inside the file", location=f"line {lineno}")
                shown = line[: len(dtag)].decode(encoding, "replace")
                self._classify(spec, shown, lineno, shown)
                raise FileFormatError(
                    "record out of order",
                    location=f"line {lineno}",
                    field="record_type",
                    value=shown,
                )
            yield self._cut_fixed(spec.detail, line, lineno)

    # --- writing ---------------------------------------------------------------------

    def render(
        self,
        spec: FileSpec,
        header: Mapping[str, str],
        details: Sequence[Mapping[str, str]],
        trailer: Mapping[str, str],
        balances: Sequence[Mapping[str, str]] = (),
    ) -> bytes:
        lines = [self._line(spec.header, header, "header")]
        if spec.balance is not None:
            lines.extend(
                self._line(spec.balance, values, f"balance {i + 1}")
                for i, values in enumerate(balances)
            )
        lines.extend(
            self._line(spec.detail, values, f"detail {i + 1}") for i, values in enumerate(details)
        )
        if spec.trailer is not None:
            lines.append(self._line(spec.trailer, trailer, "trailer"))
        ending = self.layout.line_ending
        return ending.encode("ascii").join(lines) + ending.encode("ascii")

    def _line(self, record: RecordSpec, values: Mapping[str, str], where: str) -> bytes:
        layout = self.layout
        out: list[str] = []
        for spec in record.fields:
            if spec.name == "record_type":
                value = record.tag
            elif spec.const is not None:
                value = spec.const
            else:
                value = values.get(spec.name, "")
            bad = self._field_bad.search(value)
            if bad is not None or (layout.format == "delimited" and layout.delimiter in value):
                raise RenderError(
                    f"{where}: field {spec.name} value {value!r} contains a delimiter, "
                    "line break or control character"
                )
            out.append(value)
        if layout.format == "delimited":
            text = layout.delimiter.join(out) + (
                layout.delimiter if layout.trailing_delimiter else ""
            )
            return self._encode(text, where)
        chunks: list[bytes] = []
        for spec, value in zip(record.fields, out, strict=True):
            raw = self._encode(value, f"{where}: field {spec.name}")
            width = spec.width or 0
            if len(raw) > width:
                raise RenderError(
                    f"{where}: field {spec.name} value {value!r} is {len(raw)} bytes in "
                    f"{layout.encoding}, wider than its {width}-byte column"
                )
            padding = spec.pad.encode("ascii") * (width - len(raw))
            if spec.align == "right":
                if spec.pad == "0" and raw.startswith(b"-"):
                    chunks.append(b"-" + padding + raw[1:])
                else:
                    chunks.append(padding + raw)
            else:
                chunks.append(raw + padding)
        return b"".join(chunks)

    def _encode(self, text: str, where: str) -> bytes:
        try:
            return text.encode(self.layout.encoding)
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise RenderError(
                f"{where}: {bad!r} cannot be written in {self.layout.encoding}"
            ) from None


class Values:
    """Converts field text to amounts, counts and dates (and back) for one layout.

    Holds per-file caches of dates and texts, so build one per parse.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._fen = layout.amount_unit == "fen"
        self._max = layout.max_amount_fen
        self._dates: dict[str, date] = {}

    def amount(
        self,
        text: str,
        lineno: int,
        field: str,
        *,
        allow_zero: bool = False,
        signed: bool = False,
        limit: int | None = None,
    ) -> int:
        """Parse an amount into fen; ``limit`` defaults to the layout's largest amount."""
        raw = text.strip()
        negative = False
        if raw[:1] == "-":
            if not signed:
                raise FileFormatError(
                    "amount is negative", location=f"line {lineno}", field=field, value=text
                )
            negative = True
            raw = raw[1:]
        if self._fen:
            if not (raw.isascii() and raw.isdigit()):
                reason = (
                    "amount has a fraction of a fen (this layout writes amounts in fen)"
                    if "." in raw
                    else "not a whole number of fen"
                )
                raise FileFormatError(reason, location=f"line {lineno}", field=field, value=text)
            if len(raw) > _MAX_DIGITS:
                raise FileFormatError(
                    "amount is too large", location=f"line {lineno}", field=field, value=text
                )
            value = int(raw)
        else:
            whole, dot, frac = raw.partition(".")
            if not (whole.isascii() and whole.isdigit()) or (
                dot and not (frac.isascii() and frac.isdigit())
            ):
                raise FileFormatError(
                    "not a decimal amount in yuan",
                    location=f"line {lineno}",
                    field=field,
                    value=text,
                )
            if len(frac) > 2:
                if frac[2:].strip("0"):
                    raise FileFormatError(
                        "amount has a fraction of a fen",
                        location=f"line {lineno}",
                        field=field,
                        value=text,
                    )
                frac = frac[:2]
            if len(whole) > _MAX_DIGITS:
                raise FileFormatError(
                    "amount is too large", location=f"line {lineno}", field=field, value=text
                )
            value = int(whole) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
        if limit is None:
            limit = self._max
        if value > limit:
            raise FileFormatError(
                f"amount exceeds the largest allowed ({limit} fen)",
                location=f"line {lineno}",
                field=field,
                value=text,
            )
        if negative:
            return -value
        if value == 0 and not allow_zero and not signed:
            raise FileFormatError(
                "amount must be greater than zero",
                location=f"line {lineno}",
                field=field,
                value=text,
            )
        return value

    def total(self, text: str, lineno: int, field: str) -> int:
        """A control sum: like an amount, but zero is allowed and no per-line maximum."""
        return self.amount(text, lineno, field, allow_zero=True, limit=TOTAL_LIMIT_FEN)

    def count(self, text: str, lineno: int, field: str) -> int:
        raw = text.strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise FileFormatError(
                "not a record count", location=f"line {lineno}", field=field, value=text
            )
        return int(raw)

    def to_date(self, text: str, lineno: int, field: str) -> date:
        cached = self._dates.get(text)
        if cached is not None:
            return cached
        fmt = self.layout.date_format
        try:
            parsed = datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            parsed = None
        if parsed is None or parsed.strftime(fmt) != text:
            raise FileFormatError(
                f"not an existing date in the format {fmt}",
                location=f"line {lineno}",
                field=field,
                value=text,
            )
        self._dates[text] = parsed
        return parsed

    def optional_date(self, text: str, lineno: int, field: str) -> date | None:
        return self.to_date(text, lineno, field) if text.strip() else None

    def to_datetime(self, text: str, lineno: int, field: str) -> datetime:
        fmt = self.layout.datetime_format
        try:
            parsed = datetime.strptime(text, fmt)  # noqa: DTZ007 - zone set below
        except ValueError:
            parsed = None
        if parsed is None or parsed.strftime(fmt) != text:
            raise FileFormatError(
                f"not an existing date and time in the format {fmt}",
                location=f"line {lineno}",
                field=field,
                value=text,
            )
        return parsed.replace(tzinfo=self.layout.timezone)

    def check_total(
        self, declared_text: str | None, actual: int, lineno: int, field: str, *, is_sum: bool
    ) -> None:
        if declared_text is None:
            return
        declared = (
            self.total(declared_text, lineno, field)
            if is_sum
            else self.count(declared_text, lineno, field)
        )
        if declared != actual:
            shown = self.format_amount(actual) if is_sum else str(actual)
            raise ControlTotalError(
                f"control total does not match the detail records (they add up to {shown})",
                location=f"line {lineno}",
                field=field,
                value=declared_text,
            )

    # --- formatting ------------------------------------------------------------------

    def format_amount(self, fen: int) -> str:
        if self._fen:
            return str(fen)
        sign = "-" if fen < 0 else ""
        whole, part = divmod(abs(fen), 100)
        return f"{sign}{whole}.{part:02d}"

    def format_date(self, value: date) -> str:
        return value.strftime(self.layout.date_format)

    def format_datetime(self, value: datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(self.layout.timezone)
        return value.strftime(self.layout.datetime_format)


def field_getter(record: RecordSpec, values: list[str]) -> dict[str, str]:
    """The named (not ignored) fields of one record as a dict."""
    return {
        spec.name: values[i]
        for i, spec in enumerate(record.fields)
        if not spec.ignored and spec.name != "record_type"
    }
