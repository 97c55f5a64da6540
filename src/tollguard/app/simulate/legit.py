"""Legitimate traffic of one customer: daily/weekly cycles, holidays, habits and look-alikes."""

from __future__ import annotations

import random
from typing import Protocol

from tollguard.app.simulate import catalog
from tollguard.app.simulate.emit import ANSWERED, BUSY, FAILED, NO_ANSWER, Emitter
from tollguard.app.simulate.model import (
    BUSINESS,
    DAY,
    HOUR,
    OFFDAY,
    SATURDAY,
    WEEKDAY,
    Customer,
    IpTimeline,
    Period,
    common_country,
    cumulative,
    foreign_contact,
    foreign_ip,
    isp_ip,
    pick_index,
    poisson,
)
from tollguard.app.simulate.numbers import foreign_number, jp_geographic, jp_mobile, jp_service
from tollguard.app.simulate.plan import Role

# Relative call volume per hour of day (JST), by segment and day kind.
_RES_WEEKDAY = [0.2, 0.1, 0.05, 0.03, 0.03, 0.08, 0.4, 1.0, 1.2, 1.2, 1.3, 1.3,
                1.4, 1.3, 1.3, 1.4, 1.6, 2.0, 2.6, 3.0, 3.0, 2.5, 1.6, 0.7]  # fmt: skip
_RES_OFF = [0.3, 0.15, 0.05, 0.03, 0.03, 0.08, 0.3, 0.7, 1.3, 1.8, 2.0, 2.0,
            1.9, 1.9, 2.0, 2.0, 2.0, 2.2, 2.5, 2.8, 2.8, 2.2, 1.5, 0.7]  # fmt: skip
_BUS_WEEKDAY = [0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.3, 1.5, 3.0, 3.4, 3.0,
                1.4, 2.6, 3.2, 3.0, 2.6, 2.0, 0.9, 0.4, 0.2, 0.1, 0.05, 0.03]  # fmt: skip
_BUS_OFF = [0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.6, 1.0, 1.2, 1.2,
            0.8, 1.0, 1.0, 0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02]  # fmt: skip
_CUM = {
    (False, WEEKDAY): cumulative(_RES_WEEKDAY),
    (False, SATURDAY): cumulative(_RES_OFF),
    (False, OFFDAY): cumulative(_RES_OFF),
    (True, WEEKDAY): cumulative(_BUS_WEEKDAY),
    (True, SATURDAY): cumulative(_BUS_OFF),
    (True, OFFDAY): cumulative(_BUS_OFF),
}
_OFFICE = cumulative([0.0] * 9 + [3, 3, 3, 1, 3, 3, 3, 2] + [0.0] * 7)
_EVENING = cumulative(
    [0.1] * 7 + [0.3, 0.5, 0.8, 1, 1, 1, 1, 1, 1, 1, 1.5, 2.5, 3, 3, 2.5, 1.5, 0.5]
)


def _rate(cust: Customer, kind: int) -> float:
    """Expected legitimate calls on a day of ``kind``."""
    if cust.segment == BUSINESS:
        weekday = 0.8 + 0.9 * min(len(cust.numbers), 12)
        return cust.activity * (weekday if kind == WEEKDAY else 0.12 * weekday)
    return cust.activity * (0.6 if kind == WEEKDAY else 0.9)


def outcome(rng: random.Random, international: bool) -> tuple[str, int]:
    """A disposition and ring time (seconds) for an ordinary call attempt."""
    u = rng.random()
    answered, no_answer, busy = (0.68, 0.86, 0.92) if international else (0.78, 0.90, 0.97)
    if u < answered:
        return ANSWERED, max(2, int(rng.lognormvariate(2.0, 0.5)))
    if u < no_answer:
        return NO_ANSWER, rng.randint(15, 60)
    if u < busy:
        return BUSY, rng.randint(1, 5)
    return FAILED, rng.randint(0, 3)


def talk_time(rng: random.Random, business: bool, international: bool) -> int:
    """Conversation length (seconds) of an ordinary answered call."""
    if international:
        return min(3 * HOUR, int(rng.lognormvariate(5.6, 0.9)))
    return min(2 * HOUR, int(rng.lognormvariate(4.8 if business else 5.0, 1.0)))


