"""International share: how unusual it is for this customer to call abroad at all.

Watches: every call attempt of a customer (domestic and international).
Pattern: attackers take over lines of customers who rarely or never call abroad (source document:
mostly small businesses; "a customer who never calls abroad has a baseline too").
Learns: two counters per customer (8 bytes of payload).
Scores: the policy's prior is a rate per *international* attempt, so the evidence is not that the
call goes abroad but *who* places it: LR = P(customer | fraud, international) / P(customer |
legitimate, international) = pi / P(international | customer), with the carrier's international
share ``pi`` and P(international | customer) = (n_intl + a * pi) / (n_calls + a): the customer's own
share shrunk towards the population's with ``a`` pseudo-calls. A new customer scores 1 (judged by
the population), one with 200 domestic calls and none abroad about 21, and one who calls abroad
more often than the carrier's average below 1 (evidence of a legitimate call). Attackers pick
victims without regard to their calling habits, so P(customer | fraud) is the same for all.
Look-alike: first-time international callers; their destination and time evidence decide.

>>> s = InternationalShare()
>>> for _ in range(200): s.learn_one(False)
>>> round(s.score_one(population_share=0.05, pseudo_count=10).lr)
21
>>> heavy = InternationalShare()
>>> for i in range(100): heavy.learn_one(i % 4 == 0)
>>> round(heavy.score_one(population_share=0.05, pseudo_count=10).lr, 2)
0.22
"""

from __future__ import annotations

from tollguard.domain.detectors.base import Evidence, clamp_lr


class InternationalShare:
    """Per-customer counts of calls and international calls."""

    __slots__ = ("n_calls", "n_intl")
    name = "international_share"

    def __init__(self) -> None:
        self.n_calls = 0
        self.n_intl = 0

    def learn_one(self, international: bool) -> None:
        """Count one legitimate call."""
        self.n_calls += 1
        if international:
            self.n_intl += 1

    def probability(self, population_share: float, pseudo_count: float) -> float:
        """P(a call of this customer is international), shrunk towards the population."""
        return (self.n_intl + pseudo_count * population_share) / (self.n_calls + pseudo_count)

    def score_one(self, population_share: float, pseudo_count: float) -> Evidence:
        """Evidence from the mere fact of calling abroad."""
        p = self.probability(population_share, pseudo_count)
        lr = clamp_lr(population_share / max(p, 1e-9))
        reason = "rarely_calls_abroad" if lr >= 20 else None
        return Evidence(
            self.name, lr, reason, {"calls": self.n_calls, "international_calls": self.n_intl}
        )
