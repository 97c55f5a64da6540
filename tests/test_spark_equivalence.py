"""The Spark job and the embedded engine take the same actions on simulated traffic.

300 customers x 7 days with attacks (seed 1: low-and-slow, SIP scanner, a three-account campaign
with a range burst, a daytime business attack with a suspension, Wangiri, PBX break-ins, a SIP
brute force) are replayed by the embedded engine (``tollguard replay``'s code) and fed to the
streaming job (Spark ``local[1]``, UI off) as a watched folder, one two-hour slice of CDRs and SIP
events per micro-batch. For every customer, and for each carrier-wide control (by address, range
or country), the set of actions is the same, and each action's time differs by less than one
micro-batch interval (``STEP_S``). The actions also reach the service's store as controls, so
``tollguard serve`` enforces them. About two minutes on two cores (one Spark session).
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tollguard.adapters.store import Store
from tollguard.app.replay import OutputFormatter, load_calls, run_outputs
from tollguard.app.simulate import SimulationConfig, simulate
from tollguard.domain.engine import Engine
from tollguard.domain.events import Action

pytestmark = pytest.mark.slow

#: Event time per micro-batch: the bound on timing differences.
STEP_S = 7200.0

Key = tuple[str, str | None, str | None, str | None]


def _spark_or_skip() -> None:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17): `java` is not on PATH")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("PySpark is not installed: pip install 'tollguard[spark]'")


def _by_owner(actions: list[dict[str, Any]]) -> dict[str, list[tuple[Key, float]]]:
    """Actions per customer, and per carrier-wide subject (address, range, country)."""
    owners: dict[str, list[tuple[Key, float]]] = defaultdict(list)
    for a in actions:
        sid = a.get("subscriber_id")
        owner = sid or "carrier:" + str(a.get("ip") or a.get("prefix") or a.get("country"))
        key = (a["action"], a.get("country"), a.get("prefix"), a.get("ip"))
        owners[owner].append((key, datetime.fromisoformat(a["time"]).timestamp()))
    return {k: sorted(v) for k, v in owners.items()}


def _actions(lines: list[str]) -> list[dict[str, Any]]:
    return [d for d in map(json.loads, lines) if d.get("kind") == "action"]


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spark") / "sim"
    simulate(SimulationConfig(subscribers=300, days=7, seed=1), out)
    return out


def test_spark_job_takes_the_embedded_engines_actions(carrier: Path, tmp_path: Path) -> None:
    _spark_or_skip()
    from tollguard.app.spark import job as spark_job
    from tollguard.app.spark.customer import make_setup

    # the embedded engine
    replay = load_calls(
        carrier / "subscribers.csv", carrier / "cdrs.csv", carrier / "sip_events.csv"
    )
    engine = Engine(replay.subscribers)
    fmt = OutputFormatter(engine.config.timezone)
    embedded = [fmt.line(o) for o in run_outputs(engine, replay) if isinstance(o, Action)]

    # the Spark job over a watched folder, one slice per micro-batch
    spark = spark_job.session(
        "local[1]", 1, **{"spark.sql.streaming.noDataMicroBatches.enabled": "false"}
    )
    db = f"sqlite:///{tmp_path / 'service.sqlite'}"
    cdr_dir, sip_dir = tmp_path / "in" / "cdrs", tmp_path / "in" / "sip"
    running = spark_job.start_stream(
        spark,
        make_setup(replay.subscribers),
        cdr_dir=cdr_dir,
        sip_dir=sip_dir,
        work_dir=tmp_path / "work",
        out_dir=tmp_path / "out",
        db_url=db,
    )
    try:
        slices = spark_job.feed_slices(
            running, carrier / "cdrs.csv", carrier / "sip_events.csv", cdr_dir, sip_dir, STEP_S
        )
    finally:
        running.stop()
    assert slices >= 7 * 24 * 3600 / STEP_S
    lines = [line for p in sorted((tmp_path / "out").glob("*.jsonl")) for line in p.open()]

    want, got = _by_owner(_actions(embedded)), _by_owner(_actions(lines))
    assert any(k.startswith("carrier:") for k in want)  # cross-customer measures are covered
    assert sum(1 for k in want if not k.startswith("carrier:")) >= 5
    assert sorted(want) == sorted(got)
    for owner, actions in want.items():
        theirs = got[owner]
        assert [k for k, _ in actions] == [k for k, _ in theirs], owner
        for (key, t_embedded), (_, t_spark) in zip(actions, theirs, strict=True):
            assert abs(t_embedded - t_spark) < STEP_S, (owner, key)

    # the store holds them as the live service writes them: tollguard serve enforces them
    suspended = [k for k, v in want.items() if any(a[0][0] == "suspend_international" for a in v)]
    assert suspended
    with Store.open(db) as store:
        at = datetime.now(UTC)
        for sid in suspended:
            assert store.active_controls(at, kind="suspension", subject=sid), sid
        assert store.verify_audit_chain()[0]
