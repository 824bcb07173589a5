"""Who may do what, and on which objects.

A :class:`Principal` is the signed-in user as the API sees it: role, scope and grants. Every
request is checked twice: the role must hold the :class:`Permission`, and the object must lie
inside the principal's scope (:class:`ObjectScope`). A missing permission is ``Forbidden``
(403); an object outside the scope is reported as not found (404), so its existence is not
disclosed to someone who may not see it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from gateway.auth.errors import Forbidden
from gateway.auth.models import Role, User
from gateway.errors import NotFound


class Permission(StrEnum):
    READ_ORG = "org.read"
    READ_MEMBERS = "members.read"
    WRITE_MEMBERS = "members.write"
    UNMASK = "members.unmask"
    READ_LOANS = "loans.read"
    WRITE_LOANS = "loans.write"  # apply, notice, council approval, reject, cancel
    COUNTY_APPROVE_LOANS = "loans.county_approve"
    RELEASE_LOANS = "loans.release"
    READ_LEDGER = "ledger.read"
    READ_PAYMENTS = "payments.read"
    READ_FILES = "files.read"
    DOWNLOAD_FILES = "files.download"
    READ_STATEMENTS = "statements.read"
    READ_QUEUE = "queue.read"
    WORK_QUEUE = "queue.work"  # assign, resolve, dismiss
    READ_FOLLOW_UPS = "follow_ups.read"  # the bank follow-ups (待办事项)
    WORK_FOLLOW_UPS = "follow_ups.work"  # resolve a bank follow-up with a note
    READ_REPORTS = "reports.read"
    ADJUST_GRADES = "grades.adjust"  # a member's credit grade between yearly reviews
    READ_AUDIT = "audit.read"


_READ_ALL = frozenset(
    {
        Permission.READ_ORG,
        Permission.READ_MEMBERS,
        Permission.READ_LOANS,
        Permission.READ_LEDGER,
        Permission.READ_PAYMENTS,
        Permission.READ_FILES,
        Permission.READ_STATEMENTS,
        Permission.READ_QUEUE,
        Permission.READ_FOLLOW_UPS,
        Permission.READ_REPORTS,
        Permission.READ_AUDIT,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.COUNTY_OFFICER: frozenset(Permission) - {Permission.UNMASK},
    Role.COUNTY_REVIEWER: _READ_ALL
    | {Permission.COUNTY_APPROVE_LOANS, Permission.WORK_QUEUE, Permission.WORK_FOLLOW_UPS},
    Role.TREASURER: frozenset(
        {
            Permission.READ_ORG,
            Permission.READ_MEMBERS,
            Permission.WRITE_MEMBERS,
            Permission.READ_LOANS,
            Permission.WRITE_LOANS,
            Permission.READ_LEDGER,
            Permission.READ_PAYMENTS,
            Permission.READ_FOLLOW_UPS,  # its own association's only
            Permission.READ_REPORTS,
        }
    ),
    Role.BANK_OPERATOR: frozenset({Permission.READ_FILES, Permission.DOWNLOAD_FILES}),
    Role.AUDITOR: _READ_ALL,
}

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ADMIN: ("系统管理员", "System administrator"),
    Role.COUNTY_OFFICER: ("县级管理员", "County administrator"),
    Role.COUNTY_REVIEWER: ("县级复核员", "County reviewer"),
    Role.TREASURER: ("协会会计", "Association treasurer"),
    Role.BANK_OPERATOR: ("银行操作员", "Bank operator"),
    Role.AUDITOR: ("审计（只读）", "Auditor (read-only)"),
}


@dataclass(frozen=True)
class ObjectScope:
    """Where an object lives: its county, and its association or bank when it has one."""

    county_id: int | None
    association_id: int | None = None
    bank_id: int | None = None
    # County-wide information every association of the county may read (its policy).
    shared_with_associations: bool = False


@dataclass(frozen=True)
class PassedCheck:
    """A check a request passed: the permission, and the scope of the object it was made on.

    Kept with an idempotent request's stored response, so that a replay is sent only once the
    caller, as they are now, passes the same checks again."""

    permission: Permission
    scope: ObjectScope | None = None

    def as_json(self) -> dict[str, Any]:
        scope = None if self.scope is None else asdict(self.scope)
        return {"permission": self.permission.value, "scope": scope}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PassedCheck:
        scope = value.get("scope")
        return cls(
            permission=Permission(value["permission"]),
            scope=None if scope is None else ObjectScope(**scope),
        )


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: Role
    county_id: int | None = None
    association_id: int | None = None
    bank_id: int | None = None
    can_unmask: bool = False
    association_county_id: int | None = None  # the county of an association-scoped user
    # Every ``require`` this principal passed, in order (one principal per request).
    passed: list[PassedCheck] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def of(cls, user: User, association_county_id: int | None = None) -> Principal:
        return cls(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            county_id=user.county_id,
            association_id=user.association_id,
            bank_id=user.bank_id,
            can_unmask=user.can_unmask,
            association_county_id=association_county_id,
        )

    @property
    def actor(self) -> str:
        """How the principal is named in the audit log."""
        return f"user:{self.username}"

    def has(self, permission: Permission) -> bool:
        if permission is Permission.UNMASK:
            allowed = self.role is Role.ADMIN or self.can_unmask
            return allowed and Permission.READ_MEMBERS in ROLE_PERMISSIONS[self.role]
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def home_county_id(self) -> int | None:
        return self.county_id if self.county_id is not None else self.association_county_id

    def covers(self, scope: ObjectScope) -> bool:
        """Whether the object lies inside this principal's scope."""
        if self.role is Role.ADMIN:
            return True
        if self.association_id is not None:
            if scope.shared_with_associations:
                return scope.county_id == self.association_county_id
            return scope.association_id == self.association_id
        if self.county_id is None or scope.county_id != self.county_id:
            return False
        if self.role is Role.BANK_OPERATOR:
            return scope.bank_id is not None and scope.bank_id == self.bank_id
        return True

    def require(self, permission: Permission, scope: ObjectScope | None = None) -> None:
        """Refuse unless the role holds ``permission`` and ``scope`` (if given) is covered."""
        if not self.has(permission):
            raise Forbidden(
                f"当前角色无权执行此操作（{permission.value}）",
                f"the role {self.role.value} lacks the permission {permission.value}",
                permission=permission.value,
            )
        if scope is not None and not self.covers(scope):
            raise NotFound("对象不存在或不在您的权限范围内", "not found or outside your scope")
        self.passed.append(PassedCheck(permission, scope))
