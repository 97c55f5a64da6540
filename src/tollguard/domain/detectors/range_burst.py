"""Range burst: several customers newly calling the same dear number range.

Watches: the leading digits (``prefix_digits`` of the E.164 number) of international attempts to
dear or restricted ranges by customers who have never called that country.
Pattern: Wangiri (one-ring calls from a premium range, then victims call back) and IRSF campaigns
that use one range holder's numbers across victims.
Learns: per range, the customers in a sliding window.
Scores: LR grows with the number of distinct customers; at ``min_customers`` the range is a
candidate for a carrier-wide range denial.

>>> r = RangeBurst()
>>> for c in "abc": n = r.learn_one(0.0, "2218812", c, 21600)
>>> n
3
"""

from __future__ import annotations

from tollguard.domain.detectors.base import DistinctInWindow, Evidence


class RangeBurst(DistinctInWindow):
    """Distinct customers per number range within a sliding window."""

    __slots__ = ()
    name = "range_burst"

    def score_one(self, t: float, prefix: str, window_s: float, min_customers: int) -> Evidence:
        """Evidence from other customers calling the same range recently."""
        n = self.count(prefix, t, window_s)
        if n < 2:
            return Evidence(self.name, 1.0)
        lr = 30.0 ** min(n - 1, 3) if n >= min_customers else 3.0
        reason = "range_burst" if n >= min_customers else None
        return Evidence(self.name, lr, reason, {"range": "+" + prefix, "customers": n})
