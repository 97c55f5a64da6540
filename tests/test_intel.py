"""Inter-carrier intelligence: aggregation, privacy of exports, the three formats, integrity."""

from __future__ import annotations

import csv
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stix2
from pymisp import MISPEvent

from tollguard.adapters.intel import csvfeed, misp, stix
from tollguard.adapters.intel._common import IntegrityError, hmac_hex, sha256_hex, verify
from tollguard.adapters.intel.service import parse_feed, render_feed, write_export
from tollguard.adapters.intel.sources import collect_replay
from tollguard.app.replay import replay_files, write_jsonl
from tollguard.domain.intel import (
    DAY_KINDS,
    AttackerSighting,
    AttackTimeHistogram,
    DestinationAction,
    ExportOptions,
    FraudCall,
    IndicatorKind,
    IntelAggregator,
    IntelError,
    IntelFeed,
    merge_feeds,
    range_prefix,
)

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
FORMATS = ("misp", "stix", "csv")
NOW = datetime(2026, 11, 28, tzinfo=UTC).timestamp()
# 2026-11-21 01:12 JST is a Saturday; 2026-11-23 (Labour Thanksgiving Day) a Monday holiday.
SAT_0112 = datetime(2026, 11, 20, 16, 12, 8, tzinfo=UTC).timestamp()
HOLIDAY_2230 = datetime(2026, 11, 23, 13, 30, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def replay_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample carrier's replay output (one PBX attack on S0003)."""
    out = tmp_path_factory.mktemp("replay") / "out.jsonl"
    write_jsonl(
        replay_files(SAMPLES / "subscribers.csv", SAMPLES / "cdrs.csv", SAMPLES / "sip_events.csv"),
        out,
    )
    return out


def sample_feed(replay_out: Path, options: ExportOptions | None = None) -> IntelFeed:
    agg = IntelAggregator(options)
    collect_replay(agg, replay_out, SAMPLES / "cdrs.csv")
    return agg.feed("carrier-a", generated_at=NOW)


# -- aggregation ------------------------------------------------------------------------------


def test_range_withholds_digits_and_full_numbers_need_an_explicit_option() -> None:
    assert range_prefix("+882351234567", 7) == "8823512"
    assert range_prefix("+5352345", 7) == "5352"  # 3 digits always withheld
    assert range_prefix("+1234", 7) == "1"
    assert range_prefix("+123", 7) is None  # too short to share without revealing it
    assert range_prefix("+882351234567", 7, full_numbers=True) == "882351234567"


def test_incidents_are_victims_per_day_and_the_histogram_counts_attack_starts() -> None:
    agg = IntelAggregator()
    for i in range(3):  # one victim, three calls in one night: one incident
        agg.add_call(FraudCall(SAT_0112 + 60 * i, "S1", "+5352814736", "CU", 53, 396.0))
    agg.add_call(FraudCall(HOLIDAY_2230, "S2", "+5352814999", "CU", 53, 396.0))
    agg.add_destination(DestinationAction(HOLIDAY_2230 + 5, "S2", country="SO"))
    feed = agg.feed("carrier-a", generated_at=NOW)
    by_key = {d.key: d for d in feed.destinations}
    cu = by_key["country:CU"]
    assert (cu.incidents, cu.calls, cu.cost_band) == (2, 4, "high")
    assert (cu.first_seen, cu.last_seen) == (SAT_0112, HOLIDAY_2230)
    assert by_key["range:5352814"].incidents == 2
    assert (by_key["country:SO"].incidents, by_key["country:SO"].calls) == (1, 0)
    hist = feed.histogram
    assert hist.total == 2
    assert hist.counts[DAY_KINDS.index("sat")][1] == 1
    assert hist.counts[DAY_KINDS.index("holiday")][22] == 1  # not counted as a Monday
    assert hist.counts[DAY_KINDS.index("mon")][22] == 0


def test_merging_feeds_sums_counts_widens_periods_and_names_sources() -> None:
    a, b = IntelAggregator(), IntelAggregator()
    a.add_call(FraudCall(SAT_0112, "S1", "+5352814736", "CU", 53, 120.0))
    b.add_call(FraudCall(HOLIDAY_2230, "X9", "+5352814111", "CU", 53, 900.0))
    b.add_attacker(AttackerSighting(HOLIDAY_2230, "198.51.100.7", "X9"))
    fa = a.feed("carrier-a", generated_at=NOW)
    fb = b.feed("carrier-b", generated_at=NOW)
    merged = {(m.kind, m.value): m for m in merge_feeds([fa, fb])}
    cu = merged[(IndicatorKind.COUNTRY, "CU")]
    assert cu.sources == ("carrier-a", "carrier-b")
    assert (cu.incidents, cu.calls, cu.cost_band) == (2, 2, "premium")
    assert (cu.first_seen, cu.last_seen) == (SAT_0112, HOLIDAY_2230)
    assert merged[(IndicatorKind.IP, "198.51.100.7")].sources == ("carrier-b",)
    assert fa.histogram.merge(fb.histogram).total == 2
    with pytest.raises(IntelError, match="cannot merge"):
        fa.histogram.merge(AttackTimeHistogram("Europe/London"))


def test_busiest_slots_cover_the_requested_share() -> None:
    rows = [[0] * 24 for _ in DAY_KINDS]
    rows[5][2], rows[6][3], rows[0][10] = 6, 3, 1
    hist = AttackTimeHistogram("Asia/Tokyo", tuple(tuple(r) for r in rows))
    assert hist.busiest(0.8) == [("sat", 2, 6), ("sun", 3, 3)]
    assert hist.busiest(1.0)[-1] == ("mon", 10, 1)


def test_private_and_nat_addresses_are_never_shared() -> None:
    agg = IntelAggregator()
    for ip in ("10.1.2.3", "100.64.0.1", "127.0.0.1", "192.168.1.1", "fd00::1"):
        with pytest.raises(IntelError, match="not a public address"):
            agg.add_attacker(AttackerSighting(NOW, ip))


# -- what leaves the carrier -------------------------------------------------------------------


def _identities() -> tuple[set[str], set[str], set[str]]:
    subs: set[str] = set()
    callers: set[str] = set()
    callees: set[str] = set()
    with (SAMPLES / "subscribers.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            subs.add(row["subscriber_id"])
            callers.update(n.lstrip("+") for n in row["numbers"].split(";") if n)
    with (SAMPLES / "cdrs.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            callers.add(row["caller"].lstrip("+"))
            callee = row["callee"]
            callees.add(callee)
            if callee.startswith("010"):  # the international number as E.164 digits
                callees.add(callee[3:])
    return subs, callers, callees


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_export_reveals_no_subscriber_caller_or_full_callee(
    replay_out: Path, fmt: str
) -> None:
    subs, callers, callees = _identities()
    feed = sample_feed(replay_out)
    text = render_feed(feed, fmt).decode("utf-8")
    assert {d.value for d in feed.destinations} >= {"5352814", "CU"}  # the attack is in it
    leaks = [x for x in sorted(subs | callers | callees) if x in text]
    assert leaks == []
    # the check is not vacuous: with full numbers explicitly enabled the callees do appear
    full = render_feed(sample_feed(replay_out, ExportOptions(full_numbers=True)), fmt).decode()
    assert "5352814736" in full


# -- the three formats -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_the_same_feed(replay_out: Path, fmt: str) -> None:
    feed = sample_feed(replay_out)
    assert feed.destinations and feed.attackers and feed.histogram.total == 1
    back, detected = parse_feed(render_feed(feed, fmt))
    assert detected == fmt
    assert back == feed
    assert render_feed(feed, fmt) == render_feed(feed, fmt)  # deterministic


def test_misp_event_loads_with_pymisp(replay_out: Path, tmp_path: Path) -> None:
    feed = sample_feed(replay_out)
    path = tmp_path / "feed.misp.json"
    path.write_bytes(misp.render(feed))
    event = MISPEvent()
    event.load_file(str(path))
    by_type: dict[str, list[str]] = {}
    for attr in event.attributes:
        by_type.setdefault(attr.type, []).append(attr.value)
    assert "+5352814" in by_type["phone-number"]
    assert by_type["ip-src"] == ["91.243.44.18"]
    assert {t.name for t in event.tags} >= {"tlp:amber", 'tollguard:source="carrier-a"'}
    ip = next(a for a in event.attributes if a.type == "ip-src")
    assert ip.to_ids and ip.first_seen == datetime(2026, 11, 20, 16, 14, 2, tzinfo=UTC)


def test_stix_bundle_parses_and_validates_with_stix2(replay_out: Path) -> None:
    feed = sample_feed(replay_out)
    bundle = stix2.parse(stix.render(feed).decode(), allow_custom=False)
    kinds = [o.type for o in bundle.objects]
    assert kinds.count("indicator") == len(feed.destinations) + len(feed.attackers)
    assert kinds.count("sighting") == kinds.count("indicator")
    ip = next(o for o in bundle.objects if o.type == "indicator" and o.pattern_type == "stix")
    assert ip.pattern == "[ipv4-addr:value = '91.243.44.18']"
    assert all(stix2.TLP_AMBER.id in o.object_marking_refs for o in bundle.objects[1:])
    # and the validation is real: a broken pattern does not parse
    doc = json.loads(stix.render(feed))
    next(o for o in doc["objects"] if o["type"] == "indicator")["pattern_type"] = "stix"
    with pytest.raises(IntelError, match="does not validate"):
        stix.parse(json.dumps(doc).encode())


def test_rendering_needs_no_network(replay_out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access while building a feed")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    feed = sample_feed(replay_out)
    for fmt in FORMATS:
        assert parse_feed(render_feed(feed, fmt))[0] == feed


def test_foreign_misp_and_stix_addresses_are_read() -> None:
    event = MISPEvent()
    event.info = "other tool"
    event.date = "2026-11-20"  # type: ignore[assignment]  # MISPEvent parses strings
    event.add_attribute("ip-src", "198.51.100.9")
    event.add_attribute("domain", "example.org")  # not used by tollguard, ignored
    feed = misp.parse(event.to_json().encode())
    assert [(a.ip, a.incidents) for a in feed.attackers] == [("198.51.100.9", 1)]
    ind = stix2.Indicator(
        pattern="[ipv4-addr:value = '198.51.100.10']",
        pattern_type="stix",
        valid_from="2026-11-20T00:00:00Z",
    )
    feed = stix.parse(stix2.Bundle(ind).serialize().encode())
    assert [a.ip for a in feed.attackers] == ["198.51.100.10"]


# -- integrity -------------------------------------------------------------------------------


def test_export_writes_digest_and_signature_that_verify(replay_out: Path, tmp_path: Path) -> None:
    key = b"shared-secret-between-carriers"
    result = write_export(sample_feed(replay_out), "csv", tmp_path / "f.csv", key)
    data = (tmp_path / "f.csv").read_bytes()
    digest = (tmp_path / "f.csv.sha256").read_text()
    sig = (tmp_path / "f.csv.sig").read_text()
    assert digest == f"{sha256_hex(data)}  f.csv\n" and result.digest == sha256_hex(data)
    assert sig == f"hmac-sha256 {hmac_hex(data, key)}\n"
    assert verify(data, digest=digest, signature=sig, key=key) == result.digest
    tampered = data.replace(b"CU", b"CV")
    with pytest.raises(IntegrityError, match="changed or damaged"):
        verify(tampered, digest=digest, signature=sig, key=key)
    with pytest.raises(IntegrityError, match="signature does not match"):
        verify(tampered, digest=None, signature=sig, key=key)
    with pytest.raises(IntegrityError, match="wrong key"):
        verify(data, digest=digest, signature=sig, key=b"another-key-of-16-bytes")
    with pytest.raises(IntegrityError, match="no signature"):
        verify(data, digest=digest, signature=None, key=key)
    with pytest.raises(IntegrityError, match="no digest file"):
        verify(data, digest=None, signature=None, key=None)
    assert verify(data, digest=None, signature=None, key=None, require_digest=False)


def test_csv_feed_layout_is_documented_text(replay_out: Path) -> None:
    text = csvfeed.render(sample_feed(replay_out)).decode()
    lines = text.splitlines()
    assert lines[0] == "# tollguard-intel 1" and "# tlp: amber" in lines
    assert "range,5352814,CU,53,2026-11-20T16:12:08Z,2026-11-20T16:12:08Z,1,1,high" in lines
    assert "hour,sat:01,,,,,1,," in lines
