"""Users and their scope. Passwords and sessions are added on top of this.

A user name is kept as it is signed in with: :func:`canonical_username` strips it (as sign-in
does) and refuses what cannot be typed or told apart, and :func:`create_user` refuses a name
that is another user's but for its case or full-width letters (:func:`person_key`), the way
the four-eyes checks compare the names of the people acting.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.auth.models import Role, User
from gateway.errors import Conflict, NotFound, ValidationFailed

_COUNTY_ROLES = (Role.COUNTY_OFFICER, Role.COUNTY_REVIEWER, Role.BANK_OPERATOR, Role.AUDITOR)
_ASSOCIATION_ROLES = (Role.TREASURER, Role.AUDITOR)
USERNAME_MAX = 60  # the column's length
ACTOR_PREFIX = "user:"  # how the audit log names a signed-in user (``Principal.actor``)


def person_key(name: str) -> str:
    """A person's name as the four-eyes checks compare it: case, full-width or compatibility
    forms of letters and digits (``ａｌｉｃｅ``, ``ＡＬＩＣＥ``, a full-width space) and outer
    spaces aside, since such a spelling reads as the same name; and the same whether it came
    signed in (``user:alice``, the API and console) or typed (``alice``, ``--by`` on the
    command line). Unicode NFKC normalisation and case folding, as for identifiers that are
    compared without regard to case. No two users share one (:func:`create_user`)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()
    return folded.removeprefix(ACTOR_PREFIX).strip()


def canonical_username(username: str) -> str:
    """The name a new user signs in with: ``username`` without its outer spaces (sign-in strips
    what is typed, so a name kept with them could never sign in). Refused: an empty or too
    long name; tabs, line breaks, other invisible characters, any space but a single plain
    one between two characters (the sign-in form drops line breaks, and a page shows a run
    of spaces, or a no-break or full-width space, just like one plain space, so such a name
    reads as another's); and a name starting ``user:``, which is how the audit log and the
    four-eyes checks name a signed-in user."""
    name = username.strip()
    if not name:
        raise ValidationFailed("用户名不能为空", "a user name is needed", field="username")
    if len(name) > USERNAME_MAX:
        raise ValidationFailed(
            f"用户名不能超过 {USERNAME_MAX} 个字符",
            f"a user name has at most {USERNAME_MAX} characters",
            field="username",
        )
    odd = [
        c
        for c in name
        if (c.isspace() and c != " ") or unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")
    ]
    if odd or "  " in name:
        raise ValidationFailed(
            f"用户名 {name!r} 含有制表符、换行、连续空格或不可见字符，"
            "登录时无法输入或无法与他人区分",
            f"the user name {name!r} holds a tab, a line break, a run of spaces or an "
            "invisible character: it could not be typed at sign-in or told from another's",
            field="username",
        )
    if name.casefold().startswith(ACTOR_PREFIX):
        raise ValidationFailed(
            f"用户名不能以 {ACTOR_PREFIX} 开头（审计记录以此标示登录用户）",
            f"a user name cannot start with {ACTOR_PREFIX}: the audit log names signed-in users so",
            field="username",
        )
    return name


def find_user(session: Session, name: str) -> User | None:
    """The user a typed name means: the user of exactly that name (outer spaces aside), else
    the one user whose name is the same as the four-eyes checks compare names (case and
    full-width letters aside, ``user:alice`` as the audit log writes it); ``None`` when there
    is none, or more than one (two names only the case or full-width letters tell apart, made
    before that was refused)."""
    typed = name.strip()
    exact = session.scalar(select(User).where(User.username == typed))
    if exact is not None:
        return exact
    key = person_key(typed)
    if not key:
        return None
    same = [user for user in session.scalars(select(User)) if person_key(user.username) == key]
    return same[0] if len(same) == 1 else None


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role,
    county_id: int | None = None,
    association_id: int | None = None,
    bank_id: int | None = None,
    can_unmask: bool = False,
    actor: str = "system",
) -> User:
    """A user scoped to a county or to one association (an admin to neither), named by
    :func:`canonical_username`; a name that is another user's but for its case or full-width
    letters is refused."""
    username = canonical_username(username)
    display_name = display_name.strip() or username
    if role == Role.ADMIN and (county_id or association_id):
        raise ValidationFailed("管理员不限定范围", "an admin has no county or association scope")
    if role == Role.TREASURER and association_id is None:
        raise ValidationFailed("会计须属于某个协会", "a treasurer belongs to one association")
    if (
        role in (Role.COUNTY_OFFICER, Role.COUNTY_REVIEWER, Role.BANK_OPERATOR)
        and county_id is None
    ):
        raise ValidationFailed("县级用户须指定县", f"a {role.value} is scoped to a county")
    if (role == Role.BANK_OPERATOR) != (bank_id is not None):
        raise ValidationFailed("银行操作员须指定银行", "a bank operator (only) is scoped to a bank")
    if role == Role.AUDITOR and county_id is None and association_id is None:
        raise ValidationFailed("审计用户须指定范围", "an auditor needs a county or association")
    if county_id is not None and association_id is not None:
        raise ValidationFailed("只能指定一种范围", "scope is a county or an association, not both")
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"用户名 {username} 已存在", f"user {username} exists")
    key = person_key(username)
    for existing in session.scalars(select(User.username)):
        if person_key(existing) == key:
            raise Conflict(
                f"用户名 {username} 与已有用户 {existing} 只差大小写或全角半角，"
                "复核时会被视为同一人",
                f"the user name {username} differs from the existing user {existing} only by "
                "case or by full-width letters: the four-eyes checks would take them for one "
                "person",
                code="username_taken",
            )
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        county_id=county_id,
        association_id=association_id,
        bank_id=bank_id,
        can_unmask=can_unmask,
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        payload={
            "username": username,
            "role": role.value,
            "county_id": county_id,
            "association_id": association_id,
            "bank_id": bank_id,
            "can_unmask": can_unmask,
        },
    )
    return user


def get_user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username} 不存在", f"user {username} not found")
    return user
