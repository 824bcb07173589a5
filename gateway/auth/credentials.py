"""Signing in: passwords, web sessions with their CSRF token, bearer tokens, rate limiting.

Secrets handed to clients (session cookies, bearer tokens) are random; only their SHA-256 is
stored, so a copy of the database does not let anyone sign in. Every function takes the
session first and never commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from gateway.audit import service as audit
from gateway.auth.errors import RateLimited, Unauthenticated
from gateway.auth.models import ApiToken, LoginAttempt, User, WebSession
from gateway.auth.passwords import hash_password, needs_rehash, verify_password
from gateway.auth.permissions import Principal
from gateway.db import as_utc, utcnow
from gateway.errors import NotFound
from gateway.org.models import Association, Town

TOKEN_PREFIX = "hz_"  # noqa: S105 - a visible prefix, not a secret
SESSION_LIFETIME = timedelta(hours=8)


@dataclass(frozen=True)
class LoginPolicy:
    """Failed sign-ins allowed within ``window`` per user name and per client address."""

    window: timedelta = timedelta(minutes=15)
    max_failures_per_user: int = 5
    max_failures_per_client: int = 20


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def principal_for(session: Session, user: User) -> Principal:
    county_of_association = None
    if user.association_id is not None:
        county_of_association = session.scalar(
            select(Town.county_id)
            .join(Association, Association.town_id == Town.id)
            .where(Association.id == user.association_id)
        )
    return Principal.of(user, county_of_association)


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username} 不存在", f"user {username} not found")
    return user


def _revoke_all(session: Session, user: User, *, tokens: bool) -> tuple[int, int]:
    """Revoke the user's live web sessions and, with ``tokens``, bearer tokens; how many of
    each."""
    now = utcnow()
    webs = list(
        session.scalars(
            select(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        )
    )
    for web in webs:
        web.revoked_at = now
    revoked_tokens = (
        list(
            session.scalars(
                select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            )
        )
        if tokens
        else []
    )
    for token in revoked_tokens:
        token.revoked_at = now
    return len(webs), len(revoked_tokens)


def set_password(
    session: Session, username: str, password: str, *, actor: str, revoke_tokens: bool = False
) -> User:
    """Set a user's password and end every web session they hold: whoever signed in with the
    old password is signed out. Bearer tokens, issued by an operator for a machine and never
    derived from the password, keep working unless ``revoke_tokens``."""
    user = _user(session, username)
    user.password_hash = hash_password(password)
    sessions, tokens = _revoke_all(session, user, tokens=revoke_tokens)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.password",
        object_type="user",
        object_id=user.id,
        payload={"username": username, "sessions_revoked": sessions, "tokens_revoked": tokens},
    )
    return user


def disable_user(session: Session, username: str, *, actor: str) -> User:
    """Disable a user and revoke every session and token they hold."""
    user = _user(session, username)
    user.active = False
    _revoke_all(session, user, tokens=True)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.disable",
        object_type="user",
        object_id=user.id,
        payload={"username": username},
    )
    return user


def _user_failures(session: Session, username: str, since: datetime) -> int:
    """The user name's failed attempts within the window since it last signed in."""
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
        )
    )
    start = max(since, as_utc(last_success)) if last_success is not None else since
    return int(
        session.scalar(
            select(func.count(LoginAttempt.id)).where(
                LoginAttempt.username == username,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.at > start,
            )
        )
        or 0
    )


def _client_failures(session: Session, client: str, since: datetime) -> int:
    """The client's failed attempts within the window, but for those at an account that then
    signed in from the client (its owner's typos): a sign-in forgives its own account's
    failures only, never the client's guesses at other users."""
    later = aliased(LoginAttempt)
    forgiven = (
        select(later.id)
        .where(
            later.client == LoginAttempt.client,
            later.username == LoginAttempt.username,
            later.succeeded.is_(True),
            later.at > LoginAttempt.at,
        )
        .exists()
    )
    return int(
        session.scalar(
            select(func.count(LoginAttempt.id)).where(
                LoginAttempt.client == client,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.at > since,
                ~forgiven,
            )
        )
        or 0
    )


