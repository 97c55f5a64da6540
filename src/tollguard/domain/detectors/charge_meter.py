"""Charge meter: a customer's international charges, ended and live, against their own history.

Watches: charges of ended international calls and the cost accruing on calls still in progress
(live exposure), per local day and per local hour.
Pattern: the source document's routine measure, 国際電話料金の異常値の定期的な検針; a sharp rise
in charges compared with the customer's normal level.
Learns: the exponentially weighted share of days with international charges (zero days
included, so a customer who never calls abroad has a baseline of zero) and the EW mean and variance
of log(daily charge) over the days with charges (a hurdle model: most customers call abroad on some
days only, and a log-normal fitted to their zero days too has a spread so wide that its threshold
is hundreds of thousands of yen), the largest day and seven-day total, and the EW mean of
log(1 + hourly charge) per time-of-week bucket. A day is
learned only a week after it closed, and a day when the customer was under suspicion only up to
the day's threshold then in force (winsorized): a low-and-slow attack must not raise the baseline
it is measured against, and a heavy customer nobody could reach must not be measured against zero.
Scores: anomaly when the hour's, the day's or the seven days' exposure exceeds a cost floor (below
which a contact costs more than it saves), three times the customer's largest legitimate
hour/day/week, and the EW level of a day with charges (exp(mean + k * sd) - 1; over seven days,
that times the expected number of such days, at least one). A customer with under a week of
baseline, and for a week after their first international charge the hour and the day, are held to
``new_ref``, the cost of two long ordinary calls (two hours at the tariff's median rate): a first
long call home is normal. The quiet days before that first charge are zero days of the baseline
(the policy starts the meter at the customer's first sighting), so the seven days are not: a slow
attack on a line that never called abroad meets the weekly floor.
LR = step ** (1 + log2(exposure / threshold)).
Look-alikes: a legitimate one-day spike exceeds the threshold but usually not by much, and its
destinations are usual; the policy needs more than metering to suspend.

>>> m = ChargeMeter()
>>> for day in range(30): m.add_charge(day, 24 * day + 5, 300.0, 0.1)
>>> m.days, m.peak_day, m.threshold_day(3.0, 0.7, 3000.0) >= 3000.0
(22, 300.0, True)
"""

from __future__ import annotations

import math
from array import array
from collections import deque

from tollguard.domain.calendar import TIME_BUCKETS
from tollguard.domain.detectors.base import Evidence, capped_power, slot_state

#: Days a closed day waits before the baseline learns it.
GUARD_DAYS = 7


