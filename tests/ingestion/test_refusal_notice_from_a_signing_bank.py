"""A bank that signs its files must sign its refusal notices too: a notice without a valid
signature is quarantined whole and its batch stays sent, so its loans cannot be released
and paid a second time on the strength of a forged notice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select

from adapters.security import FileSecurity, SignatureAlgorithm, Signer, Verifier
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.errors import HuzhuError
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.jobs.pipeline import run_date
from gateway.loans.models import Loan, LoanStatus
from gateway.payments import service as payments
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_in

DAY2 = DAY1 + timedelta(days=1)
REASON = "专户账号不符 (wrong special account)"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def bank_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _signer(key: ed25519.Ed25519PrivateKey) -> Signer:
    return Signer(SignatureAlgorithm.ED25519, key, Path("bank_sign.pem"))


def _bank_signs(settle: Settle, key: ed25519.Ed25519PrivateKey) -> None:
    verifier = Verifier(SignatureAlgorithm.ED25519, key.public_key(), Path("bank_sign.pub.pem"))
    settle.profile = dataclasses.replace(settle.profile, security=FileSecurity(verifier=verifier))


def _notice(name: str) -> bytes:
    return f"文件被拒绝 (file refused): {name}\n原因 (reason): {REASON}\n".encode()


def _send_one_disbursement(settle: Settle) -> tuple[Loan, str]:
    loan = settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    (path,) = settle.bank.batches()
    return loan, path.removeprefix("in/")


def _assert_batch_still_sent(settle: Settle, loan: Loan) -> PaymentBatch:
    session = settle.fresh()
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.SENT
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT
    refreshed = session.get(Loan, loan.id)
    assert refreshed is not None
    assert refreshed.status is LoanStatus.RELEASED
    with pytest.raises(HuzhuError):
        payments.release_loan(session, loan.id, on=DAY2)
    session.rollback()
    return batch


@pytest.mark.parametrize("signature", [None, b"not base64 at all\n", "other key"])
def test_a_notice_without_a_valid_signature_is_quarantined_and_changes_nothing(
    settle: Settle, bank_key: ed25519.Ed25519PrivateKey, signature: bytes | str | None
) -> None:
    _bank_signs(settle, bank_key)
    loan, name = _send_one_disbursement(settle)
    notice = _notice(name)
    settle.server.put(f"out/{name}.refused.txt", notice)
    if signature == "other key":
        forged = _signer(ed25519.Ed25519PrivateKey.generate()).signature_file(notice)
        settle.server.put(f"out/{name}.refused.txt.sig", forged)
    elif isinstance(signature, bytes):
        settle.server.put(f"out/{name}.refused.txt.sig", signature)

    run_date(settle.nightly, DAY2)

    batch = _assert_batch_still_sent(settle, loan)
    session = settle.fresh()
    stored = session.scalars(
        select(InboundFile).where(InboundFile.kind == InboundKind.REFUSAL)
    ).one()
    assert stored.status is InboundStatus.QUARANTINED
    assert "signature" in (stored.reason or "")
    assert stored.batch_id == batch.id
    items = session.scalars(select(FollowUpItem)).all()
    kinds = {i.kind for i in items}
    assert FollowUpKind.FILE_QUARANTINED in kinds
    assert FollowUpKind.FILE_REFUSED not in kinds
    assert FollowUpKind.DISBURSEMENT_FAILED not in kinds
    # the next night does not apply it either
    run_date(settle.nightly, DAY2 + timedelta(days=1))
    _assert_batch_still_sent(settle, loan)


def test_a_validly_signed_notice_rejects_its_batch(
    settle: Settle, bank_key: ed25519.Ed25519PrivateKey
) -> None:
    _bank_signs(settle, bank_key)
    loan, name = _send_one_disbursement(settle)
    notice = _notice(name)
    settle.server.put(f"out/{name}.refused.txt", notice)
    settle.server.put(f"out/{name}.refused.txt.sig", _signer(bank_key).signature_file(notice))

    run_date(settle.nightly, DAY2)

    session = settle.fresh()
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.REJECTED
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.FAILED
    assert REASON in (instruction.reason_text or "")
    refreshed = session.get(Loan, loan.id)
    assert refreshed is not None
    assert refreshed.status in (LoanStatus.COUNCIL_APPROVED, LoanStatus.COUNTY_APPROVED)
    stored = session.scalars(select(InboundFile)).one()
    assert stored.status is InboundStatus.APPLIED
    assert stored.batch_id == batch.id
    # the signature file was put away with the notice
    assert not any(p.endswith(".sig") and "processed" not in p for p in settle.server.files())


def test_a_bank_that_does_not_sign_still_has_its_plain_notices_applied(settle: Settle) -> None:
    assert not settle.profile.security.expects_signature
    loan, name = _send_one_disbursement(settle)
    settle.server.put(f"out/{name}.refused.txt", _notice(name))

    run_date(settle.nightly, DAY2)

    session = settle.fresh()
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.REJECTED
    refreshed = session.get(Loan, loan.id)
    assert refreshed is not None
    assert refreshed.status in (LoanStatus.COUNCIL_APPROVED, LoanStatus.COUNTY_APPROVED)
    assert session.scalars(select(InboundFile)).one().status is InboundStatus.APPLIED
