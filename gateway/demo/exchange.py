"""The sandbox bank beside a county's database, over real SFTP on loopback.

Used by ``huzhu demo`` and by the end-to-end tests: it starts the sandbox bank's engine and
SFTP server (in a background thread, on a free port), opens at the bank a sub-account per
association (with the balance our ledger shows) and a Huinong One-Card per member, and
writes a configuration folder whose bank file points our SFTP transport at that server with
a generated client key and the server's host key pinned.
"""

from __future__ import annotations

import random
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.sandbox import BankEngine, ManualClock, SandboxServer
from adapters.sandbox.config import parse_config
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.members.models import Member
from gateway.members.service import CARD_FIELD
from gateway.org.models import Association, SpecialAccount
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import REPO_ROOT

CONFIG_FILES = ("default.toml", "payments.toml")


@dataclass
class SandboxExchange:
    engine: BankEngine
    server: SandboxServer
    clock: ManualClock
    config_dir: Path  # a config folder: default.toml, payments.toml, calendar/, banks/
    bank_code: str
    institution: str

    def stop(self) -> None:
        self.server.stop()


def write_toml(path: Path, data: Mapping[str, Any]) -> None:
    """A small TOML writer for the generated bank file (tables of scalars and lists)."""
    lines: list[str] = []
    for table, values in data.items():
        lines.append(f"[{table}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Path):
        value = str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def start_sandbox(
    state_dir: Path,
    *,
    bank_file: Path,
    special_account: str,
    special_account_name: str,
    start: datetime,
    faults: Mapping[str, Any] | None = None,
    seed: int = 20240601,
    sign: bool = True,
    shortfall: str = "partial",
    source_config_dir: Path | None = None,
) -> SandboxExchange:
    """Start the sandbox bank for ``bank_file``'s bank and write our configuration for it."""
    source = source_config_dir or REPO_ROOT / "config"
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    keys = state_dir / "keys"
    keys.mkdir(exist_ok=True)
    client = ed25519.Ed25519PrivateKey.generate()
    private = keys / "sftp_client"
    private.touch(mode=0o600)
    private.write_bytes(
        client.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    (keys / "sftp_client.pub").write_bytes(
        client.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    )
    raw_bank = tomllib.loads(bank_file.read_text(encoding="utf-8"))
    institution = str(raw_bank["sftp"]["username"])
    config = parse_config(
        {
            "seed": seed,
            "server": {"host": "127.0.0.1", "port": 0, "state_dir": str(state_dir / "bank")},
            "clock": {"cutoff": time(16, 0)},
            "institutions": [
                {
                    "name": institution,
                    "display_name": special_account_name,
                    "special_account": special_account,
                    "special_account_name": special_account_name,
                    "bank_config": str(bank_file),
                    "client_keys": [str(keys / "sftp_client.pub")],
                    "collection_shortfall": shortfall,
                }
            ],
            "faults": dict(faults or {}),
        },
        config_dir=bank_file.parent,
    )
    engine = BankEngine.from_config(config)
    clock = ManualClock(start)
    server = SandboxServer.for_engine(engine, clock, port=0)
    server.start()
    known_hosts = keys / "known_hosts"
    known_hosts.write_text(server.known_hosts_line(), encoding="utf-8")

    config_dir = state_dir / "config"
    banks = config_dir / "banks"
    banks.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        if (source / name).exists():
            shutil.copyfile(source / name, config_dir / name)
    shutil.copytree(source / "calendar", config_dir / "calendar", dirs_exist_ok=True)
    shutil.copytree(bank_file.parent / "layouts", banks / "layouts", dirs_exist_ok=True)
    raw_bank["sftp"].update(
        host="127.0.0.1",
        port=server.port,
        private_key_path=str(keys / "sftp_client"),
        known_hosts_path=str(known_hosts),
    )
    raw_bank["sftp"].pop("private_key_passphrase_env", None)
    security: dict[str, Any] = {"sign": "none", "verify": "none"}
    if sign:
        key = ed25519.Ed25519PrivateKey.generate()
        pem = keys / "sign_ed25519.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        security = {"sign": "ed25519", "sign_key_path": str(pem), "verify": "none"}
    raw_bank["security"] = security
    write_toml(banks / bank_file.name, raw_bank)
    return SandboxExchange(
        engine=engine,
        server=server,
        clock=clock,
        config_dir=config_dir,
        bank_code=str(raw_bank["bank"]["code"]),
        institution=institution,
    )


def open_accounts(
    exchange: SandboxExchange,
    session: Session,
    cipher: FieldCipher,
    special: SpecialAccount,
    *,
    on: date,
    card_balance_fen: tuple[int, int] = (50_000, 400_000),
    seed: int = 7,
) -> None:
    """Open at the bank each association's sub-account (with our ledger's bank balance) and
    each member's card (with a random balance the bank's collections draw on)."""
    rng = random.Random(seed)  # noqa: S311 - simulated balances, not secrets
    associations = session.scalars(
        select(Association)
        .where(Association.special_account_id == special.id)
        .order_by(Association.id)
    ).all()
    for association in associations:
        exchange.engine.open_sub_account(
            exchange.institution,
            association.sub_account_number,
            association.name,
            on=on,
            initial_fen=balance(session, association.id, AccountCode.BANK_SUB_ACCOUNT, on),
        )
        for member in session.scalars(
            select(Member).where(Member.association_id == association.id).order_by(Member.id)
        ):
            exchange.engine.open_card(
                cipher.decrypt(CARD_FIELD, member.card_cipher),
                member.name,
                balance_fen=rng.randint(*card_balance_fen),
            )
