"""Block spread: many different numbers of one narrow foreign number block from one customer.

Watches: the international numbers a customer dials (every attempt), for a week.
Pattern: IRSF ranges are leased in blocks and attackers pump consecutive test numbers of a block,
a few at a time and over days when they go low and slow (CFCA; GSMA's IRSF test-number lists); a
person calls the same few numbers again and again.
Learns: the numbers this customer dialled abroad in the window (at most ``MAX_NUMBERS``); the
carrier's share of legitimate international calls that came after other numbers of their block is
learned by the population baseline.
Scores: when the customer dialled ``min_others`` or more *other* numbers of this number's block
(the E.164 number without its last ``block_digits`` digits) in the window, LR = P(spread | fraud) /
P(spread | the carrier's legitimate calls); otherwise 1 (no evidence either way: an attack's first
calls have no spread yet).
Look-alikes: an office calling a partner's extensions (one block, several numbers): the carrier's
own share of such calls sets the LR, and the office's other evidence (known country, office hours,
a habit of calling abroad) keeps it low.

>>> s = BlockSpread()
>>> for i, n in enumerate(["+994401891086", "+994401898962", "+994401890124"]):
...     s.observe_one(n, i * 3600.0, 7 * 86400.0)
>>> ev = s.score_one("+994401896397", 4 * 3600.0, 7 * 86400.0, 4, 2, 0.5, 0.01)
>>> ev.reason, round(ev.lr), ev.facts["other_numbers_in_block"]
('numbers_spread_over_a_range', 50, 3)
>>> s.score_one("+12025550100", 4 * 3600.0, 7 * 86400.0, 4, 2, 0.5, 0.01).lr
1.0
"""

from __future__ import annotations

from typing import Final

from tollguard.domain.detectors.base import Evidence, clamp_lr

#: Numbers remembered per customer; the oldest are forgotten first.
MAX_NUMBERS: Final = 64


class BlockSpread:
    """Per-customer international numbers dialled recently, with the time each was last dialled."""

    __slots__ = ("seen",)
    name = "block_spread"

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def observe_one(self, e164: str, t: float, window_s: float) -> None:
        """Remember one international attempt (allowed or not) and forget what left the window."""
        seen = self.seen
        seen.pop(e164, None)
        seen[e164] = t  # insertion order is time order
        while seen:
            oldest = next(iter(seen))
            if len(seen) > MAX_NUMBERS or t - seen[oldest] > window_s:
                del seen[oldest]
            else:
                break

    @staticmethod
    def block(e164: str, block_digits: int) -> str:
        """The number's block: the number without its last ``block_digits`` digits."""
        return e164[: max(len(e164) - block_digits, 2)]

    def others_in_block(self, e164: str, t: float, window_s: float, block_digits: int) -> int:
        """Distinct numbers other than ``e164`` of its block dialled in the window."""
        block = self.block(e164, block_digits)
        return sum(
            1
            for n, when in self.seen.items()
            if n != e164 and t - when <= window_s and n.startswith(block)
        )

    def score_one(
        self,
        e164: str,
        t: float,
        window_s: float,
        block_digits: int,
        min_others: int,
        fraud_spread_probability: float,
        legit_spread_probability: float,
    ) -> Evidence:
        """Evidence from the other numbers of this number's block the customer dialled."""
        k = self.others_in_block(e164, t, window_s, block_digits)
        if k < min_others:
            return Evidence(self.name, 1.0)
        lr = clamp_lr(fraud_spread_probability / max(legit_spread_probability, 1e-9))
        facts = {
            "block": self.block(e164, block_digits),
            "other_numbers_in_block": k,
            "legitimate_share": round(legit_spread_probability, 5),
        }
        return Evidence(self.name, lr, "numbers_spread_over_a_range", facts)
