"""``config/sandbox.toml``: the shipped file loads, broken ones are refused naming the key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.records import Direction, ResultStatus
from adapters.registry import load_adapter
from adapters.sandbox import BankEngine
from adapters.sandbox.config import load_config, parse_config
from adapters.sandbox.errors import SandboxConfigError, SandboxError
from adapters.sandbox.faults import FaultKind
from adapters.sandbox.security import ENCRYPT_KEY, SIGN_KEYS, public_path
from adapters.security import FileSecurity, SignatureAlgorithm, Signer, Verifier
from adapters.security.keys import load_public_key, write_public_key
from tests.adapters.sandbox.sandbox_support import (
    CARD_ZHANG,
    DAY1,
    SPECIAL,
    SUB_A,
    JsonRecordsAdapter,
    batch,
    raw_config,
    seeded_engine,
    submit,
)

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_loads_and_points_at_the_bank_config() -> None:
    config = load_config(REPO / "config" / "sandbox.toml")
    assert config.host == "127.0.0.1"
    assert config.port == 2222
    (inst,) = [i for i in config.institutions if i.name == "rcb_county"]
    assert inst.adapter == "cn_text"
    assert inst.adapter_config_dir == REPO / "config" / "banks"
    assert config.faults.chance(FaultKind.CLOSED_CARD) > 0
    assert config.faults.refusals


def _broken(tmp_path: Path, change: Any) -> dict[str, Any]:
    raw = raw_config(tmp_path)
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda r: r["server"].update(port=70000), "server.port"),
        (lambda r: r.update(institutions=[]), "institutions"),
        (lambda r: r["institutions"][0].pop("special_account"), "special_account"),
        (lambda r: r["institutions"][0].update(name="../etc"), "institutions[0].name"),
        (lambda r: r["institutions"][0].update(collection_shortfall="maybe"), "shortfall"),
        (lambda r: r["faults"]["per_mille"].update(closed_card=1500), "closed_card"),
        (lambda r: r["faults"]["per_mille"].update(closed_card=0.5), "closed_card"),
        (lambda r: r["faults"]["per_mille"].update(meteor=1), "meteor"),
        (lambda r: r["faults"]["scheduled"].append({"kind": "cash_deposit"}), "date"),
        (lambda r: r["faults"]["scheduled"].append({"kind": "flood"}), "kind"),
        (
            lambda r: r["faults"]["scheduled"].append(
                {"kind": "cash_withdrawal", "amount_fen": 1.5}
            ),
            "amount_fen",
        ),
        (lambda r: r["faults"]["sftp_refusals"].append({"count": 0}), "count"),
        (lambda r: r["faults"]["sftp_refusals"].append({"from": "9:00"}), "sftp_refusals[0]"),
    ],
)
def test_a_broken_config_is_refused_naming_the_key(tmp_path: Path, change: Any, key: str) -> None:
    with pytest.raises(SandboxConfigError) as caught:
        parse_config(_broken(tmp_path, change), config_dir=tmp_path)
    assert key in str(caught.value)


def test_a_missing_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[server\n", encoding="utf-8")
    with pytest.raises(SandboxConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_a_file_for_another_special_account_is_refused_whole(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    wrong = batch(Direction.DISBURSEMENT, [("E1", 100, SUB_A, CARD_ZHANG, "张三")])
    data = JsonRecordsAdapter().render_batch(dataclasses.replace(wrong, special_account="1"))
    submit(engine, "DF_x.json", data)
    report = engine.run_cutoff(DAY1)
    assert report.refused_files == ("DF_x.json",)
    assert engine.balance_fen(SUB_A) == 5_000_000
    notice = engine.institution_root("linyi") / "out" / "DF_x.json.refused.txt"
    assert SPECIAL in notice.read_text(encoding="utf-8")


def test_engine_needs_an_adapter_for_every_institution(tmp_path: Path) -> None:
    config = parse_config(raw_config(tmp_path), config_dir=tmp_path)
    with pytest.raises(SandboxError, match="no adapter given"):
        BankEngine(config, {})


def test_the_shipped_config_serves_both_banks_formats(tmp_path: Path) -> None:
    """Both institutions of config/sandbox.toml, with keys where the demo puts them."""
    raw = tomllib.loads((REPO / "config" / "sandbox.toml").read_text(encoding="utf-8"))
    keys = tmp_path / "keys"
    sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    decrypt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_public_key(sign_key.public_key(), keys / "sign_rsa.pub.pem")
    write_public_key(decrypt_key.public_key(), keys / "decrypt_rsa.pub.pem")
    raw["server"]["state_dir"] = str(tmp_path / "state")
    for inst in raw["institutions"]:
        inst["client_keys"] = []
        if "security" in inst:
            inst["security"]["verify_key_path"] = str(keys / "sign_rsa.pub.pem")
            inst["security"]["encrypt_key_path"] = str(keys / "decrypt_rsa.pub.pem")
    config = parse_config(raw, config_dir=REPO / "config")
    engine = BankEngine.from_config(config)
    day = config.clock_start.date() if config.clock_start else DAY1
    engine.open_sub_account("rcc_county", "9140100301001", "北寨村扶贫互助协会", on=day)
    engine.deposit("9140100301001", 1_000_000, on=day)
    engine.open_card(CARD_ZHANG, "张三")

    bank_keys = tmp_path / "state" / "keys"
    rsa_pss = SignatureAlgorithm.RSA_PSS_SHA256
    bank_encrypt = load_public_key(public_path(bank_keys / ENCRYPT_KEY))
    assert isinstance(bank_encrypt, rsa.RSAPublicKey)
    county = FileSecurity(
        signer=Signer(rsa_pss, sign_key, keys / "sign_rsa.pem"),
        verifier=Verifier.from_path(rsa_pss, public_path(bank_keys / SIGN_KEYS[rsa_pss])),
        recipient=bank_encrypt,
        decryption_key=decrypt_key,
    )
    iso = load_adapter("iso20022", {}, config_dir=REPO / "config" / "banks")
    plain = iso.render_batch(
        dataclasses.replace(
            batch(
                Direction.DISBURSEMENT,
                [("E1", 250_000, "9140100301001", CARD_ZHANG, "张三")],
                message_id="PAIN001RCC1",
                on=day,
            ),
            special_account="9140100301",
        )
    )
    sent = county.protect(plain)
    folder = engine.institution_root("rcc_county") / "in"
    (folder / "PAIN001_rcc_iso_1.xml").write_bytes(sent.data)
    for suffix, content in sent.sidecars.items():
        (folder / ("PAIN001_rcc_iso_1.xml" + suffix)).write_bytes(content)
    (folder / "PAIN001_rcc_iso_1.xml.ok").write_bytes(b"")
    report = engine.run_cutoff(day)
    assert report.result_files == ("PAIN002_PAIN001RCC1.xml",)
    out = engine.institution_root("rcc_county") / "out"
    assert (out / "PAIN002_PAIN001RCC1.xml.ok").exists()
    answer = county.unprotect(
        "PAIN002_PAIN001RCC1.xml",
        (out / "PAIN002_PAIN001RCC1.xml").read_bytes(),
        (out / "PAIN002_PAIN001RCC1.xml.sig").read_bytes(),
    )
    (line,) = iso.parse_result(answer).results
    assert line.status is ResultStatus.SETTLED
    engine.end_of_day(day)
    assert (out / f"CAMT053_9140100301_{day:%Y%m%d}.xml").exists()
    assert (
        engine.institution_root("rcb_county") / "out" / f"STMT_9140100201_{day:%Y%m%d}.txt"
    ).exists()
