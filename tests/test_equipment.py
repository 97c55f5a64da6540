"""Equipment models: User-Agents, the concentration test, and what a model alert produces."""

from __future__ import annotations

import csv
import json
import math
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.test_service import Clock, RecordingSwitch, Service
from tollguard.adapters.store import Store
from tollguard.app.equipment import (
    DETECTOR,
    build_report,
    incidents_from_truth,
    inputs_from_files,
    inputs_from_store,
    notify_customers,
    service_check,
)
from tollguard.app.ingest import ingest_files
from tollguard.app.service.api import create_app
from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
from tollguard.app.simulate import SimulationConfig, simulate
from tollguard.cli import _register, app
from tollguard.domain.equipment import (
    ConcentrationSettings,
    EquipmentRegistry,
    Incident,
    check,
    concentration,
    hypergeom_sf,
    parse_user_agent,
)
from tollguard.domain.records import SipEventKind

#: A simulated carrier whose labelled incidents include a campaign on the widely deployed PBX.
SEED, CUSTOMERS, DAYS = 5, 3000, 28
WAVE_MODEL = "Kumo IPX-200"


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("carrier") / "sim"
    simulate(SimulationConfig(subscribers=CUSTOMERS, days=DAYS, seed=SEED), out)
    return out


# -- User-Agents and the registry ------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "name", "firmware"),
    [
        ("Yealink SIP-T46S 66.86.0.15", "Yealink SIP-T46S", "66.86.0.15"),
        ("Grandstream GXP2170 1.0.11.3", "Grandstream GXP2170", "1.0.11.3"),
        ("snom370/8.7.5.35", "snom370", "8.7.5.35"),
        ("Cisco/SPA504G-7.6.2e", "Cisco SPA504G", "7.6.2e"),
        ("Cisco SPA122, firmware 1.4.1", "Cisco SPA122", "1.4.1"),
        ("Panasonic KX-NS500 v007.10001", "Panasonic KX-NS500", "v007.10001"),
        ("FPBX-15.0.37", "FPBX", "15.0.37"),
        ("Zoiper rv2.10.20, build 6140", "Zoiper", "rv2.10.20 build 6140"),
        ("Kumo IPX-200", "Kumo IPX-200", ""),
        ("Nami SmartPBX 3", "Nami SmartPBX 3", ""),
    ],
)
def test_user_agents_give_the_model_and_firmware(agent: str, name: str, firmware: str) -> None:
    model = parse_user_agent(agent)
    assert model is not None
    assert (model.name, model.firmware) == (name, firmware)
    assert model.key == " ".join(name.casefold().replace("_", " ").split())


@pytest.mark.parametrize(
    "agent", ["", "   ", "friendly-scanner", "sipvicious", "sipcli/v1.8", "VaxSIPUserAgent/3.1"]
)
def test_scanners_and_empty_agents_are_no_model(agent: str) -> None:
    assert parse_user_agent(agent) is None


def test_the_observed_model_wins_and_a_few_foreign_registrations_do_not_replace_it() -> None:
    reg = EquipmentRegistry()
    reg.declare("pbx", "Kumo IPX-200, firmware 2.1.0")
    assert reg.model_of("pbx")[1] == "declared"
    for day in range(10):
        reg.observe_event("pbx", SipEventKind.REGISTER, "Kumo IPX-200 2.2.1", day * 86400.0)
    # an attacker registers twice with stolen credentials; a scanner fails many times
    reg.observe_event("pbx", SipEventKind.REGISTER, "Asterisk PBX 16.2.1", 11 * 86400.0)
    reg.observe_event("pbx", SipEventKind.AUTH_SUCCESS, "Asterisk PBX 16.2.1", 11 * 86400.0)
    for _ in range(50):
        reg.observe_event("pbx", SipEventKind.AUTH_FAILURE, "Yealink T46S 66.1", 0.0)
    model, source = reg.model_of("pbx")
    assert model is not None and (model.name, source) == ("Kumo IPX-200", "sip")
    assert reg.firmware("pbx") == {"2.1.0", "2.2.1"}
    reg.declare("quiet", None)
    assert reg.model_of("quiet") == (None, "unknown")
    assert reg.model_of("never-seen") == (None, "unknown")
    assert reg.by_model() == {"kumo ipx-200": ["pbx"]}


