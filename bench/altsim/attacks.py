"""Toll-fraud attacks, after published cases (see README "Sources").

Every attack is one incident; every call attempt the attacker caused (answered or not) is listed
in ``truth/fraud_calls.csv``. Attacks pick victims who are not labelled look-alikes, so the
scorer's look-alike figures stay about legitimate behaviour only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

import phonenumbers

from . import profiles as P
from .model import Cdr, Customer, Incident, World, outcome, poisson
from .netaddr import ATTACK_HOSTING, ATTACK_ISP, JP_CLOUD, random_ip
from .numbers import Numbers
from .tariff import PriceList
from .timebase import DAY, HOUR, MINUTE

# IPRN / hotspot ranges by destination (E.164 prefixes without '+'), from operators' hot
# number range lists and IPRN providers' published test-number ranges.
HOTSPOTS: dict[str, list[str]] = {
    "CU": ["5352", "5353", "5354", "5358"],
    "SO": ["25261", "25262", "25290", "25268"],
    "LV": ["3719", "37126", "37128"],
    "LT": ["3709", "37069", "37065"],
    "GN": ["22462", "22466", "22465"],
    "SL": ["23276", "23277", "23230", "23288"],
    "TN": ["21688", "2162", "2169"],
    "GM": ["2203", "2207"],
    "LR": ["2313323", "23177", "23188"],
    "TO": ["6767", "6768"],
    "SB": ["6777", "6778"],
    "VU": ["6785", "6787"],
    "KI": ["6867"],
    "NR": ["6745"],
    "CK": ["6825", "6827"],
    "TV": ["6889"],
    "BY": ["37529", "37544"],
    "MD": ["3736", "3737"],
    "RS": ["3816"],
    "AL": ["3556"],
    "ZW": ["2637"],
    "CD": ["2438"],
    "JM": ["1876"],
    "GD": ["1473"],
    "SAT": ["8816", "8817", "870", "88216"],
    "NET": ["882", "883"],
    "IPRS": ["979"],
}
# Weights: which destinations attackers favour (CFCA/GSMA hot lists, the 2015 Japanese cases).
# fmt: off
HOTSPOT_WEIGHTS: list[tuple[str, float]] = [
    ("CU", 10), ("SO", 8), ("LV", 8), ("LT", 7), ("GN", 7), ("SL", 10), ("TN", 4), ("GM", 3),
    ("LR", 3), ("TO", 3), ("SB", 3), ("VU", 2), ("KI", 2), ("NR", 2), ("CK", 2), ("TV", 1),
    ("BY", 3), ("MD", 2), ("RS", 2), ("AL", 2), ("ZW", 2), ("CD", 2), ("JM", 3), ("GD", 1),
    ("SAT", 6), ("NET", 4), ("IPRS", 1),
]
# fmt: on
# Premium ranges in countries a customer may call anyway.
# fmt: off
PREMIUM_IN_COUNTRY: dict[str, list[str]] = {
    "US": ["1900"], "GB": ["449", "4470"], "DE": ["49900"], "FR": ["3389", "33836"],
    "AU": ["6119"], "SG": ["6519"], "VN": ["84190"], "ID": ["62809"], "CN": ["86168"],
    "TW": ["88620"], "KR": ["8260"], "BR": ["5590"], "MX": ["5290"], "IT": ["39899"],
    "ES": ["34803", "34806"], "CA": ["1900"], "NZ": ["6490"], "IN": ["911861"], "AE": ["971900"],
    "ZA": ["27862"], "KE": ["2549"], "TZ": ["2559"], "UG": ["2569"],
}
# fmt: on
# fmt: off
WANGIRI_ORIGINS = [
    "21688", "22390", "25779", "2250", "3556", "6767", "23276", "22462", "1876", "1473", "882",
]
# fmt: on

BASE_MIX: list[tuple[str, int]] = [
    ("pbx_weekend_night_pump", 5),
    ("pbx_holiday_pump", 2),
    ("pstn_pbx_dial_through", 3),
    ("sip_creds_foreign_ip", 4),
    ("sip_creds_domestic_vps", 3),
    ("sip_bruteforce_takeover", 3),
    ("premium_in_usual_country", 2),
    ("low_and_slow", 3),
    ("office_hours_blend", 2),
    ("test_calls_then_ramp", 2),
    ("multi_tenant_same_ip", 1),
    ("country_campaign", 1),
    ("wangiri_callback", 2),
    ("short_call_flood", 1),
    ("long_duration_calls", 1),
    ("call_forwarding_abuse", 1),
    ("usual_country_regular_numbers", 2),
]


@dataclass
class Inc:
    incident_id: str
    kind: str
    description: str = ""
    subscribers: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    first_activity: int | None = None
    cdrs: list[Cdr] = field(default_factory=list)
    e164s: list[str] = field(default_factory=list)

    def touch(self, t: int) -> None:
        if self.first_activity is None or t < self.first_activity:
            self.first_activity = t

    def add_sub(self, cust: Customer) -> None:
        if cust.subscriber_id not in self.subscribers:
            self.subscribers.append(cust.subscriber_id)
        cust.victim = True

    def add_ip(self, ip: str) -> None:
        if ip and ip not in self.ips:
            self.ips.append(ip)


class Attacks:
    """Plans and runs the attacks of one data set."""

    def __init__(self, world: World, seed: int, attacks_from_day: int, scale: float) -> None:
        self.world = world
        self.cal = world.cal
        self.rng = Random(f"altsim-attacks:{seed}")
        self.numbers: Numbers = world.numbers
        self.from_day = attacks_from_day
        self.scale = scale
        self.incidents: list[Inc] = []
        self.prices = PriceList.load()

    # --- planning ---------------------------------------------------------------------------

    def plan(self, subscribers: int) -> list[tuple[str, bool]]:
        if self.scale <= 0:
            return []
        factor = subscribers / 3000 * self.cal.days / 42 * self.scale
        base = sum(n for _, n in BASE_MIX)
        total = max(3, round(base * factor))
        slots = [k for k, n in BASE_MIX for _ in range(n)]
        self.rng.shuffle(slots)
        kinds = [slots[i % len(slots)] for i in range(total)]
        early_ok = self.from_day > 4
        return [(k, early_ok and self.rng.random() < 0.15) for k in kinds]

    def run(self, subscribers: int) -> None:
        for kind, early in self.plan(subscribers):
            rng = Random(f"altsim-attack:{self.world.seed}:{len(self.incidents)}:{kind}")
            inc = Inc(f"INC-{len(self.incidents) + 1:03d}", kind)
            ok = getattr(self, "_" + kind)(rng, inc, early)
            if ok and inc.cdrs:
                self.incidents.append(inc)
            else:
                self._discard(inc)
        self._finish()

    def _discard(self, inc: Inc) -> None:
        ids = {c.call_id for c in inc.cdrs}
        if ids:
            self.world.cdrs = [c for c in self.world.cdrs if c.call_id not in ids]
            for i in ids:
                self.world.fraud.pop(i, None)
        for sid in inc.subscribers:
            for c in self.world.customers:
                if c.subscriber_id == sid:
                    c.victim = False

    # --- victims and times ------------------------------------------------------------------

    def victims(self, rng: Random, pred: Callable[[Customer], bool], n: int = 1) -> list[Customer]:
        pool = [c for c in self.world.customers if not c.victim and not c.lookalike and pred(c)]
        if len(pool) < n:
            return pool
        return rng.sample(pool, n)

    def day_range(self, early: bool) -> tuple[int, int]:
        if early:
            return min(3, self.from_day - 1), self.from_day - 1
        return min(self.from_day, self.cal.days - 1), self.cal.days - 1

    def pick_day(self, rng: Random, early: bool, pred: Callable[[int], bool] | None = None) -> int:
        lo, hi = self.day_range(early)
        days = [d for d in range(lo, hi + 1) if pred is None or pred(d)]
        if not days:
            days = list(range(lo, hi + 1))
        return rng.choice(days)

    def weekend_night(self, rng: Random, early: bool) -> int:
        """Friday to Sunday night, or the night before a holiday."""

        def eve(d: int) -> bool:
            return self.cal.weekday(d) in (4, 5) or (
                d + 1 < self.cal.days and self.cal.is_jp_holiday(d + 1)
            )

        day = self.pick_day(rng, early, eve)
        return day * DAY + rng.randint(20, 27) * HOUR + rng.randint(0, 3599)

    def holiday_time(self, rng: Random, early: bool) -> tuple[int, str]:
        lo, hi = self.day_range(early)
        days = [d for d in self.cal.holidays_in_period() if lo <= d <= hi]
        if not days:
            days = [d for d in self.cal.long_weekends() if lo <= d <= hi]
        if not days:
            lo, hi = 0, self.cal.days - 1
            days = [d for d in self.cal.holidays_in_period() if lo <= d <= hi]
        if not days:
            return self.weekend_night(rng, early), "a weekend"
        day = rng.choice(days)
        name = self.cal.holiday_name(day) or "the year-end holidays"
        return day * DAY + rng.randint(1, 22) * HOUR + rng.randint(0, 3599), name

    def office_time(self, rng: Random, early: bool) -> int:
        day = self.pick_day(rng, early, lambda d: not self.cal.is_off(d))
        return day * DAY + 9 * HOUR + rng.randint(15 * MINUTE, 7 * HOUR)

    def any_time(self, rng: Random, early: bool) -> int:
        return self.pick_day(rng, early) * DAY + rng.randint(0, DAY - 1)

    # --- destinations -----------------------------------------------------------------------

    def blocks(self, rng: Random, countries: int, per_country: int) -> list[str]:
        chosen: list[str] = []
        for _ in range(countries * 4):
            total = sum(w for _, w in HOTSPOT_WEIGHTS)
            x = rng.random() * total
            key = HOTSPOT_WEIGHTS[-1][0]
            for name, w in HOTSPOT_WEIGHTS:
                x -= w
                if x < 0:
                    key = name
                    break
            if key not in chosen:
                chosen.append(key)
            if len(chosen) >= countries:
                break
        out = []
        for key in chosen:
            for _ in range(per_country):
                out.append(self.numbers.iprn_range(rng, rng.choice(HOTSPOTS[key])))
        return out

    # --- making calls -----------------------------------------------------------------------

    def call(
        self,
        inc: Inc,
        cust: Customer,
        t: int,
        number: str,
        result: tuple[str, int, int],
        *,
        ip: str,
        caller: str | None = None,
        style: str | None = None,
    ) -> Cdr:
        if t >= self.world.horizon:
            t = self.world.horizon - 1
        cdr = self.world.add_call(
            cust,
            t,
            number,
            result,
            style=style,
            source_ip=ip,
            caller=caller,
            incident=inc.incident_id,
        )
        inc.cdrs.append(cdr)
        inc.e164s.append(number)
        inc.add_sub(cust)
        if inc.kind != "wangiri_callback":  # victims dial from their own lines: no attacker IP
            inc.add_ip(ip)
        inc.touch(t)
        return cdr

    def pump(
        self,
        rng: Random,
        inc: Inc,
        cust: Customer,
        *,
        t0: int,
        t1: int,
        channels: int,
        blocks: list[str],
        ip: Callable[[int], str],
        answer: float = 0.7,
        median: float = 600.0,
        sigma: float = 0.8,
        cap: float = 3 * HOUR,
        gap: tuple[int, int] = (2, 40),
        ramp: int = 0,
        caller: Callable[[Random], str] | None = None,
        style: str | None = None,
        sequential: bool = True,
        max_calls: int = 25_000,
    ) -> None:
        """``channels`` parallel dialers calling numbers of ``blocks`` from ``t0`` to ``t1``."""
        t1 = min(t1, self.world.horizon - 1)
        for ch in range(channels):
            t = t0 + ch * ramp + rng.randint(0, 90)
            seq = rng.randrange(1000)
            while t < t1 and len(inc.cdrs) < max_calls:
                block = rng.choice(blocks)
                number = Numbers.in_range(rng, block, seq if sequential else None)
                seq += 1
                result = outcome(rng, answer, median, sigma, cap, busy=0.04, failed=0.08)
                cdr = self.call(
                    inc,
                    cust,
                    t,
                    number,
                    result,
                    ip=ip(t),
                    caller=caller(rng) if caller else None,
                    style=style,
                )
                t = cdr.end + rng.randint(*gap)

    def register(
        self,
        inc: Inc,
        cust: Customer,
        t: int,
        ip: str,
        ua: str,
        fails: int = 0,
        rng: Random | None = None,
    ) -> None:
        for i in range(fails):
            jitter = rng.randint(0, 3) if rng else 0
            self.world.add_sip(
                t - (fails - i) * 7 + jitter, ip, cust.subscriber_id, "auth_failure", ua
            )
        self.world.add_sip(t, ip, cust.subscriber_id, "auth_success", ua)
        self.world.add_sip(t, ip, cust.subscriber_id, "register", ua)
        inc.add_ip(ip)
        inc.touch(t - fails * 7)

    def keep_registered(self, cust: Customer, ip: str, ua: str, t0: int, t1: int) -> None:
        t = t0 + 1800
        while t < min(t1, self.world.horizon):
            self.world.add_sip(t, ip, cust.subscriber_id, "register", ua)
            t += 1800

    @staticmethod
    def size(rng: Random, hours: float, channels: int) -> tuple[float, int, str]:
        """Some attacks stay tiny: stopped by the fraudster, the IPRN or the customer at once."""
        if rng.random() < 0.15:
            return rng.uniform(0.15, 0.7), 1, " (small)"
        return hours, channels, ""

    @staticmethod
    def own_ip(cust: Customer) -> Callable[[int], str]:
        if cust.service != "ip":
            return lambda t: ""
        return cust.ip_at

    @staticmethod
    def fixed(ip: str) -> Callable[[int], str]:
        return lambda t: ip

    @staticmethod
    def caller_of(cust: Customer) -> Callable[[Random], str]:
        return lambda r: r.choice(cust.numbers)

    def attacker_ip(self, rng: Random) -> str:
        pool = rng.choice(ATTACK_HOSTING if rng.random() < 0.6 else ATTACK_ISP)
        return random_ip(rng, pool)

    # --- scenarios --------------------------------------------------------------------------

    def _pbx_weekend_night_pump(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.has_pbx and c.service == "ip")
        if not found:
            return False
        cust = found[0]
        t0 = self.weekend_night(rng, early)
        hours = rng.choice([rng.uniform(2, 6), rng.uniform(8, 20), rng.uniform(24, 56)])
        channels = max(1, round(math.exp(rng.uniform(math.log(2), math.log(30)))))
        hours, channels, _ = self.size(rng, hours, channels)
        blocks = self.blocks(rng, rng.randint(1, 3), rng.randint(1, 3))
        self.pump(
            rng,
            inc,
            cust,
            t0=t0,
            t1=t0 + int(hours * HOUR),
            channels=channels,
            blocks=blocks,
            ip=self.own_ip(cust),
            answer=rng.uniform(0.5, 0.85),
            median=rng.uniform(240, 1500),
            caller=self.caller_of(cust),
            ramp=rng.randint(0, 300),
        )
        inc.description = (
            f"PBX ({cust.equipment or cust.user_agent}) taken over through its web/maintenance "
            f"interface; {channels} parallel call(s) to IPRN ranges from the PBX's own address "
            f"for {hours:.1f} h from a weekend night"
        )
        return True

    def _pbx_holiday_pump(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.has_pbx and c.segment == "business")
        if not found:
            return False
        cust = found[0]
        t0, name = self.holiday_time(rng, early)
        hours, channels, _ = self.size(rng, rng.uniform(4, 30), rng.randint(2, 16))
        blocks = self.blocks(rng, rng.randint(1, 2), rng.randint(1, 3))
        self.pump(
            rng,
            inc,
            cust,
            t0=t0,
            t1=t0 + int(hours * HOUR),
            channels=channels,
            blocks=blocks,
            ip=self.own_ip(cust),
            answer=rng.uniform(0.5, 0.8),
            median=rng.uniform(300, 1200),
            caller=self.caller_of(cust),
        )
        inc.description = (
            f"office closed for {name}: hacked PBX dials {channels} channel(s) to IPRN ranges "
            f"for {hours:.1f} h"
        )
        return True

    def _pstn_pbx_dial_through(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.has_pbx and c.service == "pstn")
        if not found:
            return False
        cust = found[0]
        t0 = self.weekend_night(rng, early)
        hours, channels, _ = self.size(
            rng, rng.uniform(3, 40), rng.randint(1, min(8, max(2, len(cust.numbers) * 2)))
        )
        blocks = self.blocks(rng, rng.randint(1, 2), rng.randint(1, 2))
        self.pump(
            rng,
            inc,
            cust,
            t0=t0,
            t1=t0 + int(hours * HOUR),
            channels=channels,
            blocks=blocks,
            ip=self.own_ip(cust),
            answer=rng.uniform(0.5, 0.8),
            median=rng.uniform(200, 900),
            caller=self.caller_of(cust),
        )
        inc.description = (
            f"PSTN-connected PBX: remote-maintenance port / DISA with a default code; "
            f"{channels} lines dial IPRN ranges for {hours:.1f} h (no IP address)"
        )
        return True

    def _sip_creds(self, rng: Random, inc: Inc, early: bool, domestic: bool) -> bool:
        found = self.victims(rng, lambda c: c.service == "ip")
        if not found:
            return False
        cust = found[0]
        ip = random_ip(rng, rng.choice(JP_CLOUD)) if domestic else self.attacker_ip(rng)
        mimic = rng.random() < (0.7 if domestic else 0.2)
        ua = cust.user_agent if mimic and cust.user_agent else rng.choice(P.ATTACKER_AGENTS)
        t0 = self.weekend_night(rng, early) if rng.random() < 0.5 else self.any_time(rng, early)
        if rng.random() < 0.3:
            # Credentials checked earlier with one or two test calls.
            tt = max(0, t0 - rng.randint(2 * HOUR, 3 * DAY))
            self.register(inc, cust, tt, ip, ua, rng.randint(0, 2), rng)
            for _ in range(rng.randint(1, 3)):
                number = Numbers.in_range(rng, self.blocks(rng, 1, 1)[0])
                tt += rng.randint(30, 600)
                self.call(inc, cust, tt, number, outcome(rng, 0.7, 20, 0.5, 60), ip=ip)
        self.register(inc, cust, t0 - rng.randint(30, 1800), ip, ua, rng.randint(0, 3), rng)
        hours, channels, _ = self.size(
            rng,
            rng.choice([rng.uniform(0.5, 3), rng.uniform(3, 12), rng.uniform(12, 40)]),
            rng.randint(1, 8),
        )
        self.pump(
            rng,
            inc,
            cust,
            t0=t0,
            t1=t0 + int(hours * HOUR),
            channels=channels,
            blocks=self.blocks(rng, rng.randint(1, 3), rng.randint(1, 2)),
            ip=self.fixed(ip),
            answer=rng.uniform(0.5, 0.85),
            median=rng.uniform(180, 1200),
            caller=self.caller_of(cust),
        )
        self.keep_registered(cust, ip, ua, t0, t0 + int(hours * HOUR))
        where = "a Japanese VPS" if domestic else "abroad"
        inc.description = (
            f"SIP credentials stolen (device config / support page) and used from {where} "
            f"({ip}, UA {ua or 'none'}); {channels} channels for {hours:.1f} h"
        )
        return True

    def _sip_creds_foreign_ip(self, rng: Random, inc: Inc, early: bool) -> bool:
        return self._sip_creds(rng, inc, early, domestic=False)

    def _sip_creds_domestic_vps(self, rng: Random, inc: Inc, early: bool) -> bool:
        return self._sip_creds(rng, inc, early, domestic=True)

    def _sip_bruteforce_takeover(self, rng: Random, inc: Inc, early: bool) -> bool:
        n = rng.choice([1, 1, 1, 2, 3])
        found = self.victims(rng, lambda c: c.service == "ip", n)
        if not found:
            return False
        ip = self.attacker_ip(rng)
        ua = rng.choice(P.ATTACKER_AGENTS[:5])
        t = self.weekend_night(rng, early) - rng.randint(1, 6) * HOUR
        inc.touch(t)
        inc.add_ip(ip)
        # Extension enumeration, then a dictionary attack on each target account.
        for _ in range(rng.randint(20, 300)):
            user = rng.choice(["100", "101", "1000", "1001", "200", "admin", "test", "", "sip"])
            self.world.add_sip(t, ip, user, "auth_failure", ua)
            t += rng.randint(0, 2)
        call_ip = ip if rng.random() < 0.7 else self.attacker_ip(rng)
        for cust in found:
            tries = int(math.exp(rng.uniform(math.log(200), math.log(8000))))
            rate = rng.uniform(2, 25)
            for i in range(tries):
                self.world.add_sip(t + int(i / rate), ip, cust.subscriber_id, "auth_failure", ua)
            t += int(tries / rate) + rng.randint(1, 30)
            self.world.add_sip(t, ip, cust.subscriber_id, "auth_success", ua)
            self.world.add_sip(t, ip, cust.subscriber_id, "register", ua)
            inc.add_sub(cust)
            start = t + rng.randint(60, 3 * HOUR)
            if call_ip != ip:
                self.register(inc, cust, start - 60, call_ip, rng.choice(P.ATTACKER_AGENTS))
            hours = rng.uniform(1, 20)
            self.pump(
                rng,
                inc,
                cust,
                t0=start,
                t1=start + int(hours * HOUR),
                channels=rng.randint(1, 10),
                blocks=self.blocks(rng, 2, 2),
                ip=self.fixed(call_ip),
                answer=rng.uniform(0.5, 0.85),
                median=rng.uniform(120, 900),
                caller=self.caller_of(cust),
            )
            t += rng.randint(60, 1800)
        inc.description = (
            f"SIP brute force from {ip} ({ua or 'no UA'}): extension scan and password guessing "
            f"on {len(found)} account(s), then registration and calls from {call_ip}"
        )
        return True

    def _premium_in_usual_country(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: any(k in PREMIUM_IN_COUNTRY for k in c.home_countries))
        if not found:
            return False
        cust = found[0]
        country = next(k for k in cust.home_countries if k in PREMIUM_IN_COUNTRY)
        blocks = [self.numbers.iprn_range(rng, p) for p in PREMIUM_IN_COUNTRY[country]]
        if cust.service == "ip" and rng.random() < 0.6:
            ip = random_ip(rng, rng.choice(JP_CLOUD))
            how = f"stolen credentials used from a Japanese VPS {ip}"
            ip_of = self.fixed(ip)
        else:
            ip = ""
            how = "the customer's own hacked equipment"
            ip_of = self.own_ip(cust)
        hours_jst = P.combined(P.PRIVATE_CALLER, P.LOCAL_AWAKE, country)
        day = self.pick_day(rng, early)
        hour = max(range(24), key=lambda h: hours_jst[h] * rng.uniform(0.7, 1.3))
        t0 = day * DAY + hour * HOUR + rng.randint(0, 3599)
        if ip:
            self.register(inc, cust, t0 - rng.randint(60, 900), ip, cust.user_agent or "", 0)
        hours, channels, _ = self.size(rng, rng.uniform(2, 20), rng.randint(1, 4))
        self.pump(
            rng,
            inc,
            cust,
            t0=t0,
            t1=t0 + int(hours * HOUR),
            channels=channels,
            blocks=blocks,
            ip=ip_of,
            answer=0.75,
            median=rng.uniform(600, 2400),
            caller=self.caller_of(cust),
        )
        inc.description = (
            f"premium-rate ranges in {country}, a country the customer calls anyway, through "
            f"{how}; {channels} channels for {hours:.1f} h"
        )
        return True

    def _low_and_slow(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(
            rng,
            lambda c: (
                not c.calls_abroad
                and c.intl_status == "enabled"
                and (c.service == "ip" or c.has_pbx)
            ),
        )
        if not found:
            return False
        cust = found[0]
        lo, hi = self.day_range(early)
        first = rng.randint(lo, max(lo, hi - 3))
        length = rng.choice([rng.randint(2, 5), rng.randint(8, 30)])
        per_day = rng.uniform(0.7, 5)
        median = 360.0
        if rng.random() < 0.3:
            length, per_day, median = rng.randint(2, 6), rng.uniform(0.3, 1.0), 120.0
        blocks = self.blocks(rng, rng.randint(1, 2), 1)
        if cust.service == "ip" and rng.random() < 0.6:
            ip = (
                random_ip(rng, rng.choice(JP_CLOUD))
                if rng.random() < 0.5
                else (self.attacker_ip(rng))
            )
            ua = cust.user_agent or rng.choice(P.SOFTPHONES)
            ip_of = self.fixed(ip)
            self.register(inc, cust, first * DAY + rng.randint(0, HOUR), ip, ua)
        else:
            ip_of = self.own_ip(cust)
            ip = ""
        for day in range(first, min(self.cal.days, first + length)):
            for _ in range(poisson(rng, per_day)):
                t = day * DAY + rng.randint(0, DAY - 1)
                number = Numbers.in_range(rng, rng.choice(blocks))
                self.call(
                    inc,
                    cust,
                    t,
                    number,
                    outcome(rng, 0.75, median, 0.7, 1500),
                    ip=ip_of(t),
                    caller=cust.main_number,
                )
        if not inc.cdrs:
            t = first * DAY + rng.randint(HOUR, DAY - 1)
            self.call(
                inc,
                cust,
                t,
                Numbers.in_range(rng, blocks[0]),
                outcome(rng, 0.75, 360, 0.7, 1500),
                ip=ip_of(t),
            )
        inc.description = (
            f"customer who never called abroad; {len(inc.cdrs)} calls spread over {length} days "
            f"to {len(blocks)} IPRN range(s)" + (f" from {ip}" if ip else " from its own line")
        )
        return True

    def _office_hours_blend(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(
            rng, lambda c: c.has_pbx and c.archetype in ("small_office", "sme_exporter")
        )
        if not found:
            return False
        cust = found[0]
        t = self.office_time(rng, early)
        day = t // DAY
        days = rng.randint(1, 5)
        channels = rng.randint(1, 4)
        blocks = self.blocks(rng, 1, rng.randint(1, 2))
        done = 0
        while done < days and day < self.cal.days:
            if not self.cal.is_off(day):
                t0 = day * DAY + rng.randint(9 * HOUR + 1800, 11 * HOUR)
                t1 = day * DAY + rng.randint(16 * HOUR, 18 * HOUR)
                self.pump(
                    rng,
                    inc,
                    cust,
                    t0=t0,
                    t1=t1,
                    channels=channels,
                    blocks=blocks,
                    ip=self.own_ip(cust),
                    answer=0.7,
                    median=rng.uniform(180, 600),
                    gap=(30, 600),
                    caller=self.caller_of(cust),
                )
                done += 1
            day += 1
        inc.description = (
            f"attack in office hours hiding in business traffic: {channels} channels of "
            f"3-10 min calls, {days} weekday(s), own PBX address"
        )
        return True

    def _test_calls_then_ramp(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.service == "ip" or c.has_pbx)
        if not found:
            return False
        cust = found[0]
        if cust.service == "ip" and rng.random() < 0.7:
            ip = self.attacker_ip(rng)
            ip_of = self.fixed(ip)
        else:
            ip, ip_of = "", self.own_ip(cust)
        t = self.any_time(rng, early)
        if ip:
            self.register(inc, cust, t - 120, ip, rng.choice(P.ATTACKER_AGENTS), 0)
        blocks = self.blocks(rng, rng.randint(1, 3), 2)
        # Test calls: find the dial format, then one short call per range.
        for style in ("00", "011", "e164", "010"):
            if rng.random() < 0.6:
                number = Numbers.in_range(rng, blocks[0])
                ok = style in ("e164", "010")
                result = outcome(rng, 0.8, 15, 0.5, 40) if ok else ("FAILED", rng.randint(0, 2), 0)
                self.call(inc, cust, t, number, result, ip=ip_of(t), style=style)
                t += rng.randint(20, 300)
        for block in blocks:
            self.call(
                inc,
                cust,
                t,
                Numbers.in_range(rng, block),
                outcome(rng, 0.8, 20, 0.5, 60),
                ip=ip_of(t),
            )
            t += rng.randint(20, 600)
        start = t + rng.randint(2 * HOUR, 4 * DAY)
        if ip:
            self.register(inc, cust, start - 300, ip, rng.choice(P.ATTACKER_AGENTS), 0)
        hours = rng.uniform(4, 30)
        channels = rng.randint(6, 24)
        self.pump(
            rng,
            inc,
            cust,
            t0=start,
            t1=start + int(hours * HOUR),
            channels=channels,
            blocks=blocks,
            ip=ip_of,
            answer=0.75,
            median=rng.uniform(300, 1200),
            ramp=rng.randint(600, 2400),
            caller=self.caller_of(cust),
        )
        inc.description = (
            f"a few short test calls (dial formats, one per range), then a ramp to {channels} "
            f"channels over hours for {hours:.1f} h"
        )
        return True

    def _multi_tenant_same_ip(self, rng: Random, inc: Inc, early: bool) -> bool:
        vulnerable = {e for e, _ in P.VULNERABLE_MODELS}
        pool = self.victims(rng, lambda c: c.service == "ip" and c.equipment in vulnerable, 10**6)
        if len(pool) < 2:
            pool = self.victims(rng, lambda c: c.service == "ip" and c.has_pbx, 10**6)
        if len(pool) < 2:
            return False
        by_model: dict[str, list[Customer]] = {}
        for c in pool:
            by_model.setdefault(c.user_agent, []).append(c)
        model = max(sorted(by_model), key=lambda k: len(by_model[k]))
        found = by_model[model][: rng.randint(4, 12)]
        if len(found) < 2:
            found = pool[: rng.randint(3, 8)]
        ip = self.attacker_ip(rng)
        t0 = self.weekend_night(rng, early)
        blocks = self.blocks(rng, rng.randint(1, 2), 2)
        for cust in found:
            t = t0 + rng.randint(0, 90 * MINUTE)
            self.register(inc, cust, t, ip, cust.user_agent or rng.choice(P.ATTACKER_AGENTS))
            hours = rng.uniform(1, 8)
            self.pump(
                rng,
                inc,
                cust,
                t0=t + rng.randint(30, 600),
                t1=t + int(hours * HOUR),
                channels=rng.randint(1, 4),
                blocks=blocks,
                ip=self.fixed(ip),
                answer=0.7,
                median=rng.uniform(300, 900),
                caller=self.caller_of(cust),
            )
        inc.description = (
            f"credentials of {len(found)} customers' PBXs of one model ({model}) harvested "
            f"through a published vulnerability; all used from {ip} the same night"
        )
        return True

    def _country_campaign(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.has_pbx or c.service == "ip", rng.randint(6, 15))
        if len(found) < 3:
            return False
        country = rng.choice(["SL", "GN", "SO", "CU", "LV", "LT", "GM", "TO"])
        blocks = [self.numbers.iprn_range(rng, p) for p in HOTSPOTS[country]]
        t0 = self.weekend_night(rng, early)
        for cust in found:
            t = t0 + rng.randint(0, 36 * HOUR)
            if cust.service == "ip" and rng.random() < 0.5:
                ip = (
                    self.attacker_ip(rng)
                    if rng.random() < 0.6
                    else random_ip(rng, rng.choice(JP_CLOUD))
                )
                self.register(
                    inc, cust, t - rng.randint(60, 3600), ip, rng.choice(P.ATTACKER_AGENTS)
                )
                ip_of = self.fixed(ip)
            else:
                ip_of = self.own_ip(cust)
            self.pump(
                rng,
                inc,
                cust,
                t0=t,
                t1=t + int(rng.uniform(1, 10) * HOUR),
                channels=rng.randint(1, 3),
                blocks=blocks,
                ip=ip_of,
                answer=0.7,
                median=rng.uniform(200, 900),
                caller=self.caller_of(cust),
            )
        inc.description = (
            f"campaign to {country} across {len(found)} customers within a day and a half, "
            "from several addresses and PSTN lines (as the 2015 Sierra Leone wave in Japan)"
        )
        return True

    def _wangiri_callback(self, rng: Random, inc: Inc, early: bool) -> bool:
        n = rng.randint(8, 45)
        found = self.victims(
            rng,
            lambda c: (
                (c.intl_status == "enabled" and c.segment == "residential")
                or c.archetype == "small_office"
            ),
            n,
        )
        if not found:
            return False
        origin = rng.choice(WANGIRI_ORIGINS)
        bait = [self.numbers.under_prefix(rng, origin) for _ in range(rng.randint(2, 6))]
        day = self.pick_day(rng, early)
        wave = day * DAY + rng.randint(9, 20) * HOUR
        for cust in found:
            t = wave + int(rng.expovariate(1 / (3 * HOUR)))
            number = rng.choice(bait)
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                result = outcome(rng, 0.85, 150, 0.8, 900)
                cdr = self.call(
                    inc,
                    cust,
                    t,
                    number,
                    result,
                    ip=self.own_ip(cust)(t),
                    style=rng.choice([cust.intl_style, "e164", "010"]),
                )
                t = cdr.end + rng.randint(30, 4 * HOUR)
        inc.description = (
            f"Wangiri: one-ring calls from +{origin}... numbers; {len(found)} customers called "
            "back premium numbers held by the fraudster"
        )
        return True

    def _short_call_flood(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.has_pbx)
        if not found:
            return False
        cust = found[0]
        country = rng.choice(["SL", "SL", "GN", "SO", "LR"])
        blocks = [self.numbers.iprn_range(rng, p) for p in HOTSPOTS[country]]
        t0 = self.weekend_night(rng, early)
        days = rng.randint(1, 4)
        channels = rng.randint(2, 6)
        for d in range(days):
            start = t0 + d * DAY
            self.pump(
                rng,
                inc,
                cust,
                t0=start,
                t1=start + rng.randint(6, 14) * HOUR,
                channels=channels,
                blocks=blocks,
                ip=self.own_ip(cust),
                answer=0.8,
                median=25,
                sigma=0.5,
                cap=60,
                gap=(1, 12),
                caller=self.caller_of(cust),
            )
        inc.description = (
            f"short-duration high-frequency calls to {country} (10-60 s each, {channels} "
            f"channels, {days} night(s)), like the 15,000-call Sierra Leone case of 2015"
        )
        return True

    def _long_duration_calls(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.service == "ip")
        if not found:
            return False
        cust = found[0]
        ip = self.attacker_ip(rng)
        t0 = self.weekend_night(rng, early)
        self.register(
            inc, cust, t0 - 300, ip, rng.choice(P.ATTACKER_AGENTS), rng.randint(0, 4), rng
        )
        prefix = rng.choice(["8816", "870", "979", "3719", "88216"])
        block = self.numbers.iprn_range(rng, prefix)
        calls = rng.randint(1, 3)
        for i in range(calls):
            talk = rng.randint(2 * HOUR, 10 * HOUR)
            t = t0 + i * rng.randint(5, 600)
            self.call(
                inc,
                cust,
                t,
                Numbers.in_range(rng, block),
                ("ANSWERED", rng.randint(3, 15), talk),
                ip=ip,
                caller=cust.main_number,
            )
        self.keep_registered(cust, ip, rng.choice(P.ATTACKER_AGENTS), t0, t0 + 10 * HOUR)
        inc.description = f"{calls} call(s) of several hours each to +{prefix} from {ip}"
        return True

    def _call_forwarding_abuse(self, rng: Random, inc: Inc, early: bool) -> bool:
        found = self.victims(rng, lambda c: c.has_pbx)
        if not found:
            return False
        cust = found[0]
        target = self.numbers.under_prefix(rng, rng.choice(["3719", "21688", "88216", "979"]))
        nights = rng.randint(1, 3)
        t0 = self.weekend_night(rng, early)
        legs = 0
        for n in range(nights):
            t = t0 + n * DAY
            for _ in range(rng.randint(5, 30)):
                t += rng.randint(60, 40 * MINUTE)
                inbound = rng.choice(
                    [
                        self.numbers.jp_domestic(rng, "mobile"),
                        self.numbers.foreign(rng, rng.choice(["GB", "US", "PS", "EG"]), "any"),
                        "anonymous",
                    ]
                )
                result = outcome(rng, 0.9, 1500, 0.6, 2 * HOUR)
                cdr = self.call(
                    inc, cust, t, target, result, ip=self.own_ip(cust)(t), caller=inbound
                )
                legs += 1
                t = cdr.end
        inc.description = (
            f"call forwarding to {target} set on the customer's PBX/voicemail; the fraudster "
            f"calls the customer's number and each forwarded leg is billed ({legs} legs)"
        )
        return True

    def _usual_country_regular_numbers(self, rng: Random, inc: Inc, early: bool) -> bool:
        """IRSF on ordinary numbers of a country the customer calls anyway (GSMA: valid numbers
        are used in IRSF too), at the hours the customer usually calls."""
        found = self.victims(
            rng, lambda c: bool(c.home_countries) and (c.service == "ip" or c.has_pbx)
        )
        if not found:
            return False
        cust = found[0]
        country = cust.home_countries[0]
        kind = "mobile" if country not in ("MH", "PW", "FM") else "any"
        blocks = [self.numbers.foreign(rng, country, kind)[:-3] for _ in range(2)]
        if cust.service == "ip" and rng.random() < 0.7:
            ip = (
                random_ip(rng, rng.choice(JP_CLOUD))
                if rng.random() < 0.6
                else (self.attacker_ip(rng))
            )
            ip_of = self.fixed(ip)
            how = f"stolen credentials from {ip}"
        else:
            ip, ip_of, how = "", self.own_ip(cust), "the customer's own equipment"
        hours_jst = P.combined(P.PRIVATE_CALLER, P.LOCAL_AWAKE, country)
        day = self.pick_day(rng, early)
        hour = max(range(24), key=lambda h: hours_jst[h] * rng.uniform(0.6, 1.4))
        t0 = day * DAY + hour * HOUR + rng.randint(0, 3599)
        if ip:
            self.register(
                inc,
                cust,
                t0 - rng.randint(60, 3 * HOUR),
                ip,
                cust.user_agent or rng.choice(P.SOFTPHONES),
            )
        hours, channels, _ = self.size(rng, rng.uniform(2, 14), rng.randint(1, 3))
        self.pump(
            rng,
            inc,
            cust,
            t0=t0,
            t1=t0 + int(hours * HOUR),
            channels=channels,
            blocks=blocks,
            ip=ip_of,
            answer=0.7,
            median=rng.uniform(600, 1800),
            gap=(20, 900),
            caller=self.caller_of(cust),
        )
        inc.description = (
            f"ordinary mobile numbers in {country} (revenue shared by a transit carrier), the "
            f"customer's usual country and hours, through {how}; {channels} channel(s) for "
            f"{hours:.1f} h"
        )
        return True

    # --- labels -----------------------------------------------------------------------------

    def _finish(self) -> None:
        # Number incidents in the order they start.
        self.incidents.sort(
            key=lambda i: (min(i.first_activity or 10**12, *(c.start for c in i.cdrs)), i.kind)
        )
        renumber: dict[str, str] = {}
        for n, inc in enumerate(self.incidents, 1):
            renumber[inc.incident_id] = f"INC-{n:03d}"
            inc.incident_id = renumber[inc.incident_id]
        self.world.fraud = {k: renumber[v] for k, v in self.world.fraud.items()}
        for inc in self.incidents:
            countries: list[str] = []
            for number in inc.e164s:
                try:
                    parsed = phonenumbers.parse(number)
                except phonenumbers.NumberParseException:
                    continue
                region = phonenumbers.region_code_for_number(parsed)
                code = region if region and region != "001" else f"+{parsed.country_code}"
                if code not in countries:
                    countries.append(code)
            first_call = min(c.start for c in inc.cdrs)
            start = min(first_call, inc.first_activity or first_call)
            end = max(c.end for c in inc.cdrs)
            loss = None
            if self.prices is not None:
                loss = sum(
                    self.prices.charge(n, (c.end - c.answer) if c.answer is not None else 0)
                    for c, n in zip(inc.cdrs, inc.e164s, strict=True)
                )
            text = inc.description
            if loss is not None:
                text += f"; {len(inc.cdrs)} attempts, about {loss:,.0f} JPY without control"
            self.world.incidents.append(
                Incident(
                    incident_id=inc.incident_id,
                    kind=inc.kind,
                    subscriber_ids=sorted(inc.subscribers),
                    start=start,
                    end=end,
                    source_ips=sorted(inc.ips),
                    countries=sorted(countries),
                    description=text,
                )
            )
