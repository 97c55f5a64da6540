"""The console's and the portal's pages (server-rendered HTML; see ``docs/console.md``).

Every page goes through :func:`page`: it finds (or starts) the browser's session, picks the
language, refuses a visitor without the role the page needs (to the login page when not logged
in, a 403 page otherwise), and checks the CSRF token of every POST. Customers reach only
``/portal`` pages, which take no subscriber id from the request: they show the logged-in
customer's own data and nobody else's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

from babel import Locale
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tollguard.adapters.intel.service import portal_destinations
from tollguard.app.console import actions, svg, views
from tollguard.app.console.i18n import LOCALES, choose, fmt_number, fmt_time, fmt_yen, translations
from tollguard.app.console.labels import BUCKET_KINDS, LABELS, WEEKDAYS
from tollguard.app.console.security import (
    LoginLimiter,
    Session,
    SessionStore,
    credential_tag,
    verify_password,
)
from tollguard.app.service.notices import post_suspension
from tollguard.app.service.recorder import LIFTS, PUTS
from tollguard.app.service.runtime import ServiceRuntime
from tollguard.domain.controls import ControlKind
from tollguard.domain.events import ActionKind, ContactResult
from tollguard.domain.restricted import RestrictedDestinationList

router = APIRouter(include_in_schema=False)

#: The action that puts, and the one that lifts, each kind of control (the recorder's tables).
_PUT_ACTION = {kind: action for action, kind in PUTS.items()}
_LIFT_ACTION = {kind: action for action, kind in LIFTS.items()}

ANALYSTS = ("analyst", "admin")
ADMINS = ("admin",)
CUSTOMERS = ("customer",)
STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_RANGE = re.compile(r"^\+?[0-9]{1,15}$")


# -- state ----------------------------------------------------------------------------------------
class ConsoleState:
    """Sessions, login limits, templates and assets of one service (kept on ``app.state``)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.secure = s.cookie_secure
        prefix = "__Host-" if self.secure else ""
        self.session_cookie = f"{prefix}tg_session"
        self.lang_cookie = f"{prefix}tg_lang"
        self.sessions = SessionStore(idle_s=s.session_idle_s)
        self.max_failures = s.login_max_failures
        self.lock_s = s.login_lock_s
        self.clients = LoginLimiter(4 * s.login_max_failures, s.login_lock_s)
        self.unknown_users = LoginLimiter(s.login_max_failures, s.login_lock_s)
        self.envs = {loc: _environment(loc) for loc in LOCALES}
        self.assets: dict[str, tuple[bytes, str]] = {}
        for name in STATIC:
            data = resources.files("tollguard.app.console").joinpath(f"static/{name}").read_bytes()
            self.assets[name] = (data, hashlib.sha256(data).hexdigest()[:16])


