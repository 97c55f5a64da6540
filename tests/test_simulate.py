"""Tests of ``tollguard simulate``: file contract, labels, determinism, bounded memory."""

from __future__ import annotations

import csv
import functools
import ipaddress
import json
import random
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import iptocc
import phonenumbers
import pytest
from typer.testing import CliRunner

from tollguard.app.simulate import SimulationConfig, catalog, simulate
from tollguard.app.simulate.model import JST, Period, build_customer
from tollguard.app.simulate.numbers import dialled, foreign_number, jp_geographic, template
from tollguard.app.simulate.plan import INCIDENT_KINDS, LOOKALIKE_KINDS
from tollguard.app.simulate.sink import SortedSpill, sort_key

FILES = (
    "subscribers.csv",
    "cdrs.csv",
    "sip_events.csv",
    "truth/incidents.csv",
    "truth/fraud_calls.csv",
    "truth/lookalikes.csv",
    "truth/meta.json",
)
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00$")
CALLEE_RE = re.compile(r"^(\+[1-9]\d{5,14}|0[1-9]\d{8,9}|010[1-9]\d{5,14})$")
SMALL = SimulationConfig(subscribers=300, days=14, seed=11)


@functools.cache
def _read_cached(path: Path, mtime: float) -> tuple[dict[str, str], ...]:
    with path.open(encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def _read(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file (cached per file version; callers must not modify the rows)."""
    return list(_read_cached(path, path.stat().st_mtime))


def _t(text: str) -> datetime:
    assert TIME_RE.match(text), text
    return datetime.fromisoformat(text)


def _e164(callee: str) -> str:
    if callee.startswith("+"):
        return callee
    if callee.startswith("010"):
        return "+" + callee[3:]
    return "+81" + callee[1:]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "small"
    simulate(SMALL, out)
    return out


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "default"
    simulate(SimulationConfig(subscribers=3000, days=42, seed=5), out)
    return out


# --- determinism and bounded memory --------------------------------------------------------------


def test_same_seed_gives_identical_bytes_whatever_the_chunk_size(
    small: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    summary = simulate(SimulationConfig(subscribers=300, days=14, seed=11, chunk_rows=500), again)
    for name in FILES:
        assert (small / name).read_bytes() == (again / name).read_bytes(), name
    # bounded memory: never more than chunk_rows rows buffered; many chunks were spilled
    assert summary.peak_buffered_rows <= 500
    assert summary.chunks > 10
    assert summary.cdrs > 500 * 10
    assert not (again / ".simulate-tmp").exists()


def test_different_seed_gives_different_files(small: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    simulate(SimulationConfig(subscribers=300, days=14, seed=12), other)
    for name in ("subscribers.csv", "cdrs.csv", "sip_events.csv", "truth/incidents.csv"):
        assert (small / name).read_bytes() != (other / name).read_bytes(), name


def test_a_customer_does_not_depend_on_population_size(small: Path, tmp_path: Path) -> None:
    bigger = tmp_path / "bigger"
    simulate(SimulationConfig(subscribers=400, days=2, seed=11, attack_scale=0), bigger)
    first = _read(small / "subscribers.csv")
    second = _read(bigger / "subscribers.csv")[:300]
    assert first == second


def test_sorted_spill_merges_in_order_independent_of_chunks(tmp_path: Path) -> None:
    rng = random.Random(3)
    lines = [f"{sort_key(rng.randrange(10**6))}row{k}" for k in range(5000)]
    outputs = []
    for max_rows in (7, 100, 10_000):
        spill = SortedSpill(tmp_path, f"t{max_rows}", max_rows)
        for line in lines:
            spill.add(line)
        target = tmp_path / f"out{max_rows}.csv"
        with target.open("w") as fh:
            assert spill.write(fh, "h") == 5000
        assert spill.peak_buffered <= max_rows
        outputs.append(target.read_text())
    assert outputs[0] == outputs[1] == outputs[2]
    body = outputs[0].splitlines()[1:]
    assert body == [line[11:] for line in sorted(lines)]
    assert not list(tmp_path.glob("*.chunk"))


# --- the file contract ----------------------------------------------------------------------------


def test_subscribers_follow_the_contract(small: Path) -> None:
    rows = _read(small / "subscribers.csv")
    assert len(rows) == 300
    assert list(rows[0]) == list(
        ("subscriber_id", "segment", "service", "numbers", "email", "intl_status", "equipment")
    )
    assert len({r["subscriber_id"] for r in rows}) == 300
    equipment = Counter(r["equipment"] for r in rows if r["segment"] == "business")
    assert equipment.most_common(1)[0][0] == catalog.WIDELY_DEPLOYED_PBX
    for r in rows:
        assert r["segment"] in ("residential", "business")
        assert r["service"] in ("ip", "pstn")
        assert r["intl_status"] in ("enabled", "suspended")
        assert "@" in r["email"] and r["email"].endswith(".example.jp")
        numbers = r["numbers"].split(";")
        for number in numbers:
            parsed = phonenumbers.parse(number)
            assert parsed.country_code == 81 and phonenumbers.is_valid_number(parsed), number
        if r["segment"] == "residential":
            assert len(numbers) <= 2
    segments = Counter(r["segment"] for r in rows)
    assert segments["business"] > 20 and segments["residential"] > 150
    assert any(len(r["numbers"].split(";")) > 2 for r in rows)


def test_cdrs_follow_the_contract(small: Path) -> None:
    subs = {r["subscriber_id"]: r for r in _read(small / "subscribers.csv")}
    rows = _read(small / "cdrs.csv")
    assert list(rows[0]) == [
        "call_id", "subscriber_id", "caller", "callee", "start", "answer", "end",
        "disposition", "source_ip",
    ]  # fmt: skip
    assert len({r["call_id"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["call_id"]) for r in rows)
    previous = None
    styles: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        start, end = _t(r["start"]), _t(r["end"])
        assert previous is None or previous <= start
        previous = start
        assert r["disposition"] in ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")
        if r["disposition"] == "ANSWERED":
            answer = _t(r["answer"])
            assert start <= answer < end
        else:
            assert r["answer"] == ""
            assert start <= end
        sub = subs[r["subscriber_id"]]
        assert r["caller"] in sub["numbers"].split(";")
        assert CALLEE_RE.match(r["callee"]), r["callee"]
        styles[r["subscriber_id"]].add("+" if r["callee"].startswith("+") else "0")
        if sub["service"] == "pstn":
            assert r["source_ip"] == ""
        else:
            ipaddress.IPv4Address(r["source_ip"])
    # one dialling style per customer (as their switch records it), both styles in the data
    assert all(len(s) == 1 for s in styles.values())
    assert {next(iter(s)) for s in styles.values()} == {"+", "0"}


def test_callees_are_valid_numbers(small: Path) -> None:
    rows = _read(small / "cdrs.csv")
    sample = random.Random(0).sample(rows, 2000)
    invalid = [r["callee"] for r in sample if not phonenumbers.is_valid_number(
        phonenumbers.parse(_e164(r["callee"])))]  # fmt: skip
    assert not invalid


def test_sip_events_follow_the_contract(small: Path) -> None:
    rows = _read(small / "sip_events.csv")
    assert list(rows[0]) == ["time", "source_ip", "username", "event", "user_agent"]
    times = [_t(r["time"]) for r in rows]
    assert times == sorted(times)
    kinds = Counter(r["event"] for r in rows)
    assert set(kinds) == {"auth_failure", "auth_success", "register"}
    for r in rows:
        ipaddress.IPv4Address(r["source_ip"])
        assert r["username"] and r["user_agent"]


def test_meta_describes_the_run(small: Path) -> None:
    meta = json.loads((small / "truth" / "meta.json").read_text())
    assert meta["seed"] == 11
    assert meta["parameters"]["subscribers"] == 300
    assert meta["parameters"]["attacks_from_day"] == 10
    assert meta["generator_version"]
    counts = meta["counts"]
    assert counts["cdrs"] == len(_read(small / "cdrs.csv"))
    assert counts["fraud_calls"] == len(_read(small / "truth" / "fraud_calls.csv"))
    assert set(counts["incidents"]) == set(INCIDENT_KINDS)
    assert set(counts["lookalikes"]) == set(LOOKALIKE_KINDS)


# --- the labels ---------------------------------------------------------------------------------


def test_fraud_labels_are_consistent(small: Path) -> None:
    calls = {r["call_id"]: r for r in _read(small / "cdrs.csv")}
    incidents = {r["incident_id"]: r for r in _read(small / "truth" / "incidents.csv")}
    fraud = _read(small / "truth" / "fraud_calls.csv")
    assert fraud
    assert len({f["call_id"] for f in fraud}) == len(fraud)
    by_incident: Counter[str] = Counter()
    for f in fraud:
        call = calls[f["call_id"]]
        inc = incidents[f["incident_id"]]
        assert call["subscriber_id"] in inc["subscriber_ids"].split(";")
        assert _t(inc["start"]) <= _t(call["start"]) and _t(call["end"]) <= _t(inc["end"])
        assert not _e164(call["callee"]).startswith("+81")  # always international
        by_incident[f["incident_id"]] += 1
    attack_start = datetime(2026, 10, 5, tzinfo=JST) + timedelta(days=10)
    for inc in incidents.values():
        assert inc["kind"] in INCIDENT_KINDS
        assert _t(inc["start"]) >= attack_start - timedelta(minutes=15)
        assert _t(inc["start"]) <= _t(inc["end"])
        for country in filter(None, inc["countries"].split(";")):
            assert re.fullmatch(r"[A-Z]{2}", country)
        if inc["kind"] == "sip_scanner":
            assert by_incident[inc["incident_id"]] == 0
            assert inc["subscriber_ids"] == ""
        else:
            assert by_incident[inc["incident_id"]] > 0, inc


def test_every_kind_is_present_in_a_default_sized_run(default_run: Path) -> None:
    incidents = Counter(r["kind"] for r in _read(default_run / "truth" / "incidents.csv"))
    lookalikes = Counter(r["kind"] for r in _read(default_run / "truth" / "lookalikes.csv"))
    assert set(incidents) == set(INCIDENT_KINDS)
    assert set(lookalikes) == set(LOOKALIKE_KINDS)
    for r in _read(default_run / "truth" / "lookalikes.csv"):
        assert _t(r["start"]) <= _t(r["end"])


def test_default_volumes_are_realistic(default_run: Path) -> None:
    rows = _read(default_run / "cdrs.csv")
    fraud = {r["call_id"] for r in _read(default_run / "truth" / "fraud_calls.csv")}
    legit = [r for r in rows if r["call_id"] not in fraud]
    per_day = len(legit) / (3000 * 42)
    assert 0.5 <= per_day <= 2.0
    intl = sum(1 for r in legit if not _e164(r["callee"]).startswith("+81"))
    assert 0.01 <= intl / len(legit) <= 0.06
    # weekly cycle: business calls mostly on weekdays in office hours
    subs = {r["subscriber_id"]: r for r in _read(default_run / "subscribers.csv")}
    business = [_t(r["start"]) for r in legit if subs[r["subscriber_id"]]["segment"] == "business"]
    weekday = sum(1 for t in business if t.weekday() < 5) / 5
    weekend = sum(1 for t in business if t.weekday() >= 5) / 2
    assert weekday > 4 * weekend
    office = sum(1 for t in business if 9 <= t.hour < 18)
    assert office > 0.7 * len(business)
    residential = [
        _t(r["start"]) for r in legit if subs[r["subscriber_id"]]["segment"] != "business"
    ]
    evening = sum(1 for t in residential if 18 <= t.hour < 22) / 4
    night = sum(1 for t in residential if 1 <= t.hour < 5) / 4
    assert evening > 10 * night


def test_holidays_are_quiet_for_business(default_run: Path) -> None:
    subs = {r["subscriber_id"]: r for r in _read(default_run / "subscribers.csv")}
    fraud = {r["call_id"] for r in _read(default_run / "truth" / "fraud_calls.csv")}
    per_day: Counter[date] = Counter()
    for r in _read(default_run / "cdrs.csv"):
        if subs[r["subscriber_id"]]["segment"] == "business" and r["call_id"] not in fraud:
            per_day[_t(r["start"]).date()] += 1
    # 2026-10-12 (Sports Day) and 2026-11-03 (Culture Day) are Japanese holidays on weekdays
    for holiday in (date(2026, 10, 12), date(2026, 11, 3)):
        assert per_day[holiday] < 0.5 * per_day[holiday + timedelta(days=1)]


def test_barred_customers_make_no_successful_international_calls(small: Path) -> None:
    barred = {r["subscriber_id"] for r in _read(small / "subscribers.csv")
              if r["intl_status"] == "suspended"}  # fmt: skip
    assert barred
    for r in _read(small / "cdrs.csv"):
        if r["subscriber_id"] in barred and not _e164(r["callee"]).startswith("+81"):
            assert r["disposition"] == "FAILED"


def test_addresses_stay_in_japan_except_travellers_and_attackers(default_run: Path) -> None:
    fraud = {r["call_id"] for r in _read(default_run / "truth" / "fraud_calls.csv")}
    looks = _read(default_run / "truth" / "lookalikes.csv")
    trips = {
        r["subscriber_id"]: (_t(r["start"]), _t(r["end"]))
        for r in looks
        if r["kind"] == "traveller"
    }
    abroad: Counter[str] = Counter()
    for r in _read(default_run / "cdrs.csv"):
        if not r["source_ip"] or r["call_id"] in fraud:
            continue
        country = iptocc.country_code(r["source_ip"])
        trip = trips.get(r["subscriber_id"])
        if trip is not None and trip[0] <= _t(r["start"]) < trip[1]:
            abroad[r["subscriber_id"]] += country != "JP"
        else:
            assert country == "JP", r
    assert sum(abroad.values()) > 0


def test_dynamic_addresses_change_within_one_isp(default_run: Path) -> None:
    dynamic = {r["subscriber_id"] for r in _read(default_run / "truth" / "lookalikes.csv")
               if r["kind"] == "dynamic_ip"}  # fmt: skip
    nets = [
        (name, [ipaddress.ip_network(b) for b in blocks]) for name, blocks in catalog.JP_ISP_BLOCKS
    ]
    seen: dict[str, set[str]] = defaultdict(set)
    for r in _read(default_run / "sip_events.csv"):
        if r["username"] and r["event"] == "register" and r["user_agent"] not in catalog.SOFTPHONES:
            seen[r["username"]].add(r["source_ip"])
    subs = {r["subscriber_id"]: r for r in _read(default_run / "subscribers.csv")}
    for sid in dynamic:
        username = subs[sid]["numbers"].split(";")[0][1:]
        addresses = seen[username]
        assert len(addresses) >= 5
        isps = {
            name
            for a in addresses
            for name, blocks in nets
            if any(ipaddress.ip_address(a) in b for b in blocks)
        }
        assert len(isps) == 1


def test_address_blocks_map_to_their_country() -> None:
    rng = random.Random(1)
    for _, blocks in catalog.JP_ISP_BLOCKS:
        for block in blocks:
            net = ipaddress.ip_network(block)
            for _ in range(50):
                address = str(net[rng.randrange(1, net.num_addresses - 1)])
                assert iptocc.country_code(address) == "JP", address
    for country, blocks in catalog.FOREIGN_BLOCKS.items():
        for block in blocks:
            net = ipaddress.ip_network(block)
            for _ in range(20):
                address = str(net[rng.randrange(1, net.num_addresses - 1)])
                assert iptocc.country_code(address) == country, address


def test_bruteforce_fails_then_succeeds_then_calls(default_run: Path) -> None:
    incidents = [r for r in _read(default_run / "truth" / "incidents.csv")
                 if r["kind"] == "sip_bruteforce"]  # fmt: skip
    events = _read(default_run / "sip_events.csv")
    calls = {r["call_id"]: r for r in _read(default_run / "cdrs.csv")}
    fraud = _read(default_run / "truth" / "fraud_calls.csv")
    for inc in incidents:
        ip = inc["source_ips"]
        mine = [e for e in events if e["source_ip"] == ip]
        kinds = [e["event"] for e in mine]
        assert kinds.count("auth_failure") >= 100
        assert kinds.index("auth_success") > kinds.index("auth_failure")
        success = _t(mine[kinds.index("auth_success")]["time"])
        inc_calls = [calls[f["call_id"]] for f in fraud if f["incident_id"] == inc["incident_id"]]
        assert inc_calls
        assert all(c["source_ip"] == ip and _t(c["start"]) > success for c in inc_calls)
        assert iptocc.country_code(ip) != "JP"


def test_campaign_and_wangiri_share_destinations(default_run: Path) -> None:
    calls = {r["call_id"]: r for r in _read(default_run / "cdrs.csv")}
    fraud = _read(default_run / "truth" / "fraud_calls.csv")
    for inc in _read(default_run / "truth" / "incidents.csv"):
        if inc["kind"] not in ("campaign", "wangiri"):
            continue
        mine = [calls[f["call_id"]] for f in fraud if f["incident_id"] == inc["incident_id"]]
        codes = {phonenumbers.region_code_for_number(phonenumbers.parse(_e164(c["callee"])))
                 for c in mine}  # fmt: skip
        assert codes == set(inc["countries"].split(";"))
        victims = {c["subscriber_id"] for c in mine}
        assert len(victims) >= 2
        if inc["kind"] == "wangiri":  # victims call back the few numbers that rang them
            assert len({_e164(c["callee"]) for c in mine}) <= 4
        if inc["kind"] == "campaign":
            firsts = sorted(min(_t(c["start"]) for c in mine if c["subscriber_id"] == v)
                            for v in victims)  # fmt: skip
            assert firsts[-1] - firsts[0] <= timedelta(hours=1)


def test_pbx_attacks_run_many_concurrent_channels(default_run: Path) -> None:
    calls = {r["call_id"]: r for r in _read(default_run / "cdrs.csv")}
    fraud = _read(default_run / "truth" / "fraud_calls.csv")
    for inc in _read(default_run / "truth" / "incidents.csv"):
        if inc["kind"] not in ("pbx_weekend_night", "pstn_pbx"):
            continue
        mine = sorted(
            (calls[f["call_id"]] for f in fraud if f["incident_id"] == inc["incident_id"]),
            key=lambda c: c["start"],
        )
        assert len(mine) > 50
        edges = sorted([(_t(c["start"]), 1) for c in mine] + [(_t(c["end"]), -1) for c in mine])
        level = peak = 0
        for _, step in edges:
            level += step
            peak = max(peak, level)
        assert peak >= 2
        first = _t(mine[0]["start"])
        assert first.hour >= 21 or first.hour < 3


# --- numbers and time -----------------------------------------------------------------------


def test_number_helpers_make_valid_numbers() -> None:
    rng = random.Random(2)
    for region, kind in (*catalog.HOTSPOT_RANGES, *catalog.MID_PRICED_RANGES):
        for _ in range(5):
            number = foreign_number(rng, region, kind)
            assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    for code in catalog.SATELLITE_CODES:
        number = template(str(code), "mobile").draw(rng)
        assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    for _ in range(200):
        number = jp_geographic(rng)
        assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    assert dialled("+81312345678", "jp") == "0312345678"
    assert dialled("+12015550123", "jp") == "01012015550123"
    assert dialled("+12015550123", "e164") == "+12015550123"


def test_period_formats_local_time_with_offset() -> None:
    period = Period.build(date(2026, 10, 5), 3)
    for seconds in (0, 1, 86_399, 86_400 + 3_723, 10 * 86_400 + 5):
        expected = (datetime(2026, 10, 5, tzinfo=JST) + timedelta(seconds=seconds)).isoformat()
        assert period.fmt(seconds) == expected


def test_profiles_are_pure_functions_of_seed_and_index() -> None:
    assert build_customer(4, 17) == build_customer(4, 17)
    assert build_customer(4, 17) != build_customer(5, 17)


# --- the command --------------------------------------------------------------------------------


def test_command_writes_the_files(tmp_path: Path) -> None:
    import tollguard.commands.simulate  # noqa: F401  (registers the command)
    from tollguard.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        ["simulate", "--subscribers", "120", "--days", "7", "--seed", "3", "--out", str(out),
         "--start", "2026-11-02", "--attacks-from-day", "3", "--attack-scale", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    for name in FILES:
        assert (out / name).exists(), name
    meta = json.loads((out / "truth" / "meta.json").read_text())
    assert meta["parameters"]["start"] == "2026-11-02"
    assert meta["parameters"]["attacks_from_day"] == 3
    first = _read(out / "cdrs.csv")[0]["start"]
    assert first.startswith("2026-11-02")


def test_no_attacks_with_zero_scale(tmp_path: Path) -> None:
    summary = simulate(SimulationConfig(subscribers=100, days=7, seed=1, attack_scale=0), tmp_path)
    assert sum(summary.incidents.values()) == 0
    assert summary.fraud_calls == 0
    assert len(_read(tmp_path / "truth" / "incidents.csv")) == 0


def test_attacks_from_the_first_day_stay_inside_the_period(tmp_path: Path) -> None:
    simulate(
        SimulationConfig(subscribers=80, days=3, seed=9, attacks_from_day=0, attack_scale=2),
        tmp_path,
    )
    begin = datetime(2026, 10, 5, tzinfo=JST)
    cdr_starts = [_t(r["start"]) for r in _read(tmp_path / "cdrs.csv")]
    sip_times = [_t(r["time"]) for r in _read(tmp_path / "sip_events.csv")]
    for times in (cdr_starts, sip_times):
        assert times == sorted(times)
        assert times[0] >= begin
        assert times[-1] < begin + timedelta(days=3)
    assert len(_read(tmp_path / "truth" / "incidents.csv")) >= len(INCIDENT_KINDS)
