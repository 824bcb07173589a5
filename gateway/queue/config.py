"""The queue's settings, read from ``<config_dir>/reconcile.toml`` (``[queue]``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from gateway.queue.service import QueueConfig


def queue_config(config_dir: Path) -> QueueConfig:
    """``[queue] approval_above_fen`` from ``<config_dir>/reconcile.toml`` when it exists."""
    path = config_dir / "reconcile.toml"
    if not path.exists():
        return QueueConfig()
    raw = tomllib.loads(path.read_text(encoding="utf-8")).get("queue", {})
    return QueueConfig(**raw)
