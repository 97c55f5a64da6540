"""Attack traffic: the calls and SIP events of each planned incident."""

from __future__ import annotations

import random

from tollguard.app.simulate import catalog
from tollguard.app.simulate.emit import ANSWERED, BUSY, FAILED, NO_ANSWER, Emitter
from tollguard.app.simulate.model import DAY, HOUR, Customer, IpTimeline, Period, pick_index
from tollguard.app.simulate.plan import Incident

_NIGHT = [3.0, 3, 3, 3, 3, 2, 1, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5,
          0.8, 1, 1.5, 2, 3, 3]  # fmt: skip
_NIGHT_CUM = [sum(_NIGHT[: k + 1]) for k in range(24)]


def _fraud_outcome(rng: random.Random, cust: Customer) -> tuple[str, int]:
    if cust.barred:  # the switch refuses international calls on a barred line
        return FAILED, rng.randint(0, 2)
    u = rng.random()
    if u < 0.80:
        return ANSWERED, rng.randint(2, 9)
    if u < 0.88:
        return NO_ANSWER, rng.randint(20, 45)
    if u < 0.92:
        return BUSY, rng.randint(1, 4)
    return FAILED, rng.randint(0, 3)


def _source(inc: Incident, cust: Customer, timeline: IpTimeline | None, t: int, ip: str) -> str:
    if not cust.is_ip:
        return ""
    if inc.own_ip and timeline is not None:
        return timeline.at(t)
    return ip


def _pump(
    rng: random.Random,
    emit: Emitter,
    cust: Customer,
    inc: Incident,
    timeline: IpTimeline | None,
    t0: int,
    t1: int,
    channels: int,
    ip: str,
) -> None:
    """Several channels re-dialling a pool of numbers in the incident's ranges.

    New calls start until ``t1``; a call in progress at ``t1`` runs to its end.
    """
    pool = [rng.choice(inc.ranges)[1].draw(rng) for _ in range(rng.randint(3, 25))]
    for ch in range(channels):
        t = t0 + ch * rng.randint(5, 90)
        while t < t1:
            disposition, ring = _fraud_outcome(rng, cust)
            talk = max(3, int(rng.lognormvariate(0, 0.5) * inc.median_talk))
            end = emit.call(
                rng, cust, rng.choice(pool), t, ring, talk, disposition,
                _source(inc, cust, timeline, t, ip), inc.incident_id,
            )  # fmt: skip
            t = end + rng.randint(1, 20)


def _register(
    rng: random.Random, emit: Emitter, inc: Incident, cust: Customer, t: int, ip: str
) -> None:
    agent = rng.choice(catalog.ATTACKER_AGENTS)
    emit.event(t, ip, cust.username, "register", agent, inc.incident_id)


def _test_calls(
    rng: random.Random,
    emit: Emitter,
    cust: Customer,
    inc: Incident,
    timeline: IpTimeline | None,
    t: int,
    ip: str,
) -> int:
    """A few short test calls before pumping; returns when pumping may start."""
    for _ in range(rng.randint(2, 5)):
        _region, tpl = rng.choice(inc.ranges)
        disposition, ring = _fraud_outcome(rng, cust)
        end = emit.call(
            rng, cust, tpl.draw(rng), t, ring, rng.randint(4, 25), disposition,
            _source(inc, cust, timeline, t, ip), inc.incident_id,
        )  # fmt: skip
        t = end + rng.randint(60, 900)
    return t + rng.randint(300, 2400)


