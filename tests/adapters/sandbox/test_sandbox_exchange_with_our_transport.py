"""The whole exchange as production runs it: our SFTP transport against the sandbox bank."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncssh
import pytest

from adapters.base import Adapter
from adapters.records import Direction, ResultStatus
from adapters.registry import load_adapter
from adapters.sandbox import BankEngine, ManualClock, SandboxServer
from adapters.transport.base import (
    DeliveryStatus,
    InboundAction,
    UploadConventions,
    deliver,
    dispose_fetched,
    sha256_hex,
)
from adapters.transport.errors import TransientTransportError
from adapters.transport.sftp import SftpSettings, SftpTransport
from tests.adapters.sandbox.sandbox_support import (
    CARD_LI,
    CARD_ZHANG,
    DAY1,
    INSTITUTION,
    SUB_A,
    batch,
    seeded_engine,
)

REPO = Path(__file__).resolve().parents[3]


class Exchange:
    def __init__(self, tmp_path: Path) -> None:
        key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = tmp_path / "client"
        key.write_private_key(str(self.client_key))
        key.write_public_key(str(tmp_path / "client.pub"))
        self.adapter: Adapter = load_adapter(
            "cn_text", {"layout": "layouts/rcb_pipe.toml"}, config_dir=REPO / "config" / "banks"
        )
        self.engine: BankEngine = seeded_engine(
            tmp_path / "bank",
            self.adapter,
            client_keys=[str(tmp_path / "client.pub")],
            refusals=[{"count": 1}],
        )
        self.server = SandboxServer.for_engine(
            self.engine, ManualClock(datetime(2025, 3, 3, 10, 0)), port=0
        )
        self.known_hosts = tmp_path / "known_hosts"

    def transport(self) -> SftpTransport:
        settings = SftpSettings(
            host="127.0.0.1",
            port=self.server.port,
            username=INSTITUTION,
            private_key_path=self.client_key,
            known_hosts_path=self.known_hosts,
            connect_timeout=10,
            operation_timeout=30,
            keepalive_interval=5,
        )
        conventions = UploadConventions(
            marker_suffix=".done", checksum_suffix=".sha256", processed_folder="out/processed"
        )
        return SftpTransport(settings, conventions)


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[Exchange]:
    ex = Exchange(tmp_path)
    with ex.server:
        ex.known_hosts.write_text(ex.server.known_hosts_line())
        yield ex


def test_deliver_book_fetch_and_put_away(exchange: Exchange) -> None:
    data = exchange.adapter.render_batch(
        batch(
            Direction.DISBURSEMENT,
            [("E1", 300_000, SUB_A, CARD_ZHANG, "张三"), ("E2", 200_000, SUB_A, CARD_LI, "李三")],
            message_id="DF20250303001",
        )
    )
    name = "DF_rcb_20250303_001.txt"
    with pytest.raises(TransientTransportError):
        exchange.transport().ping()  # the bank refuses the first connection: retry later
    with exchange.transport() as transport:
        first = deliver(transport, "in", name, data, sha256_hex(data))
        again = deliver(transport, "in", name, data, sha256_hex(data))
    assert first.status is DeliveryStatus.DELIVERED
    assert again.status is DeliveryStatus.ALREADY_DELIVERED

    report = exchange.engine.run_cutoff(DAY1)
    assert report.result_files == ("RESULT_DF20250303001.txt",)
    assert exchange.engine.run_cutoff(DAY1).result_files == ()  # never booked twice
    exchange.engine.end_of_day(DAY1)

    with exchange.transport() as transport:
        results = transport.list("out", "RESULT_*.txt")
        statements = transport.list("out", "STMT_*.txt")
        assert [f.name for f in results] == ["RESULT_DF20250303001.txt"]
        parsed = exchange.adapter.parse_result(transport.fetch(results[0].path))
        (statement,) = exchange.adapter.parse_statements(transport.fetch(statements[0].path))
        moved = dispose_fetched(transport, results[0].path, InboundAction.MOVE)
        assert moved == "out/processed/RESULT_DF20250303001.txt"
        assert transport.list("out", "RESULT_*.txt") == []
    outcome = {r.end_to_end_id: (r.status, r.reason_code) for r in parsed.results}
    assert outcome == {"E1": (ResultStatus.SETTLED, None), "E2": (ResultStatus.REJECTED, "BE01")}
    assert [e.end_to_end_id for e in statement.entries if e.end_to_end_id] == ["E1"]
    assert statement.closing_balance_fen == 7_700_000
    assert [f.kind.value for f in exchange.engine.injected_faults()] == ["sftp_refused"]
    out = exchange.engine.institution_root(INSTITUTION) / "out"
    assert (out / "RESULT_DF20250303001.txt.done").exists()
    exchange.engine.pick_up(DAY1 + timedelta(days=1))  # the bank tidies markers of fetched files
    assert not (out / "RESULT_DF20250303001.txt.done").exists()
    assert (out / "processed" / "RESULT_DF20250303001.txt").exists()
