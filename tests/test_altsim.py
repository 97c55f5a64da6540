"""The independent generator ``bench.altsim``: deterministic, readable, consistently labelled."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from random import Random

import iptocc
import pytest
from bench.altsim import Config, generate
from bench.altsim.netaddr import POOLS, random_ip

from tests.test_simulate import FILES  # the same contract: the files of a simulated data set
from tollguard.adapters.readers import (
    ReadSummary,
    read_cdrs,
    read_sip_events,
    read_subscribers,
)
from tollguard.app.backtest import load_truth
from tollguard.domain.numbering import NumberClassifier

SMALL = Config(subscribers=260, days=12, seed=5, start=date(2026, 9, 14), attacks_from_day=6)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("altsim") / "a"
    generate(SMALL, out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_same_bytes(data: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    generate(SMALL, again)
    for name in FILES:
        assert (data / name).read_bytes() == (again / name).read_bytes(), name


def test_other_seed_other_data(data: Path, tmp_path: Path) -> None:
    other = tmp_path / "c"
    generate(Config(subscribers=60, days=5, seed=6), other)
    assert (data / "cdrs.csv").read_bytes() != (other / "cdrs.csv").read_bytes()


def test_readers_accept_every_row(data: Path) -> None:
    for name, reader in (
        ("subscribers.csv", read_subscribers),
        ("cdrs.csv", read_cdrs),
        ("sip_events.csv", read_sip_events),
    ):
        summary = ReadSummary()
        for _ in reader(data / name, summary=summary):
            pass
        assert summary.rows_read > 0, name
        assert summary.quarantined == 0, name
        assert summary.accepted == summary.rows_read, name


def test_sorted_and_offset(data: Path) -> None:
    cdrs = _rows(data / "cdrs.csv")
    starts = [datetime.fromisoformat(r["start"]) for r in cdrs]
    assert starts == sorted(starts)
    assert all(r["start"].endswith("+09:00") for r in cdrs)
    events = _rows(data / "sip_events.csv")
    times = [datetime.fromisoformat(r["time"]) for r in events]
    assert times == sorted(times)


def test_labels_consistent(data: Path) -> None:
    cdrs = {r["call_id"]: r for r in _rows(data / "cdrs.csv")}
    subscribers = {r["subscriber_id"] for r in _rows(data / "subscribers.csv")}
    incidents = {r["incident_id"]: r for r in _rows(data / "truth/incidents.csv")}
    fraud = _rows(data / "truth/fraud_calls.csv")
    assert incidents and fraud
    assert all(f["call_id"] in cdrs for f in fraud)
    assert {f["incident_id"] for f in fraud} == set(incidents)
    for f in fraud:
        listed = incidents[f["incident_id"]]["subscriber_ids"].split(";")
        assert cdrs[f["call_id"]]["subscriber_id"] in listed
    for inc in incidents.values():
        assert set(inc["subscriber_ids"].split(";")) <= subscribers
        assert inc["countries"]
        assert datetime.fromisoformat(inc["start"]) <= datetime.fromisoformat(inc["end"])
    lookalikes = _rows(data / "truth/lookalikes.csv")
    assert lookalikes and {r["subscriber_id"] for r in lookalikes} <= subscribers
    truth = load_truth(data)
    assert len(truth.incidents) == len(incidents)
    assert len(truth.fraud_calls) == len(fraud)
    assert json.loads((data / "truth/meta.json").read_text())["days"] == SMALL.days


def test_callees_normalise(data: Path) -> None:
    classifier = NumberClassifier()
    for row in _rows(data / "cdrs.csv"):
        assert classifier.classify(row["callee"]).e164 is not None, row["callee"]


def test_no_attacks_when_scale_zero(tmp_path: Path) -> None:
    out = tmp_path / "d"
    generate(Config(subscribers=80, days=4, seed=2, attack_scale=0), out)
    assert _rows(out / "truth/incidents.csv") == []
    assert _rows(out / "truth/fraud_calls.csv") == []


def test_ip_pools_match_registries() -> None:
    rng = Random(7)
    for name, pool in POOLS.items():
        addresses = [random_ip(rng, name) for _ in range(40)]
        assert set(iptocc.country_code(addresses)) == {pool.country}, name
