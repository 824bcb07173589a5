"""A console request the gateway refuses as invalid (422) says so in Chinese with English
beside, naming the field as the page or form calls it (网址中的差错编号, 表单中的处理人), never
pydantic's English ("path.item_id: Input should be greater than or equal to 1"); the sign-in
form refuses a name longer than any user's beside the form, the name kept as typed. The API's
problem details stay machine-readable: each error's location and type as before, with the
reason in both languages beside."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api.problems import field_reason
from gateway.web.console import REQUEST_FIELD_LABELS, request_field_label, router
from tests.api.conftest import PASSWORD
from tests.web.conftest import SignIn, login_form_token, submit_login
from tests.web.test_console_queue import csrf_of

HTML = {"Accept": "text/html"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def refused_fields(page: str) -> list[tuple[str, str, str]]:
    """(field, Chinese, English) of each line of a 422 page's list of refused fields."""
    found = re.search(r'<div class="form-errors" id="problem-fields">(.*?)</div>', page, re.S)
    assert found, page
    return re.findall(
        r'<li data-field="([^"]*)">([^<]*)<br><span lang="en">([^<]*)</span></li>', found.group(1)
    )


def problem_text(page: str) -> str:
    found = re.search(r'<p class="error" role="alert" id="problem"[^>]*>([^<]*)</p>', page)
    assert found, page
    return found.group(1)


@pytest.mark.parametrize(
    ("address", "field", "zh", "en"),
    [
        (
            "/console/queue/0",
            "item_id",
            "网址中的差错编号须不小于 1",
            "Item no. in the address must be at least 1",
        ),
        (
            "/console/queue/abc",
            "item_id",
            "网址中的差错编号须为整数",
            "Item no. in the address must be a whole number",
        ),
        (
            "/console/members/99999999999999999999",
            "member_id",
            "网址中的会员编号数值过大，没有这样的记录",
            "Member no. in the address is too large: nothing has that number",
        ),
        (
            "/console/queue?done=-3",
            "done",
            "网址中的刚处理事项的编号须不小于 1",
            "No. of what was just done in the address must be at least 1",
        ),
        (
            "/console/reports/evaluation?association_id=1&as_of=2024-13-01",
            "as_of",
            "网址中的截止日不是有效日期（年-月-日）",
            "To in the address is not a date (YYYY-MM-DD)",
        ),
    ],
)
def test_an_invalid_address_is_refused_in_words_naming_the_field(
    browser: SignIn, address: str, field: str, zh: str, en: str
) -> None:
    page = browser("officer").get(address, headers=HTML)
    assert page.status_code == 422
    assert problem_text(page.text) == "请求参数不合法，请检查后重试："
    assert refused_fields(page.text) == [(field, zh, en)]
    assert "Input should" not in page.text
    assert "path." not in page.text
    assert "query." not in page.text


def test_the_refusal_reads_in_english_on_an_english_page(browser: SignIn) -> None:
    client = browser("officer")
    client.get("/lang/en")
    page = client.get("/console/queue/0", headers=HTML)
    assert page.status_code == 422
    assert problem_text(page.text) == "The request is invalid; check it and retry:"
    assert refused_fields(page.text)[0][2] == "Item no. in the address must be at least 1"


def test_a_form_field_holding_a_nul_is_named_as_the_form_calls_it(
    browser: SignIn, cash_items: dict[str, int]
) -> None:
    client = browser("officer")
    item = cash_items["a"]
    token = csrf_of(client.get(f"/console/queue/{item}").text)
    page = client.post(
        f"/console/queue/{item}/assign",
        data={"csrf_token": token, "assignee": "zhang\x00san"},
        headers=HTML,
    )
    assert page.status_code == 422
    assert refused_fields(page.text) == [
        (
            "assignee",
            "表单中的处理人含有空字符（NUL，\\x00），不予接受",
            "Assignee in the form holds a NUL character (\\x00), which is not accepted",
        )
    ]
    assert "body.assignee" not in page.text


def test_a_reassignment_to_no_known_association_is_refused_naming_the_target(
    browser: SignIn, cash_items: dict[str, int]
) -> None:
    client = browser("officer")
    item = cash_items["a"]
    token = csrf_of(client.get(f"/console/queue/{item}").text)
    answer = client.post(
        f"/console/queue/{item}/resolve",
        data={"csrf_token": token, "action": "reassign", "note": "转给邻村", "association_id": "0"},
    )
    assert answer.status_code == 422
    refusal = re.search(r'id="resolve-errors".*?</div>', answer.text, re.S)
    assert refusal, answer.text
    assert "目标协会无效，请从列表中选择" in refusal.group(0)
    assert "Target association is not valid: choose one from the list" in refusal.group(0)
    assert "association_id" not in refusal.group(0)


