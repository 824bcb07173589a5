"""``huzhu serve``: the HTTP API and the web console under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli._common import console, current_settings, require_database
from gateway.settings import mask_url


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    insecure_cookies: Annotated[
        bool,
        typer.Option(
            "--insecure-cookies",
            help="Send the session cookie over plain HTTP too (only behind no TLS, e.g. a "
            "single-office demo on localhost).",
        ),
    ] = False,
) -> None:
    """Serve the API (/api/v1, /docs), /healthz, /readyz, /metrics and the console (/console)."""
    import uvicorn

    from gateway.api.app import create_app

    settings = current_settings()
    require_database(settings)
    console().print(
        f"互助资金结算平台 http://{host}:{port}/console · API /api/v1 · "
        f"database {mask_url(settings.database_url)}"
    )
    if workers == 1:
        app = create_app(settings, cookie_secure=not insecure_cookies)
        uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
        return
    import os

    os.environ["HUZHU_SERVE_INSECURE_COOKIES"] = "1" if insecure_cookies else "0"
    uvicorn.run(
        "gateway.api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
