"""Turns simulated calls and SIP events into contract rows and routes them to the sorted sinks."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tollguard.app.simulate.model import Customer, Period, call_id
from tollguard.app.simulate.numbers import dialled
from tollguard.app.simulate.sink import SortedSpill, sort_key

ANSWERED, NO_ANSWER, BUSY, FAILED = "ANSWERED", "NO ANSWER", "BUSY", "FAILED"


@dataclass(slots=True)
class Emitter:
    """Formats rows (CDR, SIP event, fraud label) and tracks each incident's time extent."""

    period: Period
    cdrs: SortedSpill
    sip: SortedSpill
    fraud: SortedSpill
    extents: dict[str, list[int]] = field(default_factory=dict)
    calls_by_incident: dict[str, int] = field(default_factory=dict)
    intl_calls: int = 0

    def _extend(self, incident: str, start: int, end: int) -> None:
        span = self.extents.get(incident)
        if span is None:
            self.extents[incident] = [start, end]
        else:
            if start < span[0]:
                span[0] = start
            if end > span[1]:
                span[1] = end

    def call(
        self,
        rng: random.Random,
        cust: Customer,
        callee: str,
        start: int,
        ring: int,
        talk: int,
        disposition: str,
        source_ip: str,
        incident: str | None = None,
    ) -> int:
        """Emit one call attempt; return its end time (seconds)."""
        fmt = self.period.fmt
        if disposition == ANSWERED:
            answer = start + ring
            end = answer + max(1, talk)
            answer_s = fmt(answer)
        else:
            end = start + ring
            answer_s = ""
        numbers = cust.numbers
        caller = numbers[0] if len(numbers) == 1 else numbers[rng.randrange(len(numbers))]
        cid = call_id(rng)
        if not callee.startswith("+81"):
            self.intl_calls += 1
        self.cdrs.add(
            f"{sort_key(start)}{cid},{cust.subscriber_id},{caller},"
            f"{dialled(callee, cust.style)},{fmt(start)},{answer_s},{fmt(end)},"
            f"{disposition},{source_ip}"
        )
        if incident is not None:
            self.fraud.add(f"{sort_key(start)}{cid},{incident}")
            self.calls_by_incident[incident] = self.calls_by_incident.get(incident, 0) + 1
            self._extend(incident, start, end)
        return end

    def event(
        self,
        time: int,
        source_ip: str,
        username: str,
        event: str,
        user_agent: str,
        incident: str | None = None,
    ) -> None:
        """Emit one SIP security event (times before the period are moved to its start)."""
        time = max(0, time)
        self.sip.add(
            f"{sort_key(time)}{self.period.fmt(time)},{source_ip},{username},{event},{user_agent}"
        )
        if incident is not None:
            self._extend(incident, time, time)
