"""The encryption envelope: round trip, and every way a wrong file is refused."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.security import (
    EnvelopeFormatError,
    EnvelopeIntegrityError,
    KeyLoadError,
    WrongRecipientError,
    is_envelope,
    open_envelope,
    seal,
)
from adapters.security.envelope import MAGIC

STATEMENT = "B|8801|示范村互助协会|1000000.00|1000500.00\r\n".encode("gb18030") * 50


@pytest.fixture(scope="module")
def ours() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stranger() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def test_round_trip_and_the_header(ours: rsa.RSAPrivateKey) -> None:
    envelope = seal(STATEMENT, ours.public_key())
    assert is_envelope(envelope)
    assert envelope[:9] == MAGIC + b"\x01"
    (wrapped_size,) = struct.unpack(">H", envelope[41:43])
    assert wrapped_size == 256
    assert len(envelope) == 43 + 256 + 12 + len(STATEMENT) + 16
    assert STATEMENT not in envelope
    assert open_envelope(envelope, ours) == STATEMENT


def test_every_file_gets_a_fresh_key_and_nonce(ours: rsa.RSAPrivateKey) -> None:
    assert seal(b"same", ours.public_key()) != seal(b"same", ours.public_key())


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=4096))
def test_round_trip_for_any_content(ours: rsa.RSAPrivateKey, data: bytes) -> None:
    assert open_envelope(seal(data, ours.public_key()), ours) == data


def test_encrypted_to_another_key_is_refused_as_wrong_recipient(
    ours: rsa.RSAPrivateKey, stranger: rsa.RSAPrivateKey
) -> None:
    envelope = seal(STATEMENT, stranger.public_key())
    with pytest.raises(WrongRecipientError, match=r"STMT_1\.txt was encrypted to key"):
        open_envelope(envelope, ours, name="STMT_1.txt")


@pytest.mark.parametrize("keep", [0, 5, 30, 43, 43 + 256 + 12, 43 + 256 + 12 + 15])
def test_truncated_envelopes_are_refused_as_malformed(ours: rsa.RSAPrivateKey, keep: int) -> None:
    envelope = seal(STATEMENT, ours.public_key())
    with pytest.raises(EnvelopeFormatError, match=r"truncated|not an encrypted"):
        open_envelope(envelope[:keep], ours)


def test_truncated_ciphertext_fails_authentication(ours: rsa.RSAPrivateKey) -> None:
    envelope = seal(STATEMENT, ours.public_key())
    with pytest.raises(EnvelopeIntegrityError, match="modified or truncated"):
        open_envelope(envelope[:-100], ours)


@pytest.mark.parametrize(
    "offset",
    [
        -1,  # the tag
        -40,  # the ciphertext
        43 + 256 + 3,  # the nonce
        43 + 10,  # the wrapped key
    ],
)
def test_any_modified_byte_is_refused(ours: rsa.RSAPrivateKey, offset: int) -> None:
    envelope = bytearray(seal(STATEMENT, ours.public_key()))
    envelope[offset] ^= 0x80
    with pytest.raises(EnvelopeIntegrityError):
        open_envelope(bytes(envelope), ours)


def test_plain_files_and_unknown_versions_are_refused(ours: rsa.RSAPrivateKey) -> None:
    with pytest.raises(EnvelopeFormatError, match="not an encrypted envelope"):
        open_envelope(STATEMENT, ours)
    envelope = bytearray(seal(STATEMENT, ours.public_key()))
    envelope[8] = 2
    with pytest.raises(EnvelopeFormatError, match="version 2"):
        open_envelope(bytes(envelope), ours)


def test_wrapped_key_length_that_does_not_fit_our_key_is_refused(ours: rsa.RSAPrivateKey) -> None:
    envelope = bytearray(seal(STATEMENT, ours.public_key()))
    envelope[41:43] = struct.pack(">H", 512)
    with pytest.raises(EnvelopeFormatError, match="512-byte wrapped key"):
        open_envelope(bytes(envelope), ours)


def test_short_recipient_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeyLoadError, match="1024 bits"):
        seal(b"x", weak.public_key())
