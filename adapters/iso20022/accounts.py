"""Account identifiers: IBAN only when the value is a valid IBAN (ISO 13616 check digits).

Chinese card and account numbers are not IBANs; they are written as ``Othr/Id``.
"""

from __future__ import annotations

import re

_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
# ISO 13616: A=10, B=11 ... Z=35
_LETTER_DIGITS = str.maketrans({chr(ord("A") + n): str(10 + n) for n in range(26)})


def is_iban(value: str) -> bool:
    """True when ``value`` has the IBAN shape and its ISO 7064 mod-97 check digits hold."""
    if not _IBAN_SHAPE.match(value):
        return False
    digits = (value[4:] + value[:4]).translate(_LETTER_DIGITS)
    return int(digits) % 97 == 1
