"""``huzhu users create|token|disable`` against a database, and ``huzhu serve`` answering."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.members import service as members
from gateway.security.fieldcrypt import FieldCipher
from tests.api.conftest import CIPHER_KEY, Seeded


@pytest.fixture
def cli_env(api_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "HUZHU_DATABASE_URL": api_db_url,
        "HUZHU_FIELD_KEY_FILE": str(tmp_path / "field.key"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_create_token_and_disable(cli_env: dict[str, str], app: FastAPI, seeded: Seeded) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli,
        [
            "users", "create", "clerk_a", "--role", "treasurer",
            "--association", seeded.world.a.code, "--password", "good-password-9",
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    issued = runner.invoke(cli, ["users", "token", "clerk_a", "--name", "robot"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("hz_")
    with TestClient(app, base_url="https://testserver") as client:
        client.headers["Authorization"] = f"Bearer {token}"
        listed = client.get("/api/v1/associations").json()["items"]
        assert [a["code"] for a in listed] == [seeded.world.a.code]
        assert runner.invoke(cli, ["users", "disable", "clerk_a"]).exit_code == 0
        assert client.get("/api/v1/associations").status_code == 401


def test_create_refuses_a_weak_password_and_an_unknown_scope(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    weak = runner.invoke(
        cli, ["users", "create", "x1", "--role", "auditor", "--county", "TC", "--password", "short"]
    )
    assert weak.exit_code == 1
    unknown = runner.invoke(
        cli,
        ["users", "create", "x2", "--role", "auditor", "--county", "NOPE",
         "--password", "good-password-9"],
    )  # fmt: skip
    assert unknown.exit_code == 1


def test_a_name_typed_with_a_space_signs_in_and_one_only_the_case_tells_apart_is_refused(
    cli_env: dict[str, str], app: FastAPI
) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["users", "create", " clerk_c", "--role", "county_reviewer", "--county", "TC",
         "--password", "good-password-9"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "created clerk_c " in created.output
    with TestClient(app, base_url="https://testserver") as client:
        signed = client.post(
            "/api/v1/auth/login", json={"username": "clerk_c", "password": "good-password-9"}
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["user"]["username"] == "clerk_c"
    # "Officer" would be another account the four-eyes checks take for officer
    twin = runner.invoke(
        cli,
        ["users", "create", "Officer", "--role", "county_reviewer", "--county", "TC",
         "--password", "good-password-9"],
    )  # fmt: skip
    assert twin.exit_code == 1
    assert "只差大小写" in twin.output
    assert "officer" in twin.output
    tabbed = runner.invoke(
        cli,
        ["users", "create", "clerk\td", "--role", "county_reviewer", "--county", "TC",
         "--password", "good-password-9"],
    )  # fmt: skip
    assert tabbed.exit_code == 1
    assert "sign-in" in tabbed.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_answers_health_and_readiness(cli_env: dict[str, str], tmp_path: Path) -> None:
    # the seeded database holds cards: serve needs their key, it never makes a new one
    Path(cli_env["HUZHU_FIELD_KEY_FILE"]).write_text(
        base64.b64encode(CIPHER_KEY).decode() + "\n", encoding="ascii"
    )
    port = _free_port()
    env = {**os.environ, **cli_env, "HUZHU_CONFIG_DIR": str(tmp_path / "no-config")}
    (tmp_path / "no-config").mkdir()
    (tmp_path / "no-config" / "default.toml").write_text("", encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from gateway.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    _, stderr = process.communicate(timeout=10)
                    pytest.fail(f"huzhu serve did not answer: {stderr.decode()[-2000:]}")
                time.sleep(0.3)
        assert health.json() == {"status": "ok", "checks": []}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()
        assert ready["status"] == "ok"
        assert [c["name"] for c in ready["checks"]] == ["database"]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert "huzhu_http_requests_total" in metrics.text
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_refuses_a_database_with_cards_when_its_key_file_is_missing(
    cli_env: dict[str, str], seeded: Seeded
) -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "restore that key file" in result.output
    assert not Path(cli_env["HUZHU_FIELD_KEY_FILE"]).exists()


def test_keys_generate_and_rotate(
    cli_env: dict[str, str], tmp_path: Path, api_sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    Path(cli_env["HUZHU_FIELD_KEY_FILE"]).write_text(
        base64.b64encode(CIPHER_KEY).decode() + "\n", encoding="ascii"
    )
    runner = CliRunner()
    new_key = tmp_path / "keys" / "field-2.key"
    assert runner.invoke(cli, ["keys", "generate", str(new_key)]).exit_code == 0
    assert oct(new_key.stat().st_mode & 0o777) == "0o600"
    rotated = runner.invoke(cli, ["keys", "rotate", "--new-key-file", str(new_key)])
    assert rotated.exit_code == 0, rotated.output
    new = FieldCipher(base64.b64decode(new_key.read_text().strip()))
    member_id = seeded.world.members_a[0].id
    with api_sessions() as session:
        card = members.card_number(session, new, member_id)
    assert card.endswith(seeded.world.members_a[0].card_last4)
