"""Users and their scope. Passwords and sessions are added on top of this."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.auth.models import Role, User
from gateway.errors import Conflict, NotFound, ValidationFailed

_COUNTY_ROLES = (Role.COUNTY_OFFICER, Role.COUNTY_REVIEWER, Role.BANK_OPERATOR, Role.AUDITOR)
_ASSOCIATION_ROLES = (Role.TREASURER, Role.AUDITOR)


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
    """A user scoped to a county or to one association (an admin to neither)."""
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
