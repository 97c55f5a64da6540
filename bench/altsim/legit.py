"""Legitimate customers: who they are, how they call, how their SIP equipment behaves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from random import Random

import iptocc

from . import profiles as P
from .model import (
    Customer,
    World,
    cumulate,
    outcome,
    pick_hour,
    poisson,
)
from .netaddr import (
    JP_BUSINESS,
    JP_CLOUD,
    JP_CONSUMER,
    JP_CONSUMER_V6,
    TOKYO_GLOBAL_CLOUD,
    TRAVEL_BY_COUNTRY,
    near_ip,
    random_ip,
)
from .numbers import JP_AREAS
from .timebase import DAY, HOUR

# Share of each customer type (the rest of the residential share is plain households).
# fmt: off
ARCHETYPES: dict[str, tuple[str, float]] = {
    "home_barred": ("residential", 0.12),
    "migrant_family": ("residential", 0.09),
    "expat_family": ("residential", 0.025),
    "relatives_abroad": ("residential", 0.04),
    "student": ("residential", 0.02),
    "new_intl_resident": ("residential", 0.01),
    "traveller_resident": ("residential", 0.01),
    "small_office": ("business", 0.14),
    "sme_exporter": ("business", 0.06),
    "trading_house": ("business", 0.012),
    "call_centre": ("business", 0.003),
    "hotel": ("business", 0.015),
    "intl_school": ("business", 0.003),
    "church_npo": ("business", 0.006),
    "shipping_satellite": ("business", 0.002),
    "africa_trader": ("business", 0.003),
    "pacific_fisheries": ("business", 0.002),
    "new_intl_business": ("business", 0.005),
    "traveller_business": ("business", 0.005),
}
# fmt: on
PLAIN = "home_domestic"

# fmt: off
MIGRANT_COUNTRIES = [("PH", 25), ("VN", 25), ("NP", 12), ("BR", 12), ("ID", 8), ("MM", 6),
                     ("CN", 6), ("KR", 3), ("LK", 2), ("PE", 2), ("TH", 2)]
EXPAT_COUNTRIES = [("US", 30), ("GB", 15), ("AU", 12), ("FR", 8), ("DE", 8), ("CA", 8),
                   ("NZ", 4), ("IN", 6), ("SG", 4), ("IT", 3), ("ES", 2)]
STUDENT_COUNTRIES = [("CN", 30), ("KR", 12), ("VN", 15), ("NP", 10), ("TW", 8), ("US", 6),
                     ("FR", 4), ("DE", 4), ("TH", 4), ("ID", 4), ("MM", 3)]
RELATIVE_COUNTRIES = [("US", 35), ("AU", 15), ("CA", 12), ("GB", 12), ("NZ", 6), ("DE", 6),
                      ("SG", 6), ("TH", 4), ("FR", 4)]
TRADE_COUNTRIES = [("CN", 30), ("KR", 12), ("TW", 12), ("US", 14), ("TH", 8), ("VN", 8),
                   ("DE", 5), ("HK", 5), ("SG", 4), ("ID", 3), ("MY", 3), ("IN", 3)]
BRANCH_COUNTRIES = [("US", 30), ("GB", 12), ("DE", 10), ("NL", 5), ("SG", 10), ("AE", 6),
                    ("AU", 6), ("BR", 5), ("IN", 6), ("CN", 10), ("MX", 4), ("ZA", 3),
                    ("SA", 3)]
GUEST_COUNTRIES = [("CN", 18), ("KR", 16), ("TW", 14), ("US", 12), ("HK", 6), ("AU", 6),
                   ("TH", 5), ("SG", 4), ("FR", 3), ("DE", 3), ("GB", 3), ("IT", 2),
                   ("ES", 1), ("BR", 1), ("IN", 2), ("IL", 1), ("AE", 1), ("MX", 1),
                   ("SA", 1), ("ZA", 0.5), ("NG", 0.3), ("KE", 0.3), ("TR", 1)]
CALL_CENTRE_MARKETS = [("US", 35), ("GB", 15), ("AU", 12), ("CA", 10), ("SG", 8), ("HK", 6),
                       ("NZ", 4), ("PH", 6), ("IE", 4)]
NPO_COUNTRIES = [("PH", 15), ("KR", 10), ("US", 10), ("BR", 6), ("NG", 8), ("GH", 6),
                 ("KE", 8), ("UG", 6), ("CD", 4), ("SL", 5), ("LR", 4), ("GN", 2), ("ZM", 3),
                 ("MZ", 2), ("NP", 4), ("MM", 4)]
AFRICA_TRADE = [("KE", 20), ("TZ", 18), ("UG", 12), ("NG", 8), ("GH", 6), ("ZM", 8), ("MZ", 6),
                ("CD", 4), ("SL", 3), ("GN", 2), ("PK", 6), ("AE", 8), ("LK", 3)]
PACIFIC = [("KI", 20), ("SB", 15), ("FJ", 20), ("MH", 15), ("FM", 10), ("PG", 10), ("PW", 6),
           ("TO", 4), ("VU", 5)]
TRAVEL_DESTINATIONS = ["US", "TW", "KR", "TH", "SG", "FR", "GB", "DE", "IT", "HK", "VN", "PH",
                       "ID", "BR", "IN", "TR"]
NEW_INTL_COUNTRIES = [("US", 15), ("AU", 8), ("SG", 8), ("VN", 10), ("PH", 8), ("GB", 6),
                      ("DE", 5), ("TH", 6), ("KE", 3), ("NG", 3), ("AE", 4), ("IN", 5),
                      ("MX", 3), ("TR", 2)]
DISASTERS = [("PH", "typhoon", 30), ("NP", "earthquake", 12), ("TW", "earthquake", 12),
             ("VN", "typhoon and floods", 15), ("ID", "earthquake and tsunami", 10),
             ("TO", "volcanic eruption and tsunami", 4), ("MA", "earthquake", 4),
             ("TR", "earthquake", 6)]
# fmt: on


def weighted(rng: Random, table: Sequence[tuple[str, float]]) -> str:
    total = sum(w for _, w in table)
    x = rng.random() * total
    for key, w in table:
        x -= w
        if x < 0:
            return key
    return table[-1][0]


class Contacts:
    """A customer's address book: a few numbers called again and again (Zipf-like)."""

    def __init__(self, numbers: list[str], skew: float = 1.1) -> None:
        self.numbers = numbers
        self._cum = cumulate([1.0 / (i + 1) ** skew for i in range(len(numbers))])

    def __call__(self, rng: Random) -> str:
        return self.numbers[pick_hour_like(rng, self._cum)]


