"""Types shared by the detectors: the enriched call and the evidence a detector returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tollguard.domain.restricted import RestrictedDestination

#: Bounds on any single likelihood ratio, so that no one detector decides alone.
LR_MIN = 1e-3
LR_MAX = 1e4


def capped_power(base: float, exponent: float, cap: float) -> float:
    """``min(cap, base ** exponent)`` without overflowing when the power is huge.

    >>> capped_power(2.0, 3.0, 1e3), capped_power(2.0, 20_000.0, 1e3)
    (8.0, 1000.0)
    """
    if exponent * math.log(base) >= math.log(cap):
        return cap
    return float(base**exponent)


def clamp_lr(lr: float) -> float:
    """Clamp a likelihood ratio into [LR_MIN, LR_MAX]."""
    return LR_MIN if lr < LR_MIN else LR_MAX if lr > LR_MAX else lr


def slot_state(state: object) -> dict[str, Any]:
    """The slot values in a slotted object's pickled state: a dict from its ``__getstate__``, or
    Python's default ``(None, {slot: value})`` (snapshots taken before it had one)."""
    slots = state[1] if isinstance(state, tuple) else state
    assert isinstance(slots, dict)
    return slots


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a detector found: a likelihood ratio, a reason code when it points at fraud, facts."""

    detector: str
    lr: float
    reason: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CallContext:
    """A call at set-up, enriched with number, tariff, IP and calendar facts."""

    time: float
    call_id: str
    subscriber_id: str
    callee: str
    e164: str | None
    region: str | None
    number_type: str
    international: bool
    rate_per_min: float
    restricted: RestrictedDestination | None
    source_ip: str | None
    ip_country: str | None
    ip_network: str | None
    ip_public: bool
    bucket: int
    day: int
    rate_prefix: str = ""
    country_rate_per_min: float = 0.0


class DistinctInWindow:
    """For each key (a country, a number range, an address), the distinct members (customers)
    seen within a sliding window, each with the time it was last seen."""

    __slots__ = ("_oldest", "seen")

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, float]] = {}
        # key -> a time no later than any of its members' (so that learning need not look for
        # members gone out of the window while none can be)
        self._oldest: dict[str, float] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"seen": self.seen}

    def __setstate__(self, state: object) -> None:
        self.seen = slot_state(state)["seen"]
        self._oldest = {k: min(m.values()) for k, m in self.seen.items() if m}

    def learn_one(self, t: float, key: str, member: str, window_s: float) -> int:
        """Record ``member`` under ``key`` at ``t``; return how many are within the window."""
        members = self.seen.get(key)
        if members is None:
            members = self.seen[key] = {}
            self._oldest[key] = t
        elif t < self._oldest[key]:
            self._oldest[key] = t
        members[member] = t
        if len(members) > 1 and self._oldest[key] <= t - window_s:
            for m in [m for m, when in members.items() if when <= t - window_s]:
                del members[m]
            self._oldest[key] = min(members.values(), default=math.inf)
        return len(members)

    def members(self, key: str, t: float, window_s: float) -> list[str]:
        """Members seen under ``key`` within the window before ``t``, sorted."""
        return sorted(m for m, when in self.seen.get(key, {}).items() if when > t - window_s)

    def count(self, key: str, t: float, window_s: float) -> int:
        """How many members were seen under ``key`` within the window before ``t``."""
        return sum(1 for when in self.seen.get(key, {}).values() if when > t - window_s)

    def forget(self, t: float, window_s: float) -> None:
        """Drop keys with no member seen within the window."""
        for k in [k for k, m in self.seen.items() if max(m.values()) <= t - window_s]:
            del self.seen[k]
            self._oldest.pop(k, None)
