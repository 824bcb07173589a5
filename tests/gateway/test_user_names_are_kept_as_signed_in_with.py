"""A user name is kept as it is signed in with, and no two users are one person to the
four-eyes checks: outer spaces are dropped, a name only the case tells from another's is
refused, and so is one that could not be typed at sign-in or told from another's."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gateway.auth.models import Role, User
from gateway.auth.service import create_user, find_user
from gateway.errors import Conflict, ValidationFailed
from gateway.queue.service import same_person
from gateway.testing import World


def _officer(session: Session, world: World, username: str, display_name: str = "") -> User:
    return create_user(
        session,
        username=username,
        display_name=display_name,
        role=Role.COUNTY_OFFICER,
        county_id=world.county.id,
    )


def test_a_name_typed_with_spaces_around_it_is_kept_without_them(
    world: World, session: Session
) -> None:
    user = _officer(session, world, " officer ", display_name="  王主任 ")
    assert (user.username, user.display_name) == ("officer", "王主任")
    # with no display name given, the user is shown by their name
    assert _officer(session, world, "\u3000li\u3000").display_name == "li"


def test_a_name_differing_from_another_only_by_case_is_refused(
    world: World, session: Session
) -> None:
    _officer(session, world, "officer")
    for other in ("Officer", "OFFICER", " officer"):
        with pytest.raises(Conflict) as refused:
            _officer(session, world, other)
        assert "officer" in refused.value.message_zh
    # so the four-eyes checks, which set case aside, never take two accounts for one person
    assert same_person("user:officer", "Officer")
    assert find_user(session, "Officer") is find_user(session, "officer")
    assert find_user(session, "user:officer") is find_user(session, "officer")


def test_a_name_with_a_tab_a_line_break_or_a_run_of_spaces_is_refused(
    world: World, session: Session
) -> None:
    for name in ("of\tficer", "of\nficer", "wang  li", "wang\u3000li", "wang\u00a0li", "a\u200bb"):
        with pytest.raises(ValidationFailed) as refused:
            _officer(session, world, name)
        assert "sign-in" in refused.value.message_en, name
    # one plain space between two words signs in as typed
    assert _officer(session, world, "wang li").username == "wang li"


def test_a_name_the_audit_log_would_read_as_another_users_is_refused(
    world: World, session: Session
) -> None:
    with pytest.raises(ValidationFailed, match="user:"):
        _officer(session, world, "user:zhao")
    with pytest.raises(ValidationFailed, match="user name is needed"):
        _officer(session, world, "   ")
    with pytest.raises(ValidationFailed, match="at most 60"):
        _officer(session, world, "z" * 61)
