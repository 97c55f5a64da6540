"""Rating: what a call costs, in JPY, from a tariff of per-minute rates by E.164 prefix.

A tariff is a list of :class:`Rate` rows (``prefix,destination,rate_per_min,increment_s``); the
longest prefix matching a number wins; the call's seconds are rounded up to the rate's billing
increment. Numbers no row matches are charged at the tariff's fallback rate, so every call gets a
charge. The packaged default (``data/tariff_default.csv``, see ``data/README.md``) is a
representative tariff to be replaced by the carrier's own rate deck (:meth:`Tariff.from_csv`).
"""

from __future__ import annotations

import csv
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from tollguard.domain.records import QuarantinedRow

__all__ = ["DEFAULT_FALLBACK", "FALLBACK_PREFIX", "Rate", "RateDeckError", "Tariff"]

FALLBACK_PREFIX: Final = "*"
"""Prefix of the rate-deck row that sets the fallback rate (for numbers no other row matches)."""

_COLUMNS: Final = ("prefix", "destination", "rate_per_min", "increment_s")
_MAX_PREFIX: Final = 15  # E.164 has at most 15 digits


@dataclass(frozen=True, slots=True)
class Rate:
    """One tariff row: E.164 ``prefix`` (digits, no '+'), JPY per minute, billing increment."""

    prefix: str
    destination: str
    rate_per_min: float
    increment_s: int

    def charge(self, seconds: float) -> float:
        """JPY for a call of ``seconds``: rounded up to the increment; 0 for 0 seconds."""
        if not seconds > 0:  # also NaN
            return 0.0
        units = math.ceil(seconds / self.increment_s)
        return units * (self.increment_s * self.rate_per_min / 60.0)


DEFAULT_FALLBACK: Final = Rate("", "Unknown destination (fallback)", 600.0, 60)
"""Fallback of a deck without a ``*`` row: dear, since unknown destinations are suspicious."""


class RateDeckError(ValueError):
    """A rate deck has bad rows; ``problems`` says where (file, line, field) and why."""

    def __init__(self, source: str, problems: Sequence[QuarantinedRow]) -> None:
        self.source = source
        self.problems = tuple(problems)
        shown = "\n".join(f"  {p.describe()}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"rate deck {source}: {len(self.problems)} bad row(s)\n{shown}{more}")


def _parse_rows(text: str, source: str) -> tuple[list[Rate], Rate | None, list[QuarantinedRow]]:
    """Rates, the ``*`` fallback row if any, and the problems of a rate deck's text."""
    problems: list[QuarantinedRow] = []
    lines = text.splitlines()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return [], None, [QuarantinedRow(source, 1, None, "empty file: no header", "")]
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in _COLUMNS if c not in names]
    if missing:
        problems.append(
            QuarantinedRow(
                source, 1, None, f"header lacks column(s) {', '.join(missing)}", lines[0]
            )
        )
        return [], None, problems
    where = {c: names.index(c) for c in _COLUMNS}
    rates: list[Rate] = []
    fallback: Rate | None = None
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        raw = lines[line - 1] if line - 1 < len(lines) else ",".join(row)
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < len(names):
            problems.append(QuarantinedRow(source, line, None, "too few fields", raw))
            continue
        prefix = row[where["prefix"]].strip().lstrip("+")
        destination = row[where["destination"]].strip()
        rate_text = row[where["rate_per_min"]].strip()
        increment_text = row[where["increment_s"]].strip()
        bad = len(problems)
        if prefix != FALLBACK_PREFIX and not (
            prefix.isascii() and prefix.isdecimal() and 1 <= len(prefix) <= _MAX_PREFIX
        ):
            problems.append(
                QuarantinedRow(source, line, "prefix", f"not 1-15 digits (or '*'): {prefix!r}", raw)
            )
        elif prefix in seen:
            problems.append(
                QuarantinedRow(
                    source, line, "prefix", f"duplicate of line {seen[prefix]}: {prefix!r}", raw
                )
            )
        if not destination:
            problems.append(QuarantinedRow(source, line, "destination", "empty", raw))
        try:
            rate = float(rate_text)
            if not math.isfinite(rate) or rate < 0:
                raise ValueError
        except ValueError:
            problems.append(
                QuarantinedRow(
                    source, line, "rate_per_min", f"not a number >= 0: {rate_text!r}", raw
                )
            )
        try:
            increment = int(increment_text)
            if increment < 1:
                raise ValueError
        except ValueError:
            problems.append(
                QuarantinedRow(
                    source, line, "increment_s", f"not a whole number >= 1: {increment_text!r}", raw
                )
            )
        if len(problems) > bad:
            continue
        seen[prefix] = line
        if prefix == FALLBACK_PREFIX:
            fallback = Rate("", destination, rate, increment)
        else:
            rates.append(Rate(prefix, destination, rate, increment))
    return rates, fallback, problems


