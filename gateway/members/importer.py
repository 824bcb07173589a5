"""Member import from CSV or XLSX: every row validated, the whole file refused if any row is
bad, with a report naming row, column, value and reason. Nothing is half-imported."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from gateway.errors import ValidationFailed
from gateway.members.models import Member
from gateway.members.schemas import MemberInput
from gateway.members.service import (
    check_new_members,
    database_problems,
    input_problems,
    register_member,
)
from gateway.org.service import get_association_by_code
from gateway.security.checks import normalise_resident_id
from gateway.security.fieldcrypt import FieldCipher

# Canonical field -> accepted header names (Chinese first).
COLUMNS: dict[str, tuple[str, ...]] = {
    "member_no": ("会员编号", "member_no"),
    "name": ("姓名", "name"),
    "resident_id": ("身份证号", "身份证号码", "resident_id"),
    "card_number": ("惠农卡号", "一卡通卡号", "card_number"),
    "phone": ("手机号", "联系电话", "phone"),
    "household_no": ("户号", "household_no"),
    "low_income": ("低收入户", "low_income"),
    "joined_on": ("入会日期", "joined_on"),
}
REQUIRED = ("member_no", "name", "resident_id", "card_number", "phone", "household_no")
HEADER_ZH = {field: names[0] for field, names in COLUMNS.items()}
_YES = {"是", "yes", "y", "true", "1"}
_NO = {"否", "no", "n", "false", "0", ""}
_LONG_NUMBERS = ("resident_id", "card_number")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


class ImportRefused(ValidationFailed):
    """The file is refused whole; ``errors`` lists every problem found."""

    code = "import_refused"

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        rows = sorted({e.row for e in errors})
        super().__init__(
            f"导入文件有 {len(errors)} 处错误（涉及 {len(rows)} 行），整个文件未导入",
            f"the file has {len(errors)} problems in {len(rows)} rows; nothing was imported",
            errors=[e.as_dict() for e in errors],
        )


@dataclass(frozen=True)
class _Cell:
    text: str
    lossy: bool = False  # a long number Excel stored as a float: digits may be lost


def _csv_rows(data: bytes) -> Iterator[list[_Cell]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportRefused([RowError(1, "-", "", "文件编码无法识别（应为 UTF-8 或 GB18030）")])
    for record in csv.reader(io.StringIO(text)):
        yield [_Cell(value.strip()) for value in record]


def _xlsx_cell(value: object) -> _Cell:
    if value is None:
        return _Cell("")
    if isinstance(value, bool):
        return _Cell("是" if value else "否")
    if isinstance(value, int):
        return _Cell(str(value))
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return _Cell(str(int(value)))
        return _Cell(repr(value), lossy=True)
    if isinstance(value, datetime):
        return _Cell(value.date().isoformat())
    if isinstance(value, date):
        return _Cell(value.isoformat())
    return _Cell(str(value).strip())


def _xlsx_rows(data: bytes) -> Iterator[list[_Cell]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ImportRefused([RowError(1, "-", "", f"无法读取 XLSX 文件：{exc}")]) from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_xlsx_cell(v) for v in values]
    finally:
        workbook.close()


def read_table(path: Path) -> list[list[_Cell]]:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return list(_csv_rows(data))
    if suffix in (".xlsx", ".xlsm"):
        return list(_xlsx_rows(data))
    raise ImportRefused([RowError(1, "-", path.name, "只支持 .csv 和 .xlsx 文件")])


def _header_map(header: list[_Cell]) -> tuple[dict[str, int], list[RowError]]:
    positions: dict[str, int] = {}
    errors: list[RowError] = []
    for index, cell in enumerate(header):
        for field, names in COLUMNS.items():
            if cell.text.lower() in {n.lower() for n in names}:
                if field in positions:
                    errors.append(RowError(1, cell.text, cell.text, "列名重复 / duplicate column"))
                positions[field] = index
    for field in REQUIRED:
        if field not in positions:
            errors.append(
                RowError(
                    1,
                    HEADER_ZH[field],
                    "",
                    f"缺少必需的列“{HEADER_ZH[field]}” / required column missing",
                )
            )
    return positions, errors


def _parse_row(
    row_no: int, cells: list[_Cell], positions: dict[str, int], default_joined: date
) -> tuple[MemberInput | None, list[RowError]]:
    errors: list[RowError] = []

    def get(field: str) -> str:
        index = positions.get(field)
        if index is None or index >= len(cells):
            return ""
        cell = cells[index]
        if cell.lossy and field in _LONG_NUMBERS:
            errors.append(
                RowError(
                    row_no,
                    HEADER_ZH[field],
                    cell.text,
                    "长数字存成了数值，位数已丢失，请设为文本 / digits lost",
                )
            )
        return cell.text

    values = {field: get(field) for field in COLUMNS}
    low_income_text = values["low_income"].lower()
    if low_income_text not in _YES | _NO:
        errors.append(
            RowError(
                row_no,
                HEADER_ZH["low_income"],
                values["low_income"],
                "应填“是”或“否” / must be 是 or 否 (yes/no)",
            )
        )
    joined = default_joined
    if values["joined_on"]:
        try:
            joined = date.fromisoformat(values["joined_on"])
        except ValueError:
            errors.append(
                RowError(
                    row_no,
                    HEADER_ZH["joined_on"],
                    values["joined_on"],
                    "日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD",
                )
            )
    data = MemberInput(
        member_no=values["member_no"],
        name=values["name"],
        resident_id=normalise_resident_id(values["resident_id"]),
        card_number=values["card_number"].replace(" ", ""),
        phone=values["phone"],
        household_no=values["household_no"],
        joined_on=joined,
        low_income=low_income_text in _YES,
    )
    errors.extend(
        RowError(row_no, HEADER_ZH[p.field], p.value, p.reason) for p in input_problems(data)
    )
    return (data if not errors else None), errors


def import_members(
    session: Session,
    cipher: FieldCipher,
    path: Path,
    association_code: str,
    *,
    joined_on: date,
    actor: str = "system",
    today: date | None = None,
) -> list[Member]:
    """Validate every row of ``path``; register all members, or refuse the file whole (a join
    date after ``today``, when given, refuses its row)."""
    association = get_association_by_code(session, association_code)
    check_new_members(association)
    table = read_table(path)
    if not table:
        raise ImportRefused([RowError(1, "-", "", "文件为空 / the file is empty")])
    positions, errors = _header_map(table[0])
    if errors:
        raise ImportRefused(errors)
    parsed: list[tuple[int, MemberInput]] = []
    seen: dict[tuple[str, str], int] = {}
    for offset, cells in enumerate(table[1:], start=2):
        if all(not cell.text for cell in cells):
            continue
        data, row_errors = _parse_row(offset, cells, positions, joined_on)
        errors.extend(row_errors)
        if data is None:
            continue
        for field, value in (
            ("card_number", data.card_number),
            ("resident_id", data.resident_id),
            ("member_no", data.member_no),
        ):
            key = (field, value)
            if key in seen:
                errors.append(
                    RowError(
                        offset,
                        HEADER_ZH[field],
                        value,
                        f"与第 {seen[key]} 行重复 / duplicates row {seen[key]}",
                    )
                )
            else:
                seen[key] = offset
        errors.extend(
            RowError(offset, HEADER_ZH[p.field], p.value, p.reason)
            for p in database_problems(session, cipher, association.id, data, today=today)
        )
        parsed.append((offset, data))
    if not parsed and not errors:
        errors.append(RowError(2, "-", "", "文件没有数据行 / no member rows"))
    if errors:
        raise ImportRefused(sorted(errors, key=lambda e: (e.row, e.column)))
    return [
        register_member(session, cipher, association.id, data, actor=actor) for _, data in parsed
    ]
