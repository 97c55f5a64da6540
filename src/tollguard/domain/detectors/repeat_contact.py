"""Repeat contact: a person calling one number again on separate days.

Watches: the international numbers a customer dials (every attempt, allowed or not), by local day.
Pattern: a dialler pumps its numbers many times within hours and rotates them (test numbers have
a short life; IRSF events run over a night or a weekend: CFCA, GSMA IRSF guidance); a person calls
the same few numbers (a ship's satellite phone, a partner's mobile) once or twice a day, on day
after day, and dials again the next day when a call was refused.
Learns: for at most ``MAX_NUMBERS`` numbers, the last few days each was dialled and how often,
and the last two days the customer talked with it (an allowed call answered for a minute or more,
learned as the customer's or let through under watch and not cut: :meth:`RepeatContact.talked_one`).
Scores: when this number was dialled on ``min_days`` or more earlier days within ``window_days``,
or the customer talked with it before yesterday within ``window_days`` (a contact proved by a
conversation needs no third day; an attack's test call and its pump fall within one night, which
spans two local days), never more than ``max_per_day`` times a day, LR = ``lr``
(below 1: evidence of a person); otherwise 1. The policy asks only when the customer has no
other international call in progress and is not walking the number's block (``block_spread``).
Such a number is a contact: a refusal of a call to it is no new evidence, and the customer's
destination denials spare it (the call is still weighed).
Look-alikes: a low-and-slow attack that reuses one number once a night for days; the published
cases rotate numbers, and the meter still weighs its charges.

>>> r = RepeatContact()
>>> for day in (3, 4, 6):
...     r.observe_one("+8816123456", day)
>>> r.score_one("+8816123456", 7, 3, 2, 14, 0.01).lr
0.01
>>> r.score_one("+8816123457", 7, 3, 2, 14, 0.01).lr
1.0
>>> r.observe_one("+8816123457", 7)
>>> r.talked_one("+8816123457", 7)
>>> r.score_one("+8816123457", 8, 3, 2, 14, 0.01).lr  # not the day after the conversation
1.0
>>> r.score_one("+8816123457", 9, 3, 2, 14, 0.01).lr
0.01
"""

from __future__ import annotations

from typing import Final

from tollguard.domain.detectors.base import Evidence, slot_state

#: Numbers remembered per customer; the least recently dialled are forgotten first.
MAX_NUMBERS: Final = 32
#: Days remembered per number.
MAX_DAYS: Final = 6


class RepeatContact:
    """Per-customer international numbers with the recent days each was dialled."""

    __slots__ = ("days", "talked")
    name = "repeat_contact"

    def __init__(self) -> None:
        # number -> [(local day, attempts that day)], oldest first
        self.days: dict[str, list[tuple[int, int]]] = {}
        # number -> (the day before, the last local day) of conversations with it (numbers of
        # ``days`` only; -1: none): yesterday's conversation must not hide an earlier one
        self.talked: dict[str, tuple[int, int]] = {}

    def __setstate__(self, state: object) -> None:
        self.talked = {}  # absent from snapshots taken before it was kept
        for k, v in slot_state(state).items():
            setattr(self, k, v)

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
            oldest = next(iter(self.days))
            del self.days[oldest]
            self.talked.pop(oldest, None)

    def dialled(self, e164: str) -> tuple[int, int] | None:
        """(first remembered day, attempts on the remembered days) of ``e164``; None when
        it is not remembered."""
        days = self.days.get(e164)
        if not days:
            return None
        return days[0][0], sum(n for _, n in days)

    def talked_one(self, e164: str, day: int) -> None:
        """Record a conversation with ``e164`` on local ``day``: an allowed call answered for a
        minute or more, learned as the customer's own or watched and not cut. Forgotten with the
        number."""
        if e164 not in self.days:
            return
        last = self.talked.get(e164, (-1, -1))[1]
        if last != day:
            self.talked[e164] = (last, day)

    def _talked_before_yesterday(self, e164: str, day: int) -> int | None:
        """The last day before yesterday the customer talked with ``e164``, if any."""
        for talked in reversed(self.talked.get(e164, ())):
            if 0 <= talked < day - 1:
                return talked
        return None

    def _earlier(self, e164: str, day: int, window_days: int) -> list[tuple[int, int]]:
        return [(d, n) for d, n in self.days.get(e164, ()) if d < day and day - d <= window_days]

    def _a_persons(
        self,
        e164: str,
        day: int,
        earlier: list[tuple[int, int]],
        min_days: int,
        max_per_day: int,
        window_days: int,
    ) -> bool:
        if not earlier or any(n > max_per_day for _, n in earlier):
            return False
        if len(earlier) >= min_days:
            return True
        talked = self._talked_before_yesterday(e164, day)
        return talked is not None and day - talked <= window_days

    def is_contact(
        self, e164: str, day: int, min_days: int, max_per_day: int, window_days: int
    ) -> bool:
        """Whether ``e164`` was dialled as a person dials (the pattern above) before ``day``."""
        earlier = self._earlier(e164, day, window_days)
        return self._a_persons(e164, day, earlier, min_days, max_per_day, window_days)

    def score_one(
        self, e164: str, day: int, min_days: int, max_per_day: int, window_days: int, lr: float
    ) -> Evidence:
        """Evidence that a person, not a dialler, is calling this number."""
        earlier = self._earlier(e164, day, window_days)
        if not self._a_persons(e164, day, earlier, min_days, max_per_day, window_days):
            return Evidence(self.name, 1.0)
        facts = {"days_dialled_before": len(earlier), "most_in_a_day": max(n for _, n in earlier)}
        talked = self._talked_before_yesterday(e164, day)
        if talked is not None:
            facts["days_since_conversation"] = day - talked
        return Evidence(self.name, lr, None, facts)
