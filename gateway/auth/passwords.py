"""Password hashing with Argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.errors import ValidationFailed

MIN_LENGTH = 10

_hasher = PasswordHasher()


def check_strength(password: str) -> None:
    """Refuse a password that is too short or all one kind of character."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(
            f"密码至少 {MIN_LENGTH} 位", f"a password needs at least {MIN_LENGTH} characters"
        )
    if password.isdigit() or password.isalpha():
        raise ValidationFailed(
            "密码须同时包含字母和数字或符号",
            "a password must mix letters with digits or symbols",
        )


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing or malformed hash never matches."""
    if not stored_hash:
        # Spend the same effort as a real check, so a missing user is not told apart by timing.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
