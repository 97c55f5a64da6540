"""The live service over HTTP, in process: TestClient runs the real app, store and engine."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.engine_support import CU, DOMESTIC, SAT, T0, US, customer
from tollguard.adapters.store import Store
from tollguard.app.service.api import create_app
from tollguard.app.service.auth import new_token, token_hash
from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
from tollguard.app.service.switch import HardLists


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class RecordingSwitch:
    """A switch that accepts every cut and list push, and remembers them."""

    def __init__(self) -> None:
        self.cut: list[tuple[str, str]] = []
        self.lists: list[HardLists] = []

    def terminate(self, call_id: str, reason: str) -> bool:
        self.cut.append((call_id, reason))
        return True

    def sync_lists(self, lists: HardLists) -> bool:
        self.lists.append(lists)
        return True


class Service:
    """A running service and a token per role."""

    def __init__(self, db: str, tmp: Path, clock: Clock, switch: RecordingSwitch) -> None:
        self.db, self.tmp, self.clock, self.switch = db, tmp, clock, switch
        store = Store.open(db)
        at = datetime.fromtimestamp(clock(), UTC)
        store.upsert_subscribers([customer("alice"), customer("bob2")], at=at)
        self.tokens = {}
        for role in ("switch", "analyst", "admin"):
            tok = new_token()
            store.create_token(role, role, token_hash=token_hash(tok), by="test", at=at)
            self.tokens[role] = tok
        store.close()

    def client(self) -> TestClient:
        settings = ServiceSettings(db_url=self.db, tick_s=3600, data_dir=self.tmp / "data")
        rt = ServiceRuntime(settings, switch=self.switch, clock=self.clock)
        return TestClient(create_app(rt))

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def svc(tmp_path: Path) -> Service:
    return Service(f"sqlite:///{tmp_path / 'tg.sqlite'}", tmp_path, Clock(T0), RecordingSwitch())


@pytest.fixture
def client(svc: Service) -> Iterator[TestClient]:
    with svc.client() as c:
        yield c


ALICE = "+81355550005"


def authorize(c: TestClient, svc: Service, call_id: str, callee: str, **kw: str) -> dict[str, str]:
    body = {"call_id": call_id, "callee": callee, "caller": ALICE, **kw}
    r = c.post("/v1/authorize", json=body, headers=svc.h("switch"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_watched_call_tells_the_switch_how_long_it_may_run(
    client: TestClient, svc: Service
) -> None:
    # A new customer's first call to a satellite phone: refused on its cost alone, but fraud is
    # less likely than not, so it goes through under watch. The switch is told the watch, to
    # hang up by itself (a dialog timeout) even if tollguard cannot reach it then.
    watched = authorize(client, svc, "sat-1", SAT)
    assert watched["decision"] == "allow" and watched["reason"] == "allowed_under_watch"
    limit = watched["max_answered_s"]
    assert isinstance(limit, int) and 3 * 60 <= limit <= 10 * 60, watched
    call = client.app.state.runtime.live.engine.active["sat-1"]  # type: ignore[attr-defined]
    assert limit == int(call.watch_s)  # never later than tollguard's own cut
    plain = authorize(client, svc, "us-1", US)
    assert plain["decision"] == "allow" and plain["max_answered_s"] is None
    home = authorize(client, svc, "home-1", DOMESTIC)
    assert home["max_answered_s"] is None


def test_authorization_needs_a_token_of_the_right_role(client: TestClient, svc: Service) -> None:
    body = {"call_id": "c1", "callee": DOMESTIC, "caller": ALICE}
    assert client.post("/v1/authorize", json=body).status_code == 401
    bad = {"Authorization": "Bearer tg_not-a-token"}
    assert client.post("/v1/authorize", json=body, headers=bad).status_code == 401
    assert client.post("/v1/authorize", json=body, headers=svc.h("analyst")).status_code == 403
    assert client.get("/v1/controls", headers=svc.h("switch")).status_code == 403
    assert client.get("/v1/tokens", headers=svc.h("analyst")).status_code == 403
    basic = base64.b64encode(f"kamailio:{svc.tokens['switch']}".encode()).decode()
    r = client.post("/v1/authorize", json=body, headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200
    assert r.json()["decision"] == "allow"


def test_unknown_caller_is_refused_and_known_numbers_map_to_their_customer(
    client: TestClient, svc: Service
) -> None:
    r = authorize(client, svc, "c1", US, caller="+81399999999")
    assert (r["decision"], r["reason"]) == ("deny", "unknown_subscriber")
    r = authorize(client, svc, "c2", DOMESTIC, caller=f"sip:{ALICE}@pbx.example.jp")
    assert (r["decision"], r["subscriber_id"]) == ("allow", "alice")
    q = {"call_id": "c3", "callee": DOMESTIC, "subscriber_id": "alice"}
    r2 = client.get("/v1/authorize", params=q, headers=svc.h("switch"))
    assert r2.status_code == 200 and r2.json()["decision"] == "allow"


def test_suspension_denies_international_calls_cuts_calls_in_progress_and_is_audited(
    client: TestClient, svc: Service
) -> None:
    assert authorize(client, svc, "live-1", US)["decision"] == "allow"
    h = svc.h("switch")
    assert client.post("/v1/events/call-answered", json={"call_id": "live-1"}, headers=h).is_success
    svc.clock.t += 30
    r = client.post(
        "/v1/subscribers/alice/suspend",
        json={"reason": "customer unreachable, PBX compromised"},
        headers=svc.h("analyst"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["calls_cut"] == ["live-1"]
    assert svc.switch.cut == [("live-1", "international_suspended")]
    assert "alice" in svc.switch.lists[-1].suspended
    assert {"81355550005", "+81355550005", "0355550005"} <= svc.switch.lists[-1].suspended
    d = authorize(client, svc, "after", US)
    assert (d["decision"], d["reason"]) == ("deny", "international_suspended")
    assert authorize(client, svc, "dom", DOMESTIC)["decision"] == "allow"
    audit = client.get("/v1/audit", headers=svc.h("analyst")).json()
    create = [e for e in audit if e["action"] == "control.create"]
    assert create and create[-1]["actor"] == "analyst:analyst"
    assert create[-1]["subject"] == "suspension:alice"
    assert create[-1]["reason"] == "customer unreachable, PBX compromised"
    assert any(e["action"] == "call.terminate" for e in audit)
    r = client.post(
        "/v1/subscribers/alice/restore",
        json={"reason": "customer secured the PBX"},
        headers=svc.h("analyst"),
    )
    assert r.status_code == 200
    assert authorize(client, svc, "again", US)["decision"] == "allow"
    assert client.get("/v1/controls", headers=svc.h("analyst")).json() == []


def test_country_restriction_by_country_code_then_lifted(client: TestClient, svc: Service) -> None:
    a = svc.h("analyst")
    r = client.post(
        "/v1/controls",
        json={
            "kind": "country_restriction",
            "subject": "cu",
            "reason": "IRSF wave",
            "duration_s": 3600,
        },
        headers=a,
    )
    assert r.status_code == 201, r.text
    d = authorize(client, svc, "cu-1", CU)
    assert (d["decision"], d["reason"]) == ("deny", "country_restricted")
    assert svc.switch.lists[-1].restricted_prefixes == frozenset({"53"})
    controls = client.get("/v1/controls", headers=a).json()
    assert [(c["kind"], c["subject"]) for c in controls] == [("country_restriction", "CU")]
    assert controls[0]["expires_at"] is not None
    lift = client.post(
        f"/v1/controls/{controls[0]['id']}/lift", json={"reason": "wave over"}, headers=a
    )
    assert lift.status_code == 200
    assert authorize(client, svc, "cu-2", CU)["reason"] != "country_restricted"
    again = client.post(
        f"/v1/controls/{controls[0]['id']}/lift", json={"reason": "x" * 3}, headers=a
    )
    assert again.status_code == 409
    bad = client.post(
        "/v1/controls",
        json={"kind": "country_restriction", "subject": "CUB", "reason": "nope"},
        headers=a,
    )
    assert bad.status_code == 422


def test_controls_and_learning_survive_a_restart(svc: Service) -> None:
    with svc.client() as c:
        r = c.post(
            "/v1/controls",
            json={"kind": "ip_block", "subject": "203.0.113.9", "reason": "SIP scanner"},
            headers=svc.h("analyst"),
        )
        assert r.status_code == 201
        d = authorize(c, svc, "c1", DOMESTIC, source_ip="203.0.113.9")
        assert (d["decision"], d["reason"]) == ("deny", "ip_blocked")
    svc.clock.t += 60
    with svc.client() as c:
        d = authorize(c, svc, "c2", DOMESTIC, source_ip="203.0.113.9")
        assert (d["decision"], d["reason"]) == ("deny", "ip_blocked")
        assert svc.switch.lists[-1].blocked_ips == frozenset({"203.0.113.9"})
        # the engine's state came back from the snapshot taken at shutdown
        assert c.app.state.runtime.restored  # type: ignore[attr-defined]


def test_cdr_upload_stores_good_rows_quarantines_bad_ones_and_meters(
    client: TestClient, svc: Service
) -> None:
    csv_text = (
        "call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip\n"
        "k1,alice,+81355550005,+12025550100,2026-10-05T09:00:00+09:00,"
        "2026-10-05T09:00:05+09:00,2026-10-05T09:03:05+09:00,ANSWERED,198.51.100.7\n"
        "k2,alice,+81355550005,+12025550100,2026-10-05T09:10:00+09:00,,"
        "2026-10-05T09:05:00+09:00,FAILED,198.51.100.7\n"
    )
    r = client.post(
        "/v1/cdrs", content=csv_text, headers={**svc.h("switch"), "Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["quarantined"], body["metered"]) == (1, 1, 1)
    assert body["quarantine_file"]
    again = client.post(
        "/v1/cdrs", content=csv_text, headers={**svc.h("switch"), "Content-Type": "text/csv"}
    )
    assert again.json()["already_ingested"] is True
    rows = [
        {
            "call_id": "j1",
            "subscriber_id": "alice",
            "caller": ALICE,
            "callee": "+12025550100",
            "start": "2026-10-05T10:00:00+09:00",
            "answer": "2026-10-05T10:00:03+09:00",
            "end": "2026-10-05T10:01:03+09:00",
            "disposition": "ANSWERED",
            "source_ip": "198.51.100.7",
        }
    ]
    r = client.post("/v1/cdrs", json=rows, headers=svc.h("switch"))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    views = client.get(
        "/v1/subscribers/alice/cdrs", params={"reason": "case review"}, headers=svc.h("analyst")
    )
    assert [c["call_id"] for c in views.json()] == ["k1", "j1"]
    audit = client.get(
        "/v1/audit", params={"subject": "subscriber:alice"}, headers=svc.h("analyst")
    )
    assert any(e["action"] == "cdr.view" and e["reason"] == "case review" for e in audit.json())


def test_tokens_created_and_revoked_over_http(client: TestClient, svc: Service) -> None:
    r = client.post("/v1/tokens", json={"name": "kam-1", "role": "switch"}, headers=svc.h("admin"))
    assert r.status_code == 201
    tok = r.json()["token"]
    body = {"call_id": "t1", "callee": DOMESTIC, "caller": ALICE}
    hdr = {"Authorization": f"Bearer {tok}"}
    assert client.post("/v1/authorize", json=body, headers=hdr).status_code == 200
    listed = client.get("/v1/tokens", headers=svc.h("admin")).json()
    assert all("token" not in t and "token_hash" not in t for t in listed)
    assert client.delete(f"/v1/tokens/{r.json()['id']}", headers=svc.h("admin")).status_code == 200
    assert client.post("/v1/authorize", json=body, headers=hdr).status_code == 401


def test_health_metrics_openapi_and_body_limit(client: TestClient, svc: Service) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    authorize(client, svc, "m1", DOMESTIC)
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=svc.h("analyst")).text
    assert 'tollguard_decisions_total{decision="allow",reason=""}' in text
    assert "tollguard_decision_seconds_bucket" in text
    assert "tollguard_calls_in_progress" in text
    spec = client.get("/openapi.json").json()
    assert "/v1/authorize" in spec["paths"]
    big = b"x" * (client.app.state.runtime.settings.max_body_bytes + 1)  # type: ignore[attr-defined]
    r = client.post(
        "/v1/cdrs", content=big, headers={**svc.h("switch"), "Content-Type": "text/csv"}
    )
    assert r.status_code == 413


def test_contact_outcome_confirmed_legitimate_restores(client: TestClient, svc: Service) -> None:
    a = svc.h("analyst")
    client.post("/v1/subscribers/alice/suspend", json={"reason": "suspicious"}, headers=a)
    r = client.post(
        "/v1/cases/alice/contacts",
        json={"result": "confirmed_legitimate", "note": "customer's own calls"},
        headers=a,
    )
    assert r.status_code == 200, r.text
    assert "restore_international" in r.json()["actions"]
    assert authorize(client, svc, "ok", US)["decision"] == "allow"
    audit = client.get("/v1/audit", headers=a).json()
    assert any(e["action"] == "case.contact" for e in audit)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_suspension_is_post_notified_by_email_and_recorded(tmp_path: Path) -> None:
    import time as _time
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    from tollguard.adapters.notify import RetryPolicy, SmtpMailer
    from tollguard.app.service.outbox import Outbox

    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            received.append(envelope.content)  # type: ignore[attr-defined]
            return "250 OK"

    port = _free_port()
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        svc = Service(f"sqlite:///{tmp_path / 'tg.sqlite'}", tmp_path, Clock(T0), RecordingSwitch())
        store = Store.open(svc.db)
        mailer = SmtpMailer("127.0.0.1", port, sender="fraud-desk@carrier.example.jp")
        outbox = Outbox(store, mailer=mailer, policy=RetryPolicy(max_attempts=2, base_delay_s=0))
        settings = ServiceSettings(db_url=svc.db, tick_s=3600, data_dir=tmp_path / "data")
        rt = ServiceRuntime(
            settings, store=store, switch=svc.switch, outbox=outbox, clock=svc.clock
        )
        with TestClient(create_app(rt)) as c:
            r = c.post(
                "/v1/subscribers/alice/suspend",
                json={"reason": "unreachable during an attack"},
                headers=svc.h("analyst"),
            )
            assert r.status_code == 200
            deadline = _time.monotonic() + 10
            while _time.monotonic() < deadline:
                notes = c.get("/v1/notifications", headers=svc.h("analyst")).json()
                if notes and notes[0]["status"] != "pending":
                    break
                _time.sleep(0.05)
            assert [(n["kind"], n["channel"], n["status"]) for n in notes] == [
                ("post_notification", "email", "sent")
            ]
            assert notes[0]["recipient"] == "alice@example.jp"
            audit = c.get("/v1/audit", headers=svc.h("analyst")).json()
            assert any(e["action"] == "notification.sent" for e in audit)
            assert any(e["action"] == "notify" for e in audit)
        assert len(received) == 1
        mail = message_from_bytes(received[0], policy=policy.default)
        assert mail["To"] == "alice@example.jp"
        body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "国際通話のご利用を一時休止" in body and "unreachable during an attack" in body
    finally:
        smtp.stop()


def test_notice_without_a_mail_server_is_recorded_as_not_sent(
    client: TestClient, svc: Service
) -> None:
    # the default test service has no outbox: nothing is sent and nothing is recorded
    client.post("/v1/subscribers/alice/suspend", json={"reason": "test"}, headers=svc.h("analyst"))
    assert client.get("/v1/notifications", headers=svc.h("analyst")).json() == []


def test_blocked_addresses_are_exported_for_nftables_ipset_and_fail2ban(tmp_path: Path) -> None:
    from tollguard.adapters.exports import BlockListExporter

    svc = Service(f"sqlite:///{tmp_path / 'tg.sqlite'}", tmp_path, Clock(T0), RecordingSwitch())
    exporter = BlockListExporter(tmp_path / "exports")
    settings = ServiceSettings(db_url=svc.db, tick_s=3600, data_dir=tmp_path / "data")
    rt = ServiceRuntime(settings, switch=svc.switch, exporter=exporter, clock=svc.clock)
    with TestClient(create_app(rt)) as c:
        for ip in ("203.0.113.5", "2001:db8::7"):
            r = c.post(
                "/v1/controls",
                json={"kind": "ip_block", "subject": ip, "reason": "SIP scanner"},
                headers=svc.h("analyst"),
            )
            assert r.status_code == 201
        nft = c.get("/v1/exports/blocked-ips.nft", headers=svc.h("switch")).text
        assert "203.0.113.5" in nft and "2001:db8::7" in nft
        assert "203.0.113.5" in c.get("/v1/exports/blocked-ips.ipset", headers=svc.h("switch")).text
    assert "203.0.113.5" in exporter.nft_path.read_text()
    assert "203.0.113.5" in exporter.ipset_path.read_text()
    log_lines = exporter.log_path.read_text().splitlines()
    assert len(log_lines) == 2 and any("203.0.113.5" in line for line in log_lines)


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_fast_path_answers_exactly_as_the_fastapi_route(tmp_path: Path, method: str) -> None:
    requests: list[dict[str, object]] = [
        {"call_id": "a1", "callee": DOMESTIC, "caller": ALICE},
        {"call_id": "a2", "callee": US, "caller": ALICE, "source_ip": "198.51.100.7"},
        {"call_id": "a3", "callee": CU, "subscriber_id": "alice"},
        {"call_id": "a4", "callee": US, "subscriber_id": "nobody"},
        {"call_id": "a5", "callee": US, "caller": "sip:+81355550005@pbx;transport=udp"},
        {"callee": US, "caller": ALICE},  # no call id
        {"call_id": "", "callee": US, "caller": ALICE},
        {"call_id": "a8", "callee": "1" * 65, "caller": ALICE},
    ]
    if method == "POST":
        requests.append({"call_id": 7, "callee": US, "caller": ALICE})  # not a string
    answers: list[list[tuple[int, object]]] = []
    for fast in (True, False):
        svc = Service(
            f"sqlite:///{tmp_path / f'{fast}.sqlite'}", tmp_path, Clock(T0), RecordingSwitch()
        )
        settings = ServiceSettings(
            db_url=svc.db, tick_s=3600, data_dir=tmp_path / f"data-{fast}", fast_authorize=fast
        )
        rt = ServiceRuntime(settings, switch=svc.switch, clock=svc.clock)
        got: list[tuple[int, object]] = []
        with TestClient(create_app(rt)) as c:
            for body in requests:
                if method == "POST":
                    r = c.post("/v1/authorize", json=body, headers=svc.h("switch"))
                else:
                    r = c.get("/v1/authorize", params=body, headers=svc.h("switch"))  # type: ignore[arg-type]
                got.append((r.status_code, r.json() if r.status_code == 200 else None))
                svc.clock.t += 1
            got.append((c.post("/v1/authorize", json=requests[0]).status_code, None))
            analyst = c.post("/v1/authorize", json=requests[0], headers=svc.h("analyst"))
            got.append((analyst.status_code, None))
        answers.append(got)
    assert answers[0] == answers[1]
    assert [s for s, _ in answers[0]][:5] == [200] * 5
    assert all(s == 422 for s, _ in answers[0][5 : len(requests)])
    assert [s for s, _ in answers[0][-2:]] == [401, 403]


#: Who may call what: everything else is for analysts and admins.
SWITCH_ROUTES = {"/v1/authorize", "/v1/events/call-answered", "/v1/events/call-ended"}
SWITCH_ROUTES |= {"/v1/events/sip", "/v1/cdrs"}
ANY_ROLE_ROUTES = {"/metrics", "/v1/exports/blocked-ips.nft", "/v1/exports/blocked-ips.ipset"}
ADMIN_ROUTES = {
    ("POST", "/v1/tokens"),
    ("GET", "/v1/tokens"),
    ("DELETE", "/v1/tokens/{token_id}"),
    ("POST", "/v1/subscribers"),
    ("PUT", "/v1/restricted-destinations"),
    ("DELETE", "/v1/restricted-destinations/{kind}/{value}"),
    ("GET", "/v1/audit/verify"),
}
PUBLIC_ROUTES = {"/healthz", "/readyz"}


def allowed_roles(method: str, path: str) -> set[str]:
    if path in SWITCH_ROUTES:
        return {"switch", "admin"}
    if path in ANY_ROLE_ROUTES:
        return {"switch", "analyst", "admin"}
    if (method, path) in ADMIN_ROUTES:
        return {"admin"}
    return {"analyst", "admin"}


def test_every_route_of_the_openapi_spec_enforces_its_roles(
    client: TestClient, svc: Service
) -> None:
    spec = client.get("/openapi.json").json()
    fill = {"subscriber_id": "alice", "control_id": "1", "token_id": "999", "kind": "country"}
    fill |= {"value": "XX", "case_id": "1"}
    walked = 0
    for path, methods in spec["paths"].items():
        for method in methods:
            method = method.upper()
            url = path
            for name, value in fill.items():
                url = url.replace("{" + name + "}", value)
            assert "{" not in url, url
            if path in PUBLIC_ROUTES:
                assert client.request(method, url).status_code == 200
                continue
            walked += 1
            assert client.request(method, url, json={}).status_code == 401, (method, path)
            for role in ("switch", "analyst", "admin"):
                r = client.request(method, url, json={}, headers=svc.h(role))
                if role in allowed_roles(method, path):
                    assert r.status_code not in (401, 403), (role, method, path, r.text)
                else:
                    assert r.status_code == 403, (role, method, path, r.status_code)
    assert walked >= 25


def test_restricted_destination_list_edited_by_admins(client: TestClient, svc: Service) -> None:
    entry = {
        "kind": "range",
        "value": "+88213",
        "name": "Global Networks (test range)",
        "no_government_traffic": True,
        "no_life_critical_traffic": True,
        "reason": "premium-rate range sold to IRSF traffic pumpers; no normal traffic",
        "provenance": "shared by carrier B, reviewed 2026-11-28",
    }
    assert (
        client.put("/v1/restricted-destinations", json=entry, headers=svc.h("analyst")).status_code
        == 403
    )
    r = client.put("/v1/restricted-destinations", json=entry, headers=svc.h("admin"))
    assert r.status_code == 200, r.text
    listed = client.get("/v1/restricted-destinations", headers=svc.h("analyst")).json()
    mine = [e for e in listed if e["source"] == "carrier"]
    assert [(e["kind"], e["value"]) for e in mine] == [("range", "88213")]
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    assert rt.live.engine.restricted.match("+882131234567", None, None).value == "88213"
    bad = {**entry, "no_life_critical_traffic": False}
    assert (
        client.put("/v1/restricted-destinations", json=bad, headers=svc.h("admin")).status_code
        == 422
    )
    gone = client.delete(
        "/v1/restricted-destinations/range/88213",
        params={"reason": "range reassigned"},
        headers=svc.h("admin"),
    )
    assert gone.status_code == 200
    assert rt.live.engine.restricted.match("+882131234567", None, None) is None or (
        rt.live.engine.restricted.match("+882131234567", None, None).value != "88213"
    )
    packaged = client.get("/v1/restricted-destinations", headers=svc.h("analyst")).json()[0]
    r = client.delete(
        f"/v1/restricted-destinations/{packaged['kind']}/{packaged['value']}",
        params={"reason": "try"},
        headers=svc.h("admin"),
    )
    assert r.status_code == 409
    audit = client.get("/v1/audit", headers=svc.h("analyst")).json()
    assert {"destination_list.add", "destination_list.remove"} <= {e["action"] for e in audit}


def test_replayed_history_warms_the_live_service(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tollguard.app.simulate import SimulationConfig, simulate
    from tollguard.cli import _register, app

    data = tmp_path / "sim"
    simulate(SimulationConfig(subscribers=150, days=10, seed=5), data)
    db = tmp_path / "tg.sqlite"
    _register()
    result = CliRunner().invoke(
        app,
        [
            "replay",
            "--subscribers", str(data / "subscribers.csv"),
            "--cdrs", str(data / "cdrs.csv"),
            "--out", str(tmp_path / "out.jsonl"),
            "--save-state", str(db),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = Store.open(f"sqlite:///{db}")
    from tollguard.adapters.readers import read_subscribers
    from tollguard.domain.records import Subscriber

    subs = [s for s in read_subscribers(data / "subscribers.csv") if isinstance(s, Subscriber)]
    store.upsert_subscribers(subs, at=datetime.fromtimestamp(T0, UTC))
    settings = ServiceSettings(db_url=f"sqlite:///{db}", tick_s=3600, data_dir=tmp_path / "d")
    rt = ServiceRuntime(settings, store=store, clock=Clock(T0 + 30 * 86400))
    assert rt.restored
    policy = rt.live.engine.policy
    assert len(policy.customers) > 100  # type: ignore[attr-defined]
    assert policy.cases == {}  # type: ignore[attr-defined]
    assert rt.live.controls() == []
    assert rt.live.calls_in_progress() == 0


def test_no_page_loads_anything_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_a_reported_call_is_metered_even_where_its_set_up_would_have_been_refused(
    client: TestClient, svc: Service
) -> None:
    rows = [
        {
            "call_id": "late-cu",
            "subscriber_id": "alice",
            "caller": ALICE,
            "callee": "+5351234567",
            "start": "2026-10-05T02:00:00+09:00",
            "answer": "2026-10-05T02:00:05+09:00",
            "end": "2026-10-05T02:10:05+09:00",
            "disposition": "ANSWERED",
            "source_ip": "198.51.100.7",
        }
    ]
    # alice's calls abroad are refused at set-up (suspended), yet the switch reports one
    why = {"reason": "PBX compromised"}
    r = client.post("/v1/subscribers/alice/suspend", json=why, headers=svc.h("analyst"))
    assert r.status_code == 200, r.text
    assert authorize(client, svc, "probe-cu", CU)["decision"] == "deny"
    for _ in range(2):  # sent twice: metered once
        r = client.post("/v1/cdrs", json=rows, headers=svc.h("switch"))
        assert r.status_code == 200, r.text
    m = client.get("/v1/subscribers/alice", headers=svc.h("analyst")).json()["metered"]
    assert m["international_calls"] == 1
    assert m["billable_seconds"] == 600
    assert m["charge_jpy"] > 0


def test_a_call_cut_while_ringing_is_cut_again_when_answered(
    client: TestClient, svc: Service
) -> None:
    assert authorize(client, svc, "ring-1", US)["decision"] == "allow"
    r = client.post(
        "/v1/subscribers/alice/suspend", json={"reason": "attack"}, headers=svc.h("analyst")
    )
    assert r.json()["calls_cut"] == ["ring-1"]
    h = svc.h("switch")
    assert client.post("/v1/events/call-answered", json={"call_id": "ring-1"}, headers=h).is_success
    client.get("/v1/controls", headers=svc.h("analyst"))  # waits for the recorder
    assert [c for c, _ in svc.switch.cut] == ["ring-1", "ring-1"]
    assert svc.switch.cut[-1][1] == "refused_or_cut_before_answer"


def test_destination_denials_are_stored_under_what_the_engine_enforces() -> None:
    from tollguard.app.service.recorder import action_control
    from tollguard.domain.controls import ControlKind
    from tollguard.domain.events import Action, ActionKind

    deny = ActionKind.DENY_DESTINATION
    rng = Action(T0, deny, "r", subscriber_id="S1", country="BY", prefix="3759")
    assert action_control(rng) == (ControlKind.DESTINATION_DENIAL, "S1:+3759")
    country = Action(T0, deny, "r", subscriber_id="S1", country="BY")
    assert action_control(country) == (ControlKind.DESTINATION_DENIAL, "S1:BY")
    everyone = Action(T0, deny, "r", country="LV", prefix="37181")
    assert action_control(everyone) == (ControlKind.DESTINATION_DENIAL, "37181")


def test_a_customers_own_suspension_is_not_sent_the_fraud_post_notification(
    client: TestClient, svc: Service
) -> None:
    from tollguard.domain.events import ActionKind

    rt = client.app.state.runtime  # type: ignore[attr-defined]
    rt.live.manual(
        ActionKind.SUSPEND_INTERNATIONAL, "alice", reason="asked by the customer",
        actor="customer:alice",
    )  # fmt: skip
    rt.recorder.flush()
    audit = client.get("/v1/audit", headers=svc.h("analyst")).json()
    assert [e["action"] for e in audit if e["action"] == "notify"] == []
    client.post("/v1/subscribers/bob2/suspend", json={"reason": "fraud"}, headers=svc.h("analyst"))
    audit = client.get("/v1/audit", headers=svc.h("analyst")).json()
    assert [e["subject"] for e in audit if e["action"] == "notify"] == ["subscriber:bob2"]


def test_sip_events_are_kept_in_the_store(client: TestClient, svc: Service) -> None:
    ev = {"source_ip": "203.0.113.40", "username": "alice", "event": "register",
          "user_agent": "Kumo IPX-200 fw 2.1"}  # fmt: skip
    assert client.post("/v1/events/sip", json=ev, headers=svc.h("switch")).status_code == 204
    client.get("/v1/controls", headers=svc.h("analyst"))  # waits for the recorder
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    (kept,) = rt.store.list_sip_events(source_ip="203.0.113.40")
    assert (kept.username, kept.user_agent) == ("alice", "Kumo IPX-200 fw 2.1")


def test_the_switch_learns_whether_a_line_is_barred_by_its_customer_or_suspended(
    svc: Service,
) -> None:
    from tollguard.domain.records import IntlStatus

    store = Store.open(svc.db)
    at = datetime.fromtimestamp(svc.clock(), UTC)
    store.upsert_subscribers([customer("dave", status=IntlStatus.SUSPENDED)], at=at)
    store.close()
    with svc.client() as c:
        rt = c.app.state.runtime  # type: ignore[attr-defined]
        lists = rt.recorder.hard_lists()
        assert {"dave", "+81355550004", "0355550004"} <= lists.barred
        assert "dave" not in lists.suspended and "alice" not in lists.barred
        c.post("/v1/subscribers/dave/suspend", json={"reason": "fraud"}, headers=svc.h("analyst"))
        rt.recorder.flush()
        lists = rt.recorder.hard_lists()
        assert "dave" in lists.suspended and "+81355550004" in lists.suspended
        assert "dave" not in lists.barred  # the control is what the switch must name
