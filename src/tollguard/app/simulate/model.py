"""Customers, the simulated period and small random helpers shared by the simulator.

A customer's profile is a pure function of ``(seed, index)``, so any customer can be rebuilt on
demand (the attack planner does this) and generation order never changes the output.
"""

from __future__ import annotations

import bisect
import ipaddress
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache

import holidays

from tollguard.app.simulate import catalog
from tollguard.app.simulate.numbers import (
    area_of,
    foreign_number,
    jp_geographic,
    jp_ip_phone,
    jp_mobile,
    valid_jp,
)

JST = timezone(timedelta(hours=9))
DAY = 86_400
HOUR = 3_600

WEEKDAY, SATURDAY, OFFDAY = 0, 1, 2

RESIDENTIAL, BUSINESS = "residential", "business"
IP, PSTN = "ip", "pstn"


@dataclass(frozen=True, slots=True)
class Period:
    """The simulated days: start date (JST midnight), length and each day's kind."""

    start: date
    days: int
    day_kind: tuple[int, ...]
    holiday_names: tuple[str, ...]

    @classmethod
    def build(cls, start: date, days: int) -> Period:
        """Classify every day as weekday, Saturday or off-day (Sunday / Japanese holiday)."""
        years = range(start.year, (start + timedelta(days=days + 1)).year + 1)
        jp = holidays.country_holidays("JP", years=years)
        kinds: list[int] = []
        names: list[str] = []
        for d in range(days + 3):
            day = start + timedelta(days=d)
            name = jp.get(day)
            names.append(str(name) if name else "")
            if name or day.weekday() == 6:
                kinds.append(OFFDAY)
            elif day.weekday() == 5:
                kinds.append(SATURDAY)
            else:
                kinds.append(WEEKDAY)
        return cls(start, days, tuple(kinds), tuple(names))

    @property
    def end_s(self) -> int:
        """Seconds from the start to the end of the last day."""
        return self.days * DAY

    def kind_at(self, seconds: int) -> int:
        """Day kind at a time (seconds since the start)."""
        return self.day_kind[min(max(seconds // DAY, 0), len(self.day_kind) - 1)]

    def is_off(self, day: int) -> bool:
        """Whether ``day`` is a weekend day or a holiday."""
        return self.day_kind[min(max(day, 0), len(self.day_kind) - 1)] != WEEKDAY

    def fmt(self, seconds: int) -> str:
        """ISO 8601 local time with +09:00 offset, whole seconds."""
        d, rem = divmod(seconds, DAY)
        days = _day_strings(self.start, self.days + 3)
        if 0 <= d < len(days):
            return days[d] + _clock()[rem]
        moment = datetime(self.start.year, self.start.month, self.start.day, tzinfo=JST)
        return (moment + timedelta(seconds=seconds)).isoformat()


@cache
def _day_strings(start: date, count: int) -> tuple[str, ...]:
    return tuple((start + timedelta(days=d)).isoformat() for d in range(count))


@cache
def _clock() -> tuple[str, ...]:
    """``THH:MM:SS+09:00`` for every second of a day (formatting is the simulator's hot path)."""
    return tuple(
        f"T{h:02d}:{m:02d}:{s:02d}+09:00" for h in range(24) for m in range(60) for s in range(60)
    )


# --- random helpers -------------------------------------------------------------------------------


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation above 30)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def cumulative(weights: list[float]) -> list[float]:
    """Cumulative sums of ``weights`` (for :func:`pick_index`)."""
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def pick_index(rng: random.Random, cum: list[float]) -> int:
    """Index drawn with the probabilities behind cumulative weights ``cum``."""
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def call_id(rng: random.Random) -> str:
    """A switch-style call identifier (64 random bits, hex)."""
    return f"{rng.getrandbits(64):016x}"


@cache
def _network(cidr: str) -> tuple[int, int]:
    net = ipaddress.ip_network(cidr)
    return int(net.network_address), net.num_addresses


def ip_in(rng: random.Random, cidr: str) -> str:
    """A host address inside ``cidr`` (never the network or broadcast address)."""
    base, size = _network(cidr)
    return str(ipaddress.IPv4Address(base + rng.randrange(1, size - 1)))


def foreign_ip(rng: random.Random, country: str) -> str:
    """An address in one of the verified blocks of ``country``."""
    return ip_in(rng, rng.choice(catalog.FOREIGN_BLOCKS[country]))


def isp_ip(rng: random.Random, isp: int) -> str:
    """An address of Japanese ISP number ``isp`` (index in :data:`catalog.JP_ISP_BLOCKS`)."""
    return ip_in(rng, rng.choice(catalog.JP_ISP_BLOCKS[isp][1]))


def attacker_country(rng: random.Random) -> str:
    """A country attack traffic comes from."""
    names = [c for c, _ in catalog.ATTACKER_COUNTRIES]
    weights = [w for _, w in catalog.ATTACKER_COUNTRIES]
    return rng.choices(names, weights)[0]


# --- customers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    """A subscriber's contract and calling habits (all drawn from its own seed)."""

    index: int
    subscriber_id: str
    segment: str
    service: str
    numbers: tuple[str, ...]
    email: str
    intl_status: str
    equipment: str
    channels: int
    style: str
    isp: int
    static_ip: bool
    renumber_days: float
    activity: float
    intl_share: float
    intl_contacts: tuple[str, ...]
    dom_contacts: tuple[str, ...]
    username: str

    @property
    def is_ip(self) -> bool:
        """Whether the line is SIP over IP (it has source addresses and SIP events)."""
        return self.service == IP

    @property
    def barred(self) -> bool:
        """Whether international calling is suspended on the customer's request."""
        return self.intl_status == "suspended"


_COMMON = [c for c, _ in catalog.COMMON_DESTINATIONS]
_COMMON_W = [w for _, w in catalog.COMMON_DESTINATIONS]
_PBX = [m for m, _ in catalog.PBX_MODELS]
_PBX_W = [w for _, w in catalog.PBX_MODELS]
_HGW = [m for m, _ in catalog.HOME_GATEWAYS]
_HGW_W = [w for _, w in catalog.HOME_GATEWAYS]


def subscriber_id(index: int) -> str:
    """The subscriber identifier of customer ``index``."""
    return f"S{index:07d}"


def common_country(rng: random.Random) -> str:
    """A common (cheap) destination country, weighted by typical Japanese outbound traffic."""
    return rng.choices(_COMMON, _COMMON_W)[0]


def foreign_contact(rng: random.Random, country: str) -> str:
    """A foreign number someone in Japan would call in ``country`` (mobile or fixed)."""
    return foreign_number(rng, country, "mobile" if rng.random() < 0.6 else "fixed")


def build_customer(seed: int, index: int) -> Customer:
    """The profile of customer ``index`` (pure function of ``seed`` and ``index``)."""
    rng = random.Random(f"{seed}:profile:{index}")
    business = rng.random() < 0.22
    segment = BUSINESS if business else RESIDENTIAL
    service = IP if rng.random() < (0.6 if business else 0.65) else PSTN
    if business:
        count = min(1 + int(rng.expovariate(1 / 2.5)), 20)
        first = jp_geographic(rng)
        base = int(first[3:])
        numbers = tuple(f"+81{base + k}" for k in range(count))
        if area_of(numbers[-1]) != area_of(first) or not all(map(valid_jp, numbers)):
            numbers = (first,)  # the block would leave the area code or the valid ranges
        channels = max(2, min(30, len(numbers) + rng.randint(0, 3)))
        equipment = rng.choices(_PBX, _PBX_W)[0]
        word, kind = rng.choice(catalog.COMPANY_WORDS), rng.choice(catalog.COMPANY_KINDS)
        email = f"info@{word}-{kind}{rng.randrange(1000)}.example.jp"
        intl_status = "suspended" if rng.random() < 0.05 else "enabled"
        activity = rng.lognormvariate(-0.18, 0.6)
        intl_share = rng.uniform(0.02, 0.12) if rng.random() < 0.35 else 0.0
    else:
        if service == IP and rng.random() < 0.4:
            numbers = (jp_ip_phone(rng),)
        else:
            numbers = (jp_geographic(rng),)
        channels = 1
        equipment = rng.choices(_HGW, _HGW_W)[0] if service == IP else catalog.PSTN_PHONE
        given, family = rng.choice(catalog.GIVEN_NAMES), rng.choice(catalog.FAMILY_NAMES)
        domain = rng.choice(catalog.RESIDENTIAL_MAIL_DOMAINS)
        email = f"{given}.{family}{rng.randrange(100)}@{domain}"
        intl_status = "suspended" if rng.random() < 0.08 else "enabled"
        activity = rng.lognormvariate(-0.18, 0.6)
        intl_share = rng.uniform(0.03, 0.15) if rng.random() < 0.12 else 0.0
    if intl_status == "suspended":
        intl_share = 0.0
    style = "jp" if service == PSTN or rng.random() < 0.55 else "e164"
    isp = rng.randrange(len(catalog.JP_ISP_BLOCKS)) if service == IP else -1
    static_ip = service == IP and business and rng.random() < 0.8
    renumber_days = rng.uniform(7.0, 30.0)
    n_intl = rng.randint(1, 5) if intl_share > 0 else 0
    home = common_country(rng)
    intl_contacts = tuple(
        foreign_contact(rng, home if rng.random() < 0.6 else common_country(rng))
        for _ in range(n_intl)
    )
    n_dom = rng.randint(5, 30) if business else rng.randint(3, 15)
    dom_contacts = tuple(
        jp_mobile(rng) if rng.random() < 0.45 else jp_geographic(rng) for _ in range(n_dom)
    )
    return Customer(
        index=index,
        subscriber_id=subscriber_id(index),
        segment=segment,
        service=service,
        numbers=numbers,
        email=email,
        intl_status=intl_status,
        equipment=equipment,
        channels=channels,
        style=style,
        isp=isp,
        static_ip=static_ip,
        renumber_days=renumber_days,
        activity=activity,
        intl_share=intl_share,
        intl_contacts=intl_contacts,
        dom_contacts=dom_contacts,
        username=numbers[0][1:],
    )


@dataclass(frozen=True, slots=True)
class IpTimeline:
    """The source address of an IP line over time (``times`` ascending, first is 0)."""

    times: tuple[int, ...]
    addresses: tuple[str, ...]

    def at(self, seconds: int) -> str:
        """The address in use at ``seconds``."""
        return self.addresses[bisect.bisect_right(self.times, seconds) - 1]
