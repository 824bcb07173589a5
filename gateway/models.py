"""Imports every domain's models so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from gateway.api.models import IdempotencyRecord
from gateway.audit.models import AuditChainHead, AuditEvent
from gateway.auth.models import ApiToken, LoginAttempt, Role, User, WebSession
from gateway.batches.models import PaymentBatch
from gateway.capital.models import CapitalContribution, CapitalSource
from gateway.db import Base
from gateway.ingestion.models import InboundFile, StatementLine
from gateway.jobs.models import JobRun
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
from gateway.payments.models import (
    FollowUpItem,
    InstructionTransition,
    PaymentInstruction,
    RepaymentScheduleLine,
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
    "FollowUpItem",
    "IdempotencyRecord",
    "InboundFile",
    "InstructionTransition",
    "JobRun",
    "JournalLeg",
    "JournalTransaction",
    "LedgerAccount",
    "Loan",
    "LoanGuarantor",
    "LoanStatus",
    "LoginAttempt",
    "Member",
    "MemberStatus",
    "PaymentBatch",
    "PaymentInstruction",
    "RepaymentScheduleLine",
    "Role",
    "SpecialAccount",
    "StatementLine",
    "Town",
    "User",
    "WebSession",
]


def load_all_models() -> None:
    """Import ``models`` of every gateway domain package, so ``Base.metadata`` holds every
    table (Alembic's env and the schema test use this; a new domain needs no registration)."""
    import importlib
    import importlib.util
    import pkgutil

    import gateway

    for info in pkgutil.iter_modules(gateway.__path__):
        if info.ispkg and importlib.util.find_spec(f"gateway.{info.name}.models") is not None:
            importlib.import_module(f"gateway.{info.name}.models")
