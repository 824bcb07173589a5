"""The ``huzhu`` command line.

Each domain keeps its commands in its own module here and exposes ``register(app)``;
the list below is the one place that wires them in.
"""

from __future__ import annotations

import typer

from gateway.cli._common import HuzhuGroup

app = typer.Typer(
    name="huzhu",
    cls=HuzhuGroup,
    help="Huzhu Settle — 扶贫互助资金银行结算中间件 (settlement middleware).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Each entry: a module of gateway.cli with ``register(app: typer.Typer) -> None``.
_COMMAND_MODULES: tuple[str, ...] = (
    "db",
    "org",
    "capital",
    "demo",
    "members",
    "audit",
    "ledger",
    "files",
    "sandbox",
    "batches",
    "follow_ups",
    "nightly",
    "serve",
    "users",
    "keys",
    "reconcile",
    "auto_postings",
    "reports",
    "grades",
    "liquidation",
)


def _register_all() -> None:
    import importlib

    for module_name in _COMMAND_MODULES:
        module = importlib.import_module(f"gateway.cli.{module_name}")
        module.register(app)


@app.callback()
def _root() -> None:
    """Huzhu Settle — 扶贫互助资金银行结算中间件."""


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    typer.echo(f"huzhu-settle {dist_version('huzhu-settle')}")


_register_all()


def main() -> None:
    app()
