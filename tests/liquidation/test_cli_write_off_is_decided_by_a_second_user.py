"""``huzhu liquidation write-off`` and ``decide-write-off``: a loan's write-off is listed by
one user and decided by another, and ``--actor`` names them. The lister's name in full-width
letters is the lister still; a name no user has and a read-only auditor are refused with the
reason in Chinese and English (exit 1, the loan stays collectable); a county officer other
than the lister decides it, recorded by their user name."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.cli import app
from gateway.errors import RuleViolation
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import WriteOffDecision, WriteOffReview
from gateway.loans import service as loans
from gateway.loans.models import LoanStatus
from gateway.testing import World

ON = date(2025, 6, 30)


@pytest.fixture
def contract(
    small_world: World, liq_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """An overdue loan of association ``a``, which is being dissolved; its treasurer (kuaiji),
    two county officers (zhang, wang) and a read-only auditor (shen); the ``huzhu`` command
    pointed at the database."""
    world, session = small_world, liq_session
    loan = world.approve(world.apply(world.members_a[0], amount_fen=200_000))
    world.release(loan)
    loans.mark_disbursed(session, loan.id, business_date=ON)
    loans.mark_overdue(session, loan.id)
    create_user(session, username="kuaiji", display_name="", role=Role.TREASURER,
                association_id=world.a.id)  # fmt: skip
    for name in ("zhang", "wang"):
        create_user(session, username=name, display_name="", role=Role.COUNTY_OFFICER,
                    county_id=world.county.id)  # fmt: skip
    create_user(session, username="shen", display_name="", role=Role.AUDITOR,
                county_id=world.county.id)  # fmt: skip
    liquidation.start(session, world.a.id, on=ON, reason="撤销", actor="zhang")
    session.commit()
    key = tmp_path / "field.key"
    key.write_text(base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(key))
    return loan.contract_no


def _huzhu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _listed(world: World, contract: str, by: str) -> tuple[int, str]:
    return _huzhu(
        "liquidation", "write-off", "--association", world.a.code, "--contract", contract,
        "--reason", "无力偿还", "--actor", by, "--on", ON.isoformat(),
    )  # fmt: skip


def _decide(review_id: int, by: str) -> tuple[int, str]:
    return _huzhu(
        "liquidation", "decide-write-off", "--review", str(review_id), "--approve",
        "--actor", by, "--on", ON.isoformat(),
    )  # fmt: skip


def _review(session: Session) -> WriteOffReview:
    session.rollback()  # what the command committed since
    return session.scalars(select(WriteOffReview)).one()


def test_a_write_off_is_listed_and_decided_by_two_real_users(
    small_world: World, liq_session: Session, contract: str
) -> None:
    code, out = _listed(small_world, contract, "nobody-at-all")
    assert code == 1
    assert "nobody-at-all" in out
    assert "没有这个用户" in out
    assert "no such user" in out
    assert liq_session.scalars(select(WriteOffReview)).all() == []
    liq_session.rollback()

    code, out = _listed(small_world, contract, "ＺＨＡＮＧ")
    assert code == 0, out
    review = _review(liq_session)
    assert review.listed_by == "zhang"

    # the lister, spelt otherwise, is the lister; an auditor reads only; nobody is nobody
    for name in ("ｚｈａｎｇ", " Zhang "):
        code, out = _decide(review.id, name)
        assert code == 1
        assert "核销须由列报人以外的人审核" in out
    # the lister as the console names a signed-in user is the lister too
    with pytest.raises(RuleViolation, match="second_person_required"):
        liquidation.decide_write_off(
            liq_session, review.id, approve=True, on=ON, actor="user:ＺＨＡＮＧ"
        )
    code, out = _decide(review.id, "shen")
    assert code == 1
    assert "审计（只读）" in out
    assert "auditor (read-only)" in out
    code, out = _decide(review.id, "县办某人")
    assert code == 1
    assert "没有这个用户" in out
    assert _review(liq_session).decision is WriteOffDecision.PENDING

    code, out = _decide(review.id, "ＷＡＮＧ")
    assert code == 0, out
    decided = _review(liq_session)
    assert (decided.decision, decided.decided_by) == (WriteOffDecision.APPROVED, "wang")
    assert loans.get_loan(liq_session, decided.loan_id).status is LoanStatus.WRITTEN_OFF


def test_a_treasurer_lists_a_write_off_but_does_not_decide_it(
    small_world: World, liq_session: Session, contract: str
) -> None:
    code, out = _listed(small_world, contract, "kuaiji")
    assert code == 0, out
    review = _review(liq_session)
    assert review.listed_by == "kuaiji"
    code, out = _decide(review.id, "kuaiji")
    assert code == 1
    assert "协会会计" in out
    assert _review(liq_session).decision is WriteOffDecision.PENDING
