"""Running the sandbox bank alone: the day driven by its clock, and ``huzhu sandbox-bank serve``."""

from __future__ import annotations

import dataclasses
import os
import select
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import asyncssh
import paramiko
import pytest

from adapters.records import Direction
from adapters.registry import load_adapter
from adapters.sandbox import ManualClock
from adapters.sandbox.config import load_config
from adapters.sandbox.runner import BankRunner, running_bank
from tests.adapters.sandbox.sandbox_support import (
    CARD_ZHANG,
    DAY1,
    SUB_A,
    JsonRecordsAdapter,
    batch,
    out_files,
    seeded_engine,
    submit,
)

REPO = Path(__file__).resolve().parents[3]
BANKS = REPO / "config" / "banks"
JSON = JsonRecordsAdapter()


def test_the_clock_drives_cutoff_statement_and_catch_up(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    clock = ManualClock(datetime(2025, 3, 3, 9, 0))
    lines: list[str] = []
    runner = BankRunner(engine, clock, lines.append)
    submit(
        engine,
        "DF_001.json",
        JSON.render_batch(
            batch(Direction.DISBURSEMENT, [("E1", 10_000, SUB_A, CARD_ZHANG, "张三")])
        ),
    )
    runner.step()
    assert out_files(engine) == []  # picked up, not yet booked
    assert [f.name for f in engine.received_files()] == ["DF_001.json"]
    clock.set(datetime(2025, 3, 3, 16, 0))
    runner.step()
    assert [n for n in out_files(engine) if n.startswith("RESULT_")] != []
    assert engine.closed_through is None
    clock.set(datetime(2025, 3, 3, 20, 0))
    runner.step()
    assert engine.closed_through == DAY1
    clock.set(datetime(2025, 3, 6, 10, 0))  # the bank was off for two days
    runner.step()
    assert engine.closed_through == DAY1 + timedelta(days=2)
    statements = sorted(n for n in out_files(engine) if n.startswith("STMT_") and n.endswith("txt"))
    assert [n[-12:-4] for n in statements] == ["20250303", "20250304", "20250305"]
    assert any("日切 cut-off" in line for line in lines)


def _config(tmp_path: Path, public_key: Path) -> Path:
    path = tmp_path / "sandbox.toml"
    layout = REPO / "config" / "banks" / "layouts" / "rcb_pipe.toml"
    path.write_text(
        f"""
seed = 1
[server]
host = "127.0.0.1"
port = 2222
state_dir = "state"
[clock]
start = 2025-03-03T09:00:00
speed = 1
[[institutions]]
name = "rcb_county"
special_account = "9140100201"
special_account_name = "沂南县互助资金管理专户"
adapter = "cn_text"
adapter_options = {{ layout = "{layout}" }}
client_keys = ["{public_key}"]
""",
        encoding="utf-8",
    )
    return path


def _read_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return line
    pytest.fail(f"no {needle!r} from the sandbox bank; it said: {''.join(seen)}")


def test_serve_runs_in_the_foreground_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(tmp_path / "client"))
    key.write_public_key(str(tmp_path / "client.pub"))
    config = _config(tmp_path, tmp_path / "client.pub")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from gateway.cli import main; main()",
            "sandbox-bank",
            "serve",
            "--config",
            str(config),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        line = _read_line(proc, "listening on sftp://", 30)
        port = int(line.rsplit(":", 1)[1])
        client = paramiko.SSHClient()
        client.load_host_keys(str(tmp_path / "state" / "known_hosts"))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            "127.0.0.1",
            port=port,
            username="rcb_county",
            key_filename=str(tmp_path / "client"),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        with client:
            assert sorted(client.open_sftp().listdir("/")) == ["in", "out"]
        proc.send_signal(signal.SIGINT)
        _read_line(proc, "sandbox bank stopped", 15)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_refuses_a_broken_config_with_a_clear_message(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    config = tmp_path / "sandbox.toml"
    config.write_text("[server]\nport = 70000\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["sandbox-bank", "serve", "--config", str(config)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "configuration error" in result.output
    assert "institutions" in result.output


def test_running_bank_serves_in_the_background_for_the_demo(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(tmp_path / "client"))
    key.write_public_key(str(tmp_path / "client.pub"))
    config = load_config(_config(tmp_path, tmp_path / "client.pub"))
    adapter = load_adapter("cn_text", {"layout": "layouts/rcb_pipe.toml"}, config_dir=BANKS)
    clock = ManualClock(datetime(2025, 3, 3, 9, 0))
    with running_bank(config, clock, port=0) as bank:
        bank.engine.open_sub_account("rcb_county", SUB_A, "东庄村", on=DAY1, initial_fen=50_000)
        bank.engine.open_card(CARD_ZHANG, "张三")
        data = adapter.render_batch(
            dataclasses.replace(
                batch(Direction.DISBURSEMENT, [("E1", 20_000, SUB_A, CARD_ZHANG, "张三")]),
                special_account="9140100201",
            )
        )
        client = paramiko.SSHClient()
        client.load_host_keys(str(bank.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            "127.0.0.1",
            port=bank.server.port,
            username="rcb_county",
            key_filename=str(tmp_path / "client"),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        with client, client.open_sftp() as sftp:
            with sftp.open("/in/DF_1.txt", "wb") as handle:
                handle.write(data)
            with sftp.open("/in/DF_1.txt.done", "wb"):
                pass
            bank.engine.run_cutoff(DAY1)
            with sftp.open("/out/RESULT_HZ20250303001.txt", "rb") as handle:
                (line,) = adapter.parse_result(handle.read()).results
    assert line.settled_amount_fen == 20_000
    assert bank.known_hosts == tmp_path / "state" / "known_hosts"
