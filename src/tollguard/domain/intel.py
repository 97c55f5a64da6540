"""Fraud intelligence shared between carriers: destinations, attacking addresses, attack times.

The source document asks carriers to share the destinations used for fraud and the dates and
times of attacks, because each carrier sees different ones. This module is the pure part of that
sharing (no I/O, no clock): it aggregates confirmed fraud into values a carrier may publish
(:class:`FraudDestination`, :class:`AttackerAddress`, :class:`AttackTimeHistogram`, together an
:class:`IntelFeed`), merges feeds of several carriers, and validates what comes back from them.

What never leaves: subscriber ids (only counted, as incidents), callers, and full called numbers.
A called number is published as a range, its first ``prefix_digits`` digits with at least
:data:`MIN_HIDDEN_DIGITS` digits always cut off, unless the carrier explicitly exports full numbers.

>>> agg = IntelAggregator(ExportOptions(prefix_digits=6))
>>> agg.add_call(FraudCall(1795191128.0, "S3", "+5352345678", "CU", 53, 396.0))
>>> feed = agg.feed("carrier-a", generated_at=1795200000.0)
>>> [(d.kind.value, d.value, d.incidents, d.calls, d.cost_band) for d in feed.destinations]
[('country', 'CU', 1, 1, 'high'), ('range', '535234', 1, 1, 'high')]
>>> feed.histogram.counts[5][1]  # an attack started on a Saturday between 01:00 and 02:00 JST
1
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

#: Version of the feed layout written by tollguard (all three formats).
FEED_VERSION = 1
#: Digits of a called number always withheld from a range (so a range covers >= 1,000 numbers).
MIN_HIDDEN_DIGITS = 3
#: Rows of the attack-time histogram: weekdays, then public holidays (which leave their weekday).
DAY_KINDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")
#: Cost bands by the exporting carrier's rate (JPY per minute, lower bound), dearest first.
COST_BANDS = (("premium", 800.0), ("high", 300.0), ("medium", 100.0), ("low", 0.0))
BAND_ORDER = {name: i for i, (name, _) in enumerate(reversed(COST_BANDS))}
#: Traffic Light Protocol markings a feed may carry (TLP 1.0 names, as MISP and STIX 2.1 use).
TLP_LEVELS = ("white", "green", "amber", "red")
#: Plausibility bounds of values read from other carriers' feeds.
MAX_COUNT = 10**9
MIN_TIME = 946_684_800.0  # 2000-01-01
MAX_TIME = 4_102_444_800.0  # 2100-01-01
MAX_ENTRIES = 100_000

_SOURCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NOT_SHAREABLE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


class IntelError(ValueError):
    """A feed or one of its values is malformed or implausible (the message says which)."""


class IndicatorKind(StrEnum):
    """What a shared entry is: a country, a number range (E.164 prefix) or an IP address."""

    COUNTRY = "country"
    RANGE = "range"
    IP = "ip"


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What an export may reveal. ``full_numbers`` must be set explicitly to publish numbers."""

    prefix_digits: int = 7
    full_numbers: bool = False
    timezone: str = "Asia/Tokyo"
    holiday_country: str = "JP"

    def __post_init__(self) -> None:
        if not 1 <= self.prefix_digits <= 15:
            raise IntelError(f"prefix_digits: {self.prefix_digits} is not within 1..15")


# -- observations of confirmed fraud (inputs) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class FraudCall:
    """A call confirmed as fraud (denied for fraud risk or cut), with its classified callee."""

    time: float
    subscriber_id: str
    e164: str | None
    region: str | None
    calling_code: int | None
    rate_per_min: float | None
    source_ip: str | None = None


@dataclass(frozen=True, slots=True)
class DestinationAction:
    """A destination denied or a country restricted because of fraud (an engine action)."""

    time: float
    subscriber_id: str | None
    country: str | None = None
    prefix: str | None = None
    rate_per_min: float | None = None
    calling_code: int | None = None


@dataclass(frozen=True, slots=True)
class AttackerSighting:
    """An address blocked as an attacker's (a ``block_ip`` action)."""

    time: float
    ip: str
    subscriber_id: str | None = None


# -- shared values (outputs) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FraudDestination:
    """A country or number range seen in confirmed fraud, aggregated over a period."""

    kind: IndicatorKind
    value: str
    country: str | None
    calling_code: int | None
    first_seen: float
    last_seen: float
    incidents: int
    calls: int
    cost_band: str | None

    @property
    def key(self) -> str:
        """``kind:value``, e.g. ``range:8823512``."""
        return f"{self.kind.value}:{self.value}"