def ip_timeline(
    cust: Customer, roles: list[Role], period: Period, rng: random.Random
) -> tuple[IpTimeline, list[tuple[int, str, str]]]:
    """The line's address over time and its registrations ``(time, ip, user_agent)``."""
    horizon = period.end_s + 2 * DAY
    times: list[int] = [0]
    addrs: list[str] = [isp_ip(rng, cust.isp)]
    registers: list[tuple[int, str, str]] = [(rng.randrange(0, 6 * HOUR), addrs[0], cust.equipment)]
    dynamic = next((r for r in roles if r.kind == "dynamic_ip"), None)
    if not cust.static_ip:
        mean = cust.renumber_days * DAY
        t = 0
        while True:
            gap = rng.uniform(0.4, 2.5) * DAY if dynamic is not None else rng.expovariate(1 / mean)
            t += max(600, int(gap))
            if t >= horizon:
                break
            times.append(t)
            addrs.append(isp_ip(rng, cust.isp))
            registers.append((t + rng.randint(5, 120), addrs[-1], cust.equipment))
    trip = next((r for r in roles if r.kind == "traveller"), None)
    if trip is not None:
        home_after = addrs[-1]
        kept = [(t, a) for t, a in zip(times, addrs, strict=True) if t < trip.start]
        hotel_t = trip.start
        agent = rng.choice(catalog.SOFTPHONES)
        while hotel_t < trip.end:
            kept.append((hotel_t, foreign_ip(rng, trip.country)))
            registers.append((hotel_t + rng.randint(30, 900), kept[-1][1], agent))
            hotel_t += rng.randint(1, 4) * DAY
        kept.append((trip.end, isp_ip(rng, cust.isp) if not cust.static_ip else home_after))
        registers.append((trip.end + rng.randint(600, 6 * HOUR), kept[-1][1], cust.equipment))
        kept.extend((t, a) for t, a in zip(times, addrs, strict=True) if t > trip.end)
        times = [t for t, _ in kept]
        addrs = [a for _, a in kept]
    # periodic re-registration after reboots/expiry (logged roughly every few days)
    t = rng.randint(DAY, 4 * DAY)
    timeline = IpTimeline(tuple(times), tuple(addrs))
    while t < period.end_s:
        in_trip = trip is not None and trip.start <= t < trip.end
        registers.append(
            (t, timeline.at(t), cust.equipment if not in_trip else agent_of(registers))
        )
        t += rng.randint(DAY, 5 * DAY)
    return timeline, registers


def agent_of(registers: list[tuple[int, str, str]]) -> str:
    """The softphone user agent used during a trip (last non-equipment agent seen)."""
    for _, _, agent in reversed(registers):
        if agent in catalog.SOFTPHONES:
            return agent
    return catalog.SOFTPHONES[0]


def generate(
    cust: Customer,
    roles: list[Role],
    period: Period,
    rng: random.Random,
    emit: Emitter,
) -> IpTimeline | None:
    """Emit the customer's legitimate calls and SIP events; return its address timeline."""
    timeline: IpTimeline | None = None
    if cust.is_ip:
        timeline, registers = ip_timeline(cust, roles, period, rng)
        for t, ip, agent in registers:
            if t < period.end_s:
                emit.event(t, ip, cust.username, "register", agent)
        if rng.random() < 0.02:  # a mistyped password after a device reset
            t = rng.randrange(period.end_s)
            ip = timeline.at(t)
            for k in range(rng.randint(1, 4)):
                emit.event(t + 20 * k, ip, cust.username, "auth_failure", cust.equipment)
            emit.event(t + 200, ip, cust.username, "register", cust.equipment)

    business = cust.segment == BUSINESS
    kinds = {r.kind: r for r in roles}
    heavy = "heavy_business" in kinds
    trip = kinds.get("traveller")
    first_time = kinds.get("first_time_international")
    dom_cum = cumulative([1.0 / (k + 1) for k in range(len(cust.dom_contacts))])
    intl_cum = (
        cumulative([1.0 / (k + 1) for k in range(len(cust.intl_contacts))])
        if cust.intl_contacts
        else []
    )
    single_line = cust.channels == 1

    def place(start: int, callee: str, international: bool, long_call: bool = False) -> int:
        disposition, ring = outcome(rng, international)
        if cust.barred and international:
            disposition, ring = FAILED, rng.randint(0, 2)
        talk = (
            int(rng.lognormvariate(7.8, 0.4))
            if long_call
            else talk_time(rng, business, international)
        )
        ip = timeline.at(start) if timeline is not None else ""
        return emit.call(rng, cust, callee, start, ring, talk, disposition, ip)

    for day in range(period.days):
        kind = period.day_kind[day]
        base = day * DAY
        if trip is not None and trip.start <= base < trip.end and not business:
            continue  # the traveller's home line is idle; see _traveller
        cum = _CUM[(business, kind)]
        n = poisson(rng, _rate(cust, kind))
        starts = sorted(base + pick_index(rng, cum) * HOUR + rng.randrange(HOUR) for _ in range(n))
        free_at = 0
        for start in starts:
            if single_line and start < free_at:
                start = free_at + rng.randint(10, 900)
            share = cust.intl_share
            if first_time is not None and start >= first_time.start:
                share = 0.08
            international = share > 0 and rng.random() < share
            if international:
                if cust.intl_contacts and rng.random() < 0.85:
                    callee = cust.intl_contacts[pick_index(rng, intl_cum)]
                elif first_time is not None:
                    callee = foreign_contact(rng, first_time.country)
                else:
                    callee = foreign_contact(rng, common_country(rng))
            else:
                u = rng.random()
                if u < 0.7:
                    callee = cust.dom_contacts[pick_index(rng, dom_cum)]
                elif u < 0.74:  # freephone / navi-dial numbers of companies and services
                    callee = jp_service(rng)
                else:
                    callee = jp_mobile(rng) if rng.random() < 0.45 else jp_geographic(rng)
            free_at = place(start, callee, international)
        if heavy and kind == WEEKDAY:
            _heavy_day(rng, base, place)

    for role in roles:
        if role.kind == "diaspora":
            _diaspora(rng, role, period, place)
        elif role.kind == "one_day_spike":
            _spike(rng, role, business, place)
        elif role.kind == "traveller":
            _traveller(rng, cust, role, place)
        elif role.kind == "first_time_international":
            _first_time(rng, role, place)
        elif role.kind == "barred_by_request":
            _barred_attempts(rng, role, place)
    return timeline


class _Place(Protocol):
    """Places one legitimate call attempt and returns its end time."""

    def __call__(
        self, start: int, callee: str, international: bool, long_call: bool = False
    ) -> int: ...


def _heavy_day(rng: random.Random, base: int, place: _Place) -> None:
    """A heavy international business day: many countries, several concurrent calls."""
    countries = [common_country(rng) for _ in range(rng.randint(6, 14))]
    for _ in range(rng.randint(8, 30)):
        start = base + pick_index(rng, _OFFICE) * HOUR + rng.randrange(HOUR)
        place(start, foreign_contact(rng, rng.choice(countries)), True)


def _diaspora(rng: random.Random, role: Role, period: Period, place: _Place) -> None:
    """Weekly long calls home to an expensive country."""
    family = [foreign_number(rng, role.country, "mobile") for _ in range(rng.randint(1, 3))]
    week = 0
    while week * 7 < period.days:
        for _ in range(rng.choice((1, 1, 2, 3))):
            day = week * 7 + rng.randrange(7)
            if day >= period.days:
                continue
            start = day * DAY + pick_index(rng, _EVENING) * HOUR + rng.randrange(HOUR)
            place(start, rng.choice(family), True, long_call=True)
        week += 1


def _spike(rng: random.Random, role: Role, business: bool, place: _Place) -> None:
    """One day of unusual but legitimate international calling."""
    if business:
        countries = [common_country(rng) for _ in range(rng.randint(2, 6))]
        for _ in range(rng.randint(20, 60)):
            start = role.start + pick_index(rng, _OFFICE) * HOUR + rng.randrange(HOUR)
            place(start, foreign_contact(rng, rng.choice(countries)), True)
    else:  # family emergency: many long calls, day and night, to one country
        people = [foreign_number(rng, role.country, "mobile") for _ in range(rng.randint(1, 3))]
        for _ in range(rng.randint(6, 20)):
            start = role.start + rng.randrange(DAY)
            place(start, rng.choice(people), True, long_call=rng.random() < 0.5)


def _traveller(rng: random.Random, cust: Customer, role: Role, place: _Place) -> None:
    """A softphone abroad: calls home to Japan (local daytime) and sometimes local numbers."""
    shift = (9 - role.offset) * HOUR  # JST = local + (9 - offset)
    day = role.start - role.start % DAY
    local_cum = _CUM[(False, OFFDAY)]
    while day < role.end:
        for _ in range(poisson(rng, 2.0)):
            start = day + pick_index(rng, local_cum) * HOUR + rng.randrange(HOUR) + shift
            if not role.start <= start < role.end:
                continue
            if rng.random() < 0.75:
                callee = rng.choice(cust.dom_contacts)
                place(start, callee, False)
            else:
                place(start, foreign_number(rng, role.country, "mobile"), True)
        day += DAY


def _first_time(rng: random.Random, role: Role, place: _Place) -> None:
    """The first international calls of someone who never called abroad."""
    contact = foreign_contact(rng, role.country)
    for k in range(rng.randint(1, 5)):
        start = role.start + k * rng.randint(0, DAY // 2) + pick_index(rng, _EVENING) * HOUR
        place(start, contact, True)


def _barred_attempts(rng: random.Random, role: Role, place: _Place) -> None:
    """A customer who asked for international barring tries a few calls abroad (all fail)."""
    contact = foreign_contact(rng, role.country)
    start = role.start + pick_index(rng, _EVENING) * HOUR + rng.randrange(HOUR)
    for _ in range(rng.randint(2, 6)):
        place(start, contact if rng.random() < 0.7 else foreign_contact(rng, role.country), True)
        start += rng.randint(20, 600)