def check_rate(session: Session, username: str, client: str, policy: LoginPolicy) -> None:
    """Refuse further attempts once too many failed within the window."""
    since = utcnow() - policy.window
    if (
        _user_failures(session, username, since) >= policy.max_failures_per_user
        or _client_failures(session, client[:64], since) >= policy.max_failures_per_client
    ):
        minutes = int(policy.window.total_seconds() // 60)
        raise RateLimited(
            f"登录失败次数过多，请 {minutes} 分钟后再试",
            f"too many failed sign-ins; try again in {minutes} minutes",
            retry_after_seconds=int(policy.window.total_seconds()),
        )


@dataclass(frozen=True)
class LoginResult:
    """A sign-in: the user, or the reason it failed (the attempt is recorded either way)."""

    user: User | None
    failure: Unauthenticated | RateLimited | None


def login(
    session: Session,
    username: str,
    password: str,
    *,
    client: str,
    policy: LoginPolicy | None = None,
) -> LoginResult:
    """Check a user name and password. The attempt is recorded in the session, so the caller
    must commit even when the sign-in failed (that is what makes the limit work)."""
    chosen = policy or LoginPolicy()
    name = username.strip()[:60]
    try:
        check_rate(session, name, client, chosen)
    except RateLimited as limited:
        return LoginResult(None, limited)
    user = session.scalar(select(User).where(User.username == name))
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=name, client=client[:64], at=utcnow(), succeeded=ok))
    session.flush()
    if not ok or user is None:
        return LoginResult(None, Unauthenticated("用户名或密码错误", "wrong user name or password"))
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginResult(user, None)


@dataclass(frozen=True)
class IssuedSession:
    cookie_value: str
    csrf_token: str
    expires_at: datetime


def start_session(
    session: Session, user: User, *, lifetime: timedelta = SESSION_LIFETIME
) -> IssuedSession:
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = utcnow() + lifetime
    session.add(
        WebSession(user_id=user.id, token_hash=_digest(secret), csrf_token=csrf, expires_at=expires)
    )
    session.flush()
    return IssuedSession(secret, csrf, expires)


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    csrf_token: str | None  # set for a browser session, None for a bearer token
    web_session_id: int | None = None


def _active_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise Unauthenticated("账户已停用", "the account is disabled")
    return user


def authenticate_session(session: Session, cookie_value: str) -> Authenticated:
    web = session.scalar(select(WebSession).where(WebSession.token_hash == _digest(cookie_value)))
    if web is None or web.revoked_at is not None or as_utc(web.expires_at) <= utcnow():
        raise Unauthenticated("登录已过期，请重新登录", "the session has expired; sign in again")
    user = _active_user(session, web.user_id)
    return Authenticated(principal_for(session, user), web.csrf_token, web.id)


def end_session(session: Session, cookie_value: str) -> None:
    web = session.scalar(select(WebSession).where(WebSession.token_hash == _digest(cookie_value)))
    if web is not None and web.revoked_at is None:
        web.revoked_at = utcnow()
        session.flush()


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def issue_token(
    session: Session,
    username: str,
    *,
    name: str,
    actor: str,
    lifetime: timedelta | None = None,
) -> str:
    """A new bearer token for ``username``; the token itself is returned once, never stored."""
    user = _user(session, username)
    if not user.active:
        raise Unauthenticated("账户已停用", "the account is disabled")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(token),
        expires_at=utcnow() + lifetime if lifetime else None,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.token",
        object_type="user",
        object_id=user.id,
        payload={"username": username, "token_id": record.id, "name": name},
    )
    return token


def authenticate_token(session: Session, token: str) -> Authenticated:
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(token))
    ).one_or_none()
    if found is None:
        raise Unauthenticated("访问令牌无效或已过期", "the bearer token is invalid or expired")
    record, user = found
    if record.revoked_at is not None or (
        record.expires_at is not None and as_utc(record.expires_at) <= utcnow()
    ):
        raise Unauthenticated("访问令牌无效或已过期", "the bearer token is invalid or expired")
    if not user.active:
        raise Unauthenticated("账户已停用", "the account is disabled")
    return Authenticated(principal_for(session, user), None)
