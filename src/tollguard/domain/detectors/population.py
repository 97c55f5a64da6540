"""Population baseline: what the carrier's legitimate traffic looks like as a whole.

Watches: every legitimate (allowed, low-risk) call of every customer.
Learns: the share of international calls, the distribution of international calls over
destination classes (restricted-list membership x rate band), each segment's time-of-week
histogram, the share of calls from foreign addresses, and each country's calls and minutes per
day over the last 30 days ("normal traffic" of the restricted destination list criteria).
Scores: :meth:`destination_lr`: P(class | fraud) / P(class | population). ``FRAUD_CLASSES`` is the
published shape of IRSF destinations (high-rate ranges on hotspot lists); the population side is
learned from the carrier's own traffic, so a destination many customers call stops looking risky.
Starting shares (``LEGIT_PRIOR``) are pseudo-counts that real traffic soon outweighs.

>>> p = PopulationBaseline()
>>> p.destination_lr(restricted=True, band=3) > 100 > 1 > p.destination_lr(False, 0)
True
"""

from __future__ import annotations

from array import array

from tollguard.domain.calendar import TIME_BUCKETS
from tollguard.domain.detectors.base import slot_state

#: Rate bands as multiples of the tariff's median per-country rate: below 1.25x (ordinary),
#: 1.25-2.5x, 2.5-5x and 5x or more (satellite, premium). Relative, so any rate deck works.
BAND_MULTIPLES: tuple[float, ...] = (1.25, 2.5, 5.0)

#: P(class | fraud) for (not restricted, band 0..3) then (restricted, band 0..3). IRSF pays out
#: per minute, so fraud concentrates on dear ranges and hotspot lists (CFCA loss surveys).
FRAUD_CLASSES: tuple[float, ...] = (0.01, 0.04, 0.07, 0.08, 0.02, 0.13, 0.30, 0.35)

#: Starting shares of legitimate international calls over the same classes (pseudo-counts):
#: most legitimate traffic goes to cheap, common destinations.
LEGIT_PRIOR: tuple[float, ...] = (0.80, 0.12, 0.03, 0.01, 0.025, 0.01, 0.004, 0.001)
LEGIT_PRIOR_WEIGHT = 200.0

#: Starting time-of-week shape for both segments: flat (real traffic replaces it quickly).
_FLAT = 1.0 / TIME_BUCKETS

_HISTORY_DAYS = 30


def band_edges(reference_rate: float) -> tuple[float, ...]:
    """Rate-band edges (JPY per minute) for a tariff whose median country rate is given."""
    return tuple(reference_rate * m for m in BAND_MULTIPLES)


def destination_class(restricted: bool, band: int) -> int:
    """Index of a destination class (restricted-list membership x rate band) in
    ``FRAUD_CLASSES``, ``LEGIT_PRIOR`` and :attr:`PopulationBaseline.classes`."""
    return (4 if restricted else 0) + band


def rate_band(rate_per_min: float, edges: tuple[float, ...]) -> int:
    """Index of the rate band of a per-minute rate."""
    band = 0
    for edge in edges:
        if rate_per_min >= edge:
            band += 1
    return band


