"""``/api/v1/auth``: sign in (sets the session cookie, returns the CSRF token), sign out, who am I.

Sign-in attempts are recorded whether they succeed or not (the transaction commits either
way), which is what lets the rate limit hold across processes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gateway.api.deps import SESSION_COOKIE, CurrentPrincipal, DbSession, db
from gateway.api.problems import error_headers, problem_for_error, problem_response
from gateway.api.routing import TransactionalRoute
from gateway.auth import credentials
from gateway.auth.credentials import IssuedSession, LoginPolicy
from gateway.auth.permissions import ROLE_LABELS, Principal

router = APIRouter(route_class=TransactionalRoute, tags=["登录 authentication"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class PrincipalOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: str
    role_label_zh: str
    role_label_en: str
    county_id: int | None
    association_id: int | None
    bank_id: int | None
    can_unmask: bool


class LoginOut(BaseModel):
    user: PrincipalOut
    csrf_token: str = Field(description="send as X-CSRF-Token on every state-changing request")


def principal_out(principal: Principal) -> PrincipalOut:
    zh, en = ROLE_LABELS[principal.role]
    return PrincipalOut(
        user_id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role.value,
        role_label_zh=zh,
        role_label_en=en,
        county_id=principal.county_id,
        association_id=principal.association_id,
        bank_id=principal.bank_id,
        can_unmask=principal.can_unmask,
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_session_cookie(request: Request, response: Response, issued: IssuedSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        issued.cookie_value,
        httponly=True,
        secure=bool(request.app.state.cookie_secure),
        samesite="lax",
        path="/",
        expires=issued.expires_at,
    )


def sign_in(
    request: Request, session: Session, username: str, password: str
) -> tuple[Principal, IssuedSession] | Response:
    """Check the password; on success a new web session, else the problem response."""
    policy: LoginPolicy = request.app.state.login_policy
    result = credentials.login(
        session, username, password, client=client_address(request), policy=policy
    )
    if result.failure is not None or result.user is None:
        assert result.failure is not None
        return problem_response(
            problem_for_error(request, result.failure), error_headers(result.failure)
        )
    issued = credentials.start_session(session, result.user)
    return credentials.principal_for(session, result.user), issued


@router.post(
    "/auth/login",
    response_model=LoginOut,
    summary="登录 Sign in",
    responses={401: {"description": "wrong user name or password"}, 429: {"description": "rate"}},
)
def login(body: LoginIn, request: Request, session: DbSession) -> Response:
    outcome = sign_in(request, session, body.username, body.password)
    if isinstance(outcome, Response):
        return outcome
    principal, issued = outcome
    payload = LoginOut(user=principal_out(principal), csrf_token=issued.csrf_token)
    response = Response(payload.model_dump_json(), media_type="application/json")
    set_session_cookie(request, response, issued)
    return response


@router.post("/auth/logout", status_code=204, summary="退出 Sign out")
def logout(request: Request, session: Annotated[Session, Depends(db)]) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        credentials.end_session(session, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get(
    "/auth/me",
    response_model=PrincipalOut,
    summary="当前用户 Who am I",
    responses={401: {"description": "not signed in"}},
)
def me(principal: CurrentPrincipal) -> PrincipalOut:
    return principal_out(principal)
