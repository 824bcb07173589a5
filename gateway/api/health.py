"""``/healthz`` (the process answers) and ``/readyz`` (the database, migrated to the head, and
each bank's server).

A bank's reachability is its transport's ``ping``; the probes run in worker threads with a
deadline so one unreachable bank cannot hang the check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from adapters.transport.base import Transport

TransportFactory = Callable[[], Transport]
PROBE_TIMEOUT_SECONDS = 10.0

router = APIRouter(tags=["运维 operations"])


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: list[Check] = []


@router.get("/healthz", response_model=Health, summary="存活检查 Liveness")
def healthz() -> Health:
    return Health(status="ok")


def _probe_database(factory: sessionmaker[Session]) -> Check:
    """The database answers and its schema is at the migrations' head (an unmigrated or
    half-migrated database is not ready: every request would fail on a missing table)."""
    from gateway.migrations import schema_problem

    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
            problem = schema_problem(session.connection())
    except Exception as exc:  # any failure means not ready; the reason is reported
        return Check(name="database", ok=False, detail=type(exc).__name__)
    if problem is not None:
        return Check(name="database", ok=False, detail=problem)
    return Check(name="database", ok=True, detail="ok")


def _probe_bank(code: str, factory: TransportFactory) -> Check:
    try:
        transport = factory()
        try:
            transport.ping()
        finally:
            transport.close()
    except Exception as exc:  # unreachable, refused host key, bad credentials...
        return Check(name=f"bank:{code}", ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])
    return Check(name=f"bank:{code}", ok=True, detail="ok")


async def _with_deadline(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return await asyncio.wait_for(run_in_threadpool(probe), PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        return Check(name=name, ok=False, detail=f"no answer within {PROBE_TIMEOUT_SECONDS:.0f}s")


@router.get(
    "/readyz",
    response_model=Health,
    summary="就绪检查 Readiness: database and every bank's file server",
    responses={503: {"model": Health, "description": "a dependency is unavailable"}},
)
async def readyz(request: Request) -> JSONResponse:
    factory: sessionmaker[Session] = request.app.state.session_factory
    banks: Mapping[str, TransportFactory] = request.app.state.bank_transports
    probes = [_with_deadline("database", lambda: _probe_database(factory))]
    probes += [
        _with_deadline(f"bank:{code}", lambda code=code, make=make: _probe_bank(code, make))  # type: ignore[misc]
        for code, make in sorted(banks.items())
    ]
    checks = list(await asyncio.gather(*probes))
    ok = all(c.ok for c in checks)
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
