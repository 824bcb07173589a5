"""What was done is named in words: the audit log's and a queue item's history's 操作 column
show a label, Chinese or English by the page's language, for every action the code can write
(``queue.adjustment_proposed``, ``write_off_requested``), and who did it by their name."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from gateway.web.i18n import (
    AUDIT_ACTION_LABELS,
    QUEUE_EVENT_LABELS,
    audit_action_label,
    queue_event_label,
)
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
