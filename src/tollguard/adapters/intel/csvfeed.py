"""The CSV feed: for carriers without MISP or STIX tooling.

Layout (UTF-8, comma separated)::

    # tollguard-intel 1
    # source: carrier-a
    # generated_at: 2026-11-28T00:00:00Z
    # since: 2026-11-01T00:00:00Z        (optional)
    # until: 2026-11-28T00:00:00Z        (optional)
    # tlp: amber
    # timezone: Asia/Tokyo
    type,value,country,calling_code,first_seen,last_seen,incidents,calls,cost_band
    country,CU,CU,53,2026-11-20T16:12:08Z,2026-11-20T16:14:02Z,1,3,high
    range,5352345,CU,53,...
    ip,91.243.44.18,,,...
    hour,sat:01,,,,,1,,

``hour`` rows are the attack-time histogram (day kind:local hour, attack starts in ``incidents``);
only non-zero cells are written.
"""

from __future__ import annotations

import csv
import io

from tollguard.adapters.intel._common import decode_text, iso, optional_int, parse_time
from tollguard.domain.intel import (
    DAY_KINDS,
    FEED_VERSION,
    AttackerAddress,
    AttackTimeHistogram,
    FraudDestination,
    IndicatorKind,
    IntelError,
    IntelFeed,
    check_band,
    check_feed,
    check_timezone,
    normalise_value,
)

MAGIC = "# tollguard-intel"
COLUMNS = (
    "type",
    "value",
    "country",
    "calling_code",
    "first_seen",
    "last_seen",
    "incidents",
    "calls",
    "cost_band",
)


def render(feed: IntelFeed) -> bytes:
    """The feed as CSV bytes."""
    out = io.StringIO()
    out.write(f"{MAGIC} {FEED_VERSION}\n# source: {feed.source}\n")
    out.write(f"# generated_at: {iso(feed.generated_at)}\n")
    if feed.since is not None:
        out.write(f"# since: {iso(feed.since)}\n")
    if feed.until is not None:
        out.write(f"# until: {iso(feed.until)}\n")
    out.write(f"# tlp: {feed.tlp}\n# timezone: {feed.histogram.timezone}\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for d in feed.destinations:
        w.writerow(
            [
                d.kind.value,
                d.value,
                d.country or "",
                "" if d.calling_code is None else d.calling_code,
                iso(d.first_seen),
                iso(d.last_seen),
                d.incidents,
                d.calls,
                d.cost_band or "",
            ]
        )
    for a in feed.attackers:
        w.writerow(
            ["ip", a.ip, "", "", iso(a.first_seen), iso(a.last_seen), a.incidents, a.calls, ""]
        )
    for day, row in zip(DAY_KINDS, feed.histogram.counts, strict=True):
        for hour, count in enumerate(row):
            if count:
                w.writerow(["hour", f"{day}:{hour:02d}", "", "", "", "", count, "", ""])
    return out.getvalue().encode("utf-8")


def looks_like(data: bytes) -> bool:
    """Whether ``data`` starts like a tollguard CSV feed."""
    return data.lstrip(b"\xef\xbb\xbf").startswith(MAGIC.encode())


def parse(data: bytes) -> IntelFeed:
    """Read a CSV feed; :class:`IntelError` names the line and field of the first problem."""
    text = decode_text(data, "csv")
    lines = text.splitlines()
    meta: dict[str, str] = {}
    n = 0
    if not lines or not lines[0].startswith(MAGIC):
        raise IntelError(f"csv:1: not a tollguard intel feed (expected '{MAGIC} 1')")
    version = lines[0][len(MAGIC) :].strip()
    if version != str(FEED_VERSION):
        raise IntelError(f"csv:1: feed version {version[:20]!r} is not {FEED_VERSION}")
    for n, line in enumerate(lines[1:], start=2):
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if not sep:
            raise IntelError(f"csv:{n}: header line is not '# key: value'")
        meta[key.strip()] = value.strip()
    else:
        raise IntelError("csv: no column header")
    for key in ("source", "generated_at", "tlp", "timezone"):
        if key not in meta:
            raise IntelError(f"csv: header '# {key}:' is missing")
    reader = csv.reader(lines[n - 1 :])
    header = next(reader)
    if tuple(header) != COLUMNS:
        raise IntelError(f"csv:{n}: columns must be {','.join(COLUMNS)}")
    destinations: list[FraudDestination] = []
    attackers: list[AttackerAddress] = []
    hours = [[0] * 24 for _ in DAY_KINDS]
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise IntelError(f"csv:{reader.line_num + n - 1}: {exc}") from None
    for i, row in enumerate(rows, start=n + 1):
        where = f"csv:{i}"
        if not row:
            continue
        if len(row) != len(COLUMNS):
            raise IntelError(f"{where}: {len(row)} fields, expected {len(COLUMNS)}")
        r = dict(zip(COLUMNS, row, strict=True))
        kind = r["type"]
        if kind == "hour":
            day, _, hour = r["value"].partition(":")
            if day not in DAY_KINDS or not (hour.isascii() and hour.isdigit() and int(hour) < 24):
                raise IntelError(f"{where}: value: {r['value'][:20]!r} is not day:hour")
            count = optional_int(r["incidents"], f"{where}: incidents")
            hours[DAY_KINDS.index(day)][int(hour)] += count or 0
            continue
        try:
            ikind = IndicatorKind(kind)
        except ValueError:
            raise IntelError(
                f"{where}: type: {kind[:20]!r} is not country, range, ip or hour"
            ) from None
        first = parse_time(r["first_seen"], f"{where}: first_seen")
        last = parse_time(r["last_seen"], f"{where}: last_seen")
        incidents = optional_int(r["incidents"], f"{where}: incidents") or 0
        calls = optional_int(r["calls"], f"{where}: calls") or 0
        try:
            value = normalise_value(ikind, r["value"])
        except IntelError as exc:
            raise IntelError(f"{where}: {exc}") from None
        if ikind is IndicatorKind.IP:
            attackers.append(AttackerAddress(value, first, last, incidents, calls))
            continue
        destinations.append(
            FraudDestination(
                ikind,
                value,
                r["country"] or None,
                optional_int(r["calling_code"], f"{where}: calling_code"),
                first,
                last,
                incidents,
                calls,
                check_band(r["cost_band"]),
            )
        )
    return check_feed(
        IntelFeed(
            meta["source"],
            parse_time(meta["generated_at"], "csv: generated_at"),
            parse_time(meta["since"], "csv: since") if "since" in meta else None,
            parse_time(meta["until"], "csv: until") if "until" in meta else None,
            meta["tlp"],
            tuple(destinations),
            tuple(attackers),
            AttackTimeHistogram(check_timezone(meta["timezone"]), tuple(tuple(h) for h in hours)),
        )
    )
