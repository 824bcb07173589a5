"""Encryption at rest for card and resident-ID numbers.

Each value is stored three ways: AES-256-GCM ciphertext (random nonce, the field name as
associated data so a card cipher cannot pass for an ID), an HMAC-SHA256 keyed hash for exact
look-up and uniqueness, and its last four digits for masked display. Both keys are derived
with HKDF from one 32-byte master key kept in a file or an environment variable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine, inspect, text

from gateway.errors import ConfigurationError, ValidationFailed
from gateway.settings import Settings

_VERSION = b"\x01"
_NONCE_BYTES = 12
KEY_BYTES = 32

# Every column holding values encrypted with the field key, by table. A database with a value
# in any of them needs the key it was written with: a new key is never made for it.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "members": ("card_cipher", "resident_id_cipher"),
}


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"huzhu-field:" + purpose
    ).derive(master)


def generate_key_text() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _decode_key(text: str, origin: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(
            f"字段加密密钥格式错误：{origin}",
            f"field encryption key in {origin} is not base64",
        ) from exc
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"字段加密密钥长度应为 {KEY_BYTES} 字节：{origin}",
            f"field encryption key in {origin} must be {KEY_BYTES} bytes, got {len(key)}",
        )
    return key


class FieldCipher:
    """Encrypts, decrypts and hashes sensitive fields with keys derived from one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(_derive(master_key, b"encrypt"))
        self._mac_key = _derive(master_key, b"lookup")

    def __repr__(self) -> str:
        return "FieldCipher(<key hidden>)"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, database: Engine | Connection | None = None
    ) -> FieldCipher:
        """Load the key named by the settings (an env var first, else the key file).

        A missing key file is created only when ``field_key_autocreate`` allows it and
        ``database`` is given and holds nothing encrypted (a first run, the demo); otherwise
        it is refused: a database with encrypted cards needs its own key restored, never a
        new one."""
        if settings.field_key_env:
            text = os.environ.get(settings.field_key_env)
            if text is None:
                raise ConfigurationError(
                    f"环境变量 {settings.field_key_env} 未设置字段加密密钥",
                    f"environment variable {settings.field_key_env} holding the field key "
                    "is not set",
                )
            return cls(_decode_key(text, f"${settings.field_key_env}"))
        assert settings.field_key_file is not None  # the settings validator ensures one
        return cls(_decode_key(_read_or_create(settings, database), str(settings.field_key_file)))

    def encrypt(self, field: str, value: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode(), field.encode())

    def decrypt(self, field: str, blob: bytes) -> str:
        if blob[:1] != _VERSION or len(blob) <= 1 + _NONCE_BYTES:
            raise ValidationFailed("加密字段格式不识别", f"unrecognised {field} ciphertext")
        nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, field.encode()).decode()
        except InvalidTag as exc:
            raise ValidationFailed(
                "加密字段无法解密（密钥不符或数据被改动）",
                f"{field} cannot be decrypted: wrong key or tampered data",
            ) from exc

    def lookup_hash(self, field: str, value: str) -> str:
        message = field.encode() + b"\x00" + value.encode()
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()


def holds_encrypted_data(database: Engine | Connection) -> bool:
    """Whether any column of :data:`ENCRYPTED_COLUMNS` holds a value (tables not created yet
    hold none)."""
    if isinstance(database, Engine):
        with database.connect() as connection:
            return holds_encrypted_data(connection)
    tables = set(inspect(database).get_table_names())
    for table, columns in ENCRYPTED_COLUMNS.items():
        if table not in tables:
            continue
        held = " OR ".join(f"{column} IS NOT NULL" for column in columns)
        if database.execute(text(f"SELECT 1 FROM {table} WHERE {held} LIMIT 1")).first():
            return True
    return False


def _read_or_create(settings: Settings, database: Engine | Connection | None) -> str:
    path = Path(settings.field_key_file or "")
    if path.exists():
        return path.read_text(encoding="ascii")
    if database is not None and holds_encrypted_data(database):
        raise ConfigurationError(
            f"字段加密密钥文件不存在：{path}。数据库中已有用该密钥加密的卡号/身份证号，"
            "不会新建密钥：请从备份恢复该文件（或让 field_key_file 指向它）",
            f"field encryption key file {path} does not exist, and the database already holds "
            "card and ID numbers encrypted with a key: restore that key file from backup (or "
            "point field_key_file at it); a new key is not created",
            code="field_key_missing",
        )
    if not settings.field_key_autocreate or database is None:
        raise ConfigurationError(
            f"字段加密密钥文件不存在：{path}（新库可用 huzhu keys generate {path} 生成）",
            f"field encryption key file {path} does not exist "
            f"(for a new database: huzhu keys generate {path})",
            code="field_key_missing",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = generate_key_text()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text(encoding="ascii")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    return text


def mask_card(number: str) -> str:
    """``"6217001234561234"`` -> ``"6217 **** **** 1234"``."""
    digits = "".join(ch for ch in number if not ch.isspace())
    if len(digits) < 8:
        return "****"
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_card_parts(prefix: str, last4: str) -> str:
    return f"{prefix[:4]} **** **** {last4}"


def mask_resident_id(number: str) -> str:
    """``"110101199003071234"`` -> ``"1101**********1234"``."""
    if len(number) < 8:
        return "****"
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
