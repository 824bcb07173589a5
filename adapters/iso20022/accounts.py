"""Account identifiers: IBAN only when the value is a valid IBAN (ISO 13616 check digits).

Chinese card and account numbers are not IBANs; they are written as ``Othr/Id``.
"""

from __future__ import annotations

import re

_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def is_iban(value: str) -> bool:
    """True when ``value`` has the IBAN shape and its ISO 7064 mod-97 check digits hold."""
    if not _IBAN_SHAPE.match(value):
        return False
    rearranged = value[4:] + value[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1
