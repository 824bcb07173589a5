"""The FastAPI application: ``create_app(settings)`` wires the database, the field cipher,
the banks' transports, every domain's endpoints under ``/api/v1``, health, metrics and the
web console."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine

from gateway.api import health, problems
from gateway.api.health import TransportFactory
from gateway.api.metrics import Metrics, MetricsMiddleware
from gateway.auth.credentials import LoginPolicy
from gateway.db import is_sqlite, make_engine, make_session_factory
from gateway.errors import ConfigurationError
from gateway.queue.config import queue_config
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings, load_settings

API_PREFIX = "/api/v1"

# Each entry: a module with ``router: APIRouter`` mounted under /api/v1.
ENDPOINT_MODULES: tuple[str, ...] = (
    "gateway.auth.endpoints",
    "gateway.org.endpoints",
    "gateway.members.endpoints",
    "gateway.loans.endpoints",
    "gateway.payments.endpoints",
    "gateway.payments.follow_up_endpoints",
    "gateway.batches.endpoints",
    "gateway.reconcile.endpoints",
    "gateway.queue.endpoints",
    "gateway.reports.endpoints",
    "gateway.grading.endpoints",
    "gateway.audit.endpoints",
)


def bank_transports_from_config(settings: Settings) -> dict[str, TransportFactory]:
    """One transport factory per bank file in ``config/banks``."""
    from adapters.bankconfig import BankConfigError, load_bank_configs

    folder = settings.config_dir / "banks"
    if not folder.is_dir():
        return {}
    try:
        configs = load_bank_configs(folder, root=settings.files_root)
    except BankConfigError as exc:
        raise ConfigurationError(f"银行配置有误：{exc}", f"bank configuration: {exc}") from exc
    return {code: config.open_transport for code, config in configs.items()}


def _problem_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with every error response typed as problem+json."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = problems.Problem.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    problem_content = {
        problems.PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in list(responses):
                if status.isdigit() and int(status) >= 400 and status != "503":
                    responses[status]["content"] = dict(problem_content)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    cipher: FieldCipher | None = None,
    bank_transports: Mapping[str, TransportFactory] | None = None,
    cookie_secure: bool = True,
    login_policy: LoginPolicy | None = None,
    console: bool = True,
) -> FastAPI:
    chosen = settings or load_settings()
    app = FastAPI(
        title="Huzhu Settle API",
        version="1",
        description="扶贫互助资金银行结算中间件 — settlement middleware for village mutual-aid "
        "funds. Errors are application/problem+json with a stable `code`; lists paginate by "
        "cursor; every POST honours `Idempotency-Key`.",
    )
    app.state.settings = chosen
    app.state.engine = engine or make_engine(
        chosen.database_url,
        # Every request ends its transaction itself (the route commits or rolls back), so the
        # pool's extra ROLLBACK on return would only cost a round trip.
        **({} if is_sqlite(chosen.database_url) else {"pool_reset_on_return": None}),
    )
    app.state.session_factory = make_session_factory(app.state.engine)
    # Reads (GET, HEAD) need no transaction of their own on PostgreSQL: autocommit spares the
    # BEGIN and COMMIT round trips. SQLite keeps its explicit transactions.
    app.state.read_session_factory = (
        app.state.session_factory
        if app.state.engine.dialect.name == "sqlite"
        else make_session_factory(app.state.engine.execution_options(isolation_level="AUTOCOMMIT"))
    )
    app.state.cipher = cipher or FieldCipher.from_settings(chosen, database=app.state.engine)
    app.state.bank_transports = (
        dict(bank_transports)
        if bank_transports is not None
        else bank_transports_from_config(chosen)
    )
    app.state.cookie_secure = cookie_secure
    app.state.login_policy = login_policy or LoginPolicy()
    app.state.queue_config = queue_config(chosen.config_dir)

    problems.install(app)
    metrics = Metrics(app.state.session_factory)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    for module_name in ENDPOINT_MODULES:
        module = importlib.import_module(module_name)
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Any:
        return metrics.render()

    if console:
        from gateway.web.console import install as install_console

        install_console(app)

    def openapi() -> dict[str, Any]:
        return _problem_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
