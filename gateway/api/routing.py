"""Routes that own the request's transaction, and ``Idempotency-Key`` on every POST.

:class:`TransactionalRoute` opens one database session per request, hands it to the
dependencies through ``request.state.session``, commits when the endpoint returns and rolls
back when it raises. Domain services never commit. Reads (GET, HEAD) change nothing and run
without a transaction of their own on PostgreSQL (``read_session_factory``).

:class:`IdempotentRoute` adds the ``Idempotency-Key`` guard to each POST: the first request
with a key runs and its response is stored in the same transaction; a retry with the same key
and the same request gets the stored response back (``Idempotent-Replayed: true``) without
running again; the same key with a different request is refused (422,
``idempotency_key_reused``). Two concurrent requests with one key race on a unique
constraint: the loser's work is rolled back and it receives the winner's response.

No request text may hold a NUL character (``\\x00``): path, query, JSON or form body. PostgreSQL
cannot store it in a text column (it would fail as a server error at the insert), SQLite
stores it silently; :func:`refuse_nul` refuses it up front for every route (422).

Keys belong to the user who sent them. The record keeps, beside the response, the permission
checks the endpoint passed (``Principal.passed``: each permission and the scope of the object
it was checked on); a replay is sent only once the caller, authenticated again and as they are
now, passes every one of them again, so a user who lost a permission or a scope gets 403 or 404,
not the stored response. A route marked :func:`never_stored` (its response carries secrets,
such as clear card numbers) has no guard: every request runs the endpoint, its checks and its
audit again, and nothing of its response is written down.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.models import IdempotencyRecord
from gateway.auth.permissions import PassedCheck, Principal
from gateway.errors import ValidationFailed

REPLAY_HEADER = "Idempotent-Replayed"
READ_METHODS = frozenset({"GET", "HEAD"})
MAX_KEY_LENGTH = 200
NEVER_STORED = "__huzhu_never_stored__"

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def never_stored(endpoint: EndpointT) -> EndpointT:
    """Mark a POST endpoint whose response must never be stored for a replay (it carries
    secrets). Apply it below the router's decorator. The route gets no idempotency guard: an
    ``Idempotency-Key`` is ignored and every request runs the endpoint again."""
    setattr(endpoint, NEVER_STORED, True)
    return endpoint


@dataclass(frozen=True)
class PendingIdempotency:
    user_id: int
    key: str
    request_hash: str
    method: str
    path: str
    principal: Principal


class IdempotentReplay(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the guard when the response is already stored; the route sends it back."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


def request_session(request: Request) -> Session:
    """The request's session, opened by :class:`TransactionalRoute`."""
    session: Session = request.state.session
    return session


def _replay(record: IdempotencyRecord) -> Response:
    return Response(
        content=record.body,
        status_code=record.status_code,
        media_type=record.media_type,
        headers={REPLAY_HEADER: "true"},
    )


def _lookup(session: Session, user_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )


def _claim(session: Session, pending: PendingIdempotency) -> IdempotencyRecord | None:
    """Insert the key before any work (the transaction's first write). A concurrent request
    with the same key waits on the unique index and fails here once the first commits; its
    transaction is rolled back and the committed record is returned for the replay."""
    claim = IdempotencyRecord(
        user_id=pending.user_id,
        key=pending.key,
        method=pending.method,
        path=pending.path,
        request_hash=pending.request_hash,
        status_code=0,
        media_type="",
        body=b"",
        checks="[]",
    )
    session.add(claim)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return _lookup(session, pending.user_id, pending.key)
    return None


def _complete(session: Session, pending: PendingIdempotency, response: Response) -> None:
    record = _lookup(session, pending.user_id, pending.key)
    assert record is not None, "the claim is made in this transaction"
    record.status_code = response.status_code
    record.media_type = response.media_type or "application/json"
    record.body = bytes(getattr(response, "body", b""))
    record.checks = json.dumps([check.as_json() for check in pending.principal.passed])
    session.flush()


def _check_again(principal: Principal, record: IdempotencyRecord) -> None:
    """Refuse the replay (403 or 404) unless the caller passes the checks the endpoint made."""
    for stored in json.loads(record.checks):
        check = PassedCheck.from_json(stored)
        principal.require(check.permission, check.scope)


def _finish(session: Session, pending: PendingIdempotency | None, response: Response) -> None:
    """Store the idempotent response (if any) and commit, in one trip to a worker thread."""
    if pending is not None:
        _complete(session, pending, response)
    session.commit()


NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded",)


def _nul_in(value: Any, location: list[str]) -> list[str] | None:
    """Where in a parsed JSON value a text holds a NUL (its location), or None."""
    if isinstance(value, str):
        return location if NUL in value else None
    if isinstance(value, dict):
        for name, item in value.items():
            if NUL in name:
                return location
            found = _nul_in(item, [*location, name])
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in(item, [*location, str(index)])
            if found is not None:
                return found
    return None