def _any_of(numbers: list[str]) -> Callable[[Random], str]:
    def pick(rng: Random) -> str:
        return rng.choice(numbers)

    return pick


def pick_hour_like(rng: Random, cum: list[float]) -> int:
    import bisect

    return min(len(cum) - 1, bisect.bisect_right(cum, rng.random() * cum[-1]))


@dataclass
class Habit:
    """A stream of calls of one customer."""

    per_day: float
    hours: list[float]  # cumulative weights
    pick: Callable[[Random], str]
    answer: float
    median: float
    sigma: float
    cap: float
    off_factor: float = 1.0
    off_hours: list[float] | None = None
    first_day: int = 0
    last_day: int | None = None
    boost: dict[int, float] = field(default_factory=dict)
    busy: float = 0.08
    failed: float = 0.03
    redial: float = 0.15
    source_ip: Callable[[int], str] | None = None
    caller: Callable[[Random], str] | None = None
    countries: tuple[str, ...] = ()


@dataclass
class Context:
    world: World
    attacks_from_day: int
    disaster: tuple[str, str, int] | None = None  # country, what, day


# --- creating customers ----------------------------------------------------------------------


def assign_archetypes(rng: Random, n: int) -> list[str]:
    """Each customer's type: every special type appears at least once in data sets of 200+."""
    out: list[str] = []
    for name, (_, share) in ARCHETYPES.items():
        count = round(n * share)
        if count == 0 and n >= 200:
            count = 1
        out.extend([name] * count)
    out = out[:n]
    out.extend([PLAIN] * (n - len(out)))
    rng.shuffle(out)
    return out


