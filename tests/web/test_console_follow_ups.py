"""The console's bank follow-ups page (待办事项): what the bank's answers left for the county
fund office, in Chinese and English, with a resolve form that needs a note."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.models import AuditEvent
from gateway.auth import credentials
from gateway.payments.models import FollowUpItem, FollowUpKind, PaymentInstruction
from gateway.payments.service import follow_up
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World
from tests.api.conftest import PASSWORD, Seeded
from tests.api.test_access_control_matrix import add_bank_side, add_instruction
from tests.web.conftest import SignIn


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.fixture
def items(
    api_sessions: sessionmaker[Session], seeded: Seeded, field_cipher: FieldCipher
) -> dict[str, int]:
    """A refused disbursement of a loan in association a, an unanswered batch of the county's
    special account, and a failed collection in the other county."""
    template = seeded.world
    with api_sessions() as session:
        a = session.merge(template.a)
        world = World(
            session=session,
            cipher=field_cipher,
            county=session.merge(template.county),
            a=a,
            b=session.merge(template.b),
            members_a=[session.merge(m) for m in template.members_a],
            members_b=[session.merge(m) for m in template.members_b],
            rng=random.Random(5),
        )
        loan = world.apply(world.members_a[0], amount_fen=300_000)
        instruction = session.get(PaymentInstruction, add_instruction(session, a.id))
        assert instruction is not None
        refused = follow_up(
            session,
            FollowUpKind.DISBURSEMENT_FAILED,
            business_date=date(2024, 6, 28),
            instruction=instruction,
            amount_fen=300_000,
            reason_code="AC04",
            message_zh=f"借款 {loan.contract_no} 代付失败：AC04 账户已销户；"
            "借款已退回已审批，请核实卡号后重新放行",
            message_en=f"disbursement of loan {loan.contract_no} failed (AC04 account closed); "
            "the loan is back to approved: check the card and release it again",
        )
        batch_id = add_bank_side(session, a, "web")["batch"]
        unanswered = follow_up(
            session,
            FollowUpKind.NO_ANSWER,
            business_date=date(2024, 7, 3),
            batch_id=batch_id,
            amount_fen=300_000,
            message_zh="批次 DF_web.txt 超过 2 个银行工作日未回盘，请与银行核实",
            message_en="batch DF_web.txt has no answer after 2 banking days: check with the bank",
        )
        foreign = follow_up(
            session,
            FollowUpKind.COLLECTION_FAILED,
            business_date=date(2024, 6, 28),
            association_id=seeded.other.id,
            amount_fen=12_345,
            message_zh="邻县的扣款失败",
            message_en="a collection failed in the other county",
        )
        session.flush()
        ids = {
            "refused": refused.id,
            "unanswered": unanswered.id,
            "foreign": foreign.id,
            "loan": loan.id,
            "batch": batch_id,
        }
        session.commit()
    return ids


def test_fund_office_sees_the_open_follow_ups_in_chinese_and_english(
    browser: SignIn, items: dict[str, int], seeded: Seeded
) -> None:
    client = browser("reviewer")
    dashboard = client.get("/console").text
    assert 'href="/console/follow-ups"' in dashboard  # in the navigation
    count = re.search(r'id="follow-up-count".*?<strong>(\d+)</strong>', dashboard, re.S)
    assert count is not None
    assert count.group(1) == "2"  # the county's two, not the other county's

    page = client.get("/console/follow-ups").text
    refused = page[page.index(f'id="follow-up-{items["refused"]}"') :]
    refused = refused[: refused.index("</tr>")]
    assert "代付失败，借款退回已审批" in refused
    assert "请核实卡号后重新放行" in refused
    assert "3,000.00" in refused
    assert "2024-06-28" in refused
    assert seeded.world.a.name in refused
    assert f'href="/console/associations/{seeded.world.a.id}"' in refused  # the loan's page
    assert f'id="resolve-{items["refused"]}"' in refused
    unanswered = page[page.index(f'id="follow-up-{items["unanswered"]}"') :]
    assert "银行逾期未回盘" in unanswered
    assert f'href="/console/batches/{items["batch"]}"' in unanswered
    assert "邻县的扣款失败" not in page
    # Newest first.
    assert page.index(f'id="follow-up-{items["unanswered"]}"') < page.index(
        f'id="follow-up-{items["refused"]}"'
    )

    client.get("/lang/en")
    english = client.get("/console/follow-ups").text
    assert "Bank follow-ups" in english
    assert "Disbursement failed" in english
    assert "check the card and release it again" in english
    assert "No answer from the bank in time" in english
    assert "请核实卡号后重新放行" not in english


def test_resolving_needs_a_note_is_audited_and_happens_once(
    browser: SignIn, items: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    client = browser("reviewer")
    page = client.get("/console/follow-ups").text
    target = items["refused"]
    token = csrf_of(page)

    blank = client.post(
        f"/console/follow-ups/{target}/resolve", data={"csrf_token": token, "note": "  "}
    )
    assert blank.status_code == 422
    beside = blank.text[blank.text.index(f'id="follow-up-{target}"') :]
    beside = beside[: beside.index("</tr>")]
    assert 'id="follow-up-errors"' in beside  # the reason is shown beside this form
    assert "处理说明必填" in beside
    assert 'aria-invalid="true"' in beside

    note = "已联系借款人更换银行卡，借款已重新放行"
    done = client.post(
        f"/console/follow-ups/{target}/resolve", data={"csrf_token": token, "note": note}
    )
    assert done.status_code == 303
    listing = client.get(done.headers["location"]).text
    assert 'id="done-notice"' in listing
    assert f'id="follow-up-{target}"' not in listing
    assert f'id="follow-up-{items["unanswered"]}"' in listing

    resolved = client.get("/console/follow-ups?state=resolved").text
    row = resolved[resolved.index(f'id="follow-up-{target}"') :]
    assert "已处理</span> · reviewer\n" in row[: row.index("</tr>")]  # by name, not user:…
    assert note in row[: row.index("</tr>")]

    again = client.post(
        f"/console/follow-ups/{target}/resolve", data={"csrf_token": token, "note": "再次处理"}
    )
    assert again.status_code == 409
    assert "不能重复处理" in again.text
    with api_sessions() as session:
        item = session.get(FollowUpItem, target)
        assert item is not None
        assert item.resolution_note == note
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "follow_up.resolved")
        ).all()
        assert [(e.actor, e.object_id) for e in events] == [("user:reviewer", str(target))]


def test_treasurers_see_their_own_association_only_and_cannot_resolve(
    browser: SignIn, items: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        credentials.set_password(session, "treasurer_b", PASSWORD, actor="test")
        session.commit()
    treasurer = browser("treasurer_a")
    own = treasurer.get("/console/follow-ups").text
    assert f'id="follow-up-{items["refused"]}"' in own
    assert f'id="follow-up-{items["unanswered"]}"' not in own  # the county's batch
    assert 'id="resolve-' not in own
    assert 'href="/console/batches/' not in own
    refused = treasurer.post(
        f"/console/follow-ups/{items['refused']}/resolve",
        data={"csrf_token": csrf_of(own), "note": "已处理"},
    )
    assert refused.status_code == 403
    assert "follow_ups.work" in refused.text  # the missing permission, not a stale form

    other = browser("treasurer_b").get("/console/follow-ups").text
    assert f'id="follow-up-{items["refused"]}"' not in other
    assert "请核实卡号后重新放行" not in other
