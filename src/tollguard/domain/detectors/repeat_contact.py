"""Repeat contact: a person calling one number again on separate days.

Watches: the international numbers a customer dials (every attempt, allowed or not), by local day.
Pattern: a dialler pumps its numbers many times within hours and rotates them (test numbers have
a short life; IRSF events run over a night or a weekend: CFCA, GSMA IRSF guidance); a person calls
the same few numbers (a ship's satellite phone, a partner's mobile) once or twice a day, on day
after day, and dials again the next day when a call was refused.
Learns: for at most ``MAX_NUMBERS`` numbers, the last few days each was dialled and how often.
Scores: when this number was dialled on ``min_days`` or more earlier days within ``window_days``,
never more than ``max_per_day`` times a day, LR = ``lr`` (below 1: evidence of a person);
otherwise 1. The policy asks only when the customer has no other international call in progress
and is not walking the number's block (``block_spread``).
Look-alikes: a low-and-slow attack that reuses one number once a night for days; the published
cases rotate numbers, and the meter still weighs its charges.

>>> r = RepeatContact()
>>> for day in (3, 4, 6):
...     r.observe_one("+8816123456", day)
>>> r.score_one("+8816123456", 7, 3, 2, 14, 0.01).lr
0.01
>>> r.score_one("+8816123457", 7, 3, 2, 14, 0.01).lr
1.0
"""

from __future__ import annotations

from typing import Final

from tollguard.domain.detectors.base import Evidence

#: Numbers remembered per customer; the least recently dialled are forgotten first.
MAX_NUMBERS: Final = 32
#: Days remembered per number.
MAX_DAYS: Final = 6


class RepeatContact:
    """Per-customer international numbers with the recent days each was dialled."""

    __slots__ = ("days",)
    name = "repeat_contact"

    def __init__(self) -> None:
        # number -> [(local day, attempts that day)], oldest first
        self.days: dict[str, list[tuple[int, int]]] = {}

    def observe_one(self, e164: str, day: int) -> None:
        """Count one attempt to ``e164`` on local ``day``."""
        days = self.days.pop(e164, None) or []
        self.days[e164] = days  # insertion order is recency
        if days and days[-1][0] == day:
            days[-1] = (day, days[-1][1] + 1)
        else:
            days.append((day, 1))
            if len(days) > MAX_DAYS:
                del days[0]
        if len(self.days) > MAX_NUMBERS:
            del self.days[next(iter(self.days))]

    def _earlier(self, e164: str, day: int, window_days: int) -> list[tuple[int, int]]:
        return [(d, n) for d, n in self.days.get(e164, ()) if d < day and day - d <= window_days]

    @staticmethod
    def _a_persons(earlier: list[tuple[int, int]], min_days: int, max_per_day: int) -> bool:
        return len(earlier) >= min_days and all(n <= max_per_day for _, n in earlier)

    def is_contact(
        self, e164: str, day: int, min_days: int, max_per_day: int, window_days: int
    ) -> bool:
        """Whether ``e164`` was dialled as a person dials (the pattern above) before ``day``."""
        return self._a_persons(self._earlier(e164, day, window_days), min_days, max_per_day)

    def score_one(
        self, e164: str, day: int, min_days: int, max_per_day: int, window_days: int, lr: float
    ) -> Evidence:
        """Evidence that a person, not a dialler, is calling this number."""
        earlier = self._earlier(e164, day, window_days)
        if not self._a_persons(earlier, min_days, max_per_day):
            return Evidence(self.name, 1.0)
        facts = {"days_dialled_before": len(earlier), "most_in_a_day": max(n for _, n in earlier)}
        return Evidence(self.name, lr, None, facts)
