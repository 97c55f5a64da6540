"""The cross-customer windows of ``tollguard spark run``: counted by Spark's event-time windowed
aggregation, decided by the embedded engine's policy code on the driver.

The first tests need no Spark: what an attempt counts in, that the driver's counts rebuilt from
the aggregation's rows (each customer's first and last attempt per window) equal the embedded
engine's trailing-window counts at every attempt, and that the driver decides from those rows.
The last one runs the streaming query (Spark ``local[1]``) and reads its plan and progress.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.engine_support import CU, DOMESTIC, US, Traffic, actions, at, customer, run
from tollguard.app.spark.carrier import Carrier
from tollguard.app.spark.customer import (
    ADDRESS_WINDOW,
    COUNTRY_WINDOW,
    FAILS,
    OBS,
    SIP,
    WIN,
    CustomerRunner,
    make_setup,
)
from tollguard.domain.config import EngineConfig
from tollguard.domain.detectors.base import DistinctInWindow
from tollguard.domain.detectors.sip_auth_flood import SipAuthFlood
from tollguard.domain.events import Action, ActionKind, CallStarted, SipEvent
from tollguard.domain.records import Segment, Service, SipEventKind

FOREIGN_IP = "185.220.101.5"


def test_an_attempt_counts_in_its_country_and_an_ip_lines_public_address() -> None:
    subs = [customer("ip"), customer("pstn", Segment.RESIDENTIAL, Service.PSTN)]
    runner = CustomerRunner(make_setup(subs))
    t = at(3, 10)
    assert runner.window_keys("ip", CU, FOREIGN_IP, t) == [
        (COUNTRY_WINDOW, "CU"),
        (ADDRESS_WINDOW, FOREIGN_IP),
    ]
    assert runner.window_keys("pstn", CU, FOREIGN_IP, t) == [(COUNTRY_WINDOW, "CU")]
    assert runner.window_keys("ip", CU, "10.1.2.3", t) == [(COUNTRY_WINDOW, "CU")]
    assert runner.window_keys("ip", DOMESTIC, FOREIGN_IP, t) == []


def _aggregate(
    attempts: list[tuple[float, str]], length: float
) -> list[tuple[float, str, str, str]]:
    """What the windowed aggregation emits for one subject: per window of ``length`` seconds
    (epoch-aligned, as Spark's ``window``) and customer, its first and last attempt."""
    spans: dict[tuple[float, str], list[float]] = {}
    for t, member in attempts:
        span = spans.setdefault((t - t % length, member), [t, t])
        span[0], span[1] = min(span[0], t), max(span[1], t)
    rows = set()
    for (_, member), (first, last) in spans.items():
        rows |= {(first, COUNTRY_WINDOW, "CU", member), (last, COUNTRY_WINDOW, "CU", member)}
    return sorted(rows)


@pytest.mark.parametrize("seed", range(5))
def test_counts_rebuilt_from_the_aggregation_equal_the_trailing_windows(
    seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    config = EngineConfig()
    window = config.country_burst.window_s
    carrier = Carrier(make_setup([customer(f"c{i}") for i in range(8)], config), tmp_path)
    attempts: list[tuple[float, str]] = []
    t = at(0, 0)
    for _ in range(300):  # bursts and lulls, around window boundaries
        t += rng.choice([1.0, 30.0, 400.0, 1800.0, 3599.0, 3600.0, 5000.0])
        attempts.append((t, f"c{rng.randrange(8)}"))
    rows = _aggregate(attempts, window)
    embedded = DistinctInWindow()
    fed = carrier.policy.country_burst
    i = 0
    for t, member in attempts:
        while i < len(rows) and rows[i][0] <= t:
            first, detector, subject, who = rows[i]
            carrier._window(first, (detector, subject, who))
            i += 1
        n = embedded.learn_one(t, "CU", member, window)
        assert fed.count("CU", t, window) == n, t


def _shared_address_attack() -> tuple[list[Any], list[tuple[float, str, str]]]:
    subs = [customer(f"v{i}") for i in range(3)]
    return subs, [(at(3, 2) + 60 * i, f"v{i}", CU) for i in range(3)]


def test_the_embedded_engine_blocks_an_address_shared_by_three_customers() -> None:
    subs, attempts = _shared_address_attack()
    tr = Traffic()
    for t, sid, callee in attempts:
        tr.call(sid, t, callee, 600, FOREIGN_IP)
    _, out = run(subs, tr.ordered())
    assert [(a.ip, a.time) for a in actions(out, ActionKind.BLOCK_IP)] == [
        (FOREIGN_IP, attempts[-1][0])
    ]


@pytest.mark.parametrize("with_windows", [True, False])
def test_the_driver_decides_from_the_windows_spark_counted(
    with_windows: bool, tmp_path: Path
) -> None:
    subs, attempts = _shared_address_attack()
    setup = make_setup(subs)
    carrier = Carrier(setup, tmp_path)
    runner = CustomerRunner(setup)
    rows: list[tuple[str, float, Any]] = []
    for t, sid, callee in attempts:
        if with_windows:
            for detector, subject in runner.window_keys(sid, callee, FOREIGN_IP, t):
                rows.append((WIN, t, (detector, subject, sid)))
        ctx = carrier.engine.enrich(CallStarted(t, f"{sid}-1", sid, callee, FOREIGN_IP), t)
        rows.append((OBS, t, (ctx, True)))
    blocks = [
        (o.ip, o.time)
        for o in carrier.process(rows).outputs
        if isinstance(o, Action) and o.action is ActionKind.BLOCK_IP
    ]
    # the attempts alone count nothing on the driver: the windows come from the aggregation
    assert blocks == ([(FOREIGN_IP, attempts[-1][0])] if with_windows else [])


def test_an_address_key_counts_failures_in_the_flood_window_and_forgets_idle_ones(
    tmp_path: Path,
) -> None:
    subs = [customer("pbx")]
    setup = make_setup(subs)
    runner = CustomerRunner(setup)
    window = setup.config.sip_flood.window_s
    t0 = at(8, 3)
    scan = [
        SipEvent(t0 + i, FOREIGN_IP, f"{100 + i % 8}", SipEventKind.AUTH_FAILURE, "scanner")
        for i in range(40)
    ]
    # the embedded engine's detector over the same events: where it finds the flood
    embedded = SipAuthFlood()
    cfg = setup.config.sip_flood
    found = [
        e.time
        for e in scan
        if embedded.learn_one(
            e.time, e.source_ip, e.username, e.event.value, window,
            cfg.min_failures, cfg.min_usernames, cfg.single_user_failures,
        )
    ]  # fmt: skip
    state, rows, wake = runner.run_address(FOREIGN_IP, None, scan[:25], t0)
    _, later, _ = runner.run_address(FOREIGN_IP, state, scan[25:], t0 + 25)
    floods = [(t, payload) for kind, t, payload in rows + later if kind == SIP]
    assert [(t, ev.reason) for t, (_, ev) in floods] == [(found[0], "sip_auth_flood")]
    assert (FAILS, scan[24].time, (FOREIGN_IP, 25)) in rows
    assert wake is None  # flagged: kept, as the embedded engine keeps it

    # the carrier acts on the key's finding with the embedded engine's decision
    carrier = Carrier(setup, tmp_path)
    out = carrier.process([(SIP, t, payload) for t, payload in floods]).outputs
    blocks = [
        (o.ip, o.time) for o in out if isinstance(o, Action) and o.action is ActionKind.BLOCK_IP
    ]
    assert blocks == [(FOREIGN_IP, found[0])]

    # a few failures, then a window of quiet: the key forgets the address
    few = [dataclasses.replace(e, source_ip="198.51.100.9") for e in scan[:5]]
    state, rows, wake = runner.run_address("198.51.100.9", None, few, t0)
    assert rows == [] and wake == few[-1].time + window
    state, rows, wake = runner.run_address("198.51.100.9", state, [], few[-1].time + window)
    assert state is None and wake is None


@pytest.mark.slow
def test_the_streaming_query_aggregates_windows_under_the_watermark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17): `java` is not on PATH")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("PySpark is not installed: pip install 'tollguard[spark]'")
    from tollguard.app.spark import job as spark_job
    from tollguard.app.spark.files import heartbeat

    subs, attempts = _shared_address_attack()
    subs.append(customer("home"))
    sim = tmp_path / "sim"
    sim.mkdir()
    cdrs = sim / "cdrs.csv"
    lines = ["call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip"]
    calls = [*attempts, (at(3, 5), "home", US), (at(3, 9), "home", DOMESTIC)]
    for n, (t, sid, callee) in enumerate(sorted(calls)):
        ip = FOREIGN_IP if sid != "home" else "203.0.113.10"
        start, end = _iso(t), _iso(t + 600)
        lines.append(f"c{n},{sid},+81355550001,{callee},{start},{start},{end},answered,{ip}")
    cdrs.write_text("\n".join(lines) + "\n")

    spark = spark_job.session(
        "local[1]", 1, **{"spark.sql.streaming.noDataMicroBatches.enabled": "false"}
    )
    cdr_dir, sip_dir = tmp_path / "in" / "cdrs", tmp_path / "in" / "sip"
    running = spark_job.start_stream(
        spark,
        make_setup(subs),
        cdr_dir=cdr_dir,
        sip_dir=sip_dir,
        work_dir=tmp_path / "work",
        out_dir=tmp_path / "out",
        watermark_delay="2 minutes",
    )
    try:
        spark_job.feed_slices(running, cdrs, None, cdr_dir, sip_dir, 3600.0)
        capsys.readouterr()
        running.query.explain()
        plan = capsys.readouterr().out
        # far past every window: the aggregation's state is dropped
        heartbeat(sip_dir, "tick-late.csv", at(5, 0))
        running.process_available()
        heartbeat(sip_dir, "tick-later.csv", at(5, 1))
        running.process_available()
        progress = running.query.lastProgress
    finally:
        running.stop()

    assert "EventTimeWatermark" in plan and "2 minutes" in plan
    assert "StateStoreSave [window" in plan  # groupBy(window(ts, ...), key, member)
    assert "FlatMapGroupsInPandasWithState" in plan
    assert progress["eventTime"]["watermark"] == _iso_z(at(5, 0) - 120)
    aggregation = [s for s in progress["stateOperators"] if s["operatorName"] == "stateStoreSave"]
    assert len(aggregation) == 1 and aggregation[0]["numRowsTotal"] == 0
    # the carrier decided from the aggregation's windows, at the embedded engine's time
    lines = [line for p in sorted((tmp_path / "out").glob("*.jsonl")) for line in p.open()]
    blocks = [
        (d["ip"], d["time"], d["evidence"]["customers"])
        for d in map(json.loads, lines)
        if d.get("action") == "block_ip"
    ]
    assert [(ip, n) for ip, _, n in blocks] == [(FOREIGN_IP, 3)]
    assert datetime.fromisoformat(blocks[0][1]).timestamp() == attempts[-1][0]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _iso_z(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