@dataclass(frozen=True, slots=True)
class AttackerAddress:
    """An address attacks came from, aggregated over a period."""

    ip: str
    first_seen: float
    last_seen: float
    incidents: int
    calls: int

    @property
    def key(self) -> str:
        """``ip:address``."""
        return f"ip:{self.ip}"


@dataclass(frozen=True, slots=True)
class AttackTimeHistogram:
    """When attacks start: counts per day kind (:data:`DAY_KINDS`) x local hour (0-23)."""

    timezone: str = "Asia/Tokyo"
    counts: tuple[tuple[int, ...], ...] = field(
        default_factory=lambda: tuple((0,) * 24 for _ in DAY_KINDS)
    )

    def __post_init__(self) -> None:
        if len(self.counts) != len(DAY_KINDS) or any(len(row) != 24 for row in self.counts):
            raise IntelError(f"histogram: must be {len(DAY_KINDS)} rows of 24 hours")

    @property
    def total(self) -> int:
        """Attacks counted."""
        return sum(sum(row) for row in self.counts)

    def merge(self, other: AttackTimeHistogram) -> AttackTimeHistogram:
        """The sum of two histograms kept in the same time zone."""
        if other.timezone != self.timezone:
            raise IntelError(
                f"histogram: cannot merge {other.timezone} into {self.timezone} "
                "(their local hours differ)"
            )
        return AttackTimeHistogram(
            self.timezone,
            tuple(
                tuple(a + b for a, b in zip(r1, r2, strict=True))
                for r1, r2 in zip(self.counts, other.counts, strict=True)
            ),
        )

    def busiest(self, share: float = 0.8) -> list[tuple[str, int, int]]:
        """The fewest (day kind, hour, count) slots holding ``share`` of all attack starts,
        busiest first: where night and weekend shifts pay off."""
        slots = sorted(
            ((c, -d, -h) for d, row in enumerate(self.counts) for h, c in enumerate(row) if c),
            reverse=True,
        )
        need = share * self.total
        out: list[tuple[str, int, int]] = []
        got = 0
        for c, d, h in slots:
            if got >= need:
                break
            out.append((DAY_KINDS[-d], -h, c))
            got += c
        return out


@dataclass(frozen=True, slots=True)
class IntelFeed:
    """One carrier's shared intelligence for a period (what an export file holds)."""

    source: str
    generated_at: float
    since: float | None
    until: float | None
    tlp: str
    destinations: tuple[FraudDestination, ...]
    attackers: tuple[AttackerAddress, ...]
    histogram: AttackTimeHistogram

    def entries(self) -> list[FraudDestination | AttackerAddress]:
        """Destinations then attackers, as a receiver sees them."""
        return [*self.destinations, *self.attackers]


# -- aggregation ------------------------------------------------------------------------------


def cost_band(rate_per_min: float | None) -> str | None:
    """The cost band of a rate in JPY/min (:data:`COST_BANDS`); ``None`` when unknown.

    >>> cost_band(396.0), cost_band(20.0), cost_band(None)
    ('high', 'low', None)
    """
    if rate_per_min is None or not math.isfinite(rate_per_min):
        return None
    for name, low in COST_BANDS:
        if rate_per_min >= low:
            return name
    return None


def dearer_band(a: str | None, b: str | None) -> str | None:
    """The dearer of two cost bands."""
    if a is None or b is None:
        return a or b
    return a if BAND_ORDER[a] >= BAND_ORDER[b] else b


def range_prefix(e164: str, prefix_digits: int, full_numbers: bool = False) -> str | None:
    """The shareable range of a number: its first ``prefix_digits`` digits, always withholding
    :data:`MIN_HIDDEN_DIGITS` digits; ``None`` when too short to share without revealing it.

    >>> range_prefix("+882351234567", 7), range_prefix("+5352345", 7), range_prefix("+123", 7)
    ('8823512', '5352', None)
    """
    digits = e164.lstrip("+")
    if not digits.isascii() or not digits.isdigit():
        return None
    if full_numbers:
        return digits
    keep = min(prefix_digits, len(digits) - MIN_HIDDEN_DIGITS)
    return digits[:keep] if keep >= 1 else None


