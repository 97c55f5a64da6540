"""Builds a whole data set and writes it."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from random import Random
from typing import Any

from tollguard.adapters.readers.cdrs import CDR_COLUMNS
from tollguard.adapters.readers.sip_events import SIP_EVENT_COLUMNS
from tollguard.adapters.readers.subscribers import SUBSCRIBER_COLUMNS, SUBSCRIBER_OPTIONAL

from . import legit
from . import profiles as P
from .attacks import Attacks
from .model import World
from .netaddr import ATTACK_HOSTING, ATTACK_ISP, random_ip
from .numbers import Numbers
from .timebase import DAY, Calendar

GENERATOR = "bench.altsim"
VERSION = 1


@dataclass(frozen=True)
class Config:
    subscribers: int = 3000
    days: int = 42
    seed: int = 1
    start: date = date(2026, 9, 7)
    attacks_from_day: int | None = None
    attack_scale: float = 1.0
    scanners_per_day: float = 5.0

    @property
    def first_attack_day(self) -> int:
        if self.attacks_from_day is not None:
            return max(0, min(self.attacks_from_day, self.days - 1))
        return max(1, min(21, self.days // 2))


def build(config: Config) -> World:
    cal = Calendar(config.start, config.days)
    world = World(config.seed, cal, Numbers(config.seed))
    rng = Random(f"altsim-world:{config.seed}")
    ctx = legit.Context(world, config.first_attack_day)
    ctx.disaster = legit.choose_disaster(rng, config.days)
    if ctx.disaster is not None:
        country, what, day = ctx.disaster
        world.notes["disaster"] = {"country": country, "event": what, "date": cal.date_str(day)}
    customers = legit.make_customers(ctx, rng, config.subscribers)
    for cust in customers:
        crng = Random(f"altsim-traffic:{config.seed}:{cust.subscriber_id}")
        if cust.service == "ip":
            legit.build_network(ctx, crng, cust)
        habits = legit.habits_for(ctx, crng, cust)
        legit.disaster_habits(ctx, crng, cust, habits)
        legit.run_habits(ctx, crng, cust, habits)
    Attacks(world, config.seed, config.first_attack_day, config.attack_scale).run(
        config.subscribers
    )
    _scanners(world, Random(f"altsim-scanners:{config.seed}"), config.scanners_per_day)
    return world


def _scanners(world: World, rng: Random, per_day: float) -> None:
    """Internet-wide SIP scanning that never succeeds: background noise of every SIP edge."""
    from .model import poisson

    users = [
        "100",
        "101",
        "102",
        "200",
        "1000",
        "1001",
        "2000",
        "admin",
        "test",
        "guest",
        "",
        "asterisk",
        "sip",
        "user",
        "voip",
        "9999",
    ]
    ids = [c.subscriber_id for c in world.customers if c.service == "ip"]
    for day in range(world.cal.days):
        for _ in range(poisson(rng, per_day)):
            pool = rng.choice(ATTACK_HOSTING + ATTACK_ISP + ("us_isp", "tr_isp", "in_isp"))
            ip = random_ip(rng, pool)
            ua = rng.choice(P.ATTACKER_AGENTS)
            t = day * DAY + rng.randint(0, DAY - 1)
            tries = min(6000, int(rng.lognormvariate(3.8, 1.1)))
            leaked = ids and rng.random() < 0.25
            rate = rng.uniform(0.5, 20)
            for i in range(tries):
                user = rng.choice(ids) if leaked and rng.random() < 0.5 else rng.choice(users)
                world.add_sip(t + int(i / rate), ip, user, "auth_failure", ua)


# --- writing ---------------------------------------------------------------------------------


def _writer(path: Path) -> tuple[Any, Any]:
    handle = path.open("w", newline="", encoding="utf-8")
    return handle, csv.writer(handle, lineterminator="\n")


def write(world: World, config: Config, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    cal = world.cal
    iso = cal.iso

    handle, w = _writer(out / "subscribers.csv")
    with handle:
        w.writerow([*SUBSCRIBER_COLUMNS, *SUBSCRIBER_OPTIONAL])
        for c in sorted(world.customers, key=lambda c: c.subscriber_id):
            w.writerow(
                [
                    c.subscriber_id,
                    c.segment,
                    c.service,
                    ";".join(c.numbers),
                    c.email,
                    c.intl_status,
                    c.equipment,
                ]
            )

    world.cdrs.sort(key=lambda c: (c.start, c.call_id))
    handle, w = _writer(out / "cdrs.csv")
    with handle:
        w.writerow(CDR_COLUMNS)
        for r in world.cdrs:
            w.writerow(
                [
                    r.call_id,
                    r.subscriber_id,
                    r.caller,
                    r.callee,
                    iso(r.start),
                    iso(r.answer) if r.answer is not None else "",
                    iso(r.end),
                    r.disposition,
                    r.source_ip,
                ]
            )

    world.sip.sort(key=lambda e: (e.time, e.source_ip, e.username, e.event, e.user_agent))
    handle, w = _writer(out / "sip_events.csv")
    with handle:
        w.writerow(SIP_EVENT_COLUMNS)
        for e in world.sip:
            w.writerow([iso(e.time), e.source_ip, e.username, e.event, e.user_agent])

    incidents = sorted(world.incidents, key=lambda i: (i.start, i.incident_id))
    handle, w = _writer(out / "truth" / "incidents.csv")
    with handle:
        w.writerow(
            [
                "incident_id",
                "kind",
                "subscriber_ids",
                "start",
                "end",
                "source_ips",
                "countries",
                "description",
            ]
        )
        for i in incidents:
            w.writerow(
                [
                    i.incident_id,
                    i.kind,
                    ";".join(i.subscriber_ids),
                    iso(i.start),
                    iso(i.end),
                    ";".join(i.source_ips),
                    ";".join(i.countries),
                    i.description,
                ]
            )

    handle, w = _writer(out / "truth" / "fraud_calls.csv")
    with handle:
        w.writerow(["call_id", "incident_id"])
        for call_id, incident_id in sorted(world.fraud.items(), key=lambda x: (x[1], x[0])):
            w.writerow([call_id, incident_id])

    handle, w = _writer(out / "truth" / "lookalikes.csv")
    with handle:
        w.writerow(["subscriber_id", "kind", "start", "end", "description"])
        for lk in sorted(world.lookalikes, key=lambda x: (x.subscriber_id, x.kind, x.start or 0)):
            w.writerow(
                [
                    lk.subscriber_id,
                    lk.kind,
                    iso(lk.start) if lk.start is not None else "",
                    iso(lk.end) if lk.end is not None else "",
                    lk.description,
                ]
            )

    summary = summarize(world)
    meta = {
        "generator": GENERATOR,
        "version": VERSION,
        "seed": config.seed,
        "subscribers": config.subscribers,
        "days": config.days,
        "start": config.start.isoformat(),
        "timezone": "+09:00",
        "attacks_from_day": config.first_attack_day,
        "attack_scale": config.attack_scale,
        "disaster": world.notes.get("disaster"),
        **summary,
    }
    (out / "truth" / "meta.json").write_text(
        json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return meta


def summarize(world: World) -> dict[str, Any]:
    return {
        "counts": {
            "subscribers": len(world.customers),
            "cdrs": len(world.cdrs),
            "sip_events": len(world.sip),
            "incidents": len(world.incidents),
            "fraud_calls": len(world.fraud),
            "lookalike_rows": len(world.lookalikes),
        },
        "customer_types": dict(sorted(Counter(c.archetype for c in world.customers).items())),
        "incident_kinds": dict(sorted(Counter(i.kind for i in world.incidents).items())),
        "lookalike_kinds": dict(sorted(Counter(x.kind for x in world.lookalikes).items())),
        "service": dict(sorted(Counter(c.service for c in world.customers).items())),
    }


def generate(config: Config, out: Path) -> dict[str, Any]:
    world = build(config)
    meta = write(world, config, out)
    return meta
