"""Source IP: calls from an address, network or country this customer does not use.

Watches: the source IP of an IP line's calls and registrations (PSTN lines have none).
Pattern: stolen SIP credentials used from abroad (source document: "source IP clearly differs
from the customer's usual one"); dynamic IPs make the signal imperfect, so networks and countries
count, not only addresses.
Learns: up to 8 addresses, 8 networks (/24 or /48) and the countries seen, with counts.
Scores: exact address known -> LR < 1; known network or only a new address in a usual country ->
about 1-2 (renumbering inside the ISP is normal); a foreign country the customer never used ->
P(foreign | fraud) / P(foreign | customer), the latter shrunk towards the population's share of
foreign-address calls, so travellers who have used foreign addresses before are not punished;
for a customer whose addresses are not known yet (a new line, a cold start) it is the population's
share itself, so a first call from abroad still weighs.

>>> s = SourceIpHistory()
>>> for _ in range(30): s.learn_one("203.0.113.7", "203.0.113.0/24", "JP")
>>> s.score_one("203.0.113.9", "203.0.113.0/24", "JP", True, "JP", 0.01, 0.5, 10.0, 2.0, 0.5).lr
1.0
>>> ev = s.score_one("198.51.100.1", "198.51.100.0/24", "NG", True, "JP", 0.01, 0.5, 10.0, 2.0, 0.5)
>>> ev.lr > 50
True
>>> new = SourceIpHistory()
>>> new.score_one("198.51.100.1", None, "NG", True, "JP", 0.01, 0.5, 10.0, 2.0, 0.5).lr
50.0
"""

from __future__ import annotations

from tollguard.domain.detectors.base import Evidence, clamp_lr

_KEEP = 8


def _bump(table: dict[str, int], key: str) -> None:
    count = table.get(key)
    if count is not None:
        table[key] = count + 1
        return
    if len(table) >= _KEEP:
        # the least used, then the smallest key: min by (count, key), without a tuple per key
        low = min(table.values())
        del table[min(k for k, v in table.items() if v == low)]
    table[key] = 1


class SourceIpHistory:
    """Per-customer addresses, networks and countries used."""

    __slots__ = ("addresses", "countries", "n", "networks")
    name = "source_ip"

    def __init__(self) -> None:
        self.addresses: dict[str, int] = {}
        self.networks: dict[str, int] = {}
        self.countries: dict[str, int] = {}
        self.n = 0

    def learn_one(self, ip: str, network: str | None, country: str | None) -> None:
        """Learn an address used legitimately."""
        _bump(self.addresses, ip)
        if network:
            _bump(self.networks, network)
        if country:
            self.countries[country] = self.countries.get(country, 0) + 1
        self.n += 1

    def knows(self, ip: str | None) -> bool:
        """True if the customer has used this exact address."""
        return ip is not None and ip in self.addresses

    def score_one(
        self,
        ip: str | None,
        network: str | None,
        country: str | None,
        public: bool,
        home_region: str,
        population_foreign_share: float,
        fraud_foreign_probability: float,
        pseudo_count: float,
        new_network_lr: float,
        known_address_lr: float,
        floor_probability: float = 0.003,
    ) -> Evidence:
        """Evidence from where the call comes from."""
        facts = {"ip": ip, "ip_country": country, "usual_countries": sorted(self.countries)}
        if ip is None or not public:
            return Evidence(self.name, 1.0, None, facts)
        if ip in self.addresses:
            return Evidence(self.name, known_address_lr, None, facts)
        if network is not None and network in self.networks:
            return Evidence(self.name, 1.0, None, facts)
        if country is not None and country in self.countries:
            return Evidence(self.name, new_network_lr if self.n else 1.0, None, facts)
        if self.n == 0 and (country is None or country == home_region):
            return Evidence(self.name, 1.0, None, facts)
        # A foreign address: how often this customer calls from abroad, shrunk towards the
        # carrier's share (all of it for a customer whose addresses are not known yet).
        foreign = sum(v for k, v in self.countries.items() if k != home_region)
        p_foreign = (foreign + pseudo_count * population_foreign_share) / (self.n + pseudo_count)
        p_foreign = max(p_foreign, floor_probability)
        lr = clamp_lr(fraud_foreign_probability / max(p_foreign, 1e-6))
        return Evidence(self.name, lr, "unusual_source_country" if lr >= 5 else None, facts)
