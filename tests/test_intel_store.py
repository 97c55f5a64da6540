"""Importing other carriers' feeds: candidates, idempotence, review, policy, hostile files, CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollguard.adapters.intel._common import MAX_FEED_BYTES, digest_line, signature_line
from tollguard.adapters.intel.service import (
    ImportPolicy,
    import_feed,
    portal_destinations,
    render_feed,
    restricted_list,
    review,
)
from tollguard.adapters.intel.sources import collect_store
from tollguard.adapters.store import Store, StoreError
from tollguard.cli import _register, app
from tollguard.domain.intel import (
    AttackerSighting,
    FraudCall,
    IntelAggregator,
    IntelError,
    IntelFeed,
)

AT = datetime(2026, 11, 28, 9, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 16, 12, 8, tzinfo=UTC).timestamp()
T2 = datetime(2026, 11, 21, 17, 0, tzinfo=UTC).timestamp()
FORMATS = ("misp", "stix", "csv")
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def make_feed(source: str = "carrier-b", calls: int = 2, t: float = T1) -> IntelFeed:
    agg = IntelAggregator()
    for i in range(calls):
        agg.add_call(FraudCall(t + 60 * i, "V1", "+5352814736", "CU", 53, 396.0, "91.243.44.18"))
    agg.add_call(FraudCall(t, "V2", "+88235123456", None, 882, 950.0))
    agg.add_attacker(AttackerSighting(t, "91.243.44.18", "V1"))
    return agg.feed(source, generated_at=t + 86400)


def do_import(store: Store, data: bytes, **kw: object) -> object:
    args: dict[str, object] = {"source": "carrier-b", "at": AT, "by": "analyst"}
    args["digest"] = digest_line(data, "feed")
    args.update(kw)
    return import_feed(store, data, **args)  # type: ignore[arg-type]


def snapshot(store: Store) -> tuple[int, ...]:
    return tuple(
        store.count(t)
        for t in ("intel_candidates", "audit_log", "restricted_destinations", "controls")
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_into_a_fresh_store_gives_the_feed_as_candidates(
    store: Store, fmt: str
) -> None:
    feed = make_feed()
    result = do_import(store, render_feed(feed, fmt))
    got = {
        (c.kind, c.value): (
            c.country,
            c.first_seen.timestamp(),
            c.last_seen.timestamp(),
            c.incidents,
            c.calls,
            c.cost_band,
            c.source,
            c.status,
        )
        for c in store.list_intel_candidates()
    }
    want = {
        (d.kind.value, d.value): (
            d.country,
            d.first_seen,
            d.last_seen,
            d.incidents,
            d.calls,
            d.cost_band,
            "carrier-b",
            "candidate",
        )
        for d in feed.destinations
    }
    for a in feed.attackers:
        want[("ip", a.ip)] = (
            None,
            a.first_seen,
            a.last_seen,
            a.incidents,
            a.calls,
            None,
            "carrier-b",
            "candidate",
        )
    assert got == want
    assert result.counts.new == len(want)  # type: ignore[attr-defined]
    assert store.count("restricted_destinations") == 0 and store.count("controls") == 0
    audit = store.list_audit(subject="feed:carrier-b")
    assert [e.action for e in audit] == ["intel.import"]
    assert audit[0].evidence["format"] == fmt  # type: ignore[index]


def test_reimporting_is_idempotent_and_a_newer_feed_widens_without_changing_status(
    store: Store,
) -> None:
    data = render_feed(make_feed(), "csv")
    do_import(store, data)
    before = store.list_intel_candidates()
    again = do_import(store, data)
    assert again.counts.new == again.counts.updated == 0  # type: ignore[attr-defined]
    assert store.list_intel_candidates() == before
    review(store, "country:CU", accept=False, by="alice", reason="too broad", at=AT)
    newer = render_feed(make_feed(calls=5, t=T2), "stix")
    result = do_import(store, newer)
    assert result.counts.updated == 4 and result.counts.new == 0  # type: ignore[attr-defined]
    cu = store.list_intel_candidates(kind="country", value="CU")[0]
    assert cu.status == "rejected"  # a rejection survives later feeds
    assert (cu.first_seen.timestamp(), cu.calls, cu.incidents) == (T1, 5, 1)
    assert cu.last_seen.timestamp() == T2 + 240
    assert store.verify_audit_chain() == (True, None)


def test_accept_and_reject_apply_and_audit_in_one_go(store: Store) -> None:
    do_import(store, render_feed(make_feed(), "misp"))
    do_import(store, render_feed(make_feed("carrier-c"), "csv"), source="carrier-c")
    store.put_restricted_destination(
        "country",
        "CU",
        criteria={"no_government_traffic": True},
        provenance="own list",
        added_by="ops",
        at=AT,
    )
    done = review(store, "range:5352814", accept=True, by="alice", reason="two carriers", at=AT)
    assert sorted(c.source for c in done) == ["carrier-b", "carrier-c"]
    entry = {d.value: d for d in store.list_restricted_destinations(kind="range")}["5352814"]
    assert entry.criteria["intel"]["carriers"] == ["carrier-b", "carrier-c"]
    assert entry.provenance.startswith("shared by carrier-b, carrier-c; accepted by alice")
    review(store, "country:CU", accept=True, by="alice", reason="agree", at=AT)
    cu = store.list_restricted_destinations(kind="country")[0]
    assert cu.provenance == "own list"  # the carrier's own entry keeps its criteria
    ip_id = store.list_intel_candidates(kind="ip", source="carrier-b")[0].id
    review(store, str(ip_id), accept=True, by="bob", reason="attacker", at=AT, block_hours=24)
    (block,) = store.active_controls(AT, kind="ip_block")
    assert block.subject == "91.243.44.18" and block.expires_at == AT + timedelta(hours=24)
    assert block.evidence["source"] == "intel" and block.evidence["carriers"] == ["carrier-b"]
    review(store, "ip:91.243.44.18", accept=True, by="bob", reason="also C", at=AT)
    assert len(store.list_controls(kind="ip_block")) == 1  # already blocked: not twice
    with pytest.raises(StoreError, match="already accepted"):
        review(store, str(ip_id), accept=False, by="bob", reason="changed mind", at=AT)
    with pytest.raises(StoreError, match="no candidate under review"):
        review(store, "range:999", accept=True, by="bob", reason="?", at=AT)
    actions = [e.action for e in store.list_audit()]
    assert actions.count("intel.accept") == 6 and "control.create" in actions
    assert actions.count("destination_list.add") == 2  # CU by ops, the range by alice
    assert store.verify_audit_chain() == (True, None)
    # the engine's list gains the accepted range, not restrictable on shared evidence alone
    engine_list = restricted_list(store)
    hit = engine_list.match("+5352814736", "CU", "mobile")
    assert hit is not None and hit.key == "range:5352814" and not hit.restrictable
    # the store's own export leaves intel-derived blocks out (never re-shared as own)
    agg = IntelAggregator()
    assert collect_store(agg, store) == 0
    store.create_control("ip_block", "198.51.100.3", reason="own", created_by="ops", at=AT)
    assert collect_store(agg, store) == 1
    # the portal list: own feed merged with accepted shared destinations, no addresses
    portal = {(m.kind.value, m.value): m for m in portal_destinations(store, [make_feed("own")])}
    assert portal[("range", "5352814")].sources == ("carrier-b", "carrier-c", "own")
    assert all(kind != "ip" for kind, _ in portal)


def test_auto_acceptance_only_by_policy(store: Store) -> None:
    policy = ImportPolicy(frozenset({"carrier-c"}), min_incidents=1)
    do_import(store, render_feed(make_feed(), "csv"), policy=policy)
    assert store.list_intel_candidates(status="accepted") == []
    result = do_import(
        store, render_feed(make_feed("carrier-c"), "csv"), source="carrier-c", policy=policy
    )
    assert len(result.accepted) == 4  # type: ignore[attr-defined]
    assert {c.source for c in store.list_intel_candidates(status="accepted")} == {"carrier-c"}
    assert store.active_controls(AT, kind="ip_block")[0].created_by == "policy:auto-accept"
    strict = ImportPolicy(frozenset({"carrier-d"}), min_incidents=2)
    result = do_import(
        store, render_feed(make_feed("carrier-d"), "csv"), source="carrier-d", policy=strict
    )
    assert result.accepted == ()  # type: ignore[attr-defined]


# -- hostile and malformed files -------------------------------------------------------------


def _csv() -> str:
    return render_feed(make_feed(), "csv").decode()


def _misp() -> dict[str, object]:
    return json.loads(render_feed(make_feed(), "misp"))  # type: ignore[no-any-return]


def _misp_with(**changes: object) -> bytes:
    doc = _misp()
    attr = next(a for a in doc["Event"]["Attribute"] if a["type"] == "ip-src")  # type: ignore[index]
    attr.update(changes)
    return json.dumps(doc).encode()


HOSTILE = {
    "not utf-8": (b"# tollguard-intel 1\n\xff\xfe", "not UTF-8"),
    "nul byte": (_csv().replace("CU,CU", "C\x00,CU").encode(), "control character"),
    "fullwidth digits": (_csv().replace("5352814", "５３５２８１４").encode(), "not ASCII"),
    "private address": (_csv().replace("91.243.44.18", "10.0.0.1").encode(), "public address"),
    "negative count": (_csv().replace(",2,high", ",-2,high").encode(), "not a count"),
    "huge count": (_csv().replace(",2,high", ",99999999999,high").encode(), "not a count"),
    "year 9999": (_csv().replace("2026-11-20T16:12:08Z", "9999-01-01T00:00:00Z").encode(), "2100"),
    "unknown band": (_csv().replace(",high", ",cheap").encode(), "cost_band"),
    "duplicate entry": ((_csv() + _csv().splitlines()[8] + "\n").encode(), "listed twice"),
    "wrong columns": (_csv().replace("cost_band", "band").encode(), "columns must be"),
    "deep json": (b"[" * 5000 + b"]" * 5000, "nested deeper"),
    "deep but parseable": (b'{"Event":' + b"[" * 20 + b"]" * 20 + b"}", "nested deeper"),
    "huge number": (b'{"Event": {"Attribute": [], "x": 1' + b"0" * 400 + b"}}", "15 digits"),
    "NaN": (b'{"type": "bundle", "objects": [], "x": NaN}', "not a JSON number"),
    "duplicate key": (b'{"type": "bundle", "type": "bundle", "objects": []}', "appears twice"),
    "not a feed": (b'{"hello": "world"}', "neither"),
    "list as value": (_misp_with(value=["91.243.44.18"]), "must be text"),
    "ip as country": (_misp_with(type="text", comment="kind=country"), "ISO 3166"),
    "bad stix": (
        b'{"type": "bundle", "id": "bundle--x", "objects": [{"type": "indicator"}]}',
        "validate",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_file_is_rejected_with_a_reason_and_changes_nothing(
    store: Store, name: str
) -> None:
    do_import(store, render_feed(make_feed("carrier-z"), "csv"), source="carrier-z")
    before = snapshot(store)
    data, reason = HOSTILE[name]
    with pytest.raises(IntelError, match=reason):
        do_import(store, data)
    assert snapshot(store) == before


def test_oversized_tampered_and_unsigned_files_are_rejected(store: Store) -> None:
    data = render_feed(make_feed(), "csv")
    key = b"0123456789abcdef-shared"
    with pytest.raises(IntelError, match="byte limit"):
        do_import(store, b"#" * (MAX_FEED_BYTES + 1), digest=None, require_digest=False)
    with pytest.raises(IntelError, match="changed or damaged"):
        do_import(store, data.replace(b"CU", b"CV"), digest=digest_line(data, "f"))
    with pytest.raises(IntelError, match="no digest file"):
        do_import(store, data, digest=None)
    with pytest.raises(IntelError, match="wrong key"):
        do_import(store, data, signature=signature_line(data, b"another-key-0123456"), key=key)
    assert snapshot(store) == (0, 0, 0, 0)
    do_import(store, data, signature=signature_line(data, key), key=key)
    assert store.count("intel_candidates") == 4


def test_a_feed_of_another_time_zone_is_still_imported(store: Store) -> None:
    feed = make_feed()
    feed = replace(feed, histogram=replace(feed.histogram, timezone="Europe/Paris"))
    do_import(store, render_feed(feed, "stix"))
    assert store.count("intel_candidates") == 4


# -- command line ------------------------------------------------------------------------------


def test_cli_export_import_review_hours(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()

    def run(*args: object) -> tuple[int, str]:
        r = runner.invoke(app, [str(a) for a in args])
        return r.exit_code, r.output

    out, key, feed = tmp_path / "out.jsonl", tmp_path / "key", tmp_path / "a.stix.json"
    db = tmp_path / "b.sqlite"
    cdrs = SAMPLES / "cdrs.csv"
    code, text = run(
        "replay",
        *("--subscribers", SAMPLES / "subscribers.csv", "--cdrs", cdrs),
        *("--sip-events", SAMPLES / "sip_events.csv", "--out", out),
    )
    assert code == 0, text
    key.write_text("a-shared-key-of-enough-length\n")
    code, text = run(
        *("intel", "export", "--format", "stix", "--out", feed, "--carrier", "carrier-a"),
        *("--replay", out, "--cdrs", cdrs, "--key-file", key),
    )
    assert code == 0, text
    assert (tmp_path / "a.stix.json.sha256").exists() and (tmp_path / "a.stix.json.sig").exists()
    imp = ("intel", "import", feed, "--from", "carrier-a", "--db", db, "--key-file", key)
    code, text = run(*imp)
    assert code == 0 and "7 new" in text, text
    code, text = run(
        *("intel", "review", "accept", "range:5352814", "--db", db),
        *("--by", "alice", "--reason", "seen by A"),
    )
    assert code == 0 and "restricted destination list" in text, text
    code, text = run("intel", "review", "list", "--db", db, "--status", "accepted")
    assert "1 intel candidates" in text
    code, text = run("intel", "hours", feed)
    assert code == 0 and "sat 01h (1)" in text, text
    feed.write_bytes(feed.read_bytes().replace(b"91.243.44.18", b"91.243.44.19"))
    code, text = run(*imp)
    assert code == 2 and "nothing imported" in text
