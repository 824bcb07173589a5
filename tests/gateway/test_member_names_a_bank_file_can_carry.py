"""A member's name goes into every bank file written for them: a name holding a line break, a
tab or an invisible mark (zero-width space, direction mark) is refused at registration with
the characters named, and nothing is registered; unusual but printable names are kept."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.demo.generate import card_number, phone, resident_id
from gateway.errors import ValidationFailed
from gateway.members.models import Member
from gateway.members.schemas import MemberInput
from gateway.members.service import register_member
from gateway.testing import World


def _input(name: str, seed: int) -> MemberInput:
    rng = random.Random(seed)
    return MemberInput(
        member_no=f"N{seed}",
        name=name,
        resident_id=resident_id(rng, "371321", (date(1960, 1, 1), date(1999, 1, 1))),
        card_number=card_number(rng, "623199"),
        phone=phone(rng),
        household_no=f"H-N{seed}",
        joined_on=date(2024, 3, 1),
    )


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("张\n三", "U+000A"),
        ("张\r\n三", "U+000D、U+000A"),
        ("张\t三", "U+0009"),
        ("李\u200b四", "U+200B"),
        ("王\u202e五", "U+202E"),
    ],
)
def test_a_name_with_control_characters_is_refused_and_nothing_registered(
    world: World, session: Session, name: str, named: str
) -> None:
    before = session.scalar(select(func.count(Member.id)))
    with pytest.raises(ValidationFailed) as refused:
        register_member(session, world.cipher, world.a.id, _input(name, seed=7))
    assert refused.value.message_zh.startswith("会员信息有误")
    assert "控制字符" in refused.value.message_zh
    assert named in refused.value.message_zh
    assert "control characters" in refused.value.message_en
    assert session.scalar(select(func.count(Member.id))) == before


@pytest.mark.parametrize("name", ["𠮷吉", "阿卜杜·热合曼", "刘\u3000洋", "张|三"])
def test_unusual_printable_names_are_registered_as_given(
    world: World, session: Session, name: str
) -> None:
    # a layout's delimiter is that bank's matter: the batch builder holds back only the
    # instruction it cannot write (tests/batches/test_one_unwritable_instruction_...)
    member = register_member(session, world.cipher, world.a.id, _input(name, seed=11))
    assert member.name == name
