"""Backtest scoring on small hand-made data directories and replay outputs."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tollguard.app.backtest import BacktestResult, load_truth, score, score_policies
from tollguard.app.backtest.report import write_summary

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 3, 6, 22, 0, tzinfo=JST)  # a Friday night


def at(minutes: float) -> datetime:
    """T0 plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat()


class FlatRater:
    """A tariff with one rate per country code, billed per second (exact expectations)."""

    RATES_PER_MINUTE: ClassVar[dict[str, float]] = {
        "+232": 120.0,
        "+882": 300.0,
        "+1": 10.0,
        "+44": 20.0,
        "+81": 3.0,
    }

    def e164(self, raw: str) -> str | None:
        if raw.startswith("+"):
            return raw
        if raw.startswith("010"):
            return "+" + raw[3:]
        if raw.startswith("0"):
            return "+81" + raw[1:]
        return None

    def charge(self, e164: str, seconds: float) -> float:
        for prefix in sorted(self.RATES_PER_MINUTE, key=len, reverse=True):
            if e164.startswith(prefix):
                return self.RATES_PER_MINUTE[prefix] * seconds / 60.0
        return 0.0


RATER = FlatRater()

# One CDR: call_id, subscriber_id, callee, start (min), answer (min or None), end (min), source_ip
Cdr = tuple[str, str, str, float, float | None, float, str]


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def build_dataset(
    root: Path,
    cdrs: Sequence[Cdr],
    incidents: Sequence[dict[str, Any]],
    fraud: dict[str, str],
    lookalikes: Sequence[tuple[str, str]] = (),
    subscribers: Sequence[str] = ("S1", "S2", "S3", "S4"),
    barred: Sequence[str] = (),
) -> Path:
    """Write a data directory in the ``tollguard simulate`` layout."""
    _write_csv(
        root / "subscribers.csv",
        ["subscriber_id", "segment", "service", "numbers", "email", "intl_status", "equipment"],
        [
            [
                s,
                "business",
                "ip",
                f"+8135550{i:04d}",
                f"{s.lower()}@example.jp",
                "suspended" if s in barred else "enabled",
                "",
            ]
            for i, s in enumerate(subscribers)
        ],
    )
    rows = []
    for call_id, sub, callee, start, answer, end, ip in cdrs:
        rows.append(
            [
                call_id,
                sub,
                "+81355500000",
                callee,
                iso(at(start)),
                "" if answer is None else iso(at(answer)),
                iso(at(end)),
                "NO ANSWER" if answer is None else "ANSWERED",
                ip,
            ]
        )
    _write_csv(
        root / "cdrs.csv",
        [
            "call_id",
            "subscriber_id",
            "caller",
            "callee",
            "start",
            "answer",
            "end",
            "disposition",
            "source_ip",
        ],
        rows,
    )
    _write_csv(
        root / "sip_events.csv", ["time", "source_ip", "username", "event", "user_agent"], []
    )
    _write_csv(
        root / "truth" / "incidents.csv",
        [
            "incident_id",
            "kind",
            "subscriber_ids",
            "start",
            "end",
            "source_ips",
            "countries",
            "description",
        ],
        [
            [
                inc["id"],
                inc.get("kind", "pbx_hijack"),
                ";".join(inc["subs"]),
                iso(at(inc["start"])),
                iso(at(inc["end"])),
                ";".join(inc.get("ips", ())),
                ";".join(inc.get("countries", ())),
                inc.get("description", "hand-made"),
            ]
            for inc in incidents
        ],
    )
    _write_csv(root / "truth" / "fraud_calls.csv", ["call_id", "incident_id"], fraud.items())
    _write_csv(
        root / "truth" / "lookalikes.csv",
        ["subscriber_id", "kind", "start", "end", "description"],
        [[sub, kind, iso(at(0)), iso(at(600)), "legit but odd"] for sub, kind in lookalikes],
    )
    (root / "truth" / "meta.json").write_text(json.dumps({"seed": 1}), encoding="utf-8")
    return root