# -- the test -----------------------------------------------------------------------------------


def test_hypergeometric_tail_matches_brute_force() -> None:
    def brute(k: int, big_n: int, n: int, draws: int) -> float:
        total = math.comb(big_n, draws)
        hi = min(n, draws)
        return sum(math.comb(n, x) * math.comb(big_n - n, draws - x) for x in range(k, hi + 1)) / (
            total
        )

    for big_n, n, draws in [(20, 5, 7), (100, 30, 10), (500, 12, 40), (60, 60, 3), (9, 0, 4)]:
        for k in range(0, min(n, draws) + 2):
            assert hypergeom_sf(k, big_n, n, draws) == pytest.approx(
                brute(k, big_n, n, draws), rel=1e-9, abs=1e-300
            ), (k, big_n, n, draws)


def test_bonferroni_minimum_incidents_and_rate_ratio() -> None:
    models = {"a": 900, "rare": 2, "b": 98}
    # both customers of a model of two are hit: tiny p-value, but only two incidents
    [top, *_] = concentration(models, {"a": 3, "rare": 2})
    assert top.key == "rare" and top.p_value < 1e-3 and not top.alert
    # Bonferroni: the threshold is alpha over the models tested
    assert top.threshold == pytest.approx(1e-3 / 3)
    # a common model with a little more than its share is not a warning even with many incidents
    big = concentration({"a": 4500, "b": 5500}, {"a": 300, "b": 200})
    a = next(f for f in big if f.key == "a")
    assert a.p_value < 1e-9 and a.rate_ratio < 2 and not a.alert
    # the same excess with min_rate_ratio=1 is flagged
    loose = ConcentrationSettings(min_rate_ratio=1.0)
    assert next(f for f in concentration({"a": 4500, "b": 5500}, {"a": 300, "b": 200}, loose)).alert


def test_incidents_outside_the_window_or_after_the_check_do_not_count() -> None:
    reg = EquipmentRegistry()
    for i in range(1000):
        reg.declare(f"c{i}", "Rare X1" if i < 20 else "Common Y2")
    day = 86400.0
    wave = [Incident(f"c{i}", 100 * day + i, "test") for i in range(6)]
    assert check(reg, wave, as_of=101 * day).alerts
    assert not check(reg, wave, as_of=140 * day).alerts  # the wave is older than 30 days
    assert not check(reg, wave, as_of=99 * day).alerts  # not yet happened
    twice = [*wave, Incident("c0", 100.5 * day, "again")]  # a customer counts once
    report = check(reg, twice, as_of=101 * day)
    assert report.alerts[0].finding.incidents == 6


# -- a simulated carrier ---------------------------------------------------------------------


