"""The restricted destination list (規制対地リスト).

Each entry records the source document's criteria for restricting it safely: no important
government traffic, no life-critical traffic, and (computed from the carrier's own CDRs by the
engine) little normal traffic over a period; plus its provenance. Entries are countries (ISO 3166
alpha-2), number ranges (E.164 prefixes, without ``+``) or number types (e.g. ``premium_rate``).
The list is an input to detection and to country restriction; it is never published.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path


class DestinationKind(StrEnum):
    """What a restricted-list entry matches."""

    COUNTRY = "country"
    RANGE = "range"
    NUMBER_TYPE = "number_type"


class RestrictedListError(ValueError):
    """A restricted destination list file has a bad row (message names file, line and field)."""


@dataclass(frozen=True, slots=True)
class RestrictedDestination:
    """One entry of the restricted destination list with its criteria and provenance."""

    kind: DestinationKind
    value: str
    name: str
    no_government_traffic: bool
    no_life_critical_traffic: bool
    reason: str
    provenance: str

    @property
    def key(self) -> str:
        """Stable identifier, e.g. ``country:CU`` or ``range:882``."""
        return f"{self.kind.value}:{self.value}"

    @property
    def restrictable(self) -> bool:
        """True when both qualitative criteria of the source document hold."""
        return self.no_government_traffic and self.no_life_critical_traffic


_BOOL = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
_COLUMNS = (
    "kind",
    "value",
    "name",
    "no_government_traffic",
    "no_life_critical_traffic",
    "reason",
    "provenance",
)


class RestrictedDestinationList:
    """Lookup of restricted countries, ranges (longest prefix) and number types."""

    __slots__ = ("_countries", "_max_prefix", "_ranges", "_types")

    def __init__(self, entries: list[RestrictedDestination] | None = None) -> None:
        self._countries: dict[str, RestrictedDestination] = {}
        self._ranges: dict[str, RestrictedDestination] = {}
        self._types: dict[str, RestrictedDestination] = {}
        self._max_prefix = 0
        for entry in entries or ():
            self.add(entry)

    @classmethod
    def default(cls) -> RestrictedDestinationList:
        """The list shipped with tollguard (``data/restricted_destinations.csv``)."""
        text = (
            resources.files("tollguard.data")
            .joinpath("restricted_destinations.csv")
            .read_text(encoding="utf-8")
        )
        return cls(_parse(text, "restricted_destinations.csv (packaged)"))

    @classmethod
    def from_csv(cls, path: Path) -> RestrictedDestinationList:
        """Load a carrier's own list (same columns as the packaged one)."""
        return cls(_parse(path.read_text(encoding="utf-8-sig"), str(path)))

    def add(self, entry: RestrictedDestination) -> None:
        """Add or replace an entry."""
        if entry.kind is DestinationKind.COUNTRY:
            self._countries[entry.value] = entry
        elif entry.kind is DestinationKind.RANGE:
            self._ranges[entry.value] = entry
            self._max_prefix = max(self._max_prefix, len(entry.value))
        else:
            self._types[entry.value] = entry

    def remove(self, key: str) -> bool:
        """Remove the entry with ``key`` (``kind:value``); True if it existed."""
        kind, _, value = key.partition(":")
        table = {"country": self._countries, "range": self._ranges, "number_type": self._types}
        return table.get(kind, {}).pop(value, None) is not None

    def entries(self) -> list[RestrictedDestination]:
        """All entries, countries first, in a stable order."""
        return [
            *sorted(self._countries.values(), key=lambda e: e.value),
            *sorted(self._ranges.values(), key=lambda e: e.value),
            *sorted(self._types.values(), key=lambda e: e.value),
        ]

    def country(self, region: str | None) -> RestrictedDestination | None:
        """The entry for a country, if restricted."""
        return self._countries.get(region) if region else None

    def match(
        self, e164: str | None, region: str | None, number_type: str | None
    ) -> RestrictedDestination | None:
        """The most specific entry matching a number: range, then number type, then country."""
        if e164 and self._ranges:
            digits = e164.lstrip("+")
            for n in range(min(self._max_prefix, len(digits)), 0, -1):
                hit = self._ranges.get(digits[:n])
                if hit is not None:
                    return hit
        if number_type and number_type in self._types:
            return self._types[number_type]
        return self.country(region)

    def with_entry(self, entry: RestrictedDestination) -> RestrictedDestinationList:
        """A copy with ``entry`` added (the original is unchanged)."""
        copy = RestrictedDestinationList(self.entries())
        copy.add(replace(entry))
        return copy

    def __len__(self) -> int:
        return len(self._countries) + len(self._ranges) + len(self._types)


def _parse(text: str, source: str) -> list[RestrictedDestination]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise RestrictedListError(f"{source}:1: missing column(s): {', '.join(missing)}")
    entries: list[RestrictedDestination] = []
    for row in reader:
        line = reader.line_num
        try:
            kind = DestinationKind(row["kind"].strip())
        except ValueError:
            raise RestrictedListError(
                f"{source}:{line}: kind: {row['kind']!r} is not country, range or number_type"
            ) from None
        value = row["value"].strip()
        if kind is DestinationKind.COUNTRY:
            value = value.upper()
            if len(value) != 2 or not value.isalpha():
                raise RestrictedListError(f"{source}:{line}: value: {value!r} is not ISO alpha-2")
        elif kind is DestinationKind.RANGE and (not value.isdigit() or len(value) > 15):
            raise RestrictedListError(f"{source}:{line}: value: {value!r} is not an E.164 prefix")
        flags = []
        for col in ("no_government_traffic", "no_life_critical_traffic"):
            flag = _BOOL.get(row[col].strip().lower())
            if flag is None:
                raise RestrictedListError(f"{source}:{line}: {col}: {row[col]!r} is not true/false")
            flags.append(flag)
        entries.append(
            RestrictedDestination(
                kind,
                value,
                row["name"].strip(),
                flags[0],
                flags[1],
                row["reason"].strip(),
                row["provenance"].strip(),
            )
        )
    return entries
