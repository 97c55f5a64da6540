"""Destination novelty: a destination this customer has never called.

Watches: the destination of a customer's international calls: its country, or the tariff range for
a dear range of a country (the policy's ``destination_key``: a country's premium-rate range is not
familiar because its mobiles are).
Pattern: IRSF traffic goes to ranges the victim has no relation to (CFCA; source document: Africa,
Eastern Europe).
Learns: a count per country called (a small dict, created on the first international call).
Scores: with n calls to d distinct countries, the customer's next call goes to a new country with
P(new) = (d + a) / (n + d + a) and to known country c with count_c / (n + d + a) (a customer who
calls 30 countries is often "new", one who calls the same two rarely). Fraud goes to a known
country with probability q (in proportion to the customer's use) and to a new one with 1 - q, so
LR(new) = (1 - q) / P(new) and LR(known c) = q (n + d + a) / n.
Look-alikes: heavy international business users (many countries, so novelty is cheap), diaspora
families (their country is known after the first calls).

>>> d = DestinationNovelty()
>>> for c in ["US"] * 19 + ["CN"]: d.learn_one(c)
>>> round(d.score_one("NG", 1.0, 0.05).lr, 1), round(d.score_one("US", 1.0, 0.05).lr, 3)
(7.3, 0.058)
"""

from __future__ import annotations

from tollguard.domain.detectors.base import Evidence, clamp_lr


class DestinationNovelty:
    """Per-customer countries called, with counts."""

    __slots__ = ("countries", "n")
    name = "destination_novelty"

    def __init__(self) -> None:
        self.countries: dict[str, int] = {}
        self.n = 0

    def learn_one(self, region: str | None) -> None:
        """Count one legitimate international call to ``region``."""
        key = region or "?"
        self.countries[key] = self.countries.get(key, 0) + 1
        self.n += 1

    def p_new(self, pseudo_count: float) -> float:
        """Probability that this customer's next legitimate call goes to a new country."""
        d = len(self.countries)
        return (d + pseudo_count) / (self.n + d + pseudo_count)

    def knows(self, region: str | None) -> bool:
        """True if the customer has called ``region`` before."""
        return (region or "?") in self.countries

    def score_one(
        self, region: str | None, pseudo_count: float, fraud_known_probability: float
    ) -> Evidence:
        """Evidence from the destination's novelty for this customer."""
        p_new = min(self.p_new(pseudo_count), 1.0)
        count = self.countries.get(region or "?", 0)
        facts = {
            "destination": region,
            "calls_before": count,
            "destinations_known": len(self.countries),
        }
        if count == 0:
            lr = clamp_lr((1.0 - fraud_known_probability) / p_new)
            return Evidence(self.name, lr, "new_destination" if lr >= 2 else None, facts)
        n, d = self.n, len(self.countries)
        lr = clamp_lr(fraud_known_probability * (n + d + pseudo_count) / n)
        return Evidence(self.name, lr, None, facts)
