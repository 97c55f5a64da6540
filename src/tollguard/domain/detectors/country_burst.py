"""Country burst: many customers calling one country at once (同時多発).

Watches: the country code of international call attempts, and nothing more of the number (secrecy
of communications: the source document's country restriction examines only the country code).
Pattern: campaigns pumping one country across many victims within the hour (source document).
Learns: per country, the customers attempting it in a sliding window; the country's normal traffic
comes from :class:`~tollguard.domain.detectors.population.PopulationBaseline`.
Scores: a burst when the number of distinct customers in the window is at least ``min_customers``
and its Poisson tail probability under the country's normal hourly rate is below ``tail``.

>>> b = CountryBurst()
>>> for i in range(6): _ = b.learn_one(float(i), "SO", f"c{i}", 3600)
>>> b.score_one(6.0, "SO", normal_calls_per_day=0.1, window_s=3600, min_customers=4,
...             tail=1e-6).reason
'country_burst'
"""

from __future__ import annotations

import math

from tollguard.domain.detectors.base import DistinctInWindow, Evidence


def poisson_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    term = math.exp(-lam)
    cdf = term
    for i in range(1, k):
        term *= lam / i
        cdf += term
    return max(0.0, 1.0 - cdf)


class CountryBurst(DistinctInWindow):
    """Distinct customers per country within a sliding window."""

    __slots__ = ()
    name = "country_burst"

    def score_one(
        self,
        t: float,
        region: str | None,
        normal_calls_per_day: float,
        window_s: float,
        min_customers: int,
        tail: float,
    ) -> Evidence:
        """Evidence that ``region`` is under a burst right now."""
        if region is None:
            return Evidence(self.name, 1.0)
        n = self.count(region, t, window_s)
        # Peak hours carry about three times the average hourly rate.
        lam = max(normal_calls_per_day, 0.0) / 86400.0 * window_s * 3.0
        p = poisson_tail(n, lam)
        facts = {"country": region, "customers": n, "expected": round(lam, 3), "tail": p}
        if n >= min_customers and p < tail:
            return Evidence(
                self.name, min(1e4, 1.0 / max(p, 1e-12) ** 0.25), "country_burst", facts
            )
        return Evidence(self.name, 1.0, None, facts)
