"""A treasurer applying for a loan cannot learn who the members of other associations or
counties are: a borrower or guarantor outside the association is answered exactly as an id no
member has, naming neither the person nor their member number, and nothing is written."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.demo.generate import card_number, phone, resident_id
from gateway.loans.models import Loan
from gateway.members.schemas import MemberInput
from gateway.members.service import register_member
from gateway.security.fieldcrypt import FieldCipher
from tests.api.conftest import ClientFor, Seeded

SECRET_NAME = "邻县王秘密"
SECRET_NO = "OC-0001"
NOBODY = 987_654


def outsider(sessions: sessionmaker[Session], seeded: Seeded, cipher: FieldCipher) -> int:
    rng = random.Random(99)
    with sessions() as session:
        member = register_member(
            session,
            cipher,
            seeded.other.id,
            MemberInput(
                member_no=SECRET_NO,
                name=SECRET_NAME,
                resident_id=resident_id(rng, "371321", (date(1960, 1, 1), date(1990, 1, 1))),
                card_number=card_number(rng, "623199"),
                phone=phone(rng),
                household_no="OCH1",
                joined_on=date(2022, 1, 1),
            ),
        )
        session.commit()
        return member.id


def apply(
    client: TestClient, seeded: Seeded, *, borrower: int, guarantors: list[int], lang: str = "zh"
) -> Any:
    return client.post(
        f"/api/v1/associations/{seeded.world.a.id}/loans",
        json={
            "contract_no": "Z-1",
            "member_id": borrower,
            "purpose": "种植",
            "amount_fen": 100_000,
            "term_months": 12,
            "monthly_fee_rate_centipermille": 600,
            "applied_on": "2024-06-01",
            "guarantor_ids": guarantors,
        },
        headers={"Accept-Language": lang},
    )


def answer(response: Any, member_id: int) -> tuple[int, str, str, str]:
    """What the caller is told, with the id they sent taken out."""
    body = response.json()
    return (
        response.status_code,
        body["code"],
        body["message_zh"].replace(str(member_id), "<id>"),
        body["message_en"].replace(str(member_id), "<id>"),
    )


def loans(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Loan)) or 0


def test_an_outside_guarantor_or_borrower_is_answered_as_no_member(
    api_sessions: sessionmaker[Session],
    seeded: Seeded,
    client_for: ClientFor,
    field_cipher: FieldCipher,
) -> None:
    other_county_member = outsider(api_sessions, seeded, field_cipher)
    other_village_member = seeded.world.members_b[0].id
    ours = [m.id for m in seeded.world.members_a]
    before = loans(api_sessions)
    for client in (client_for("treasurer_a"), client_for("officer")):
        nobody = apply(client, seeded, borrower=ours[0], guarantors=[ours[1], NOBODY])
        for stranger in (other_county_member, other_village_member):
            response = apply(client, seeded, borrower=ours[0], guarantors=[ours[1], stranger])
            assert answer(response, stranger) == answer(nobody, NOBODY)
            english = apply(
                client, seeded, borrower=ours[0], guarantors=[ours[1], stranger], lang="en"
            )
            for text in (response.text, english.text):
                assert SECRET_NAME not in text
                assert SECRET_NO not in text

        nobody = apply(client, seeded, borrower=NOBODY, guarantors=ours[1:3])
        for stranger in (other_county_member, other_village_member):
            response = apply(client, seeded, borrower=stranger, guarantors=ours[1:3])
            assert answer(response, stranger) == answer(nobody, NOBODY)
            assert SECRET_NAME not in response.text
            assert SECRET_NO not in response.text
    assert nobody.status_code == 422
    assert nobody.json()["code"] == "borrower_not_member"
    assert loans(api_sessions) == before
