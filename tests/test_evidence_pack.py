"""Incident evidence packs for simulated incidents: every fraud call and every action, audited,
self-contained, served over HTTP, and rendered in headless Chromium.

A simulated carrier is replayed through the engine, and the engine's outputs are written to a
store by the live service's own recorder (controls, audit, cases, contacts); the CDRs are stored
as the switch would have recorded them (a call tollguard denied failed at once, a cut call ended
at the cut).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from tests.test_report_render import _chromium
from tollguard.adapters.store import Store
from tollguard.app.backtest.truth import Truth, load_truth
from tollguard.app.evidence import collect_evidence, export_case, render_csv, render_html
from tollguard.app.ingest import ingest_files
from tollguard.app.replay import load_calls, run_outputs
from tollguard.app.service.api import create_app
from tollguard.app.service.auth import new_token, token_hash
from tollguard.app.service.live import LiveEngine
from tollguard.app.service.recorder import Recorder
from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
from tollguard.app.simulate import SimulationConfig, simulate
from tollguard.cli import _register, app
from tollguard.domain.engine import Engine
from tollguard.domain.events import Action, Decision, Output, Terminate

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "screenshots" / "evidence-pack.png"
#: A small carrier whose attacks include one that got through in part (low and slow).
SEED, CUSTOMERS, DAYS = 3, 800, 28
EXPORT = "case.export"


@dataclass
class Carrier:
    """A simulated carrier replayed into a store."""

    data: Path
    db: Path
    truth: Truth
    outputs: list[Output]

    def fraud_calls_of(self, subscriber_id: str) -> set[str]:
        return {
            cid
            for cid in self.truth.fraud_calls
            if (row := self.truth.calls.get(cid)) is not None and row.subscriber_id == subscriber_id
        }


def _switch_cdrs(src: Path, dst: Path, denied: set[str], cut: dict[str, float]) -> None:
    """The CDRs as the switch records them when tollguard denies and cuts calls."""
    with src.open(newline="", encoding="utf-8") as fi, dst.open("w", newline="") as fo:
        reader = csv.DictReader(fi)
        writer = csv.DictWriter(fo, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        for row in reader:
            if row["call_id"] in denied:
                row.update(answer="", end=row["start"], disposition="FAILED")
            elif row["call_id"] in cut:
                tz = datetime.fromisoformat(row["start"]).tzinfo
                at = datetime.fromtimestamp(cut[row["call_id"]], UTC).astimezone(tz)
                if at < datetime.fromisoformat(row["end"]):
                    row["end"] = at.isoformat(timespec="seconds")
                    if row["answer"] and datetime.fromisoformat(row["answer"]) >= at:
                        row.update(answer="", disposition="NO ANSWER")
            writer.writerow(row)


def replay_into_store(store: Store, data: Path, work: Path) -> list[Output]:
    """Replay ``data`` through the engine, recording its outputs with the service's recorder."""
    replay = load_calls(data / "subscribers.csv", data / "cdrs.csv", data / "sip_events.csv")
    engine = Engine(replay.subscribers)
    now = [0.0]
    recorder = Recorder(store, clock=lambda: now[0])  # not started: flush() does the work here
    live = LiveEngine(engine, recorder, clock=lambda: now[0])
    ingest_files(
        store, [data / "subscribers.csv"], [], [data / "sip_events.csv"], quarantine_dir=work
    )
    batch: list[Output] = []
    kept: list[Output] = []
    denied: set[str] = set()
    cut: dict[str, float] = {}
    last = float("-inf")

    def sync() -> None:
        nonlocal batch
        if batch:
            recorder.submit(batch)
            batch = []
        views = live.changed_cases()
        if views is not None:
            recorder.sync_cases(views)
        recorder.flush()

    for o in run_outputs(engine, replay):
        now[0] = max(now[0], o.time)
        if isinstance(o, Decision):
            if not o.allow:
                denied.add(o.call_id)
        else:
            if isinstance(o, Terminate):
                cut[o.call_id] = o.time
            batch.append(o)
            kept.append(o)
        if isinstance(o, Action) or o.time - last >= 60:
            sync()
            last = o.time
    sync()
    _switch_cdrs(data / "cdrs.csv", work / "cdrs-switch.csv", denied, cut)
    ingest_files(store, [], [work / "cdrs-switch.csv"], [], quarantine_dir=work)
    return kept


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Carrier]:
    root = tmp_path_factory.mktemp("evidence")
    data = root / "sim"
    simulate(SimulationConfig(subscribers=CUSTOMERS, days=DAYS, seed=SEED), data)
    db = root / "store.sqlite"
    store = Store.open(path=db)
    outputs = replay_into_store(store, data, root)
    store.close()
    yield Carrier(data, db, load_truth(data), outputs)