class ChargeMeter:
    """Per-customer daily and hourly international charge baselines and current totals."""

    __slots__ = (
        "active",
        "active_days",
        "charged_since",
        "day",
        "day_cap",
        "day_total",
        "days",
        "hour",
        "hour_bucket",
        "hour_means",
        "hour_total",
        "lagged",
        "mean",
        "peak_day",
        "peak_hour",
        "peak_week",
        "recent",
        "var",
    )
    name = "charge_meter"

    def __init__(self) -> None:
        self.day = -1
        self.day_total = 0.0
        self.mean = 0.0
        self.var = 0.0
        self.days = 0
        # EW share of days with charges, and the number of such days learned (mean and var are
        # those of log(charge) over these days only).
        self.active = 0.0
        self.active_days = 0
        self.hour = -1
        self.hour_bucket = 0
        self.hour_total = 0.0
        self.hour_means = array("f", bytes(4 * TIME_BUCKETS))
        self.peak_hour = 0.0
        self.peak_day = 0.0
        self.peak_week = 0.0
        # Closed days not yet learned (total, learnable), newest last; and the last learned days.
        self.recent: deque[tuple[float, bool]] = deque()
        self.lagged: deque[float] = deque(maxlen=7)
        # The local day of the first international charge (-1: none yet, or an older snapshot).
        self.charged_since = -1
        # The day threshold last in force: a day under suspicion is learned up to it, no more.
        self.day_cap = 0.0

    def __setstate__(self, state: object) -> None:
        self.charged_since = -1  # absent from snapshots taken before it was kept
        self.day_cap = 0.0  # likewise: such days were learned as zero then
        slots = slot_state(state)
        if "active" not in slots:  # likewise: mean and var were those of every day then
            self.active, self.active_days = 1.0, int(slots.get("days", 0))
        for k, v in slots.items():
            setattr(self, k, v)

    def _newcomer(self) -> bool:
        """Under a week of baseline, or under a week since the first international charge: a
        long call home is a new caller's normal day, whatever the quiet weeks before it."""
        return self.days < 7 or self.charged_since < 0 or self.day - self.charged_since < 7

    def roll(self, day: int, hour: int, bucket: int, alpha: float, learn: bool = True) -> None:
        """Close the previous day/hour when time moves on (idle days count as zero).

        ``learn`` is false while the customer is under suspicion: totals then do not raise the
        customer's peaks (fraud must not teach the meter that fraud is normal).
        """
        if self.day != day:
            if self.day >= 0:
                self._push_day(self.day_total, learn, alpha)
                for _ in range(min(day - self.day - 1, 60)):
                    self._push_day(0.0, True, alpha)
            self.day = day
            self.day_total = 0.0
        if self.hour != hour:
            if self.hour >= 0 and learn:
                self.peak_hour = max(self.peak_hour, self.hour_total)
                b = self.hour_bucket
                self.hour_means[b] += alpha * (math.log1p(self.hour_total) - self.hour_means[b])
            self.hour = hour
            self.hour_bucket = bucket
            self.hour_total = 0.0

    def _push_day(self, total: float, learn: bool, alpha: float) -> None:
        """A day closed. It is learned only after GUARD_DAYS more days (and, if it was under
        suspicion then, only up to the threshold in force): a slow attack must not raise the
        baseline it is measured by."""
        self.recent.append((total, learn))
        if len(self.recent) > GUARD_DAYS:
            old, ok = self.recent.popleft()
            # Under suspicion the day counts only up to the threshold then in force (winsorized):
            # fraud cannot teach the meter more than what was already normal, and a heavy
            # customer whose case nobody could close still has its baseline follow it.
            value = old if ok else min(old, self.day_cap)
            self.peak_day = max(self.peak_day, value)
            self._close_day(value, alpha)
            self.lagged.append(value)
            self.peak_week = max(self.peak_week, sum(self.lagged))

    def week_total(self) -> float:
        """Charges of the six closed days before today, plus today's."""
        closed = list(self.recent)[-6:]
        return sum(t for t, _ in closed) + self.day_total

    def _close_day(self, total: float, alpha: float) -> None:
        charged = total > 0.0
        if self.days == 0:
            self.active = 1.0 if charged else 0.0
        else:
            self.active += alpha * ((1.0 if charged else 0.0) - self.active)
        self.days += 1
        if not charged:
            return
        x = math.log1p(total)
        if self.active_days == 0:
            self.mean, self.var = x, 0.0
        else:
            d = x - self.mean
            self.mean += alpha * d
            self.var = (1 - alpha) * (self.var + alpha * d * d)
        self.active_days += 1

    def _charged_day_level(self, k: float, min_sd: float) -> float:
        """A high level for a day with charges: EW mean + k sd of log(charge) (0: none yet)."""
        if self.active_days == 0:
            return 0.0
        sd = max(math.sqrt(self.var), min_sd)
        return math.expm1(self.mean + k * sd)

    def add_charge(self, day: int, hour: int, amount: float, alpha: float, bucket: int = 0) -> None:
        """Add the charge of an ended international call (``hour`` is an absolute hour index)."""
        self.roll(day, hour, bucket, alpha)
        if self.charged_since < 0:
            self.charged_since = day
        self.day_total += amount
        self.hour_total += amount

    def threshold_day(self, k: float, min_sd: float, floor: float, new_ref: float = 0.0) -> float:
        """Daily exposure above which the customer's charges are abnormal.

        The larger of: the cost floor, three times the customer's largest legitimate day, the
        EW level + k sd of a day with charges, and, for newcomers, ``new_ref``.
        """
        t = max(floor, 3.0 * self.peak_day, self._charged_day_level(k, min_sd))
        return max(t, new_ref) if self._newcomer() else t

    def threshold_week(self, k: float, min_sd: float, floor: float, new_ref: float = 0.0) -> float:
        """Seven-day exposure above which the customer's charges are abnormal (slow attacks):
        the daily level times the expected days with charges in a week (at least one)."""
        days = max(1.0, 7.0 * self.active)
        t = max(floor, 3.0 * self.peak_week, days * self._charged_day_level(k, min_sd))
        return max(t, new_ref) if self.days < 7 else t

    def threshold_hour(
        self, bucket: int, k: float, min_sd: float, floor: float, new_ref: float = 0.0
    ) -> float:
        """Hourly exposure above which the customer's charges are abnormal for this bucket."""
        t = max(floor, 3.0 * self.peak_hour, math.expm1(self.hour_means[bucket] + k * min_sd))
        return max(t, new_ref) if self._newcomer() else t

    def score_one(
        self,
        live_exposure: float,
        bucket: int,
        k: float,
        min_sd: float,
        day_floor: float,
        hour_floor: float,
        step: float,
        new_ref: float = 0.0,
        week_floor: float = 10000.0,
    ) -> Evidence:
        """Evidence from this week's, today's and this hour's charges plus live exposure."""
        day_x = self.day_total + live_exposure
        hour_x = self.hour_total + live_exposure
        week_x = self.week_total() + live_exposure
        t_day = self.threshold_day(k, min_sd, day_floor, 2.0 * new_ref)
        self.day_cap = t_day
        t_hour = self.threshold_hour(bucket, k, min_sd, hour_floor, new_ref)
        t_week = self.threshold_week(k, min_sd, week_floor, 5.0 * new_ref)
        ratio = max(day_x / t_day, hour_x / t_hour, week_x / t_week)
        facts = {
            "week_jpy": round(week_x),
            "week_threshold_jpy": round(t_week),
            "today_jpy": round(day_x),
            "this_hour_jpy": round(hour_x),
            "live_exposure_jpy": round(live_exposure),
            "day_threshold_jpy": round(t_day),
            "hour_threshold_jpy": round(t_hour),
            "baseline_days": self.days,
        }
        if ratio <= 1.0:
            return Evidence(self.name, 1.0, None, facts)
        lr = capped_power(step, 1.0 + math.log2(ratio), 1e4)
        return Evidence(self.name, lr, "charges_above_baseline", facts)
