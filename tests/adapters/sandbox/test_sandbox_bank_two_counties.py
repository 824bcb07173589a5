"""Two institutions at one bank: each books only on its own sub-accounts (rule 1)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from adapters.records import Direction, ResultStatus
from adapters.sandbox import BankEngine
from adapters.sandbox.config import parse_config
from tests.adapters.sandbox.sandbox_support import (
    CARD_LI,
    CARD_ZHANG,
    DAY1,
    INSTITUTION,
    SPECIAL,
    SUB_A,
    JsonRecordsAdapter,
    batch,
    raw_config,
)

JSON = JsonRecordsAdapter()
OTHER = "feixian"
OTHER_SPECIAL = "94000200200300001"
OTHER_SUB = "94000200200300001001"


def _engine(tmp_path: Path) -> BankEngine:
    raw = raw_config(tmp_path)
    second = dict(raw["institutions"][0])
    second.update(name=OTHER, special_account=OTHER_SPECIAL, special_account_name="费县专户")
    raw["institutions"].append(second)
    config = parse_config(raw, config_dir=tmp_path)
    engine = BankEngine(config, {INSTITUTION: JSON, OTHER: JSON})
    engine.open_sub_account(INSTITUTION, SUB_A, "东庄村扶贫互助协会", on=DAY1, initial_fen=900_000)
    engine.open_sub_account(OTHER, OTHER_SUB, "朱田村扶贫互助协会", on=DAY1, initial_fen=700_000)
    engine.open_card(CARD_ZHANG, "张三")
    engine.open_card(CARD_LI, "李四")
    return engine


def _send(engine: BankEngine, institution: str, special: str, sub: str, card: str) -> None:
    holder = {CARD_ZHANG: "张三", CARD_LI: "李四"}[card]
    plain = batch(Direction.DISBURSEMENT, [("E1", 100_000, sub, card, holder)])
    data = JSON.render_batch(dataclasses.replace(plain, special_account=special))
    folder = engine.institution_root(institution) / "in"
    (folder / "DF_001.json").write_bytes(data)
    (folder / "DF_001.json.done").write_bytes(b"")


def test_each_county_books_on_its_own_sub_accounts_only(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _send(engine, INSTITUTION, SPECIAL, SUB_A, CARD_ZHANG)
    # the other county names a sub-account that is not in its special account
    _send(engine, OTHER, OTHER_SPECIAL, SUB_A, CARD_LI)
    report = engine.run_cutoff(DAY1)
    assert report.result_files == ("RESULT_HZ20250303001.txt", "RESULT_HZ20250303001.txt")
    own = JSON.parse_result(
        (engine.institution_root(INSTITUTION) / "out" / "RESULT_HZ20250303001.txt").read_bytes()
    )
    other = JSON.parse_result(
        (engine.institution_root(OTHER) / "out" / "RESULT_HZ20250303001.txt").read_bytes()
    )
    assert own.results[0].status is ResultStatus.SETTLED
    assert (other.results[0].status, other.results[0].reason_code) == (
        ResultStatus.REJECTED,
        "AC01",
    )
    assert engine.balance_fen(SUB_A) == 800_000
    assert engine.balance_fen(OTHER_SUB) == 700_000
    own_day, other_day = engine.end_of_day(DAY1)
    assert [s.sub_account for s in own_day.sub_account_balances] == [SUB_A]
    assert [s.sub_account for s in other_day.sub_account_balances] == [OTHER_SUB]
    assert other_day.closing_balance_fen == 700_000
    assert engine.special_account_balance_fen(INSTITUTION) == 800_000