class PopulationBaseline:
    """Carrier-wide statistics of legitimate traffic."""

    __slots__ = (
        "_country_days",
        "_normal",
        "calls",
        "classes",
        "first_day",
        "foreign",
        "intl",
        "intl_spread",
        "ip_calls",
        "segment_hours",
        "segment_totals",
    )
    name = "population"

    def __init__(self) -> None:
        self.calls = 0
        self.intl = 0
        # legitimate international calls dialled after other numbers of their block
        self.intl_spread = 0
        self.classes = [LEGIT_PRIOR_WEIGHT * s for s in LEGIT_PRIOR]
        self.segment_hours: dict[str, array[float]] = {}
        self.segment_totals: dict[str, float] = {}
        self.ip_calls = 0
        self.foreign = 0
        self.first_day: int | None = None
        # country -> {day: [calls, minutes]}
        self._country_days: dict[str, dict[int, list[float]]] = {}
        # country -> (day, normal_traffic(country, day)) until its minutes change
        self._normal: dict[str, tuple[int, tuple[float, float, int]]] = {}

    def __getstate__(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__ if k != "_normal"}

    def __setstate__(self, state: object) -> None:
        self.intl_spread = 0  # absent from snapshots taken before block spread was learned
        for k, v in slot_state(state).items():
            if k != "_normal":
                setattr(self, k, v)
        self._normal = {}

    # -- learning ------------------------------------------------------------------------
    def learn_one(
        self,
        segment: str,
        bucket: int,
        international: bool,
        restricted: bool,
        band: int,
        foreign_ip: bool | None,
    ) -> None:
        """Learn one legitimate call attempt."""
        self.calls += 1
        hours = self.segment_hours.get(segment)
        if hours is None:
            hours = self.segment_hours[segment] = array("d", [0.0] * TIME_BUCKETS)
            self.segment_totals[segment] = 0.0
        hours[bucket] += 1.0
        self.segment_totals[segment] += 1.0
        if international:
            self.intl += 1
            self.classes[destination_class(restricted, band)] += 1.0
        if foreign_ip is not None:
            self.ip_calls += 1
            if foreign_ip:
                self.foreign += 1

    def learn_refused(self, cls: int) -> None:
        """Count a refused attempt's destination class (:func:`destination_class`) as
        legitimate demand (the policy calls
        this at most once a customer, class and day, and never for a customer showing machine
        behaviour): refused calls are never learned otherwise, so without it every class the
        engine refuses would look rarer and rarer to legitimate customers."""
        self.classes[cls] += 1.0

    def learn_spread(self) -> None:
        """Count one legitimate international call dialled after other numbers of its block
        (the calls themselves are counted by :meth:`learn_one`)."""
        self.intl_spread += 1

    def spread_share(self, prior_share: float, prior_weight: float) -> float:
        """Share of legitimate international calls dialled after other numbers of their block,
        starting from ``prior_share`` worth ``prior_weight`` calls."""
        return (self.intl_spread + prior_weight * prior_share) / (self.intl + prior_weight)

    def learn_minutes(self, region: str, day: int, minutes: float) -> None:
        """Count a legitimate international call to ``region`` and its minutes."""
        self._normal.pop(region, None)
        days = self._country_days.get(region)
        if days is None:
            days = self._country_days[region] = {}
        row = days.get(day)
        if row is None:
            row = days[day] = [0.0, 0.0]
            for old in [d for d in days if d <= day - _HISTORY_DAYS]:
                del days[old]
        row[0] += 1.0
        row[1] += minutes

    def note_day(self, day: int) -> None:
        """Remember the first day any traffic was seen."""
        if self.first_day is None or day < self.first_day:
            self.first_day = day

    def history_days(self, today: int) -> int:
        """Days of traffic the baseline has seen (0 before any)."""
        return 0 if self.first_day is None else today - self.first_day

    # -- scoring -------------------------------------------------------------------------
    def international_share(self) -> float:
        """Share of calls that are international (with a weak 3% starting value)."""
        return (self.intl + 3.0) / (self.calls + 100.0)

    def foreign_share(self) -> float:
        """Share of IP-line calls from foreign addresses (with a weak 1% starting value)."""
        return (self.foreign + 1.0) / (self.ip_calls + 100.0)

    def segment_distribution(self, segment: str) -> list[float]:
        """Time-of-week distribution of a segment's calls, smoothed towards flat."""
        hours = self.segment_hours.get(segment)
        if hours is None:
            return [_FLAT] * TIME_BUCKETS
        total = self.segment_totals[segment] + 12.0
        return [(h + 1.0) / total for h in hours]

    def destination_lr(self, restricted: bool, band: int) -> float:
        """P(class | fraud) / P(class | legitimate population)."""
        idx = destination_class(restricted, band)
        p_legit = self.classes[idx] / sum(self.classes)
        return FRAUD_CLASSES[idx] / p_legit

    def normal_traffic(self, region: str, today: int) -> tuple[float, float, int]:
        """(calls per day, minutes per 30 days, days observed) to ``region`` over 30 days."""
        known = self._normal.get(region)
        if known is not None and known[0] == today:
            return known[1]
        days = self._country_days.get(region, {})
        since = today - _HISTORY_DAYS
        calls: float = 0  # one pass, adding in the order (and from the 0) sum() would
        minutes: float = 0
        for d, r in days.items():
            if d > since:
                calls += r[0]
                minutes += r[1]
        found = (calls / _HISTORY_DAYS, minutes, len(days))
        if region in self._country_days:
            self._normal[region] = (today, found)
        return found
