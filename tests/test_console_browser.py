"""The console and the portal in a real browser: Playwright drives Debian's headless Chromium
against the real ``tollguard serve`` (a subprocess on a free loopback port, SQLite, logins made
with ``tollguard user create``). Screenshots of the key pages in both languages are saved under
``docs/screenshots/`` (console-*.png, portal-*.png).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine_support import CU, SAT, SO, US, customer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
BIN = Path(sys.executable).parent
PASSWORD = "night shift password 7"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    """Debian's Chromium (installed by scripts/chromium.sh when missing), or skip."""
    found = os.environ.get("TOLLGUARD_CHROMIUM") or shutil.which("chromium")
    if found and os.access(found, os.X_OK):
        return found
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "chromium.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "TOLLGUARD_CJK_FONT": "1"},
    )
    path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not path or not os.access(path, os.X_OK):
        pytest.skip(f"Chromium cannot be installed here: {proc.stderr.strip()[-300:]}")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        [str(BIN / "tollguard"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout.strip()


def _seed(db: str) -> None:
    """Customers, their calls of the last days, and a month of past alerts (the heat-map)."""
    from tollguard.adapters.store import Store
    from tollguard.app.ingest import _rater
    from tollguard.domain.records import CallDetailRecord, Disposition

    now = datetime.now(UTC)
    store = Store.open(db)
    store.upsert_subscribers([customer(s) for s in ("alice", "bob2", "carol3")], at=now)
    rows = []
    for day in range(1, 6):
        for sid, callee in (("bob2", US), ("bob2", CU), ("carol3", US), ("alice", US)):
            start = now - timedelta(days=day, hours=day)
            rows.append(
                CallDetailRecord(
                    f"{sid}-{day}-{callee[-4:]}",
                    sid,
                    "+81355550004",
                    callee,
                    start,
                    start + timedelta(seconds=4),
                    start + timedelta(seconds=64 + 60 * day),
                    Disposition.ANSWERED,
                    "203.0.113.20",
                )
            )
    store.insert_cdrs(_rater()(rows), at=now)
    for i in range(160):  # past attacks, mostly at night and on weekends
        t = now - timedelta(days=1 + i % 28, hours=(i * 7) % 24 if i % 3 else 1 + i % 4)
        store.insert_alert(
            time=t,
            detector="call_risk",
            severity="critical",
            subscriber_id=None,
            evidence={"expected_loss_jpy": 4000 + 300 * (i % 17), "seeded": True},
        )
    store.close()


class Server:
    """``tollguard serve`` on a free loopback port."""

    def __init__(self, tmp: Path) -> None:
        self.db = f"sqlite:///{tmp / 'tollguard.sqlite'}"
        _seed(self.db)
        for role, name, sid in (
            ("analyst", "yamada", None),
            ("admin", "sato", None),
            ("customer", "alice-pbx", "alice"),
            ("customer", "bob-office", "bob2"),
        ):
            extra = ["--subscriber-id", sid] if sid else []
            _cli(
                "user", "create", "--db", self.db, "--role", role, "--username", name,
                "--password-stdin", *extra, stdin=PASSWORD + "\n",
            )  # fmt: skip
        self.switch = _cli("token", "create", "--db", self.db, "--role", "switch", "--name", "sw")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (tmp / "serve.log").open("w")
        self.proc = subprocess.Popen(
            [
                str(BIN / "tollguard"), "serve", "--db", self.db, "--host", "127.0.0.1",
                "--port", str(self.port), "--data-dir", str(tmp / "data"), "--insecure-cookies",
                "--log-level", "warning",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            self.stop()
            pytest.fail(f"tollguard serve did not start: {(tmp / 'serve.log').read_text()}")
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def authorize(self, call_id: str, callee: str, sid: str, ip: str = "") -> dict[str, Any]:
        body = {"call_id": call_id, "callee": callee, "subscriber_id": sid}
        if ip:
            body["source_ip"] = ip
        r = self.http.post(
            "/v1/authorize", json=body, headers={"Authorization": f"Bearer {self.switch}"}
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("console-e2e"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, locale: str) -> Any:
    ctx = browser.new_context(
        locale=locale,
        extra_http_headers={"Accept-Language": "ja" if locale.startswith("ja") else "en"},
        viewport={"width": 1366, "height": 900},
    )
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    external: list[str] = []
    page.on(
        "request",
        lambda r: external.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
    )
    page.external = external
    return page


def _login(page: Any, server: Server, username: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.wait_for_load_state("networkidle")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _flash(page: Any) -> str:
    page.wait_for_load_state()
    return str(page.locator("main .flash").first.inner_text(timeout=10_000))


def test_analyst_opens_a_case_records_a_failed_contact_suspends_and_restores(
    server: Server, browser: Any
) -> None:
    # an attack: alice's credentials used from abroad to call satellite and Cuban numbers, and
    # carol's from the same address a moment later; the first calls may go through under
    # watch (the case opens either way), the dialler's next ones are refused
    answers = [
        server.authorize(f"atk-a{i}", callee, "alice", "41.58.1.2")
        for i, callee in enumerate((SAT, CU, SO, SAT[:-1] + "9", CU[:-1] + "9"))
    ]
    allowed = [a for a in answers if a["decision"] == "allow"]
    assert all(a["reasons"][0] == "allowed_under_watch" for a in allowed)
    assert answers[-1]["decision"] == "deny"
    server.authorize("atk-c1", SAT, "carol3", "41.58.7.9")
    page = _page(browser, "ja-JP")
    _login(page, server, "yamada")
    assert page.url.endswith("/console")
    page.wait_for_selector("a[href='/console/cases/alice']", timeout=10_000)
    assert "アラートと対応中の事案" in page.inner_text("h1")
    _shot(page, "console-dashboard-ja.png")

    page.click("a[href='/console/cases/alice']")
    page.wait_for_selector("svg.chart")
    text = page.inner_text("main")
    for evidence in ("41.58.1.2", "carol3", "事後連絡", "国際通話料金と通常水準の比較"):
        assert evidence in text, evidence
    _shot(page, "console-case-ja.png")

    # a failed contact in two clicks (the case link, then the button)
    page.click("button[value=no_answer]")
    assert "連絡結果を記録しました" in _flash(page)

    page.fill("form[action$='/suspend'] input[name=reason]", "3回連絡がつかず、海外からの不正発信")
    page.click("form[action$='/suspend'] button")
    assert "国際通話を休止しました" in _flash(page)
    denied = server.authorize("after-suspend", US, "alice")
    assert (denied["decision"], denied["reason"]) == ("deny", "international_suspended")

    page.click("button[name=lang][value=en]")
    page.wait_for_selector("form[action$='/restore']")
    assert "Restore international calling" in page.inner_text("main")
    _shot(page, "console-case-en.png")
    page.fill("form[action$='/restore'] input[name=reason]", "customer changed the PBX passwords")
    page.click("form[action$='/restore'] button")
    assert "International calling restored" in _flash(page)
    assert server.authorize("after-restore", US, "alice")["decision"] == "allow"

    # call details: the view is audited with who and why
    page.fill("form[action$='/calls'] input[name=reason]", "checking the attack window")
    page.click("form[action$='/calls'] button")
    assert "cdr.view" in _flash(page)
    page.goto(f"{server.url}/console/audit?action=cdr.view")
    row = page.inner_text("table.audit tbody tr")
    assert "analyst:yamada" in row and "checking the attack window" in row

    page.goto(f"{server.url}/console/audit")
    _shot(page, "console-audit-en.png")
    page.goto(f"{server.url}/console/controls")
    _shot(page, "console-controls-en.png")
    page.goto(f"{server.url}/console/restricted?days=30")
    _shot(page, "console-restricted-en.png")
    page.goto(f"{server.url}/console/insights?days=30")
    assert page.locator("svg.heatmap rect").count() == 7 * 24
    _shot(page, "console-insights-en.png")
    page.click("button[name=lang][value=ja]")
    page.wait_for_selector("svg.heatmap")
    _shot(page, "console-insights-ja.png")
    assert page.external == [], page.external


def test_customer_suspends_sees_fraud_destinations_and_nothing_else(
    server: Server, browser: Any
) -> None:
    page = _page(browser, "en-US")
    page.goto(f"{server.url}/portal/destinations")
    assert "/login" in page.url, "the fraud-destination list is never public"
    _login(page, server, "bob-office")
    assert page.url.endswith("/portal")
    assert "International calling on your line" in page.inner_text("h1")
    text = page.inner_text("main")
    assert "bob2" in text and "alice" not in text and "carol3" not in text
    _shot(page, "portal-home-en.png")

    page.click("form[action='/portal/request'] button")  # suspension, confirmed in a dialog
    assert "International calling is suspended" in _flash(page)
    d = server.authorize("bob-after", US, "bob2")
    assert (d["decision"], d["reason"]) == ("deny", "international_suspended")
    assert "Restoration is not automatic" in page.inner_text("main")
    _shot(page, "portal-suspended-en.png")
    page.fill("form[action='/portal/request'] input[name=note]", "PBX passwords changed")
    page.click("form[action='/portal/request'] button")
    assert "An analyst will check it" in _flash(page)
    assert server.authorize("bob-still", US, "bob2")["decision"] == "deny"

    page.click("a[href='/portal/destinations']")
    assert "Cuba" in page.inner_text("main")
    _shot(page, "portal-destinations-en.png")
    page.click("button[name=lang][value=ja]")
    page.wait_for_selector("h1")
    assert "不正利用に使われる対地" in page.inner_text("h1")
    _shot(page, "portal-destinations-ja.png")
    page.goto(f"{server.url}/portal")
    assert "再開は自動では行いません" in page.inner_text("main")
    _shot(page, "portal-home-ja.png")
    page.goto(f"{server.url}/portal/advice")
    _shot(page, "portal-advice-ja.png")

    # no analyst page, and no other customer's data
    for url in ("/console", "/console/cases/alice", "/console/audit", "/console/controls"):
        resp = page.goto(f"{server.url}{url}")
        assert resp is not None and resp.status == 403, url
        assert "41.58.1.2" not in page.content()
    page.goto(f"{server.url}/portal?subscriber_id=alice")
    assert "alice" not in page.inner_text("main")
    assert page.external == [], page.external

    # the analyst sees bob's request waiting
    analyst = _page(browser, "en-US")
    _login(analyst, server, "yamada")
    waiting = analyst.inner_text("main")
    assert "Customers asking for restoration" in waiting and "PBX passwords changed" in waiting
    _shot(analyst, "console-dashboard-en.png")
