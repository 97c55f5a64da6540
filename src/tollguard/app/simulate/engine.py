"""Runs a simulation and writes the contract files (see ``docs/simulation.md``)."""

from __future__ import annotations

import csv
import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from tollguard.app.simulate import attacks, legit
from tollguard.app.simulate.emit import Emitter
from tollguard.app.simulate.model import Period, build_customer
from tollguard.app.simulate.plan import INCIDENT_KINDS, LOOKALIKE_KINDS, build_plan
from tollguard.app.simulate.sink import SortedSpill

GENERATOR_VERSION = "tollguard-simulate 1.0"

SUBSCRIBER_COLUMNS = ("subscriber_id", "segment", "service", "numbers", "email", "intl_status",
                      "equipment")  # fmt: skip
CDR_COLUMNS = ("call_id", "subscriber_id", "caller", "callee", "start", "answer", "end",
               "disposition", "source_ip")  # fmt: skip
SIP_COLUMNS = ("time", "source_ip", "username", "event", "user_agent")
INCIDENT_COLUMNS = ("incident_id", "kind", "subscriber_ids", "start", "end", "source_ips",
                    "countries", "description")  # fmt: skip
FRAUD_COLUMNS = ("call_id", "incident_id")
LOOKALIKE_COLUMNS = ("subscriber_id", "kind", "start", "end", "description")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Parameters of one simulation run."""

    subscribers: int
    days: int
    seed: int
    start: date = date(2026, 10, 5)
    attacks_from_day: int | None = None
    attack_scale: float = 1.0
    chunk_rows: int = 250_000

    @property
    def first_attack_day(self) -> int:
        """Day index from which attacks may start (default: the last third of the period)."""
        if self.attacks_from_day is not None:
            return max(0, min(self.attacks_from_day, self.days))
        return self.days - self.days // 3

    def validate(self) -> None:
        """Raise ``ValueError`` for impossible parameters."""
        if self.subscribers < 1:
            raise ValueError("subscribers must be at least 1")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if self.attack_scale < 0:
            raise ValueError("attack scale must not be negative")
        if self.chunk_rows < 1:
            raise ValueError("chunk rows must be at least 1")


@dataclass(slots=True)
class SimulationSummary:
    """What a run wrote."""

    out: Path
    subscribers: int = 0
    cdrs: int = 0
    sip_events: int = 0
    fraud_calls: int = 0
    international_calls: int = 0
    incidents: dict[str, int] = field(default_factory=dict)
    lookalikes: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    peak_buffered_rows: int = 0


def simulate(
    config: SimulationConfig, out: Path, progress: Progress | None = None
) -> SimulationSummary:
    """Generate subscribers, CDRs, SIP events and the ground truth into ``out``."""
    config.validate()
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    work = out / ".simulate-tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        return _run(config, out, work, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    config: SimulationConfig, out: Path, work: Path, progress: Progress | None
) -> SimulationSummary:
    period = Period.build(config.start, config.days)
    plan = build_plan(
        config.seed, config.subscribers, period, config.first_attack_day, config.attack_scale
    )
    cdrs = SortedSpill(work, "cdrs", config.chunk_rows)
    sip = SortedSpill(work, "sip", config.chunk_rows)
    fraud = SortedSpill(work, "fraud", config.chunk_rows)
    emit = Emitter(period, cdrs, sip, fraud)
    summary = SimulationSummary(out=out)
    total = config.subscribers
    step = max(1, total // 200)

    with (out / "subscribers.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SUBSCRIBER_COLUMNS)
        for i in range(total):
            cust = build_customer(config.seed, i)
            writer.writerow(
                (
                    cust.subscriber_id,
                    cust.segment,
                    cust.service,
                    ";".join(cust.numbers),
                    cust.email,
                    cust.intl_status,
                    cust.equipment,
                )
            )
            rng = random.Random(f"{config.seed}:traffic:{i}")
            timeline = legit.generate(cust, plan.roles_of(i), period, rng, emit)
            for inc in plan.incidents_of(i):
                attacks.victim_rows(inc, cust, timeline, config.seed, period, emit)
            if progress is not None and (i + 1) % step == 0:
                progress("customers", i + 1, total)
    if progress is not None:
        progress("customers", total, total)
    for inc in plan.incidents:
        attacks.global_events(inc, config.seed, emit)
    summary.subscribers = total
    summary.chunks = cdrs.chunk_count + sip.chunk_count + fraud.chunk_count
    spills = (cdrs, sip, fraud)
    summary.peak_buffered_rows = max(max(s.peak_buffered, s.buffered) for s in spills)

    def merge_progress(name: str, rows: int) -> Callable[[int], None] | None:
        if progress is None:
            return None
        report = progress
        return lambda done: report(name, done, rows)

    with (out / "cdrs.csv").open("w", encoding="utf-8", newline="") as fh:
        summary.cdrs = cdrs.write(fh, ",".join(CDR_COLUMNS), merge_progress("cdrs", cdrs.rows))
    with (out / "sip_events.csv").open("w", encoding="utf-8", newline="") as fh:
        summary.sip_events = sip.write(fh, ",".join(SIP_COLUMNS), merge_progress("sip", sip.rows))
    with (out / "truth" / "fraud_calls.csv").open("w", encoding="utf-8", newline="") as fh:
        summary.fraud_calls = fraud.write(fh, ",".join(FRAUD_COLUMNS))
    summary.international_calls = emit.intl_calls

    with (out / "truth" / "incidents.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(INCIDENT_COLUMNS)
        for inc in plan.incidents:
            start, end = emit.extents.get(inc.incident_id, [inc.start, inc.end])
            victims = sorted(build_customer(config.seed, v).subscriber_id for v in inc.victims)
            writer.writerow(
                (
                    inc.incident_id,
                    inc.kind,
                    ";".join(victims),
                    period.fmt(start),
                    period.fmt(end),
                    ";".join(inc.source_ips),
                    ";".join(inc.countries),
                    inc.description,
                )
            )
    with (out / "truth" / "lookalikes.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(LOOKALIKE_COLUMNS)
        for index in sorted(plan.roles):
            for role in plan.roles[index]:
                writer.writerow(
                    (
                        build_customer(config.seed, index).subscriber_id,
                        role.kind,
                        period.fmt(role.start),
                        period.fmt(role.end),
                        role.description,
                    )
                )

    incident_counts = Counter(inc.kind for inc in plan.incidents)
    look_counts = Counter(r.kind for rs in plan.roles.values() for r in rs)
    summary.incidents = {k: incident_counts.get(k, 0) for k in INCIDENT_KINDS}
    summary.lookalikes = {k: look_counts.get(k, 0) for k in LOOKALIKE_KINDS}
    fraud_by_kind: Counter[str] = Counter()
    for inc in plan.incidents:
        fraud_by_kind[inc.kind] += emit.calls_by_incident.get(inc.incident_id, 0)
    params = asdict(config)
    params["start"] = config.start.isoformat()
    params["attacks_from_day"] = config.first_attack_day
    params.pop("chunk_rows")
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "parameters": params,
        "timezone": "+09:00",
        "counts": {
            "subscribers": summary.subscribers,
            "cdrs": summary.cdrs,
            "international_calls": summary.international_calls,
            "sip_events": summary.sip_events,
            "fraud_calls": summary.fraud_calls,
            "incidents": summary.incidents,
            "fraud_calls_by_kind": {k: fraud_by_kind.get(k, 0) for k in INCIDENT_KINDS},
            "lookalikes": summary.lookalikes,
        },
    }
    (out / "truth" / "meta.json").write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary
