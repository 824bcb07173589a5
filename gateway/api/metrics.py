"""Prometheus ``/metrics``: the work in the database, read at scrape time, and HTTP traffic.

Gauges by state come from the tables themselves (instructions, batches, inbound files,
mismatch-queue items, nightly job runs), so every API process reports the same numbers and
nothing is counted twice. A table is reported once its domain registers it on the metadata.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.db import Base


@dataclass(frozen=True)
class StateGauge:
    """``metric{labels...}`` = count of rows of ``table`` grouped by ``columns``."""

    metric: str
    documentation: str
    table: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]


STATE_GAUGES: tuple[StateGauge, ...] = (
    StateGauge(
        "huzhu_instructions",
        "Payment instructions by status (代付/代扣指令)",
        "payment_instructions",
        ("status",),
        ("status",),
    ),
    StateGauge(
        "huzhu_batches",
        "Payment batches (instruction files) by bank and status",
        "payment_batches",
        ("bank_code", "status"),
        ("bank", "status"),
    ),
    StateGauge(
        "huzhu_inbound_files",
        "Bank files received, by kind and status (回盘/对账单)",
        "inbound_files",
        ("kind", "status"),
        ("kind", "status"),
    ),
    StateGauge(
        "huzhu_queue_items",
        "Mismatch-queue items by type and state (差异队列)",
        "queue_items",
        ("kind", "status"),
        ("type", "state"),
    ),
    StateGauge(
        "huzhu_job_runs",
        "Nightly job runs by step and status",
        "job_runs",
        ("step", "status"),
        ("step", "status"),
    ),
)


class DatabaseCollector(Collector):
    """Reads the gauges from the database at each scrape."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def _table(self, name: str) -> Table | None:
        return Base.metadata.tables.get(name)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._factory() as session:
            for gauge in STATE_GAUGES:
                table = self._table(gauge.table)
                if table is None or not all(c in table.c for c in gauge.columns):
                    continue
                family = GaugeMetricFamily(gauge.metric, gauge.documentation, labels=gauge.labels)
                columns = [table.c[c] for c in gauge.columns]
                for row in session.execute(select(*columns, func.count()).group_by(*columns)):
                    family.add_metric([str(v) for v in row[:-1]], float(row[-1]))
                yield family
            yield from self._job_durations(session)

    def _job_durations(self, session: Session) -> Iterator[GaugeMetricFamily]:
        table = self._table("job_runs")
        if table is None:
            return
        family = GaugeMetricFamily(
            "huzhu_job_last_duration_seconds",
            "Duration of the latest finished run of each nightly step",
            labels=("step",),
        )
        latest = (
            select(table.c.step, func.max(table.c.finished_at).label("finished"))
            .where(table.c.finished_at.is_not(None))
            .group_by(table.c.step)
            .subquery()
        )
        rows = session.execute(
            select(table.c.step, table.c.started_at, table.c.finished_at).join(
                latest,
                (latest.c.step == table.c.step) & (latest.c.finished == table.c.finished_at),
            )
        )
        for step, started, finished in rows:
            family.add_metric([str(step)], max((finished - started).total_seconds(), 0.0))
        yield family


class Metrics:
    """One registry per app: HTTP counters, latency histogram and the database collector."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "huzhu_http_requests",
            "HTTP requests by method, route and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "huzhu_http_request_duration_seconds",
            "HTTP request duration by route",
            ("route",),
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.registry.register(DatabaseCollector(factory))

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        template = self._template(scope)
        self.latency.labels(template).observe(seconds)
        self.requests.labels(scope.get("method", ""), template, str(status)).inc()

    @staticmethod
    def _template(scope: Scope) -> str:
        """The matched route's full path template (``/api/v1/loans/{loan_id}``), so labels
        stay few: a route of an included router matches the end of the path, and what comes
        before it is the router's prefix."""
        route = scope.get("route")
        pattern = getattr(route, "path_regex", None)
        if route is None or pattern is None:
            return "unmatched"
        path = scope.get("path", "")
        for start in range(len(path)):
            if path[start] == "/" and pattern.fullmatch(path[start:]):
                return f"{path[:start]}{route.path}"
        return str(route.path)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """A plain ASGI middleware (no per-request wrapping objects): times each HTTP request and
    counts it by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - started)
