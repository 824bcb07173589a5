"""What was done is named in words: the audit log's and a queue item's history's 操作 column
show a label, Chinese or English by the page's language, for every action the code can write
(``queue.adjustment_proposed``, ``write_off_requested``), and who did it by their name."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth.models import User
from gateway.db import utcnow
from gateway.queue import service as queue
from gateway.queue.models import QueueEvent
from gateway.web.i18n import (
    AUDIT_ACTION_LABELS,
    QUEUE_EVENT_LABELS,
    audit_action_label,
    queue_event_label,
)
from tests.api.conftest import Seeded, file_village_cash
from tests.web.conftest import SignIn
from tests.web.test_console_queue import csrf_of
from tests.web.written_actions import written_actions

CJK = re.compile(r"[\u4e00-\u9fff]")

# --- the labels --------------------------------------------------------------------------------


def test_every_action_the_code_writes_to_the_audit_log_has_a_label() -> None:
    written = written_actions()
    assert written.unread == [], "actions written in a way the label test cannot read"
    assert "queue.write_off_requested" in written.audit  # the scan finds helpers' actions
    assert "loan.council_approve" in written.audit
    assert written.audit - set(AUDIT_ACTION_LABELS) == set()


def test_every_action_the_code_writes_to_an_items_history_has_a_label() -> None:
    written = written_actions()
    assert {"raised", "reopened", "confirmed", "cleared", "write_off_requested"} <= written.queue
    assert written.queue - set(QUEUE_EVENT_LABELS) == set()


@pytest.mark.parametrize(
    "labels", [AUDIT_ACTION_LABELS, QUEUE_EVENT_LABELS], ids=["audit", "history"]
)
def test_each_action_label_is_chinese_with_english_beside(
    labels: dict[str, tuple[str, str]],
) -> None:
    for action, (zh, en) in labels.items():
        assert CJK.search(zh), (action, zh)
        assert en.strip(), action
        assert not CJK.search(en), (action, en)
        assert action not in (zh, en), action


def test_an_action_nobody_labelled_shows_as_stored() -> None:
    assert audit_action_label("zh", "queue.write_off_requested") == "申请核销，待第二人审批"
    assert queue_event_label("en", "raised") == "Raised by the reconciliation run"
    assert audit_action_label("zh", "something.new") == "something.new"
    assert queue_event_label("en", "something_new") == "something_new"


def test_a_new_action_written_through_a_helper_is_found_by_the_label_test(
    tmp_path: Path,
) -> None:
    """The scan reads a helper that prefixes its parameter, and reports what it cannot read."""
    (tmp_path / "crops.py").write_text(
        textwrap.dedent(
            """
            from gateway.audit import service as audit

            def _audit(session, crop, action, actor):
                audit.record(session, actor=actor, action=f"crop.{action}", object_type="crop",
                             object_id=crop.id)

            def plant(session, crop, actor, again):
                _audit(session, crop, "replanted" if again else "planted", actor)

            def harvest(session, crop, actor):
                audit.record(session, actor=actor, action="crop.harvested", object_type="crop",
                             object_id=crop.id)

            def guess(session, crop, actor):
                _audit(session, crop, crop.next_step, actor)
            """
        ),
        encoding="utf-8",
    )
    found = written_actions(tmp_path)
    assert found.audit == {"crop.planted", "crop.replanted", "crop.harvested"}
    assert found.unread == ["crops.py:16: crop.next_step"]


# --- the pages ---------------------------------------------------------------------------------


def named(api_sessions: sessionmaker[Session], username: str, display_name: str) -> None:
    with api_sessions.begin() as session:
        session.execute(
            update(User).where(User.username == username).values(display_name=display_name)
        )


def history_rows(page: str) -> list[tuple[str, str, str]]:
    """(who, data-action, what) of each row of an item page's history."""
    history = page.split('id="history-h"')[1]
    return re.findall(
        r'<tr><td>[^<]*</td><td>([^<]*)</td><td data-action="([^"]*)">([^<]*)</td>', history
    )


def audit_rows(page: str) -> list[tuple[str, str, str]]:
    """(who, data-action, what) of each row of the audit log page."""
    return re.findall(
        r'<tr><td>\d+</td><td>[^<]*</td><td>([^<]*)</td><td data-action="([^"]*)">([^<]*)</td>',
        page,
    )


def test_an_items_history_says_what_was_done_and_by_whom_in_words(
    browser: SignIn, booked_cash_items: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    named(api_sessions, "reviewer", "张科长")
    item = booked_cash_items["a"]
    with api_sessions.begin() as session:
        # what the command line and older code wrote: a --by name, the reconciliation command
        # (named in words), an action nobody labelled
        queue.assign(session, item, assignee="reviewer", actor="李会计")
        session.add(
            QueueEvent(item_id=item, at=utcnow(), actor="huzhu reconcile", action="weighed")
        )
    client = browser("reviewer")
    page = client.get(f"/console/queue/{item}").text
    done = client.post(
        f"/console/queue/{item}/resolve",
        data={"csrf_token": csrf_of(page), "action": "dismiss", "note": "已核实：误存，已退回"},
    )
    assert done.status_code == 303
    rows = history_rows(client.get(f"/console/queue/{item}").text)
    assert rows == [
        ("nightly", "raised", "对账发现，新建差错"),
        ("李会计", "assigned", "分派处理人"),
        ("命令行对账（huzhu reconcile）", "weighed", "weighed"),
        ("张科长（reviewer）", "dismissed", "说明理由后驳回"),
    ]

    client.get("/lang/en")
    english = history_rows(client.get(f"/console/queue/{item}").text)
    assert english[0] == ("nightly", "raised", "Raised by the reconciliation run")
    assert english[-1] == ("张科长 (reviewer)", "dismissed", "Dismissed with a justification")


def test_the_audit_log_says_what_was_done_and_by_whom_in_words(
    browser: SignIn, booked_cash_items: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    named(api_sessions, "reviewer", "张科长")
    item = booked_cash_items["b"]
    client = browser("reviewer")
    page = client.get(f"/console/queue/{item}").text
    client.post(
        f"/console/queue/{item}/resolve",
        data={"csrf_token": csrf_of(page), "action": "dismiss", "note": "已核实"},
    )
    audit = client.get("/console/audit").text
    rows = audit_rows(audit)
    assert ("张科长（reviewer）", "queue.dismissed", "说明理由后驳回") in rows
    assert ("nightly", "queue.synced", "对账结果记入差异队列") in rows
    shown = [what for _, _, what in rows]
    assert not [what for what in shown if re.fullmatch(r"[a-z_]+\.[a-z_]+", what)], shown
    assert "user:reviewer" not in audit

    client.get("/lang/en")
    english = audit_rows(client.get("/console/audit").text)
    assert ("张科长 (reviewer)", "queue.dismissed", "Dismissed with a justification") in english


def test_a_user_without_a_name_of_their_own_and_a_stranger_show_as_they_are(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """A user whose name is the user name shows once; an actor naming no user, as stored."""
    with api_sessions.begin() as session:
        a = session.merge(seeded.world.a)
        item = file_village_cash(session, a, tag="names")
        queue.assign(session, item, assignee="officer", actor="user:officer")
        queue.assign(session, item, assignee="officer", actor="user:someone-gone")
        queue.assign(session, item, assignee="officer", actor="system")
    rows = history_rows(browser("officer").get(f"/console/queue/{item}").text)
    assert [who for who, _, _ in rows[-3:]] == ["officer", "user:someone-gone", "系统"]
