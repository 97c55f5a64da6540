"""The ground truth plan: which customers behave unusually (look-alikes) and which are attacked.

The plan is drawn from its own random stream before any traffic is generated and is small (one
entry per look-alike or incident), so it is held in memory even for a million customers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tollguard.app.simulate import catalog
from tollguard.app.simulate.model import (
    BUSINESS,
    DAY,
    HOUR,
    RESIDENTIAL,
    WEEKDAY,
    Customer,
    Period,
    attacker_country,
    build_customer,
    common_country,
    foreign_ip,
)
from tollguard.app.simulate.numbers import NumberTemplate, template

LOOKALIKE_KINDS = (
    "heavy_business",
    "diaspora",
    "one_day_spike",
    "traveller",
    "dynamic_ip",
    "first_time_international",
    "barred_by_request",
)
INCIDENT_KINDS = (
    "pbx_weekend_night",
    "sip_bruteforce",
    "campaign",
    "low_and_slow",
    "daytime_business",
    "wangiri",
    "sip_scanner",
    "pstn_pbx",
)
# Look-alikes per 10,000 customers (at least one of each kind).
LOOKALIKE_RATE = {
    "heavy_business": 15.0,
    "diaspora": 40.0,
    "one_day_spike": 25.0,
    "traveller": 25.0,
    "dynamic_ip": 60.0,
    "first_time_international": 25.0,
    "barred_by_request": 20.0,
}
# Incidents per 100,000 customers per 14 days of attack window (at least one of each kind).
INCIDENT_RATE = {
    "pbx_weekend_night": 8.0,
    "sip_bruteforce": 6.0,
    "campaign": 2.0,
    "low_and_slow": 5.0,
    "daytime_business": 3.0,
    "wangiri": 2.0,
    "sip_scanner": 10.0,
    "pstn_pbx": 6.0,
}


@dataclass(frozen=True, slots=True)
class Role:
    """A look-alike behaviour of one customer over ``[start, end)`` (seconds)."""

    kind: str
    start: int
    end: int
    country: str = ""
    offset: int = 0
    description: str = ""


@dataclass(slots=True)
class Incident:
    """One planned attack. Times are seconds since the period start."""

    incident_id: str
    kind: str
    start: int
    end: int
    victims: list[int] = field(default_factory=list)
    source_ips: list[str] = field(default_factory=list)
    ranges: list[tuple[str, NumberTemplate]] = field(default_factory=list)
    channels: int = 1
    median_talk: float = 90.0
    own_ip: bool = True
    usernames: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def countries(self) -> list[str]:
        """ISO alpha-2 destination countries (international networks have none)."""
        seen: list[str] = []
        for region, _ in self.ranges:
            if not region.isdigit() and region not in seen:
                seen.append(region)
        return seen


@dataclass(slots=True)
class Plan:
    """Look-alike roles and incidents, indexed by customer."""

    roles: dict[int, list[Role]] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)
    by_victim: dict[int, list[Incident]] = field(default_factory=dict)

    def roles_of(self, index: int) -> list[Role]:
        """The look-alike roles of customer ``index``."""
        return self.roles.get(index, [])

    def incidents_of(self, index: int) -> list[Incident]:
        """The incidents that hit customer ``index``."""
        return self.by_victim.get(index, [])


def _count(rate: float, per: float, scale: float) -> int:
    return max(1, round(rate * per * scale)) if scale > 0 else 0


class _Picker:
    """Finds customers matching a condition by sampling indices (profiles rebuilt on demand)."""

    def __init__(self, seed: int, n: int, rng: random.Random) -> None:
        self.seed, self.n, self.rng = seed, n, rng
        self.used: set[int] = set()

    def pick(self, cond: Callable[[Customer], bool], tries: int = 4000) -> Customer | None:
        """A not yet used customer satisfying ``cond`` (``None`` if none found quickly)."""
        for _ in range(tries):
            i = self.rng.randrange(self.n)
            if i in self.used:
                continue
            c = build_customer(self.seed, i)
            if cond(c):
                self.used.add(i)
                return c
        return None


def _hotspots(
    rng: random.Random, count: int, satellite: float = 0.25
) -> list[tuple[str, NumberTemplate]]:
    out: list[tuple[str, NumberTemplate]] = []
    for _ in range(count):
        region, kind = rng.choice(catalog.HOTSPOT_RANGES)
        out.append((region, template(region, kind).narrow(rng)))
    if rng.random() < satellite:
        code = str(rng.choice(catalog.SATELLITE_CODES))
        out.append((code, template(code, "mobile").narrow(rng, 1)))
    return out


def _night_start(rng: random.Random, period: Period, first_day: int, weekend: bool) -> int:
    """A night start (21:00-02:00) in the attack window, before an off-day when ``weekend``."""
    days = list(range(first_day, period.days))
    if weekend:
        pre_off = [d for d in days if period.is_off(d + 1)]
        days = pre_off or days
    day = rng.choice(days)
    t = day * DAY + 21 * HOUR + rng.randrange(5 * HOUR)
    return min(t, period.end_s - HOUR)


def _weekday_morning(rng: random.Random, period: Period, first_day: int) -> int:
    days = [d for d in range(first_day, period.days) if period.day_kind[d] == WEEKDAY]
    day = rng.choice(days or list(range(first_day, period.days)))
    return day * DAY + 9 * HOUR + 30 * 60 + rng.randrange(150 * 60)


def _until_morning_after(period: Period, t: int) -> int:
    """08:00 of the next working day after ``t``."""
    day = t // DAY + 1
    while period.is_off(day) and day < period.days + 2:
        day += 1
    return day * DAY + 8 * HOUR


def _lookalike_role(
    kind: str, c: Customer, rng: random.Random, period: Period, first_day: int
) -> Role:
    """Look-alike behaviour ``kind`` of customer ``c`` (one-off ones fall in the attack window)."""
    any_day = rng.randrange(min(first_day, period.days - 1), period.days) * DAY
    if kind == "heavy_business":
        role = Role(
            kind,
            0,
            period.end_s,
            description="calls abroad every weekday, "
            "10-45 calls to 6-14 countries, several at once",
        )
    elif kind == "diaspora":
        country = rng.choice(catalog.DIASPORA_DESTINATIONS)
        role = Role(
            kind,
            0,
            period.end_s,
            country,
            description=(f"family in {country}: 1-3 calls of 20-90 minutes every week, evenings"),
        )
    elif kind == "one_day_spike":
        country = (
            rng.choice(catalog.DIASPORA_DESTINATIONS) if rng.random() < 0.5 else common_country(rng)
        )
        what = (
            "many foreign numbers in one office day"
            if c.segment == BUSINESS
            else f"family emergency: many long calls to {country} in one day"
        )
        role = Role(kind, any_day, any_day + DAY, country, description=what)
    elif kind == "traveller":
        country, offset = rng.choice(catalog.TRAVEL_COUNTRIES)
        start = any_day + rng.randrange(DAY) - rng.randrange(5) * DAY
        start = max(0, first_day * DAY - 3 * DAY, start)
        end = min(start + rng.randint(7, 14) * DAY, period.end_s)
        role = Role(
            kind,
            start,
            end,
            country,
            offset,
            description=(f"softphone from {country} (IP abroad), calls Japan and local numbers"),
        )
    elif kind == "dynamic_ip":
        role = Role(
            kind,
            0,
            period.end_s,
            description=("address renumbered every 0.4-2.5 days within its ISP"),
        )
    elif kind == "first_time_international":
        country = (
            rng.choice(catalog.DIASPORA_DESTINATIONS) if rng.random() < 0.3 else common_country(rng)
        )
        role = Role(
            kind,
            any_day,
            period.end_s,
            country,
            description=(f"first international calls ever, to {country}"),
        )
    else:
        country = common_country(rng)
        role = Role(
            kind,
            any_day,
            any_day + DAY,
            country,
            description=(f"international barred on request; 2-6 attempts to {country} fail"),
        )
    return role


def build_plan(
    seed: int, n: int, period: Period, attacks_from_day: int, attack_scale: float
) -> Plan:
    """Draw look-alikes and incidents for ``n`` customers."""
    rng = random.Random(f"{seed}:plan")
    plan = Plan()
    picker = _Picker(seed, n, rng)
    per10k = n / 10_000

    def add_role(c: Customer, role: Role) -> None:
        plan.roles.setdefault(c.index, []).append(role)

    conditions = {
        "heavy_business": lambda c: c.segment == BUSINESS and not c.barred,
        "diaspora": lambda c: c.segment == RESIDENTIAL and not c.barred,
        "one_day_spike": lambda c: not c.barred,
        "traveller": lambda c: c.is_ip and not c.barred and c.segment == RESIDENTIAL,
        "dynamic_ip": lambda c: c.is_ip and not c.static_ip,
        "first_time_international": lambda c: not c.barred and c.intl_share == 0,
        "barred_by_request": lambda c: c.barred,
    }
    for kind in LOOKALIKE_KINDS:
        for _ in range(max(1, round(LOOKALIKE_RATE[kind] * per10k))):
            c = picker.pick(conditions[kind])
            if c is None:
                continue
            add_role(c, _lookalike_role(kind, c, rng, period, attacks_from_day))

    heavy = [
        i for i, rs in sorted(plan.roles.items()) if any(r.kind == "heavy_business" for r in rs)
    ]
    per100k14 = n / 100_000 * max(1, period.days - attacks_from_day) / 14
    drafts: list[Incident] = []
    if period.days > attacks_from_day:
        for kind in INCIDENT_KINDS:
            for _ in range(_count(INCIDENT_RATE[kind], per100k14, attack_scale)):
                inc = _draft(kind, rng, picker, period, attacks_from_day, n, heavy)
                if inc is not None:
                    drafts.append(inc)
    drafts.sort(key=lambda i: (i.start, i.kind))
    for k, inc in enumerate(drafts, start=1):
        inc.incident_id = f"INC-{k:05d}"
        plan.incidents.append(inc)
        for v in inc.victims:
            plan.by_victim.setdefault(v, []).append(inc)
    return plan


def _on_ip(model: str | None) -> Callable[[Customer], bool]:
    """Condition: an IP line, with equipment ``model`` when given."""
    return lambda c: c.is_ip and (model is None or c.equipment == model)


def _draft(
    kind: str,
    rng: random.Random,
    picker: _Picker,
    period: Period,
    first_day: int,
    n: int,
    heavy: list[int],
) -> Incident | None:
    """One incident of ``kind`` (victims, time, destinations, sources)."""
    vulnerable = catalog.WIDELY_DEPLOYED_PBX
    if kind == "pbx_weekend_night":
        want_model = rng.random() < 0.6
        c = picker.pick(
            lambda c: (
                c.segment == BUSINESS and c.is_ip and (c.equipment == vulnerable or not want_model)
            )
        )
        if c is None:
            return None
        start = _night_start(rng, period, first_day, weekend=True)
        end = min(_until_morning_after(period, start), start + rng.randint(4, 40) * HOUR)
        own = rng.random() < 0.6
        ips = [] if own else [foreign_ip(rng, attacker_country(rng))]
        return Incident(
            "",
            kind,
            start,
            end,
            [c.index],
            ips,
            _hotspots(rng, rng.randint(1, 3)),
            channels=min(c.channels, rng.randint(3, 12)),
            median_talk=rng.uniform(30, 240),
            own_ip=own,
            usernames=[c.username],
            description=(
                "PBX break-in at a weekend night: test calls, then "
                + (
                    "the PBX itself pumps calls"
                    if own
                    else "stolen PBX credentials used from abroad"
                )
            ),
        )
    if kind == "pstn_pbx":
        c = picker.pick(lambda c: c.segment == BUSINESS and not c.is_ip)
        if c is None:
            return None
        start = _night_start(rng, period, first_day, weekend=rng.random() < 0.7)
        end = min(_until_morning_after(period, start), start + rng.randint(3, 30) * HOUR)
        return Incident(
            "",
            kind,
            start,
            end,
            [c.index],
            [],
            _hotspots(rng, rng.randint(1, 2), 0.15),
            channels=min(c.channels, rng.randint(2, 8)),
            median_talk=rng.uniform(30, 240),
            own_ip=True,
            description="PSTN PBX compromised (remote maintenance/DISA); no IP to see",
        )
    if kind == "sip_bruteforce":
        c = picker.pick(lambda c: c.is_ip)
        if c is None:
            return None
        start = _night_start(rng, period, first_day, weekend=rng.random() < 0.5)
        ip = foreign_ip(rng, attacker_country(rng))
        return Incident(
            "",
            kind,
            start,
            start + rng.randint(3, 12) * HOUR,
            [c.index],
            [ip],
            _hotspots(rng, rng.randint(1, 2)),
            channels=rng.randint(1, 4),
            median_talk=rng.uniform(45, 300),
            own_ip=False,
            usernames=[c.username],
            description="SIP password brute-forced from abroad, then calls from there",
        )
    if kind == "campaign":
        size = max(5, min(60, round(n * 0.004)))
        victims: list[Customer] = []
        for _ in range(rng.randint(max(3, size // 2), size)):
            v = picker.pick(_on_ip(vulnerable if rng.random() < 0.7 else None))
            if v is not None:
                victims.append(v)
        if not victims:
            return None
        start = _night_start(rng, period, first_day, weekend=rng.random() < 0.6)
        origin = attacker_country(rng)
        ips = [
            foreign_ip(rng, origin if rng.random() < 0.7 else attacker_country(rng))
            for _ in range(rng.randint(2, 4))
        ]
        region, rkind = rng.choice(catalog.HOTSPOT_RANGES)
        base = template(region, rkind)
        ranges = [(region, base.narrow(rng)) for _ in range(rng.randint(1, 2))]
        return Incident(
            "",
            kind,
            start,
            start + 5 * HOUR,
            [v.index for v in victims],
            ips,
            ranges,
            channels=rng.randint(2, 6),
            median_talk=rng.uniform(30, 180),
            own_ip=False,
            usernames=[v.username for v in victims],
            description=f"campaign: {len(victims)} accounts pumped to {region} "
            f"within the hour from {len(ips)} IPs",
        )
    if kind == "low_and_slow":
        c = picker.pick(lambda c: True)
        if c is None:
            return None
        first = rng.randrange(first_day, max(first_day + 1, period.days - 2))
        days = min(rng.randint(3, 10), period.days - first)
        start = first * DAY + rng.randrange(DAY)
        own = not c.is_ip or rng.random() < 0.5
        ips = [] if own else [foreign_ip(rng, attacker_country(rng))]
        ranges = []
        for _ in range(rng.randint(1, 2)):
            region, rkind = rng.choice(catalog.MID_PRICED_RANGES)
            ranges.append((region, template(region, rkind).narrow(rng)))
        return Incident(
            "",
            kind,
            start,
            min(start + days * DAY, period.end_s),
            [c.index],
            ips,
            ranges,
            channels=1,
            median_talk=rng.uniform(180, 600),
            own_ip=own,
            usernames=[c.username],
            description=f"low-and-slow: a few calls a day for {days} days to "
            "mid-priced mobile ranges",
        )
    if kind == "daytime_business":
        pool = [i for i in heavy if i not in picker.used]
        if pool:
            c = build_customer(picker.seed, rng.choice(pool))
            picker.used.add(c.index)
        else:
            found = picker.pick(lambda c: c.segment == BUSINESS and c.intl_share > 0)
            if found is None:
                return None
            c = found
        start = _weekday_morning(rng, period, first_day)
        return Incident(
            "",
            kind,
            start,
            start + rng.randint(3, 7) * HOUR,
            [c.index],
            [],
            _hotspots(rng, rng.randint(1, 3), 0.1),
            channels=rng.randint(2, 6),
            median_talk=rng.uniform(60, 300),
            own_ip=True,
            usernames=[c.username],
            description="office-hours attack on a company that calls abroad daily",
        )
    if kind == "wangiri":
        size = max(4, min(50, round(n * 0.005)))
        victims = []
        for _ in range(rng.randint(max(2, size // 2), size)):
            v = picker.pick(lambda c: True)
            if v is not None:
                victims.append(v)
        if not victims:
            return None
        region, rkind = rng.choice(catalog.WANGIRI_RANGES)
        narrow = template(region, rkind).narrow(rng)
        day = rng.randrange(first_day, period.days)
        start = day * DAY + 10 * HOUR + rng.randrange(11 * HOUR)
        return Incident(
            "",
            kind,
            start,
            start + 8 * HOUR,
            [v.index for v in victims],
            [],
            [(region, narrow)],
            channels=1,
            median_talk=rng.uniform(40, 120),
            own_ip=True,
            usernames=[v.username for v in victims],
            description=f"Wangiri: one-ring calls from high-cost {region} numbers; "
            f"{len(victims)} customers call back",
        )
    # sip_scanner
    start = _night_start(rng, period, first_day, weekend=rng.random() < 0.5)
    origin = attacker_country(rng)
    ips = [foreign_ip(rng, origin) for _ in range(rng.randint(1, 3))]
    sample = [
        build_customer(picker.seed, rng.randrange(n)).username for _ in range(rng.randint(0, 5))
    ]
    return Incident(
        "",
        kind,
        start,
        start + rng.randint(10, 90) * 60,
        [],
        ips,
        [],
        usernames=sample,
        description="SIP scanner: auth_failure floods over many usernames, never in",
    )
