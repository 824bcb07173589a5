"""A whole signed and encrypted exchange over a transport, both directions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from adapters.bankconfig import SecuritySection
from adapters.records import FileKind
from adapters.security import FileSecurity, SignatureInvalidError
from adapters.security.keys import PrivateKey, write_private_key, write_public_key
from adapters.transport import (
    DeliveryStatus,
    MemoryTransport,
    UploadConventions,
    deliver,
    fetch_inbound,
)


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> tuple[FileSecurity, FileSecurity]:
    folder = tmp_path_factory.mktemp("exchange")
    made: dict[str, Path] = {}
    generated: dict[str, PrivateKey] = {
        "county_sign": ed25519.Ed25519PrivateKey.generate(),
        "county_decrypt": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "bank_sign": ed25519.Ed25519PrivateKey.generate(),
        "bank_decrypt": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    for name, key in generated.items():
        made[name] = folder / f"{name}.pem"
        made[f"{name}_pub"] = folder / f"{name}.pub.pem"
        write_private_key(key, made[name])
        write_public_key(key.public_key(), made[f"{name}_pub"])

    def side(me: str, peer: str) -> FileSecurity:
        return FileSecurity.from_config(
            SecuritySection(
                sign="ed25519",
                sign_key_path=made[f"{me}_sign"],
                verify="ed25519",
                verify_key_path=made[f"{peer}_sign_pub"],
                encrypt=True,
                encrypt_key_path=made[f"{peer}_decrypt_pub"],
                decrypt=True,
                decrypt_key_path=made[f"{me}_decrypt"],
            )
        )

    return side("county", "bank"), side("bank", "county")


def test_batch_out_and_result_back(sides: tuple[FileSecurity, FileSecurity]) -> None:
    county, bank = sides
    server = MemoryTransport(
        UploadConventions(marker_suffix=".ok", checksum_suffix=".sha256"), folders=["in", "out"]
    )
    batch = "<Document>代发 100.00</Document>".encode()

    # The county: protect once, store bytes and hash, deliver (twice: nothing is resent).
    protected = county.protect(batch)
    stored_hash = hashlib.sha256(protected.data).hexdigest()
    for expected in (DeliveryStatus.DELIVERED, DeliveryStatus.ALREADY_DELIVERED):
        outcome = deliver(
            server, "in", "PAIN001_1.xml", protected.data, stored_hash, sidecars=protected.sidecars
        )
        assert outcome.status is expected
    files = server.files()
    assert batch not in files["in/PAIN001_1.xml"]
    assert stored_hash in files["in/PAIN001_1.xml.sha256"].decode()

    # The bank opens it.
    opened = bank.unprotect(
        "PAIN001_1.xml", files["in/PAIN001_1.xml"], files["in/PAIN001_1.xml.sig"]
    )
    assert opened == batch

    # The bank answers; the county collects and opens the answer.
    answer = bank.protect(b"<Document>ACSC</Document>")
    server.put("out/PAIN002_1.xml", answer.data)
    server.put("out/PAIN002_1.xml.sig", answer.sidecars[".sig"])
    server.put("out/PAIN002_1.xml.ok", b"")
    (inbound,) = fetch_inbound(
        server, "out", {FileKind.RESULT: ["PAIN002_*.xml"]}, marker_suffix=".ok"
    )
    assert county.unprotect(inbound.name, inbound.data, inbound.signature) == (
        b"<Document>ACSC</Document>"
    )

    # A file swapped on the server by someone without the bank's key is refused.
    forged = county.protect(b"<Document>forged</Document>")
    server.put("out/PAIN002_1.xml", forged.data)
    (swapped,) = fetch_inbound(
        server, "out", {FileKind.RESULT: ["PAIN002_*.xml"]}, marker_suffix=".ok"
    )
    with pytest.raises(SignatureInvalidError):
        county.unprotect(swapped.name, swapped.data, swapped.signature)
