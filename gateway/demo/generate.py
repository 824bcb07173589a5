"""Deterministic, valid-looking identity data for the demo county and the tests.

Numbers pass their check digits (Luhn for cards, GB 11643 for resident IDs) but belong to
no one: the card BIN and the region code come from the demo configuration.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from gateway.security.checks import gb11643_check_char, luhn_check_digit

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰志强海燕春生金凤德明淑珍"


def card_number(rng: random.Random, bin_prefix: str, length: int = 19) -> str:
    body = bin_prefix + "".join(str(rng.randrange(10)) for _ in range(length - 1 - len(bin_prefix)))
    return body + luhn_check_digit(body)


def resident_id(rng: random.Random, region: str, born_between: tuple[date, date]) -> str:
    start, end = born_between
    born = start + timedelta(days=rng.randrange((end - start).days))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + gb11643_check_char(body)


def phone(rng: random.Random) -> str:
    return rng.choice(["13", "15", "18", "17"]) + "".join(str(rng.randrange(10)) for _ in range(9))


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given