def _subscriber_ids(rng: Random, n: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen[f"AC{rng.randrange(1_000_000, 9_999_999)}"] = None
    return list(seen)


def _email(rng: Random, archetype: str, segment: str) -> str:
    if segment == "business":
        words = P.BUSINESS_KINDS.get(archetype, ["shoji", "kogyo", "sekkei"])
        name = f"{rng.choice(P.BUSINESS_WORDS)}-{rng.choice(words)}"
        if rng.random() < 0.08:
            return ""
        return f"{rng.choice(['info', 'soumu', 'it', 'office', 'admin'])}@{name}.example"
    if rng.random() < 0.45:
        return ""
    user = f"{rng.choice(P.SURNAMES)}.{rng.choice('aehikmnrsty')}{rng.randint(1, 99)}"
    return f"{user}@mail.example.ne.jp"


def make_customers(ctx: Context, rng: Random, n: int) -> list[Customer]:
    world = ctx.world
    kinds = assign_archetypes(rng, n)
    ids = _subscriber_ids(rng, n)
    customers: list[Customer] = []
    for sid, archetype in zip(ids, kinds, strict=True):
        crng = Random(f"altsim-customer:{world.seed}:{sid}")
        segment = ARCHETYPES[archetype][0] if archetype != PLAIN else "residential"
        customers.append(_make_customer(ctx, crng, sid, archetype, segment))
    world.customers = customers
    return customers


def _ip_share(archetype: str) -> float:
    return {
        PLAIN: 0.35,
        "home_barred": 0.15,
        "migrant_family": 0.65,
        "expat_family": 0.7,
        "student": 0.85,
        "relatives_abroad": 0.4,
        "new_intl_resident": 0.5,
        "traveller_resident": 1.0,
        "traveller_business": 1.0,
        "small_office": 0.5,
        "sme_exporter": 0.6,
        "trading_house": 0.8,
        "call_centre": 1.0,
        "hotel": 0.55,
        "intl_school": 0.8,
        "church_npo": 0.4,
        "shipping_satellite": 0.5,
        "africa_trader": 0.6,
        "pacific_fisheries": 0.4,
        "new_intl_business": 0.6,
    }[archetype]


def _make_customer(ctx: Context, rng: Random, sid: str, archetype: str, segment: str) -> Customer:
    world = ctx.world
    nums = world.numbers
    service = "ip" if rng.random() < _ip_share(archetype) else "pstn"
    if archetype in ("hotel",):
        area = rng.choice(JP_AREAS["resort"] + JP_AREAS["regional"])
    elif archetype in ("shipping_satellite", "pacific_fisheries"):
        area = rng.choice(JP_AREAS["port"])
    elif archetype == "migrant_family":
        area = rng.choice(JP_AREAS["regional"] + JP_AREAS["metro"])
    else:
        area = rng.choice(JP_AREAS["metro"] * 3 + JP_AREAS["regional"])
    if service == "ip" and segment == "residential" and rng.random() < 0.55:
        area = "50"
    count = 1
    if segment == "business":
        count = {
            "call_centre": rng.randint(20, 60),
            "trading_house": rng.randint(8, 30),
            "hotel": rng.randint(2, 6),
            "intl_school": rng.randint(3, 8),
        }.get(archetype, rng.choice([1, 1, 2, 2, 3, 4, 5, 8, 10]))
    numbers = nums.jp_block(rng, area, count) if count > 1 else [nums.jp_subscriber(rng, area)]
    equipment, ua = "", ""
    has_pbx = False
    if segment == "business":
        if rng.random() < 0.85:
            has_pbx = True
            equipment, ua = rng.choice(P.PBX_MODELS)
            if rng.random() < 0.07:
                equipment, ua = rng.choice(P.VULNERABLE_MODELS)
        if rng.random() < 0.3:
            equipment = ""  # not on file; the User-Agent still tells it
    elif service == "ip":
        equipment, ua = rng.choice(P.HOME_DEVICES)
    if service == "pstn":
        ua = ""
    intl_style = "010"
    r = rng.random()
    if service == "ip" and r < 0.4:
        intl_style = "e164"
    elif r > 0.95:
        intl_style = rng.choice(["0033", "001", "0061"])
    domestic_style = "national"
    if service == "ip" and rng.random() < 0.12:
        domestic_style = "e164"
    elif rng.random() < 0.04:
        domestic_style = "186"
    cust = Customer(
        subscriber_id=sid,
        archetype=archetype,
        segment=segment,
        service=service,
        numbers=numbers,
        email=_email(rng, archetype, segment),
        intl_status="suspended" if archetype == "home_barred" else "enabled",
        equipment=equipment,
        user_agent=ua,
        intl_style=intl_style,
        domestic_style=domestic_style,
        has_pbx=has_pbx,
    )
    if archetype == PLAIN and rng.random() < 0.04:
        cust.intl_status = "suspended"
    return cust


# --- networks and SIP registrations ----------------------------------------------------------


def _initial_ip(rng: Random, cust: Customer) -> tuple[str, str]:
    """(address, what it is) of an IP customer's equipment at the start."""
    if cust.segment == "business":
        r = rng.random()
        if r < 0.62:
            return random_ip(rng, rng.choice(JP_BUSINESS)), "static business line"
        if r < 0.80:
            return random_ip(rng, rng.choice(JP_CONSUMER)), "dynamic address"
        if r < 0.88:
            return random_ip(rng, rng.choice(JP_CLOUD)), "cloud PBX at a Japanese provider"
        if r < 0.95:
            return (
                random_ip(rng, rng.choice(TOKYO_GLOBAL_CLOUD)),
                "cloud PBX in a global cloud's Tokyo region",
            )
        return (
            random_ip(rng, rng.choice(["aws_singapore", "hetzner", "ovh"])),
            "cloud PBX / corporate VPN exit abroad",
        )
    if rng.random() < 0.2:
        return random_ip(rng, rng.choice(JP_CONSUMER_V6)), "IPv6 home line"
    return random_ip(rng, rng.choice(JP_CONSUMER)), "dynamic address"


def build_network(ctx: Context, rng: Random, cust: Customer) -> None:
    """The customer's addresses over time and the SIP events its equipment causes."""
    world = ctx.world
    days = world.cal.days
    ip, what = _initial_ip(rng, cust)
    times, values = [0], [ip]
    country = iptocc.country_code(ip)
    if what.startswith("cloud") and country != "JP":
        world.lookalike(
            cust,
            "cloud_pbx_foreign_registered_ip",
            None,
            None,
            f"{what}: SIP from {ip} ({country} in the registries), all period",
        )
    dynamic = what in ("dynamic address", "IPv6 home line")
    if dynamic:
        r = rng.random()
        interval = (10**9, 10**9) if r < 0.55 else ((4, 14) if r < 0.95 else (1, 3))
        t = 0
        while True:
            t += rng.randint(interval[0], interval[1]) * DAY + rng.randint(-6, 6) * HOUR
            if t >= days * DAY:
                break
            ip = near_ip(rng, ip) if rng.random() < 0.85 else random_ip(rng, _pool_of(rng, ip))
            times.append(max(t, times[-1] + HOUR))
            values.append(ip)
        if interval[1] <= 3 and len(values) > 4:
            world.lookalike(
                cust,
                "dhcp_frequent_renumbering",
                None,
                None,
                f"home/office line renumbered {len(values) - 1} times (same ISP)",
            )
    # A move to a new ISP or a new office on another network.
    move_p = 0.04 if cust.segment == "business" else 0.015
    if rng.random() < move_p and days >= 6:
        t = rng.randint(2, days - 2) * DAY + rng.randint(6, 20) * HOUR
        if cust.segment == "business":
            new_pool = rng.choice(JP_BUSINESS + JP_CONSUMER_V6 + JP_CLOUD)
            kind, text = "office_move_new_network", "office moved / new line"
        else:
            new_pool = rng.choice(JP_CONSUMER + JP_CONSUMER_V6)
            kind, text = "isp_change", "changed internet provider"
        new_ip = random_ip(rng, new_pool)
        keep = [(a, b) for a, b in zip(times, values, strict=True) if a < t]
        times = [a for a, _ in keep] + [t]
        values = [b for _, b in keep] + [new_ip]
        world.lookalike(
            cust, kind, t, t + 3 * DAY, f"{text}: SIP moves from {keep[-1][1]} to {new_ip}"
        )
        if rng.random() < 0.35:
            _stale_password(ctx, rng, cust, t + rng.randint(60, 4 * HOUR), new_ip)
    elif rng.random() < 0.01:
        t = rng.randint(1, days - 1) * DAY + rng.randint(0, 23) * HOUR
        _stale_password(ctx, rng, cust, t, values[0])
    cust.ip_times, cust.ip_values = times, values
    _registrations(ctx, rng, cust)


def _pool_of(rng: Random, ip: str) -> str:
    if ":" in ip:
        return rng.choice(JP_CONSUMER_V6)
    return rng.choice(JP_CONSUMER)


def _stale_password(ctx: Context, rng: Random, cust: Customer, t: int, ip: str) -> None:
    """New or reset equipment retries an old password until someone fixes it."""
    world = ctx.world
    failures = rng.randint(15, 400)
    step = rng.randint(20, 120)
    ua = cust.user_agent or rng.choice(P.SOFTPHONES)
    for i in range(failures):
        world.add_sip(t + i * step + rng.randint(0, 5), ip, cust.subscriber_id, "auth_failure", ua)
    fixed = t + failures * step + rng.randint(300, 3 * HOUR)
    world.add_sip(fixed, ip, cust.subscriber_id, "auth_success", ua)
    world.add_sip(fixed, ip, cust.subscriber_id, "register", ua)
    world.lookalike(
        cust,
        "stale_sip_password_retries",
        t,
        fixed,
        f"{failures} auth failures from its own equipment at {ip} before the password was fixed",
    )


def _registrations(ctx: Context, rng: Random, cust: Customer) -> None:
    """Registration events: at every address change and at a daily re-authentication."""
    world = ctx.world
    horizon = world.horizon
    period = 12 * HOUR if cust.segment == "business" else 24 * HOUR
    ua = cust.user_agent
    for i, (start, ip) in enumerate(zip(cust.ip_times, cust.ip_values, strict=True)):
        end = cust.ip_times[i + 1] if i + 1 < len(cust.ip_times) else horizon
        t = start + rng.randint(5, 120)
        world.add_sip(t, ip, cust.subscriber_id, "auth_success", ua)
        world.add_sip(t, ip, cust.subscriber_id, "register", ua)
        t += period + rng.randint(-1800, 1800)
        while t < end:
            world.add_sip(t, ip, cust.subscriber_id, "register", ua)
            t += period + rng.randint(-1800, 1800)


# --- habits ----------------------------------------------------------------------------------


def _domestic_picker(world: World, rng: Random, size: int, mobile: float) -> Contacts:
    numbers: list[str] = []
    for _ in range(size):
        r = rng.random()
        if r < mobile:
            numbers.append(world.numbers.jp_domestic(rng, "mobile"))
        elif r < mobile + 0.05:
            numbers.append(world.numbers.jp_domestic(rng, "free"))
        elif r < mobile + 0.08:
            numbers.append(world.numbers.jp_domestic(rng, "navi"))
        elif r < mobile + 0.12:
            numbers.append(world.numbers.jp_domestic(rng, "ip"))
        else:
            numbers.append(world.numbers.jp_domestic(rng, "fixed"))
    return Contacts(numbers)


def _foreign_contacts(
    world: World, rng: Random, country: str, size: int, mobile: float = 0.8
) -> Contacts:
    nums = []
    for _ in range(size):
        kind = "mobile" if rng.random() < mobile else "fixed"
        try:
            nums.append(world.numbers.foreign(rng, country, kind))
        except ValueError:
            nums.append(world.numbers.foreign(rng, country, "any"))
    return Contacts(nums)


def _mixed_contacts(
    world: World, rng: Random, table: Sequence[tuple[str, float]], size: int, countries: int
) -> tuple[Contacts, list[str]]:
    chosen: list[str] = []
    for _ in range(countries * 3):
        c = weighted(rng, table)
        if c not in chosen:
            chosen.append(c)
        if len(chosen) >= countries:
            break
    nums: list[str] = []
    for i in range(size):
        c = chosen[min(i % len(chosen), len(chosen) - 1)] if i < len(chosen) else rng.choice(chosen)
        nums.append(world.numbers.foreign(rng, c, "any" if rng.random() < 0.5 else "mobile"))
    return Contacts(nums, skew=0.9), chosen


def _pool_picker(
    world: World, table: Sequence[tuple[str, float]], size: int
) -> Callable[[Random], str]:
    pools = {c: world.numbers.pool(c, "any", size) for c, w in table if w > 0}
    keys = list(pools)
    cum = cumulate([dict(table)[k] for k in keys])

    def pick(rng: Random) -> str:
        return rng.choice(pools[keys[pick_hour_like(rng, cum)]])

    return pick


def _country_of(number: str) -> str:
    import phonenumbers

    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or "001"
    except phonenumbers.NumberParseException:
        return "001"


def habits_for(ctx: Context, rng: Random, cust: Customer) -> list[Habit]:
    world = ctx.world
    cal = world.cal
    a = cust.archetype
    hs: list[Habit] = []
    picker: Callable[[Random], str]
    res_hours = cumulate(P.RESIDENTIAL)
    office = cumulate(P.OFFICE)

    def domestic(
        per_day: float,
        size: int,
        mobile: float,
        hours: list[float],
        off: float,
        median: float = 150.0,
    ) -> None:
        hs.append(
            Habit(
                per_day,
                hours,
                _domestic_picker(world, rng, size, mobile),
                0.72,
                median,
                1.1,
                3 * HOUR,
                off_factor=off,
            )
        )

    def family_abroad(
        country: str,
        per_day: float,
        contacts: int,
        median: float,
        first_day: int = 0,
        festival: float = 4.0,
    ) -> None:
        picker = _foreign_contacts(world, rng, country, contacts)
        hours = cumulate(P.combined(P.PRIVATE_CALLER, P.LOCAL_AWAKE, country))
        boost = {d: festival for d in cal.festival_days(country)}
        for d in list(boost):
            boost.setdefault(d - 1, 1.6)
        hs.append(
            Habit(
                per_day,
                hours,
                picker,
                0.68,
                median,
                0.9,
                3 * HOUR,
                off_factor=1.6,
                first_day=first_day,
                boost=boost,
                redial=0.35,
                countries=(country,),
            )
        )
        cust.home_countries.append(country)

    if a in (PLAIN, "home_barred"):
        domestic(rng.uniform(0.2, 0.9), rng.randint(4, 20), 0.45, res_hours, 1.3, 180)
        if cust.intl_status == "suspended":
            if rng.random() < 0.15:
                # Barred at their own request; an occasional attempt abroad fails at the switch.
                country = weighted(rng, [*RELATIVE_COUNTRIES, ("KR", 5), ("CN", 5)])
                hs.append(
                    Habit(
                        0.01,
                        res_hours,
                        _foreign_contacts(world, rng, country, 2),
                        0.0,
                        1,
                        0,
                        1,
                        busy=0.0,
                        failed=1.0,
                        redial=0.5,
                    )
                )
        elif rng.random() < 0.06:
            country = weighted(rng, RELATIVE_COUNTRIES + TRADE_COUNTRIES[:4])
            family_abroad(country, rng.uniform(0.01, 0.05), 2, 400)
    elif a == "migrant_family":
        country = weighted(rng, MIGRANT_COUNTRIES)
        family_abroad(country, rng.uniform(0.3, 1.4), rng.randint(1, 5), rng.uniform(700, 1800))
        domestic(rng.uniform(0.2, 0.6), rng.randint(3, 12), 0.7, res_hours, 1.2)
    elif a == "expat_family":
        country = weighted(rng, EXPAT_COUNTRIES)
        family_abroad(country, rng.uniform(0.15, 0.6), rng.randint(2, 6), rng.uniform(500, 1500))
        domestic(rng.uniform(0.3, 0.8), rng.randint(4, 15), 0.5, res_hours, 1.2)
    elif a == "relatives_abroad":
        country = weighted(rng, RELATIVE_COUNTRIES)
        family_abroad(country, rng.uniform(0.04, 0.2), rng.randint(1, 2), rng.uniform(400, 1200))
        domestic(rng.uniform(0.3, 0.9), rng.randint(5, 20), 0.4, res_hours, 1.3)
    elif a == "student":
        country = weighted(rng, STUDENT_COUNTRIES)
        family_abroad(country, rng.uniform(0.1, 0.45), rng.randint(1, 3), rng.uniform(500, 1400))
        domestic(rng.uniform(0.1, 0.4), rng.randint(3, 10), 0.8, res_hours, 1.2)
    elif a in ("new_intl_resident", "new_intl_business"):
        business = a == "new_intl_business"
        if business:
            domestic(rng.uniform(1.5, 5), rng.randint(15, 60), 0.3, office, 0.05)
        else:
            domestic(rng.uniform(0.3, 0.9), rng.randint(4, 15), 0.45, res_hours, 1.3)
        lo = max(1, min(ctx.attacks_from_day - 3, cal.days - 4))
        start_day = rng.randint(lo, max(lo, cal.days - 4))
        country = weighted(rng, NEW_INTL_COUNTRIES)
        if business:
            picker = _foreign_contacts(world, rng, country, rng.randint(2, 6), 0.4)
            hours = cumulate(P.combined(P.OFFICE_CALLER, P.LOCAL_OFFICE, country))
            hs.append(
                Habit(
                    rng.uniform(0.5, 2.5),
                    hours,
                    picker,
                    0.7,
                    600,
                    0.9,
                    2 * HOUR,
                    off_factor=0.1,
                    first_day=start_day,
                )
            )
            why = "new overseas client / partner"
        else:
            family_abroad(
                country, rng.uniform(0.3, 1.0), rng.randint(1, 2), 900, first_day=start_day
            )
            why = "a relative moved abroad"
        cust.home_countries = []
        world.lookalike(
            cust,
            "starts_calling_abroad",
            start_day * DAY,
            None,
            f"never called abroad, then {why}: calls {country} from day {start_day}",
        )
    elif a in ("traveller_resident", "traveller_business"):
        business = a == "traveller_business"
        if business:
            domestic(rng.uniform(2, 6), rng.randint(10, 40), 0.4, office, 0.05)
        else:
            domestic(rng.uniform(0.3, 0.8), rng.randint(4, 15), 0.6, res_hours, 1.3)
        _trip(ctx, rng, cust, hs)
    elif a == "small_office":
        domestic(rng.uniform(0.6, 3.0), rng.randint(10, 80), 0.3, office, 0.04)
        if rng.random() < 0.15:
            country = weighted(rng, TRADE_COUNTRIES)
            picker = _foreign_contacts(world, rng, country, rng.randint(1, 3), 0.3)
            hours = cumulate(P.combined(P.OFFICE_CALLER, P.LOCAL_OFFICE, country))
            hs.append(
                Habit(
                    rng.uniform(0.02, 0.1),
                    hours,
                    picker,
                    0.7,
                    300,
                    0.9,
                    HOUR,
                    off_factor=0.05,
                    countries=(country,),
                )
            )
            cust.home_countries.append(country)
    elif a == "sme_exporter":
        domestic(rng.uniform(1.5, 5.5), rng.randint(30, 120), 0.3, office, 0.04)
        contacts, chosen = _mixed_contacts(
            world, rng, TRADE_COUNTRIES, rng.randint(3, 12), rng.randint(1, 4)
        )
        hours = cumulate(P.combined(P.OFFICE_CALLER, P.LOCAL_OFFICE, chosen[0]))
        hs.append(
            Habit(
                rng.uniform(0.2, 1.5),
                hours,
                contacts,
                0.7,
                420,
                1.0,
                2 * HOUR,
                off_factor=0.05,
                countries=tuple(chosen),
            )
        )
        cust.home_countries.extend(chosen)
    elif a == "trading_house":
        domestic(rng.uniform(5, 14), rng.randint(80, 300), 0.35, office, 0.05)
        contacts, chosen = _mixed_contacts(
            world, rng, BRANCH_COUNTRIES, rng.randint(6, 20), rng.randint(2, 5)
        )
        for c in chosen:
            sub = Contacts(
                [n for n in contacts.numbers if _country_of(n) == c] or contacts.numbers[:1]
            )
            hours = cumulate(P.combined(P.OFFICE_CALLER, P.LOCAL_OFFICE, c))
            hs.append(
                Habit(
                    rng.uniform(0.8, 3.5),
                    hours,
                    sub,
                    0.8,
                    1300,
                    0.8,
                    3 * HOUR,
                    off_factor=0.12,
                    redial=0.3,
                    countries=(c,),
                )
            )
        cust.home_countries.extend(chosen)
        if any(P.UTC_OFFSET.get(c, 9) < 5 for c in chosen):
            world.lookalike(
                cust,
                "overseas_branch_night_calls",
                None,
                None,
                "long calls to branches in " + ", ".join(chosen) + " in their office hours "
                "(Japanese night)",
            )
    elif a == "call_centre":
        domestic(rng.uniform(8, 25), 400, 0.5, cumulate(P.CALL_CENTRE), 0.25, 200)
        markets = [(c, w * rng.uniform(0.3, 1.7)) for c, w in CALL_CENTRE_MARKETS]
        picker = _pool_picker(world, markets, 2500)
        hs.append(
            Habit(
                rng.uniform(35, 80),
                cumulate(P.CALL_CENTRE),
                picker,
                0.36,
                160,
                0.8,
                2400,
                off_factor=0.3,
                busy=0.12,
                failed=0.06,
                redial=0.1,
                caller=_any_of(cust.numbers),
            )
        )
        world.lookalike(
            cust,
            "outbound_call_centre",
            None,
            None,
            "BPO dialling customer lists in "
            + ", ".join(c for c, _ in CALL_CENTRE_MARKETS[:5])
            + " (many distinct foreign numbers, low answer rate)",
        )
    elif a == "hotel":
        domestic(rng.uniform(2, 6), rng.randint(40, 120), 0.4, office, 0.9)
        picker = _pool_picker(world, GUEST_COUNTRIES, 400)
        hs.append(
            Habit(
                rng.uniform(0.4, 2.5),
                cumulate(P.HOTEL_GUESTS),
                picker,
                0.62,
                420,
                1.0,
                2 * HOUR,
                off_factor=1.3,
                redial=0.4,
                caller=_any_of(cust.numbers),
            )
        )
        world.lookalike(
            cust,
            "hotel_guest_calls",
            None,
            None,
            "guests call many countries at any hour from room phones",
        )
    elif a == "intl_school":
        domestic(rng.uniform(3, 8), rng.randint(40, 150), 0.5, office, 0.1)
        table = [
            ("US", 25),
            ("GB", 12),
            ("AU", 10),
            ("IN", 10),
            ("KR", 10),
            ("CN", 10),
            ("FR", 5),
            ("DE", 5),
            ("CA", 5),
            ("PH", 4),
            ("SG", 4),
        ]
        picker = _pool_picker(world, table, 300)
        hs.append(
            Habit(
                rng.uniform(1, 4),
                cumulate(P.OFFICE_CALLER),
                picker,
                0.6,
                420,
                0.9,
                2 * HOUR,
                off_factor=0.1,
            )
        )
    elif a == "church_npo":
        domestic(rng.uniform(0.5, 2.5), rng.randint(10, 60), 0.5, res_hours, 1.5)
        contacts, chosen = _mixed_contacts(
            world, rng, NPO_COUNTRIES, rng.randint(4, 12), rng.randint(2, 5)
        )
        hours = cumulate(P.combined(P.PRIVATE_CALLER, P.LOCAL_AWAKE, chosen[0]))
        boost = {d: 2.5 for d in range(cal.days) if cal.weekday(d) == 6}
        hs.append(
            Habit(
                rng.uniform(0.3, 1.5),
                hours,
                contacts,
                0.55,
                700,
                1.0,
                2 * HOUR,
                boost=boost,
                redial=0.4,
                countries=tuple(chosen),
            )
        )
        cust.home_countries.extend(chosen)
        risky = [c for c in chosen if c in ("SL", "LR", "GN", "CD", "NG", "UG")]
        if risky:
            world.lookalike(
                cust,
                "npo_mission_africa",
                None,
                None,
                "church/NPO calling mission staff on mobiles in " + ", ".join(chosen),
            )
    elif a == "shipping_satellite":
        domestic(rng.uniform(2, 6), rng.randint(20, 80), 0.4, office, 0.3)
        ships = [
            world.numbers.under_prefix(rng, rng.choice(["8816", "8817", "870", "870", "88216"]))
            for _ in range(rng.randint(2, 8))
        ]
        hs.append(
            Habit(
                rng.uniform(0.3, 1.5),
                cumulate([1.0] * 24),
                Contacts(ships),
                0.55,
                240,
                0.8,
                1800,
                off_factor=1.0,
                failed=0.15,
                redial=0.5,
            )
        )
        world.lookalike(
            cust,
            "satellite_phone_calls",
            None,
            None,
            "shipping / fishing / expedition office calling vessels on Inmarsat, Iridium and "
            "Thuraya at any hour",
        )
    elif a == "africa_trader":
        domestic(rng.uniform(2, 6), rng.randint(20, 80), 0.3, office, 0.3)
        contacts, chosen = _mixed_contacts(
            world, rng, AFRICA_TRADE, rng.randint(5, 20), rng.randint(2, 5)
        )
        hours = cumulate(P.combined(P.OFFICE_CALLER, P.LOCAL_AWAKE, chosen[0]))
        hs.append(
            Habit(
                rng.uniform(0.8, 3.0),
                hours,
                contacts,
                0.6,
                360,
                1.0,
                HOUR,
                off_factor=0.6,
                redial=0.4,
                countries=tuple(chosen),
            )
        )
        cust.home_countries.extend(chosen)
        world.lookalike(
            cust,
            "africa_partner_mobiles",
            None,
            None,
            "used-car exporter calling buyers' mobiles in " + ", ".join(chosen),
        )
    elif a == "pacific_fisheries":
        domestic(rng.uniform(2, 5), rng.randint(20, 60), 0.4, office, 0.3)
        contacts, chosen = _mixed_contacts(
            world, rng, PACIFIC, rng.randint(3, 8), rng.randint(1, 3)
        )
        hours = cumulate(P.combined(P.OFFICE_CALLER, P.LOCAL_OFFICE, chosen[0]))
        hs.append(
            Habit(
                rng.uniform(0.3, 1.2),
                hours,
                contacts,
                0.55,
                500,
                0.9,
                HOUR,
                off_factor=0.3,
                failed=0.1,
                redial=0.5,
                countries=tuple(chosen),
            )
        )
        cust.home_countries.extend(chosen)
        world.lookalike(
            cust,
            "pacific_island_calls",
            None,
            None,
            "tuna fishing company calling agents in " + ", ".join(chosen),
        )
    cust.calls_abroad = bool(cust.home_countries) or a in (
        "call_centre",
        "hotel",
        "intl_school",
        "shipping_satellite",
    )
    return hs


def _trip(ctx: Context, rng: Random, cust: Customer, hs: list[Habit]) -> None:
    """A trip abroad: the softphone registers from the visited country and calls home."""
    world = ctx.world
    cal = world.cal
    long_weekends = cal.long_weekends()
    if long_weekends and rng.random() < 0.5:
        first = max(0, long_weekends[0] - rng.randint(0, 2))
    else:
        first = rng.randint(0, max(0, cal.days - 4))
    length = rng.randint(3, 12)
    last = min(cal.days - 1, first + length - 1)
    country = rng.choice(TRAVEL_DESTINATIONS)
    pool = TRAVEL_BY_COUNTRY[country]
    ua = rng.choice(P.SOFTPHONES)
    hotel_ips = [random_ip(rng, pool) for _ in range(rng.randint(1, 3))]
    per_day = max(1, (last - first + 1) // len(hotel_ips))

    def ip_on(t: int) -> str:
        return hotel_ips[min(len(hotel_ips) - 1, max(0, (t // DAY - first) // per_day))]

    for d in range(first, last + 1):
        t = d * DAY + rng.randint(0, 23) * HOUR + rng.randint(0, 3599)
        ip = ip_on(t)
        world.add_sip(t, ip, cust.subscriber_id, "auth_success", ua)
        world.add_sip(t, ip, cust.subscriber_id, "register", ua)
    home = Contacts(
        [world.numbers.jp_domestic(rng, "mobile") for _ in range(3)]
        + [world.numbers.jp_domestic(rng, "fixed") for _ in range(3)]
    )
    local = Contacts([world.numbers.foreign(rng, country, "any") for _ in range(4)])
    # Awake in the visited country's day; calls home and locally.
    hours = cumulate(
        [P.LOCAL_AWAKE[(h - 9 + P.UTC_OFFSET.get(country, 0)) % 24] for h in range(24)]
    )
    hs.append(
        Habit(
            rng.uniform(0.8, 3),
            hours,
            home,
            0.75,
            300,
            1.0,
            HOUR,
            first_day=first,
            last_day=last,
            source_ip=ip_on,
        )
    )
    hs.append(
        Habit(
            rng.uniform(0.2, 1),
            hours,
            local,
            0.7,
            120,
            0.8,
            1200,
            first_day=first,
            last_day=last,
            source_ip=ip_on,
            failed=0.05,
        )
    )
    world.lookalike(
        cust,
        "softphone_abroad",
        first * DAY,
        (last + 1) * DAY,
        f"travelling in {country}: softphone registers from {', '.join(hotel_ips)} and calls "
        "Japan and local numbers",
    )


# --- running habits --------------------------------------------------------------------------


def run_habits(ctx: Context, rng: Random, cust: Customer, habits: list[Habit]) -> None:
    world = ctx.world
    cal = world.cal
    off_days = [cal.is_off(d) for d in range(cal.days)]
    for h in habits:
        last = cal.days - 1 if h.last_day is None else h.last_day
        for day in range(h.first_day, last + 1):
            rate = h.per_day * (h.off_factor if off_days[day] else 1.0) * h.boost.get(day, 1.0)
            for _ in range(poisson(rng, rate)):
                hour = pick_hour(rng, h.off_hours if (h.off_hours and off_days[day]) else h.hours)
                t = day * DAY + hour * HOUR + rng.randint(0, 3599)
                _place(world, rng, cust, h, t)


def _place(world: World, rng: Random, cust: Customer, h: Habit, t: int) -> None:
    number = h.pick(rng)
    ip = h.source_ip(t) if h.source_ip else None
    caller = h.caller(rng) if h.caller else None
    for _ in range(3):
        result = outcome(rng, h.answer, h.median, h.sigma, h.cap, busy=h.busy, failed=h.failed)
        if cust.intl_status == "suspended" and not number.startswith("+81"):
            result = ("FAILED", rng.randint(0, 2), 0)
        cdr = world.add_call(cust, t, number, result, source_ip=ip, caller=caller)
        if result[0] == "ANSWERED" or rng.random() >= h.redial:
            return
        t = cdr.end + rng.randint(20, 600)


# --- cross-customer events -------------------------------------------------------------------


def choose_disaster(rng: Random, days: int) -> tuple[str, str, int] | None:
    if days < 8:
        return None
    country = weighted(rng, [(c, w) for c, _, w in DISASTERS])
    what = next(d for c, d, _ in DISASTERS if c == country)
    return country, what, rng.randint(4, days - 4)


def disaster_habits(ctx: Context, rng: Random, cust: Customer, habits: list[Habit]) -> None:
    """A typhoon or earthquake abroad: everyone with ties to the country calls at once."""
    if ctx.disaster is None:
        return
    country, what, day = ctx.disaster
    world = ctx.world
    boost = {day: 6.0, day + 1: 4.0, day + 2: 2.5, day + 3: 1.5}
    tied = country in cust.home_countries
    if tied:
        for h in habits:
            if country in h.countries and h.first_day <= day:
                for d, f in boost.items():
                    h.boost[d] = h.boost.get(d, 1.0) * f
        world.lookalike(
            cust,
            "disaster_surge_calls",
            day * DAY,
            (day + 4) * DAY,
            f"{what} in {country}: calls family there much more than usual",
        )
        return
    # Some people without a calling history to the country call once or twice.
    share = {"church_npo": 0.6, "sme_exporter": 0.05, "trading_house": 0.2, "hotel": 0.1}.get(
        cust.archetype, 0.006
    )
    if cust.intl_status == "enabled" and rng.random() < share:
        picker = _foreign_contacts(world, rng, country, rng.randint(1, 2))
        hours = cumulate(P.combined(P.PRIVATE_CALLER, P.LOCAL_AWAKE, country))
        habits.append(
            Habit(
                1.2,
                hours,
                picker,
                0.45,
                400,
                1.0,
                HOUR,
                first_day=day,
                last_day=min(world.cal.days - 1, day + 2),
                redial=0.6,
            )
        )
        world.lookalike(
            cust,
            "disaster_surge_calls",
            day * DAY,
            (day + 3) * DAY,
            f"{what} in {country}: first calls to {country}, checking on friends / partners",
        )
