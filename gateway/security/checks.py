"""Check digits and formats of identity numbers: bank cards (Luhn), resident IDs (GB 11643),
mobile phone numbers. Each function returns a reason in Chinese and English, or ``None``."""

from __future__ import annotations

import re
from datetime import date

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = "10X98765432"
_PHONE = re.compile(r"^1[3-9]\d{9}$")


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit that completes ``payload`` (digits only)."""
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def card_problem(number: str) -> str | None:
    if not number.isdigit() or not 16 <= len(number) <= 19:
        return "卡号应为16至19位数字 / card number must be 16-19 digits"
    if luhn_check_digit(number[:-1]) != number[-1]:
        return "卡号校验位错误（Luhn）/ card number fails the Luhn check"
    return None


def gb11643_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[total % 11]


def resident_id_problem(number: str, *, today: date | None = None) -> str | None:
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        return "身份证号应为18位（末位可为X）/ resident ID must be 18 characters"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "身份证号出生日期无效 / resident ID has an invalid birth date"
    if born.year < 1900 or (today is not None and born > today):
        return "身份证号出生日期无效 / resident ID has an invalid birth date"
    if gb11643_check_char(number[:17]) != number[17]:
        return "身份证号校验码错误（GB 11643）/ resident ID fails the GB 11643 check"
    return None


def phone_problem(number: str) -> str | None:
    if not _PHONE.match(number):
        return "手机号应为11位且以1开头 / phone must be an 11-digit mobile number"
    return None


def normalise_resident_id(number: str) -> str:
    return number.strip().upper()
