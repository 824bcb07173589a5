"""The daily reconciliation statements form one hash chain over every stored day, from the
account's first night on, even when its first nights had no statement from the bank."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from gateway.reconcile.models import ReconRun
from reconciliation.statement import DailyStatement, verify_chain
from tests.recon_support import ON_EACH_DATABASE, Nights

pytestmark = ON_EACH_DATABASE


def test_every_stored_day_links_to_the_day_before(nights: Nights) -> None:
    nights.night(with_statement=False)
    nights.night(with_statement=False)
    nights.night()  # the bank's first statement
    nights.night()
    nights.night(with_statement=False)
    nights.night()

    session = nights.settle.fresh()
    runs = list(session.scalars(select(ReconRun).order_by(ReconRun.business_date)))
    assert [r.has_statement for r in runs] == [False, False, True, True, False, True]
    assert runs[0].previous_hash == ""
    # each day carries the hash of the day before it
    assert [r.previous_hash for r in runs[1:]] == [r.statement_hash for r in runs[:-1]]

    statements = [DailyStatement.from_json(r.statement_json) for r in runs]
    assert [s.digest for s in statements] == [r.statement_hash for r in runs]
    assert [hashlib.sha256(r.statement_json.encode("utf-8")).hexdigest() for r in runs] == [
        r.statement_hash for r in runs
    ]
    assert verify_chain(statements) is None
