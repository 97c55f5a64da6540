"""Pricing of calls for the backtest: number normalisation and charges in JPY.

:class:`TariffRater` is the real one, on :class:`tollguard.domain.numbering.NumberClassifier` and
:class:`tollguard.domain.rating.Tariff`. Any object with the two methods of :class:`Rater` can be
passed to the scorer instead (for instance a carrier's own tariff).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

DOMESTIC_PREFIX = "+81"


class Rater(Protocol):
    """Normalises dialled numbers and prices calls."""

    def e164(self, raw: str) -> str | None:
        """The E.164 form (``+…``) of a callee as recorded, or ``None`` when it cannot be read."""
        ...

    def charge(self, e164: str, seconds: float) -> float:
        """The charge in JPY of ``seconds`` of a call to ``e164``."""
        ...


def is_international(rater: Rater, raw: str) -> bool:
    """Whether a callee normalises to a number outside Japan (+81)."""
    number = rater.e164(raw)
    return number is not None and not number.startswith(DOMESTIC_PREFIX)


class TariffRater:
    """The project's number classifier and default tariff, with a cache per callee."""

    def __init__(self, tariff: Any | None = None) -> None:
        from tollguard.domain.numbering import NumberClassifier
        from tollguard.domain.rating import Tariff

        self._classifier = NumberClassifier()
        self._tariff = tariff if tariff is not None else Tariff.default()
        self._e164 = lru_cache(maxsize=262_144)(self._normalise)

    def _normalise(self, raw: str) -> str | None:
        try:
            number = self._classifier.classify(raw).e164
        except (ValueError, KeyError):
            return None
        return str(number) if number else None

    def e164(self, raw: str) -> str | None:
        """The E.164 form of ``raw`` per :class:`NumberClassifier`."""
        return self._e164(raw)

    def charge(self, e164: str, seconds: float) -> float:
        """The charge of the default tariff, in JPY."""
        if seconds <= 0:
            return 0.0
        return float(self._tariff.charge(e164, seconds))
