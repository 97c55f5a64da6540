"""Time in the generator: integer seconds since the first day's midnight in Japan (JST, +09:00).

Everything inside the generator works on these integers (cheap to add, compare and sort); they
become ISO 8601 strings with the ``+09:00`` offset only when files are written.
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays

DAY = 86_400
HOUR = 3_600
MINUTE = 60

# Festivals that make families call home (assumed dates, ±1 day: lunar and Islamic calendars
# shift every year; see README "Calendar").
_FESTIVALS: dict[str, list[tuple[str, str]]] = {
    # Tết Nguyên Đán (Vietnamese New Year), first three days.
    "VN": [
        ("2025-01-28", "2025-01-31"),
        ("2026-02-16", "2026-02-19"),
        ("2027-02-05", "2027-02-08"),
        ("2028-01-25", "2028-01-28"),
    ],
    # Chuseok (Korean harvest festival).
    "KR": [
        ("2025-10-05", "2025-10-07"),
        ("2026-09-24", "2026-09-26"),
        ("2027-09-14", "2027-09-16"),
        ("2028-10-02", "2028-10-04"),
    ],
    # Mid-Autumn Festival and the National Day week (China).
    "CN": [
        ("2025-10-01", "2025-10-06"),
        ("2026-09-25", "2026-09-25"),
        ("2026-10-01", "2026-10-03"),
        ("2027-09-15", "2027-09-15"),
        ("2027-10-01", "2027-10-03"),
        ("2028-10-01", "2028-10-03"),
    ],
    # Dashain (Vijaya Dashami) and Tihar (Nepal).
    "NP": [
        ("2025-10-01", "2025-10-03"),
        ("2025-10-20", "2025-10-22"),
        ("2026-10-19", "2026-10-21"),
        ("2026-11-08", "2026-11-10"),
        ("2027-10-09", "2027-10-11"),
        ("2027-10-28", "2027-10-30"),
    ],
    # Eid al-Fitr (Lebaran) and Eid al-Adha (Indonesia; also used for Pakistan, Bangladesh).
    "ID": [
        ("2025-03-30", "2025-04-01"),
        ("2025-06-06", "2025-06-07"),
        ("2026-03-20", "2026-03-22"),
        ("2026-05-27", "2026-05-28"),
        ("2027-03-09", "2027-03-11"),
        ("2027-05-16", "2027-05-17"),
    ],
    # Thingyan (Myanmar water festival, fixed in April).
    "MM": [(f"{y}-04-13", f"{y}-04-16") for y in range(2025, 2029)],
    # Undas (All Saints') in the Philippines.
    "PH": [(f"{y}-10-31", f"{y}-11-02") for y in range(2025, 2029)],
    # Brazil: Nossa Senhora Aparecida / Children's Day (12 October).
    "BR": [(f"{y}-10-12", f"{y}-10-12") for y in range(2025, 2029)],
}
# Christmas and New Year for every community (and the Japanese year end for businesses).
_CHRISTMAS_COUNTRIES = ("PH", "BR", "PE", "US", "GB", "AU", "FR", "DE", "CA", "NZ", "KR", "VN")


def _span(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


class Calendar:
    """The period of the data set: days, weekdays, Japanese holidays, festivals abroad."""

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.days = days
        years = range(start.year, (start + timedelta(days=days + 2)).year + 1)
        self._jp = holidays.country_holidays("JP", years=years)
        self._dates: dict[int, str] = {}
        self._festivals: dict[str, set[int]] = {}
        for country, spans in _FESTIVALS.items():
            self._festivals[country] = {
                (d - start).days for first, last in spans for d in _span(first, last)
            }
        for year in years:
            xmas = {(d - start).days for d in _span(f"{year}-12-24", f"{year}-12-25")}
            new_year = {(d - start).days for d in _span(f"{year}-12-31", f"{year + 1}-01-01")}
            for country in _CHRISTMAS_COUNTRIES:
                self._festivals.setdefault(country, set()).update(xmas | new_year)

    # --- formatting ---------------------------------------------------------------------------

    def date_str(self, day: int) -> str:
        text = self._dates.get(day)
        if text is None:
            text = (self.start + timedelta(days=day)).isoformat()
            self._dates[day] = text
        return text

    def iso(self, t: int) -> str:
        day, rest = divmod(t, DAY)
        hh, rest = divmod(rest, HOUR)
        mm, ss = divmod(rest, MINUTE)
        return f"{self.date_str(day)}T{hh:02d}:{mm:02d}:{ss:02d}+09:00"

    # --- what kind of day ---------------------------------------------------------------------

    def date(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def weekday(self, day: int) -> int:
        """Monday 0 ... Sunday 6."""
        return self.date(day).weekday()

    def holiday_name(self, day: int) -> str | None:
        name = self._jp.get(self.date(day))
        return str(name) if name else None

    def is_jp_holiday(self, day: int) -> bool:
        return self.date(day) in self._jp

    def is_year_end(self, day: int) -> bool:
        d = self.date(day)
        return (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)

    def is_obon(self, day: int) -> bool:
        d = self.date(day)
        return d.month == 8 and 13 <= d.day <= 16

    def is_off(self, day: int) -> bool:
        """A day Japanese offices are closed: weekend, public holiday, year end, Obon."""
        return (
            self.weekday(day) >= 5
            or self.is_jp_holiday(day)
            or self.is_year_end(day)
            or self.is_obon(day)
        )

    def festival_days(self, country: str) -> set[int]:
        return {d for d in self._festivals.get(country, set()) if 0 <= d < self.days}

    def holidays_in_period(self) -> list[int]:
        return [d for d in range(self.days) if self.is_jp_holiday(d) or self.is_year_end(d)]

    def long_weekends(self) -> list[int]:
        """Days off that are part of a run of three or more days off (Silver Week, GW...)."""
        out: list[int] = []
        run: list[int] = []
        for d in range(self.days + 1):
            if d < self.days and self.is_off(d):
                run.append(d)
                continue
            if len(run) >= 3:
                out.extend(run)
            run = []
        return out