def call(minutes: float, call_id: str, decision: str = "allow") -> dict[str, Any]:
    return {
        "time": iso(at(minutes)),
        "kind": "call",
        "call_id": call_id,
        "decision": decision,
        "reasons": [] if decision == "allow" else ["test"],
    }


def terminate(minutes: float, call_id: str) -> dict[str, Any]:
    return {"time": iso(at(minutes)), "kind": "terminate", "call_id": call_id, "reason": "test"}


def action(minutes: float, name: str, **fields: Any) -> dict[str, Any]:
    return {"time": iso(at(minutes)), "kind": "action", "action": name, **fields}


def alert(moment: datetime, detector: str = "spike", severity: str = "high") -> dict[str, Any]:
    return {
        "time": iso(moment),
        "kind": "alert",
        "detector": detector,
        "severity": severity,
        "subscriber_id": "S1",
        "evidence": {},
    }


# A standard small case: incident I1 on S1 (three 10-minute calls to Sierra Leone, +232 at
# 120 JPY/min = 1200 JPY each), incident I2 on S2 (one call to +882 at 300 JPY/min, 5 min = 1500),
# legitimate calls from S3 (international and domestic) and from look-alike S4.
CDRS: list[Cdr] = [
    ("F1", "S1", "+23276000001", 0, 0.5, 10.5, "198.51.100.7"),
    ("F2", "S1", "+23276000002", 1, 1.5, 11.5, "198.51.100.7"),
    ("F3", "S1", "01023276000003", 2, 2.5, 12.5, "198.51.100.7"),
    ("F4", "S2", "+88213000001", 60, 61, 66, "203.0.113.9"),
    ("L1", "S3", "+12025550100", 5, 6, 16, "192.0.2.10"),
    ("L2", "S3", "0312345678", 7, 7.5, 9, "192.0.2.10"),
    ("L3", "S3", "+441632960000", 8, None, 9, "192.0.2.10"),
    ("L4", "S4", "+23276000099", 20, 21, 51, "192.0.2.44"),
    ("L5", "S4", "+23276000098", 70, 71, 81, "192.0.2.44"),
]
INCIDENTS = [
    {
        "id": "I1",
        "subs": ["S1"],
        "start": -30,
        "end": 13,
        "ips": ["198.51.100.7"],
        "countries": ["SL"],
    },
    {
        "id": "I2",
        "subs": ["S2"],
        "start": 59,
        "end": 66,
        "ips": ["203.0.113.9"],
        "countries": ["882"],
    },
]
FRAUD = {"F1": "I1", "F2": "I1", "F3": "I1", "F4": "I2"}


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return build_dataset(
        tmp_path / "data", CDRS, INCIDENTS, FRAUD, lookalikes=[("S4", "heavy_intl_caller")]
    )


