"""The console's pages. Each page checks the signed-in user's permission and scope exactly
as the API does (the same :class:`~gateway.auth.permissions.Principal`), reads through the
same domain services, and renders server-side. Forms carry the session's CSRF token."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Match

from gateway.api.deps import SESSION_COOKIE, DbSession, authenticate, db
from gateway.api.pagination import PageRequest, paginate
from gateway.api.problems import Problem, field_reason
from gateway.api.router import MAX_ID, ObjectId, OptionalQueryId, QueryId, business_today
from gateway.api.routing import TransactionalRoute
from gateway.audit import service as audit
from gateway.audit.endpoints import visible_chains
from gateway.audit.models import AuditEvent
from gateway.auth import credentials
from gateway.auth.endpoints import LoginIn, set_session_cookie, sign_in
from gateway.auth.errors import CsrfRejected
from gateway.auth.models import User
from gateway.auth.permissions import ROLE_LABELS, Permission, Principal
from gateway.auth.service import ACTOR_PREFIX
from gateway.batches.endpoints import (
    batch_detail,
    download_bank_file,
    download_batch,
    list_bank_files,
    list_batches,
    read_bank_file,
    visible_batch,
    visible_file,
)
from gateway.batches.models import PaymentBatch
from gateway.errors import (
    Conflict,
    HuzhuError,
    LedgerError,
    NotFound,
    RuleViolation,
    ValidationFailed,
)
from gateway.grading.ladder import ladder
from gateway.ingestion import service as ingestion
from gateway.ingestion.models import InboundFile, InboundStatus
from gateway.ledger.models import LedgerChannel
from gateway.loans.endpoints import LoanApplicationIn, loan_out
from gateway.loans.endpoints import apply_for_loan as api_apply_for_loan
from gateway.loans.models import Loan
from gateway.members import service as members
from gateway.members.endpoints import MemberIn, member_out, visible_member
from gateway.members.endpoints import register_member as api_register_member
from gateway.members.models import Member, MemberStatus
from gateway.members.schemas import MemberInput
from gateway.org.endpoints import association_out, summary, visible_association
from gateway.org.models import Association, AssociationStatus, SpecialAccount, Town
from gateway.payments import follow_up_endpoints as follow_up_api
from gateway.payments import follow_ups as follow_up_service
from gateway.payments.models import FollowUpItem, FollowUpKind, RepaymentScheduleLine
from gateway.queue import service as queue_service
from gateway.queue.endpoints import (
    QueueSort,
    ResolutionAction,
    ResolveIn,
    detail,
    filtered,
    list_page,
    resolve,
    scoped_items,
    visible_item,
)
from gateway.queue.models import ItemStatus, QueueItem
from gateway.reconcile import endpoints as reconcile_api
from gateway.reconcile import service as reconcile_service
from gateway.reconcile.models import AutoPosting, ReconRun
from gateway.reports import endpoints as report_api
from gateway.reports import service as report_service
from gateway.reports.endpoints import ReportFormat
from gateway.reports.figures import EvaluationFigures
from gateway.settings import CashMode
from gateway.web.charts import Bar, bar_chart
from gateway.web.i18n import (
    KIND_LABELS,
    LANGUAGES,
    action_label,
    actor_label,
    audit_action_label,
    audit_details,
    batch_state_label,
    enum_label,
    expected_label,
    kind_label,
    language,
    local_time,
    object_type_label,
    queue_event_label,
    status_label,
    translate,
    yuan,
)

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["yuan"] = yuan
templates.env.filters["local_time"] = local_time

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# Navigation: (path, text key, permission needed).
NAV: tuple[tuple[str, str, Permission | None], ...] = (
    ("/console", "dashboard", Permission.READ_ORG),
    ("/console/queue", "queue", Permission.READ_QUEUE),
    ("/console/follow-ups", "follow_ups", Permission.READ_FOLLOW_UPS),
    ("/console/auto-postings", "auto_postings", Permission.READ_STATEMENTS),
    ("/console/associations", "associations", Permission.READ_ORG),
    ("/console/batches", "batches", Permission.READ_FILES),
    ("/console/reports", "reports", Permission.READ_REPORTS),
    ("/console/audit", "audit", Permission.READ_AUDIT),
)


def home_path(principal: Principal) -> str:
    """The first page of the navigation the user may see: the dashboard for most roles, the
    batches and bank files for a bank operator (who may not read the associations)."""
    for path, _, needed in NAV:
        if needed is None or principal.has(needed):
            return path
    return "/console"


def _has_get_route(request: Request, path: str) -> bool:
    scope = {"type": "http", "method": "GET", "path": path}
    # a route of that path for another method only matches partly
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)


def page_of(request: Request) -> str:
    """Where the browser is, as a console page it can be sent back to: the path and query of a
    GET; for a form's POST the page the form lives on (the Referer when it is a console page of
    this site, else the action's path cut back to a page that answers GET). Never a POST-only
    URL, which would answer 405 after signing in or switching language."""
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if (
        referer.netloc == request.url.netloc
        and referer.path.startswith("/console")
        and "//" not in referer.path
    ):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    path = request.url.path.rstrip("/")
    while path.startswith("/console") and not _has_get_route(request, path):
        path = path.rsplit("/", 1)[0]
    return path if path.startswith("/console") else "/console"


def page_context(
    request: Request, lang: str, principal: Principal | None, csrf_token: str
) -> dict[str, Any]:
    """What base.html needs on every page: for a signed-in user the navigation, who they are
    and the sign-out form's token; the language switch returns to :func:`page_of`."""
    context: dict[str, Any] = {
        "t": lambda key: translate(lang, key),
        "lang": lang,
        "principal": principal,
        "csrf_token": csrf_token,
        "path": request.url.path,
        "here": quote(page_of(request), safe="/"),
        "home": home_path(principal) if principal is not None else "/console",
    }
    if principal is not None:
        zh, en = ROLE_LABELS[principal.role]
        context["role_label"] = en if lang == "en" else zh
        context["nav"] = [
            (path, translate(lang, key))
            for path, key, needed in NAV
            if needed is None or principal.has(needed)
        ]
    return context


class Page:
    """What every page template gets: the request, language, user, CSRF token, navigation."""

    def __init__(self, request: Request, session: Session) -> None:
        found = authenticate(request, session)
        self.request = request
        self.session = session
        self.principal = found.principal
        self.csrf_token = found.csrf_token or ""
        self.lang = language(request)
        self._names: dict[str, str] = {}

    def who(self, actor: str | None) -> str:
        """Who did something, as the audit log and the services name them: a user
        (``user:officer``) by their name with the user name beside (张科长（officer）), the
        system, the nightly reconciliation and the commands in words, anyone else (a command
        line's ``--by``) as given."""
        if not actor:
            return "—"
        if actor not in self._names:
            self._names[actor] = actor_name(self.session, self.lang, actor)
        return self._names[actor]

    def t(self, key: str) -> str:
        return translate(self.lang, key)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            self.request,
            template,
            {
                **page_context(self.request, self.lang, self.principal, self.csrf_token),
                "t": self.t,
                "batch_state": lambda state: batch_state_label(self.lang, str(state)),
                "label": lambda group, value: enum_label(self.lang, group, str(value)),
                "who": self.who,
                **context,
            },
            status_code=status_code,
        )

    def require_csrf(self, given: str) -> None:
        if not credentials.csrf_matches(self.csrf_token, given):
            raise CsrfRejected("表单已过期，请刷新后重试", "the form is stale; reload and retry")


def actor_name(session: Session, lang: str, actor: str) -> str:
    """The name a page shows for an audit log's or a history's actor (see :meth:`Page.who`)."""
    named = actor_label(lang, actor)
    if named is not None:
        return named
    kind, _, username = actor.partition(":")
    if kind != "user" or not username:
        return actor
    shown = session.scalar(select(User.display_name).where(User.username == username))
    if shown is None:
        return actor
    if shown == username:
        return username
    return f"{shown} ({username})" if lang == "en" else f"{shown}（{username}）"


def page(request: Request, session: Annotated[Session, Depends(db)]) -> Page:
    return Page(request, session)


CurrentPage = Annotated[Page, Depends(page)]


def _safe_next(target: str | None) -> str:
    """Only local console paths are followed after signing in."""
    if target and target.startswith("/console") and "//" not in target:
        return target
    return "/console"


def _anonymous(request: Request, template: str, status_code: int = 200, **context: Any) -> Any:
    lang = language(request)
    return templates.TemplateResponse(
        request,
        template,
        {**page_context(request, lang, None, ""), **context},
        status_code=status_code,
    )


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=303)


LOGIN_CSRF_COOKIE = "huzhu_login_csrf"
LOGIN_CSRF_MAX_AGE = 2 * 60 * 60  # seconds a sign-in form stays usable


