"""``huzhu sandbox-bank serve``: run the sandbox bank alone, in the foreground."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gateway.cli._common import console, err_console

_PROVISION_HINT = (
    "县办一方的密钥（SFTP 客户端公钥、签名与解密公钥）须先生成：运行 huzhu keys provision "
    "(the county's keys the sandbox needs are made by `huzhu keys provision`)"
)

sandbox_app = typer.Typer(
    help="沙箱银行 Sandbox bank for trying the file exchange.", no_args_is_help=True
)


@sandbox_app.command("serve")
def serve(
    config: Annotated[
        Path, typer.Option("--config", help="The sandbox TOML (e.g. config/sandbox.toml).")
    ],
    port: Annotated[
        int | None, typer.Option("--port", help="Listen port; 0 picks a free one.")
    ] = None,
    speed: Annotated[
        int | None,
        typer.Option("--speed", help="Bank clock speed: 1 is real time, 60 a minute a second."),
    ] = None,
    start: Annotated[
        datetime | None, typer.Option("--start", help="Bank time to start at (Asia/Shanghai).")
    ] = None,
) -> None:
    """Run the SFTP server and the bank's day (cut-off, results, statements) until Ctrl-C."""
    from adapters.errors import AdapterError
    from adapters.sandbox.config import load_config
    from adapters.sandbox.runner import serve as run_bank
    from adapters.security.errors import KeyLoadError

    try:
        settings = load_config(config)
    except AdapterError as exc:
        err_console().print(f"[red]配置错误 configuration error[/red]: {escape(str(exc))}")
        raise typer.Exit(2) from exc

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_bank(
            settings,
            stop,
            port=port,
            speed=speed,
            start=start,
            report=lambda line: console().print(
                line, markup=False, highlight=False, soft_wrap=True
            ),
        )

    try:
        asyncio.run(main())
    except AdapterError as exc:
        err_console().print(f"[red]沙箱银行出错 sandbox bank failed[/red]: {escape(str(exc))}")
        if isinstance(exc, KeyLoadError):
            err_console().print(_PROVISION_HINT)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox-bank")