def victim_rows(
    inc: Incident,
    cust: Customer,
    timeline: IpTimeline | None,
    seed: int,
    period: Period,
    emit: Emitter,
) -> None:
    """Emit the calls (and victim-specific SIP events) of ``inc`` against ``cust``."""
    rng = random.Random(f"{seed}:incident:{inc.incident_id}:{cust.index}")
    kind = inc.kind
    ip = inc.source_ips[0] if inc.source_ips else ""
    horizon = period.end_s
    if kind in ("pbx_weekend_night", "pstn_pbx"):
        t = inc.start
        if cust.is_ip and not inc.own_ip:
            _register(rng, emit, inc, cust, t - rng.randint(60, 600), ip)
        t = _test_calls(rng, emit, cust, inc, timeline, t, ip)
        _pump(rng, emit, cust, inc, timeline, t, min(inc.end, horizon), inc.channels, ip)
    elif kind == "sip_bruteforce":
        t = inc.start
        for k in range(rng.randint(300, 4000)):
            emit.event(
                t,
                ip,
                cust.username if rng.random() < 0.9 else rng.choice(catalog.SCANNER_USERNAMES),
                "auth_failure",
                catalog.SCANNER_AGENTS[0],
                inc.incident_id,
            )
            t += rng.randint(0, 2) if k % 7 else rng.randint(1, 10)
        emit.event(t, ip, cust.username, "auth_success", catalog.SCANNER_AGENTS[0], inc.incident_id)
        _register(rng, emit, inc, cust, t + rng.randint(5, 300), ip)
        t += rng.randint(120, 1800)
        _pump(rng, emit, cust, inc, timeline, t, min(inc.end, horizon), inc.channels, ip)
    elif kind == "campaign":
        ip = rng.choice(inc.source_ips)
        t = inc.start + rng.randrange(HOUR)
        _register(rng, emit, inc, cust, t - rng.randint(30, 300), ip)
        stop = min(t + rng.randint(1, 4) * HOUR, horizon)
        _pump(rng, emit, cust, inc, timeline, t, stop, inc.channels, ip)
    elif kind == "low_and_slow":
        day = inc.start - inc.start % DAY
        first = True
        while day < inc.end:
            for _ in range(rng.randint(2, 10)):
                t = day + pick_index(rng, _NIGHT_CUM) * HOUR + rng.randrange(HOUR)
                if not inc.start <= t < min(inc.end, horizon):
                    continue
                if first and cust.is_ip and not inc.own_ip:
                    _register(rng, emit, inc, cust, t - rng.randint(60, 900), ip)
                    first = False
                disposition, ring = _fraud_outcome(rng, cust)
                talk = max(30, int(rng.lognormvariate(0, 0.4) * inc.median_talk))
                emit.call(
                    rng,
                    cust,
                    rng.choice(inc.ranges)[1].draw(rng),
                    t,
                    ring,
                    talk,
                    disposition,
                    _source(inc, cust, timeline, t, ip),
                    inc.incident_id,
                )
            day += DAY
    elif kind == "daytime_business":
        _pump(rng, emit, cust, inc, timeline, inc.start, min(inc.end, horizon), inc.channels, ip)
    elif kind == "wangiri":
        bait = random.Random(f"{seed}:incident:{inc.incident_id}:bait")  # shared by all victims
        numbers = [inc.ranges[0][1].draw(bait) for _ in range(bait.randint(1, 4))]
        t = inc.start + min(int(rng.expovariate(1 / (45 * 60))), 6 * HOUR)
        callee = rng.choice(numbers)
        for _ in range(rng.choices((1, 2, 3), (70, 25, 5))[0]):
            if t >= horizon:
                break
            disposition, ring = _fraud_outcome(rng, cust)
            talk = max(10, int(rng.lognormvariate(0, 0.6) * inc.median_talk))
            end = emit.call(
                rng,
                cust,
                callee,
                t,
                ring,
                talk,
                disposition,
                _source(inc, cust, timeline, t, ip),
                inc.incident_id,
            )
            t = end + rng.randint(30, 1200)


def global_events(inc: Incident, seed: int, emit: Emitter) -> None:
    """SIP events of an incident that belong to no single victim (scanner floods)."""
    if inc.kind != "sip_scanner":
        return
    rng = random.Random(f"{seed}:incident:{inc.incident_id}:global")
    names = list(catalog.SCANNER_USERNAMES) + inc.usernames
    for ip in inc.source_ips:
        agent = rng.choice(catalog.SCANNER_AGENTS)
        t = inc.start + rng.randrange(600)
        stop = inc.end
        ext = rng.randint(100, 999)
        while t < stop:
            if rng.random() < 0.6:
                name = str(ext)
                ext += 1 if rng.random() < 0.7 else 0
            else:
                name = rng.choice(names)
            emit.event(t, ip, name, "auth_failure", agent, inc.incident_id)
            t += rng.choice((0, 0, 0, 1, 1, 2))
