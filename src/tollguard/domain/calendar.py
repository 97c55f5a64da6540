"""Local calendar: hour of week, weekends and Japanese public holidays, from POSIX seconds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import holidays

#: Number of time-of-week buckets: (weekday | weekend-or-holiday) x six 4-hour bins.
TIME_BUCKETS = 12


class LocalCalendar:
    """Maps event times to local hour, day and time-of-week bucket. Cached per local hour."""

    __slots__ = ("_cache", "_holidays", "_last", "_tz", "key")

    def __init__(self, timezone: str = "Asia/Tokyo", holiday_country: str = "JP") -> None:
        self._tz = ZoneInfo(timezone)
        #: what the calendar's answers depend on
        self.key = (timezone, holiday_country)
        self._holidays = holidays.country_holidays(holiday_country)
        self._cache: dict[int, tuple[int, int, bool]] = {}
        self._last: tuple[int, int, int] = (-(2**63), 0, 0)  # hour key, day, bucket

    def _hour_info(self, t: float) -> tuple[int, int, bool]:
        key = int(t // 3600)
        hit = self._cache.get(key)
        if hit is None:
            local = datetime.fromtimestamp(key * 3600, UTC).astimezone(self._tz)
            day = local.date()
            offdays = local.weekday() >= 5 or day in self._holidays
            hit = (day.toordinal(), local.hour, offdays)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def local_day(self, t: float) -> int:
        """Local calendar day as a proleptic ordinal."""
        return self._hour_info(t)[0]

    def local_hour(self, t: float) -> int:
        """Local hour of day, 0-23."""
        return self._hour_info(t)[1]

    def is_off_day(self, t: float) -> bool:
        """True on Saturdays, Sundays and public holidays."""
        return self._hour_info(t)[2]

    def day_bucket(self, t: float) -> tuple[int, int]:
        """``(local_day(t), bucket(t))`` at once (the last hour asked is remembered)."""
        key = int(t // 3600)
        last = self._last
        if last[0] == key:
            return last[1], last[2]
        day, hour, off = self._hour_info(t)
        bucket = (6 if off else 0) + hour // 4
        self._last = (key, day, bucket)
        return day, bucket

    def bucket(self, t: float) -> int:
        """Time-of-week bucket: 6 x (weekend or holiday) + local hour // 4."""
        _, hour, off = self._hour_info(t)
        return (6 if off else 0) + hour // 4

    def is_holiday(self, d: date) -> bool:
        """True if ``d`` is a public holiday."""
        return d in self._holidays


def bucket_label(bucket: int) -> str:
    """Human label of a time-of-week bucket, e.g. ``weekend 00-04``."""
    start = (bucket % 6) * 4
    kind = "weekend/holiday" if bucket >= 6 else "weekday"
    return f"{kind} {start:02d}-{start + 4:02d}"