class Tariff:
    """Per-minute rates by E.164 prefix; longest prefix wins; a fallback for the rest.

    ``problems`` lists the rows skipped when the deck was loaded with ``strict=False``.
    """

    def __init__(
        self,
        rates: Iterable[Rate],
        fallback: Rate = DEFAULT_FALLBACK,
        *,
        source: str = "<memory>",
        problems: Sequence[QuarantinedRow] = (),
    ) -> None:
        self.source = source
        self.fallback = fallback
        self.problems = tuple(problems)
        self._rates: dict[str, Rate] = {}
        for rate in rates:
            if not (rate.prefix.isdecimal() and rate.prefix.isascii()):
                raise ValueError(f"rate prefix must be digits: {rate.prefix!r}")
            self._rates[rate.prefix] = rate
        # Longest prefix length to try, by a number's first three digits.
        self._longest: dict[str, int] = {}
        short = max((len(p) for p in self._rates if len(p) <= 3), default=0)
        for prefix in self._rates:
            head = prefix[:3]
            self._longest[head] = max(self._longest.get(head, short), len(prefix))
        self._short = short
        # Per-unit price of each prefix, for the bulk path.
        self._units: dict[str, tuple[int, float]] = {
            p: (r.increment_s, r.increment_s * r.rate_per_min / 60.0)
            for p, r in self._rates.items()
        }
        self._fallback_unit = (
            fallback.increment_s,
            fallback.increment_s * fallback.rate_per_min / 60.0,
        )

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def default(cls) -> Tariff:
        """The packaged representative tariff (``data/tariff_default.csv``), loaded once."""
        global _DEFAULT
        if _DEFAULT is None:
            with _DEFAULT_LOCK:
                if _DEFAULT is None:
                    data = resources.files("tollguard").joinpath("data", "tariff_default.csv")
                    _DEFAULT = cls.from_text(
                        data.read_text(encoding="utf-8"), source="tollguard/data/tariff_default.csv"
                    )
        return _DEFAULT

    @classmethod
    def from_csv(cls, path: Path, *, strict: bool = True) -> Tariff:
        """Load a carrier rate deck: CSV, header ``prefix,destination,rate_per_min,increment_s``.

        ``prefix`` is E.164 digits (a leading ``+`` is accepted); a row with prefix ``*`` sets the
        fallback rate; blank lines and lines starting with ``#`` are ignored. With ``strict``
        (the default) any bad row raises :class:`RateDeckError` listing every bad row by file,
        line and field; otherwise bad rows are skipped and listed in :attr:`problems`.
        """
        text = Path(path).read_text(encoding="utf-8-sig")
        return cls.from_text(text, source=str(path), strict=strict)

    @classmethod
    def from_text(cls, text: str, *, source: str = "<text>", strict: bool = True) -> Tariff:
        """Like :meth:`from_csv`, from the deck's text."""
        rates, fallback, problems = _parse_rows(text, source)
        if problems and (strict or not rates):
            raise RateDeckError(source, problems)
        return cls(rates, fallback or DEFAULT_FALLBACK, source=source, problems=problems)

    # -- lookup and charging ------------------------------------------------------------------

    @property
    def rates(self) -> tuple[Rate, ...]:
        """All rates, by prefix."""
        return tuple(self._rates[p] for p in sorted(self._rates))

    def __len__(self) -> int:
        return len(self._rates)

    @staticmethod
    def _digits(e164: str) -> str | None:
        if not isinstance(e164, str):
            return None
        digits = e164[1:] if e164[:1] == "+" else e164
        return digits if digits.isdecimal() and digits.isascii() else None

    def lookup(self, e164: str) -> Rate | None:
        """The rate of the longest prefix matching ``e164`` (``+`` optional), or ``None``."""
        digits = self._digits(e164)
        if not digits:
            return None
        rates = self._rates
        for length in range(min(self._longest.get(digits[:3], self._short), len(digits)), 0, -1):
            rate = rates.get(digits[:length])
            if rate is not None:
                return rate
        return None

    def rate_for(self, e164: str) -> Rate:
        """The matching rate, or the fallback rate."""
        return self.lookup(e164) or self.fallback

    def charge(self, e164: str, seconds: float) -> float:
        """JPY for a call: seconds rounded up to the increment, times rate / 60; 0 for 0 s.

        Numbers no row matches (or that are not E.164) are charged at the fallback rate.
        """
        return self.rate_for(e164).charge(seconds)

    def charge_many(self, e164s: Sequence[str], seconds: Sequence[float]) -> list[float]:
        """:meth:`charge` for many calls at once (same results, faster)."""
        if len(e164s) != len(seconds):
            raise ValueError(f"{len(e164s)} numbers but {len(seconds)} durations")
        units = self._units
        get_unit = units.get
        longest = self._longest.get
        short = self._short
        fallback = self._fallback_unit
        ceil = math.ceil
        cache: dict[str, tuple[int, float]] = {}
        cached = cache.get
        out: list[float] = []
        append = out.append
        for number, duration in zip(e164s, seconds, strict=True):
            if not duration > 0:
                append(0.0)
                continue
            unit = cached(number) if number.__class__ is str else fallback
            if unit is None:
                digits = number[1:] if number[:1] == "+" else number
                unit = fallback
                if digits.isdecimal() and digits.isascii():
                    for length in range(min(longest(digits[:3], short), len(digits)), 0, -1):
                        found = get_unit(digits[:length])
                        if found is not None:
                            unit = found
                            break
                if len(cache) < 65536:
                    cache[number] = unit
            increment, price = unit
            append(ceil(duration / increment) * price)
        return out


_DEFAULT: Tariff | None = None
_DEFAULT_LOCK: Final = threading.Lock()
