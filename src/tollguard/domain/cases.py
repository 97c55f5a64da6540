"""Cases: an anomaly on one customer, its evidence, and the contact workflow.

A case opens when a call is denied for risk, charges exceed the customer's baseline, or the
customer's SIP credential was brute-forced. The carrier then tries to reach the customer several
times (the source document: 複数回連絡); when fraud is highly probable and nobody answers, it
suspends international calling and notifies afterwards (事後連絡).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CaseState(StrEnum):
    """Where a case stands."""

    CONTACTING = "contacting"
    UNREACHABLE = "unreachable"
    SUSPENDED = "suspended"
    CLOSED = "closed"


@dataclass(slots=True)
class ContactAttempt:
    """One attempt to reach the customer: channel, time and outcome."""

    time: float
    channel: str
    outcome: str = "no_answer"


@dataclass(slots=True)
class Case:
    """An open anomaly on one customer."""

    subscriber_id: str
    opened_at: float
    log_odds: float
    next_contact: float
    state: CaseState = CaseState.CONTACTING
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    numbers: set[str] = field(default_factory=set)
    recent_numbers: deque[tuple[float, str]] = field(default_factory=deque)
    # how often each number is in ``recent_numbers``
    recent_counts: dict[str, int] = field(default_factory=dict)
    max_distinct_in_window: int = 0
    countries: set[str] = field(default_factory=set)
    high_risk_attempts: int = 0
    best_call_log_odds: float = -50.0
    metering_log_lr: float = 0.0
    peak_concurrent: int = 0
    usual_max_concurrent: int = 0
    bruteforce: bool = False
    shared_address: bool = False
    attempts: list[ContactAttempt] = field(default_factory=list)
    last_evidence: float = 0.0
    closed_reason: str = ""
    # The customer's established contacts when the case opened (an attack's hundreds of numbers
    # soon push them out of the customer's repeat-contact memory), and the numbers a suspension
    # spares: those of them the attack did not dial.
    established: frozenset[str] = frozenset()
    # Destinations (policy.destination_key) the customer's learned calls went to at least twice
    # before the case opened: a suspension spares calls to them too, still weighed.
    usual_destinations: frozenset[str] = frozenset()
    spared: frozenset[str] = frozenset()
    # Risky calls allowed under watch rather than refused (policy: ``watch_max_probability``).
    watched_calls: int = 0
    # While suspended: the last international attempt that looked like the attack's (to one of
    # its countries, or a dear or restricted destination); the suspension narrows to the
    # attack's countries once it has been quiet long enough (``suspension_quiet_hours``).
    attack_seen: float = 0.0

    def add_risky_number(self, t: float, number: str, window_s: float) -> None:
        """Record a risky number dialled; track the most distinct ones within ``window_s``.

        Amortised constant time (an attack's case takes thousands of attempts within the
        window): the attempts in the window, oldest first, and how often each number is in it.
        Attempts come in time order (the engine is event-time ordered)."""
        self.numbers.add(number)
        recent, counts = self._window()
        cutoff = t - window_s
        while recent and recent[0][0] <= cutoff:
            _, gone = recent.popleft()
            left = counts[gone] - 1
            if left:
                counts[gone] = left
            else:
                del counts[gone]
        recent.append((t, number))
        counts[number] = counts.get(number, 0) + 1
        self.max_distinct_in_window = max(self.max_distinct_in_window, len(counts))

    def risky_attempts_since(self, since: float) -> int:
        """Risky attempts (of those :meth:`add_risky_number` keeps) made after ``since``."""
        recent, _ = self._window()
        n = 0
        for w, _number in reversed(recent):
            if w <= since:
                break
            n += 1
        return n

    def _window(self) -> tuple[deque[tuple[float, str]], dict[str, int]]:
        """The window's attempts and counts; a case from an older snapshot kept the attempts
        as a list and no counts."""
        recent = self.recent_numbers
        if not isinstance(recent, deque):
            recent = self.recent_numbers = deque(recent)
            self.recent_counts = dict(Counter(n for _, n in recent))
        counts = self.recent_counts
        return recent, counts

    def attack_countries(self) -> set[str]:
        """The countries the case denied, less the customer's usual destinations: a pump's
        country that is also theirs was denied with their own calls in it."""
        return self.countries - getattr(self, "usual_destinations", frozenset())  # older snapshots

    def only_watched(self) -> bool:
        """True while the case holds nothing but calls allowed under watch: no refusal, cut,
        metering excess or other finding."""
        return (
            getattr(self, "watched_calls", 0) == self.high_risk_attempts > 0
            and self.metering_log_lr == 0.0
            and not self.bruteforce
            and not self.shared_address
        )

    def add_reason(self, reason: str) -> None:
        """Remember a reason once, in order of appearance."""
        if reason not in self.reasons:
            self.reasons.append(reason)

    def machine_behaviour(self, min_distinct_numbers: int) -> list[str]:
        """Signs of an automated attack rather than a person: what suspension requires."""
        signs = []
        if self.max_distinct_in_window >= min_distinct_numbers:
            signs.append(f"{self.max_distinct_in_window} distinct risky numbers within minutes")
        if self.peak_concurrent >= max(3, self.usual_max_concurrent + 2):
            signs.append(f"{self.peak_concurrent} concurrent international calls")
        if self.bruteforce:
            signs.append("SIP credential brute-forced")
        if self.shared_address:
            signs.append("source address shared with other customers' fraud")
        return signs
