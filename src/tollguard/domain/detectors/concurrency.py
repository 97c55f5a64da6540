"""Concurrency and bursts: more international calls at once, or in quick succession, than ever.

Watches: international calls in progress and attempts in a sliding window, per customer.
Pattern: a hijacked PBX is driven by a dialer on many concurrent channels, re-dialling for hours
(source document: 同時多発; CFCA).
Learns: the customer's maximum concurrency and maximum burst seen on legitimate traffic.
Scores: LR = step ** (excess), excess = observed - max(own maximum, 1), capped.
Look-alikes: heavy business users (their maximum is high), one-day spikes (a few above maximum).

>>> c = Concurrency()
>>> for i, cid in enumerate("abd"): c.start(cid, float(i)); c.connect(cid)
>>> c.start("e", 3.0)
>>> round(c.score_one(3.0, 600.0, 3.0, 2.0, 1e4).lr)  # 4 channels and 4 attempts, never seen
108
"""

from __future__ import annotations

import math
from collections import deque

from tollguard.domain.detectors.base import Evidence


class Concurrency:
    """Per-customer international calls in progress, recent attempts, and learned maxima."""

    __slots__ = ("active", "max_active", "max_burst", "recent")
    name = "concurrency"

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.recent: deque[float] = deque()
        self.max_active = 0
        self.max_burst = 0

    def start(self, call_id: str, t: float) -> None:
        """A call attempt began (allowed or not, every attempt counts for bursts)."""
        self.recent.append(t)

    def connect(self, call_id: str) -> None:
        """An allowed international call is now in progress."""
        self.active.add(call_id)

    def end(self, call_id: str) -> None:
        """A call ended or was cut."""
        self.active.discard(call_id)

    def burst(self, t: float, window_s: float) -> int:
        """Attempts within ``window_s`` before ``t`` (the current one included)."""
        recent = self.recent
        while recent and recent[0] <= t - window_s:
            recent.popleft()
        return len(recent)

    def learn_one(self, concurrent: int, burst: int) -> None:
        """Learn the concurrency and burst a legitimate call was made with."""
        if concurrent > self.max_active:
            self.max_active = concurrent
        if burst > self.max_burst:
            self.max_burst = burst

    def excess(self, concurrent: int, burst: int) -> tuple[int, int]:
        """Channels and attempts in the burst window beyond the customer's own maxima (at least
        one channel and two attempts count as usual for anyone)."""
        return (
            max(0, concurrent - max(self.max_active, 1)),
            max(0, burst - max(self.max_burst, 2)),
        )

    def score_one(
        self, t: float, window_s: float, conc_step: float, burst_step: float, cap: float
    ) -> Evidence:
        """Evidence from channels in use (this call included) and the recent attempt burst."""
        concurrent = len(self.active) + 1
        burst = self.burst(t, window_s)
        excess_c, excess_b = self.excess(concurrent, burst)
        log_lr = excess_c * math.log(conc_step) + excess_b * math.log(burst_step)
        lr = cap if log_lr >= math.log(cap) else conc_step**excess_c * burst_step**excess_b
        reason = "concurrent_calls" if excess_c >= 2 else "call_burst" if excess_b >= 3 else None
        facts = {
            "concurrent": concurrent,
            "usual_max_concurrent": self.max_active,
            "attempts_in_window": burst,
            "usual_max_attempts": self.max_burst,
        }
        return Evidence(self.name, lr, reason, facts)
