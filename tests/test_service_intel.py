"""Inter-carrier sharing over the live service's HTTP API (``/v1/intel/*``), in process:
TestClient runs the real app, store and engine of two carriers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stix2
from fastapi.testclient import TestClient
from pymisp import MISPEvent

from tests.engine_support import CU, HOUR, T0, US
from tests.test_service import ALICE, Clock, RecordingSwitch, Service, authorize
from tollguard.adapters.intel.service import ImportPolicy, parse_feed
from tollguard.app.service.api import create_app
from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
from tollguard.domain.intel import IntelFeed

FORMATS = ("misp", "stix", "csv")
KEY = b"a key shared by carriers a and b"
#: Monday 2026-10-05 14:00 JST.
NOW = T0 + 14 * HOUR
#: What must never leave carrier A: its customers' ids and numbers, and full called numbers.
SECRETS = ["alice", "bob2", "81355550005", "0355550005", "81355550004", "0355550004"]
SECRETS += ["16502530000", "6502530000", "5351234567"]


def client_of(svc: Service, **settings: Any) -> TestClient:
    """The service's app with intel settings (carrier name, key, policy)."""
    cfg = ServiceSettings(db_url=svc.db, tick_s=3600, data_dir=svc.tmp / "data", **settings)
    return TestClient(create_app(ServiceRuntime(cfg, switch=svc.switch, clock=svc.clock)))


def service(tmp: Path) -> Service:
    tmp.mkdir(parents=True, exist_ok=True)
    return Service(f"sqlite:///{tmp / 'tg.sqlite'}", tmp, Clock(NOW), RecordingSwitch())


def attacked(c: TestClient, svc: Service) -> None:
    """Carrier A's morning: alice's PBX is hijacked, her call abroad is cut by a suspension,
    its CDR arrives; analysts block an attacker (and an inside address, which is never shared),
    restrict Cuba, deny a pumped number to alice and a satellite range to everyone."""
    a, sw = svc.h("analyst"), svc.h("switch")
    assert authorize(c, svc, "f1", US, source_ip="198.51.100.7")["decision"] == "allow"
    assert c.post("/v1/events/call-answered", json={"call_id": "f1"}, headers=sw).is_success
    svc.clock.t += 60
    r = c.post("/v1/subscribers/alice/suspend", json={"reason": "PBX hijacked"}, headers=a)
    assert r.json()["calls_cut"] == ["f1"]
    cdr = {
        "call_id": "f1",
        "subscriber_id": "alice",
        "caller": ALICE,
        "callee": "+16502530000",
        "start": "2026-10-05T14:00:00+09:00",
        "answer": "2026-10-05T14:00:05+09:00",
        "end": "2026-10-05T14:01:05+09:00",
        "disposition": "ANSWERED",
        "source_ip": "198.51.100.7",
    }
    assert c.post("/v1/cdrs", json=[cdr], headers=sw).json()["accepted"] == 1
    for body in (
        {"kind": "ip_block", "subject": "203.0.113.9", "reason": "SIP scanner"},
        {"kind": "ip_block", "subject": "10.1.2.3", "reason": "infected PC inside"},
        {"kind": "country_restriction", "subject": "CU", "reason": "IRSF wave", "duration_s": 3600},
        {
            "kind": "destination_denial",
            "subject": "+5351234567",
            "reason": "pumped number",
            "subscriber_id": "bob2",
        },
        {"kind": "destination_denial", "subject": "+88213", "reason": "satellite range"},
    ):
        assert c.post("/v1/controls", json=body, headers=a).status_code == 201
    assert authorize(c, svc, "f2", CU, caller="+81355550004")["reason"] == "country_restricted"


@pytest.fixture
def carrier_a(tmp_path: Path) -> Iterator[tuple[TestClient, Service]]:
    svc = service(tmp_path / "a")
    with client_of(svc, carrier_name="carrier-a", intel_key=KEY) as c:
        attacked(c, svc)
        yield c, svc


def export(c: TestClient, svc: Service, fmt: str, **params: Any) -> Any:
    r = c.get("/v1/intel/export", params={"format": fmt, **params}, headers=svc.h("analyst"))
    assert r.status_code == 200, r.text
    return r


def import_(
    c: TestClient, svc: Service, body: bytes, headers: dict[str, str], **params: Any
) -> Any:
    return c.post(
        "/v1/intel/import",
        params={"source": "carrier-a", **params},
        content=body,
        headers={**svc.h("analyst"), **headers},
    )


