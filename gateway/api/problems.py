"""Errors as ``application/problem+json`` (RFC 9457), mapped once from the error hierarchy.

Every problem carries a stable ``code`` a client can branch on, the Chinese and English
messages, and the domain error's details. ``Accept-Language: en`` puts the English message
in ``title``/``detail``; Chinese is the default.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.money import grouped_yuan
from gateway.auth.errors import Forbidden, RateLimited, Unauthenticated
from gateway.errors import (
    ConfigurationError,
    Conflict,
    HuzhuError,
    LedgerError,
    NotFound,
    RuleViolation,
    ValidationFailed,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("huzhu.api")

# The one place where a domain error class becomes an HTTP status. Subclasses inherit it.
STATUS_BY_ERROR: dict[type[HuzhuError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    LedgerError: 409,
    ValidationFailed: 422,
    RuleViolation: 422,
    RateLimited: 429,
    ConfigurationError: 500,
}

_GENERIC_BY_STATUS = {
    400: ("bad_request", "请求有误", "bad request"),
    401: ("unauthenticated", "请先登录", "authentication required"),
    403: ("forbidden", "无权访问", "forbidden"),
    404: ("not_found", "资源不存在", "not found"),
    405: ("method_not_allowed", "不支持该请求方法", "method not allowed"),
    406: ("not_acceptable", "无法提供所请求的格式", "not acceptable"),
    409: ("conflict", "与当前状态冲突", "conflict"),
    413: ("payload_too_large", "请求内容过大", "payload too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "unsupported media type"),
    422: ("request_invalid", "请求参数不合法", "the request is invalid"),
    429: ("rate_limited", "请求过于频繁", "too many requests"),
}


class Problem(BaseModel):
    """An error response (RFC 9457) with the gateway's stable ``code``."""

    type: str = Field(description="URI naming the problem type: urn:huzhu:problem:<code>")
    title: str
    status: int
    code: str = Field(description="stable machine-readable error code")
    detail: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = Field(default_factory=dict)
    instance: str | None = None


# Bounds at least this large are a column's limit, not a rule a user is told in figures.
_LARGE_BOUND = 2**31


def _bound(context: Mapping[str, Any], *names: str) -> Any:
    return next((context[name] for name in names if name in context), "")


def field_reason(error: Mapping[str, Any]) -> tuple[str, str]:
    """Why request validation refused one field, in Chinese and in English words a user
    reads (pydantic's ``msg`` stays the machine's): "须不小于 1" / "must be at least 1"."""
    kind = str(error.get("type", ""))
    context: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "missing":
        return "缺失，须填写", "is missing"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "须为整数", "must be a whole number"
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type"):
        return "须为数字", "must be a number"
    if kind in ("greater_than_equal", "greater_than"):
        bound = _bound(context, "ge", "gt")
        if kind == "greater_than":
            return f"须大于 {bound}", f"must be greater than {bound}"
        return f"须不小于 {bound}", f"must be at least {bound}"
    if kind in ("less_than_equal", "less_than"):
        bound = _bound(context, "le", "lt")
        loc = error.get("loc") or ()
        field = str(loc[-1]) if loc else ""
        if isinstance(bound, int) and field.endswith("_fen"):
            most = grouped_yuan(bound)
            return f"金额过大（最多 {most} 元）", f"is too large (at most {most} yuan)"
        if isinstance(bound, int) and bound >= _LARGE_BOUND:
            return "数值过大，没有这样的记录", "is too large: nothing has that number"
        if kind == "less_than":
            return f"须小于 {bound}", f"must be less than {bound}"
        return f"须不大于 {bound}", f"must be at most {bound}"
    if kind == "string_too_long":
        limit = _bound(context, "max_length")
        return f"过长（最多 {limit} 个字符）", f"is too long (at most {limit} characters)"
    if kind == "string_too_short":
        limit = _bound(context, "min_length")
        if limit == 1:
            return "不能为空", "must not be empty"
        return f"过短（至少 {limit} 个字符）", f"is too short (at least {limit} characters)"
    if kind == "too_long":
        limit = _bound(context, "max_length")
        return f"过多（最多 {limit} 项）", f"has too many entries (at most {limit})"
    if kind == "too_short":
        limit = _bound(context, "min_length")
        return f"过少（至少 {limit} 项）", f"has too few entries (at least {limit})"
    if kind in ("enum", "literal_error", "string_pattern_mismatch"):
        return "不是可选的值", "is not one of the values it may take"
    if kind.startswith("date") or kind.startswith("datetime"):
        return "不是有效日期（年-月-日）", "is not a date (YYYY-MM-DD)"
    if kind.startswith("bool"):
        return "须为是或否", "must be yes or no"
    if kind == "json_invalid":
        return "不是有效的 JSON", "is not valid JSON"
    if kind.endswith("_type"):
        return "类型不符", "is not of the right type"
    return "不合法", str(error.get("msg", "is invalid"))


