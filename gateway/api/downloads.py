"""The ``Content-Disposition`` of a download, for any file name a bank or a report gives."""

from __future__ import annotations

import re
from urllib.parse import quote

_NOT_PLAIN = re.compile(r'[^\x20-\x7e]|["\\%]')


def attachment(filename: str) -> str:
    """``attachment`` with the name as RFC 6266 gives it: ``filename*=UTF-8''…`` (percent-encoded
    UTF-8, for every client that reads it) after a plain ASCII ``filename="…"`` for those that
    do not, in which a character outside printable ASCII, a quote, a backslash or a percent sign
    is ``_``. A header holds Latin-1 only: a Chinese name written as it is would fail."""
    plain = _NOT_PLAIN.sub("_", filename) or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
