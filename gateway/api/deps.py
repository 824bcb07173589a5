"""Request dependencies: the database session, the caller, the field cipher, the settings.

A caller authenticates with ``Authorization: Bearer <token>`` (machine clients) or with the
console's session cookie. A cookie-authenticated request that changes state must carry the
session's CSRF token in the ``X-CSRF-Token`` header (the console's forms send it as the
``csrf_token`` field, checked by the console's own dependency).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gateway.api.routing import request_session
from gateway.auth import credentials
from gateway.auth.errors import CsrfRejected, Unauthenticated
from gateway.auth.permissions import Principal
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings

SESSION_COOKIE = "huzhu_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def db(request: Request) -> Session:
    return request_session(request)


async def settings(request: Request) -> Settings:
    configured: Settings = request.app.state.settings
    return configured


async def cipher(request: Request) -> FieldCipher:
    field_cipher: FieldCipher = request.app.state.cipher
    return field_cipher


def authenticate(request: Request, session: Session) -> credentials.Authenticated:
    """Who is calling (cached on the request), or ``Unauthenticated``."""
    cached: credentials.Authenticated | None = getattr(request.state, "authenticated", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if header and scheme.lower() == "bearer" and value.strip():
        found = credentials.authenticate_token(session, value.strip())
    elif request.cookies.get(SESSION_COOKIE):
        found = credentials.authenticate_session(session, request.cookies[SESSION_COOKIE])
    else:
        raise Unauthenticated("请先登录", "authentication required")
    request.state.authenticated = found
    return found


def api_principal(request: Request, session: Annotated[Session, Depends(db)]) -> Principal:
    """The caller of an API endpoint; cookie callers must send the CSRF header to write."""
    found = authenticate(request, session)
    if (
        found.csrf_token is not None
        and request.method not in SAFE_METHODS
        and not credentials.csrf_matches(found.csrf_token, request.headers.get(CSRF_HEADER))
    ):
        raise CsrfRejected("缺少或错误的 CSRF 令牌", "missing or wrong CSRF token")
    return found.principal


CurrentPrincipal = Annotated[Principal, Depends(api_principal)]
DbSession = Annotated[Session, Depends(db)]
Cipher = Annotated[FieldCipher, Depends(cipher)]