def state_of(request: Request) -> ConsoleState:
    """The console's state for this service (made on first use)."""
    st: ConsoleState | None = getattr(request.app.state, "console", None)
    if st is None:
        st = ConsoleState(request.app.state.runtime)
        request.app.state.console = st
    return st


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("tollguard.app.console", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    tr = translations(locale)
    env.install_gettext_translations(tr, newstyle=True)  # type: ignore[attr-defined]
    names = Locale.parse(locale).territories

    def label(code: Any) -> str:
        text = str(code)
        return tr.gettext(LABELS[text]) if text in LABELS else text

    def country(code: Any) -> str:
        if not code:
            return ""
        code = str(code)
        if code == "001":  # phonenumbers' region of the non-geographic codes (+881, +882, ...)
            return f"{tr.gettext(LABELS['001'])} (001)"
        name = names.get(code.upper()) if len(code) == 2 else None
        return f"{name} ({code})" if name else code

    def bucket(label_text: Any) -> str:
        text = str(label_text or "")
        for kind in ("weekend/holiday", "weekday"):
            if text.startswith(kind):
                return tr.gettext(kind) + text[len(kind) :]
        return text

    env.filters.update(
        time=lambda v, seconds=False: fmt_time(v, locale, seconds=seconds),
        yen=lambda v: fmt_yen(v, locale),
        num=lambda v, d=0: fmt_number(v, locale, d),
        pct=lambda v: f"{round(100 * float(v or 0))}%",
        label=label,
        country=country,
        bucket=bucket,
    )
    env.globals["locale"] = locale
    env.globals["inf"] = float("inf")
    return env


# -- the page -------------------------------------------------------------------------------------
@dataclass(slots=True)
class Page:
    """One request to a console or portal page."""

    request: Request
    st: ConsoleState
    session: Session
    new_cookie: str | None
    locale: str
    form: FormData | None = None

    @property
    def runtime(self) -> ServiceRuntime:
        """The service behind the page."""
        return self.st.runtime

    def _(self, message: str, **values: Any) -> str:
        """``message`` in the page's language."""
        text = translations(self.locale).gettext(message)
        return text % values if values else text

    def field(self, name: str, default: str = "") -> str:
        """A form field, stripped."""
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def query(self, name: str, default: str = "") -> str:
        """A query parameter."""
        return self.request.query_params.get(name, default)

    @property
    def client(self) -> str:
        """The client's address."""
        return self.request.client.host if self.request.client else "unknown"

    def finish(self, response: Response) -> Response:
        """Security headers, and the session cookie when the session is new."""
        h = response.headers
        h["Content-Security-Policy"] = CSP
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "same-origin"
        h["Cache-Control"] = "no-store"
        if self.new_cookie is not None:
            response.set_cookie(
                self.st.session_cookie,
                self.new_cookie,
                httponly=True,
                secure=self.st.secure,
                samesite="strict",
                path="/",
            )
        return response

    def render(self, template: str, code: int = 200, **context: Any) -> Response:
        """A template in the page's language."""
        env = self.st.envs[self.locale]
        body = env.get_template(template).render(
            page=self,
            session=self.session,
            csrf=self.session.csrf,
            flashes=self.session.take_flashes(),
            path=self.request.url.path,
            assets={n: v for n, (_, v) in self.st.assets.items()},
            **context,
        )
        return self.finish(HTMLResponse(body, status_code=code))

    def redirect(self, url: str) -> Response:
        """See another page (after a POST)."""
        return self.finish(RedirectResponse(url, status_code=303))

    def flash(self, kind: str, message: str, **values: Any) -> None:
        """A message for the next page, in the page's language."""
        self.session.flash(kind, self._(message, **values))


async def open_page(request: Request) -> Page:
    """The session (started if there is none) and language of a request."""
    st = state_of(request)
    session = st.sessions.get(request.cookies.get(st.session_cookie))
    new_cookie = None
    if session is None:
        new_cookie, session = st.sessions.new()
    toggle = session.locale or request.cookies.get(st.lang_cookie)
    locale = choose(toggle, request.headers.get("accept-language"))
    return Page(request, st, session, new_cookie, locale)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def _still_valid(p: Page) -> bool:
    """Whether the session's login still stands (same password, not disabled, not removed)."""
    uid = p.session.user_id
    if uid is None:
        return False
    user = await run_in_threadpool(p.runtime.store.get_web_user_by_id, uid)
    if user is None:
        return False
    tag = credential_tag(user.id, user.password_hash, user.disabled_at is not None)
    return hmac.compare_digest(tag, p.session.credential) and user.disabled_at is None


Handler = Callable[..., Awaitable[Response]]


def page(
    path: str, roles: Iterable[str] | None, methods: tuple[str, ...] = ("GET",)
) -> Callable[[Handler], Handler]:
    """Register a page: ``roles`` may see it (``None``: anybody); POSTs need the CSRF token."""
    allowed = None if roles is None else frozenset(roles)

    def register(fn: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            p = await open_page(request)
            if request.method == "POST":
                if not _same_origin(request):
                    return p.render("error.html", 403, message=p._("Cross-site request refused."))
                p.form = await request.form()
                token = p.form.get("csrf")
                if not p.session.csrf_ok(token if isinstance(token, str) else None):
                    return p.render(
                        "error.html",
                        403,
                        message=p._("The form has expired. Go back, reload the page and retry."),
                    )
            if allowed is not None:
                if p.session.user_id is None:
                    target = quote(request.url.path, safe="/")
                    return p.redirect(f"/login?next={target}")
                if not await _still_valid(p):
                    p.st.sessions.drop(request.cookies.get(p.st.session_cookie))
                    return p.redirect("/login")
                if p.session.role not in allowed:
                    return p.render("error.html", 403, message=p._("You may not see this page."))
            return await fn(p, **request.path_params)

        endpoint.__name__ = fn.__name__
        router.add_api_route(path, endpoint, methods=list(methods), include_in_schema=False)
        return fn

    return register


def home_of(role: str) -> str:
    """Where a role starts."""
    return "/portal" if role == "customer" else "/console"


def safe_next(target: str, role: str) -> str:
    """A local path to go to after login (never another site), allowed for the role."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return home_of(role)
    area = "/portal" if role == "customer" else "/console"
    return target if target.startswith(area) else home_of(role)


def reason_ok(text: str) -> bool:
    """A reason is 3-2000 characters."""
    return 3 <= len(text) <= 2000


# -- assets, login, language ----------------------------------------------------------------------
@router.get("/assets/{name}", include_in_schema=False)
async def asset(name: str, request: Request) -> Response:
    """The bundled CSS and JavaScript (nothing is loaded from anywhere else)."""
    st = state_of(request)
    if name not in st.assets:
        raise HTTPException(404)
    data, version = st.assets[name]
    return Response(
        data,
        media_type=STATIC[name],
        headers={
            "Cache-Control": "public, max-age=86400",
            "ETag": f'"{version}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@page("/", None)
async def root(p: Page) -> Response:
    """The console or the portal, by role; the login page for visitors."""
    if p.session.user_id is None:
        return p.redirect("/login")
    return p.redirect(home_of(p.session.role))


@page("/login", None)
async def login_form(p: Page) -> Response:
    """The login form."""
    return p.render("login.html", next=p.query("next"), username="")


@page("/login", None, ("POST",))
async def login(p: Page) -> Response:
    """Check a username and password, with rate limits per username and per client address."""
    st, store = p.st, p.runtime.store
    username, password = p.field("username"), p.field("password")
    target = p.field("next")
    now = p.runtime.clock()

    def refuse(message: str, status: int = 401) -> Response:
        return p.render("login.html", status, error=message, next=target, username=username)

    if st.clients.blocked(p.client):
        return refuse(p._("Too many failed logins. Try again later."), 429)
    user = await run_in_threadpool(store.get_web_user, username) if username else None
    locked = (
        user is not None and user.locked_until is not None and user.locked_until.timestamp() > now
    ) or (user is None and st.unknown_users.blocked(username))
    if locked:
        st.clients.fail(p.client)
        return refuse(p._("Too many failed logins. Try again later."), 429)
    ok = await run_in_threadpool(
        verify_password, None if user is None else user.password_hash, password
    )
    if user is not None and user.disabled_at is not None:
        ok = False
    if user is None:
        st.unknown_users.fail(username)
    else:
        await run_in_threadpool(
            lambda: store.record_login(
                user.id,
                ok=ok,
                at=datetime.fromtimestamp(now, UTC),
                client=p.client,
                max_failures=st.max_failures,
                lock_s=st.lock_s,
            )
        )
    if not ok or user is None:
        st.clients.fail(p.client)
        return refuse(p._("Wrong username or password."))
    st.clients.clear(p.client)
    old_locale = p.session.locale
    cookie, session = st.sessions.rotate(p.request.cookies.get(st.session_cookie))
    session.user_id, session.username, session.role = user.id, user.username, user.role
    session.subscriber_id = user.subscriber_id
    session.credential = credential_tag(user.id, user.password_hash, False)
    session.locale = old_locale
    p.session, p.new_cookie = session, cookie
    return p.redirect(safe_next(target, user.role))


@page("/logout", None, ("POST",))
async def logout(p: Page) -> Response:
    """End the session."""
    p.st.sessions.drop(p.request.cookies.get(p.st.session_cookie))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        p.st.session_cookie, path="/", secure=p.st.secure, httponly=True, samesite="strict"
    )
    p.new_cookie = None
    return p.finish(response)


@page("/lang", None, ("POST",))
async def set_language(p: Page) -> Response:
    """Switch the language (kept in the session, a cookie, and the user's record)."""
    lang = p.field("lang")
    if lang not in LOCALES:
        lang = "ja"
    p.session.locale = lang
    back = p.field("next") or "/"
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = p.redirect(back)
    response.set_cookie(
        p.st.lang_cookie,
        lang,
        max_age=365 * 86400,
        httponly=True,
        secure=p.st.secure,
        samesite="strict",
        path="/",
    )
    if p.session.user_id is not None:
        await run_in_threadpool(p.runtime.store.set_web_user_locale, p.session.user_id, lang)
    return response


# -- analyst console: dashboard -------------------------------------------------------------------
async def _dashboard_context(p: Page) -> dict[str, Any]:
    rt = p.runtime
    live = rt.live
    case_sort = p.query("cases", "cost")
    alert_sort = p.query("alerts", "time")
    cases = views.sort_cases(views.engine_cases(live), case_sort)
    now = live.now()
    controls = len(live.controls())

    def read() -> tuple[list[Any], list[Any]]:
        rt.recorder.flush()
        alerts = rt.store.list_alerts(limit=500)
        requests = rt.store.search_audit(
            action="portal.request_restore", since=views.since_hours(now, 24 * 30), limit=50
        )
        return alerts, requests

    alerts, requests = await run_in_threadpool(read)
    pending = []
    for e in requests:
        sid = e.subject.split(":", 1)[1]
        status, _ = views.engine_status(live, sid)
        if status != "active":
            pending.append({"entry": e, "subscriber_id": sid, "status": status})
    day_ago = views.since_hours(now, 24)
    recent = [a for a in alerts if a.time >= day_ago]
    return {
        "cases": cases,
        "case_sort": case_sort,
        "alerts": views.alert_rows(recent[:50], alert_sort),
        "alert_sort": alert_sort,
        "alerts_24h": len(recent),
        "pending": pending,
        "controls": controls,
        "updated": now,
    }


@page("/console", ANALYSTS)
async def dashboard(p: Page) -> Response:
    """Alerts and open cases, newest and costliest first; refreshes itself."""
    return p.render("console/dashboard.html", **await _dashboard_context(p))


@page("/console/live", ANALYSTS)
async def dashboard_live(p: Page) -> Response:
    """The dashboard's changing part (what the page's script fetches every few seconds)."""
    return p.render("console/_live.html", **await _dashboard_context(p))


# -- analyst console: a customer's case -----------------------------------------------------------
@page("/console/cases/{subscriber_id}", ANALYSTS)
async def case_page(p: Page, subscriber_id: str) -> Response:
    """A customer's case with its evidence, contacts and the actions to take."""
    rt = p.runtime
    live = rt.live
    c = views.engine_customer(live, subscriber_id)
    if c is None:
        return p.render("error.html", 404, message=p._("No such customer."))
    cases = live.cases()
    around = c.case.opened_at if c.case is not None else c.now
    case_id = rt.recorder.case_ids.get(subscriber_id)
    home = live.engine.config.home_region

    def read() -> views.CustomerStored:
        rt.recorder.flush()
        return views.store_customer(
            rt.store, subscriber_id, now=c.now, case_id=case_id, around=around
        )

    stored = await run_in_threadpool(read)
    charges = views.hourly_charges(c, stored, home)
    labels = [fmt_time(t, p.locale)[11:16] for t in c.hour_starts]
    chart = svg.charges_chart(
        labels,
        charges,
        c.hour_usual,
        c.hour_threshold,
        title=p._("International charges per hour, last 48 hours"),
        legend=(p._("charges"), p._("usual for the hour"), p._("alert threshold")),
    )
    bucket_labels = [
        f"{p._(BUCKET_KINDS[b // 6])[:2]} {(b % 6) * 4:02d}-{(b % 6) * 4 + 4:02d}"
        for b in range(12)
    ]
    hours_chart = svg.bars(
        bucket_labels,
        [
            (p._("usual calls"), "#27ae60", c.hours_usual),
            (p._("this case"), "#c0392b", views.case_hours(stored)),
        ],
        title=p._("Time of week: usual calls and this case's risky attempts"),
    )
    post_notices = [n for n in stored.notifications if n.kind == "post_notification"]
    preview = None
    if not post_notices:
        reason = c.suspension.reason if c.suspension else p._("(the reason you give)")
        preview = post_suspension(subscriber_id, reason, c.now)
    return p.render(
        "console/case.html",
        c=c,
        stored=stored,
        case_id=case_id,
        chart=chart,
        hours_chart=hours_chart,
        charges_48h=sum(charges),
        destinations=views.destinations(c, stored, home),
        addresses=views.source_addresses(c, stored),
        related=views.related_customers(subscriber_id, stored, cases, around),
        post_notices=post_notices,
        preview=preview,
        results=[r.value for r in ContactResult],
    )


async def _case_action(p: Page, subscriber_id: str) -> Response | None:
    if subscriber_id not in p.runtime.live.engine.subscribers:
        return p.render("error.html", 404, message=p._("No such customer."))
    return None


@page("/console/cases/{subscriber_id}/contact", ANALYSTS, ("POST",))
async def case_contact(p: Page, subscriber_id: str) -> Response:
    """Record a contact attempt's outcome (one click from the case page)."""
    if (refused := await _case_action(p, subscriber_id)) is not None:
        return refused
    try:
        result = ContactResult(p.field("result"))
    except ValueError:
        p.flash("error", "Unknown contact result.")
        return p.redirect(f"/console/cases/{quote(subscriber_id)}")
    channel = p.field("channel", "phone")[:32] or "phone"
    note = p.field("note")[:2000]
    await actions.record_contact(
        p.runtime, subscriber_id, result, actor=p.session.actor, channel=channel, note=note
    )
    p.flash("ok", "Contact recorded: %(result)s.", result=p._(LABELS[result.value]))
    return p.redirect(f"/console/cases/{quote(subscriber_id)}")


@page("/console/cases/{subscriber_id}/suspend", ANALYSTS, ("POST",))
async def case_suspend(p: Page, subscriber_id: str) -> Response:
    """Suspend a customer's international calling (利用休止), with a reason; calls are cut."""
    return await _suspend_restore(p, subscriber_id, "suspend")


@page("/console/cases/{subscriber_id}/restore", ANALYSTS, ("POST",))
async def case_restore(p: Page, subscriber_id: str) -> Response:
    """Restore a customer's international calling, with a reason."""
    return await _suspend_restore(p, subscriber_id, "restore")


async def _suspend_restore(p: Page, subscriber_id: str, verb: str) -> Response:
    if (refused := await _case_action(p, subscriber_id)) is not None:
        return refused
    back = f"/console/cases/{quote(subscriber_id)}"
    reason = p.field("reason")
    if not reason_ok(reason):
        p.flash("error", "A reason (at least 3 characters) is required.")
        return p.redirect(back)
    action = (
        ActionKind.SUSPEND_INTERNATIONAL if verb == "suspend" else ActionKind.RESTORE_INTERNATIONAL
    )
    cut = await actions.change(p.runtime, p.session.actor, action, subscriber_id, reason)
    if verb == "suspend":
        p.flash("ok", "International calling suspended; %(n)s calls cut.", n=len(cut))
    else:
        p.flash("ok", "International calling restored.")
    return p.redirect(back)


@page("/console/cases/{subscriber_id}/deny", ANALYSTS, ("POST",))
async def case_deny(p: Page, subscriber_id: str) -> Response:
    """Deny the customer's calls to a country or number range for some hours."""
    if (refused := await _case_action(p, subscriber_id)) is not None:
        return refused
    back = f"/console/cases/{quote(subscriber_id)}"
    dest, reason = p.field("destination"), p.field("reason")
    if _COUNTRY.match(dest):
        dest = dest.upper()
    elif _RANGE.match(dest):
        dest = "+" + dest.lstrip("+")
    else:
        p.flash("error", "A destination is a country code (CU) or a number range (+53).")
        return p.redirect(back)
    if not reason_ok(reason):
        p.flash("error", "A reason (at least 3 characters) is required.")
        return p.redirect(back)
    try:
        hours = float(p.field("hours") or "72")
    except ValueError:
        hours = 72.0
    until = p.runtime.live.now() + max(1.0, min(hours, 24 * 365)) * 3600
    await actions.change(
        p.runtime,
        p.session.actor,
        ActionKind.DENY_DESTINATION,
        dest,
        reason,
        until=until,
        subscriber_id=subscriber_id,
    )
    p.flash("ok", "Calls to %(dest)s denied for this customer.", dest=dest)
    return p.redirect(back)


@page("/console/cases/{subscriber_id}/calls", ANALYSTS, ("POST",))
async def case_calls(p: Page, subscriber_id: str) -> Response:
    """A customer's call details. Viewing them is audited (``cdr.view``: who, when, why)."""
    if (refused := await _case_action(p, subscriber_id)) is not None:
        return refused
    reason = p.field("reason")
    if not reason_ok(reason):
        p.flash("error", "Say why you need to see the call details (at least 3 characters).")
        return p.redirect(f"/console/cases/{quote(subscriber_id)}")
    rt = p.runtime
    at = datetime.fromtimestamp(rt.live.now(), UTC)

    def read() -> list[Any]:
        rows = rt.store.list_cdrs(subscriber_id=subscriber_id)[-200:]
        rt.store.append_audit(
            actor=p.session.actor,
            action="cdr.view",
            subject=f"subscriber:{subscriber_id}",
            reason=reason,
            at=at,
            evidence={"rows": len(rows), "via": "console"},
        )
        return rows[::-1]

    rows = await run_in_threadpool(read)
    return p.render("console/calls.html", subscriber_id=subscriber_id, rows=rows, reason=reason)


# -- analyst console: controls --------------------------------------------------------------------
@page("/console/controls", ANALYSTS)
async def controls_page(p: Page) -> Response:
    """Controls in force with their expiry; lift with a reason; put a new one."""
    rt = p.runtime
    at = datetime.fromtimestamp(rt.live.now(), UTC)

    def read() -> list[Any]:
        rt.recorder.flush()
        return rt.store.active_controls(at)

    rows = await run_in_threadpool(read)
    rows.sort(key=lambda c: (c.kind, c.created_at), reverse=False)
    return p.render("console/controls.html", rows=rows, kinds=[k.value for k in ControlKind])


@page("/console/controls", ANALYSTS, ("POST",))
async def control_put(p: Page) -> Response:
    """Put a control in force (country restriction, IP block, denial for everyone)."""
    back = "/console/controls"
    try:
        kind = ControlKind(p.field("kind"))
    except ValueError:
        p.flash("error", "Unknown kind of control.")
        return p.redirect(back)
    subject, reason = p.field("subject"), p.field("reason")
    if not subject or len(subject) > 128 or not reason_ok(reason):
        p.flash("error", "A subject and a reason (at least 3 characters) are required.")
        return p.redirect(back)
    live = p.runtime.live
    if kind is ControlKind.COUNTRY_RESTRICTION:
        if not _COUNTRY.match(subject):
            p.flash("error", "A country restriction's subject is an ISO code (e.g. CU).")
            return p.redirect(back)
        subject = subject.upper()
    if kind is ControlKind.SUSPENSION and subject not in live.engine.subscribers:
        p.flash("error", "No such customer.")
        return p.redirect(back)
    if kind is ControlKind.DESTINATION_DENIAL:
        if not _RANGE.match(subject):
            p.flash("error", "A denial for everyone is a number range (e.g. +8816).")
            return p.redirect(back)
        subject = subject.lstrip("+")
    hours_text = p.field("hours")
    until = None
    if hours_text:
        try:
            until = live.now() + max(0.1, float(hours_text)) * 3600
        except ValueError:
            p.flash("error", "Hours must be a number.")
            return p.redirect(back)
    await actions.change(
        p.runtime, p.session.actor, _PUT_ACTION[kind], subject, reason, until=until
    )
    p.flash("ok", "Control put in force.")
    return p.redirect(back)


@page("/console/controls/{control_id:int}/lift", ANALYSTS, ("POST",))
async def control_lift(p: Page, control_id: int) -> Response:
    """Lift a control before its expiry, with a reason."""
    back = "/console/controls"
    reason = p.field("reason")
    if not reason_ok(reason):
        p.flash("error", "A reason (at least 3 characters) is required.")
        return p.redirect(back)
    rt = p.runtime
    await run_in_threadpool(rt.recorder.flush)
    c = await run_in_threadpool(rt.store.get_control, control_id)
    if c is None or c.lifted_at is not None:
        p.flash("error", "That control is no longer in force.")
        return p.redirect(back)
    kind = ControlKind(c.kind)
    subject, sid = c.subject, None
    if kind is ControlKind.DESTINATION_DENIAL and ":" in subject:
        sid, subject = subject.split(":", 1)
    await actions.change(
        rt, p.session.actor, _LIFT_ACTION[kind], subject, reason, subscriber_id=sid
    )
    p.flash("ok", "Control lifted.")
    return p.redirect(back)


# -- analyst console: restricted destination list -------------------------------------------------
def _period(p: Page) -> int:
    try:
        days = int(p.query("days", "30"))
    except ValueError:
        days = 30
    return max(1, min(days, 365))


@page("/console/restricted", ANALYSTS)
async def restricted_page(p: Page) -> Response:
    """The restricted destination list (規制対地リスト): criteria, provenance, traffic."""
    rt = p.runtime
    days = _period(p)
    now = rt.live.now()
    packaged = [
        {
            "kind": e.kind.value,
            "value": e.value,
            "name": e.name,
            "no_government_traffic": e.no_government_traffic,
            "no_life_critical_traffic": e.no_life_critical_traffic,
            "reason": e.reason,
            "provenance": e.provenance,
            "source": "packaged",
        }
        for e in RestrictedDestinationList.default().entries()
    ]

    def read() -> list[dict[str, Any]]:
        carrier = [
            {
                "kind": d.kind,
                "value": d.value,
                "name": str(d.criteria.get("name", "")),
                "no_government_traffic": d.criteria.get("no_government_traffic") is True,
                "no_life_critical_traffic": d.criteria.get("no_life_critical_traffic") is True,
                "reason": str(d.criteria.get("reason", "")),
                "provenance": d.provenance,
                "source": "carrier",
                "added_by": d.added_by,
                "added_at": d.added_at,
            }
            for d in rt.store.list_restricted_destinations()
        ]
        return views.restricted_with_traffic(rt.store, carrier + packaged, now=now, days=days)

    entries = await run_in_threadpool(read)
    return p.render("console/restricted.html", entries=entries, days=days)


@page("/console/restricted", ADMINS, ("POST",))
async def restricted_add(p: Page) -> Response:
    """Add (or update) an entry, with both criteria and a provenance (admins)."""
    from tollguard.app.service.api import RestrictedIn, restricted_entry

    back = "/console/restricted"
    try:
        body = RestrictedIn(
            kind=p.field("kind"),  # type: ignore[arg-type]
            value=p.field("value"),
            name=p.field("name"),
            no_government_traffic=p.field("no_government_traffic") == "on",
            no_life_critical_traffic=p.field("no_life_critical_traffic") == "on",
            reason=p.field("reason"),
            provenance=p.field("provenance"),
        )
        entry = restricted_entry(body)
    except (ValueError, HTTPException) as exc:
        detail = getattr(exc, "detail", None) or p._("Check the fields.")
        p.flash("error", "The entry was not added: %(why)s", why=str(detail)[:300])
        return p.redirect(back)
    if not entry.restrictable:
        p.flash(
            "error", "An entry needs both criteria: no government and no life-critical traffic."
        )
        return p.redirect(back)
    rt = p.runtime
    criteria = {
        "name": body.name,
        "no_government_traffic": body.no_government_traffic,
        "no_life_critical_traffic": body.no_life_critical_traffic,
        "reason": body.reason,
    }
    at = datetime.fromtimestamp(rt.live.now(), UTC)
    await run_in_threadpool(
        lambda: rt.store.put_restricted_destination(
            body.kind, entry.value, criteria=criteria, provenance=body.provenance,
            added_by=p.session.actor, at=at,
        )
    )  # fmt: skip
    rt.refresh_from_store()
    p.flash("ok", "%(key)s added to the list.", key=entry.key)
    return p.redirect(back)


@page("/console/restricted/remove", ADMINS, ("POST",))
async def restricted_remove(p: Page) -> Response:
    """Remove a carrier-added entry, with a reason (admins)."""
    back = "/console/restricted"
    kind, value, reason = p.field("kind"), p.field("value"), p.field("reason")
    if kind not in ("country", "range") or not reason_ok(reason):
        p.flash("error", "A reason (at least 3 characters) is required.")
        return p.redirect(back)
    rt = p.runtime
    at = datetime.fromtimestamp(rt.live.now(), UTC)
    removed = await run_in_threadpool(
        lambda: rt.store.remove_restricted_destination(
            kind, value, by=p.session.actor, reason=reason, at=at
        )
    )
    if removed:
        rt.refresh_from_store()
        p.flash("ok", "%(key)s removed from the list.", key=f"{kind}:{value}")
    else:
        p.flash("error", "Only entries the carrier added can be removed here.")
    return p.redirect(back)


# -- analyst console: insights and audit ----------------------------------------------------------
@page("/console/insights", ANALYSTS)
async def insights_page(p: Page) -> Response:
    """The attack heat-map (weekday x hour) and the loss prevented."""
    rt = p.runtime
    days = _period(p)
    now = rt.live.now()

    def read() -> views.Insights:
        rt.recorder.flush()
        return views.insights(rt.store, now=now, days=days)

    ins = await run_in_threadpool(read)
    heat = svg.heatmap(
        ins.heat,
        [p._(d) for d in WEEKDAYS],
        title=p._("Alerts by weekday and hour (Japan time)"),
    )
    return p.render("console/insights.html", ins=ins, heat=heat, days=days)


@page("/console/audit", ANALYSTS)
async def audit_page(p: Page) -> Response:
    """The audit log, newest first, searchable; each entry with its evidence."""
    rt = p.runtime
    q, action = p.query("q")[:200], p.query("action")[:64]
    before_text = p.query("before")
    before = int(before_text) if before_text.isdigit() else None

    def read() -> tuple[list[Any], tuple[bool, int | None] | None]:
        rt.recorder.flush()
        rows = rt.store.search_audit(text=q or None, action=action or None, before_seq=before)
        chain = rt.store.verify_audit_chain() if p.session.role == "admin" else None
        return rows, chain

    rows, chain = await run_in_threadpool(read)
    older = rows[-1].seq if len(rows) == 200 else None
    return p.render("console/audit.html", rows=rows, q=q, action=action, older=older, chain=chain)


# -- customer portal ------------------------------------------------------------------------------
@page("/portal", CUSTOMERS)
async def portal_home(p: Page) -> Response:
    """The customer's international calling status, requests and recent usage."""
    rt = p.runtime
    sid = p.session.subscriber_id or ""
    live = rt.live
    if sid not in live.engine.subscribers:
        return p.render("error.html", 404, message=p._("Your line is not registered yet."))
    status, suspension = views.engine_status(live, sid)
    now = live.now()
    home = live.engine.config.home_region

    def read() -> tuple[dict[str, Any], list[Any], list[Any]]:
        rt.recorder.flush()
        use = views.usage(rt.store, sid, now=now, days=30, home=home)
        mine = [
            e
            for e in rt.store.search_audit(action="portal.request", limit=200)
            if e.subject == f"subscriber:{sid}"
        ][:10]
        notices = rt.store.list_notifications(subscriber_id=sid, limit=10)
        return use, mine, notices

    use, requests, notices = await run_in_threadpool(read)
    return p.render(
        "portal/home.html",
        status=status,
        suspension=suspension,
        use=use,
        requests=requests,
        notices=notices,
        subscriber_id=sid,
        numbers=live.engine.subscribers[sid].numbers,
    )


@page("/portal/request", CUSTOMERS, ("POST",))
async def portal_request(p: Page) -> Response:
    """Ask for suspension (applied at once) or restoration (an analyst acts on it)."""
    kind = p.field("kind")
    sid = p.session.subscriber_id or ""
    if kind not in ("suspend", "restore") or sid not in p.runtime.live.engine.subscribers:
        p.flash("error", "Unknown request.")
        return p.redirect("/portal")
    result = await actions.customer_request(
        p.runtime,
        username=p.session.username,
        subscriber_id=sid,
        kind=kind,
        note=p.field("note")[:500],
        client=p.client,
    )
    if kind == "suspend":
        if result["applied"]:
            p.flash("ok", "International calling is suspended. Calls abroad are now refused.")
        else:
            p.flash("ok", "International calling was already stopped; your request is recorded.")
    else:
        p.flash(
            "ok",
            "Your request is recorded. An analyst will check it and contact you before "
            "restoring international calling.",
        )
    if result.get("email") == "queued":
        p.flash("ok", "A confirmation is on its way to your email address.")
    elif result.get("email") == "not_sent":
        p.flash("error", "No confirmation email could be sent; the request is recorded.")
    return p.redirect("/portal")


@page("/portal/destinations", CUSTOMERS)
async def portal_fraud_destinations(p: Page) -> Response:
    """Fraud destination countries and ranges (for logged-in customers only, never public)."""
    rt = p.runtime

    def read() -> tuple[list[Any], list[Any]]:
        return portal_destinations(rt.store), rt.store.list_restricted_destinations()

    shared, carrier = await run_in_threadpool(read)
    listed = sorted(
        RestrictedDestinationList.default().entries(), key=lambda e: (e.kind.value, e.value)
    )
    return p.render("portal/destinations.html", listed=listed, carrier=carrier, shared=shared)


@page("/portal/advice", CUSTOMERS)
async def portal_advice(p: Page) -> Response:
    """How to secure a PBX and IP phones against toll fraud."""
    return p.render("portal/advice.html")
