"""One source address placing international calls for several customers at once.

Watches: (source address, customer) of international call attempts on IP lines.
Pattern: campaigns that use stolen credentials of many customers from a few addresses (source
document: IP filtering when fraud comes from one IP across accounts at once).
Learns: per address, the customers seen in a sliding window, with their last attempt time.
Scores: LR grows with the number of other customers on the same public address.
Look-alike: customers behind one carrier-grade NAT (100.64/10, scope ``shared``) are not public
and are ignored; several offices of one business share an address but are one subscriber.

>>> s = SharedSourceIp()
>>> for i, c in enumerate(["a", "b", "c"]): _ = s.learn_one(float(i), "198.51.100.4", c, 3600)
>>> s.score_one(3.0, "198.51.100.4", "d", 3600, 3).lr
1000.0
"""

from __future__ import annotations

from tollguard.domain.detectors.base import DistinctInWindow, Evidence


class SharedSourceIp(DistinctInWindow):
    """Customers per source address within a sliding window."""

    __slots__ = ()
    name = "shared_source_ip"

    def score_one(
        self, t: float, ip: str | None, subscriber_id: str, window_s: float, min_customers: int
    ) -> Evidence:
        """Evidence from other customers' international attempts from the same address."""
        if ip is None:
            return Evidence(self.name, 1.0)
        # the others seen within the window, counted (members() would sort them)
        since = t - window_s
        seen = self.seen.get(ip)
        n = (
            1
            if seen is None
            else 1 + sum(1 for c, when in seen.items() if when > since and c != subscriber_id)
        )
        if n < 2:
            return Evidence(self.name, 1.0)
        lr = 10.0 ** min(n - 1, 4) if n >= min_customers else 3.0 ** (n - 1)
        reason = "address_shared_by_customers" if n >= min_customers else None
        return Evidence(self.name, lr, reason, {"ip": ip, "customers": n})