def allow_all(except_: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """A call record for every CDR, allowed unless overridden."""
    overrides = except_ or {}
    return [overrides.get(c[0], call(c[3], c[0])) for c in CDRS]


def test_no_control_loss_is_full_billable_time(data_dir: Path) -> None:
    result = score(data_dir, allow_all(), rater=RATER)
    none = result.policies["none"]
    assert none.loss_uncontrolled == pytest.approx(3 * 1200 + 1500)
    assert none.loss == pytest.approx(none.loss_uncontrolled)
    assert none.prevented_pct == pytest.approx(0.0)
    # allowing everything prevents nothing either
    assert result.policies["tollguard"].loss == pytest.approx(5100)
    assert result.policies["tollguard"].calls_without_decision == 0
    assert result.policies["none"].calls_without_decision == len(CDRS)


def test_denied_fraud_call_costs_nothing(data_dir: Path) -> None:
    outputs = allow_all({"F4": call(60, "F4", "deny")})
    result = score(data_dir, outputs, rater=RATER)
    policy = result.policies["tollguard"]
    i2 = next(inc for inc in policy.incidents if inc.incident_id == "I2")
    assert i2.loss_uncontrolled == pytest.approx(1500)
    assert i2.loss == 0
    assert i2.prevented_pct == pytest.approx(100.0)
    assert i2.calls_denied == 1
    assert i2.stop is not None and i2.stop.action == "deny" and i2.stop.target == "F4"
    assert i2.time_to_stop_s == 0
    assert policy.loss == pytest.approx(3600)
    assert policy.prevented_pct == pytest.approx(100 * 1500 / 5100)


def test_terminate_mid_call_bills_until_the_cut(data_dir: Path) -> None:
    # F1 answered at 0.5, cut at 2.5: 2 minutes at 120 JPY/min = 240 instead of 1200.
    outputs = [*allow_all(), terminate(2.5, "F1")]
    policy = score(data_dir, outputs, rater=RATER).policies["tollguard"]
    i1 = next(inc for inc in policy.incidents if inc.incident_id == "I1")
    assert i1.loss == pytest.approx(240 + 1200 + 1200)
    assert i1.calls_cut == 1
    assert i1.stop is not None and i1.stop.action == "terminate"
    assert i1.time_to_stop_s == pytest.approx(150.0)


def test_terminate_before_answer_or_after_end(data_dir: Path) -> None:
    outputs = [*allow_all(), terminate(0.2, "F1"), terminate(70, "F2")]
    i1 = score(data_dir, outputs, rater=RATER).policies["tollguard"].incidents[0]
    # F1 cut before answer: nothing billed; F2 "cut" after it ended: billed as recorded.
    assert i1.loss == pytest.approx(0 + 1200 + 1200)


def test_japanese_dialled_fraud_call_is_priced(data_dir: Path) -> None:
    # F3 was dialled 010 232…: it must be priced like +232.
    outputs = allow_all({"F1": call(0, "F1", "deny"), "F2": call(1, "F2", "deny")})
    i1 = score(data_dir, outputs, rater=RATER).policies["tollguard"].incidents[0]
    assert i1.loss == pytest.approx(1200)


def test_stopping_actions_match_incident(data_dir: Path) -> None:
    outputs = [
        *allow_all(),
        action(3, "block_ip", ip="198.51.100.250"),  # not this incident's IP
        action(4, "restrict_country", country="GB"),  # not its country
        action(5, "block_ip", ip="198.51.100.7"),
        action(62, "restrict_country", country="+882"),
    ]
    policy = score(data_dir, outputs, rater=RATER).policies["tollguard"]
    i1, i2 = policy.incidents
    assert i1.stop is not None and (i1.stop.action, i1.stop.target) == ("block_ip", "198.51.100.7")
    assert i1.time_to_stop_s == pytest.approx(300.0)
    assert i2.stop is not None and i2.stop.action == "restrict_country"
    assert i2.time_to_stop_s == pytest.approx(120.0)
    # actions do not change what the recorded calls cost: only deny/terminate do
    assert policy.loss == pytest.approx(5100)


def test_country_matched_from_dialled_destinations(data_dir: Path) -> None:
    # I1 lists "SL"; a restriction by calling code 232 also matches through its calls.
    outputs = [*allow_all(), action(1, "deny_destination", prefix="+23276")]
    i1 = score(data_dir, outputs, rater=RATER).policies["tollguard"].incidents[0]
    assert i1.stop is not None and i1.stop.action == "deny_destination"
    outputs = [*allow_all(), action(1, "restrict_country", country="232")]
    i1 = score(data_dir, outputs, rater=RATER).policies["tollguard"].incidents[0]
    assert i1.stop is not None and i1.stop.target == "232"


def test_legit_customer_suspended_is_counted(data_dir: Path) -> None:
    outputs = [
        *allow_all({"L5": call(70, "L5", "deny")}),
        action(11, "suspend_international", subscriber_id="S1", reason="fraud"),  # under attack
        action(40, "suspend_international", subscriber_id="S4", reason="spike"),  # look-alike
        action(45, "suspend_international", subscriber_id="S3", until=iso(at(105)), reason="x"),
        action(90, "restore_international", subscriber_id="S4"),
        action(200, "suspend_international", subscriber_id="S1", reason="late"),  # within grace
    ]
    policy = score(data_dir, outputs, rater=RATER).policies["tollguard"]
    assert policy.legit_suspended_customers == ["S3", "S4"]
    s4 = next(s for s in policy.legit_suspended if s.subscriber_id == "S4")
    assert s4.lookalike and s4.restored == at(90)
    s3 = next(s for s in policy.legit_suspended if s.subscriber_id == "S3")
    assert not s3.lookalike and s3.restored == at(105)
    look = policy.lookalikes[0]
    assert (look.subscriber_id, look.calls, look.international_calls) == ("S4", 2, 2)
    assert look.denied == 1 and look.suspended
    assert policy.lookalike_calls_denied == 1
    i1 = policy.incidents[0]
    assert i1.stop is not None and i1.stop.action == "suspend_international"


def test_suspension_long_after_incident_is_legit(data_dir: Path) -> None:
    outputs = [*allow_all(), action(13 + 25 * 60, "suspend_international", subscriber_id="S1")]
    result = score(data_dir, outputs, rater=RATER)
    assert result.policies["tollguard"].legit_suspended_customers == ["S1"]


def test_legit_international_calls_denied_or_cut(data_dir: Path) -> None:
    outputs = [
        *allow_all({"L1": call(5, "L1", "deny"), "L2": call(7, "L2", "deny")}),
        terminate(30, "L4"),
    ]
    policy = score(data_dir, outputs, rater=RATER).policies["tollguard"]
    # international legit attempts: L1 (+1), L3 (+44, unanswered), L4, L5 (+232); L2 is domestic
    assert policy.legit_intl_attempts == 4
    assert policy.legit_intl_denied == 1
    assert policy.legit_intl_cut == 1
    assert policy.legit_intl_impacted_pct == pytest.approx(50.0)
    assert policy.legit_calls_denied == 2  # the domestic one counts among all legit calls
    assert policy.lookalikes[0].cut == 1


def test_median_time_to_stop_counts_unstopped_as_never(tmp_path: Path) -> None:
    cdrs: list[Cdr] = [
        (f"F{i}", f"S{i}", "+23276000001", 100 * i, 100 * i + 1, 100 * i + 20, "198.51.100.1")
        for i in range(1, 4)
    ]
    incidents = [
        {"id": f"I{i}", "subs": [f"S{i}"], "start": 100 * i, "end": 100 * i + 20}
        for i in range(1, 4)
    ]
    fraud = {f"F{i}": f"I{i}" for i in range(1, 4)}
    data = build_dataset(tmp_path / "d", cdrs, incidents, fraud)
    allow = [call(c[3], c[0]) for c in cdrs]
    stop_two = [
        *allow,
        action(101, "suspend_international", subscriber_id="S1"),
        action(203, "suspend_international", subscriber_id="S2"),
    ]
    stop_all = [*stop_two, action(305, "suspend_international", subscriber_id="S3")]
    result = score_policies(data, {"two": stop_two, "all": stop_all, "one": allow[:]}, rater=RATER)
    assert result.policies["all"].median_time_to_stop_s == pytest.approx(180.0)
    # 60 s, 180 s, never: the median is 180 s
    assert result.policies["two"].median_time_to_stop_s == pytest.approx(180.0)
    assert result.policies["two"].incidents_stopped == 2
    # never, never, never
    assert result.policies["one"].median_time_to_stop_s is None
    assert result.policies["none"].median_time_to_stop_s is None


def test_alerts_per_day(data_dir: Path) -> None:
    day2 = T0 + timedelta(days=1)
    outputs = [*allow_all(), alert(at(1)), alert(at(2), "ip"), alert(day2, severity="low")]
    policy = score(data_dir, outputs, rater=RATER).policies["tollguard"]
    assert policy.days == 1  # all calls start on 2026-03-06 (JST)
    assert policy.alerts_total == 3
    assert policy.alerts_by_day == {"2026-03-06": 2, "2026-03-07": 1}
    assert policy.alerts_by_detector == {"ip": 1, "spike": 2}
    assert policy.alerts_per_day == pytest.approx(3.0)


def test_alerts_per_day_over_several_days(tmp_path: Path) -> None:
    cdrs: list[Cdr] = [
        ("L1", "S1", "+12025550100", 0, 1, 2, ""),
        ("L2", "S1", "+12025550100", 3 * 24 * 60, None, 3 * 24 * 60 + 1, ""),
    ]
    data = build_dataset(tmp_path / "d", cdrs, [], {})
    outputs = [alert(at(day * 24 * 60)) for day in (0, 0, 1, 3, 3, 3)]
    policy = score(data, outputs, rater=RATER).policies["tollguard"]
    assert policy.days == 4
    assert policy.alerts_by_day == {
        "2026-03-06": 2,
        "2026-03-07": 1,
        "2026-03-08": 0,
        "2026-03-09": 3,
    }
    assert policy.alerts_per_day == pytest.approx(1.5)


def test_heatmap_by_weekday_and_hour(data_dir: Path) -> None:
    result = score(data_dir, allow_all(), rater=RATER)
    # Friday (4) 22:00 JST: F1..F3; Friday 23:00: F4
    assert result.heatmap_calls[4][22] == 3
    assert result.heatmap_calls[4][23] == 1
    assert sum(map(sum, result.heatmap_calls)) == 4
    # I1 starts at 21:30, I2 at 22:59
    assert result.heatmap_incidents[4][21] == 1 and result.heatmap_incidents[4][22] == 1


def _full_outputs() -> list[dict[str, Any]]:
    return [
        *allow_all({"F2": call(1, "F2", "deny"), "L1": call(5, "L1", "deny")}),
        terminate(2.5, "F1"),
        action(2.5, "suspend_international", subscriber_id="S1", reason="fraud"),
        action(45, "suspend_international", subscriber_id="S3", reason="spike"),
        alert(at(1)),
        alert(at(61), "destination", "medium"),
    ]


def test_summary_json_is_deterministic(data_dir: Path, tmp_path: Path) -> None:
    truth = load_truth(data_dir)
    first = score_policies(
        truth, {"tollguard": _full_outputs(), "reference": allow_all()}, rater=RATER
    )
    again = score_policies(
        data_dir, {"tollguard": _full_outputs(), "reference": allow_all()}, rater=RATER
    )
    a = write_summary(first, tmp_path / "a" / "summary.json")
    b = write_summary(again, tmp_path / "b" / "summary.json")
    assert a.read_bytes() == b.read_bytes()
    summary = json.loads(a.read_text(encoding="utf-8"))
    assert summary["policy_order"] == ["none", "tollguard", "reference"]
    tg = summary["policies"]["tollguard"]
    # F1 cut after 2 min (240), F2 denied (0), F3 full (1200), F4 full (1500)
    assert tg["fraud_loss_jpy"] == pytest.approx(2940.0)
    assert tg["legit_customers_suspended_ids"] == ["S3"]
    assert tg["legit_intl_denied"] == 1
    text = a.read_text(encoding="utf-8")
    assert text == json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_summary_independent_of_output_order(data_dir: Path, tmp_path: Path) -> None:
    outputs = _full_outputs()
    forward = score(data_dir, outputs, rater=RATER)
    backward = score(data_dir, list(reversed(outputs)), rater=RATER)
    a = write_summary(forward, tmp_path / "f.json")
    b = write_summary(backward, tmp_path / "b.json")
    assert a.read_bytes() == b.read_bytes()


def _result(data_dir: Path) -> BacktestResult:
    return score_policies(
        data_dir, {"tollguard": _full_outputs(), "reference": allow_all()}, rater=RATER
    )


def test_result_loss_curve_is_cumulative(data_dir: Path) -> None:
    result = _result(data_dir)
    curve = result.policies["none"].loss_curve
    assert [round(v) for _t, v in curve] == [1200, 2400, 3600, 5100]
    assert [t for t, _v in curve] == sorted(t for t, _v in curve)
    tg = result.policies["tollguard"].loss_curve
    assert tg[0][0] == at(2.5) and tg[0][1] == pytest.approx(240.0)


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_run_backtest_from_recorded_outputs(data_dir: Path, tmp_path: Path) -> None:
    from tollguard.app.backtest.runner import run_backtest

    tg = _write_jsonl(tmp_path / "tg.jsonl", _full_outputs())
    ref = _write_jsonl(tmp_path / "ref.jsonl", allow_all())
    seen: list[str] = []

    def wrap(name: str, outputs: Iterable[Any]) -> Iterable[Any]:
        seen.append(name)
        return outputs

    result, files = run_backtest(
        data_dir,
        tmp_path / "out",
        [],
        recorded={"tollguard": tg, "reference": ref},
        rater=RATER,
        wrap=wrap,
        save_replays=True,
    )
    assert seen == ["tollguard", "reference"]
    assert list(result.policies) == ["none", "tollguard", "reference"]
    summary = json.loads(files.summary.read_text(encoding="utf-8"))
    assert summary["policies"]["tollguard"]["fraud_loss_jpy"] == pytest.approx(2940.0)
    assert summary["policies"]["reference"]["fraud_loss_prevented_pct"] == pytest.approx(0.0)
    assert files.report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    saved = [json.loads(line) for line in files.replays[0].read_text().splitlines()]
    assert saved == [dict(sorted(r.items())) for r in _full_outputs()]


class PerMinuteRater(FlatRater):
    """100 JPY a minute anywhere abroad, 0 in Japan."""

    def charge(self, e164: str, seconds: float) -> float:
        return 0.0 if e164.startswith("+81") else 100.0 * seconds / 60.0


def test_scores_a_simulated_data_set(tmp_path: Path) -> None:
    from datetime import date

    from tollguard.app.simulate import SimulationConfig, simulate

    made = simulate(
        SimulationConfig(subscribers=60, days=14, seed=5, start=date(2026, 10, 5)),
        tmp_path / "sim",
    )
    truth = load_truth(tmp_path / "sim")
    assert len(truth.calls) == made.cdrs
    assert len(truth.fraud_calls) == made.fraud_calls
    assert len(truth.incidents) == sum(made.incidents.values())
    allow = [
        {"time": iso(row.start), "kind": "call", "call_id": cid, "decision": "allow"}
        for cid, row in truth.calls.items()
    ]
    oracle = [
        {**record, "decision": "deny"} if record["call_id"] in truth.fraud_calls else record
        for record in allow
    ]
    lookalike = truth.lookalikes[0].subscriber_id
    oracle.append(action(0, "suspend_international", subscriber_id=lookalike, reason="test"))
    result = score_policies(truth, {"allow": allow, "oracle": oracle}, rater=PerMinuteRater())
    none, allowed, best = (result.policies[n] for n in ("none", "allow", "oracle"))
    assert none.days == 14
    assert none.loss_uncontrolled > 0
    assert allowed.loss == pytest.approx(none.loss_uncontrolled)
    assert best.loss == 0 and best.prevented_pct == pytest.approx(100.0)
    assert none.loss_uncontrolled == pytest.approx(sum(i.loss_uncontrolled for i in none.incidents))
    with_calls = best.incidents_with_calls
    assert with_calls and best.incidents_stopped == len(with_calls)
    assert all(inc.time_to_stop_s == 0 for inc in with_calls)
    assert best.median_time_to_stop_s == 0
    assert best.legit_intl_impacted == 0 and best.legit_intl_attempts > 0
    assert best.legit_suspended_customers == [lookalike]
    assert best.calls_without_decision == 0
    assert sum(map(sum, result.heatmap_calls)) == len(truth.fraud_calls)


def _invoke(args: list[str]) -> Any:
    from typer.testing import CliRunner

    import tollguard.commands.backtest  # noqa: F401  (registers the command)
    from tollguard.cli import app

    return CliRunner().invoke(app, ["backtest", *args])


def test_cli_scores_recorded_replays(data_dir: Path, tmp_path: Path) -> None:
    tg = _write_jsonl(tmp_path / "tg.jsonl", _full_outputs())
    ref = _write_jsonl(tmp_path / "ref.jsonl", allow_all())
    runs = []
    for out in ("one", "two"):
        result = _invoke(
            [
                "--data",
                str(data_dir),
                "--out",
                str(tmp_path / out),
                "--replay",
                f"tollguard={tg}",
                "--replay",
                f"reference={ref}",
            ]
        )
        assert result.exit_code == 0, result.output
        runs.append((tmp_path / out / "summary.json").read_bytes())
    assert runs[0] == runs[1]
    assert "Fraud loss prevented" in result.output
    summary = json.loads(runs[0])
    assert summary["policy_order"] == ["none", "tollguard", "reference"]
    policies = summary["policies"]
    # priced with the project's tariff: the no-control loss is positive, the denied and cut
    # fraud calls make tollguard's smaller, and allowing everything prevents nothing
    assert policies["none"]["fraud_loss_jpy"] > 0
    assert 0 < policies["tollguard"]["fraud_loss_prevented_pct"] < 100
    assert policies["reference"]["fraud_loss_prevented_pct"] == 0
    html = (tmp_path / "one" / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html


def test_cli_rejects_bad_replay_option(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = _invoke(["--data", str(data_dir), "--out", str(out), "--replay", "no-equals-sign"])
    assert result.exit_code != 0
    assert not out.exists()


def test_incident_without_calls_stopped_by_ip_block(tmp_path: Path) -> None:
    incidents = [
        {
            "id": "SCAN",
            "kind": "sip_scanner",
            "subs": [],
            "start": 0,
            "end": 60,
            "ips": ["203.0.113.66"],
        }
    ]
    cdrs: list[Cdr] = [("L1", "S1", "+12025550100", 5, 6, 16, "192.0.2.10")]
    data = build_dataset(tmp_path / "d", cdrs, incidents, {})
    outputs = [call(5, "L1"), action(3, "block_ip", ip="203.0.113.66")]
    result = score(data, outputs, rater=RATER)
    scan = result.policies["tollguard"].incidents[0]
    assert scan.first_call is None and scan.time_to_stop_s is None
    assert scan.stop is not None and scan.time_from_start_s == pytest.approx(180.0)
    # incidents without calls do not enter the median
    assert result.policies["tollguard"].median_time_to_stop_s is None
    assert result.policies["tollguard"].incidents_with_calls == []


def test_default_rater_uses_project_numbering_and_tariff() -> None:
    from tollguard.app.backtest import TariffRater
    from tollguard.domain.rating import Tariff

    rater = TariffRater()
    assert rater.e164("01023276000003") == "+23276000003"
    assert rater.e164("0312345678") == "+81312345678"
    assert rater.e164("not a number") is None
    tariff = Tariff.default()
    assert rater.charge("+23276000003", 600) == tariff.charge("+23276000003", 600) > 0
    assert rater.charge("+23276000003", 0) == 0


def test_real_tariff_loss_accounting(data_dir: Path) -> None:
    outputs = [*allow_all({"F2": call(1, "F2", "deny")}), terminate(2.5, "F1")]
    policy = score(data_dir, outputs).policies["tollguard"]
    none = score(data_dir, []).policies["none"]
    i1, i1_none = policy.incidents[0], none.incidents[0]
    from tollguard.domain.rating import Tariff

    tariff = Tariff.default()
    # F1: 2 min billed instead of 10, F2: nothing, F3 (dialled 010…): its full 10 min
    expected = tariff.charge("+23276000001", 120) + tariff.charge("+23276000003", 600)
    assert i1.loss == pytest.approx(expected)
    assert i1_none.loss == pytest.approx(
        sum(tariff.charge(n, 600) for n in ("+23276000001", "+23276000002", "+23276000003"))
    )
    assert 0 < i1.loss < i1_none.loss


def test_denying_a_customer_barred_at_their_request_is_not_an_impact(tmp_path: Path) -> None:
    data = build_dataset(
        tmp_path / "d", CDRS, INCIDENTS, FRAUD, lookalikes=[("S4", "barred")], barred=["S4"]
    )
    outputs = allow_all({"L4": call(20, "L4", "deny"), "L1": call(5, "L1", "deny")})
    policy = score(data, outputs, rater=RATER).policies["tollguard"]
    # S4's two international attempts are out of the legitimate denominator
    assert policy.legit_intl_attempts == 2
    assert policy.legit_intl_denied == 1
    assert (policy.barred_intl_attempts, policy.barred_intl_denied) == (2, 1)
    assert policy.lookalikes[0].denied == 0
    assert policy.legit_calls_denied == 1


@pytest.mark.slow
def test_cli_replays_both_policies_with_the_engine(tmp_path: Path) -> None:
    from datetime import date

    from tollguard.app.simulate import SimulationConfig, simulate

    simulate(
        SimulationConfig(subscribers=80, days=14, seed=11, start=date(2026, 10, 5)),
        tmp_path / "sim",
    )
    out = tmp_path / "report"
    result = _invoke(["--data", str(tmp_path / "sim"), "--out", str(out), "--save-replay"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["policy_order"] == ["none", "tollguard", "reference"]
    policies = summary["policies"]
    assert policies["none"]["fraud_loss_jpy"] > 0
    for name in ("tollguard", "reference"):
        # the engine's contract: one call decision per CDR
        assert policies[name]["calls_without_decision"] == 0
        assert policies[name]["fraud_loss_jpy"] <= policies["none"]["fraud_loss_jpy"]
        assert (out / f"replay-{name}.jsonl").stat().st_size > 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    # scoring the saved replays again gives the same summary
    again = tmp_path / "again"
    rescored = _invoke(
        [
            "--data",
            str(tmp_path / "sim"),
            "--out",
            str(again),
            "--replay",
            f"tollguard={out / 'replay-tollguard.jsonl'}",
            "--replay",
            f"reference={out / 'replay-reference.jsonl'}",
        ]
    )
    assert rescored.exit_code == 0, rescored.output
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()


def test_actions_for_other_customers_or_places_do_not_stop_an_incident(data_dir: Path) -> None:
    outputs = [
        *allow_all(),
        action(1, "suspend_international", subscriber_id="S3"),
        action(1, "restrict_country", country="SL", subscriber_id="S3"),  # S3's own restriction
        action(1, "deny_destination", prefix="+4420"),
        action(1, "block_ip", ip="192.0.2.10"),
        action(1, "contact_attempt", subscriber_id="S1"),
        action(1, "notify", subscriber_id="S1"),
        action(40 * 60, "suspend_international", subscriber_id="S1"),  # after end + 24 h
    ]
    policy = score(data_dir, outputs, rater=RATER).policies["tollguard"]
    assert [inc.stop for inc in policy.incidents] == [None, None]
    assert policy.actions_by_kind == {
        "block_ip": 1,
        "contact_attempt": 1,
        "deny_destination": 1,
        "notify": 1,
        "restrict_country": 1,
        "suspend_international": 2,
    }
