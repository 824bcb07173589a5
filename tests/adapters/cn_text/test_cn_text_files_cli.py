"""`huzhu files inspect` and `huzhu files render`, driven through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app

DATA = Path(__file__).with_name("data")
CONFIG = Path(__file__).resolve().parents[3] / "config"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["files", *args, "--config-dir", str(CONFIG)])
    return result.exit_code, result.stdout, result.stderr


def test_render_with_a_bank_code_writes_the_golden_file(tmp_path: Path) -> None:
    out = tmp_path / "DF_HZ20240502001.txt"
    code, _, err = _run(
        "render",
        "--bank",
        "rcb",
        "--kind",
        "disbursement",
        str(DATA / "disbursement_basic.json"),
        "-o",
        str(out),
    )
    assert code == 0, err
    assert out.read_bytes() == (DATA / "disbursement_basic.expected.txt").read_bytes()
    assert "3 instructions" in err


def test_render_to_standard_output_with_a_layout() -> None:
    result = runner.invoke(
        app,
        [
            "files",
            "render",
            "--layout",
            str(CONFIG / "banks" / "layouts" / "rcb_pipe.toml"),
            "--kind",
            "collection",
            str(DATA / "collection_mandates.json"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == (DATA / "collection_mandates.expected.txt").read_bytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["instructions"][0].update(amount_fen=12.5), "instructions.0.amount_fen"),
        (lambda b: b["instructions"][1].update(amount_fen="100"), "instructions.1.amount_fen"),
        (lambda b: b["instructions"][0].update(amount_fen=0), "instructions.0.amount_fen"),
        (lambda b: b.update(colour="red"), "colour"),
        (lambda b: b.pop("message_id"), "message_id"),
        (lambda b: b.update(instructions=[]), "an empty batch cannot be sent"),
        (
            lambda b: b["instructions"][1].update(end_to_end_id="HZ20240502001E0001"),
            "duplicate end-to-end id",
        ),
    ],
)
def test_render_refuses_bad_instructions(tmp_path: Path, change: object, message: str) -> None:
    batch = json.loads((DATA / "disbursement_basic.json").read_text("utf-8"))
    assert callable(change)
    change(batch)
    source = tmp_path / "batch.json"
    source.write_text(json.dumps(batch, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.txt"
    code, _, err = _run(
        "render", "--bank", "rcb", "--kind", "disbursement", str(source), "-o", str(out)
    )
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_render_needs_a_format(tmp_path: Path) -> None:
    code, _, err = _run("render", "--kind", "disbursement", str(DATA / "disbursement_basic.json"))
    assert code == 2
    assert "--adapter, --layout or --bank" in err


def test_inspect_detects_a_result_file_and_prints_fen(tmp_path: Path) -> None:
    path = tmp_path / "RESULT_rcb_20240502_001.txt"
    shutil.copy(DATA / "result_mixed.txt", path)
    code, out, err = _run("inspect", str(path))
    assert code == 0, err
    document = json.loads(out)
    assert document["kind"] == "result"
    assert document["adapter"] == "cn_text (rcb_pipe.toml)"
    assert document["content"] == json.loads(
        (DATA / "result_mixed.expected.json").read_text("utf-8")
    )
    partial = document["content"]["results"][4]
    assert partial["status"] == "partially_settled"
    assert (partial["settled_amount_fen"], partial["requested_amount_fen"]) == (12505, 25000)


def test_inspect_with_a_bank_code(tmp_path: Path) -> None:
    path = tmp_path / "STMT_rcb_20240502.txt"
    shutil.copy(DATA / "statement_day.txt", path)
    code, out, err = _run("inspect", str(path), "--bank", "rcb")
    assert code == 0, err
    document = json.loads(out)
    assert document["kind"] == "statement"
    assert document["content"][0]["closing_balance_fen"] == 128196080


def test_inspect_a_fixed_width_file_by_layout(tmp_path: Path) -> None:
    batch = tmp_path / "PLDFHZ1.DAT"
    layout = CONFIG / "banks" / "layouts" / "rcc_fixed.toml"
    code, _, err = _run(
        "render",
        "--layout",
        str(layout),
        "--kind",
        "disbursement",
        str(DATA / "disbursement_basic.json"),
        "-o",
        str(batch),
    )
    assert code == 0, err
    code, out, err = _run("inspect", str(batch), "--layout", str(layout))
    assert code == 0, err
    content = json.loads(out)["content"]
    assert content["control_sum_fen"] == 4_250_051
    assert [i["creditor_name"] for i in content["instructions"]] == ["张三", "吉𠮷", "欧阳㐀䶮"]


def test_inspect_a_malformed_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "RESULT_rcb_20240502_002.txt"
    shutil.copy(DATA / "result_total_mismatch.txt", path)
    code, out, err = _run("inspect", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "line 1" in err
    assert "field sum" in err
    assert "16950.06" in err


def test_inspect_a_file_nobody_recognises(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    code, _, err = _run("inspect", str(path))
    assert code == 2
    assert "no adapter recognises this file" in err


@pytest.mark.parametrize(
    ("content", "said"), [(b"", "file is empty"), (b" \r\n\t\n", "file is empty (only whitespace)")]
)
def test_inspect_an_empty_xml_file_says_it_is_empty(
    tmp_path: Path, content: bytes, said: str
) -> None:
    path = tmp_path / "camt053_20240502.xml"
    path.write_bytes(content)
    code, out, err = _run("inspect", str(path))
    assert code == 2
    assert out == ""
    assert err == f"error: camt053_20240502.xml: {said}\n"
    assert "no adapter recognises" not in err


def test_inspect_with_an_unknown_adapter(tmp_path: Path) -> None:
    path = tmp_path / "DF_x.txt"
    shutil.copy(DATA / "disbursement_basic.expected.txt", path)
    code, _, err = _run("inspect", str(path), "--adapter", "no_such_bank")
    assert code == 2
    assert "no adapter named 'no_such_bank'" in err
    assert "cn_text" in err


def test_inspect_a_missing_file(tmp_path: Path) -> None:
    code, _, err = _run("inspect", str(tmp_path / "absent.txt"))
    assert code == 2
    assert "cannot be read" in err
