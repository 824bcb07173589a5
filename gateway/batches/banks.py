"""A bank as the batch builder, sender and ingestion see it: its configuration, its file
format, its file security, its banking calendar and how to reach its server."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.bankconfig import BankConfig, load_bank_config
from adapters.base import Adapter
from adapters.registry import load_adapter
from adapters.security import FileSecurity
from adapters.transport.base import Transport
from adapters.transport.retry import RetryingTransport, RetryPolicy
from adapters.transport.sftp import SftpTransport
from gateway.batches.calendar import BankingCalendar, calendar_for
from gateway.batches.hooks import wrap_for_crash_tests
from gateway.errors import ConfigurationError
from gateway.payments.config import PaymentsConfig


@dataclass(frozen=True)
class BankProfile:
    config: BankConfig
    adapter: Adapter
    security: FileSecurity
    calendar: BankingCalendar

    @property
    def code(self) -> str:
        return self.config.code


# Opens the transport to one bank's server; tests pass one returning an in-memory transport.
TransportFactory = Callable[[BankProfile], Transport]


@dataclass(frozen=True)
class BankFormat:
    """What reading a bank's stored files needs: its file format and its banking calendar.

    No keys and no connection: reconciliation reads the statements already fetched with this,
    so a night when a key cannot be read still reconciles."""

    config: BankConfig
    adapter: Adapter
    calendar: BankingCalendar


def load_format(
    code: str, *, config_dir: Path, payments: PaymentsConfig, root: Path | None = None
) -> BankFormat:
    """Read ``config_dir/banks/<code>.toml``: its file format and its banking calendar."""
    path = config_dir / "banks" / f"{code}.toml"
    if not path.exists():
        raise ConfigurationError(
            f"银行 {code} 没有配置文件 {path}", f"bank {code} has no configuration file {path}"
        )
    config = load_bank_config(path, root=root)
    adapter = load_adapter(
        config.adapter.name, config.adapter.options, config_dir=config.config_dir
    )
    return BankFormat(config, adapter, calendar_for(config, config_dir, payments.calendar.default))


def format_loader(
    config_dir: Path, payments: PaymentsConfig, root: Path | None = None
) -> Callable[[str], BankFormat]:
    """Each bank's file format and calendar from ``config_dir/banks/<code>.toml`` (read once
    per code), no keys."""
    loaded: dict[str, BankFormat] = {}

    def load(code: str) -> BankFormat:
        if code not in loaded:
            loaded[code] = load_format(code, config_dir=config_dir, payments=payments, root=root)
        return loaded[code]

    return load


def load_profile(
    code: str, *, config_dir: Path, payments: PaymentsConfig, root: Path | None = None
) -> BankProfile:
    """Read ``config_dir/banks/<code>.toml`` and build everything it names, keys included."""
    fmt = load_format(code, config_dir=config_dir, payments=payments, root=root)
    return BankProfile(
        config=fmt.config,
        adapter=fmt.adapter,
        security=FileSecurity.from_config(fmt.config.security),
        calendar=fmt.calendar,
    )


def sftp_transport(profile: BankProfile, policy: RetryPolicy | None = None) -> Transport:
    """The bank's SFTP transport (pinned host key), retrying transient failures."""
    sftp = profile.config.sftp
    inner = wrap_for_crash_tests(SftpTransport(sftp.settings(), sftp.conventions()))
    return RetryingTransport(inner, policy or RetryPolicy(max_attempts=3, initial_delay=1.0))


def encode_sidecars(sidecars: dict[str, bytes]) -> str:
    return json.dumps(
        {suffix: base64.b64encode(data).decode("ascii") for suffix, data in sidecars.items()},
        sort_keys=True,
    )


def decode_sidecars(text: str) -> dict[str, bytes]:
    raw = json.loads(text or "{}")
    return {suffix: base64.b64decode(value) for suffix, value in raw.items()}