def test_every_field_of_the_consoles_addresses_and_forms_has_a_name_users_know() -> None:
    """A refusal names any field of a console route in words, not by its parameter name."""
    missing = set()
    for route in router.routes:
        dependant = getattr(route, "dependant", None)
        stack = [dependant] if dependant is not None else []
        while stack:
            current = stack.pop()
            stack.extend(current.dependencies)
            for place, params in (
                ("path", current.path_params),
                ("query", current.query_params),
                ("body", current.body_params),
            ):
                for param in params:
                    _, zh, en, _ = request_field_label([place, param.name])
                    if (zh, en) == (f"“{param.name}”", f"'{param.name}'"):  # no label: as named
                        missing.add(f"{place}.{param.name}")
    assert missing == set()
    for name, (zh, en) in REQUEST_FIELD_LABELS.items():
        assert CJK.search(zh), name
        assert en.strip(), name
        assert not CJK.search(en), name


# --- signing in ------------------------------------------------------------------------------


def _client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def login_error(page: str) -> str:
    found = re.search(r'<p class="error" role="alert" id="login-error">([^<]*)</p>', page)
    assert found, page
    return found.group(1)


def test_a_name_longer_than_any_users_is_refused_beside_the_sign_in_form(
    console_app: FastAPI,
) -> None:
    long_name = "张" * 61
    with _client(console_app) as client:
        page = submit_login(client, long_name, PASSWORD)
        assert page.status_code == 422
        assert login_error(page.text) == "用户名过长（最多 60 个字符）"
        assert 'action="/login"' in page.text  # the form again, not an error page
        assert f'value="{long_name}"' in page.text  # as typed, to shorten
        assert 'maxlength="60"' in page.text
        # the form still works: the right name signs in
        assert submit_login(client, "officer", PASSWORD).status_code == 303


def test_an_empty_or_over_long_sign_in_is_refused_in_english_on_an_english_page(
    console_app: FastAPI,
) -> None:
    with _client(console_app) as client:
        client.cookies.set("lang", "en")
        long_password = submit_login(client, "officer", "x" * 201)
        assert long_password.status_code == 422
        assert login_error(long_password.text) == "Password is too long (at most 200 characters)"
        empty = client.post(
            "/login", data={"csrf_token": login_form_token(client), "password": PASSWORD}
        )
        assert empty.status_code == 422
        assert login_error(empty.text) == "User name must not be empty"


def test_refused_sign_ins_by_length_count_toward_no_lock_out(console_app: FastAPI) -> None:
    with _client(console_app) as client:
        for _ in range(12):
            assert submit_login(client, "officer", "x" * 201).status_code == 422
        assert submit_login(client, "officer", PASSWORD).status_code == 303


# --- the API --------------------------------------------------------------------------------


def test_the_apis_problem_keeps_its_machine_fields_with_reasons_in_both_languages(
    browser: SignIn,
) -> None:
    answer = browser("officer").get("/api/v1/queue-items/0", headers=HTML)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "request_invalid"
    (error,) = problem["details"]["errors"]
    assert error["location"] == ["path", "item_id"]
    assert error["type"] == "greater_than_equal"
    assert error["message"] == "Input should be greater than or equal to 1"
    assert (error["reason_zh"], error["reason_en"]) == ("须不小于 1", "must be at least 1")
    assert problem["message_zh"] == "请求参数不合法：path.item_id 须不小于 1"
    assert problem["message_en"] == (
        "the request is invalid: path.item_id: Input should be greater than or equal to 1"
    )


def test_an_amount_too_large_is_told_in_yuan_and_an_id_too_large_as_no_such_record() -> None:
    amount = {"type": "less_than_equal", "loc": ("body", "amount_fen"), "ctx": {"le": 10**12}}
    ident = {"type": "less_than_equal", "loc": ("path", "item_id"), "ctx": {"le": 2**63 - 1}}
    assert field_reason(amount) == (
        "金额过大（最多 10,000,000,000.00 元）",
        "is too large (at most 10,000,000,000.00 yuan)",
    )
    assert field_reason(ident) == (
        "数值过大，没有这样的记录",
        "is too large: nothing has that number",
    )
