"""Errors of authentication and access control, in the gateway's one hierarchy."""

from __future__ import annotations

from gateway.errors import HuzhuError


class Unauthenticated(HuzhuError):  # noqa: N818 - domain vocabulary
    """No valid credentials: not signed in, a wrong password, an expired or revoked token."""

    code = "unauthenticated"


class Forbidden(HuzhuError):  # noqa: N818
    """Signed in, but the role does not allow the operation."""

    code = "forbidden"


class CsrfRejected(Forbidden):
    """A browser request that changes state without the session's CSRF token."""

    code = "csrf_rejected"


class RateLimited(HuzhuError):  # noqa: N818
    """Too many attempts; ``retry_after_seconds`` says when to try again."""

    code = "rate_limited"

    def __init__(self, message_zh: str, message_en: str, *, retry_after_seconds: int) -> None:
        super().__init__(message_zh, message_en, retry_after_seconds=retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds
