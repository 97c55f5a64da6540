"""Records the generator produces and the world that collects them."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from random import Random

from .numbers import Numbers, dial
from .timebase import Calendar


@dataclass(slots=True)
class Cdr:
    start: int
    call_id: str
    subscriber_id: str
    caller: str
    callee: str
    answer: int | None
    end: int
    disposition: str
    source_ip: str


@dataclass(slots=True)
class SipEvent:
    time: int
    source_ip: str
    username: str
    event: str
    user_agent: str


@dataclass
class Incident:
    incident_id: str
    kind: str
    subscriber_ids: list[str]
    start: int
    end: int
    source_ips: list[str]
    countries: list[str]
    description: str


@dataclass
class Lookalike:
    subscriber_id: str
    kind: str
    start: int | None
    end: int | None
    description: str


@dataclass
class Customer:
    """One subscriber and what the generator knows about it."""

    subscriber_id: str
    archetype: str
    segment: str  # residential | business
    service: str  # ip | pstn
    numbers: list[str]
    email: str
    intl_status: str  # enabled | suspended
    equipment: str
    user_agent: str
    intl_style: str  # how international numbers are dialled (see numbers.dial)
    domestic_style: str
    home_countries: list[str] = field(default_factory=list)
    # IP timeline: sorted change times and the address from each time on.
    ip_times: list[int] = field(default_factory=list)
    ip_values: list[str] = field(default_factory=list)
    has_pbx: bool = False
    calls_abroad: bool = False  # had any international habit before attacks
    lookalike: bool = False
    victim: bool = False

    def ip_at(self, t: int) -> str:
        if not self.ip_values:
            return ""
        i = bisect.bisect_right(self.ip_times, t) - 1
        return self.ip_values[max(i, 0)]

    @property
    def main_number(self) -> str:
        return self.numbers[0]


class World:
    """Everything generated so far, plus the helpers that create calls and SIP events."""

    def __init__(self, seed: int, calendar: Calendar, numbers: Numbers) -> None:
        self.seed = seed
        self.cal = calendar
        self.numbers = numbers
        self.customers: list[Customer] = []
        self.cdrs: list[Cdr] = []
        self.sip: list[SipEvent] = []
        self.incidents: list[Incident] = []
        self.fraud: dict[str, str] = {}
        self.lookalikes: list[Lookalike] = []
        self._ids = Random(f"altsim-callids:{seed}")
        self._used_ids: set[str] = set()
        self.horizon = calendar.days * 86_400
        self.notes: dict[str, object] = {}

    def new_call_id(self, service: str) -> str:
        while True:
            bits = self._ids.getrandbits(96)
            if service == "ip":
                text = f"{bits:024x}@sbc{bits % 4 + 1}.tyo.altsim.example"
            else:
                text = f"px{bits % 7 + 1:02d}-{bits:024X}"
            if text not in self._used_ids:
                self._used_ids.add(text)
                return text

    def add_call(
        self,
        cust: Customer,
        start: int,
        callee_e164: str,
        outcome: tuple[str, int, int],
        *,
        style: str | None = None,
        source_ip: str | None = None,
        caller: str | None = None,
        incident: str | None = None,
        callee_raw: str | None = None,
    ) -> Cdr:
        """Record one call attempt; ``outcome`` is (disposition, ring seconds, talk seconds)."""
        disposition, ring, talk = outcome
        if callee_raw is None:
            if style is None:
                style = cust.domestic_style if callee_e164.startswith("+81") else cust.intl_style
            callee_raw = dial(callee_e164, style)
        if source_ip is None:
            source_ip = cust.ip_at(start) if cust.service == "ip" else ""
        answer = start + ring if disposition == "ANSWERED" else None
        end = (answer + talk) if answer is not None else start + ring
        cdr = Cdr(
            start=start,
            call_id=self.new_call_id("ip" if source_ip else "pstn"),
            subscriber_id=cust.subscriber_id,
            caller=caller or cust.main_number,
            callee=callee_raw,
            answer=answer,
            end=end,
            disposition=disposition,
            source_ip=source_ip,
        )
        self.cdrs.append(cdr)
        if incident is not None:
            self.fraud[cdr.call_id] = incident
        return cdr

    def add_sip(self, t: int, ip: str, user: str, event: str, ua: str) -> None:
        self.sip.append(SipEvent(t, ip, user, event, ua))

    def lookalike(
        self, cust: Customer, kind: str, start: int | None, end: int | None, text: str
    ) -> None:
        cust.lookalike = True
        self.lookalikes.append(Lookalike(cust.subscriber_id, kind, start, end, text))


# --- call outcome models ---------------------------------------------------------------------


def lognormal_seconds(rng: Random, median: float, sigma: float, cap: float) -> int:
    return max(1, min(round(median * math.exp(rng.gauss(0.0, sigma))), int(cap)))


def outcome(
    rng: Random,
    answer_rate: float,
    median: float,
    sigma: float,
    cap: float,
    *,
    busy: float = 0.08,
    failed: float = 0.03,
) -> tuple[str, int, int]:
    """(disposition, ring seconds, talk seconds) of one attempt."""
    x = rng.random()
    if x < answer_rate:
        return "ANSWERED", rng.randint(3, 22), lognormal_seconds(rng, median, sigma, cap)
    x -= answer_rate
    rest = 1.0 - answer_rate
    if x < rest * busy:
        return "BUSY", rng.randint(1, 6), 0
    if x < rest * (busy + failed):
        return "FAILED", rng.randint(0, 4), 0
    return "NO ANSWER", rng.randint(15, 60), 0


def poisson(rng: Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def pick_hour(rng: Random, cumulative: list[float]) -> int:
    return min(23, bisect.bisect_right(cumulative, rng.random() * cumulative[-1]))


def cumulate(weights: list[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out
