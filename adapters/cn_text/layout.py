"""A cn_text layout: the declarative description of one bank's text files.

A layout is a TOML table (usually a file in ``config/banks/layouts/``). It says how lines
are cut into fields (``format = "delimited"`` with a ``delimiter``, or ``"fixed"`` with
column widths counted in bytes of the encoding), the encoding and line ending, how amounts
and dates are written, which status texts a result file uses, how statement summaries map to
channels and result texts to ISO reason codes, and, for each of the five file kinds, the
header/detail/trailer records: how each is recognised (its ``tag`` in the first field) and
its fields in order. ``load_layout`` checks all of it and names the offending key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.errors import AdapterLoadError
from adapters.records import MAX_AMOUNT_FEN, Channel, FileKind, ResultStatus


class LayoutError(AdapterLoadError):
    """A layout is not usable; the message names the layout and the key."""


# ISO 20022 external status reason codes for the texts Chinese rural banks return.
# Matching is by substring, longest text first; anything unmatched is NARR with the text kept.
DEFAULT_REASON_CODES: Mapping[str, str] = {
    "户名不符": "BE01",
    "已销户": "AC04",
    "冻结状态异常": "AC06",
    "只进不出": "AC06",
    "冻结": "AC06",
    "余额不足": "AM04",
    "代理户不存在": "AC01",
    "代扣记录已存在": "AM05",
}
DEFAULT_REASON_FALLBACK = "NARR"

# Statement summary (摘要) texts to channels; substring match, longest text first.
DEFAULT_CHANNELS: Mapping[str, Channel] = {
    "现金存款": Channel.CASH,
    "现金支取": Channel.CASH,
    "现金": Channel.CASH,
    "手续费": Channel.FEE,
    "利息": Channel.INTEREST,
    "结息": Channel.INTEREST,
    "转账": Channel.TRANSFER,
    "代发": Channel.TRANSFER,
    "代扣": Channel.TRANSFER,
}

DEFAULT_STATUS_TEXTS: Mapping[ResultStatus, tuple[str, ...]] = {
    ResultStatus.SETTLED: ("成功",),
    ResultStatus.REJECTED: ("失败",),
    ResultStatus.PARTIALLY_SETTLED: ("部分扣款",),
    ResultStatus.ACCEPTED: ("处理中",),
}

FILE_KEYS: Mapping[str, FileKind] = {
    "disbursement": FileKind.DISBURSEMENT_BATCH,
    "collection": FileKind.COLLECTION_BATCH,
    "result": FileKind.RESULT,
    "statement": FileKind.STATEMENT,
}

_INSTRUCTION_FIELDS = {
    "header": {
        "record_type",
        "message_id",
        "special_account",
        "special_account_name",
        "requested_date",
        "created_at",
        "count",
        "sum",
        "bank_code",
        "initiator_name",
        "creditor_scheme_id",
    },
    "detail": {
        "record_type",
        "seq",
        "end_to_end_id",
        "amount",
        "account",
        "account_name",
        "counterparty_account",
        "counterparty_name",
        "currency",
        "requested_date",
        "remittance",
        "purpose",
        "mandate_id",
        "mandate_signed_on",
    },
    "trailer": {"record_type", "count", "sum"},
}
_RESULT_TOTALS = {"count", "sum", "settled_count", "settled_sum"}
FIELD_VOCABULARY: Mapping[str, Mapping[str, set[str]]] = {
    "disbursement": _INSTRUCTION_FIELDS,
    "collection": _INSTRUCTION_FIELDS,
    "result": {
        "header": {"record_type", "message_id", "original_message_id", "created_at"}
        | _RESULT_TOTALS,
        "detail": {
            "record_type",
            "seq",
            "end_to_end_id",
            "counterparty_account",
            "counterparty_name",
            "amount",
            "settled_amount",
            "status",
            "reason",
            "booking_date",
        },
        "trailer": {"record_type"} | _RESULT_TOTALS,
    },
    "statement": {
        "header": {
            "record_type",
            "statement_id",
            "account",
            "account_name",
            "sub_account",
            "currency",
            "from_date",
            "to_date",
            "created_at",
            "opening_balance",
            "closing_balance",
            "count",
            "debit_count",
            "debit_sum",
            "credit_count",
            "credit_sum",
        },
        "balance": {"record_type", "sub_account", "opening_balance", "closing_balance"},
        "detail": {
            "record_type",
            "seq",
            "bank_transaction_id",
            "booking_date",
            "value_date",
            "sub_account",
            "credit_debit",
            "amount",
            "balance_after",
            "counterparty_account",
            "counterparty_name",
            "summary",
            "remittance",
            "end_to_end_id",
            "reversal",
            "return_reason_code",
            "currency",
        },
        "trailer": {
            "record_type",
            "count",
            "debit_count",
            "debit_sum",
            "credit_count",
            "credit_sum",
        },
    },
}
_REQUIRED_DETAIL_FIELDS: Mapping[str, set[str]] = {
    "disbursement": {"end_to_end_id", "amount", "counterparty_account", "counterparty_name"},
    "collection": {"end_to_end_id", "amount", "counterparty_account", "counterparty_name"},
    "result": {"end_to_end_id", "amount", "settled_amount", "status"},
    "statement": {"booking_date", "credit_debit", "amount"},
}
_REQUIRED_HEADER_FIELDS: Mapping[str, set[str]] = {
    "disbursement": {"message_id", "created_at", "requested_date"},
    "collection": {"message_id", "created_at", "requested_date"},
    "result": {"message_id"},
    "statement": {"account"},
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a record: its name, a constant value if any, and its fixed width."""

    name: str
    const: str | None = None
    width: int | None = None  # bytes of the encoding; fixed-width layouts only
    align: Literal["left", "right"] = "left"
    pad: str = " "

    @property
    def ignored(self) -> bool:
        """Filler and constant marker fields carry nothing into the records."""
        return self.name.startswith(("filler", "_")) or (
            self.const is not None and self.name != "record_type"
        )


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """A record type (header, balance, detail or trailer) and its fields in order."""

    role: str
    tag: str
    fields: tuple[FieldSpec, ...]

    def index(self, name: str) -> int | None:
        for i, spec in enumerate(self.fields):
            if spec.name == name:
                return i
        return None

    def has(self, name: str) -> bool:
        return self.index(name) is not None


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file kind: its file-name patterns and its records."""

    key: str
    kind: FileKind
    name_patterns: tuple[str, ...]
    file_name: str
    header: RecordSpec
    detail: RecordSpec
    trailer: RecordSpec | None
    balance: RecordSpec | None = None

    @property
    def records(self) -> tuple[RecordSpec, ...]:
        found = [self.header, self.detail]
        if self.balance is not None:
            found.append(self.balance)
        if self.trailer is not None:
            found.append(self.trailer)
        return tuple(found)


@dataclass(frozen=True, slots=True)
class Layout:
    """A validated layout; build one with ``load_layout`` or ``layout_from_mapping``."""

    name: str
    title: str
    format: Literal["delimited", "fixed"]
    delimiter: str
    trailing_delimiter: bool
    encoding: str
    line_ending: str
    amount_unit: Literal["yuan", "fen"]
    date_format: str
    datetime_format: str
    timezone: ZoneInfo
    max_amount_fen: int
    status_texts: Mapping[str, ResultStatus]
    status_render: Mapping[ResultStatus, str]
    credit_texts: tuple[str, ...]
    debit_texts: tuple[str, ...]
    reversal_texts: tuple[str, ...]
    normal_texts: tuple[str, ...]
    reason_codes: tuple[tuple[str, str], ...]  # longest text first
    reason_fallback: str
    channels: tuple[tuple[str, Channel], ...]  # longest text first
    channel_render: Mapping[Channel, str]
    files: Mapping[str, FileSpec]

    def reason_code_for(self, text: str) -> str:
        for needle, code in self.reason_codes:
            if needle in text:
                return code
        return self.reason_fallback

    def reason_text_for(self, code: str) -> str:
        for needle, known in self.reason_codes:
            if known == code:
                return needle
        return ""

    def channel_for(self, summary: str) -> Channel:
        for needle, channel in self.channels:
            if needle in summary:
                return channel
        return Channel.OTHER


def _err(origin: str, key: str, problem: str) -> LayoutError:
    return LayoutError(f"cn_text layout {origin}: {key}: {problem}")


_TOP_KEYS = {
    "name",
    "title",
    "format",
    "delimiter",
    "trailing_delimiter",
    "encoding",
    "line_ending",
    "amount_unit",
    "date_format",
    "datetime_format",
    "timezone",
    "max_amount_fen",
    "status_texts",
    "credit_debit_texts",
    "reversal_texts",
    "reason_codes",
    "reason_fallback",
    "channels",
    "files",
}


def _string(raw: Mapping[str, object], key: str, origin: str, path: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise _err(origin, f"{path}{key}", f"must be a string, got {value!r}")
    return value


def _string_list(value: object, origin: str, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise _err(origin, path, f"must be a string or a non-empty list of strings, got {value!r}")
    return tuple(value)


def _check_keys(raw: Mapping[str, object], allowed: set[str], origin: str, path: str) -> None:
    for key in raw:
        if key not in allowed:
            raise _err(
                origin, f"{path}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )


def _field(raw: object, origin: str, path: str, fixed: bool) -> FieldSpec:
    if isinstance(raw, str):
        if fixed:
            raise _err(origin, path, "a fixed-width field needs a table with name and width")
        return FieldSpec(name=raw)
    if not isinstance(raw, Mapping):
        raise _err(origin, path, f"must be a field name or a table, got {raw!r}")
    _check_keys(raw, {"name", "const", "width", "align", "pad"}, origin, path + ".")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _err(origin, path + ".name", "missing or not a string")
    const = raw.get("const")
    if const is not None and not isinstance(const, str):
        raise _err(origin, path + ".const", f"must be a string, got {const!r}")
    width = raw.get("width")
    if fixed:
        if not isinstance(width, int) or isinstance(width, bool) or width <= 0:
            raise _err(origin, path + ".width", f"must be a positive byte count, got {width!r}")
    elif width is not None:
        raise _err(origin, path + ".width", "only fixed-width layouts have widths")
    align = raw.get("align", "left")
    if align not in ("left", "right"):
        raise _err(origin, path + ".align", f"must be 'left' or 'right', got {align!r}")
    pad = raw.get("pad", " ")
    if not isinstance(pad, str) or len(pad) != 1 or not pad.isascii():
        raise _err(origin, path + ".pad", f"must be one ASCII character, got {pad!r}")
    return FieldSpec(
        name=name,
        const=const,
        width=width if fixed else None,
        align="right" if align == "right" else "left",
        pad=pad,
    )


def _record(
    raw: object, file_key: str, role: str, origin: str, fixed: bool, delimiter: str
) -> RecordSpec:
    path = f"files.{file_key}.{role}"
    if not isinstance(raw, Mapping):
        raise _err(origin, path, "missing or not a table")
    _check_keys(raw, {"tag", "fields"}, origin, path + ".")
    tag = raw.get("tag")
    if not isinstance(tag, str) or not tag:
        raise _err(origin, path + ".tag", "missing: how this record is recognised")
    if delimiter and delimiter in tag:
        raise _err(origin, path + ".tag", f"contains the delimiter {delimiter!r}")
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, list) or not fields_raw:
        raise _err(origin, path + ".fields", "missing or empty")
    fields = tuple(
        _field(f, origin, f"{path}.fields[{i}]", fixed) for i, f in enumerate(fields_raw)
    )
    vocabulary = FIELD_VOCABULARY[file_key][role]
    seen: set[str] = set()
    for i, spec in enumerate(fields):
        if spec.ignored:
            continue
        if spec.name not in vocabulary:
            raise _err(
                origin,
                f"{path}.fields[{i}]",
                f"unknown field {spec.name!r} (known: {', '.join(sorted(vocabulary))}; "
                "names starting with 'filler' or '_', and fields with a const, are not mapped)",
            )
        if spec.name in seen:
            raise _err(origin, f"{path}.fields[{i}]", f"field {spec.name!r} appears twice")
        seen.add(spec.name)
    if fields[0].name != "record_type":
        raise _err(origin, f"{path}.fields[0]", "the first field must be record_type")
    if fixed:
        first = fields[0]
        if first.width != len(tag.encode("ascii", errors="replace")):
            raise _err(origin, f"{path}.fields[0].width", "must equal the tag's length in bytes")
        if not tag.isascii():
            raise _err(origin, path + ".tag", "a fixed-width tag must be ASCII")
    return RecordSpec(role=role, tag=tag, fields=fields)


def _file(raw: object, key: str, origin: str, fixed: bool, delimiter: str) -> FileSpec:
    path = f"files.{key}"
    if not isinstance(raw, Mapping):
        raise _err(origin, path, "missing or not a table")
    roles = ["header", "detail", "trailer"] + (["balance"] if key == "statement" else [])
    _check_keys(raw, {"name_patterns", "file_name", *roles}, origin, path + ".")
    patterns = _string_list(raw.get("name_patterns", ["*"]), origin, path + ".name_patterns")
    file_name = _string(raw, "file_name", origin, path + ".", "{message_id}.txt")
    header = _record(raw.get("header"), key, "header", origin, fixed, delimiter)
    detail = _record(raw.get("detail"), key, "detail", origin, fixed, delimiter)
    trailer = (
        _record(raw["trailer"], key, "trailer", origin, fixed, delimiter)
        if "trailer" in raw
        else None
    )
    balance = (
        _record(raw["balance"], key, "balance", origin, fixed, delimiter)
        if "balance" in raw
        else None
    )
    tags = [r.tag for r in (header, detail, trailer, balance) if r is not None]
    if len(set(tags)) != len(tags):
        raise _err(origin, path, f"record tags must differ, got {tags}")
    for needed in sorted(_REQUIRED_HEADER_FIELDS[key]):
        if not header.has(needed):
            raise _err(origin, f"{path}.header.fields", f"needs the field {needed!r}")
    for needed in sorted(_REQUIRED_DETAIL_FIELDS[key]):
        if not detail.has(needed):
            raise _err(origin, f"{path}.detail.fields", f"needs the field {needed!r}")
    if not any(r is not None and r.has("count") for r in (header, trailer)):
        raise _err(origin, path, "the header or the trailer must carry a control count")
    sum_fields = ("debit_sum", "credit_sum") if key == "statement" else ("sum",)
    for needed in sum_fields:
        if not any(r is not None and r.has(needed) for r in (header, trailer)):
            raise _err(origin, path, f"the header or the trailer must carry {needed!r}")
    return FileSpec(
        key=key,
        kind=FILE_KEYS[key],
        name_patterns=patterns,
        file_name=file_name,
        header=header,
        detail=detail,
        trailer=trailer,
        balance=balance,
    )


def _by_length(pairs: Mapping[str, object]) -> list[str]:
    return sorted(pairs, key=lambda text: (-len(text), text))


def layout_from_mapping(raw: Mapping[str, object], *, origin: str = "<inline>") -> Layout:
    """Validate a layout table and build the ``Layout``; ``origin`` names it in errors."""
    _check_keys(raw, _TOP_KEYS, origin, "")
    name = _string(raw, "name", origin, "", "")
    if not name:
        raise _err(origin, "name", "missing")
    fmt = _string(raw, "format", origin, "", "delimited")
    if fmt not in ("delimited", "fixed"):
        raise _err(origin, "format", f"must be 'delimited' or 'fixed', got {fmt!r}")
    fixed = fmt == "fixed"
    delimiter = _string(raw, "delimiter", origin, "", "" if fixed else "|")
    if not fixed and (len(delimiter) != 1 or delimiter in "\r\n"):
        raise _err(origin, "delimiter", f"must be one character, got {delimiter!r}")
    trailing = raw.get("trailing_delimiter", False)
    if not isinstance(trailing, bool):
        raise _err(origin, "trailing_delimiter", f"must be true or false, got {trailing!r}")
    encoding = _string(raw, "encoding", origin, "", "gb18030")
    try:
        "校验".encode(encoding)
    except LookupError:
        raise _err(origin, "encoding", f"unknown encoding {encoding!r}") from None
    except UnicodeEncodeError:
        raise _err(origin, "encoding", f"{encoding!r} cannot write Chinese text") from None
    endings = {"crlf": "\r\n", "lf": "\n"}
    line_ending = _string(raw, "line_ending", origin, "", "crlf").lower()
    if line_ending not in endings:
        raise _err(origin, "line_ending", f"must be 'crlf' or 'lf', got {line_ending!r}")
    unit = _string(raw, "amount_unit", origin, "", "yuan")
    if unit not in ("yuan", "fen"):
        raise _err(origin, "amount_unit", f"must be 'yuan' or 'fen', got {unit!r}")
    date_format = _string(raw, "date_format", origin, "", "%Y%m%d")
    datetime_format = _string(raw, "datetime_format", origin, "", "%Y%m%d%H%M%S")
    for key, fmt_text, sample in (
        ("date_format", date_format, datetime(2024, 2, 29, tzinfo=UTC)),
        ("datetime_format", datetime_format, datetime(2024, 2, 29, 13, 5, 9, tzinfo=UTC)),
    ):
        rendered = sample.strftime(fmt_text)
        try:
            back = datetime.strptime(rendered, fmt_text).replace(tzinfo=UTC)
        except ValueError as exc:
            raise _err(origin, key, f"{fmt_text!r} does not read back: {exc}") from None
        if back != sample:
            raise _err(origin, key, f"{fmt_text!r} loses part of the date or time")
    tz_name = _string(raw, "timezone", origin, "", "Asia/Shanghai")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(origin, "timezone", f"unknown time zone {tz_name!r}") from None
    max_amount = raw.get("max_amount_fen", 99_999_999_999_99)
    if not isinstance(max_amount, int) or isinstance(max_amount, bool) or max_amount <= 0:
        raise _err(origin, "max_amount_fen", f"must be a positive integer, got {max_amount!r}")
    if max_amount > MAX_AMOUNT_FEN:
        raise _err(
            origin,
            "max_amount_fen",
            f"must be at most {MAX_AMOUNT_FEN} (the adapters' bound), got {max_amount}",
        )

    status_raw = raw.get("status_texts", {})
    if not isinstance(status_raw, Mapping):
        raise _err(origin, "status_texts", "must be a table")
    allowed_status = {s.value for s in ResultStatus}
    _check_keys(status_raw, allowed_status, origin, "status_texts.")
    status_lists: dict[ResultStatus, tuple[str, ...]] = dict(DEFAULT_STATUS_TEXTS)
    for key, value in status_raw.items():
        status_lists[ResultStatus(key)] = _string_list(value, origin, f"status_texts.{key}")
    status_texts: dict[str, ResultStatus] = {}
    for status, texts in status_lists.items():
        for text in texts:
            if text in status_texts and status_texts[text] is not status:
                raise _err(origin, f"status_texts.{status.value}", f"{text!r} is used twice")
            status_texts[text] = status
    status_render = {status: texts[0] for status, texts in status_lists.items()}

    cd_raw = raw.get("credit_debit_texts", {})
    if not isinstance(cd_raw, Mapping):
        raise _err(origin, "credit_debit_texts", "must be a table")
    _check_keys(cd_raw, {"credit", "debit"}, origin, "credit_debit_texts.")
    credit_texts = _string_list(cd_raw.get("credit", ["贷"]), origin, "credit_debit_texts.credit")
    debit_texts = _string_list(cd_raw.get("debit", ["借"]), origin, "credit_debit_texts.debit")
    if set(credit_texts) & set(debit_texts):
        raise _err(origin, "credit_debit_texts", "a text cannot mean both credit and debit")

    rev_raw = raw.get("reversal_texts", {})
    if not isinstance(rev_raw, Mapping):
        raise _err(origin, "reversal_texts", "must be a table")
    _check_keys(rev_raw, {"reversal", "normal"}, origin, "reversal_texts.")
    reversal_texts = _string_list(rev_raw.get("reversal", ["1"]), origin, "reversal_texts.reversal")
    normal_texts = _string_list(rev_raw.get("normal", ["0"]), origin, "reversal_texts.normal")

    reasons_raw = raw.get("reason_codes", {})
    if not isinstance(reasons_raw, Mapping):
        raise _err(origin, "reason_codes", "must be a table of text = code")
    reasons: dict[str, str] = dict(DEFAULT_REASON_CODES)
    for text, code in reasons_raw.items():
        if not isinstance(code, str) or not code.isalnum() or not 2 <= len(code) <= 4:
            raise _err(origin, f"reason_codes.{text}", f"not an ISO reason code: {code!r}")
        reasons[text] = code
    fallback = _string(raw, "reason_fallback", origin, "", DEFAULT_REASON_FALLBACK)

    channels_raw = raw.get("channels", {})
    if not isinstance(channels_raw, Mapping):
        raise _err(origin, "channels", "must be a table of summary text = channel")
    channels: dict[str, Channel] = dict(DEFAULT_CHANNELS)
    allowed_channels = {c.value for c in Channel}
    for text, channel in channels_raw.items():
        if channel not in allowed_channels:
            raise _err(
                origin,
                f"channels.{text}",
                f"must be one of {', '.join(sorted(allowed_channels))}, got {channel!r}",
            )
        channels[text] = Channel(channel)
    channel_render: dict[Channel, str] = {Channel.OTHER: "其他"}
    for text, channel in channels.items():
        channel_render.setdefault(channel, text)
    # Rendering falls back to the shortest text naming the channel, so it reads back the same.
    for channel in Channel:
        candidates = [t for t, c in channels.items() if c is channel]
        if candidates:
            channel_render[channel] = min(candidates, key=lambda t: (len(t), t))

    files_raw = raw.get("files")
    if not isinstance(files_raw, Mapping):
        raise _err(origin, "files", "missing: the file kinds this bank exchanges")
    _check_keys(files_raw, set(FILE_KEYS), origin, "files.")
    files = {key: _file(value, key, origin, fixed, delimiter) for key, value in files_raw.items()}
    if not files:
        raise _err(origin, "files", "no file kind is described")

    layout = Layout(
        name=name,
        title=_string(raw, "title", origin, "", name),
        format="fixed" if fixed else "delimited",
        delimiter=delimiter,
        trailing_delimiter=trailing,
        encoding=encoding,
        line_ending=endings[line_ending],
        amount_unit="fen" if unit == "fen" else "yuan",
        date_format=date_format,
        datetime_format=datetime_format,
        timezone=timezone,
        max_amount_fen=max_amount,
        status_texts=status_texts,
        status_render=status_render,
        credit_texts=credit_texts,
        debit_texts=debit_texts,
        reversal_texts=reversal_texts,
        normal_texts=normal_texts,
        reason_codes=tuple((t, reasons[t]) for t in _by_length(reasons)),
        reason_fallback=fallback,
        channels=tuple((t, channels[t]) for t in _by_length(channels)),
        channel_render=channel_render,
        files=files,
    )
    _check_distinguishable(layout, origin)
    return layout


def _check_distinguishable(layout: Layout, origin: str) -> None:
    """Two file kinds must not have headers that look the same, or detection is a guess."""
    signatures: dict[tuple[object, ...], str] = {}
    for key, spec in layout.files.items():
        consts = tuple(
            (i, f.const) for i, f in enumerate(spec.header.fields) if f.const is not None
        )
        signature = (spec.header.tag, consts)
        if signature in signatures:
            raise _err(
                origin,
                f"files.{key}.header",
                f"cannot be told apart from files.{signatures[signature]}.header; "
                "give it a different tag or a constant field (e.g. the file type)",
            )
        signatures[signature] = key


def load_layout(path: Path) -> Layout:
    """Read and validate a layout TOML file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LayoutError(f"cn_text layout {path}: file not found") from None
    except OSError as exc:
        raise LayoutError(f"cn_text layout {path}: cannot be read ({exc})") from None
    except UnicodeDecodeError as exc:
        raise LayoutError(f"cn_text layout {path}: not UTF-8 text ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise LayoutError(f"cn_text layout {path}: not valid TOML ({exc})") from None
    return layout_from_mapping(raw, origin=str(path))
