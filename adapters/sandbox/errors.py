"""Errors of the sandbox bank. All derive from the adapters' ``AdapterError``."""

from __future__ import annotations

from adapters.errors import AdapterError


class SandboxError(AdapterError):
    """Base of the sandbox bank's own errors."""


class SandboxConfigError(SandboxError):
    """``config/sandbox.toml`` is missing a value or holds a wrong one."""

    def __init__(self, reason: str, *, key: str | None = None, value: object = None) -> None:
        self.reason = reason
        self.key = key
        self.value = value
        where = f"{key}: " if key else ""
        shown = f" (value {value!r})" if value is not None else ""
        super().__init__(f"sandbox config {where}{reason}{shown}")


class AccountError(SandboxError):
    """An account operation was refused (unknown account, duplicate number, bad amount)."""


class BusinessDateError(SandboxError):
    """A business date was already closed by ``end_of_day``, or is otherwise out of order."""