def _truth_incidents(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write_incidents(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_models_are_learnt_from_sip_user_agents_of_the_simulated_carrier(carrier: Path) -> None:
    inputs = inputs_from_files(carrier / "subscribers.csv", [carrier / "sip_events.csv"])
    assert inputs.skipped_rows == 0
    sources = Counter(inputs.registry.model_of(sid)[1] for sid in inputs.subscribers)
    ip_lines = sum(1 for s in inputs.subscribers.values() if s.service.value == "ip")
    assert sources["sip"] >= 0.98 * ip_lines  # every IP line that registered
    assert sources["declared"] == len(inputs.subscribers) - sources["sip"]
    agree = sum(
        1
        for sid, sub in inputs.subscribers.items()
        if (m := inputs.registry.model_of(sid)[0]) is not None and m.name == sub.equipment
    )
    # a few travellers' softphones outnumber their home gateway's registrations
    assert agree >= 0.99 * len(inputs.subscribers)


def test_a_wave_on_one_model_alerts_and_the_same_incidents_spread_across_models_do_not(
    carrier: Path, tmp_path: Path
) -> None:
    _register()
    runner = CliRunner()
    # the simulator's own labels: a campaign on the widely deployed PBX model
    out = tmp_path / "wave"
    r = runner.invoke(app, ["equipment", "report", "--truth", str(carrier), "--out", str(out)])
    assert r.exit_code == 0, r.output
    with (out / "models.csv").open(encoding="utf-8") as fh:
        models = {row["model"]: row for row in csv.DictReader(fh)}
    assert [m for m, row in models.items() if row["alert"] == "yes"] == [WAVE_MODEL]
    victims = incidents_from_truth(carrier)
    struck = int(models[WAVE_MODEL]["incidents"])
    assert struck >= 3 and len({i.subscriber_id for i in victims}) == sum(
        int(row["incidents"]) for row in models.values()
    )

    # the warning list: every customer on the model, and only them
    inputs = inputs_from_files(carrier / "subscribers.csv", [carrier / "sip_events.csv"])
    on_model = {
        sid
        for sid in inputs.subscribers
        if (m := inputs.registry.model_of(sid)[0]) is not None and m.name == WAVE_MODEL
    }
    folder = out / "kumo-ipx-200"
    with (folder / "customers.csv").open(encoding="utf-8") as fh:
        listed = list(csv.DictReader(fh))
    assert {row["subscriber_id"] for row in listed} == on_model
    assert sum(1 for row in listed if row["incident_time"]) == struck
    notices = [json.loads(line) for line in (folder / "notices.jsonl").open(encoding="utf-8")]
    assert {n["subscriber_id"] for n in notices} == on_model  # every one has an email here
    assert all(WAVE_MODEL in n["body"] and "ファームウェア" in n["body"] for n in notices)
    # the vendor's summary names no customer
    vendor = (folder / "vendor-summary.json").read_text("utf-8")
    vendor_txt = (folder / "vendor-summary.txt").read_text("utf-8")
    summary = json.loads(vendor)
    assert summary["model"] == WAVE_MODEL and len(summary["incident_times"]) == struck
    for sid in on_model:
        sub = inputs.subscribers[sid]
        for secret in (sid, sub.email, *sub.numbers, sub.numbers[0].lstrip("+")):
            assert secret not in vendor and secret not in vendor_txt

    # the same number of victims, spread over the models in proportion to their customers
    def model_key(sid: str) -> str:
        model = inputs.registry.model_of(sid)[0]
        return "" if model is None else model.key

    ordered = sorted(inputs.subscribers, key=lambda sid: (model_key(sid), sid))
    n_victims = len({i.subscriber_id for i in victims})
    step = len(ordered) / n_victims
    spread_ids = [ordered[int(step * (k + 0.5))] for k in range(n_victims)]
    spread = tmp_path / "spread"
    shutil.copytree(carrier, spread, ignore=shutil.ignore_patterns("cdrs.csv"))
    rows = _truth_incidents(carrier / "truth" / "incidents.csv")
    template = next(r for r in rows if r["kind"] == "campaign")
    _write_incidents(
        spread / "truth" / "incidents.csv",
        [
            {**template, "incident_id": f"INC-{k:05d}", "subscriber_ids": sid}
            for k, sid in enumerate(spread_ids, start=1)
        ],
    )
    r = runner.invoke(app, ["equipment", "report", "--truth", str(spread), "--out",
                            str(tmp_path / "spread-out")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "no model has more incidents than chance would give" in r.output
    with (tmp_path / "spread-out" / "models.csv").open(encoding="utf-8") as fh:
        spread_rows = list(csv.DictReader(fh))
    assert sum(int(row["incidents"]) for row in spread_rows) == n_victims
    assert all(row["alert"] == "no" for row in spread_rows)
    assert sorted(p.name for p in (tmp_path / "spread-out").iterdir()) == ["models.csv"]


def test_replay_suspensions_are_incidents(carrier: Path, tmp_path: Path) -> None:
    replay = tmp_path / "replay.jsonl"
    t0 = datetime(2026, 10, 25, 3, tzinfo=UTC)
    inputs = inputs_from_files(carrier / "subscribers.csv")
    hgw = sorted(s for s, sub in inputs.subscribers.items() if sub.equipment == "HGW-B210")[:5]
    lines = [
        {"time": (t0 + timedelta(hours=k)).isoformat(), "kind": "action",
         "action": "suspend_international", "subscriber_id": sid, "reason": "r",
         "actor": "tollguard", "evidence": {}}
        for k, sid in enumerate(hgw)
    ] + [{"time": t0.isoformat(), "kind": "call", "call_id": "x", "decision": "allow",
          "reasons": []}]  # fmt: skip
    replay.write_text("\n".join(json.dumps(line) for line in lines) + "\n", "utf-8")
    inputs = inputs_from_files(carrier / "subscribers.csv", replay=replay)
    assert [i.subscriber_id for i in inputs.incidents] == hgw
    report = build_report(inputs)
    assert [a.finding.name for a in report.alerts] == ["HGW-B210"]
    assert report.as_of == (t0 + timedelta(hours=4)).timestamp()


# -- the store and the live service ------------------------------------------------------------


def test_store_incidents_alert_once_in_the_service_and_warnings_are_recorded(
    carrier: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tg.sqlite'}"
    svc = Service(db, tmp_path, Clock(datetime(2026, 11, 2, tzinfo=UTC).timestamp()),
                  RecordingSwitch())  # fmt: skip
    store = Store.open(db)
    ingest_files(
        store,
        [carrier / "subscribers.csv"],
        [],
        [carrier / "sip_events.csv"],
        quarantine_dir=tmp_path / "q",
    )
    inputs = inputs_from_store(store)
    assert inputs.registry.model_of("S0000000")[1] == "sip"
    asagi = sorted(s for s, sub in inputs.subscribers.items() if sub.equipment == "Asagi UC-50")
    at = datetime(2026, 10, 30, 2, tzinfo=UTC)
    for k, sid in enumerate(asagi[:5]):
        store.create_control("suspension", sid, reason="pumping to SL", created_by="tollguard",
                             at=at + timedelta(minutes=k), evidence={})  # fmt: skip
    # not incidents: a dormant customer's consent, and a suspension the customer explained
    store.create_control("suspension", asagi[5], reason="dormant", created_by="op",
                         at=at, evidence={"consent": "granted"})  # fmt: skip
    store.create_control("suspension", asagi[6], reason="spike", created_by="tollguard",
                         at=at, evidence={})  # fmt: skip
    case = store.open_case(asagi[6], at=at, score=0.9)
    store.add_contact_attempt(case.id, channel="phone", at=at + timedelta(hours=1),
                              outcome="confirmed_legitimate", by="analyst")  # fmt: skip
    other = store.open_case(asagi[7], at=at, score=0.99)
    store.add_contact_attempt(other.id, channel="phone", at=at + timedelta(hours=2),
                              outcome="confirmed_fraud", by="analyst")  # fmt: skip
    incidents = inputs_from_store(store).incidents
    assert sorted({i.subscriber_id for i in incidents}) == sorted([*asagi[:5], asagi[7]])

    # the live service's periodic check raises the alert once
    settings = ServiceSettings(db_url=db, tick_s=3600, data_dir=tmp_path / "data",
                               equipment_check_s=60)  # fmt: skip
    rt = ServiceRuntime(settings, store=store, switch=svc.switch, clock=svc.clock)
    with TestClient(create_app(rt)) as c:
        svc.clock.t += 61
        rt.periodic()
        svc.clock.t += 61
        rt.periodic()
        alerts = c.get("/v1/alerts", headers=svc.h("analyst")).json()
    model_alerts = [a for a in alerts if a["detector"] == DETECTOR]
    assert len(model_alerts) == 1
    evidence = model_alerts[0]["evidence"]
    assert evidence["model"] == "Asagi UC-50" and evidence["incidents_on_model"] == 6
    assert set(evidence["warning_list"]) == set(asagi)
    assert not set(asagi) & set(json.dumps(evidence["vendor_summary"]).split('"'))
    assert service_check(store, at=svc.clock.t) == []  # already raised in this window

    # the warnings: recorded with their text (no mail server here), each customer once
    report = build_report(inputs_from_store(store), as_of=svc.clock.t)
    [alert] = report.alerts
    recorded, sent = notify_customers(store, alert, inputs_from_store(store),
                                      clock=lambda: svc.clock.t)  # fmt: skip
    assert (recorded, sent) == (len(asagi), 0)
    assert notify_customers(store, alert, inputs_from_store(store)) == (0, 0)
    notes = store.list_notifications(limit=10_000)
    assert {n.subscriber_id for n in notes if n.kind == "equipment_warning"} == set(asagi)
    assert all("Asagi UC-50" in n.body for n in notes)
    store.close()
