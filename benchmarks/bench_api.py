"""API: listing the mismatch queue with 100,000 open items on PostgreSQL, 50 clients at once.

A fresh PostgreSQL database holds the test county (two associations) and 100,000 open queue
items of every kind. ``huzhu serve``'s application runs under uvicorn with two worker
processes on a loopback port; 50 clients, each with its own county reviewer's bearer token
use, page through ``GET /api/v1/queue-items`` (priority order, cursor pagination, 50 items a
page, some filtered by type). Latency is measured at the client for every request; each
client arrives at a random moment of the first three seconds and pauses 1-3 s between pages
(an office user reading the list) in the paced run, and
fires back to back in the saturation run, which shows the throughput ceiling of the machine.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy import insert

from benchmarks import Section
from gateway.auth import credentials
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.db import make_engine, make_session_factory
from gateway.migrations import upgrade
from gateway.queue.models import ItemStatus, NightState, QueueItem
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import build_world

TITLE = "API: mismatch queue listing, 100,000 open items, 50 concurrent clients (PostgreSQL)"

ITEMS = 100_000
CLIENTS = 50
REQUESTS_PER_CLIENT = 12
PACED_RUNS = 3
PAUSE_SECONDS = 2.0  # mean pause of an office user between pages (uniform 1-3 s)
TARGET_P95_MS = 100.0
KINDS = (
    "unmatched_bank",
    "unmatched_book",
    "amount_mismatch",
    "duplicate",
    "village_cash",
    "cross_association",
    "balance_break",
)
REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "HUZHU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _seed(url: str) -> str:
    """The county, 100,000 open items and a reviewer; returns the reviewer's bearer token."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            world = build_world(session, FieldCipher(bytes(range(32))), members=3)
            create_user(
                session,
                username="bench_reviewer",
                display_name="bench",
                role=Role.COUNTY_REVIEWER,
                county_id=world.county.id,
            )
            token = credentials.issue_token(session, "bench_reviewer", name="bench", actor="bench")
            session.commit()
            rng = random.Random(20240628)
            start = date(2024, 1, 1)
            rows = []
            for n in range(ITEMS):
                association = world.a if n % 2 else world.b
                seen = start + timedelta(days=n % 180)
                rows.append(
                    {
                        "special_account_id": association.special_account_id,
                        "association_id": association.id,
                        "fingerprint": uuid.UUID(int=n).hex + uuid.UUID(int=n + 1).hex,
                        "kind": KINDS[n % len(KINDS)],
                        "severity": 1 + n % 5,
                        "priority": 1 + rng.randrange(9),
                        "status": ItemStatus.OPEN,
                        "night_state": NightState.PERSISTING,
                        "first_seen": seen,
                        "last_seen": seen,
                        "times_seen": 1,
                        "sub_account": association.sub_account_number,
                        "subject": "",
                        "line_ids_json": f'["S{n}:1"]',
                        "entry_ids_json": "[]",
                        "actual_fen": 100 + (n * 7919) % 3_000_000,
                        "explanation": "基准数据 benchmark item",
                    }
                )
                if len(rows) == 10_000:
                    session.execute(insert(QueueItem), rows)
                    rows = []
            if rows:
                session.execute(insert(QueueItem), rows)
            session.commit()
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
    finally:
        engine.dispose()
    return token


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _client(
    base: str, token: str, number: int, pause: float, latencies: list[float], errors: list[str]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    kind = KINDS[number % len(KINDS)] if number % 3 == 0 else None
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        if pause:
            await asyncio.sleep(pause * 1.5 * random.random())
        for _ in range(REQUESTS_PER_CLIENT):
            params: dict[str, str | int] = {"limit": 50}
            if kind:
                params["kind"] = kind
            if cursor:
                params["cursor"] = cursor
            started = time.perf_counter()
            response = await client.get("/api/v1/queue-items", params=params)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or len(response.json()["items"]) != 50:
                errors.append(f"{response.status_code} {response.text[:200]}")
            cursor = response.json().get("next_cursor")
            if pause:
                await asyncio.sleep(pause * (0.5 + random.random()))


async def _load(base: str, token: str, pause: float) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_client(base, token, n, pause, latencies, errors) for n in range(CLIENTS))
    )
    return latencies, errors, time.perf_counter() - started


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def run() -> Section:
    section = Section(TITLE)
    name = f"huzhu_bench_api_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rpartition("/")[0] + f"/{name}"
    server: subprocess.Popen[bytes] | None = None
    try:
        seeding = time.perf_counter()
        token = _seed(url)
        seeded_in = time.perf_counter() - seeding
        port = _free_port()
        env = {
            **os.environ,
            "HUZHU_DATABASE_URL": url,
            "HUZHU_FIELD_KEY_ENV": "HUZHU_BENCH_FIELD_KEY",
            "HUZHU_BENCH_FIELD_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        }
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "gateway.api.asgi:app",
                "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                "--log-level", "warning", "--no-access-log",
            ],
            cwd=REPO,
            env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the API server did not start")
            time.sleep(0.3)
        asyncio.run(_load(base, token, 0.05))  # warm the pools and caches
        runs = [asyncio.run(_load(base, token, PAUSE_SECONDS)) for _ in range(PACED_RUNS)]
        paced_errors = [e for _, errors, _ in runs for e in errors]
        p95s = sorted(_p95(latencies) for latencies, _, _ in runs)
        p95 = statistics.median(p95s)
        paced = [x for latencies, _, _ in runs for x in latencies]
        flat, flat_errors, flat_seconds = asyncio.run(_load(base, token, 0.0))
        section.add(
            f"p95 latency, 50 clients paging the queue (1–3 s between pages), median of "
            f"{PACED_RUNS} runs",
            f"{p95:.1f} ms",
            f"< {TARGET_P95_MS:.0f} ms",
            p95 < TARGET_P95_MS and not paced_errors,
        )
        section.add(
            "p95 of each run; median latency of all requests",
            " / ".join(f"{x:.0f}" for x in p95s) + f" ms; {statistics.median(paced):.1f} ms",
            "—",
            True,
        )
        section.add(
            "saturation: 50 clients back to back, p95 / throughput",
            f"{_p95(flat):.0f} ms / {len(flat) / flat_seconds:.0f} requests/s",
            "no errors",
            not flat_errors,
        )
        section.notes.append(
            f"{ITEMS:,} open items seeded in {seeded_in:.1f} s; {CLIENTS} clients × "
            f"{REQUESTS_PER_CLIENT} pages of 50 per run; uvicorn with 2 workers on the same "
            "2-core machine as the clients and PostgreSQL; bearer-token authentication and "
            "scope filtering on every request."
        )
        load = os.getloadavg()
        section.notes.append(
            f"The machine is shared: load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
            "(1 / 5 / 15 min) when the run ended. The saturation figure is the whole "
            "machine's ceiling with the load generator on it, not the service's."
        )
        if paced_errors or flat_errors:
            section.notes.append(f"errors: {(paced_errors + flat_errors)[:3]}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return section
