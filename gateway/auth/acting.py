"""Who a name typed on the command line (``--by``, ``--actor``) is, when that person acts.

The console knows who acts: the signed-in user, whose role and scope are checked before every
action (:meth:`Principal.require`). A command that takes the person's name as text checks the
same way with :func:`acting_principal`: the name must be an active user's (found as
:func:`gateway.auth.service.find_user` finds it: case, full-width letters and outer spaces
aside) whose role holds the permission the console would require and whose scope covers the
object. Anyone else is refused with the reason, and a name accepted is recorded as the user's
own user name, so that the four-eyes checks, which compare the names of the people acting,
see the person and not a spelling.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from gateway.auth.credentials import principal_for
from gateway.auth.models import Role
from gateway.auth.permissions import ROLE_LABELS, ObjectScope, Permission, Principal
from gateway.auth.service import find_user
from gateway.errors import ValidationFailed

# What a permission lets a person do, as the refusals say it: "无权{zh}", "cannot {en}".
_DOING: dict[Permission, tuple[str, str]] = {
    Permission.WORK_QUEUE: ("处理对账差错", "work the mismatch queue"),
    Permission.WRITE_LOANS: ("办理借款", "handle loans"),
    Permission.COUNTY_APPROVE_LOANS: ("代表县里审批借款及核销", "approve loans for the county"),
}


def acting_principal(
    session: Session,
    typed: str,
    permission: Permission,
    scope: ObjectScope | Callable[[Principal], ObjectScope],
    *,
    option: str,
) -> Principal:
    """The user ``typed`` (the value of the command's ``option``) names, as the console would
    see them signed in, once they may do what needs ``permission`` on an object of ``scope``
    (or of the scope ``scope`` gives for them: a bank file of several counties is in the
    user's own).

    Refused (:class:`ValidationFailed`, in Chinese and English, naming what was typed): an
    empty name; a name no user has, or a user of another county, answered alike
    (``actor_unknown``), as the console's scope checks do not disclose another county's
    objects; a disabled account (``actor_disabled``); a role without the permission, such as
    a read-only auditor (``actor_not_permitted``); a user whose scope does not cover the
    object, such as another association's treasurer (``actor_out_of_scope``)."""
    name = typed.strip()
    if not name:
        raise ValidationFailed(
            f"{option} 须填写办理人的用户名",
            f"{option} needs the user name of the person acting",
            code="actor_unknown",
        )
    user = find_user(session, name)
    principal = principal_for(session, user) if user is not None else None
    where = scope(principal) if principal is not None and callable(scope) else scope
    if (
        user is None
        or principal is None
        or not isinstance(where, ObjectScope)
        or (principal.role is not Role.ADMIN and principal.home_county_id != where.county_id)
    ):
        raise ValidationFailed(
            f"{option} {name}：本县没有这个用户（须为在用用户的用户名）",
            f"{option} {name}: there is no such user in the county (name an active user by "
            "their user name)",
            code="actor_unknown",
            actor=name,
        )
    if not user.active:
        raise ValidationFailed(
            f"{option} {name}：该用户已停用，不能办理",
            f"{option} {name}: the account is disabled and cannot act",
            code="actor_disabled",
            actor=name,
        )
    doing_zh, doing_en = _DOING.get(permission, (permission.value, permission.value))
    if not principal.has(permission):
        role_zh, role_en = ROLE_LABELS[user.role]
        raise ValidationFailed(
            f"{option} {name}：{role_zh}无权{doing_zh}",
            f"{option} {name}: a user with the role {role_en.lower()} cannot {doing_en}",
            code="actor_not_permitted",
            actor=name,
            role=user.role.value,
            permission=permission.value,
        )
    if not principal.covers(where):
        raise ValidationFailed(
            f"{option} {name}：该用户的管辖范围不含此事项",
            f"{option} {name}: their scope does not cover it",
            code="actor_out_of_scope",
            actor=name,
        )
    return principal
