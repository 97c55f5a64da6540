"""Replay: the output format, byte-identical determinism, snapshots, bad input, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollguard.app.replay import load_inputs, replay_files, run_engine, write_jsonl
from tollguard.cli import _register, app
from tollguard.domain.config import ConfigError, EngineConfig
from tollguard.domain.engine import Engine

SUBS = """subscriber_id,segment,service,numbers,email,intl_status
s1,business,ip,+81355550001,a@example.jp,enabled
s2,residential,pstn,+81355550002,b@example.jp,suspended
"""


def _cdrs() -> str:
    rows = ["call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip"]
    n = 0
    for day in range(5, 30):
        for i in range(4):
            n += 1
            h = 9 + i
            callee = "0312345678" if i else "0101650253000"
            rows.append(
                f"c{n},s1,+81355550001,{callee},2026-10-{day:02d}T{h:02d}:00:00+09:00,"
                f"2026-10-{day:02d}T{h:02d}:00:05+09:00,2026-10-{day:02d}T{h:02d}:05:00+09:00,"
                "ANSWERED,203.0.113.10"
            )
    # A weekend-night attack: many channels to Somalia and satellite numbers.
    for k in range(12):
        n += 1
        callee = ["0102526112345", "0108816312345678"][k % 2][:-2] + f"{k:02d}"
        rows.append(
            f"c{n},s1,+81355550001,{callee},2026-10-31T02:{k:02d}:00+09:00,"
            f"2026-10-31T02:{k:02d}:05+09:00,2026-10-31T04:00:00+09:00,ANSWERED,203.0.113.10"
        )
    rows.append(
        "x1,s2,+81355550002,0102526112399,2026-10-31T03:00:00+09:00,,"
        "2026-10-31T03:00:10+09:00,NO ANSWER,"
    )
    rows.append("bad,s1,+81355550001,0312345678,not-a-time,,2026-10-31T03:00:10+09:00,FAILED,")
    return "\n".join(rows) + "\n"


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    subs = tmp_path / "subscribers.csv"
    subs.write_text(SUBS)
    cdrs = tmp_path / "cdrs.csv"
    cdrs.write_text(_cdrs())
    return subs, cdrs


def test_output_format_and_every_call_decided(files: tuple[Path, Path]) -> None:
    subs, cdrs = files
    out = list(replay_files(subs, cdrs))
    calls = [d for d in out if d["kind"] == "call"]
    assert len(calls) == 25 * 4 + 12 + 1  # the bad row is quarantined, not decided
    assert set(calls[0]) == {"time", "kind", "call_id", "decision", "reasons"}
    assert calls[0]["time"].endswith("+09:00")
    kinds = {d["kind"] for d in out}
    assert {"call", "action", "alert"} <= kinds
    x1 = next(d for d in calls if d["call_id"] == "x1")
    assert x1["decision"] == "deny" and x1["reasons"] == ["international_barred_by_customer"]
    actions = [d for d in out if d["kind"] == "action"]
    for a in actions:
        assert {"time", "kind", "action", "reason", "actor", "evidence"} <= set(a)
    assert any(a["action"] == "suspend_international" for a in actions)


def test_byte_identical_output(files: tuple[Path, Path], tmp_path: Path) -> None:
    subs, cdrs = files
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(replay_files(subs, cdrs), a)
    write_jsonl(replay_files(subs, cdrs), b)
    assert a.read_bytes() == b.read_bytes()
    for line in a.read_text().splitlines():
        json.loads(line)


def test_snapshot_and_restore_continue_identically(files: tuple[Path, Path]) -> None:
    subs, cdrs = files
    inputs = load_inputs(subs, cdrs)
    full = list(run_engine(Engine(inputs.subscribers), inputs))
    from tollguard.app.replay import OutputFormatter, events_from

    events = list(events_from(inputs))
    half = len(events) // 2
    first = Engine(inputs.subscribers)
    fmt = OutputFormatter()
    got = [fmt.to_dict(o) for e in events[:half] for o in first.process(e)]
    blob = first.snapshot()
    second = Engine(inputs.subscribers)
    second.restore(blob)
    got += [fmt.to_dict(o) for e in events[half:] for o in second.process(e)]
    got += [fmt.to_dict(o) for o in second.advance(events[-1].time + 3600)]
    assert got == full


def test_bad_rows_are_quarantined_not_lost(files: tuple[Path, Path]) -> None:
    subs, cdrs = files
    inputs = load_inputs(subs, cdrs)
    assert len(inputs.cdrs) == 25 * 4 + 13
    assert [(q.line, q.field) for q in inputs.quarantined] == [(115, "start")]


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[risk]\nwrong_denial_cost_jpy = 'lots'\n")
    with pytest.raises(ConfigError, match=r"risk\.wrong_denial_cost_jpy"):
        EngineConfig.load(bad)
    bad.write_text("[risk]\nno_such = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'no_such'"):
        EngineConfig.load(bad)
    good = tmp_path / "g.toml"
    good.write_text("[risk]\nwrong_denial_cost_jpy = 5000\n")
    assert EngineConfig.load(good).risk.wrong_denial_cost_jpy == 5000.0


def test_cli_replay_writes_jsonl_and_quarantine(files: tuple[Path, Path], tmp_path: Path) -> None:
    subs, cdrs = files
    out = tmp_path / "out.jsonl"
    _register()
    result = CliRunner().invoke(
        app, ["replay", "--subscribers", str(subs), "--cdrs", str(cdrs), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.exists() and out.read_text().count("\n") > 100
    rows = (tmp_path / "out.jsonl.quarantine.csv").read_text().splitlines()
    assert len(rows) == 2 and ",115,start," in rows[1]


def test_reference_policy_suspends_only_after_hourly_metering(files: tuple[Path, Path]) -> None:
    subs, cdrs = files
    out = list(replay_files(subs, cdrs, policy="reference"))
    calls = [d for d in out if d["kind"] == "call" and d["call_id"] != "x1"]
    assert all(d["decision"] == "allow" for d in calls)  # no set-up decisions
    assert not any(d["kind"] == "terminate" for d in out)
