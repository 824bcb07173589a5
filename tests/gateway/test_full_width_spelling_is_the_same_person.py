"""A name spelt in full-width letters (ａｌｉｃｅ, ＡＬＩＣＥ) reads as the same name, so it is the
same person to the four-eyes checks and to the user look-up, and no second user can be made
under it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gateway.auth.models import Role
from gateway.auth.service import create_user, find_user, person_key
from gateway.errors import Conflict
from gateway.queue.service import same_person
from gateway.testing import World


def test_a_full_width_spelling_is_the_same_person(world: World, session: Session) -> None:
    alice = create_user(
        session, username="alice", display_name="", role=Role.COUNTY_OFFICER,
        county_id=world.county.id,
    )  # fmt: skip
    for spelt in (
        "ａｌｉｃｅ",
        "ＡＬＩＣＥ",
        "\u3000alice\u3000",
        "user:ａｌｉｃｅ",
        "ｕｓｅｒ：alice",
    ):
        assert person_key(spelt) == "alice", spelt
        assert same_person("user:alice", spelt), spelt
        assert find_user(session, spelt) is alice, spelt
    assert not same_person("alice", "alicia")

    with pytest.raises(Conflict) as refused:
        create_user(
            session, username="ａｌｉｃｅ", display_name="", role=Role.COUNTY_REVIEWER,
            county_id=world.county.id,
        )  # fmt: skip
    assert "全角" in refused.value.message_zh
    assert "full-width" in refused.value.message_en