def _victim_cases(carrier: Carrier, store: Store) -> list[tuple[int, str]]:
    victims = {sid for inc in carrier.truth.incidents for sid in inc.subscriber_ids}
    return [(c.id, c.subscriber_id) for c in store.list_cases() if c.subscriber_id in victims]


def test_the_pack_holds_every_fraud_call_and_every_action(carrier: Carrier) -> None:
    store = Store.open(path=carrier.db)
    cases = _victim_cases(carrier, store)
    assert len(cases) >= 5
    calls_checked = actions_checked = 0
    for case_id, sid in cases:
        pack = collect_evidence(store, case_id)
        fraud = carrier.fraud_calls_of(sid)
        in_pack = {c.call_id for c in pack.calls}
        flagged = {c.call_id for c in pack.flagged}
        assert fraud <= in_pack, (case_id, sorted(fraud - in_pack)[:5])
        assert fraud <= flagged, (case_id, len(fraud - flagged))
        # every output of the engine about this customer in the window is an action in the pack
        recorded = {(a.time, a.reason) for a in pack.actions}
        for o in carrier.outputs:
            if not isinstance(o, Action | Terminate) or o.subscriber_id != sid:
                continue
            t = datetime.fromtimestamp(o.time, UTC)
            if pack.since <= t <= pack.until:
                assert (t, o.reason) in recorded, (case_id, o)
                actions_checked += 1
        # and every audit entry about the customer and their controls in the window
        mine = (f"subscriber:{sid}", f"suspension:{sid}", f"destination_denial:{sid}:")
        seqs = {a.seq for a in pack.actions}
        for e in store.list_audit():
            about = e.subject in mine[:2] or e.subject.startswith(mine[2])
            if about and pack.since <= e.time <= pack.until:
                assert e.seq in seqs, (case_id, e.action, e.reason)
        # the CSV and the HTML hold the same calls and actions
        text = render_csv(pack)
        rows = list(csv.DictReader(io.StringIO(text)))
        call_rows = {r["call_id"]: r for r in rows if r["record"] == "call"}
        assert set(call_rows) == in_pack
        assert all(call_rows[cid]["incident"] == "yes" for cid in fraud)
        assert {int(r["audit_seq"]) for r in rows if r["record"] == "action"} == seqs
        html = render_html(pack)
        assert all(cid in html for cid in fraud)
        calls_checked += len(fraud)
        actions_checked += len(pack.actions)
    assert calls_checked > 1000 and actions_checked > 50
    store.close()


def test_charges_ranges_and_addresses_are_those_of_the_store(carrier: Carrier) -> None:
    store = Store.open(path=carrier.db)
    for case_id, sid in _victim_cases(carrier, store):
        pack = collect_evidence(store, case_id)
        stored = {r.cdr.call_id: r for r in store.list_cdrs(subscriber_id=sid)}
        for c in pack.calls:
            row = stored[c.call_id]
            assert c.charge_jpy == pytest.approx(row.charge_jpy)
            assert c.seconds == pytest.approx(row.cdr.billable_seconds)
            assert c.range_prefix and row.callee_e164 and row.callee_e164.startswith(c.range_prefix)
        ips = {c.source_ip for c in pack.calls if c.source_ip}
        assert ips <= {a.ip for a in pack.addresses}
        for a in pack.addresses:
            if a.scope == "public":
                assert a.country is not None, a.ip
    # a brute-forced credential: the attacker's address, its failed logins and its block
    brute = [inc for inc in carrier.truth.incidents if inc.kind == "sip_bruteforce"]
    for inc in brute:
        cases = store.list_cases(subscriber_id=inc.subscriber_ids[0])
        if not cases:
            continue
        pack = collect_evidence(store, cases[0].id)
        found = {a.ip: a for a in pack.addresses}
        for ip in inc.source_ips:
            assert found[ip].auth_failures > 100 and found[ip].country not in (None, "JP")
    store.close()


