"""Rotating the field-encryption key: numbers readable and findable under the new key only,
a resumed rotation skips what is done, an unreadable member refuses the whole rotation."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import ValidationFailed
from gateway.members import service as members
from gateway.members.models import Member
from gateway.security.fieldcrypt import FieldCipher
from gateway.security.rotation import rotate_field_key
from tests.api.conftest import CIPHER_KEY

NEW_KEY = bytes(range(100, 132))


def test_rotation_moves_every_member_to_the_new_key(
    api_sessions: sessionmaker[Session],
) -> None:
    old, new = FieldCipher(CIPHER_KEY), FieldCipher(NEW_KEY)
    with api_sessions() as session:
        before = {
            m.id: members.card_number(session, old, m.id) for m in session.scalars(select(Member))
        }
        report = rotate_field_key(session, old, new, actor="test")
        session.commit()
    assert report.rotated == len(before) > 0
    with api_sessions() as session:
        for member_id, card in before.items():
            assert members.card_number(session, new, member_id) == card
            found = members.find_by_card(session, new, card)
            assert found is not None
            assert found.id == member_id
            assert members.find_by_card(session, old, card) is None
            with pytest.raises(ValidationFailed):
                members.card_number(session, old, member_id)
        again = rotate_field_key(session, old, new, actor="test")
        assert again.rotated == 0
        assert again.already_new == len(before)


def test_a_member_under_neither_key_refuses_the_rotation(
    api_sessions: sessionmaker[Session],
) -> None:
    old, new, stray = (
        FieldCipher(CIPHER_KEY),
        FieldCipher(NEW_KEY),
        FieldCipher(bytes(range(200, 232))),
    )
    with api_sessions() as session:
        victim = session.scalars(select(Member).order_by(Member.id.desc())).first()
        assert victim is not None
        victim.card_cipher = stray.encrypt("card", "6217000000000001")
        session.commit()
        first = session.scalars(select(Member).order_by(Member.id)).first()
        assert first is not None
        first_cipher = first.card_cipher
        with pytest.raises(ValidationFailed, match=str(victim.id)):
            rotate_field_key(session, old, new, actor="test")
        session.rollback()
        first = session.get(Member, first.id)
        assert first is not None
        assert first.card_cipher == first_cipher  # nothing half-rotated
