"""A small reader of the carrier's price list, to size attacks and describe them in yen.

It reads ``src/tollguard/data/tariff_default.csv`` as data (longest prefix wins; seconds rounded
up to the increment); the backtest prices calls with the project's own code, which may differ in
details. When the file is not found, estimates are simply left out.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "src" / "tollguard" / "data" / "tariff_default.csv",
)


class PriceList:
    def __init__(self, rows: dict[str, tuple[float, int]], fallback: tuple[float, int]) -> None:
        self._rows = rows
        self._fallback = fallback
        self._longest = max((len(p) for p in rows), default=1)

    @classmethod
    def load(cls) -> PriceList | None:
        for path in _CANDIDATES:
            if path.is_file():
                rows: dict[str, tuple[float, int]] = {}
                fallback = (600.0, 60)
                with path.open(newline="", encoding="utf-8-sig") as handle:
                    for row in csv.DictReader(handle):
                        prefix = (row.get("prefix") or "").strip().lstrip("+")
                        try:
                            rate = (float(row["rate_per_min"]), int(row["increment_s"]))
                        except (KeyError, TypeError, ValueError):
                            continue
                        if prefix == "*":
                            fallback = rate
                        elif prefix.isdigit():
                            rows[prefix] = rate
                return cls(rows, fallback)
        return None

    def rate(self, e164: str) -> tuple[float, int]:
        digits = e164.lstrip("+")
        for n in range(min(len(digits), self._longest), 0, -1):
            found = self._rows.get(digits[:n])
            if found is not None:
                return found
        return self._fallback

    def charge(self, e164: str, seconds: float) -> float:
        if seconds <= 0:
            return 0.0
        per_min, increment = self.rate(e164)
        return math.ceil(seconds / increment) * increment * per_min / 60.0