def test_cli_export_writes_both_files_and_is_audited(carrier: Carrier, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    shutil.copyfile(carrier.db, db)
    store = Store.open(path=db)
    case_id, sid = _victim_cases(carrier, store)[0]
    store.close()
    _register()
    r = CliRunner().invoke(
        app,
        ["case", "export", str(case_id), "--db", str(db), "--out", str(tmp_path / "pack"),
         "--by", "analyst-3", "--reason", "police report for the customer"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    html = (tmp_path / "pack" / f"evidence-case-{case_id}.html").read_text("utf-8")
    text = (tmp_path / "pack" / f"evidence-case-{case_id}.csv").read_text("utf-8")
    assert re.findall(r"https?://", html) == []
    for needle in ("<script", "<link", "@import", "src=", "url("):
        assert needle not in html, needle
    store = Store.open(path=db)
    [entry] = [e for e in store.list_audit(subject=f"subscriber:{sid}") if e.action == EXPORT]
    assert (entry.actor, entry.reason) == ("analyst-3", "police report for the customer")
    files = entry.evidence["files"]
    assert files[f"evidence-case-{case_id}.html"] == hashlib.sha256(html.encode()).hexdigest()
    assert files[f"evidence-case-{case_id}.csv"] == hashlib.sha256(text.encode()).hexdigest()
    assert store.verify_audit_chain() == (True, None)
    store.close()
    r = CliRunner().invoke(app, ["case", "export", "99999", "--db", str(db), "--out", "."])
    assert r.exit_code == 2 and "no case 99999" in r.output


def test_the_console_endpoints_serve_the_pack_to_analysts(carrier: Carrier, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    shutil.copyfile(carrier.db, db)
    store = Store.open(path=db)
    case_id, sid = _victim_cases(carrier, store)[0]
    tokens = {}
    for role in ("switch", "analyst", "admin"):
        tokens[role] = new_token()
        store.create_token(role, role, token_hash=token_hash(tokens[role]), by="test",
                           at=datetime.now(UTC))  # fmt: skip
    settings = ServiceSettings(db_url=f"sqlite:///{db}", tick_s=3600, data_dir=tmp_path / "data")
    rt = ServiceRuntime(settings, store=store)
    url = f"/v1/cases/{case_id}/evidence"
    with TestClient(create_app(rt)) as c:

        def h(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[role]}"}

        assert c.get(f"{url}.html").status_code == 401
        assert c.get(f"{url}.html", headers=h("switch")).status_code == 403
        why = {"reason": "customer's police report"}
        r = c.get(f"{url}.html", params=why, headers=h("analyst"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "Toll fraud evidence pack" in r.text and sid in r.text
        r = c.get(f"{url}.csv", headers=h("admin"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert r.text.startswith("record,time,")
        assert c.get("/v1/cases/99999/evidence.html", headers=h("analyst")).status_code == 404
    store = Store.open(path=db)
    exports = [e for e in store.list_audit(subject=f"subscriber:{sid}") if e.action == EXPORT]
    assert [(e.actor, e.evidence["served"]) for e in exports] == [
        ("analyst:analyst", "http:html"),
        ("admin:admin", "http:csv"),
    ]
    assert exports[0].reason == "customer's police report"
    store.close()


def test_the_pack_renders_in_chromium(carrier: Carrier, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    shutil.copyfile(carrier.db, db)
    store = Store.open(path=db)
    # the case with the largest charges: an attack that got through in part
    best = max(
        (collect_evidence(store, cid) for cid, _ in _victim_cases(carrier, store)),
        key=lambda p: p.totals()["charge_jpy"],
    )
    assert best.totals()["charge_jpy"] > 0
    done = export_case(store, best.case.id, by="test", out_dir=tmp_path / "pack",
                       carrier="Example Telecom")  # fmt: skip
    store.close()
    html_path = done.paths[0]
    chromium = _chromium()
    png = tmp_path / "pack.png"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={png}", "--window-size=1280,2000", html_path.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert png.exists(), f"no screenshot; chromium said: {proc.stderr[-2000:]}"
    with Image.open(png) as image:
        assert image.size == (1280, 2000)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50
        present = {colour for _count, colour in colours}
        assert (0xDC, 0x26, 0x26) in present  # the cumulative charges line
        assert (0xDB, 0xEA, 0xFE) in present  # the "action" tags of the timeline
    if os.environ.get("TOLLGUARD_SAVE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, SCREENSHOT)
