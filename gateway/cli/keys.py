"""``huzhu keys``: make a field-encryption key, rotate the members' card and ID numbers from
the configured key to a new one, and provision the institution's keys for its banks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gateway.cli._common import cli_session, console, current_settings, err_console
from gateway.security.fieldcrypt import FieldCipher, generate_key_text

keys_app = typer.Typer(help="字段加密密钥 Field-encryption keys.", no_args_is_help=True)


@keys_app.command("generate")
def generate(path: Annotated[Path, typer.Argument(help="Where to write the new key.")]) -> None:
    """Write a new random key (base64, 32 bytes) to a file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(generate_key_text() + "\n")
    console().print(f"已生成密钥 key written to {path}")


@keys_app.command("rotate")
def rotate(
    new_key_file: Annotated[Path, typer.Option(help="The new key (from `huzhu keys generate`).")],
) -> None:
    """Re-encrypt every member's card and resident-ID number under the new key, in one
    transaction; then point ``field_key_file`` (or ``field_key_env``) at the new key."""
    from gateway.security.rotation import rotate_field_key

    settings = current_settings()
    old = FieldCipher.from_settings(settings)
    new = FieldCipher.from_settings(
        settings.model_copy(update={"field_key_file": new_key_file, "field_key_env": None})
    )
    with cli_session(settings) as session:
        report = rotate_field_key(session, old, new, actor="cli")
    console().print(
        f"已轮换 rotated {report.rotated} members ({report.already_new} already under the new "
        f"key). Now set field_key_file = {new_key_file} and keep the old key until backups "
        "made with it have expired."
    )


@keys_app.command("provision")
def provision(
    banks: Annotated[
        list[str] | None,
        typer.Option("--bank", help="Only this bank's keys (repeatable; default: every bank)."),
    ] = None,
) -> None:
    """Create our missing keys for the banks of config/banks (SFTP client key, signing key,
    decryption key, each with its public half for the bank, e.g. var/keys/sign_rsa.pub.pem);
    existing keys are never replaced. Run it once on a new machine, before
    ``huzhu sandbox-bank serve``."""
    from adapters.bankconfig import BankConfigError, load_bank_configs
    from adapters.security.provision import provision_keys

    settings = current_settings()
    try:
        configs = load_bank_configs(settings.config_dir / "banks", root=settings.files_root)
    except BankConfigError as exc:
        err_console().print(f"[red]银行配置有误 bank configuration[/red]: {escape(str(exc))}")
        raise typer.Exit(1) from exc
    unknown = sorted(set(banks or ()) - set(configs))
    if unknown:
        raise typer.BadParameter(
            f"没有这家银行的配置 no bank configuration for: {', '.join(unknown)} "
            f"(banks: {', '.join(sorted(configs))})",
            param_hint="--bank",
        )
    out = console()
    for code in sorted(banks or configs):
        written = provision_keys(configs[code])
        if not written:
            out.print(f"{code}: 密钥已齐 keys already in place")
        for path in written:
            out.print(f"{code}: 已生成 written {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
