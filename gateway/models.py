"""Imports every domain's models so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from gateway.api.models import IdempotencyRecord
from gateway.audit.models import AuditChainHead, AuditEvent
from gateway.auth.models import ApiToken, LoginAttempt, Role, User, WebSession
from gateway.capital.models import CapitalContribution, CapitalSource
from gateway.db import Base
from gateway.ledger.models import JournalLeg, JournalTransaction, LedgerAccount
from gateway.loans.models import Loan, LoanGuarantor, LoanStatus
from gateway.members.models import Member, MemberStatus
from gateway.org.models import (
    Association,
    AssociationStatus,
    Bank,
    County,
    CreditGradeLimit,
    SpecialAccount,
    Town,
)

__all__ = [
    "ApiToken",
    "Association",
    "AssociationStatus",
    "AuditChainHead",
    "AuditEvent",
    "Bank",
    "Base",
    "CapitalContribution",
    "CapitalSource",
    "County",
    "CreditGradeLimit",
    "IdempotencyRecord",
    "JournalLeg",
    "JournalTransaction",
    "LedgerAccount",
    "Loan",
    "LoanGuarantor",
    "LoanStatus",
    "LoginAttempt",
    "Member",
    "MemberStatus",
    "Role",
    "SpecialAccount",
    "Town",
    "User",
    "WebSession",
]