@dataclass(slots=True)
class _Acc:
    first: float
    last: float
    incidents: set[tuple[str, int]]
    calls: int
    band: str | None
    country: str | None
    calling_code: int | None

    def add(self, t: float, incident: tuple[str, int], calls: int, band: str | None) -> None:
        self.first = min(self.first, t)
        self.last = max(self.last, t)
        self.incidents.add(incident)
        self.calls += calls
        self.band = dearer_band(self.band, band)


class IntelAggregator:
    """Aggregates confirmed fraud into a feed. An *incident* is one victim on one local day."""

    def __init__(self, options: ExportOptions | None = None) -> None:
        self.options = options or ExportOptions()
        self._tz = ZoneInfo(self.options.timezone)
        self._holidays = holidays.country_holidays(self.options.holiday_country)
        self._dest: dict[tuple[IndicatorKind, str], _Acc] = {}
        self._ips: dict[str, _Acc] = {}
        self._ip_calls: dict[str, int] = {}
        self._starts: dict[tuple[str, int], float] = {}

    def _incident(self, subscriber_id: str | None, t: float, fallback: str) -> tuple[str, int]:
        day = datetime.fromtimestamp(t, self._tz).date().toordinal()
        key = (subscriber_id or fallback, day)
        if subscriber_id is not None:
            self._starts[key] = min(self._starts.get(key, t), t)
        return key

    def _put(
        self,
        kind: IndicatorKind,
        value: str,
        t: float,
        incident: tuple[str, int],
        calls: int,
        band: str | None,
        country: str | None,
        calling_code: int | None,
    ) -> None:
        acc = self._dest.get((kind, value))
        if acc is None:
            self._dest[(kind, value)] = _Acc(t, t, {incident}, calls, band, country, calling_code)
        else:
            acc.add(t, incident, calls, band)
            acc.country = acc.country or country
            acc.calling_code = acc.calling_code or calling_code

    def add_call(self, call: FraudCall) -> None:
        """Count a fraudulent call under its country and its range."""
        incident = self._incident(call.subscriber_id, call.time, "")
        band = cost_band(call.rate_per_min)
        region = _region(call.region)
        if region is not None:
            self._put(
                IndicatorKind.COUNTRY,
                region,
                call.time,
                incident,
                1,
                band,
                region,
                call.calling_code,
            )
        if call.e164:
            prefix = range_prefix(call.e164, self.options.prefix_digits, self.options.full_numbers)
            if prefix is not None:
                self._put(
                    IndicatorKind.RANGE,
                    prefix,
                    call.time,
                    incident,
                    1,
                    band,
                    region,
                    call.calling_code,
                )
        if call.source_ip:
            self._ip_calls[call.source_ip] = self._ip_calls.get(call.source_ip, 0) + 1

    def add_destination(self, action: DestinationAction) -> None:
        """Count a denied destination or restricted country (no call is counted)."""
        incident = self._incident(action.subscriber_id, action.time, "*")
        band = cost_band(action.rate_per_min)
        region = _region(action.country)
        if region is not None:
            self._put(
                IndicatorKind.COUNTRY,
                region,
                action.time,
                incident,
                0,
                band,
                region,
                action.calling_code,
            )
        if action.prefix:
            prefix = action.prefix.lstrip("+")
            if prefix.isascii() and prefix.isdigit():
                prefix = prefix[: self.options.prefix_digits]
                self._put(
                    IndicatorKind.RANGE,
                    prefix,
                    action.time,
                    incident,
                    0,
                    band,
                    region,
                    action.calling_code,
                )

    def add_attacker(self, sighting: AttackerSighting) -> None:
        """Count an attacking address."""
        ip = normalise_ip(sighting.ip)
        incident = self._incident(sighting.subscriber_id, sighting.time, ip)
        acc = self._ips.get(ip)
        if acc is None:
            self._ips[ip] = _Acc(sighting.time, sighting.time, {incident}, 0, None, None, None)
        else:
            acc.add(sighting.time, incident, 0, None)

    def histogram(self) -> AttackTimeHistogram:
        """When the incidents started (local hour x day kind)."""
        rows = [[0] * 24 for _ in DAY_KINDS]
        for t in self._starts.values():
            local = datetime.fromtimestamp(t, self._tz)
            rows[day_kind(local.date(), self._holidays)][local.hour] += 1
        return AttackTimeHistogram(self.options.timezone, tuple(tuple(r) for r in rows))

    def feed(
        self,
        source: str,
        *,
        generated_at: float,
        since: float | None = None,
        until: float | None = None,
        tlp: str = "amber",
    ) -> IntelFeed:
        """The feed of everything added, in a stable order; times in whole seconds (widened)."""
        destinations = tuple(
            FraudDestination(
                kind,
                value,
                acc.country,
                acc.calling_code,
                math.floor(acc.first),
                math.ceil(acc.last),
                len(acc.incidents),
                acc.calls,
                acc.band,
            )
            for (kind, value), acc in sorted(self._dest.items(), key=lambda kv: kv[0])
        )
        attackers = tuple(
            AttackerAddress(
                ip,
                math.floor(acc.first),
                math.ceil(acc.last),
                len(acc.incidents),
                self._ip_calls.get(ip, 0),
            )
            for ip, acc in sorted(self._ips.items())
        )
        return check_feed(
            IntelFeed(
                check_source(source),
                math.floor(generated_at),
                None if since is None else math.floor(since),
                None if until is None else math.ceil(until),
                tlp,
                destinations,
                attackers,
                self.histogram(),
            )
        )


