"""The queue's settings come from the queue domain, not from the command line module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.queue.config import queue_config
from gateway.queue.service import QueueConfig


def test_missing_file_gives_the_default_threshold(tmp_path: Path) -> None:
    assert queue_config(tmp_path) == QueueConfig()


def test_threshold_is_read_from_the_queue_table(tmp_path: Path) -> None:
    (tmp_path / "reconcile.toml").write_text("[queue]\napproval_above_fen = 5000\n", "utf-8")
    assert queue_config(tmp_path).approval_above_fen == 5000


def test_negative_threshold_is_refused(tmp_path: Path) -> None:
    (tmp_path / "reconcile.toml").write_text("[queue]\napproval_above_fen = -1\n", "utf-8")
    with pytest.raises(ValueError, match="approval_above_fen"):
        queue_config(tmp_path)


def test_api_app_factory_does_not_load_the_command_line_module() -> None:
    probe = "import sys, gateway.api.app; print('gateway.cli.reconcile' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"
