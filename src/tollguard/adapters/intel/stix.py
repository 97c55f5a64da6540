"""The STIX 2.1 feed: a bundle built and validated with ``stix2``.

The bundle holds the TLP marking definition, an ``identity`` for the exporting carrier, a
``report`` (the feed: its description holds ``version``, ``source``, ``since``, ``until``), and
per entry an ``indicator`` plus a ``sighting`` (``first_seen``, ``last_seen``, ``count`` = calls):

- a number range: pattern type ``pcre``, ``^\\+8823512[0-9]*$``;
- a country: pattern type ``pcre`` on its calling code (broader than the country where the code
  is shared, e.g. +1); the ``country=`` field of the description is authoritative;
- an address: a STIX pattern ``[ipv4-addr:value = '...']`` (or ``ipv6-addr``).

Indicator descriptions carry the figures as ``key=value; ...``; the attack-time histogram is a
``note`` whose abstract is ``tollguard:attack-time-histogram`` and whose content is JSON. No
custom properties are used, so the bundle validates with ``allow_custom=False``. On import,
IP indicators of bundles not written by tollguard are read too (one incident each).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stix2

from tollguard.adapters.intel._common import (
    fields_text,
    histogram_from_json,
    histogram_json,
    indicator_from_fields,
    iso,
    load_json,
    parse_fields,
    parse_time,
    stable_uuid,
)
from tollguard.domain.intel import (
    FEED_VERSION,
    MAX_ENTRIES,
    AttackerAddress,
    AttackTimeHistogram,
    FraudDestination,
    IndicatorKind,
    IntelError,
    IntelFeed,
    check_feed,
    normalise_value,
)

HISTOGRAM_ABSTRACT = "tollguard:attack-time-histogram"
TLP = {"white": stix2.TLP_WHITE, "green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER}
TLP["red"] = stix2.TLP_RED
_TLP_BY_ID = {m.id: name for name, m in TLP.items()}
_IP_PATTERN = re.compile(r"\[ipv[46]-addr:value = '([0-9A-Fa-f.:]{2,45})'\]")
_MAX_SIGHTING_COUNT = 999_999_999


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def build_bundle(feed: IntelFeed) -> stix2.Bundle:
    """The feed as a validated :class:`stix2.Bundle` (deterministic identifiers)."""
    marking = TLP[feed.tlp]
    at = _dt(feed.generated_at)
    common: dict[str, Any] = {"created": at, "modified": at, "object_marking_refs": [marking.id]}
    ident = stix2.Identity(
        id=f"identity--{stable_uuid('identity', feed.source)}",
        name=feed.source,
        identity_class="organization",
        sectors=["telecommunications"],
        **common,
    )
    common["created_by_ref"] = ident.id
    base = stable_uuid("stix-feed", feed.source, feed.generated_at, feed.since, feed.until)
    objects: list[Any] = []
    for d in feed.destinations:
        code = d.calling_code if d.kind is IndicatorKind.COUNTRY else d.value
        pattern = f"^\\+{code}[0-9]*$" if code is not None else "^\\+[0-9]+$"
        fields = {
            "kind": d.kind.value,
            "value": d.value,
            "country": d.country,
            "calling_code": d.calling_code,
            "incidents": d.incidents,
            "calls": d.calls,
            "cost_band": d.cost_band,
        }
        name = f"IRSF destination {d.kind.value} {'+' if d.kind is IndicatorKind.RANGE else ''}"
        objects += _indicator(
            base, d.key, name + d.value, "pcre", pattern, fields, d, d.calls, ident, common
        )
    for a in feed.attackers:
        version = ipaddress.ip_address(a.ip).version
        pattern = f"[ipv{version}-addr:value = '{a.ip}']"
        fields = {"kind": "ip", "value": a.ip, "incidents": a.incidents, "calls": a.calls}
        objects += _indicator(
            base, a.key, f"IRSF attacker {a.ip}", "stix", pattern, fields, a, a.calls, ident, common
        )
    note = stix2.Note(
        id=f"note--{stable_uuid(base, 'histogram')}",
        abstract=HISTOGRAM_ABSTRACT,
        content=histogram_json(feed.histogram),
        object_refs=[ident.id],
        **common,
    )
    meta = {
        "version": FEED_VERSION,
        "source": feed.source,
        "since": None if feed.since is None else iso(feed.since),
        "until": None if feed.until is None else iso(feed.until),
    }
    report = stix2.Report(
        id=f"report--{base}",
        name=f"tollguard IRSF intelligence from {feed.source}",
        description=fields_text(meta),
        published=at,
        report_types=["threat-report"],
        object_refs=[ident.id, note.id, *(o.id for o in objects)],
        **common,
    )
    return stix2.Bundle(
        marking, ident, report, note, *objects, id=f"bundle--{base}", allow_custom=False
    )


def _indicator(
    base: str,
    key: str,
    name: str,
    pattern_type: str,
    pattern: str,
    fields: Mapping[str, object],
    e: FraudDestination | AttackerAddress,
    calls: int,
    ident: stix2.Identity,
    common: dict[str, Any],
) -> list[Any]:
    ind = stix2.Indicator(
        id=f"indicator--{stable_uuid(base, key)}",
        name=name,
        description=fields_text(fields),
        indicator_types=["malicious-activity"],
        pattern_type=pattern_type,
        pattern=pattern,
        valid_from=_dt(e.first_seen),
        labels=["irsf"],
        **common,
    )
    sighting = stix2.Sighting(
        id=f"sighting--{stable_uuid(base, key, 'sighting')}",
        sighting_of_ref=ind.id,
        first_seen=_dt(e.first_seen),
        last_seen=_dt(e.last_seen),
        count=min(calls, _MAX_SIGHTING_COUNT),
        where_sighted_refs=[ident.id],
        **common,
    )
    return [ind, sighting]


def render(feed: IntelFeed) -> bytes:
    """The feed as STIX 2.1 JSON."""
    text: str = build_bundle(feed).serialize(pretty=True)
    return (text + "\n").encode("utf-8")


def looks_like(doc: Any) -> bool:
    """Whether a parsed JSON document is a STIX bundle."""
    return isinstance(doc, dict) and doc.get("type") == "bundle"


def parse(data: bytes) -> IntelFeed:
    """Read a STIX 2.1 bundle (checked with tollguard's limits, then validated by ``stix2``)."""
    return parse_document(load_json(data, "stix"))


def parse_document(doc: Any) -> IntelFeed:
    """A parsed STIX JSON document as a feed."""
    if not looks_like(doc):
        raise IntelError("stix: not a STIX bundle (type must be 'bundle')")
    objs = doc.get("objects", [])
    if not isinstance(objs, list) or len(objs) > 2 * MAX_ENTRIES + 16:
        raise IntelError("stix: 'objects' must be a list of reasonable length")
    try:
        bundle = stix2.parse(doc, allow_custom=False)
    except Exception as exc:  # stix2 raises many kinds on invalid content
        raise IntelError(f"stix: the bundle does not validate ({exc})") from None
    meta: dict[str, str] = {}
    hist: AttackTimeHistogram | None = None
    generated: float | None = None
    tlp: str | None = None
    seen: dict[str, tuple[float, float]] = {}
    indicators: list[Any] = []
    for obj in bundle.objects:
        kind = obj["type"]
        if kind == "report" and "version=" in str(obj.get("description", "")):
            meta = parse_fields(obj["description"], "stix: report")
            generated = parse_time(obj["published"], "stix: report published")
            tlp = _tlp(obj) or tlp
        elif kind == "note" and obj.get("abstract") == HISTOGRAM_ABSTRACT:
            hist = histogram_from_json(
                load_json(str(obj["content"]).encode("utf-8"), "stix: note"), "stix"
            )
        elif kind == "sighting":
            first = parse_time(obj.get("first_seen", obj["created"]), "stix: sighting")
            last = parse_time(obj.get("last_seen", obj["created"]), "stix: sighting")
            seen[obj["sighting_of_ref"]] = (first, last)
        elif kind == "indicator":
            indicators.append(obj)
            tlp = tlp or _tlp(obj)
    destinations: list[FraudDestination] = []
    attackers: list[AttackerAddress] = []
    for ind in indicators:
        where = f"stix: {ind['id']}"
        description = str(ind.get("description", ""))
        fields = parse_fields(description, where) if "kind=" in description else {}
        if not fields:
            match = _IP_PATTERN.fullmatch(ind["pattern"]) if ind["pattern_type"] == "stix" else None
            if match is None:
                continue  # an indicator tollguard does not use
            fields = {"kind": "ip", "value": match.group(1)}
        try:
            ikind = IndicatorKind(fields.get("kind", ""))
        except ValueError:
            raise IntelError(f"{where}: kind {fields.get('kind', '')[:20]!r} is unknown") from None
        valid = parse_time(ind["valid_from"], f"{where}: valid_from")
        first, last = seen.get(ind["id"], (valid, valid))
        try:
            value = normalise_value(ikind, fields.get("value", ""))
            item = indicator_from_fields(ikind, value, fields, first, last, where)
        except IntelError as exc:
            raise IntelError(f"{where}: {exc}") from None
        if isinstance(item, AttackerAddress):
            attackers.append(item)
        else:
            destinations.append(item)
    if generated is None:
        entries: list[FraudDestination | AttackerAddress] = [*destinations, *attackers]
        generated = max((e.last_seen for e in entries), default=None)
        if generated is None:
            raise IntelError("stix: the bundle has no tollguard report and no indicator")
    return check_feed(
        IntelFeed(
            meta.get("source", "unknown"),
            generated,
            parse_time(meta["since"], "stix: since") if meta.get("since") else None,
            parse_time(meta["until"], "stix: until") if meta.get("until") else None,
            tlp or "amber",
            tuple(destinations),
            tuple(attackers),
            hist or AttackTimeHistogram(),
        )
    )


def _tlp(obj: Any) -> str | None:
    for ref in obj.get("object_marking_refs", []):
        if ref in _TLP_BY_ID:
            return _TLP_BY_ID[ref]
    return None