def day_kind(d: date, calendar: Any) -> int:
    """Row of :data:`DAY_KINDS` for a local date (holidays first)."""
    return len(DAY_KINDS) - 1 if d in calendar else d.weekday()


def _region(region: str | None) -> str | None:
    if region and len(region) == 2 and region.isascii() and region.isalpha():
        return region.upper()
    return None


# -- merging feeds of several carriers --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergedIndicator:
    """One destination or address as several carriers saw it."""

    kind: IndicatorKind
    value: str
    sources: tuple[str, ...]
    country: str | None
    first_seen: float
    last_seen: float
    incidents: int
    calls: int
    cost_band: str | None


def merge_feeds(feeds: Iterable[IntelFeed]) -> list[MergedIndicator]:
    """Every entry of several feeds, one per ``kind:value``: sums of counts, the widest period,
    the dearest band, the sources named."""
    merged: dict[tuple[IndicatorKind, str], MergedIndicator] = {}
    for feed in feeds:
        for e in feed.entries():
            m = as_indicator(e, feed.source)
            key = (m.kind, m.value)
            merged[key] = merge_indicator(merged[key], m) if key in merged else m
    return [merged[k] for k in sorted(merged)]


def as_indicator(e: FraudDestination | AttackerAddress, source: str) -> MergedIndicator:
    """A feed entry as a one-source :class:`MergedIndicator`."""
    if isinstance(e, AttackerAddress):
        return MergedIndicator(
            IndicatorKind.IP,
            e.ip,
            (source,),
            None,
            e.first_seen,
            e.last_seen,
            e.incidents,
            e.calls,
            None,
        )
    return MergedIndicator(
        e.kind,
        e.value,
        (source,),
        e.country,
        e.first_seen,
        e.last_seen,
        e.incidents,
        e.calls,
        e.cost_band,
    )


def merge_indicator(a: MergedIndicator, b: MergedIndicator) -> MergedIndicator:
    """Two observations of the same ``kind:value`` (from different carriers) combined."""
    return replace(
        a,
        sources=tuple(sorted({*a.sources, *b.sources})),
        country=a.country or b.country,
        first_seen=min(a.first_seen, b.first_seen),
        last_seen=max(a.last_seen, b.last_seen),
        incidents=a.incidents + b.incidents,
        calls=a.calls + b.calls,
        cost_band=dearer_band(a.cost_band, b.cost_band),
    )


def merge_histograms(histograms: Sequence[AttackTimeHistogram]) -> AttackTimeHistogram:
    """The sum of several carriers' histograms (all in one time zone)."""
    if not histograms:
        return AttackTimeHistogram()
    out = histograms[0]
    for h in histograms[1:]:
        out = out.merge(h)
    return out


# -- validation of values read from other carriers --------------------------------------------


def check_source(source: str) -> str:
    """A carrier name: 1-64 ASCII letters, digits, ``.``, ``_`` or ``-``."""
    if not isinstance(source, str) or not _SOURCE_RE.fullmatch(source):
        raise IntelError(f"source: {str(source)[:80]!r} is not a carrier name ([A-Za-z0-9._-])")
    return source


