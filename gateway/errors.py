"""The gateway's one error hierarchy.

Every domain error carries a stable ``code`` (for the API and logs), a Chinese message a
treasurer understands and an English one. The API maps these to HTTP once, by class.
"""

from __future__ import annotations

from typing import Any


class HuzhuError(Exception):
    """Base of every error the gateway's domain services raise."""

    code: str = "huzhu_error"

    def __init__(
        self, message_zh: str, message_en: str, *, code: str | None = None, **details: Any
    ) -> None:
        if code is not None:
            self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details: dict[str, Any] = dict(details)
        super().__init__(f"[{self.code}] {message_zh} / {message_en}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "details": self.details,
        }


class NotFound(HuzhuError):  # noqa: N818 - domain vocabulary
    code = "not_found"


class Conflict(HuzhuError):  # noqa: N818
    code = "conflict"


class ValidationFailed(HuzhuError):  # noqa: N818
    code = "validation_failed"


class RuleViolation(HuzhuError):  # noqa: N818
    """A policy rule from the seeds refuses the operation."""

    code = "rule_violation"


class LedgerError(HuzhuError):
    """The journal refuses a posting (unbalanced, wrong association, append-only)."""

    code = "ledger_error"


class ConfigurationError(HuzhuError):
    code = "configuration_error"