def integrity(r: Any) -> dict[str, str]:
    """The integrity headers of an export, as an import wants them."""
    return {k: r.headers[k] for k in ("X-Tollguard-Digest", "X-Tollguard-Signature")}


def candidates(c: TestClient, svc: Service, status: str = "all") -> list[dict[str, Any]]:
    r = c.get("/v1/intel/candidates", params={"status": status}, headers=svc.h("analyst"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def entries(feed: IntelFeed) -> set[tuple[object, ...]]:
    """A feed's entries as candidates show them (kind, value, country, counts, band)."""
    out: set[tuple[object, ...]] = set()
    for d in feed.destinations:
        out.add((d.kind.value, d.value, d.country, d.incidents, d.calls, d.cost_band))
    for ip in feed.attackers:
        out.add(("ip", ip.ip, None, ip.incidents, ip.calls, None))
    return out


def as_entries(rows: list[dict[str, Any]]) -> set[tuple[object, ...]]:
    keys = ("kind", "value", "country", "incidents", "calls", "cost_band")
    return {tuple(r[k] for k in keys) for r in rows}


# -- export -------------------------------------------------------------------------------------
def test_export_in_three_formats_with_digest_signature_and_audit(
    carrier_a: tuple[TestClient, Service],
) -> None:
    c, svc = carrier_a
    feeds = {}
    for fmt in FORMATS:
        r = export(c, svc, fmt)
        body = r.content
        assert r.headers["X-Tollguard-Digest"] == hashlib.sha256(body).hexdigest()
        mac = hmac.new(KEY, body, hashlib.sha256).hexdigest()
        assert r.headers["X-Tollguard-Signature"] == f"hmac-sha256 {mac}"
        assert r.headers["content-type"].startswith(
            {"misp": "application/json", "stix": "application/stix+json", "csv": "text/csv"}[fmt]
        )
        assert "attachment" in r.headers["content-disposition"]
        feeds[fmt] = parse_feed(body, fmt)[0]
    # one feed in three formats: the store's controls and the cut call, ranges only
    assert feeds["misp"] == feeds["stix"] == feeds["csv"]
    feed = feeds["csv"]
    assert feed.source == "carrier-a" and feed.tlp == "amber"
    keys = {d.key for d in feed.destinations} | {a.key for a in feed.attackers}
    assert keys == {
        "country:CU",  # restricted; and the country of the denied number
        "country:US",  # the cut call
        "range:1650253",  # the cut call's callee, cut to seven digits
        "range:5351234",  # the number denied to bob2, shared as its range only
        "range:88213",  # everyone's denial
        "ip:203.0.113.9",  # not 10.1.2.3: a private address is never shared
    }
    cut = next(d for d in feed.destinations if d.key == "range:1650253")
    assert (cut.calls, cut.country, cut.calling_code) == (1, "US", 1)
    assert feed.histogram.total >= 1
    # MISP loads with pymisp, STIX parses and validates with stix2 (no custom content)
    event = MISPEvent()
    event.load(export(c, svc, "misp").text)
    values = {(a.type, a.value) for a in event.attributes}
    assert {("phone-number", "+1650253"), ("ip-src", "203.0.113.9")} <= values
    bundle = stix2.parse(export(c, svc, "stix").text, allow_custom=False)
    patterns = {o.pattern for o in bundle.objects if o.type == "indicator"}
    assert "^\\+88213[0-9]*$" in patterns and "[ipv4-addr:value = '203.0.113.9']" in patterns
    # exporting is audited: who, which format, the digest
    audit = c.get("/v1/audit", headers=svc.h("analyst")).json()
    exports = [e for e in audit if e["action"] == "intel.export"]
    assert len(exports) == 5 and {e["actor"] for e in exports} == {"analyst:analyst"}
    assert exports[0]["subject"] == "feed:carrier-a"
    assert exports[0]["evidence"]["signed"] is True
    # a period and a shorter prefix are honoured; bad parameters are refused
    early = parse_feed(export(c, svc, "csv", until="2026-10-05T14:00:30").content)[0]
    assert {d.key for d in early.destinations} == {"country:US", "range:1650253"}
    short = parse_feed(export(c, svc, "csv", prefix_digits=4).content)[0]
    assert "range:1650" in {d.key for d in short.destinations}
    a = svc.h("analyst")
    for bad in (
        {"format": "xml"},
        {"format": "csv", "prefix_digits": 0},
        {"format": "csv", "since": "2026-10-06", "until": "2026-10-05"},
        {"format": "csv", "since": "yesterday"},
        {"format": "csv", "tlp": "purple"},
        {"format": "csv", "timezone": "Mars/Olympus"},
    ):
        assert c.get("/v1/intel/export", params=bad, headers=a).status_code == 422, bad


def test_default_export_reveals_no_subscriber_caller_or_full_callee(
    carrier_a: tuple[TestClient, Service],
) -> None:
    c, svc = carrier_a
    a = svc.h("analyst")
    texts = {fmt: export(c, svc, fmt).text for fmt in FORMATS}
    texts["destinations"] = c.get("/v1/intel/destinations", headers=a).text
    texts["hours"] = c.get("/v1/intel/hours", headers=a).text
    for name, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, (name, secret)
    # the test looks in the right place: the cut call and the denied number are in the feeds
    for fmt in FORMATS:
        assert "1650253" in texts[fmt] and "5351234" in texts[fmt], fmt


# -- import -------------------------------------------------------------------------------------
def test_round_trip_into_a_fresh_service_gives_the_same_candidates_in_every_format(
    carrier_a: tuple[TestClient, Service], tmp_path: Path
) -> None:
    c, svc = carrier_a
    expected: set[tuple[object, ...]] | None = None
    for fmt in FORMATS:
        r = export(c, svc, fmt)
        feed = parse_feed(r.content, fmt)[0]
        expected = expected or entries(feed)
        assert entries(feed) == expected
        b = service(tmp_path / f"b-{fmt}")
        with client_of(b, carrier_name="carrier-b", intel_key=KEY) as cb:
            got = import_(cb, b, r.content, integrity(r))
            assert got.status_code == 200, got.text
            body = got.json()
            assert (body["format"], body["source"], body["declared_source"]) == (
                fmt,
                "carrier-a",
                "carrier-a",
            )
            assert (body["new"], body["updated"], body["unchanged"]) == (len(expected), 0, 0)
            assert body["accepted"] == [] and body["warnings"] == []
            assert body["feed_digest"] == r.headers["X-Tollguard-Digest"]
            rows = candidates(cb, b)
            assert as_entries(rows) == expected
            assert {row["status"] for row in rows} == {"candidate"}
            assert {row["source"] for row in rows} == {"carrier-a"}
            # importing the same feed again changes nothing
            again = import_(cb, b, r.content, integrity(r)).json()
            assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, len(expected))
            assert candidates(cb, b) == rows
            audit = cb.get("/v1/audit", headers=b.h("analyst")).json()
            imports = [e for e in audit if e["action"] == "intel.import"]
            assert len(imports) == 2 and imports[0]["actor"] == "analyst:analyst"
            # nothing is enforced before review
            d = authorize(cb, b, "x1", US, source_ip="203.0.113.9")
            assert d["decision"] == "allow"


def test_a_changed_unsigned_or_hostile_feed_is_refused_and_changes_nothing(
    carrier_a: tuple[TestClient, Service], tmp_path: Path
) -> None:
    c, svc = carrier_a
    r = export(c, svc, "csv")
    body = r.content
    tampered = body.replace(b"203.0.113.9", b"203.0.113.8")
    b = service(tmp_path / "b")
    with client_of(b, intel_key=KEY) as cb:
        for data, headers, params, reason in (
            (tampered, integrity(r), {}, "the file was changed or damaged"),
            (body, {"X-Tollguard-Digest": r.headers["X-Tollguard-Digest"]}, {}, "no signature"),
            (body, {**integrity(r), "X-Tollguard-Signature": "hmac-sha256 00"}, {}, "wrong key"),
            (body, {}, {"allow_unsigned": "true"}, "no signature"),
        ):
            got = import_(cb, b, data, headers, **params)
            assert got.status_code == 422, got.text
            assert reason in got.json()["detail"] and "nothing imported" in got.json()["detail"]
        assert import_(cb, b, body, integrity(r), source="bad name!").status_code == 422
    with client_of(b) as cb:  # no shared key: a digest is enough, and required
        assert "no digest" in import_(cb, b, body, {}).json()["detail"]
        hostile = (
            b'{"Event": ' * 40 + b"{}" + b"}" * 40,  # nested too deep
            b'{"type": "bundle", "type": "bundle"}',  # a duplicate key
            body.replace(b"carrier-a", b"carrier-a\x07"),  # a control character
            body.replace(b"203.0.113.9", b"10.0.0.1"),  # a private address to block
            body.replace(b"ip,203.0.113.9,,,2026", b"ip,203.0.113.9,,,1970"),  # a silly time
            b"\xff\xfe not utf-8",
        )
        for data in hostile:
            digest = hashlib.sha256(data).hexdigest()
            got = import_(cb, b, data, {"X-Tollguard-Digest": digest})
            assert got.status_code == 422, (data[:40], got.text)
        # a mislabelled format is refused too
        sha = {"X-Tollguard-Digest": r.headers["X-Tollguard-Digest"]}
        assert import_(cb, b, body, sha, format="stix").status_code == 422
        assert candidates(cb, b) == []
        audit = cb.get("/v1/audit", headers=b.h("analyst")).json()
        assert not any(e["action"].startswith("intel.") for e in audit)
        # the intact feed goes in; a signature nobody can check is said to be unchecked
        ok = import_(cb, b, body, integrity(r))
        assert ok.status_code == 200 and "not checked" in ok.json()["warnings"][0]


# -- review -------------------------------------------------------------------------------------
def test_accepting_a_shared_address_blocks_it_in_the_live_engine_at_once(
    carrier_a: tuple[TestClient, Service], tmp_path: Path
) -> None:
    c, svc = carrier_a
    r = export(c, svc, "stix")
    b = service(tmp_path / "b")
    with client_of(b, intel_key=KEY) as cb:
        a = b.h("analyst")
        assert import_(cb, b, r.content, integrity(r)).status_code == 200
        assert authorize(cb, b, "x1", US, source_ip="203.0.113.9")["decision"] == "allow"
        ok = cb.post(
            "/v1/intel/candidates/ip:203.0.113.9/accept",
            json={"reason": "seen by A, scanning us too"},
            headers=a,
        )
        assert ok.status_code == 200, ok.text
        assert (ok.json()["key"], ok.json()["status"]) == ("ip:203.0.113.9", "accepted")
        d = authorize(cb, b, "x2", US, source_ip="203.0.113.9")
        assert (d["decision"], d["reason"]) == ("deny", "ip_blocked")
        assert "203.0.113.9" in b.switch.lists[-1].blocked_ips
        (block,) = cb.get("/v1/controls", params={"kind": "ip_block"}, headers=a).json()
        assert block["evidence"]["source"] == "intel" and block["created_by"] == "analyst:analyst"
        assert block["expires_at"] is not None
        # a range, by candidate id: on the restricted list the engine uses
        rows = {row["key"]: row for row in candidates(cb, b, "candidate")}
        cid = rows["range:88213"]["id"]
        ok = cb.post(f"/v1/intel/candidates/{cid}/accept", json={"reason": "agree"}, headers=a)
        assert ok.status_code == 200, ok.text
        hit = cb.app.state.runtime.live.engine.restricted.match("+882131234567", None, None)  # type: ignore[attr-defined]
        assert hit is not None and hit.value == "88213" and not hit.restrictable
        listed = cb.get("/v1/restricted-destinations", headers=a).json()
        assert any(e["value"] == "88213" and e["source"] == "carrier" for e in listed)
        # rejected: nothing applied; reviews are final; unknown references are told apart
        no = cb.post(
            "/v1/intel/candidates/country:us/reject", json={"reason": "too broad"}, headers=a
        )
        assert no.status_code == 200 and no.json()["status"] == "rejected"
        again = cb.post(f"/v1/intel/candidates/{cid}/reject", json={"reason": "oops"}, headers=a)
        assert again.status_code == 409
        missing = cb.post("/v1/intel/candidates/999/accept", json={"reason": "?!?"}, headers=a)
        assert missing.status_code == 404
        nonsense = cb.post("/v1/intel/candidates/XX/accept", json={"reason": "?!?"}, headers=a)
        assert nonsense.status_code == 422
        assert {x["key"] for x in candidates(cb, b, "accepted")} == {
            "ip:203.0.113.9",
            "range:88213",
        }
        assert [x["key"] for x in candidates(cb, b, "rejected")] == ["country:US"]
        audit = cb.get("/v1/audit", headers=a).json()
        kinds = ("intel.accept", "intel.reject")
        reviews = [(e["action"], e["subject"]) for e in audit if e["action"] in kinds]
        assert reviews == [
            ("intel.accept", "ip:203.0.113.9"),
            ("intel.accept", "range:88213"),
            ("intel.reject", "country:US"),
        ]
        # the portal list: accepted destinations only (no addresses), with their carrier
        portal = cb.get("/v1/intel/destinations", headers=a).json()
        assert [(p["kind"], p["value"], p["carriers"]) for p in portal] == [
            ("range", "88213", ["carrier-a"])
        ]
    # the engine keeps them after a restart (they are in the store)
    with client_of(b) as cb:
        d = authorize(cb, b, "x3", US, source_ip="203.0.113.9")
        assert (d["decision"], d["reason"]) == ("deny", "ip_blocked")


def test_a_trusted_carrier_is_accepted_by_policy_and_enforced_at_once(
    carrier_a: tuple[TestClient, Service], tmp_path: Path
) -> None:
    c, svc = carrier_a
    r = export(c, svc, "misp")
    b = service(tmp_path / "b")
    policy = ImportPolicy(frozenset({"carrier-a"}), block_hours=24)
    with client_of(b, intel_key=KEY, intel_policy=policy) as cb:
        got = import_(cb, b, r.content, integrity(r))
        assert got.status_code == 200, got.text
        assert "ip:203.0.113.9" in got.json()["accepted"]
        d = authorize(cb, b, "x1", US, source_ip="203.0.113.9")
        assert (d["decision"], d["reason"]) == ("deny", "ip_blocked")
        audit = cb.get("/v1/audit", headers=b.h("analyst")).json()
        assert any(
            e["action"] == "intel.accept" and e["actor"] == "policy:auto-accept" for e in audit
        )
        assert candidates(cb, b, "candidate") == []


# -- attack times -------------------------------------------------------------------------------
def test_attack_hours_own_and_merged_with_other_carriers(
    carrier_a: tuple[TestClient, Service],
) -> None:
    c, svc = carrier_a
    a = svc.h("analyst")
    own = c.get("/v1/intel/hours", headers=a).json()
    assert own["timezone"] == "Asia/Tokyo" and own["sources"] == ["carrier-a"]
    assert own["days"][0] == "mon" and len(own["counts"]) == 8
    assert all(len(row) == 24 for row in own["counts"])
    # the incidents (a customer on a day) started on Monday at 14:00 JST
    assert own["total"] >= 1 and own["counts"][0][14] == own["total"]
    assert own["busiest"] == [{"day": "mon", "hour": 14, "attacks": own["total"]}]
    feeds = [export(c, svc, fmt).text for fmt in ("csv", "stix")]
    merged = c.post("/v1/intel/hours/merge", json={"feeds": feeds}, headers=a)
    assert merged.status_code == 200, merged.text
    m = merged.json()
    assert m["sources"] == ["carrier-a"] * 3 and m["total"] == 3 * own["total"]
    only = c.post(
        "/v1/intel/hours/merge", json={"feeds": feeds[:1], "include_own": False}, headers=a
    ).json()
    assert only["counts"] == own["counts"]
    bad = c.post("/v1/intel/hours/merge", json={"feeds": ["not a feed"]}, headers=a)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("feeds[0]")
    other_zone = c.post(
        "/v1/intel/hours/merge", params={"timezone": "UTC"}, json={"feeds": feeds}, headers=a
    )
    assert other_zone.status_code == 422 and "cannot merge" in other_zone.json()["detail"]


# -- roles --------------------------------------------------------------------------------------
def test_intel_routes_are_for_analysts_and_admins_only(
    carrier_a: tuple[TestClient, Service],
) -> None:
    c, svc = carrier_a
    spec = c.get("/openapi.json").json()
    routes = [
        (method.upper(), path.replace("{value}", "1"))
        for path, methods in spec["paths"].items()
        if path.startswith("/v1/intel/")
        for method in methods
    ]
    assert len(routes) == 8
    for method, url in routes:
        assert c.request(method, url, json={}).status_code == 401, url
        assert c.request(method, url, json={}, headers=svc.h("switch")).status_code == 403, url
        for role in ("analyst", "admin"):
            r = c.request(method, url, json={}, headers=svc.h(role))
            assert r.status_code not in (401, 403), (role, url)
    for tag_ops in spec["paths"].values():
        for op in tag_ops.values():
            if op.get("operationId", "").startswith("intel"):
                assert op["tags"] == ["intel"]