def normalise_ip(value: object) -> str:
    """A shareable public IP address in canonical form (no private, loopback or NAT ranges)."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 45:
        raise IntelError(f"ip: {str(value)[:80]!r} is not an IP address")
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        raise IntelError(f"ip: {value[:80]!r} is not an IP address") from None
    if (
        ip.is_loopback
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_link_local
        or any(ip in net for net in _NOT_SHAREABLE)
    ):
        raise IntelError(f"ip: {ip} is not a public address and cannot be blocked from a feed")
    return str(ip)


def normalise_value(kind: IndicatorKind, value: object) -> str:
    """A destination or address value, checked and in canonical form."""
    if kind is IndicatorKind.IP:
        return normalise_ip(value)
    if not isinstance(value, str) or not value.isascii():
        raise IntelError(f"{kind.value}: {str(value)[:80]!r} is not ASCII text")
    if kind is IndicatorKind.COUNTRY:
        v = value.strip().upper()
        if len(v) != 2 or not v.isalpha():
            raise IntelError(f"country: {value[:80]!r} is not an ISO 3166 alpha-2 code")
        return v
    v = value.strip().removeprefix("+")
    if not v.isdigit() or not 1 <= len(v) <= 15:
        raise IntelError(f"range: {value[:80]!r} is not an E.164 prefix (1-15 digits)")
    return v


def check_count(name: str, value: object) -> int:
    """A non-negative count within :data:`MAX_COUNT`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise IntelError(f"{name}: {str(value)[:40]!r} is not a count within 0..{MAX_COUNT}")
    return value


def check_time(name: str, value: object) -> float:
    """POSIX seconds between 2000 and 2100."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntelError(f"{name}: {str(value)[:40]!r} is not a time")
    t = float(value)
    if not (math.isfinite(t) and MIN_TIME <= t <= MAX_TIME):
        raise IntelError(f"{name}: {str(value)[:40]!r} is not a time between 2000 and 2100")
    return t


def check_band(value: object) -> str | None:
    """A cost band name or ``None``."""
    if value is None or value == "":
        return None
    if value not in BAND_ORDER:
        raise IntelError(f"cost_band: {str(value)[:40]!r} is not one of {', '.join(BAND_ORDER)}")
    return str(value)


def check_timezone(value: object) -> str:
    """An IANA time zone name."""
    if not isinstance(value, str) or not value.isascii() or not 1 <= len(value) <= 64:
        raise IntelError(f"timezone: {str(value)[:80]!r} is not a time zone name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise IntelError(f"timezone: {value!r} is not a known time zone") from None
    return value


def check_feed(feed: IntelFeed) -> IntelFeed:
    """``feed`` if every value in it is plausible, else :class:`IntelError` naming the first."""
    check_source(feed.source)
    if feed.tlp not in TLP_LEVELS:
        raise IntelError(f"tlp: {feed.tlp[:40]!r} is not one of {', '.join(TLP_LEVELS)}")
    check_time("generated_at", feed.generated_at)
    for name, t in (("since", feed.since), ("until", feed.until)):
        if t is not None:
            check_time(name, t)
    if len(feed.destinations) + len(feed.attackers) > MAX_ENTRIES:
        raise IntelError(f"feed: more than {MAX_ENTRIES:,} entries")
    seen: set[str] = set()
    for e in feed.entries():
        if isinstance(e, FraudDestination):
            if e.kind is IndicatorKind.IP:
                raise IntelError("destination: kind ip is an attacker, not a destination")
            if normalise_value(e.kind, e.value) != e.value:
                raise IntelError(f"{e.key}: value is not in canonical form")
            if e.country is not None and _region(e.country) != e.country:
                raise IntelError(f"{e.key}: country {e.country[:40]!r} is not ISO alpha-2")
            if e.calling_code is not None:
                check_count(f"{e.key}: calling_code", e.calling_code)
            check_band(e.cost_band)
        elif normalise_ip(e.ip) != e.ip:
            raise IntelError(f"{e.key}: address is not in canonical form")
        first = check_time(f"{e.key}: first_seen", e.first_seen)
        last = check_time(f"{e.key}: last_seen", e.last_seen)
        if first > last:
            raise IntelError(f"{e.key}: first_seen is after last_seen")
        check_count(f"{e.key}: incidents", e.incidents)
        check_count(f"{e.key}: calls", e.calls)
        if e.key in seen:
            raise IntelError(f"{e.key}: listed twice")
        seen.add(e.key)
    check_timezone(feed.histogram.timezone)
    for row in feed.histogram.counts:
        for c in row:
            check_count("histogram", c)
    return feed