def _login_page(
    request: Request,
    *,
    next: str | None,
    error: str | None = None,
    username: str | None = None,
    status_code: int = 200,
) -> Response:
    """The sign-in form with its own CSRF token (there is no session yet to hold one): the token
    is rendered into the form and set as a cookie, and the POST must bring both, equal."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if len(token) < 32 or len(token) > 100:
        token = secrets.token_urlsafe(32)
    response: Response = _anonymous(
        request,
        "login.html",
        status_code=status_code,
        next=_safe_next(next),
        error=error,
        username=username,
        csrf_token=token,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_MAX_AGE,
        httponly=True,
        secure=bool(request.app.state.cookie_secure),
        samesite="strict",
        path="/login",
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Any:
    return _login_page(request, next=next)


def login_refusal(lang: str, username: str, password: str) -> str | None:
    """Why the sign-in form cannot be checked as filled in (a name or password empty or
    longer than any user's, by the API's sign-in rules), in the page's language; None when
    it can."""
    try:
        LoginIn(username=username, password=password)
    except ValidationError as refused:
        reasons = []
        for error in refused.errors():
            name = str(error["loc"][0]) if error.get("loc") else ""
            label_zh, label_en = REQUEST_FIELD_LABELS.get(name, (name, name))
            reason_zh, reason_en = field_reason(error)
            reasons.append(f"{label_en} {reason_en}" if lang == "en" else f"{label_zh}{reason_zh}")
        return ("; " if lang == "en" else "；").join(reasons)
    return None


@router.post("/login")
def login_submit(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form(max_length=400)] = "/console",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Any:
    lang = language(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not credentials.csrf_matches(expected, csrf_token):
        # Refused before the password is looked at: no failure is counted for anyone.
        stale = (
            "The sign-in form has expired or did not come from this site; please sign in again."
            if lang == "en"
            else "登录表单已失效或并非来自本站（安全令牌缺失或不符），请重新登录。"
        )
        return _login_page(request, next=next, error=stale, username=username, status_code=403)
    refusal = login_refusal(lang, username, password)
    if refusal is not None:
        # beside the form, the name as typed; no user is looked up, no failure counted
        return _login_page(request, next=next, error=refusal, username=username, status_code=422)
    outcome = sign_in(request, session, username, password)
    if isinstance(outcome, Response):
        problem = Problem.model_validate_json(bytes(outcome.body))
        message = problem.message_en if lang == "en" else problem.message_zh
        return _login_page(
            request,
            next=next,
            error=message,
            username=username,
            status_code=outcome.status_code,
        )
    _, issued = outcome
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, issued)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(current: CurrentPage, session: DbSession, csrf_token: Annotated[str, Form()]) -> Any:
    current.require_csrf(csrf_token)
    credentials.end_session(session, current.request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = None) -> RedirectResponse:
    target = next if next and next.startswith("/") and "//" not in next else "/console"
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="lax", path="/")
    return response


def associations_in_scope(session: Session, principal: Principal) -> list[Association]:
    statement = select(Association).join(Town, Town.id == Association.town_id)
    if principal.association_id is not None:
        statement = statement.where(Association.id == principal.association_id)
    elif principal.county_id is not None:
        statement = statement.where(Town.county_id == principal.county_id)
    return list(session.scalars(statement.order_by(Association.code)))


@router.get("/console")
def dashboard(current: CurrentPage, session: DbSession) -> Any:
    """The dashboard; a user who may not read the associations (a bank operator) is sent to
    the first page they may see, which is where signing in and 返回 lead."""
    home = home_path(current.principal)
    if home != "/console":
        return RedirectResponse(home, status_code=303)
    current.principal.require(Permission.READ_ORG)
    in_scope = associations_in_scope(session, current.principal)
    bank_cash = open_village_cash(session, [a.id for a in in_scope])
    rows = []
    for association in in_scope:
        figures = summary(session, association, None)
        # Cash flags: cash recorded in the books plus cash the bank showed (open queue items).
        cash = figures.cash_flagged_count + bank_cash.get(association.id, 0)
        rows.append((association, figures, cash))
    bars = [
        Bar(
            label=association.name,
            value=figures.sub_account_balance_fen,
            text=yuan(figures.sub_account_balance_fen),
            warn=cash > 0 or figures.overdue_count > 0,
        )
        for association, figures, cash in rows
    ]
    totals = {
        "balance": sum(f.sub_account_balance_fen for _, f, _ in rows),
        "outstanding": sum(f.loans_outstanding_fen for _, f, _ in rows),
        "overdue": sum(f.overdue_fen for _, f, _ in rows),
        "cash": sum(cash for _, _, cash in rows),
    }
    return current.render(
        "dashboard.html",
        rows=rows,
        totals=totals,
        chart=bar_chart(bars, title=current.t("balances_chart")),
        night=last_night(session, current.principal),
        queue_chart=queue_chart(session, current),
        follow_up_count=follow_up_api.open_count(session, current.principal)
        if current.principal.has(Permission.READ_FOLLOW_UPS)
        else None,
    )


_SETTLED_STATUSES = (ItemStatus.RESOLVED, ItemStatus.CLOSED)


def open_village_cash(session: Session, association_ids: list[int]) -> dict[int, int]:
    """Unsettled village-cash mismatch items per association (cash the bank statement showed)."""
    if not association_ids:
        return {}
    counts = session.execute(
        select(QueueItem.association_id, func.count())
        .where(
            QueueItem.association_id.in_(association_ids),
            QueueItem.kind == "village_cash",
            QueueItem.status.not_in(_SETTLED_STATUSES),
        )
        .group_by(QueueItem.association_id)
    ).all()
    return {
        int(association_id): int(n) for association_id, n in counts if association_id is not None
    }


def last_night(session: Session, principal: Principal) -> dict[str, Any] | None:
    """The latest business date's batches and each special account's latest reconciliation."""
    if not principal.has(Permission.READ_FILES) or principal.association_id is not None:
        return None
    accounts = select(SpecialAccount.id)
    if principal.county_id is not None:
        accounts = accounts.where(SpecialAccount.county_id == principal.county_id)
    if principal.bank_id is not None:
        accounts = accounts.where(SpecialAccount.bank_id == principal.bank_id)
    latest = session.scalar(
        select(func.max(PaymentBatch.business_date)).where(
            PaymentBatch.special_account_id.in_(accounts)
        )
    )
    batches = (
        list(
            session.scalars(
                select(PaymentBatch)
                .where(
                    PaymentBatch.special_account_id.in_(accounts),
                    PaymentBatch.business_date == latest,
                )
                .order_by(PaymentBatch.id)
            )
        )
        if latest
        else []
    )
    runs: list[ReconRun] = []
    if principal.has(Permission.READ_STATEMENTS):
        newest = (
            select(ReconRun.special_account_id, func.max(ReconRun.id).label("run_id"))
            .where(ReconRun.special_account_id.in_(accounts))
            .group_by(ReconRun.special_account_id)
            .subquery()
        )
        runs = list(session.scalars(select(ReconRun).join(newest, newest.c.run_id == ReconRun.id)))
    return {"business_date": latest, "batches": batches, "runs": runs}


def queue_chart(session: Session, current: Page) -> Any:
    """Open queue items by type, as bars (village cash and cross-association in warning)."""
    if not current.principal.has(Permission.READ_QUEUE):
        return None
    statement = filtered(
        current.principal, status=None, kind=None, association_id=None, assignee=None
    ).subquery()
    counts = session.execute(
        select(statement.c.kind, func.count()).group_by(statement.c.kind).order_by(statement.c.kind)
    ).all()
    bars = [
        Bar(
            label=kind_label(current.lang, str(kind)),
            value=int(n),
            text=str(n),
            warn=str(kind) in ("village_cash", "cross_association"),
        )
        for kind, n in counts
    ]
    return bar_chart(bars, title=current.t("open_items"))


@router.get("/console/associations")
def associations(current: CurrentPage, session: DbSession) -> Any:
    current.principal.require(Permission.READ_ORG)
    found = associations_in_scope(session, current.principal)
    return current.render("associations.html", associations=[association_out(a) for a in found])


@router.get("/console/associations/{association_id}")
def association_page(
    association_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    cursor: str | None = None,
    registered: OptionalQueryId = None,
    applied: OptionalQueryId = None,
) -> Any:
    association = visible_association(
        session, current.principal, association_id, Permission.READ_ORG
    )
    return render_association(
        current,
        session,
        association,
        cursor=cursor,
        notice=entry_notice(current, session, association, registered, applied),
    )


def render_association(
    current: Page,
    session: Session,
    association: Association,
    *,
    cursor: str | None = None,
    notice: str | None = None,
    member_form: EntryForm | None = None,
    loan_form: EntryForm | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The association page: figures, members, loans, and the entry forms the user may use."""
    figures = (
        summary(session, association, None)
        if current.principal.has(Permission.READ_LEDGER)
        else None
    )
    member_rows: list[Any] = []
    next_cursor = None
    if current.principal.has(Permission.READ_MEMBERS):
        found, next_cursor = paginate(
            session,
            select(Member).where(Member.association_id == association.id),
            order=[Member.id],
            key=lambda m: [m.id],
            page=PageRequest(cursor, 50),
        )
        member_rows = [member_out(m) for m in found]
    loan_rows: list[Any] = []
    if current.principal.has(Permission.READ_LOANS):
        recent = session.scalars(
            select(Loan)
            .where(Loan.association_id == association.id)
            .order_by(Loan.id.desc())
            .limit(50)
        )
        loan_rows = [loan_out(x) for x in recent]
    today = business_today().isoformat()
    county = association.town.county
    # An association being wound up takes in no members, and only an active one lends: their
    # forms are not offered (one refused on submit is still shown, with its reason).
    takes_in = association.status not in (AssociationStatus.LIQUIDATING, AssociationStatus.CLOSED)
    lends = association.status == AssociationStatus.ACTIVE
    can_register = current.principal.has(Permission.WRITE_MEMBERS) and (
        takes_in or member_form is not None
    )
    # only someone who may adjust grades may start a member above the entry grade
    can_grade = can_register and current.principal.has(Permission.ADJUST_GRADES)
    can_apply = current.principal.has(Permission.WRITE_LOANS) and (lends or loan_form is not None)
    withheld = [
        key
        for key, may, offered in (
            ("no_new_members", current.principal.has(Permission.WRITE_MEMBERS), can_register),
            ("no_new_loans", current.principal.has(Permission.WRITE_LOANS), can_apply),
        )
        if may and not offered
    ]
    active = (
        list(
            session.scalars(
                select(Member)
                .where(
                    Member.association_id == association.id,
                    Member.status == MemberStatus.ACTIVE,
                )
                .order_by(Member.member_no)
            )
        )
        if can_apply
        else []
    )
    return current.render(
        "association.html",
        status_code=status_code,
        association=association_out(association),
        figures=figures,
        members=member_rows,
        next_cursor=next_cursor,
        loans=loan_rows,
        notice=notice,
        member_form=(member_form or EntryForm({"joined_on": today})) if can_register else None,
        grades=ladder(session, county.id).grades if can_grade else (),
        loan_form=(loan_form or EntryForm({"applied_on": today, "channel": "transfer"}))
        if can_apply
        else None,
        active_members=active,
        cash_allowed=county.cash_mode == CashMode.TRANSITIONAL,
        withheld=withheld,
    )