async def _nul_location(request: Request) -> list[str] | None:
    if NUL in request.scope.get("path", ""):
        return ["path"]
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            return ["query", name.replace(NUL, "")]
    if request.method in READ_METHODS:
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        body = await request.body()
        try:
            parsed = json.loads(body)
        except ValueError:
            return None  # not JSON: the request's own validation says so
        return _nul_in(parsed, ["body"])
    if content_type in FORM_TYPES:
        # read as text here, never as the route's form: its parsing and refusals stay its own
        text = (await request.body()).decode("utf-8", errors="replace")
        for field, content in parse_qsl(text, keep_blank_values=True):
            if NUL in field or NUL in content:
                return ["body", field.replace(NUL, "")]
    return None


async def refuse_nul(request: Request) -> None:
    """Refuse (422) a request whose text holds a NUL character anywhere."""
    location = await _nul_location(request)
    if location is not None:
        where = ".".join(location)
        raise ValidationFailed(
            f"请求含有空字符（NUL，\\x00），不予接受：{where}",
            f"the request holds a NUL character (\\x00), which is not accepted: {where}",
            code="request_invalid",
            location=location,
            # the shape of request validation's refusals (gateway.api.problems)
            errors=[
                {
                    "location": location,
                    "message": "NUL character (\\x00) not accepted",
                    "type": "nul_character",
                    "reason_zh": "含有空字符（NUL，\\x00），不予接受",
                    "reason_en": "holds a NUL character (\\x00), which is not accepted",
                }
            ],
        )


class TransactionalRoute(APIRoute):
    """One session per request: commit after the endpoint returns, roll back if it raises.
    A request holding a NUL character is refused before anything runs (:func:`refuse_nul`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            await refuse_nul(request)
            factory: sessionmaker[Session] = (
                request.app.state.read_session_factory
                if request.method in READ_METHODS
                else request.app.state.session_factory
            )
            session = factory()
            request.state.session = session
            try:
                try:
                    response = await original(request)
                except IdempotentReplay as replay:
                    return _replay(replay.record)
                pending: PendingIdempotency | None = getattr(request.state, "idempotency", None)
                await run_in_threadpool(_finish, session, pending, response)
                return response
            except BaseException:
                await run_in_threadpool(session.rollback)
                raise
            finally:
                await run_in_threadpool(session.close)

        return handler


def _request_hash(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode()):
        digest.update(part + b"\x00")
    digest.update(body)
    return digest.hexdigest()


def idempotency_guard_for(
    principal_dependency: Callable[..., Principal],
) -> Callable[..., Awaitable[None]]:
    """The POST guard, given the dependency that authenticates the caller."""

    async def guard(
        request: Request,
        principal: Annotated[Principal, Depends(principal_dependency)],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                description="Client-chosen key; a retry with the same key and request "
                "returns the first response without repeating the change.",
                max_length=MAX_KEY_LENGTH,
            ),
        ] = None,
    ) -> None:
        if idempotency_key is None:
            return
        key = idempotency_key.strip()
        if not key:
            raise ValidationFailed("Idempotency-Key 不能为空", "Idempotency-Key must not be blank")
        body = await request.body()
        pending = PendingIdempotency(
            user_id=principal.user_id,
            key=key,
            request_hash=_request_hash(request, body),
            method=request.method,
            path=request.url.path,
            principal=principal,
        )
        session = request_session(request)
        record = await run_in_threadpool(_lookup, session, principal.user_id, key)
        if record is None:
            record = await run_in_threadpool(_claim, session, pending)
        if record is not None:
            if record.request_hash != pending.request_hash:
                raise ValidationFailed(
                    "该 Idempotency-Key 已用于另一个请求",
                    "this Idempotency-Key was already used for a different request",
                    code="idempotency_key_reused",
                    first_path=record.path,
                )
            _check_again(principal, record)
            raise IdempotentReplay(record)
        request.state.idempotency = pending

    return guard


def idempotent_route_class(
    principal_dependency: Callable[..., Principal],
) -> type[TransactionalRoute]:
    """A route class adding the idempotency guard to every POST route."""
    guard = idempotency_guard_for(principal_dependency)

    class IdempotentRoute(TransactionalRoute):
        def __init__(
            self,
            path: str,
            endpoint: Callable[..., Any],
            *,
            dependencies: Sequence[DependsParam] | None = None,
            methods: set[str] | list[str] | None = None,
            **options: Any,
        ) -> None:
            extra = list(dependencies or [])
            stored = not getattr(endpoint, NEVER_STORED, False)
            if stored and methods and "POST" in {m.upper() for m in methods}:
                extra.append(Depends(guard))
            super().__init__(path, endpoint, dependencies=extra, methods=methods, **options)

    return IdempotentRoute
