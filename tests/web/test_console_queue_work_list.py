"""Narrowing the work list to one association or to one person's items (my own among them),
people named by their display name, and the submissions that change nothing said to be so:
a second click on 处理, a reassignment to the association the item belongs to already."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth.models import User
from gateway.queue import service as queue
from gateway.queue.models import QueueEvent, QueueItem
from tests.api.conftest import Seeded
from tests.web.conftest import SignIn


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-item href="/console/queue/(\d+)"', page)]


def assign(sessions: sessionmaker[Session], item: int, assignee: str) -> None:
    with sessions.begin() as session:
        queue.assign(session, item, assignee=assignee, actor="user:officer")


def named(sessions: sessionmaker[Session], username: str, display_name: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(User).where(User.username == username).values(display_name=display_name)
        )


def test_the_work_list_narrows_to_one_association_and_to_the_items_assigned_to_me(
    browser: SignIn,
    cash_items: dict[str, int],
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
) -> None:
    assign(api_sessions, cash_items["b"], "reviewer")
    client = browser("reviewer")
    everything = client.get("/console/queue").text
    assert set(listed(everything)) >= {cash_items["a"], cash_items["b"]}
    # the filters are offered: the associations in scope, and 分派给我的 as the user's own name
    assert '<select id="association_id" name="association_id">' in everything
    assert f'<option value="{seeded.world.a.id}" >' in everything
    assert '<option value="reviewer" >分派给我的</option>' in everything

    only_a = client.get(f"/console/queue?association_id={seeded.world.a.id}").text
    assert listed(only_a) == [cash_items["a"]]
    assert f'<option value="{seeded.world.a.id}" selected>' in only_a

    mine = client.get("/console/queue?assignee=reviewer").text
    assert listed(mine) == [cash_items["b"]]
    assert '<option value="reviewer" selected>分派给我的</option>' in mine
    # someone else's items are chosen by their name, as the officer sees them
    officer = browser("officer").get("/console/queue").text
    assert '<option value="reviewer" >reviewer</option>' in officer
    assert listed(browser("officer").get("/console/queue?assignee=officer").text) == []


def test_the_assignee_is_shown_by_display_name_in_the_list_and_on_the_item(
    browser: SignIn, cash_items: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    named(api_sessions, "reviewer", "张科长")
    assign(api_sessions, cash_items["a"], "reviewer")
    client = browser("officer")
    listing = client.get("/console/queue").text
    row = listing[listing.index(f'href="/console/queue/{cash_items["a"]}"') :]
    row = row[: row.index("</tr>")]
    assert "<td>张科长（reviewer）</td>" in row
    page = client.get(f"/console/queue/{cash_items['a']}").text
    assert '<span id="item-assignee">张科长（reviewer）</span>' in page


def test_a_second_click_on_resolve_says_it_was_done_already(
    browser: SignIn, booked_cash_items: dict[str, int]
) -> None:
    client = browser("reviewer")
    item = booked_cash_items["a"]
    page = client.get(f"/console/queue/{item}").text
    form = {"csrf_token": csrf_of(page), "action": "dismiss", "note": "已核实：误存，已退回"}
    assert client.post(f"/console/queue/{item}/resolve", data=form).status_code == 303
    again = client.post(f"/console/queue/{item}/resolve", data=form)
    assert again.status_code == 409
    errors = again.text[again.text.index('id="resolve-errors"') :]
    errors = errors[: errors.index("</div>")]
    assert "该项已处理，本次提交未执行，无需再次操作（当前状态：已处理，待对账确认）" in errors
    assert "nothing more is needed" in errors
    assert "不能执行此操作" not in errors
    assert "请修改后重试" not in errors  # nothing to correct


def test_reassigning_an_item_to_the_association_it_belongs_to_is_refused_as_nothing_to_do(
    browser: SignIn,
    cash_items: dict[str, int],
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
) -> None:
    client = browser("reviewer")
    item = cash_items["a"]
    page = client.get(f"/console/queue/{item}").text
    targets = page[page.index('<select id="association_id"') :]
    targets = targets[: targets.index("</select>")]
    assert f'value="{seeded.world.b.id}"' in targets
    assert f'value="{seeded.world.a.id}"' not in targets  # not offered
    refused = client.post(
        f"/console/queue/{item}/resolve",
        data={
            "csrf_token": csrf_of(page),
            "action": "reassign",
            "note": "改归本协会",
            "association_id": str(seeded.world.a.id),
        },
    )
    assert refused.status_code == 422
    assert f"差错 {item} 已属于 {seeded.world.a.name}，无需改归" in refused.text
    with api_sessions() as session:
        kept = session.get(QueueItem, item)
        assert kept is not None
        assert kept.association_id == seeded.world.a.id
        actions = session.scalars(select(QueueEvent.action).where(QueueEvent.item_id == item)).all()
        assert "reassigned" not in actions