def entry_notice(
    current: Page,
    session: Session,
    association: Association,
    registered: int | None,
    applied: int | None,
) -> str | None:
    """The line shown after a form succeeded, naming what was entered (only objects of this
    association that the user may read)."""
    english = current.lang == "en"
    if registered is not None and current.principal.has(Permission.READ_MEMBERS):
        member = session.get(Member, registered)
        if member is not None and member.association_id == association.id:
            if english:
                return f"Member {member.name} ({member.member_no}) registered"
            return f"已登记会员 {member.name}（编号 {member.member_no}）"
    if applied is not None and current.principal.has(Permission.READ_LOANS):
        loan = session.get(Loan, applied)
        if loan is not None and loan.association_id == association.id:
            amount = yuan(loan.amount_fen)
            state = enum_label(current.lang, "loan_status", loan.status.value)
            if english:
                return (
                    f"Loan application {loan.contract_no} for {loan.member.name}, "
                    f"{amount} yuan, recorded (status: {state})"
                )
            return (
                f"已受理借款申请 {loan.contract_no}：借款人 {loan.member.name}，"
                f"金额 {amount} 元（状态：{state}）"
            )
    return None


@router.get("/console/members/{member_id}")
def member_page(member_id: ObjectId, current: CurrentPage, session: DbSession) -> Any:
    member = visible_member(session, current.principal, member_id, Permission.READ_MEMBERS)
    return current.render(
        "member.html",
        member=member_out(member),
        association=association_out(member.association),
        revealed=None,
        can_unmask=current.principal.has(Permission.UNMASK),
    )


@router.post("/console/members/{member_id}/unmask")
def member_unmask(
    member_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()],
) -> Any:
    current.require_csrf(csrf_token)
    member = visible_member(session, current.principal, member_id, Permission.READ_MEMBERS)
    current.principal.require(Permission.UNMASK)
    cipher = current.request.app.state.cipher
    audit.record(
        session,
        actor=current.principal.actor,
        action="member.unmask",
        object_type="member",
        object_id=member.id,
        payload={"association_id": member.association_id, "fields": ["card", "resident_id"]},
        chain=audit.association_chain(member.association_id),
    )
    revealed = {
        "card": members.card_number(session, cipher, member.id),
        "resident_id": members.resident_id(session, cipher, member.id),
    }
    return current.render(
        "member.html",
        member=member_out(member),
        association=association_out(member.association),
        revealed=revealed,
        can_unmask=True,
    )


@router.get("/console/audit")
def audit_page(current: CurrentPage, session: DbSession, cursor: str | None = None) -> Any:
    events, next_cursor = paginate(
        session,
        select(AuditEvent).where(visible_chains(session, current.principal)),
        order=[AuditEvent.id],
        key=lambda e: [e.id],
        page=PageRequest(cursor, 100),
        descending=True,
    )
    return current.render(
        "audit.html",
        events=events,
        next_cursor=next_cursor,
        action_label=lambda action: audit_action_label(current.lang, action),
        object_label=lambda object_type: object_type_label(current.lang, object_type),
        details=lambda payload: audit_details(current.lang, payload),
    )


def _signed_in(request: Request) -> credentials.Authenticated | None:
    """Who is signed in, for an error page: as the request found out, or looked up now (an
    unknown address, a request refused before its page was opened); None when nobody is."""
    cached: credentials.Authenticated | None = getattr(request.state, "authenticated", None)
    if cached is not None or not request.cookies.get(SESSION_COOKIE):
        return cached
    factory: sessionmaker[Session] = request.app.state.read_session_factory
    try:
        with factory() as session:
            return authenticate(request, session)
    except HuzhuError:
        return None


def request_field_label(location: list[str]) -> tuple[str, str, str, str]:
    """(where, label) in Chinese and English for a refused field's location, such as
    ``["path", "item_id"]`` -> 网址中的 差错编号 / Item no. in the address."""
    place = location[0] if location else ""
    name = location[1] if len(location) > 1 else ""
    where_zh, where_en = FIELD_PLACES.get(place, ("", ""))
    if not name:
        zh, en = ("内容", "Content")
    else:
        zh, en = REQUEST_FIELD_LABELS.get(
            f"{place}.{name}", REQUEST_FIELD_LABELS.get(name, (f"“{name}”", f"'{name}'"))
        )
    return where_zh, zh, en, where_en


def refused_fields(problem: Problem) -> list[FormError]:
    """The fields request validation refused, each named as the user knows it with the reason
    in words: 网址中的差错编号须不小于 1 / Item no. in the address must be at least 1."""
    errors = problem.details.get("errors")
    if problem.code != "request_invalid" or not isinstance(errors, list):
        return []
    found = []
    for error in errors:
        if not isinstance(error, dict) or "reason_zh" not in error:
            continue
        location = [str(part) for part in error.get("location", [])]
        where_zh, zh, en, where_en = request_field_label(location)
        found.append(
            FormError(
                tuple(location[1:2]),
                f"{where_zh}{zh}{error['reason_zh']}",
                " ".join(part for part in (en, where_en, str(error.get("reason_en", ""))) if part),
            )
        )
    return found


def html_error_page(request: Request, problem: Problem) -> Response:
    """Browser requests get a page: sign-in for 401 (then back to the page, its query kept, or
    for a form's POST the page the form is on), an explained error otherwise, with the
    navigation and sign-out of whoever is signed in."""
    if problem.status == 401:
        target = quote(page_of(request), safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)
    lang = language(request)
    found = _signed_in(request)
    principal = found.principal if found is not None else None
    fields = refused_fields(problem)
    if fields:
        message = translate(lang, "request_invalid")
    else:
        message = problem.message_en if lang == "en" else problem.message_zh
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            **page_context(request, lang, principal, (found.csrf_token or "") if found else ""),
            "problem": problem,
            "message": message,
            "fields": fields,
        },
        status_code=problem.status,
    )


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)
    app.state.html_error_page = html_error_page


# --- the mismatch queue ----------------------------------------------------------------------


def assignee_choices(current: Page, session: Session) -> list[tuple[str, str]]:
    """The queue list's assignee filter: (user name, words) for the user themself first
    (分派给我), then everyone some item in their scope is assigned to, by display name."""
    mine = current.principal.username
    assigned = session.scalars(
        scoped_items(current.principal)
        .where(QueueItem.assignee.is_not(None), QueueItem.assignee != mine)
        .with_only_columns(QueueItem.assignee)
        .distinct()
        .order_by(QueueItem.assignee)
    ).all()
    return [(mine, current.t("assigned_to_me"))] + [
        (name, current.who(f"{ACTOR_PREFIX}{name}")) for name in assigned if name
    ]


@router.get("/console/queue")
def queue_page(
    current: CurrentPage,
    session: DbSession,
    kind: str | None = None,
    status: str | None = None,
    association_id: OptionalQueryId = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    cursor: str | None = None,
    done: OptionalQueryId = None,
) -> Any:
    """The work list, by priority, narrowed by type, status, association and assignee (the
    API's filters; "mine" is the user's own name)."""
    current.principal.require(Permission.READ_QUEUE)
    chosen_status = ItemStatus(status) if status in {s.value for s in ItemStatus} else None
    statement = filtered(
        current.principal,
        status=chosen_status,
        kind=kind or None,
        association_id=association_id,
        assignee=assignee or None,
    )
    items, next_cursor = list_page(session, statement, QueueSort.PRIORITY, PageRequest(cursor, 50))
    chosen = {
        "kind": kind or "",
        "status": status or "",
        "association_id": str(association_id or ""),
        "assignee": assignee or "",
    }
    names = dict(session.execute(select(Association.id, Association.name)).all())
    # the state the item just worked is in now (open again when handed to another
    # association), where this person may still see it
    done_status = None
    if done is not None:
        shown = session.scalar(
            scoped_items(current.principal)
            .where(QueueItem.id == done)
            .with_only_columns(QueueItem.status)
        )
        done_status = shown.value if shown is not None else None
    return current.render(
        "queue.html",
        items=items,
        names=names,
        kinds=sorted(KIND_LABELS),
        statuses=[s.value for s in ItemStatus],
        associations=associations_in_scope(session, current.principal),
        assignees=assignee_choices(current, session),
        chosen_kind=kind or "",
        chosen_status=status or "",
        chosen_association=chosen["association_id"],
        chosen_assignee=chosen["assignee"],
        filters=urlencode({k: v for k, v in chosen.items() if v}),
        next_cursor=next_cursor,
        kind_label=lambda k: kind_label(current.lang, k),
        status_label=lambda s: status_label(current.lang, str(s)),
        expected_label=lambda subject: expected_label(current.lang, subject),
        done=done,
        done_status=done_status,
    )


