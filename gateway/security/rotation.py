"""Rotating the field-encryption key: every card and resident-ID number is decrypted with the
old key and encrypted again, with new look-up hashes, under the new one.

It runs in the caller's transaction (all members or none). A member already under the new
key (a rotation resumed after an interruption) is recognised and left as it is; a member
readable under neither key stops the rotation with its id, so nothing is half-rotated.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.errors import ValidationFailed
from gateway.members.models import Member
from gateway.members.service import CARD_FIELD, RESIDENT_ID_FIELD
from gateway.security.fieldcrypt import FieldCipher


@dataclass(frozen=True)
class RotationReport:
    rotated: int
    already_new: int


def _readable(cipher: FieldCipher, member: Member) -> tuple[str, str] | None:
    try:
        return (
            cipher.decrypt(CARD_FIELD, member.card_cipher),
            cipher.decrypt(RESIDENT_ID_FIELD, member.resident_id_cipher),
        )
    except ValidationFailed:
        return None


def rotate_field_key(
    session: Session, old: FieldCipher, new: FieldCipher, *, actor: str, chunk: int = 500
) -> RotationReport:
    rotated = already_new = 0
    last_id = 0
    while True:
        members = list(
            session.scalars(
                select(Member).where(Member.id > last_id).order_by(Member.id).limit(chunk)
            )
        )
        if not members:
            break
        for member in members:
            last_id = member.id
            clear = _readable(old, member)
            if clear is None:
                if _readable(new, member) is not None:
                    already_new += 1
                    continue
                raise ValidationFailed(
                    f"会员 {member.id} 的加密字段无法用旧密钥或新密钥解密，轮换中止",
                    f"member {member.id} cannot be decrypted with the old or the new key; "
                    "the rotation is refused",
                    member_id=member.id,
                )
            card, resident_id = clear
            member.card_cipher = new.encrypt(CARD_FIELD, card)
            member.card_hash = new.lookup_hash(CARD_FIELD, card)
            member.resident_id_cipher = new.encrypt(RESIDENT_ID_FIELD, resident_id)
            member.resident_id_hash = new.lookup_hash(RESIDENT_ID_FIELD, resident_id)
            rotated += 1
        session.flush()
    audit.record(
        session,
        actor=actor,
        action="security.field_key_rotated",
        object_type="field_key",
        object_id="members",
        payload={"rotated": rotated, "already_new": already_new},
    )
    return RotationReport(rotated=rotated, already_new=already_new)
