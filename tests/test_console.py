"""The analyst console and the customer portal, in process (TestClient runs the real app).

Security first: roles on every page, CSRF on every form, hardened cookies, login limits, a
customer who sees only their own line; then the flows and the languages. The browser walk is in
``tests/test_console_browser.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from tests.engine_support import SAT, US, customer
from tollguard.adapters.store import Store
from tollguard.app.console import router
from tollguard.app.console.i18n import choose, negotiate
from tollguard.app.console.security import (
    LoginLimiter,
    SessionStore,
    hash_password,
    verify_password,
)
from tollguard.app.service.api import create_app
from tollguard.app.service.auth import new_token, token_hash
from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
from tollguard.domain.records import CallDetailRecord, Disposition

PASSWORD = "correct horse battery staple"
CONSOLE = Path(__file__).resolve().parent.parent / "src" / "tollguard" / "app" / "console"


class Site:
    """A service with two customers, their logins, an analyst, an admin and a switch token."""

    def __init__(self, tmp: Path, *, secure: bool = False) -> None:
        self.db = f"sqlite:///{tmp / 'tg.sqlite'}"
        self.tmp = tmp
        self.secure = secure
        store = Store.open(self.db)
        at = datetime.now(UTC)
        store.upsert_subscribers([customer("alice"), customer("bob2")], at=at)
        hashed = hash_password(PASSWORD)
        for name, role, sid in (
            ("ana", "analyst", None),
            ("adm", "admin", None),
            ("alice-user", "customer", "alice"),
            ("bob-user", "customer", "bob2"),
        ):
            store.create_web_user(
                name, role, password_hash=hashed, by="test", at=at, subscriber_id=sid
            )
        self.switch = new_token()
        store.create_token("sw", "switch", token_hash=token_hash(self.switch), by="test", at=at)
        self._cdrs(store, at)
        store.close()

    @staticmethod
    def _cdrs(store: Store, at: datetime) -> None:
        """A call abroad for each customer, so that each has data of their own."""
        rows = []
        for sid, callee, ip in (("alice", US, "203.0.113.5"), ("bob2", SAT, "198.51.100.77")):
            start = at - timedelta(hours=3)
            rows.append(
                CallDetailRecord(
                    f"{sid}-cdr",
                    sid,
                    "+81355550005",
                    callee,
                    start,
                    start + timedelta(seconds=5),
                    start + timedelta(seconds=245),
                    Disposition.ANSWERED,
                    ip,
                )
            )
        from tollguard.app.ingest import _rater

        store.insert_cdrs(_rater()(rows), at=at)

    def client(self) -> TestClient:
        settings = ServiceSettings(
            db_url=self.db, tick_s=0.2, data_dir=self.tmp / "data", cookie_secure=self.secure
        )
        return TestClient(create_app(ServiceRuntime(settings)), base_url="http://testserver")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def login(c: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    token = csrf_of(c.get("/login").text)
    r = c.post(
        "/login",
        data={"csrf": token, "username": username, "password": password, "next": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    return c


def post(c: TestClient, url: str, form_page: str, **data: str) -> httpx.Response:
    token = csrf_of(c.get(form_page).text)
    response: httpx.Response = c.post(url, data={"csrf": token, **data}, follow_redirects=True)
    return response


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    with site.client() as c:
        yield c


def _routes() -> list[tuple[str, str]]:
    out = []
    for r in router.routes:
        assert isinstance(r, Route)
        for m in sorted(r.methods or ()):
            if m != "HEAD":
                out.append((m, r.path))
    return out


def _url(path: str) -> str:
    return path.replace("{subscriber_id}", "bob2").replace("{control_id:int}", "1")


# -- security --------------------------------------------------------------------------------------
def test_cookies_are_hardened_and_pages_carry_security_headers(tmp_path: Path) -> None:
    site = Site(tmp_path, secure=True)
    with site.client() as c:
        r = c.get("/login")
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-tg_session=")
        for attr in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert attr.lower() in cookie.lower(), cookie
        assert "domain=" not in cookie.lower()
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        # nothing on any page comes from elsewhere
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", r.text)


def test_every_page_needs_a_login_and_every_post_a_csrf_token(client: TestClient) -> None:
    routes = _routes()
    assert len(routes) >= 25
    for method, path in routes:
        url = _url(path)
        if path in ("/login", "/", "/assets/{name}"):
            continue
        if method == "GET":
            r = client.get(url, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
        else:
            r = client.post(url, data={}, follow_redirects=False)
            assert r.status_code == 403, (path, r.status_code)
    # logged in, a POST still needs the session's own token
    login(client, "ana")
    for method, path in routes:
        if method == "POST":
            r = client.post(_url(path), data={"csrf": "forged", "reason": "xxx"})
            assert r.status_code == 403, path
            assert "expired" in r.text or "期限" in r.text
    # and a POST from another site is refused even with a valid token
    token = csrf_of(client.get("/console").text)
    r = client.post(
        "/console/cases/alice/suspend",
        data={"csrf": token, "reason": "cross-site"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_roles_are_enforced_on_every_page(site: Site) -> None:
    routes = _routes()
    console = [(m, p) for m, p in routes if p.startswith("/console")]
    portal = [(m, p) for m, p in routes if p.startswith("/portal")]
    admin_only = {("POST", "/console/restricted"), ("POST", "/console/restricted/remove")}
    with site.client() as c:
        login(c, "alice-user")
        token = csrf_of(c.get("/portal").text)
        for method, path in console:
            r = c.request(method, _url(path), data={"csrf": token, "reason": "try it"})
            assert r.status_code == 403, (method, path)
            assert "198.51.100.77" not in r.text and "bob2@" not in r.text
    with site.client() as c:
        login(c, "ana")
        token = csrf_of(c.get("/console").text)
        for method, path in portal:
            r = c.request(method, _url(path), data={"csrf": token, "kind": "suspend"})
            assert r.status_code == 403, (method, path)
        for method, path in admin_only:
            r = c.request(method, path, data={"csrf": token, "kind": "country", "value": "XX"})
            assert r.status_code == 403, path
        for method, path in console:
            if method == "GET":
                assert c.get(_url(path)).status_code == 200, path


def test_a_customer_sees_only_their_own_line(site: Site) -> None:
    with site.client() as c:
        login(c, "alice-user")
        home = c.get("/portal")
        assert home.status_code == 200
        assert "alice" in home.text and "bob2" not in home.text
        assert "203.0.113" not in home.text  # no source addresses, no other customer's calls
        assert "+1650" in home.text or "16502530000" in home.text  # alice's own call to the US
        assert "8816" not in home.text  # bob's satellite call is not shown
        # there is no way to name another customer: the portal takes no subscriber id
        for url in ("/portal?subscriber_id=bob2", "/portal/destinations?sid=bob2"):
            assert "bob2" not in c.get(url).text
        assert c.get("/console/cases/bob2").status_code == 403
        assert c.get("/v1/subscribers/bob2").status_code == 401  # the session is no API token


def test_login_is_limited_per_username_and_per_address(client: TestClient, site: Site) -> None:
    for _ in range(5):
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"csrf": token, "username": "ana", "password": "wrong!"})
        assert r.status_code in (401, 429)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "username": "ana", "password": PASSWORD})
    assert r.status_code == 429, "a locked login refuses even the right password"
    store = Store.open(site.db)
    user = store.get_web_user("ana")
    assert user is not None and user.locked_until is not None
    assert any(e.action == "web_user.lock" for e in store.search_audit(action="web_user."))
    store.close()
    # unknown usernames are limited the same way (locks reveal nothing)
    for i in range(5):
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"csrf": token, "username": "ghost", "password": f"x{i}"})
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "username": "ghost", "password": "x"})
    assert r.status_code == 429
    # and one address that keeps failing is refused for every username
    for i in range(12):
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"csrf": token, "username": f"u{i}", "password": "nope"})
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "username": "adm", "password": PASSWORD})
    assert r.status_code == 429


def test_login_rotates_the_session_and_logout_ends_it(client: TestClient) -> None:
    client.get("/login")
    before = dict(client.cookies)
    login(client, "ana")
    assert dict(client.cookies) != before, "a new session id at login (no fixation)"
    assert client.get("/console").status_code == 200
    token = csrf_of(client.get("/console").text)
    r = client.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_password_change_ends_open_sessions(client: TestClient, site: Site) -> None:
    login(client, "ana")
    assert client.get("/console").status_code == 200
    store = Store.open(site.db)
    user = store.get_web_user("ana")
    assert user is not None
    store.set_web_user_password(
        user.id,
        password_hash=hash_password("another long password"),
        by="adm",
        at=datetime.now(UTC),
    )
    store.close()
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_open_redirects_are_refused(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"csrf": token, "username": "alice-user", "password": PASSWORD, "next": "//evil.x"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/portal"


# -- the analyst's flow ----------------------------------------------------------------------------
def _open_case(c: TestClient, site: Site) -> None:
    h = {"Authorization": f"Bearer {site.switch}"}
    body = {"call_id": "fraud-1", "callee": SAT, "caller": "+81355550005", "source_ip": "41.58.1.2"}
    r = c.post("/v1/authorize", json=body, headers=h)
    assert r.json()["decision"] == "deny"
    deadline = time.time() + 5
    while time.time() < deadline and "alice" not in c.app.state.runtime.recorder.case_ids:  # type: ignore[attr-defined]
        time.sleep(0.1)


def test_analyst_walks_a_case_contact_suspend_restore(client: TestClient, site: Site) -> None:
    _open_case(client, site)
    login(client, "ana")
    dash = client.get("/console")
    assert 'href="/console/cases/alice"' in dash.text
    live = client.get("/console/live")
    assert live.status_code == 200 and "<html" not in live.text
    page = client.get("/console/cases/alice")
    assert page.status_code == 200
    for evidence in ("<svg", "41.58.1.2", "NG", "事後連絡"):
        assert evidence in page.text, evidence
    r = post(client, "/console/cases/alice/contact", "/console/cases/alice", result="no_answer")
    assert r.status_code == 200  # type: ignore[attr-defined]
    # a suspension without a reason is refused
    post(client, "/console/cases/alice/suspend", "/console/cases/alice", reason="")
    h = {"Authorization": f"Bearer {site.switch}"}
    call = {"call_id": "c2", "callee": US, "subscriber_id": "alice"}
    assert client.post("/v1/authorize", json=call, headers=h).json()["decision"] == "allow"
    post(client, "/console/cases/alice/suspend", "/console/cases/alice", reason="unreachable")
    d = client.post("/v1/authorize", json={**call, "call_id": "c3"}, headers=h).json()
    assert (d["decision"], d["reason"]) == ("deny", "international_suspended")
    post(client, "/console/cases/alice/restore", "/console/cases/alice", reason="PBX secured")
    d = client.post("/v1/authorize", json={**call, "call_id": "c4"}, headers=h).json()
    assert d["decision"] == "allow"
    # viewing call details is itself audited, with who and why
    r = post(client, "/console/cases/alice/calls", "/console/cases/alice", reason="case review")
    assert "alice-cdr" not in r.text  # call ids are not shown, the calls are
    audit = client.get("/console/audit", params={"action": "cdr.view"}).text
    assert "analyst:ana" in audit and "case review" in audit
    store = Store.open(site.db)
    actions = [(e.actor, e.action) for e in store.search_audit(limit=500)]
    store.close()
    assert ("analyst:ana", "control.create") in actions
    assert ("analyst:ana", "control.lift") in actions
    assert ("analyst:ana", "cdr.view") in actions
    store = Store.open(site.db)
    case = store.list_cases()[0]
    attempts = store.list_contact_attempts(case.id)
    store.close()
    assert [(a.outcome, a.made_by) for a in attempts] == [("no_answer", "analyst:ana")]


def test_controls_lift_with_a_reason_and_restricted_list_edited_by_admins(site: Site) -> None:
    with site.client() as c:
        login(c, "ana")
        post(
            c,
            "/console/controls",
            "/console/controls",
            kind="country_restriction",
            subject="cu",
            reason="IRSF wave",
            hours="2",
        )
        page = c.get("/console/controls").text
        assert "country_restriction" not in page or "CU" in page
        ids = re.findall(r'action="/console/controls/(\d+)/lift"', page)
        assert ids
        post(c, f"/console/controls/{ids[0]}/lift", "/console/controls", reason="wave over")
        assert not re.findall(
            r'action="/console/controls/(\d+)/lift"', c.get("/console/controls").text
        )
        # the list shows criteria, provenance and traffic; analysts cannot edit it
        listing = c.get("/console/restricted", params={"days": "7"}).text
        assert "country:CU" in listing and 'action="/console/restricted"' not in listing
    with site.client() as c:
        login(c, "adm")
        r = post(
            c,
            "/console/restricted",
            "/console/restricted",
            kind="range",
            value="+8816",
            name="Iridium (test)",
            no_government_traffic="on",
            no_life_critical_traffic="on",
            reason="satellite premium numbers, no normal traffic",
            provenance="carrier B feed, 2026-11",
        )
        assert "range:8816" in r.text  # type: ignore[attr-defined]
        row = re.search(r"range:8816</span>.*?</tr>", r.text, re.S)  # type: ignore[attr-defined]
        assert row and ">1<" in row.group(0), "bob's satellite call counts as traffic to it"
        rt = c.app.state.runtime  # type: ignore[attr-defined]
        assert rt.live.engine.restricted.match("+881631234567", None, None) is not None
        post(
            c,
            "/console/restricted/remove",
            "/console/restricted",
            kind="range",
            value="8816",
            reason="test over",
        )
        assert "range:8816" not in c.get("/console/restricted").text


def test_insights_show_the_heat_map_and_loss_prevented(client: TestClient, site: Site) -> None:
    _open_case(client, site)
    login(client, "ana")
    page = client.get("/console/insights", params={"days": "7"}).text
    assert page.count("<rect") >= 7 * 24
    assert "¥" in page


# -- the customer's flow ---------------------------------------------------------------------------
def test_customer_suspends_at_once_and_asks_for_restoration(client: TestClient, site: Site) -> None:
    login(client, "alice-user")
    r = post(client, "/portal/request", "/portal", kind="suspend", note="we never call abroad")
    assert r.status_code == 200  # type: ignore[attr-defined]
    h = {"Authorization": f"Bearer {site.switch}"}
    call = {"call_id": "p1", "callee": US, "subscriber_id": "alice"}
    d = client.post("/v1/authorize", json=call, headers=h).json()
    assert (d["decision"], d["reason"]) == ("deny", "international_suspended")
    post(client, "/portal/request", "/portal", kind="restore", note="call me at 9")
    d = client.post("/v1/authorize", json={**call, "call_id": "p2"}, headers=h).json()
    assert d["decision"] == "deny", "a restoration request is not applied automatically"
    store = Store.open(site.db)
    entries = store.search_audit(action="portal.")
    kinds = {(e.actor, e.action) for e in entries}
    assert ("customer:alice-user", "portal.request_suspend") in kinds
    assert ("customer:alice-user", "portal.request_restore") in kinds
    controls = store.search_audit(action="control.create")
    assert any(e.actor == "customer:alice-user" for e in controls)
    notes = store.list_notifications(subscriber_id="alice")
    assert {"suspension_request_confirmed", "restoration_request_received"} <= {
        n.kind for n in notes
    }
    assert all(n.status == "failed" for n in notes if n.kind.endswith(("confirmed", "received")))
    store.close()
    # the analyst sees the request waiting
    token = csrf_of(client.get("/portal").text)
    client.post("/logout", data={"csrf": token})
    login(client, "ana")
    assert "call me at 9" in client.get("/console").text


def test_fraud_destinations_only_for_logged_in_customers(client: TestClient) -> None:
    r = client.get("/portal/destinations", follow_redirects=False)
    assert r.status_code == 303
    login(client, "bob-user")
    page = client.get("/portal/destinations").text
    assert "Cuba" in page or "キューバ" in page
    assert client.get("/portal/advice").status_code == 200


# -- languages -------------------------------------------------------------------------------------
def test_language_from_the_browser_or_the_toggle(client: TestClient) -> None:
    assert "Log in" in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert "ログイン" in client.get("/login", headers={"Accept-Language": "ja,en;q=0.5"}).text
    assert "ログイン" in client.get("/login", headers={"Accept-Language": "fr"}).text
    token = csrf_of(client.get("/login").text)
    r = client.post("/lang", data={"csrf": token, "lang": "en", "next": "/login"})
    assert r.status_code == 200 and "Log in" in r.text
    r = client.get("/login", headers={"Accept-Language": "ja"})
    assert "Log in" in r.text, "the toggle wins over the browser"
    login(client, "ana")
    assert "Alerts and open cases" in client.get("/console").text


def test_accept_language_negotiation() -> None:
    assert negotiate("en-GB;q=0.5,en;q=0.4,ja;q=0.9") == "ja"
    assert negotiate("en-GB,ja;q=0.9") == "en"
    assert negotiate("de, en;q=0.1") == "en"
    assert negotiate("") is None and negotiate("fr-CA") is None
    assert choose("en", "ja") == "en" and choose(None, None) == "ja"


def test_catalog_is_complete_and_compiled() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    po_path = CONSOLE / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as fh:
        po = read_po(fh)
    with po_path.with_suffix(".mo").open("rb") as fh:
        mo = read_mo(fh)
    translated = {m.id: m.string for m in po if m.id}
    assert all(translated.values()), [k for k, v in translated.items() if not v]
    assert {m.id: m.string for m in mo if m.id} == translated, "run pybabel compile"
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "N_": None, "flash": (2,)}
    found = {
        msg[2] if isinstance(msg[2], str) else msg[2][0]
        for msg in extract_from_dir(
            str(CONSOLE), method_map, options_map=options, keywords=keywords
        )
    }
    assert found - set(translated) == set(), "run pybabel extract and update the catalog"


# -- units -----------------------------------------------------------------------------------------
def test_passwords_are_argon2id_and_unknown_users_never_match() -> None:
    h = hash_password("a long enough password")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "a long enough password")
    assert not verify_password(h, "a long enough passworD")
    assert not verify_password(None, "anything at all")
    with pytest.raises(ValueError):
        hash_password("short")


def test_sessions_expire_when_idle_and_limits_age_out() -> None:
    now = [1000.0]
    sessions = SessionStore(idle_s=60, clock=lambda: now[0])
    sid, s = sessions.new()
    assert sessions.get(sid) is s
    now[0] += 61
    assert sessions.get(sid) is None
    limiter = LoginLimiter(3, 100, clock=lambda: now[0])
    assert not limiter.fail("k") and not limiter.fail("k") and limiter.fail("k")
    assert limiter.blocked("k")
    now[0] += 101
    assert not limiter.blocked("k")


def test_cli_creates_users_with_a_password_from_stdin(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tollguard.cli import _register, app

    _register()
    db = f"sqlite:///{tmp_path / 'u.sqlite'}"
    store = Store.open(db)
    store.upsert_subscribers([customer("carol")], at=datetime.now(UTC))
    store.close()
    run = CliRunner()
    base = ["user", "create", "--db", db, "--password-stdin"]
    r = run.invoke(app, [*base, "--role", "analyst", "--username", "night"], input=PASSWORD)
    assert r.exit_code == 0, r.output
    r = run.invoke(
        app,
        [*base, "--role", "customer", "--username", "carol", "--subscriber-id", "carol"],
        input=PASSWORD,
    )
    assert r.exit_code == 0, r.output
    assert (
        run.invoke(
            app, [*base, "--role", "analyst", "--username", "night"], input=PASSWORD
        ).exit_code
        == 2
    )
    assert (
        run.invoke(app, [*base, "--role", "customer", "--username", "x"], input=PASSWORD).exit_code
        == 2
    )
    assert (
        run.invoke(app, [*base, "--role", "analyst", "--username", "y"], input="short").exit_code
        == 2
    )
    store = Store.open(db)
    users = {u.username: u for u in store.list_web_users()}
    assert users["carol"].subscriber_id == "carol" and users["night"].role == "analyst"
    assert users["night"].password_hash.startswith("$argon2id$")
    assert PASSWORD not in users["night"].password_hash
    assert [e.action for e in store.search_audit(action="web_user.")].count("web_user.create") == 2
    store.close()
