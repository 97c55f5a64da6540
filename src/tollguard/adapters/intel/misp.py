"""The MISP feed: one MISP event built with ``pymisp`` (entirely offline).

The event carries the TLP as a ``tlp:<level>`` tag and ``tollguard:source`` /
``tollguard:feed-version`` tags. Each destination range is a ``phone-number`` attribute holding the
prefix (``+8823512``; category *Financial fraud*, not for IDS since it is a range), each country a
``text`` attribute, each attacking address an ``ip-src`` attribute (for IDS). Attributes carry
``first_seen`` / ``last_seen`` and, in their comment, the figures as ``key=value; ...``
(``kind``, ``country``, ``calling_code``, ``incidents``, ``calls``, ``cost_band``). The feed's
period and the attack-time histogram are two ``text`` attributes commented ``tollguard:feed`` and
``tollguard:attack-time-histogram`` holding JSON.

On import, ``ip-src`` and ``phone-number`` attributes of events not written by tollguard are read
too (as one incident each, over the attribute's first/last seen or the event's date).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pymisp import MISPEvent

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
    AttackerAddress,
    AttackTimeHistogram,
    FraudDestination,
    IndicatorKind,
    IntelError,
    IntelFeed,
    check_feed,
    normalise_value,
)

FEED_COMMENT = "tollguard:feed"
HISTOGRAM_COMMENT = "tollguard:attack-time-histogram"


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def build_event(feed: IntelFeed) -> MISPEvent:
    """The feed as a :class:`pymisp.MISPEvent` (deterministic UUIDs, no network)."""
    event = MISPEvent()
    event.uuid = stable_uuid("misp-event", feed.source, feed.generated_at, feed.since, feed.until)
    period = f"{iso(feed.since)} to " if feed.since is not None else "until "
    period += iso(feed.until if feed.until is not None else feed.generated_at)
    event.info = f"tollguard IRSF intelligence from {feed.source}, {period}"
    event.date = _dt(feed.generated_at).date()
    event.distribution = 1  # this community only
    event.threat_level_id = 2
    event.analysis = 2
    event.published = False
    event.add_tag(f"tlp:{feed.tlp}")
    event.add_tag(f'tollguard:source="{feed.source}"')
    event.add_tag(f'tollguard:feed-version="{FEED_VERSION}"')
    meta = {
        "version": FEED_VERSION,
        "source": feed.source,
        "generated_at": iso(feed.generated_at),
        "since": None if feed.since is None else iso(feed.since),
        "until": None if feed.until is None else iso(feed.until),
    }
    event.add_attribute(
        "text",
        json.dumps(meta, separators=(",", ":")),
        comment=FEED_COMMENT,
        to_ids=False,
        uuid=stable_uuid(event.uuid, "feed"),
    )
    for d in feed.destinations:
        fields = fields_text(
            {
                "kind": d.kind.value,
                "country": d.country,
                "calling_code": d.calling_code,
                "incidents": d.incidents,
                "calls": d.calls,
                "cost_band": d.cost_band,
            }
        )
        is_range = d.kind is IndicatorKind.RANGE
        event.add_attribute(
            "phone-number" if is_range else "text",
            f"+{d.value}" if is_range else d.value,
            category="Financial fraud" if is_range else "Other",
            comment=fields,
            to_ids=False,
            first_seen=_dt(d.first_seen),
            last_seen=_dt(d.last_seen),
            uuid=stable_uuid(event.uuid, d.key),
        )
    for a in feed.attackers:
        event.add_attribute(
            "ip-src",
            a.ip,
            comment=fields_text({"kind": "ip", "incidents": a.incidents, "calls": a.calls}),
            to_ids=True,
            first_seen=_dt(a.first_seen),
            last_seen=_dt(a.last_seen),
            uuid=stable_uuid(event.uuid, a.key),
        )
    event.add_attribute(
        "text",
        histogram_json(feed.histogram),
        comment=HISTOGRAM_COMMENT,
        to_ids=False,
        uuid=stable_uuid(event.uuid, "histogram"),
    )
    return event


def render(feed: IntelFeed) -> bytes:
    """The feed as MISP JSON (``{"Event": {...}}``, as MISP exports events)."""
    body = json.loads(build_event(feed).to_json())
    return (json.dumps({"Event": body}, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def looks_like(doc: Any) -> bool:
    """Whether a parsed JSON document is a MISP event."""
    return isinstance(doc, dict) and ("Event" in doc or "Attribute" in doc)


def parse(data: bytes) -> IntelFeed:
    """Read a MISP event (checked with tollguard's limits, then loaded by ``pymisp``)."""
    return parse_document(load_json(data, "misp"))


def parse_document(doc: Any) -> IntelFeed:
    """A parsed MISP JSON document as a feed."""
    if not looks_like(doc):
        raise IntelError("misp: not a MISP event (no 'Event' object)")
    body = doc.get("Event", doc)
    if not isinstance(body, dict) or not isinstance(body.get("Attribute", []), list):
        raise IntelError("misp: 'Event' must be an object with an 'Attribute' list")
    for n, raw in enumerate(body.get("Attribute", [])):
        if not isinstance(raw, dict):
            raise IntelError(f"misp: attribute {n} is not an object")
        for key in ("type", "value", "comment", "first_seen", "last_seen"):
            if key in raw and not isinstance(raw[key], str | None):
                raise IntelError(f"misp: attribute {n}: {key} must be text")
    event = MISPEvent()
    try:
        event.load({"Event": body})
    except Exception as exc:  # pymisp raises many kinds on bad input
        raise IntelError(f"misp: pymisp cannot load the event ({exc})") from None
    tags = [t.name for t in event.tags]
    tlp = next((t[4:] for t in tags if isinstance(t, str) and t.startswith("tlp:")), "amber")
    meta: dict[str, Any] = {}
    hist: dict[str, Any] | None = None
    destinations: list[FraudDestination] = []
    attackers: list[AttackerAddress] = []
    default_t = _event_time(event)
    for n, attr in enumerate(event.attributes):
        where = f"misp: attribute {n}"
        comment = getattr(attr, "comment", "")
        comment = comment if isinstance(comment, str) else ""
        if attr.type == "text" and comment in (FEED_COMMENT, HISTOGRAM_COMMENT):
            value = load_json(str(attr.value).encode("utf-8"), where)
            if not isinstance(value, dict):
                raise IntelError(f"{where}: {comment} must hold a JSON object")
            if comment == FEED_COMMENT:
                meta = value
            else:
                hist = value
            continue
        fields = parse_fields(comment, where) if "kind=" in comment else {}
        kind = fields.get("kind")
        if attr.type == "ip-src":
            kind = "ip"
        elif attr.type == "phone-number":
            kind = "range"
        elif attr.type != "text" or kind != "country":
            continue  # attributes tollguard does not use
        ikind = IndicatorKind(kind)
        try:
            value = normalise_value(ikind, attr.value)
            first = _seen(attr, "first_seen", default_t, where)
            last = _seen(attr, "last_seen", first, where)
            item = indicator_from_fields(ikind, value, fields, first, last, where)
        except IntelError as exc:
            raise IntelError(f"{where}: {exc}") from None
        if isinstance(item, AttackerAddress):
            attackers.append(item)
        else:
            destinations.append(item)
    source = meta.get("source")
    if source is None:
        source = next(
            (t[18:-1] for t in tags if isinstance(t, str) and t.startswith('tollguard:source="')),
            "unknown",
        )
    generated = parse_time(meta.get("generated_at"), "misp: generated_at") if meta else default_t
    return check_feed(
        IntelFeed(
            source,
            generated,
            _meta_time(meta, "since"),
            _meta_time(meta, "until"),
            tlp,
            tuple(destinations),
            tuple(attackers),
            AttackTimeHistogram() if hist is None else histogram_from_json(hist, "misp"),
        )
    )


def _event_time(event: MISPEvent) -> float:
    d = getattr(event, "date", None)
    if d is None:
        raise IntelError("misp: the event has no date")
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def _seen(attr: Any, name: str, default: float, where: str) -> float:
    value = getattr(attr, name, None)
    if value is None:
        return default
    return parse_time(value, f"{where}: {name}")


def _meta_time(meta: dict[str, Any], key: str) -> float | None:
    value = meta.get(key)
    return None if value is None else parse_time(value, f"misp: {key}")
