"""分派 in the console: the item is given to one of the people offered, those who can work it
(by display name and user name); a name posted that is not one of them is refused beside the
form, with the reason, and the item keeps its assignee."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session, sessionmaker

from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.queue.models import QueueItem
from tests.api.conftest import Seeded
from tests.web.conftest import SignIn
from tests.web.test_console_queue import csrf_of

HTML = {"Accept": "text/html"}


def _offered(page: str) -> dict[str, str]:
    """The assign list's options: user name -> what the option reads."""
    found = re.search(r'<select id="assignee" name="assignee".*?</select>', page, re.S)
    assert found, "the item page has no list of people to assign to"
    return dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', found.group(0)))


def test_the_assign_list_offers_only_people_who_can_work_the_item(
    browser: SignIn, cash_items: dict[str, int], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        create_user(
            session,
            username="zhang",
            display_name="张复核",
            role=Role.COUNTY_REVIEWER,
            county_id=seeded.world.county.id,
        )
        session.commit()
    page = browser("officer").get(f"/console/queue/{cash_items['a']}").text
    offered = _offered(page)
    assert offered == {
        "admin": "admin",
        "officer": "officer",
        "reviewer": "reviewer",
        "zhang": "张复核 (zhang)",
    }
    # the person signed in is chosen to begin with
    assert re.search(r'<option value="officer" selected>', page)


def test_assigning_to_someone_who_cannot_work_the_queue_is_refused_beside_the_form(
    browser: SignIn, cash_items: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    item_id = cash_items["a"]
    client = browser("officer")
    token = csrf_of(client.get(f"/console/queue/{item_id}").text)
    for who, why in (
        ("nobody-here", "本县没有这个用户"),
        ("treasurer_a", "协会会计无权处理对账差错"),
        ("bank_op", "银行操作员无权处理对账差错"),
    ):
        refused = client.post(
            f"/console/queue/{item_id}/assign",
            data={"csrf_token": token, "assignee": who},
            headers=HTML,
        )
        assert refused.status_code == 422, (who, refused.status_code)
        alert = re.search(r'id="assign-errors".*?</div>', refused.text, re.S)
        assert alert, refused.text[-800:]
        assert who in alert.group(0)
        assert why in alert.group(0)
        assert 'id="assign-form"' in refused.text  # the form is still there to choose again
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert item.assignee is None

    done = client.post(
        f"/console/queue/{item_id}/assign", data={"csrf_token": token, "assignee": "reviewer"}
    )
    assert done.status_code == 303
    page = client.get(f"/console/queue/{item_id}").text
    assert '处理人: <span id="item-assignee">reviewer</span>' in page
    assert re.search(r'<option value="reviewer" selected>', page)
