"""The replay's fast paths give exactly the outputs of the general path.

Fast paths: the CDR reader's short path (:func:`read_cdr_calls`), the engine's per-callee cache
and domestic path (``Engine(fast=True)``), the replay loop that leaves out answers and ends that
cannot matter, and the JSON line template of :meth:`OutputFormatter.line`. The general path is
``Engine(fast=False)`` fed by :func:`load_inputs` and :func:`events_from`, as before they existed.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tollguard.adapters.readers import read_cdrs
from tollguard.adapters.readers.cdrs import read_cdr_calls
from tollguard.app.replay import (
    OutputFormatter,
    StreamedReplay,
    load_calls,
    load_inputs,
    run_engine,
    run_outputs,
    write_jsonl,
    write_output_batches,
    write_outputs,
)
from tollguard.app.simulate import SimulationConfig, simulate
from tollguard.domain.config import EngineConfig
from tollguard.domain.engine import Engine, RowFacts
from tollguard.domain.events import (
    Action,
    ActionKind,
    Alert,
    Decision,
    Output,
    Severity,
    Terminate,
)
from tollguard.domain.ipinfo import IpLocator
from tollguard.domain.numbering import NumberClassifier, NumberingPlan
from tollguard.domain.records import QuarantinedRow


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("carrier")
    simulate(SimulationConfig(subscribers=400, days=21, seed=3, attacks_from_day=7), out)
    return out


def _general(data: Path, out: Path, policy: str) -> bytes:
    inputs = load_inputs(data / "subscribers.csv", data / "cdrs.csv", data / "sip_events.csv")
    engine = Engine(inputs.subscribers, policy=policy, fast=False)
    write_jsonl(run_engine(engine, inputs), out)
    return out.read_bytes()


def _fast(data: Path, out: Path, policy: str) -> bytes:
    replay = load_calls(data / "subscribers.csv", data / "cdrs.csv", data / "sip_events.csv")
    engine = Engine(replay.subscribers, policy=policy)
    write_outputs(run_outputs(engine, replay), out, OutputFormatter(engine.config.timezone))
    return out.read_bytes()


@pytest.mark.parametrize("policy", ["tollguard", "reference"])
def test_fast_replay_is_byte_identical_to_the_general_path(
    carrier: Path, tmp_path: Path, policy: str
) -> None:
    general = _general(carrier, tmp_path / "general.jsonl", policy)
    fast = _fast(carrier, tmp_path / "fast.jsonl", policy)
    assert general.count(b"\n") > 10_000
    if policy == "tollguard":  # the attacks were seen and acted on
        assert b'"decision":"deny"' in general and b'"kind":"action"' in general
    assert fast == general


def test_fast_engine_on_the_general_event_stream_is_identical(carrier: Path) -> None:
    """Engine(fast=True).process over every event (no events left out) == the general path."""
    inputs = load_inputs(carrier / "subscribers.csv", carrier / "cdrs.csv")
    slow = list(run_engine(Engine(inputs.subscribers, fast=False), inputs))
    from tollguard.app.replay import DRAIN_SECONDS, events_from

    engine = Engine(inputs.subscribers)
    fmt = OutputFormatter()
    events = list(events_from(inputs))
    got = [fmt.to_dict(o) for e in events for o in engine.process(e)]
    got += [fmt.to_dict(o) for o in engine.advance(events[-1].time + DRAIN_SECONDS)]
    assert got == slow


def _rows(path: Path) -> list[object]:
    out: list[object] = []
    for item in read_cdrs(path):
        if isinstance(item, QuarantinedRow):
            out.append(item)
        else:
            answer = item.answer.timestamp() if item.answer is not None else None
            out.append(
                (
                    item.call_id,
                    item.subscriber_id,
                    item.callee,
                    item.start.timestamp(),
                    answer,
                    item.end.timestamp(),
                    item.source_ip,
                )
            )
    return out


HEADER = "call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip"
GOOD = "c{n},s1,+81355550001,0312345678,{s},{a},{e},ANSWERED,203.0.113.10"


def test_short_path_reader_accepts_and_quarantines_exactly_as_read_cdrs(tmp_path: Path) -> None:
    t0, ta, t1 = (
        "2026-10-05T09:00:00+09:00",
        "2026-10-05T09:00:05+09:00",
        "2026-10-05T09:05:00+09:00",
    )
    odd = [
        GOOD.format(n=1, s=t0, a=ta, e=t1),
        GOOD.format(n=2, s=t0, a=ta, e=t1),  # s1 now known: the short path
        GOOD.format(n=2, s=t0, a=ta, e=t1),  # duplicate call id
        GOOD.format(n=3, s="2026-10-05T09:00:00.5+09:00", a=ta, e=t1),  # fraction: general
        GOOD.format(n=4, s="2026-10-05T00:00:00Z", a="", e=t1).replace("ANSWERED", "FAILED"),
        GOOD.format(n=5, s="2026-10-05T09:00:60+09:00", a=ta, e=t1),  # second 60
        GOOD.format(n=6, s="2026-10-05T09:60:00+09:00", a=ta, e=t1),  # minute 60
        GOOD.format(n=7, s="2026-10-05T09:00:00", a=ta, e=t1),  # naive
        GOOD.format(n=8, s="2026-13-05T09:00:00+09:00", a=ta, e=t1),  # month 13
        GOOD.format(n=9, s="2026-10-05T09:00:00+25:00", a=ta, e=t1),  # offset out of range
        GOOD.format(n=10, s="2026-10-05 09:00:00+09:00", a=ta, e=t1),  # space separator
        GOOD.format(n=11, s=t1, a=ta, e=t0),  # end before start
        GOOD.format(n=12, s=t0, a=t1, e=ta),  # end before answer
        GOOD.format(n=13, s=ta, a=t0, e=t1),  # answer before start
        GOOD.format(n=14, s=t0, a="", e=t1),  # ANSWERED without answer
        GOOD.format(n=15, s=t0, a=ta, e=t1).replace("ANSWERED", "BUSY"),
        GOOD.format(n=16, s=t0, a=ta, e=t1).replace("203.0.113.10", "999.1.1.1"),
        GOOD.format(n=17, s=t0, a=ta, e=t1).replace("203.0.113.10", "2001:DB8::1"),
        GOOD.format(n=18, s=t0, a=ta, e=t1).replace("0312345678", "03-1234-5678"),
        GOOD.format(n=19, s=t0, a=ta, e=t1).replace(",s1,", ",s 1,"),
        GOOD.format(n=20, s=t0, a=ta, e=t1).replace("c20,", "c 20,"),
        GOOD.format(n=21, s=t0, a=ta, e=t1).replace("+81355550001", ""),
        '"c22",s1,+81355550001,0312345678,' + f"{t0},{ta},{t1},ANSWERED,",
        '"c23,s1,+81355550001,0312345678,' + f"{t0},{ta},{t1},ANSWERED,",
        GOOD.format(n=24, s=t0, a=ta, e=t1) + ",extra",
        GOOD.format(n=25, s=t0, a=ta, e=t1).replace("c25", "c25\u200b"),
        GOOD.format(n=26, s=t0, a=ta, e=t1).replace("c26", "c" * 300),
        "",
        "   ",
        GOOD.format(n=27, s="2026-10-05T09:00:00+09:30", a="", e=t1).replace("ANSWERED", "BUSY"),
        GOOD.format(
            n=28, s="2026-10-05T09:00:00-03:00", a="", e="2026-10-05T21:00:00+09:00"
        ).replace("ANSWERED", "NO ANSWER"),
        GOOD.format(n=29, s="２026-10-05T09:00:00+09:00", a=ta, e=t1),
        GOOD.format(n=30, s="2026-10-05T09:0a:00+09:00", a=ta, e=t1),
        GOOD.format(n=31, s=t0, a=ta, e=t1).replace("ANSWERED", "answered"),
    ]
    data = tmp_path / "cdrs.csv"
    data.write_bytes(
        ("\n".join([HEADER, *odd]) + "\n").encode() + b"c32,s1,+8135,0312345678,\xff\n"
    )
    fast = list(read_cdr_calls(data))
    assert fast == _rows(data)
    assert sum(isinstance(x, QuarantinedRow) for x in fast) > 20


def test_reordered_columns_and_unsorted_rows_load_identically(tmp_path: Path) -> None:
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "subscriber_id,segment,service,numbers,email,intl_status\n"
        "s1,business,ip,+81355550001,a@example.jp,enabled\n"
    )
    rows = ["source_ip,call_id,subscriber_id,caller,callee,start,answer,end,disposition"]
    rng = random.Random(4)
    for n in range(300):
        h, m = rng.randrange(24), rng.randrange(60)
        callee = rng.choice(["0312345678", "0101650253000", "+81312345678", "0033010441234567"])
        rows.append(
            f"203.0.113.{n % 7},c{n},s1,+81355550001,{callee},2026-10-05T{h:02d}:{m:02d}:00+09:00,,"
            f"2026-10-05T{h:02d}:{m:02d}:30+09:00,NO ANSWER"
        )
    cdrs = tmp_path / "cdrs.csv"
    cdrs.write_text("\n".join(rows) + "\n")
    inputs = load_inputs(subs, cdrs)
    replay = load_calls(subs, cdrs)
    assert [(r.call_id, r.start.timestamp()) for r in inputs.cdrs] == [
        (c[0], c[3]) for c in replay.calls
    ]
    slow = list(run_engine(Engine(inputs.subscribers, fast=False), inputs))
    fmt = OutputFormatter()
    engine = Engine(replay.subscribers)
    assert [fmt.to_dict(o) for o in run_outputs(engine, replay)] == slow


def test_home_numbers_are_told_exactly_as_the_classifier_tells_them() -> None:
    rng = random.Random(7)
    samples = [
        "",
        "0",
        "01",
        "010",
        "0101",
        "81",
        "+81",
        "+8",
        "+1",
        "+",
        "+810",
        "0033",
        "00330101",
        "0033031234",
        "184",
        "1840312345678",
        "186010441234567",
        "001",
        "0120123456",
        "+81312345678",
        "+813123",
        "+81" + "9" * 20,
        "0" + "9" * 30,
    ]
    for _ in range(20_000):
        head = rng.choice(
            [
                "0",
                "00",
                "010",
                "0033",
                "001",
                "184",
                "186",
                "+81",
                "+",
                "81",
                "1",
                "+1",
                "+44",
                "+8",
                "９",
                "0 ",
                "+81-",
                "",
            ]
        )
        samples.append(head + "".join(rng.choice("0123456789") for _ in range(rng.randrange(14))))
    for region in ("JP", "US", "GB", "IT"):
        classifier = NumberClassifier(NumberingPlan.for_region(region))
        engine = Engine([], classifier=classifier)
        for raw in samples:
            if engine.row_facts.home_number(raw):
                dest = engine._destination(raw)
                assert dest[0] is False, (region, raw)


class _Reference(OutputFormatter):
    """Times formatted as they were before the per-minute cache."""

    def time(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).isoformat(timespec="seconds")


def test_json_lines_are_exactly_json_dumps_of_the_dicts() -> None:
    odd_ids = ["c1", 'q"uote', "back\\slash", "tab\there", "nl\n", "日本", "\u2028", "\x7f", ""]
    outputs: list[object] = []
    for i, cid in enumerate(odd_ids):
        t = 1.8e9 + i * 61.5
        outputs += [
            Decision(t, cid, True, (), "s1"),
            Decision(t + 0.25, cid, False, (), "s1"),
            Decision(t, cid, False, ("fraud_risk", "risky_destination"), "s1", 0.5),
            Terminate(t, cid, "ip_blocked", "s1"),
        ]
    outputs.append(Action(1.8e9, ActionKind.BLOCK_IP, "r", ip="192.0.2.1", until=float("inf")))
    outputs.append(Alert(1.8e9, "d", Severity.WARNING, None, {"x": {1, 2}, "y": float("nan")}))
    # times around DST changes, negative and fractional times, in zones with odd offsets
    times = [1.8e9 + k * 7.25 for k in range(2000)] + [-1.5, -61.0, 0.0, 59.999999, 1e-7]
    times += [1_772_953_200.0 + k * 13.0 for k in range(-600, 600)]  # 2026-03-08 US change
    times += [1_793_512_800.0 + k * 13.0 for k in range(-600, 600)]  # 2026-11-01 US change
    outputs += [Decision(t, "c", True, (), "s") for t in times]
    for zone in ("Asia/Tokyo", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"):
        fmt, ref = OutputFormatter(zone), _Reference(zone)
        for o in outputs:
            expected = json.dumps(ref.to_dict(o), ensure_ascii=False, separators=(",", ":"))  # type: ignore[arg-type]
            assert fmt.line(o) == expected  # type: ignore[arg-type]


def _cli_replay(data: Path, cdrs: Path, out: Path) -> bytes:
    from typer.testing import CliRunner

    from tollguard.cli import _register, app

    _register()
    args = ["replay", "--subscribers", str(data / "subscribers.csv"), "--cdrs", str(cdrs)]
    args += ["--sip-events", str(data / "sip_events.csv"), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_cli_replay_streams_the_cdrs_and_writes_the_general_outputs(
    carrier: Path, tmp_path: Path
) -> None:
    general = _general(carrier, tmp_path / "general.jsonl", "tollguard")
    assert _cli_replay(carrier, carrier / "cdrs.csv", tmp_path / "cli.jsonl") == general


def test_cli_replay_of_unsorted_cdrs_starts_over_and_matches(carrier: Path, tmp_path: Path) -> None:
    lines = (carrier / "cdrs.csv").read_text().splitlines()
    body = lines[1:]
    body[5000], body[5001] = body[5001], body[5000]  # out of start order (a later start first)
    body.insert(7000, "bad,row")
    shuffled = tmp_path / "cdrs.csv"
    shuffled.write_text("\n".join([lines[0], *body]) + "\n")
    inputs = load_inputs(carrier / "subscribers.csv", shuffled, carrier / "sip_events.csv")
    general = tmp_path / "general.jsonl"
    write_jsonl(run_engine(Engine(inputs.subscribers, fast=False), inputs), general)
    got = _cli_replay(carrier, shuffled, tmp_path / "cli.jsonl")
    assert got == general.read_bytes()
    quarantine = (tmp_path / "cli.jsonl.quarantine.csv").read_text().splitlines()
    assert len(quarantine) == 2 and ",7002,," in quarantine[1]


def test_cli_replay_of_unsorted_sip_events_starts_over_and_matches(
    carrier: Path, tmp_path: Path
) -> None:
    lines = (carrier / "sip_events.csv").read_text().splitlines()
    body = lines[1:]
    body[100], body[3000] = body[3000], body[100]  # a late event early in the file
    sips = tmp_path / "sips" / "sip_events.csv"
    sips.parent.mkdir()
    sips.write_text("\n".join([lines[0], *body]) + "\n")
    (sips.parent / "subscribers.csv").write_bytes((carrier / "subscribers.csv").read_bytes())
    inputs = load_inputs(sips.parent / "subscribers.csv", carrier / "cdrs.csv", sips)
    general = tmp_path / "general.jsonl"
    write_jsonl(run_engine(Engine(inputs.subscribers, fast=False), inputs), general)
    got = _cli_replay(sips.parent, carrier / "cdrs.csv", tmp_path / "cli.jsonl")
    assert got == general.read_bytes()


_CALLEES = [
    "0312345678",
    "+81312345678",
    "09012345678",
    "0101212555123",
    "010",
    "0033",
    "00331212555123",
    "0011442079460000",
    "1840312345678",
    "1860312345678",
    "+12125551234",
    "12125551234",
    "+442079460000",
    "02079460000",
    "+9779851234567",
    "+919812345678",
    "09812345678",
    "1234",
]
_IPS = [
    None,
    "",
    "203.0.113.10",
    "8.8.8.8",
    "126.1.2.3",
    "10.1.2.3",
    "192.168.0.1",
    "100.64.1.1",
    "127.0.0.1",
    "2001:db8::1",
    "2400:4050::1",
    "::ffff:1.1.1.1",
    "1.2.3.4:5060",
    "bogus",
]
_ZONES = [
    EngineConfig(),
    EngineConfig(home_region="US", timezone="America/New_York"),  # DST, US holidays
    EngineConfig(home_region="GB", timezone="Europe/London"),
    EngineConfig(home_region="IN", timezone="Asia/Kolkata"),  # DST-free, half-hour offset
    EngineConfig(home_region="NP", timezone="Asia/Kathmandu"),  # 5:45
]


@pytest.mark.parametrize("cfg", _ZONES, ids=lambda c: c.home_region)
def test_row_facts_computed_ahead_are_what_the_general_path_computes(cfg: EngineConfig) -> None:
    """The facts the replay's reading process computes of each call (a RowFacts made from the
    config alone) are those of the engine's general path: domestic, local day and bucket (DST
    changes, holidays, odd offsets), and the source address (public, private, invalid)."""
    ahead = RowFacts.for_config(cfg, IpLocator())
    engine = Engine([], cfg)
    assert ahead.key == engine.row_facts.key
    times = [1_767_193_200.0 + k * 1800.0 for k in range(-60, 60)]  # New Year (JP, US, GB...)
    times += [1_772_953_200.0 + k * 900.0 for k in range(-12, 12)]  # 2026-03-08 US change
    times += [1_774_746_000.0 + k * 900.0 for k in range(-12, 12)]  # 2026-03-29 UK change
    times += [1_777_593_600.0 + k * 3599.5 for k in range(24 * 9)]  # Golden Week, Memorial Day
    rng = random.Random(11)
    homes = 0
    for t in times:
        for callee in rng.sample(_CALLEES, 6):
            ip = rng.choice(_IPS)
            home = ahead.home(callee, t, ip)
            if home is None:
                continue
            homes += 1
            ctx = engine._context(t, "c", "s", callee, ip, None)
            assert not ctx.international, (callee, cfg.home_region)
            assert home == (ctx.day, ctx.bucket, ctx.ip_public, ctx.ip_network, ctx.ip_country)
    assert homes > len(times)


def _varied_cdrs(carrier: Path, out: Path) -> Path:
    """The carrier's CDRs with some source addresses private, IPv6 or absent, and some callees
    dialled as +E.164 or with an international prefix (still in start order)."""
    import csv

    rng = random.Random(5)
    with (carrier / "cdrs.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    for row in rows[1:]:
        if rng.random() < 0.2:
            row[8] = rng.choice(["10.1.2.3", "192.168.7.7", "100.64.1.1", "2400:4050::1", ""])
        if rng.random() < 0.05 and row[3].startswith("0") and not row[3].startswith("010"):
            row[3] = rng.choice(["+81" + row[3][1:], "010" + "81" + row[3][1:]])
    path = out / "cdrs.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


@pytest.mark.parametrize(
    ("engine_cfg", "reader_cfg", "ahead"),
    [
        (_ZONES[1], _ZONES[1], True),  # facts computed by the reading process are used
        (_ZONES[1], _ZONES[0], False),  # computed for another calendar and plan: not used
        (_ZONES[0], _ZONES[0], True),
    ],
    ids=["US", "US-read-as-JP", "JP"],
)
def test_streamed_replay_with_facts_computed_ahead_matches_the_general_path(
    carrier: Path, tmp_path: Path, engine_cfg: EngineConfig, reader_cfg: EngineConfig, ahead: bool
) -> None:
    cdrs = _varied_cdrs(carrier, tmp_path)
    subs, sips = carrier / "subscribers.csv", carrier / "sip_events.csv"
    inputs = load_inputs(subs, cdrs, sips)
    general = tmp_path / "general.jsonl"
    write_jsonl(run_engine(Engine(inputs.subscribers, engine_cfg, fast=False), inputs), general)

    replay = StreamedReplay(subs, cdrs, sips, reader_cfg)
    engine = Engine(replay.subscribers, engine_cfg)
    used = 0
    own = engine.call_started_home

    def counted(*args: Any) -> list[Output]:
        nonlocal used
        used += 1
        return own(*args)

    engine.call_started_home = counted  # type: ignore[method-assign,assignment]
    fmt = OutputFormatter(engine_cfg.timezone)
    streamed = tmp_path / "streamed.jsonl"
    write_output_batches(replay.batches(engine), streamed, fmt)
    assert streamed.read_bytes() == general.read_bytes()
    assert (used > replay.calls // 2) if ahead else used == 0
