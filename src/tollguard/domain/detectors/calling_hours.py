"""Calling hours: calls at a time of week when this customer does not call.

Watches: the local time-of-week bucket (weekday or weekend/holiday x six 4-hour bins, Japanese
public holidays from ``holidays``) of every call attempt.
Pattern: attacks cluster when offices are empty and people sleep: nights, weekends and holidays
(source document; CFCA). ``FRAUD_BUCKETS`` is that published shape as a distribution.
Learns: 12 counters per customer.
Scores: LR = P(bucket | fraud) / P(bucket | customer), where P(bucket | customer) is the customer's
own histogram shrunk towards their segment's (learned from the population), with one extra call
per bucket (Laplace smoothing) so that an unused bucket is unlikely, not impossible.
Look-alike: residential customers who call at night (their own histogram covers it).

>>> h = CallingHours()
>>> for _ in range(50): h.learn_one(2)
>>> seg = [1 / 12] * 12
>>> h.score_one(2, seg, 20.0).lr < 1 < h.score_one(6, seg, 20.0).lr
True
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from tollguard.domain.calendar import TIME_BUCKETS, bucket_label
from tollguard.domain.detectors.base import Evidence, clamp_lr

#: P(bucket | fraud): weekday 00-04 .. 20-24, then weekend/holiday 00-04 .. 20-24. Nights and
#: off-days carry most attacks (source document: "offices empty at night", weekends); daytime
#: attacks exist (attacks on companies that call abroad daily), so no bucket is near zero.
FRAUD_BUCKETS: tuple[float, ...] = (
    0.12, 0.08, 0.05, 0.05, 0.06, 0.09,
    0.13, 0.10, 0.07, 0.07, 0.08, 0.10,
)  # fmt: skip


class CallingHours:
    """Per-customer histogram of call attempts by time-of-week bucket."""

    __slots__ = ("counts", "n")
    name = "calling_hours"

    def __init__(self) -> None:
        self.counts = array("I", bytes(4 * TIME_BUCKETS))
        self.n = 0

    def learn_one(self, bucket: int) -> None:
        """Count one legitimate call in ``bucket``."""
        self.counts[bucket] += 1
        self.n += 1

    def score_one(self, bucket: int, segment: Sequence[float], pseudo_count: float) -> Evidence:
        """Evidence from the time of week, against this customer's habits."""
        # The customer's own histogram, shrunk towards the segment's, plus one call per bucket
        # (Laplace): a bucket never used yet is unlikely, not impossible (people work late).
        own = self.counts[bucket] + pseudo_count * segment[bucket] + 1.0
        p = own / (self.n + pseudo_count + TIME_BUCKETS)
        lr = clamp_lr(FRAUD_BUCKETS[bucket] / max(p, 1e-6))
        reason = "unusual_hour" if lr >= 3 else None
        return Evidence(
            self.name, lr, reason, {"time": bucket_label(bucket), "usual_share": round(p, 4)}
        )
