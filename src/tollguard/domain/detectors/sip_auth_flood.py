"""SIP authentication floods and brute force.

Watches: SIP security events (authentication failures and successes, registrations).
Pattern: scanners (SIPVicious and the like) try many usernames from one address; brute force
tries one account until it gets in; the source document: block SIP authentication from foreign
addresses attacking many accounts at once.
Learns: per source address, failure times and usernames in a sliding window (only for addresses
that fail). The policy remembers which customer's line was brute-forced from which address.
Scores: a flood when failures >= ``min_failures`` across >= ``min_usernames`` usernames, or >=
``single_user_failures`` on one username. A success after a flood marks a brute-forced credential.
Look-alike: a customer's PBX with a wrong password after a change retries one username a few
times a minute: below ``single_user_failures`` per window.

>>> f = SipAuthFlood()
>>> hits = [f.learn_one(float(i), "192.0.2.9", f"u{i % 5}", "auth_failure", 600, 20, 3, 60)
...         for i in range(20)]
>>> hits[-1] is not None and hits[-2] is None
True
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from tollguard.domain.detectors.base import Evidence


@dataclass(slots=True)
class _Source:
    failures: deque[tuple[float, str]] = field(default_factory=deque)
    flagged: bool = False
    total_failures: int = 0


class SipAuthFlood:
    """Cross-customer state of failing SIP sources."""

    __slots__ = ("sources",)
    name = "sip_auth_flood"

    def __init__(self) -> None:
        self.sources: dict[str, _Source] = {}

    def learn_one(
        self,
        t: float,
        ip: str,
        username: str,
        event: str,
        window_s: float,
        min_failures: int,
        min_usernames: int,
        single_user_failures: int,
    ) -> Evidence | None:
        """Learn an event; return evidence when it completes a flood or a brute force."""
        src = self.sources.get(ip)
        if event == "auth_failure":
            if src is None:
                src = self.sources[ip] = _Source()
            src.failures.append((t, username))
            src.total_failures += 1
            while src.failures and src.failures[0][0] <= t - window_s:
                src.failures.popleft()
            if src.flagged:
                return None
            n = len(src.failures)
            users = {u for _, u in src.failures}
            if (n >= min_failures and len(users) >= min_usernames) or n >= single_user_failures:
                src.flagged = True
                facts = {"ip": ip, "failures": n, "usernames": len(users), "window_s": window_s}
                return Evidence(self.name, 1e3, "sip_auth_flood", facts)
            return None
        if event == "auth_success" and src is not None and src.total_failures >= min_failures:
            facts = {"ip": ip, "username": username, "failures_before": src.total_failures}
            return Evidence(self.name, 1e3, "sip_bruteforce_success", facts)
        return None

    def forget(self, t: float, window_s: float) -> None:
        """Drop sources idle for a window (flagged ones are kept: they stay blocked)."""
        idle = [
            ip
            for ip, s in self.sources.items()
            if not s.failures or s.failures[-1][0] <= t - window_s
        ]
        for ip in idle:
            if not self.sources[ip].flagged:
                del self.sources[ip]