def status_for(error: HuzhuError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def prefers_english(request: Request) -> bool:
    if request.cookies.get("lang") == "en":
        return True
    accept = request.headers.get("accept-language", "")
    return accept.strip().lower().startswith("en")


def build_problem(
    request: Request,
    *,
    status: int,
    code: str,
    message_zh: str,
    message_en: str,
    details: dict[str, Any] | None = None,
) -> Problem:
    english = prefers_english(request)
    message = message_en if english else message_zh
    return Problem(
        type=f"urn:huzhu:problem:{code}",
        title=message,
        status=status,
        code=code,
        detail=message,
        message_zh=message_zh,
        message_en=message_en,
        details=details or {},
        instance=request.url.path,
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        problem.model_dump(mode="json"),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_for_error(request: Request, error: HuzhuError) -> Problem:
    return build_problem(
        request,
        status=status_for(error),
        code=error.code,
        message_zh=error.message_zh,
        message_en=error.message_en,
        details=_jsonable(error.details),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def error_headers(error: HuzhuError) -> dict[str, str] | None:
    if isinstance(error, RateLimited):
        return {"Retry-After": str(error.retry_after_seconds)}
    if isinstance(error, Unauthenticated):
        return {"WWW-Authenticate": 'Bearer realm="huzhu"'}
    return None


def install(app: FastAPI) -> None:
    """Register the handlers: domain errors, request validation, HTTP errors, the rest."""

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HuzhuError)
        problem = problem_for_error(request, exc)
        if problem.status >= 500:
            log.error("domain error %s on %s", exc, request.url.path)
        html = getattr(request.app.state, "html_error_page", None)
        if html is not None and _wants_html(request):
            rendered: Response = html(request, problem)
            return rendered
        return problem_response(problem, error_headers(exc))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "location": [str(part) for part in error.get("loc", ())],
                "message": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
                **dict(zip(("reason_zh", "reason_en"), field_reason(error), strict=True)),
            }
            for error in exc.errors()
        ]
        fields = "; ".join(f"{'.'.join(e['location'])}: {e['message']}" for e in errors)
        fields_zh = "；".join(f"{'.'.join(e['location'])} {e['reason_zh']}" for e in errors)
        problem = build_problem(
            request,
            status=422,
            code="request_invalid",
            message_zh=f"请求参数不合法：{fields_zh}",
            message_en=f"the request is invalid: {fields}",
            details={"errors": errors},
        )
        html = getattr(request.app.state, "html_error_page", None)
        if html is not None and _wants_html(request):
            rendered: Response = html(request, problem)
            return rendered
        return problem_response(problem)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code, zh, en = _GENERIC_BY_STATUS.get(exc.status_code, ("http_error", "请求失败", "error"))
        if isinstance(exc.detail, str) and exc.detail and exc.status_code not in (404, 405):
            en = exc.detail
        problem = build_problem(
            request, status=exc.status_code, code=code, message_zh=zh, message_en=en
        )
        html = getattr(request.app.state, "html_error_page", None)
        if html is not None and _wants_html(request):
            rendered: Response = html(request, problem)
            return rendered
        return problem_response(problem, dict(exc.headers) if exc.headers else None)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, IntegrityError):
            log.warning("integrity conflict on %s: %s", request.url.path, exc.orig)
            problem = build_problem(
                request,
                status=409,
                code="concurrent_change",
                message_zh="数据已被其他请求修改，请刷新后重试",
                message_en="the data was changed by another request; reload and retry",
            )
            return problem_response(problem)
        log.warning("database unavailable on %s: %s", request.url.path, exc)
        problem = build_problem(
            request,
            status=503,
            code="database_busy",
            message_zh="数据库繁忙，请稍后重试",
            message_en="the database is busy or unavailable; retry shortly",
        )
        return problem_response(problem, {"Retry-After": "1"})

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = build_problem(
            request,
            status=500,
            code="internal_error",
            message_zh="服务器内部错误，已记录",
            message_en="internal server error; it has been logged",
        )
        return problem_response(problem)

    app.add_exception_handler(HuzhuError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(IntegrityError, on_database_error)
    app.add_exception_handler(OperationalError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")