def render_queue_item(
    current: Page,
    session: Session,
    item_id: int,
    *,
    review_errors: list[FormError] | None = None,
    review_note: str = "",
    review_code: str = "",
    resolve_form: ResolveForm | None = None,
    assign_form: AssignForm | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The item page; ``review_errors`` are the reasons a second review was refused, shown
    beside the review form with the note as it was typed; ``resolve_form`` is a refused
    resolution as it was filled in, with its reasons, shown in the resolve form;
    ``assign_form`` a refused assignment, the name chosen and why it was refused."""
    item = visible_item(session, current.principal, item_id, Permission.READ_QUEUE)
    shown = detail(session, item)
    can_work = current.principal.has(Permission.WORK_QUEUE)
    # whom the item may go to: the people who can work it, offered by name; the server checks
    assignees = queue_service.eligible_assignees(session, item) if can_work else []
    names = [u.username for u in assignees]
    chosen = next((n for n in (item.assignee, current.principal.username) if n in names), "")
    assigning = assign_form or AssignForm(assignee=chosen)
    siblings = []
    if can_work:
        siblings = list(
            session.scalars(
                select(Association)
                .where(
                    Association.special_account_id == item.special_account_id,
                    # the association it belongs to already is no target (none: IS NOT NULL)
                    Association.id != item.association_id,
                )
                .order_by(Association.code)
            )
        )
    # An open item takes any resolution; one parked with the bank or under write-off review
    # can only be dismissed (a write-off request is decided in the review section). What the
    # service would refuse whatever is typed (booking what is not one association's money or
    # has nothing left to book, such as a missing statement or a return already reversed; a
    # manual match with nothing of the item left open; dismissing money still open) is not
    # offered.
    refused = queue_service.refused_resolutions(session, item)
    offered = [
        a
        for a in (
            list(ResolutionAction) if item.status is ItemStatus.OPEN else [ResolutionAction.DISMISS]
        )
        if a.value not in refused
    ]
    # a manual match takes the lines and entries ticked among the account's open ones
    candidates = (
        queue_service.match_candidates(session, item)
        if ResolutionAction.MANUAL_MATCH in offered and current.principal.has(Permission.WORK_QUEUE)
        else []
    )
    form = resolve_form or ResolveForm(
        action=offered[0].value if offered else "", chosen={c.item_id for c in candidates if c.own}
    )
    return current.render(
        "queue_item.html",
        status_code=status_code,
        item=shown,
        association=session.get(Association, item.association_id) if item.association_id else None,
        can_work=can_work,
        actions=[(a.value, action_label(current.lang, a.value)) for a in offered],
        assignees=assignees,
        assign_form=assigning,
        siblings=siblings if ResolutionAction.REASSIGN in offered else [],
        review_errors=review_errors or [],
        review_note=review_note,
        review_code=review_code,
        resolve_form=form,
        candidates=candidates,
        expected_label=lambda subject: expected_label(current.lang, subject),
        kind_label=lambda k: kind_label(current.lang, k),
        status_label=lambda s: status_label(current.lang, str(s)),
        event_label=lambda action: queue_event_label(current.lang, action),
    )


@dataclass
class ResolveForm:
    """The resolve form as filled in: the action, the note, the target association and the
    lines and entries ticked for a manual match; ``errors`` why it was refused."""

    action: str
    note: str = ""
    association_id: str = ""
    chosen: set[str] = field(default_factory=set)
    errors: list[FormError] = field(default_factory=list)
    code: str = ""


@dataclass
class AssignForm:
    """The assign form: the user name chosen, and why an assignment was refused."""

    assignee: str
    errors: list[FormError] = field(default_factory=list)
    code: str = ""


@router.get("/console/queue/{item_id}")
def queue_item_page(item_id: ObjectId, current: CurrentPage, session: DbSession) -> Any:
    return render_queue_item(current, session, item_id)


@router.post("/console/queue/{item_id}/resolve")
def queue_item_resolve(
    item_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()],
    action: Annotated[ResolutionAction, Form()],
    note: Annotated[str, Form(max_length=600)] = "",
    association_id: Annotated[str, Form()] = "",
    line_ids: Annotated[list[str] | None, Form()] = None,
    entry_ids: Annotated[list[str] | None, Form()] = None,
) -> Any:
    """Resolve the item by the API's resolution (same checks, same audit record); a manual
    match takes the lines and entries ticked. A refusal is shown in the form, as filled in."""
    current.require_csrf(csrf_token)
    visible_item(session, current.principal, item_id, Permission.WORK_QUEUE)
    # a manual match of the lines and entries ticked; nothing ticked: the item's own
    manual = action is ResolutionAction.MANUAL_MATCH and any(
        [*(line_ids or []), *(entry_ids or [])]
    )
    try:
        body = ResolveIn(
            action=action,
            note=note.strip() or " ",
            association_id=optional_form_id("association_id", association_id),
            line_ids=[i for i in line_ids or [] if i] if manual else None,
            entry_ids=[i for i in entry_ids or [] if i] if manual else None,
        )
        resolve(current.request, session, current.principal, item_id, body)
    except ValidationError as invalid:
        refused = ValidationFailed(
            "表单不合法（人工匹配最多选 200 条流水和 200 条账务）",
            "the form is invalid (a manual match takes at most 200 lines and 200 entries)",
            code="request_invalid",
            errors=str(invalid),
        )
        return _refused_resolution(
            current, session, item_id, action, note, association_id, line_ids, entry_ids, refused
        )
    except (ValidationFailed, RuleViolation, Conflict, LedgerError, NotFound) as refused:
        return _refused_resolution(
            current, session, item_id, action, note, association_id, line_ids, entry_ids, refused
        )
    return RedirectResponse(f"/console/queue?done={item_id}", status_code=303)


def _refused_resolution(
    current: Page,
    session: Session,
    item_id: int,
    action: ResolutionAction,
    note: str,
    association_id: str,
    line_ids: list[str] | None,
    entry_ids: list[str] | None,
    refused: HuzhuError,
) -> HTMLResponse:
    """The item page again after a refused resolution: nothing it wrote kept, the form as it
    was filled in, the reason beside it (409 for a conflict, else 422)."""
    session.rollback()
    error = FormError(("note",), refused.message_zh, refused.message_en)
    if isinstance(refused, Conflict) and refused.code == "queue_item_state":
        # a second click, or someone else was quicker: say it is done already
        now = queue_service.get_item(session, item_id).status.value
        error = FormError(
            (),
            f"该项已处理，本次提交未执行，无需再次操作（当前状态：{status_label('zh', now)}）",
            "this item was handled already; this submission did nothing and nothing more "
            f"is needed (now: {status_label('en', now)})",
        )
    return render_queue_item(
        current,
        session,
        item_id,
        resolve_form=ResolveForm(
            action=action.value,
            note=note,
            association_id=association_id,
            chosen={i for i in [*(line_ids or []), *(entry_ids or [])] if i},
            errors=[error],
            code=refused.code,
        ),
        status_code=409 if isinstance(refused, Conflict) else 422,
    )


@router.post("/console/queue/{item_id}/assign")
def queue_item_assign(
    item_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()],
    assignee: Annotated[str, Form(max_length=100)],
) -> Any:
    """Assign the item to one of the people offered (the service checks whoever is named: an
    active user who works the queue within the item's county). A refusal is shown beside the
    form with the reason."""
    current.require_csrf(csrf_token)
    visible_item(session, current.principal, item_id, Permission.WORK_QUEUE)
    try:
        queue_service.assign(session, item_id, assignee=assignee, actor=current.principal.actor)
    except (ValidationFailed, Conflict) as refused:
        session.rollback()
        return render_queue_item(
            current,
            session,
            item_id,
            assign_form=AssignForm(
                assignee=assignee,
                errors=[FormError(("assignee",), refused.message_zh, refused.message_en)],
                code=refused.code,
            ),
            status_code=409 if isinstance(refused, Conflict) else 422,
        )
    return RedirectResponse(f"/console/queue/{item_id}", status_code=303)


# --- bank follow-ups --------------------------------------------------------------------------


# Follow-ups about a file as a whole, whose amount is none of the file's money (0 as stored):
# the page shows no amount for them.
KINDS_WITHOUT_AMOUNT = frozenset({FollowUpKind.FILE_QUARANTINED})


@dataclass(frozen=True)
class FollowUpRow:
    """One follow-up as the page shows it, with what it links to; ``amount_fen`` None where
    the follow-up is about no amount; ``quarantined`` the file of a quarantine follow-up while
    it is still quarantined (marking the follow-up done leaves it so: the form says it)."""

    item: FollowUpItem
    label: str
    message: str
    association: Association | None
    loan: Loan | None
    batch: PaymentBatch | None
    file: InboundFile | None
    amount_fen: int | None
    quarantined: InboundFile | None


def still_quarantined(session: Session, item: FollowUpItem) -> InboundFile | None:
    """The file a quarantine follow-up is about, while it is still quarantined."""
    if item.kind is not FollowUpKind.FILE_QUARANTINED or item.inbound_file_id is None:
        return None
    file = session.get(InboundFile, item.inbound_file_id)
    return file if file is not None and file.status is InboundStatus.QUARANTINED else None


def follow_up_rows(session: Session, current: Page, items: list[FollowUpItem]) -> list[FollowUpRow]:
    english = current.lang == "en"
    can_see_files = current.principal.has(Permission.READ_FILES)
    rows = []
    for item in items:
        loan_id = follow_up_service.loan_id_of(session, item)
        rows.append(
            FollowUpRow(
                item=item,
                label=item.kind.label_en if english else item.kind.label_zh,
                message=item.message_en if english else item.message_zh,
                association=session.get(Association, item.association_id)
                if item.association_id is not None
                else None,
                loan=session.get(Loan, loan_id) if loan_id is not None else None,
                batch=session.get(PaymentBatch, item.batch_id)
                if item.batch_id is not None and can_see_files
                else None,
                file=session.get(InboundFile, item.inbound_file_id)
                if item.inbound_file_id is not None and can_see_files
                else None,
                amount_fen=None if item.kind in KINDS_WITHOUT_AMOUNT else item.amount_fen,
                quarantined=None if item.resolved else still_quarantined(session, item),
            )
        )
    return rows


def render_follow_ups(
    current: Page,
    session: Session,
    *,
    state: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    done: int | None = None,
    refused: tuple[int, str, list[FormError]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The follow-ups page; ``refused`` is (follow-up id, the note typed, the reasons) of a
    resolution that was refused, shown beside that follow-up's form."""
    current.principal.require(Permission.READ_FOLLOW_UPS)
    states = follow_up_api.FollowUpState
    chosen_state = states(state) if state in set(states) else states.OPEN
    chosen_kind = FollowUpKind(kind) if kind in set(FollowUpKind) else None
    statement = follow_up_api.visible(current.principal, state=chosen_state, kind=chosen_kind)
    items, next_cursor = follow_up_api.list_page(session, statement, PageRequest(cursor, 50))
    english = current.lang == "en"
    rows = follow_up_rows(session, current, items)
    return current.render(
        "follow_ups.html",
        status_code=status_code,
        rows=rows,
        kinds=[(k.value, k.label_en if english else k.label_zh) for k in FollowUpKind],
        states=[
            (states.OPEN.value, current.t("state_open")),
            (states.RESOLVED.value, current.t("state_resolved")),
            (states.ALL.value, current.t("all")),
        ],
        chosen_state=chosen_state.value,
        chosen_kind=chosen_kind.value if chosen_kind else "",
        next_cursor=next_cursor,
        can_work=current.principal.has(Permission.WORK_FOLLOW_UPS),
        done=done,
        refused_id=refused[0] if refused else None,
        refused_note=refused[1] if refused else "",
        refused_errors=refused[2] if refused else [],
        refused_in_list=refused is not None and any(r.item.id == refused[0] for r in rows),
    )


@router.get("/console/follow-ups")
def follow_ups_page(
    current: CurrentPage,
    session: DbSession,
    state: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    done: OptionalQueryId = None,
) -> Any:
    return render_follow_ups(current, session, state=state, kind=kind, cursor=cursor, done=done)


def keep_quarantined_refusal(file: InboundFile) -> ValidationFailed:
    """Marking a quarantine follow-up done while its file is still quarantined, without saying
    the file is to stay so: the file would never be applied, and nobody reminded of it."""
    return ValidationFailed(
        f"银行文件 {file.name} 仍处于隔离状态，标记已处理不会重新处理该文件。"
        "文件可以处理时请在文件页面“重新处理”；确定不再处理（如银行已重新发送更正后的文件）"
        "请勾选“文件保持隔离，不再处理”后再标记",
        f"bank file {file.name} is still quarantined, and marking this done does not apply "
        "it. If the file can apply now, reapply it on its page; if it is not to be applied "
        "(the bank sent a corrected file, say), tick 'the file stays quarantined' first",
        field="keep_quarantined",
    )


@router.post("/console/follow-ups/{follow_up_id}/resolve")
def follow_up_resolve(
    follow_up_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    keep_quarantined: Annotated[str, Form()] = "",
) -> Any:
    """Mark a follow-up resolved with the note saying what was done (the API's resolution:
    same checks, same audit record); a refusal is shown beside the form, the note kept. A
    quarantine follow-up whose file is still quarantined is marked done only when the form
    says the file is to stay quarantined (reapplying it resolves the follow-up itself)."""
    current.require_csrf(csrf_token)
    item = follow_up_api.visible_follow_up(
        session, current.principal, follow_up_id, Permission.WORK_FOLLOW_UPS
    )
    try:
        quarantined = still_quarantined(session, item)
        if quarantined is not None and not keep_quarantined and not item.resolved:
            raise keep_quarantined_refusal(quarantined)
        follow_up_service.resolve_follow_up(
            session, follow_up_id, actor=current.principal.actor, note=note
        )
    except (ValidationFailed, Conflict) as refused:
        session.rollback()
        errors = [FormError(("note",), refused.message_zh, refused.message_en)]
        return render_follow_ups(
            current,
            session,
            refused=(follow_up_id, note, errors),
            status_code=409 if isinstance(refused, Conflict) else 422,
        )
    return RedirectResponse(f"/console/follow-ups?done={follow_up_id}", status_code=303)


# --- automatic postings --------------------------------------------------------------------


# The states the automatic postings page filters by: whether a posting is undone (None: all).
AUTO_POSTING_STATES: dict[str, bool | None] = {"standing": False, "undone": True, "all": None}
AUTO_POSTING_DEFAULT = "standing"
# each state's word on the page, in the filter's order
AUTO_POSTING_STATE_TEXT = {"standing": "auto_standing", "undone": "auto_undone", "all": "all"}


def unknown_state_notice(state: str) -> FormError:
    """The line saying the state asked for is not one the page knows, and what it shows."""
    shown = state if len(state) <= 40 else state[:40] + "…"
    zh_states = "、".join(translate("zh", key) for key in AUTO_POSTING_STATE_TEXT.values())
    en_states = ", ".join(translate("en", key) for key in AUTO_POSTING_STATE_TEXT.values())
    return FormError(
        ("state",),
        f"没有“{shown}”这一状态（可选：{zh_states}），"
        f"下面按默认显示{translate('zh', 'auto_standing')}的自动记账",
        f"There is no state {shown!r} (choose {en_states}): "
        f"showing the default, {translate('en', 'auto_standing').lower()} postings",
    )


def render_auto_postings(
    current: Page,
    session: Session,
    *,
    state: str | None = None,
    cursor: str | None = None,
    done: int | None = None,
    refused: tuple[int, str, list[FormError]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """What the reconciler booked without a person, newest first, each standing one with a
    form to undo it; ``refused`` is (posting id, the reason typed, why it was refused)."""
    current.principal.require(Permission.READ_STATEMENTS)
    # a state the page does not know (an old or mistyped link) shows the default, marked in
    # the filter, with a line saying so: never every posting under a filter marking none
    chosen = state if state in AUTO_POSTING_STATES else AUTO_POSTING_DEFAULT
    unknown = state if state and state not in AUTO_POSTING_STATES else None
    statement = reconcile_api.scoped_auto_postings(
        current.principal, undone=AUTO_POSTING_STATES[chosen]
    )
    postings, next_cursor = paginate(
        session,
        statement,
        order=[AutoPosting.id],
        key=lambda a: [a.id],
        page=PageRequest(cursor, 50),
        descending=True,
    )
    names = dict(session.execute(select(Association.id, Association.name)).all())
    days = reconcile_service.auto_posting_days(session, postings)
    instalments = {
        line_id: (contract, number)
        for line_id, contract, number in session.execute(
            select(RepaymentScheduleLine.id, Loan.contract_no, RepaymentScheduleLine.instalment_no)
            .join(Loan, Loan.id == RepaymentScheduleLine.loan_id)
            .where(
                RepaymentScheduleLine.id.in_(
                    {a.schedule_line_id for a in postings if a.schedule_line_id}
                )
            )
        )
    }
    rows = [
        {
            "posting": a,
            "day": days[a.id],
            "association": names.get(a.association_id, "—"),
            "lines": reconcile_service.auto_posting_line_ids(a),
            "instalment": instalments.get(a.schedule_line_id) if a.schedule_line_id else None,
        }
        for a in postings
    ]
    return current.render(
        "auto_postings.html",
        status_code=status_code,
        rows=rows,
        states=[(value, current.t(key)) for value, key in AUTO_POSTING_STATE_TEXT.items()],
        chosen_state=chosen,
        unknown_state=unknown_state_notice(unknown) if unknown else None,
        next_cursor=next_cursor,
        can_work=current.principal.has(Permission.WORK_QUEUE),
        done=done,
        refused_id=refused[0] if refused else None,
        refused_reason=refused[1] if refused else "",
        refused_errors=refused[2] if refused else [],
        # a refusal with no undo form to show it beside (undone already) is shown above
        refused_in_form=refused is not None
        and current.principal.has(Permission.WORK_QUEUE)
        and any(r["posting"].id == refused[0] and not r["posting"].undone_at for r in rows),
    )


@router.get("/console/auto-postings")
def auto_postings_page(
    current: CurrentPage,
    session: DbSession,
    state: str | None = None,
    cursor: str | None = None,
    done: OptionalQueryId = None,
) -> Any:
    return render_auto_postings(current, session, state=state, cursor=cursor, done=done)


@router.post("/console/auto-postings/{auto_posting_id}/undo")
def auto_posting_undo(
    auto_posting_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Any:
    """Undo an automatic posting (the API's undo: same checks, same audit record); a refusal
    is shown beside the form, the reason kept."""
    current.require_csrf(csrf_token)
    reconcile_api.workable_auto_posting(session, current.principal, auto_posting_id)
    try:
        reconcile_service.undo_auto_posting(
            session,
            auto_posting_id,
            actor=current.principal.actor,
            reason=reason,
        )
    except (ValidationFailed, Conflict) as refused:
        session.rollback()
        errors = [FormError(("reason",), refused.message_zh, refused.message_en)]
        if isinstance(refused, Conflict):
            errors = [
                FormError(
                    ("reason",),
                    f"自动记账 #{auto_posting_id} 已撤销，无需再次操作",
                    f"automatic posting #{auto_posting_id} is undone already; nothing more to do",
                )
            ]
        return render_auto_postings(
            current,
            session,
            state="all",
            refused=(auto_posting_id, reason, errors),
            status_code=409 if isinstance(refused, Conflict) else 422,
        )
    return RedirectResponse(f"/console/auto-postings?done={auto_posting_id}", status_code=303)


# --- batches and bank files ------------------------------------------------------------------


@router.get("/console/batches")
def batches_page(
    current: CurrentPage,
    session: DbSession,
    business_date: date | None = None,
    batches_cursor: Annotated[str | None, Query(max_length=512)] = None,
    files_cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Any:
    """The batches and the bank files, newest first, each list paged on its own (the API's
    lists and cursors), both narrowed to one business date when one is chosen."""
    current.principal.require(Permission.READ_FILES)
    batches = list_batches(
        principal=current.principal,
        session=session,
        page=PageRequest(batches_cursor, 50),
        status=None,
        business_date=business_date,
    )
    files = list_bank_files(
        principal=current.principal,
        session=session,
        page=PageRequest(files_cursor, 50),
        kind=None,
        status=None,
        business_date=business_date,
    )

    def link(**cursors: str | None) -> str:
        """This page with the date chosen and the cursors given (the others as they are)."""
        chosen = {
            "business_date": business_date.isoformat() if business_date else None,
            "batches_cursor": batches_cursor,
            "files_cursor": files_cursor,
            **cursors,
        }
        return "/console/batches?" + urlencode({k: v for k, v in chosen.items() if v})

    return current.render(
        "batches.html",
        batches=batches.items,
        files=files.items,
        business_date=business_date,
        batches_next=link(batches_cursor=batches.next_cursor) if batches.next_cursor else None,
        files_next=link(files_cursor=files.next_cursor) if files.next_cursor else None,
        newest=link(batches_cursor=None, files_cursor=None)
        if batches_cursor or files_cursor
        else None,
        can_download=current.principal.has(Permission.DOWNLOAD_FILES),
    )


@router.get("/console/batches/{batch_id}")
def batch_page(batch_id: ObjectId, current: CurrentPage, session: DbSession) -> Any:
    batch = visible_batch(session, current.principal, batch_id, Permission.READ_FILES)
    return current.render(
        "batch.html",
        batch=batch_detail(session, batch),
        can_download=current.principal.has(Permission.DOWNLOAD_FILES),
    )


def render_bank_file(
    current: Page,
    session: Session,
    file_id: int,
    *,
    reapplied: bool = False,
    note: str = "",
    errors: list[FormError] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A bank file: what it is, why it was quarantined, the follow-ups it raised, and for
    whoever works the follow-ups a form to put a quarantined file back to be applied (unless
    nothing can make it apply, which the page says instead)."""
    shown = read_bank_file(file_id, current.principal, session)  # the API's view and scope
    file = ingestion.get_inbound_file(session, file_id)
    follow_ups: list[FollowUpItem] = []
    if current.principal.has(Permission.READ_FOLLOW_UPS):
        follow_ups = list(
            session.scalars(
                follow_up_api.visible(current.principal, state=follow_up_api.FollowUpState.ALL)
                .where(FollowUpItem.inbound_file_id == file.id)
                .order_by(FollowUpItem.id)
            )
        )
    refusal = ingestion.reapply_refusal(file)
    english = current.lang == "en"
    return current.render(
        "bank_file.html",
        status_code=status_code,
        file=shown,
        batch=session.get(PaymentBatch, file.batch_id) if file.batch_id is not None else None,
        follow_ups=[
            (
                f,
                f.kind.label_en if english else f.kind.label_zh,
                f.message_en if english else f.message_zh,
            )
            for f in follow_ups
        ],
        can_download=current.principal.has(Permission.DOWNLOAD_FILES),
        can_reapply=current.principal.has(Permission.WORK_FOLLOW_UPS) and refusal is None,
        # a quarantined file nothing can make apply: why, instead of the form
        cannot_reapply=(refusal.message_en if english else refusal.message_zh)
        if refusal is not None and file.status is InboundStatus.QUARANTINED
        else None,
        reapplied=reapplied,
        note=note,
        errors=errors or [],
        note_max=ingestion.REAPPLY_NOTE_MAX,
    )


@router.get("/console/bank-files/{file_id}")
def bank_file_page(
    file_id: ObjectId, current: CurrentPage, session: DbSession, reapplied: bool = False
) -> Any:
    return render_bank_file(current, session, file_id, reapplied=reapplied)


@router.post("/console/bank-files/{file_id}/reapply")
def bank_file_reapply(
    file_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Any:
    """Put a quarantined bank file back to be applied by the next night (the API's reapply:
    same permission, same checks, same audit record; its quarantine follow-ups are resolved
    with the note). A refusal is shown beside the form, the note kept."""
    current.require_csrf(csrf_token)
    visible_file(session, current.principal, file_id, Permission.WORK_FOLLOW_UPS)
    try:
        ingestion.reapply_file(session, file_id, actor=current.principal.actor, note=note)
    except (ValidationFailed, Conflict) as refused:
        session.rollback()
        return render_bank_file(
            current,
            session,
            file_id,
            note=note,
            errors=[FormError(("note",), refused.message_zh, refused.message_en)],
            status_code=409 if isinstance(refused, Conflict) else 422,
        )
    return RedirectResponse(f"/console/bank-files/{file_id}?reapplied=true", status_code=303)


# --- report downloads --------------------------------------------------------------------------


@router.get("/console/reports")
def reports_page(current: CurrentPage, session: DbSession) -> Any:
    current.principal.require(Permission.READ_REPORTS)
    today = business_today()
    month_start = today.replace(day=1)
    return current.render(
        "reports.html",
        associations=associations_in_scope(session, current.principal),
        county_id=current.principal.county_id,
        today=today,
        month_start=month_start,
    )


# The downloads: the API's (same permission, scope and checks, same file), answered at a
# console address so that a refusal (a period run backwards or over a year, a date left
# empty) is a console page with the reason, and an expired session the sign-in page, where
# the API answers its clients with a problem document.

Format = Annotated[ReportFormat, Query()]


@router.get("/console/reports/period")
def period_download(
    current: CurrentPage,
    session: DbSession,
    association_id: QueryId,
    start: date,
    end: date,
    format: Format = ReportFormat.XLSX,
) -> Response:
    """月报/年报: the API's period report."""
    return report_api.period_report(
        association_id=association_id,
        principal=current.principal,
        session=session,
        start=start,
        end=end,
        format=format,
    )


@router.get("/console/reports/loan-detail")
def loan_detail_download(
    current: CurrentPage,
    session: DbSession,
    association_id: QueryId,
    as_of: date,
    since: date | None = None,
    format: Format = ReportFormat.XLSX,
) -> Response:
    """借款明细表（附件2）: the API's loan detail table."""
    return report_api.loan_detail_report(
        association_id=association_id,
        principal=current.principal,
        session=session,
        as_of=as_of,
        since=since,
        format=format,
    )


@router.get("/console/reports/county-summary")
def county_summary_download(
    current: CurrentPage,
    session: DbSession,
    county_id: QueryId,
    as_of: date,
    since: date | None = None,
    format: Format = ReportFormat.XLSX,
) -> Response:
    """县汇总表（附件3）: the API's county summary."""
    return report_api.county_summary_report(
        county_id=county_id,
        request=current.request,
        principal=current.principal,
        session=session,
        as_of=as_of,
        since=since,
        format=format,
    )


@router.get("/console/reports/evaluation-table")
def evaluation_download(
    current: CurrentPage,
    session: DbSession,
    association_id: QueryId,
    as_of: date,
    since: date | None = None,
    format: Format = ReportFormat.XLSX,
) -> Response:
    """等级评估表（附件1）: the API's evaluation table."""
    return report_api.evaluation_report(
        association_id=association_id,
        request=current.request,
        principal=current.principal,
        session=session,
        as_of=as_of,
        since=since,
        format=format,
    )


@router.get("/console/batches/{batch_id}/content")
def batch_download(batch_id: ObjectId, current: CurrentPage, session: DbSession) -> Response:
    """A batch file as it was sent: the API's download."""
    return download_batch(batch_id, current.principal, session)


@router.get("/console/bank-files/{file_id}/content")
def bank_file_download(file_id: ObjectId, current: CurrentPage, session: DbSession) -> Response:
    """A bank file as it came: the API's download."""
    return download_bank_file(file_id, current.principal, session)


def evaluation_charts(current: Page, figures: EvaluationFigures) -> list[Any]:
    """The evaluation's figures as bars: where the money comes from, how loans moved (cash in
    warning) and the shares the grade is scored on (in hundredths of a per cent)."""
    english = current.lang == "en"

    def bar(zh: str, en: str, value: int, text: str, *, warn: bool = False) -> Bar:
        return Bar(label=en if english else zh, value=value, text=text, warn=warn)

    funding = [
        bar(
            "财政资金",
            "Fiscal capital",
            figures.fiscal_capital_fen,
            yuan(figures.fiscal_capital_fen),
        ),
        bar(
            "农户互助金",
            "Members' deposits",
            figures.member_deposits_fen,
            yuan(figures.member_deposits_fen),
        ),
        bar(
            "其他投入", "Other capital", figures.other_capital_fen, yuan(figures.other_capital_fen)
        ),
    ]
    moved = [
        (figures.disbursed_transfer, "发放·转账", "Disbursed by transfer", False),
        (figures.disbursed_cash, "发放·现金", "Disbursed in cash", True),
        (figures.repaid_transfer, "还款·转账", "Repaid by transfer", False),
        (figures.repaid_cash, "还款·现金", "Repaid in cash", True),
    ]
    channels = [
        bar(
            zh, en, ca.amount_fen, f"{ca.count} · {yuan(ca.amount_fen)}", warn=cash and ca.count > 0
        )
        for ca, zh, en, cash in moved
    ]
    shares = []
    for zh, en, ratio, warn_above in (
        ("低收入农户占会员", "Low-income members", figures.low_income_member_share, None),
        ("低收入农户占借款户", "Low-income borrowers", figures.low_income_borrower_share, None),
        ("前10名借款占资金总量", "Top-10 share of fund", figures.top10_share, None),
        ("逾期占借款余额", "Overdue share", figures.overdue_share, 0),
        ("到期回收率", "Recovery rate", figures.recovery_rate, None),
    ):
        value = ratio.value
        hundredths = 0 if value is None else int(value * 10_000)
        text = ratio.percent() + (" %" if value is not None else "")
        warn = warn_above is not None and hundredths > warn_above
        shares.append(bar(zh, en, hundredths, text, warn=warn))
    return [
        bar_chart(funding, title=current.t("evaluation_funding")),
        bar_chart(channels, title=current.t("evaluation_channels")),
        bar_chart(shares, title=current.t("evaluation_shares")),
    ]


@router.get("/console/reports/evaluation")
def evaluation_page(
    current: CurrentPage,
    session: DbSession,
    association_id: QueryId,
    as_of: date | None = None,
    since: date | None = None,
) -> Any:
    """附件1 on the console: the figures with their labels, charts, the flags, the suggested
    grade with the reasons for each deduction, and the XLSX/CSV downloads of the table."""
    association = visible_association(
        session, current.principal, association_id, Permission.READ_REPORTS
    )
    end = as_of or business_today()
    evaluation = report_service.association_evaluation(
        session,
        association.id,
        report_api.evaluation_scoring(current.request),
        as_of=end,
        since=since,
    )
    english = current.lang == "en"
    figures = evaluation.figures
    query = f"as_of={end.isoformat()}" + (f"&since={since.isoformat()}" if since else "")
    return current.render(
        "evaluation.html",
        association=association,
        evaluation=evaluation,
        figures=figures,
        indicators=[
            (
                i.label_en if english else i.label_zh,
                i.label_zh if english else i.label_en,
                i.read(figures),
                i.unit,
            )
            for i in report_api.INDICATORS
        ],
        reasons=[
            (r.message_en if english else r.message_zh, r.value, r.threshold, r.points)
            for r in evaluation.suggestion.reasons
        ],
        flags=[f.message_en if english else f.message_zh for f in figures.flags],
        charts=evaluation_charts(current, figures),
        as_of=end,
        since=since,
        download=f"/console/reports/evaluation-table?association_id={association.id}&{query}",
        json_link=f"/api/v1/associations/{association.id}/evaluation?{query}",
    )


@router.post("/console/queue/{item_id}/review")
def queue_item_review(
    item_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()],
    decision: Annotated[str, Form(pattern="^(approve|return)$")],
    note: Annotated[str, Form(max_length=600)] = "",
) -> Any:
    """A second person decides what the item waits for, by the API's review: approves a large
    adjusting entry or a write-off request (booked on the business date), or returns it with a
    reason. A refusal (the proposer or requester deciding, a return without a reason) is shown
    beside the review form, the note kept."""
    current.require_csrf(csrf_token)
    visible_item(session, current.principal, item_id, Permission.WORK_QUEUE)
    approve = decision == "approve"
    try:
        queue_service.review(
            session,
            item_id,
            actor=current.principal.actor,
            approve=approve,
            note=note,
        )
    except (ValidationFailed, RuleViolation, Conflict, LedgerError) as refused:
        session.rollback()
        error = FormError(("note",), refused.message_zh, refused.message_en)
        if isinstance(refused, Conflict) and refused.code == "queue_item_state":
            # a second click, or another reviewer was quicker: say it is done already
            now = queue_service.get_item(session, item_id).status.value
            error = FormError(
                ("note",),
                f"该项已有决定，无需再次操作（当前状态：{status_label('zh', now)}）",
                f"this was decided already; nothing more to do (now: {status_label('en', now)})",
            )
        return render_queue_item(
            current,
            session,
            item_id,
            review_errors=[error],
            review_note=note,
            review_code=refused.code,
            status_code=409 if isinstance(refused, Conflict) else 422,
        )
    if approve:
        return RedirectResponse(f"/console/queue?done={item_id}", status_code=303)
    return RedirectResponse(f"/console/queue/{item_id}", status_code=303)


# --- entering members and loans ----------------------------------------------------------------


@dataclass(frozen=True)
class FormError:
    """One refusal shown beside a form: the fields it concerns (none: the whole form) and the
    reason in Chinese and in English."""

    fields: tuple[str, ...]
    message_zh: str
    message_en: str


@dataclass
class EntryForm:
    """What the user typed into an entry form (kept as typed) and why it was refused."""

    values: dict[str, Any]
    errors: list[FormError] = field(default_factory=list)

    @property
    def invalid(self) -> set[str]:
        return {name for e in self.errors for name in e.fields}


class FormInvalid(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, errors: list[FormError]) -> None:
        super().__init__("; ".join(e.message_en for e in errors))
        self.errors = errors


# Field labels (Chinese, English) used in the refusal messages.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "member_no": ("会员编号", "Member no."),
    "name": ("姓名", "Name"),
    "resident_id": ("身份证号", "Resident ID"),
    "card_number": ("惠农一卡通卡号", "Card number"),
    "phone": ("电话", "Phone"),
    "household_no": ("户号", "Household no."),
    "joined_on": ("入会日期", "Joined on"),
    "credit_grade": ("信用等级", "Credit grade"),
    "credit_grade_reason": ("等级理由", "Reason for the grade"),
    "contract_no": ("合同号", "Contract no."),
    "member_id": ("借款人", "Borrower"),
    "purpose": ("借款用途", "Purpose"),
    "amount_yuan": ("借款金额（元）", "Amount (yuan)"),
    "term_months": ("期限（月）", "Term (months)"),
    "fee_rate_permille": ("月费率（‰）", "Monthly fee rate (‰)"),
    "applied_on": ("申请日期", "Applied on"),
    "guarantor_ids": ("担保人", "Guarantors"),
    "channel": ("资金渠道", "Channel"),
}

# The API models' field names that the forms show under another name.
FORM_FIELD_OF = {"amount_fen": "amount_yuan", "monthly_fee_rate_centipermille": "fee_rate_permille"}

# What the console's addresses and forms call their fields, for a refusal of the request's
# validation (a 422 page): by "location.name" (path, query or body), else by the name; the
# entry forms' fields (FIELD_LABELS) as their forms label them.
REQUEST_FIELD_LABELS: dict[str, tuple[str, str]] = {
    "item_id": ("差错编号", "Item no."),
    "member_id": ("会员编号", "Member no."),
    "association_id": ("协会编号", "Association no."),
    "body.association_id": ("目标协会", "Target association"),
    "batch_id": ("批次编号", "Batch no."),
    "file_id": ("银行来文编号", "Bank file no."),
    "reapplied": ("刚重新处理的标记", "Whether the file was just put back"),
    "keep_quarantined": ("文件保持隔离的确认", "Confirmation the file stays quarantined"),
    "follow_up_id": ("待办事项编号", "Follow-up no."),
    "auto_posting_id": ("自动记账编号", "Automatic posting no."),
    "done": ("刚处理事项的编号", "No. of what was just done"),
    "registered": ("刚登记会员的编号", "No. of the member just registered"),
    "applied": ("刚受理借款的编号", "No. of the loan just applied for"),
    "cursor": ("翻页位置", "Page position"),
    "batches_cursor": ("批次列表的翻页位置", "Page position of the batches"),
    "files_cursor": ("银行来文列表的翻页位置", "Page position of the bank files"),
    "business_date": ("业务日期", "Business date"),
    "as_of": ("截止日", "To"),
    "since": ("起始日", "From"),
    "start": ("起始日", "From"),
    "end": ("截止日", "To"),
    "format": ("格式", "Format"),
    "county_id": ("县编号", "County no."),
    "kind": ("类型", "Type"),
    "status": ("状态", "Status"),
    "state": ("状态", "Status"),
    "next": ("登录后返回的页面", "Page to return to"),
    "code": ("语言", "Language"),
    "csrf_token": ("表单安全令牌", "Form's security token"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "action": ("处理方式", "Action"),
    "note": ("理由/说明", "Note"),
    "reason": ("撤销原因", "Reason"),
    "decision": ("审批决定", "Decision"),
    "assignee": ("处理人", "Assignee"),
    "line_ids": ("所选银行流水", "Bank lines chosen"),
    "entry_ids": ("所选账务", "Book entries chosen"),
    "body.member_id": FIELD_LABELS["member_id"],
    **{f"body.{name}": label for name, label in FIELD_LABELS.items()},
    "low_income": ("低收入户", "Low-income household"),
}
# Where a field is: (Chinese, English) words put before and after its label.
FIELD_PLACES: dict[str, tuple[str, str]] = {
    "path": ("网址中的", "in the address"),
    "query": ("网址中的", "in the address"),
    "body": ("表单中的", "in the form"),
}

YUAN_TEXT = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
PER_MILLE_TEXT = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,2})?")
WHOLE_TEXT = re.compile(r"[0-9]{1,6}")
ID_TEXT = re.compile(r"[0-9]{1,19}")


def hundredths(text: str, pattern: re.Pattern[str]) -> int | None:
    """``text`` (digits with at most two decimals, as ``pattern`` allows) times 100, in integer
    arithmetic: "12000.5" -> 1200050; None if the text does not match."""
    if not pattern.fullmatch(text):
        return None
    whole, _, decimals = text.partition(".")
    return int(whole) * 100 + int(decimals.ljust(2, "0"))


def parse_hundredths(name: str, text: str, pattern: re.Pattern[str], zh: str, en: str) -> int:
    """``hundredths`` of a form field, refused naming the field and why when it does not read."""
    value = hundredths(text, pattern)
    if value is None:
        raise FormInvalid([field_error(name, text, zh, en)])
    return value


def field_error(name: str, value: str, reason_zh: str, reason_en: str) -> FormError:
    zh, en = FIELD_LABELS[name]
    return FormError((name,), f"{zh}“{value}”{reason_zh}", f"{en} {value!r}: {reason_en}")


def parse_yuan(name: str, text: str) -> int:
    """An amount in yuan as fen (12000.50 -> 1200050)."""
    return parse_hundredths(
        name,
        text,
        YUAN_TEXT,
        "不是有效金额：须为数字，最多两位小数（如 12000 或 12000.50）",
        "not an amount: digits with at most two decimals (e.g. 12000 or 12000.50)",
    )


def parse_per_mille(name: str, text: str) -> int:
    """A per-mille rate as hundredths of a per mille (6.5‰ -> 650)."""
    return parse_hundredths(
        name,
        text,
        PER_MILLE_TEXT,
        "不是有效费率：须为千分数的数字，最多两位小数（如 6 或 6.5）",
        "not a rate: a per-mille number with at most two decimals (e.g. 6 or 6.5)",
    )


def parse_date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormInvalid(
            [field_error(name, text, "不是有效日期（年-月-日）", "not a date (YYYY-MM-DD)")]
        ) from None


def parse_id(name: str, text: str) -> int:
    if not ID_TEXT.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
        raise FormInvalid([field_error(name, text, "未选择或无效", "not chosen or not valid")])
    return int(text)


def optional_form_id(name: str, text: str) -> int | None:
    """An id from a form field outside the entry forms: empty is none, anything that is not an
    id the database can hold is refused (422) rather than looked up."""
    if not text:
        return None
    if not ID_TEXT.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
        _, zh, en, _ = request_field_label(["body", name])
        raise ValidationFailed(
            f"{zh}无效，请从列表中选择",
            f"{en} is not valid: choose one from the list",
            code="request_invalid",
            field=name,
        )
    return int(text)


def collect(*parsers: Callable[[], Any]) -> list[Any]:
    """Run every field's parser and refuse with every problem at once."""
    results: list[Any] = []
    errors: list[FormError] = []
    for parse in parsers:
        try:
            results.append(parse())
        except FormInvalid as refused:
            errors.extend(refused.errors)
            results.append(None)
    if errors:
        raise FormInvalid(errors)
    return results


def model_errors(error: ValidationError, values: dict[str, Any]) -> list[FormError]:
    """The API model's refusals, in the form's words."""
    found: list[FormError] = []
    for problem in error.errors():
        location = problem.get("loc", ())
        name = FORM_FIELD_OF.get(str(location[0]), str(location[0])) if location else ""
        shown = values.get(name, "")
        value = ", ".join(shown) if isinstance(shown, list) else str(shown)
        context = problem.get("ctx") or {}
        kind = problem.get("type", "")
        if kind in ("string_too_short", "missing"):
            reason = ("不能为空", "required")
        elif kind in ("string_too_long", "too_long"):
            limit = context.get("max_length", "")
            reason = (f"过长（最多 {limit} 个）", f"too long (at most {limit})")
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            reason = ("超出允许范围", str(problem.get("msg", "out of range")).lower())
        else:
            reason = ("不合法", str(problem.get("msg", "invalid")))
        if name in FIELD_LABELS:
            found.append(field_error(name, value, *reason))
        else:
            found.append(FormError((), f"{name}：{reason[0]}", f"{name}: {reason[1]}"))
    return found


def domain_errors(error: HuzhuError) -> list[FormError]:
    """A refusal of the domain service, with the fields its details name marked (a list of
    problems, or the one field the refusal is about)."""
    named = [
        problem.get("field")
        for problem in error.details.get("problems", [])
        if isinstance(problem, dict)
    ]
    named.append(error.details.get("field"))
    fields = tuple(str(name) for name in named if name in FIELD_LABELS)
    return [FormError(fields, error.message_zh, error.message_en)]


# A write that met a unique constraint whose field cannot be told: the API's answer to the
# same conflict (409 concurrent_change), beside the form.
CONCURRENT_CHANGE = FormError(
    (),
    "数据已被其他请求修改，请刷新后重试",
    "the data was changed by another request; reload and retry",
)


def taken_meanwhile(name: str, value: str) -> FormError:
    return field_error(
        name,
        value,
        "已被另一次提交保存（可能重复提交），本次未保存",
        "already saved by another submission (submitted twice?); nothing saved",
    )


def member_conflicts(
    session: Session, current: Page, association_id: int, body: MemberIn
) -> list[FormError]:
    """The registration met a unique constraint: a submission saved after this one's duplicate
    check holds the same member number, card or resident ID. Roll back, and name the fields
    with the service's own duplicate look-up, which now sees that member."""
    session.rollback()
    problems = members.database_problems(
        session,
        current.request.app.state.cipher,
        association_id,
        MemberInput(**body.model_dump()),
    )
    found = [taken_meanwhile(p.field, p.value) for p in problems if p.field in FIELD_LABELS]
    return found or [CONCURRENT_CHANGE]


def loan_conflicts(session: Session, body: LoanApplicationIn) -> list[FormError]:
    """The application met a unique constraint: a loan saved after this one's check holds
    the same contract number (the service's check, looked at again after the rollback)."""
    session.rollback()
    if session.scalar(select(Loan.id).where(Loan.contract_no == body.contract_no)) is not None:
        return [taken_meanwhile("contract_no", body.contract_no)]
    return [CONCURRENT_CHANGE]


def refuse(
    current: Page,
    session: Session,
    association_id: int,
    *,
    member_form: EntryForm | None = None,
    loan_form: EntryForm | None = None,
) -> HTMLResponse:
    """Undo anything the refused request wrote, and show the page again with the form as it was
    typed and the reasons beside it (422)."""
    session.rollback()
    association = visible_association(
        session, current.principal, association_id, Permission.READ_ORG
    )
    return render_association(
        current,
        session,
        association,
        status_code=422,
        member_form=member_form,
        loan_form=loan_form,
    )


@router.post("/console/associations/{association_id}/members")
def association_register_member(
    association_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()] = "",
    member_no: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    resident_id: Annotated[str, Form()] = "",
    card_number: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    household_no: Annotated[str, Form()] = "",
    joined_on: Annotated[str, Form()] = "",
    low_income: Annotated[str, Form()] = "",
    credit_grade: Annotated[str, Form()] = "",
    credit_grade_reason: Annotated[str, Form()] = "",
) -> Any:
    """The "register a member" form: the API's registration (same input, same checks, same
    audit record), then back to the association page naming the member."""
    current.require_csrf(csrf_token)
    visible_association(session, current.principal, association_id, Permission.WRITE_MEMBERS)
    values: dict[str, Any] = {
        "member_no": member_no,
        "name": name,
        "resident_id": resident_id,
        "card_number": card_number,
        "phone": phone,
        "household_no": household_no,
        "joined_on": joined_on,
        "low_income": bool(low_income),
        "credit_grade": credit_grade,
        "credit_grade_reason": credit_grade_reason,
    }
    form = EntryForm(values)
    try:
        (joined,) = collect(lambda: parse_date("joined_on", joined_on.strip()))
        body = MemberIn(
            member_no=member_no,
            name=name,
            resident_id=resident_id,
            card_number=card_number,
            phone=phone,
            household_no=household_no,
            joined_on=joined,
            low_income=bool(low_income),
            credit_grade=credit_grade.strip() or None,
            credit_grade_reason=credit_grade_reason.strip() or None,
        )
        member = api_register_member(
            association_id, body, current.principal, session, current.request.app.state.cipher
        )
    except FormInvalid as refused:
        form.errors = refused.errors
    except ValidationError as refused:
        form.errors = model_errors(refused, values)
    except HuzhuError as refused:
        form.errors = domain_errors(refused)
    except IntegrityError:
        form.errors = member_conflicts(session, current, association_id, body)
    else:
        return RedirectResponse(
            f"/console/associations/{association_id}?registered={member.id}", status_code=303
        )
    return refuse(current, session, association_id, member_form=form)


@router.post("/console/associations/{association_id}/loans")
def association_apply_for_loan(
    association_id: ObjectId,
    current: CurrentPage,
    session: DbSession,
    csrf_token: Annotated[str, Form()] = "",
    contract_no: Annotated[str, Form()] = "",
    member_id: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    amount_yuan: Annotated[str, Form()] = "",
    term_months: Annotated[str, Form()] = "",
    fee_rate_permille: Annotated[str, Form()] = "",
    applied_on: Annotated[str, Form()] = "",
    guarantor_ids: Annotated[list[str] | None, Form()] = None,
    channel: Annotated[str, Form()] = "transfer",
) -> Any:
    """The "apply for a loan" form: yuan and per-mille text become integer fen and hundredths
    of a per mille without floating point, then the API's application runs (same rules)."""
    current.require_csrf(csrf_token)
    visible_association(session, current.principal, association_id, Permission.WRITE_LOANS)
    chosen = [g for g in (guarantor_ids or []) if g]
    values: dict[str, Any] = {
        "contract_no": contract_no,
        "member_id": member_id,
        "purpose": purpose,
        "amount_yuan": amount_yuan,
        "term_months": term_months,
        "fee_rate_permille": fee_rate_permille,
        "applied_on": applied_on,
        "guarantor_ids": chosen,
        "channel": channel,
    }
    form = EntryForm(values)

    def term() -> int:
        text = term_months.strip()
        if not WHOLE_TEXT.fullmatch(text):
            raise FormInvalid(
                [field_error("term_months", text, "须为整数月数", "a whole number of months")]
            )
        return int(text)

    def chosen_channel() -> LedgerChannel:
        if channel not in (LedgerChannel.TRANSFER.value, LedgerChannel.CASH.value):
            raise FormInvalid(
                [field_error("channel", channel, "须为转账或现金", "must be transfer or cash")]
            )
        return LedgerChannel(channel)

    try:
        borrower, amount_fen, months, rate, applied, guarantors, via = collect(
            lambda: parse_id("member_id", member_id.strip()),
            lambda: parse_yuan("amount_yuan", amount_yuan.strip()),
            term,
            lambda: parse_per_mille("fee_rate_permille", fee_rate_permille.strip()),
            lambda: parse_date("applied_on", applied_on.strip()),
            lambda: [parse_id("guarantor_ids", g.strip()) for g in chosen],
            chosen_channel,
        )
        body = LoanApplicationIn(
            contract_no=contract_no.strip(),
            member_id=borrower,
            purpose=purpose.strip(),
            amount_fen=amount_fen,
            term_months=months,
            monthly_fee_rate_centipermille=rate,
            applied_on=applied,
            guarantor_ids=guarantors,
            channel=via,
        )
        loan = api_apply_for_loan(association_id, body, current.principal, session)
    except FormInvalid as refused:
        form.errors = refused.errors
    except ValidationError as refused:
        form.errors = model_errors(refused, values)
    except HuzhuError as refused:
        form.errors = domain_errors(refused)
    except IntegrityError:
        form.errors = loan_conflicts(session, body)
    else:
        return RedirectResponse(
            f"/console/associations/{association_id}?applied={loan.id}", status_code=303
        )
    return refuse(current, session, association_id, loan_form=form)
