"""The router every domain's ``endpoints.py`` builds on, and where objects' scopes come from.

Endpoints stay thin: parse the request, check the caller's permission and scope, call the
domain service, shape the answer. The route class owns the transaction and the
``Idempotency-Key`` guard.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query

from gateway.api.deps import api_principal
from gateway.api.routing import idempotent_route_class
from gateway.auth.permissions import ObjectScope
from gateway.org.models import Association, County

ApiRoute = idempotent_route_class(api_principal)

# Ids are 64-bit in the database; anything else is refused as invalid, never looked up.
MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID)]
OptionalQueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]

BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")

# Problem responses every route may give (the OpenAPI post-processing types them).
PROBLEM_STATUSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录 / not authenticated"},
    403: {"description": "无权限 / the role lacks the permission"},
    404: {"description": "不存在或不在权限范围内 / not found or outside the caller's scope"},
    422: {"description": "请求不合法 / invalid request"},
}
WRITE_PROBLEM_STATUSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_STATUSES,
    409: {"description": "与当前状态冲突 / conflicts with the current state"},
}


def domain_router(tag: str) -> APIRouter:
    return APIRouter(route_class=ApiRoute, tags=[tag], responses=PROBLEM_STATUSES)


def business_today() -> date:
    return datetime.now(BUSINESS_ZONE).date()


def county_scope(county: County) -> ObjectScope:
    return ObjectScope(county_id=county.id, shared_with_associations=True)


def association_scope(association: Association) -> ObjectScope:
    return ObjectScope(
        county_id=association.town.county_id,
        association_id=association.id,
        bank_id=association.special_account.bank_id,
    )
