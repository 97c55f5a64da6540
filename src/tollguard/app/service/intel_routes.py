"""Inter-carrier sharing over HTTP: ``/v1/intel/*`` (see ``docs/intel.md``, ``docs/service.md``).

The same functions as ``tollguard intel`` (``tollguard.adapters.intel.service``), over the live
service's store: the carrier's own intelligence is what the service recorded (its IP blocks,
country restrictions, destination denials and the calls it cut, ``collect_store``). Every route
is for analysts and admins; exports, imports and reviews are audited.

Routes that only read or write the store are plain functions (run in the thread pool); those
that change what the engine enforces (an import accepted by policy, an acceptance) are ``async``
so that :meth:`ServiceRuntime.refresh_from_store` runs on the event loop, which owns the engine.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tollguard.adapters.intel._common import sha256_hex, signature_line
from tollguard.adapters.intel.service import (
    SUFFIXES,
    ImportResult,
    import_feed,
    merge_hours,
    parse_feed,
    portal_destinations,
    render_feed,
    review,
)
from tollguard.adapters.intel.sources import collect_store
from tollguard.adapters.store import IntelCandidate, StoreError
from tollguard.app.service.deps import AsAnalyst, runtime_of
from tollguard.app.service.recorder import utc
from tollguard.app.service.runtime import ServiceRuntime
from tollguard.domain.intel import (
    DAY_KINDS,
    AttackTimeHistogram,
    ExportOptions,
    IntelAggregator,
    IntelError,
    IntelFeed,
    check_timezone,
)

intel_router = APIRouter(prefix="/v1/intel", tags=["intel"])

Format = Literal["misp", "stix", "csv"]
#: Media types of the three feed formats (STIX as TAXII 2.1 names it).
MEDIA_TYPES = {
    "misp": "application/json",
    "stix": "application/stix+json;version=2.1",
    "csv": "text/csv; charset=utf-8",
}
#: Most feeds one ``POST /v1/intel/hours/merge`` adds up.
MAX_MERGED_FEEDS = 100

When = Annotated[
    str | None,
    Query(
        max_length=40,
        description="ISO 8601 date or time; without an offset, in the time zone of `timezone`",
    ),
]
Zone = Annotated[
    str | None,
    Query(max_length=64, description="IANA zone of the histogram (default: the engine's)"),
]
PrefixDigits = Annotated[
    int, Query(ge=1, le=15, description="digits of a called number kept in a range")
]


class IntelReviewIn(BaseModel):
    """Why a candidate is accepted or rejected (audited)."""

    reason: str = Field(min_length=3, max_length=2000)


class HoursMergeIn(BaseModel):
    """Other carriers' feeds (the files' text, any of the three formats) to add up with this
    carrier's own attack-time histogram."""

    feeds: list[str] = Field(max_length=MAX_MERGED_FEEDS)
    include_own: bool = True


# -- helpers ------------------------------------------------------------------------------------
def _tz(runtime: ServiceRuntime, timezone: str | None) -> str:
    try:
        return check_timezone(timezone or runtime.settings.config.timezone)
    except IntelError as exc:
        raise HTTPException(422, str(exc)) from None


def _when(value: str | None, tz: str, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            422, f"{name}: {value[:40]!r} is not an ISO 8601 date or time"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.timestamp()


def _period(
    runtime: ServiceRuntime, since: str | None, until: str | None, tz: str
) -> tuple[float | None, float, float]:
    """``(since, until, now)``; ``until`` (exclusive) defaults to the next whole second."""
    now = runtime.live.now()
    t0 = _when(since, tz, "since")
    t1 = _when(until, tz, "until")
    t1 = math.floor(now) + 1.0 if t1 is None else t1
    if t0 is not None and t0 >= t1:
        raise HTTPException(422, "since must be before until")
    return t0, t1, now


def own_feed(
    runtime: ServiceRuntime,
    *,
    since: float | None,
    until: float,
    now: float,
    prefix_digits: int = 7,
    tlp: str = "amber",
    timezone: str = "Asia/Tokyo",
) -> IntelFeed:
    """This carrier's feed from the store (controls and cut calls), ranges only. Run in a thread:
    waits for the recorder so that what the engine just did is in the store."""
    runtime.recorder.flush()
    agg = IntelAggregator(ExportOptions(prefix_digits, False, timezone))
    collect_store(agg, runtime.store, since=since, until=until)
    try:
        return agg.feed(
            runtime.settings.carrier_name, generated_at=now, since=since, until=until, tlp=tlp
        )
    except IntelError as exc:  # the carrier name set at start is not a valid name
        raise HTTPException(500, f"carrier name: {exc}") from None


def _iso(t: float | datetime | None) -> str | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        return t.astimezone(UTC).isoformat()
    return datetime.fromtimestamp(t, UTC).isoformat()


def histogram_json(hist: AttackTimeHistogram, share: float) -> dict[str, Any]:
    """An attack-time histogram as JSON: ``counts[d][h]`` attacks started on day kind
    ``days[d]`` between ``h``:00 and ``h+1``:00 local time, and the busiest slots."""
    return {
        "timezone": hist.timezone,
        "days": list(DAY_KINDS),
        "counts": [list(row) for row in hist.counts],
        "total": hist.total,
        "share": share,
        "busiest": [{"day": d, "hour": h, "attacks": c} for d, h, c in hist.busiest(share)],
    }


def candidate_json(c: IntelCandidate) -> dict[str, Any]:
    """A candidate as the API shows it."""
    return {
        "id": c.id,
        "key": c.key,
        "kind": c.kind,
        "value": c.value,
        "source": c.source,
        "country": c.country,
        "first_seen": _iso(c.first_seen),
        "last_seen": _iso(c.last_seen),
        "incidents": c.incidents,
        "calls": c.calls,
        "cost_band": c.cost_band,
        "feed_digest": c.feed_digest,
        "imported_at": _iso(c.imported_at),
        "status": c.status,
        "reviewed_by": c.reviewed_by,
        "reviewed_at": _iso(c.reviewed_at),
    }


# -- export -------------------------------------------------------------------------------------
@intel_router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
)
def export_feed(
    request: Request,
    who: AsAnalyst,
    fmt: Annotated[Format, Query(alias="format")],
    since: When = None,
    until: When = None,
    prefix_digits: PrefixDigits = 7,
    tlp: Literal["white", "green", "amber", "red"] = "amber",
    timezone: Zone = None,
) -> Response:
    """This carrier's confirmed fraud as a feed for other carriers: destinations (countries,
    and number ranges cut to ``prefix_digits`` digits, never full numbers), attacking addresses
    and the attack-time histogram; no subscriber id or caller number. The body is the file;
    ``X-Tollguard-Digest`` is its SHA-256 and, with a shared key, ``X-Tollguard-Signature`` its
    ``hmac-sha256 <hex>``. Audited (``intel.export``)."""
    runtime = runtime_of(request)
    tz = _tz(runtime, timezone)
    t0, t1, now = _period(runtime, since, until, tz)
    feed = own_feed(
        runtime, since=t0, until=t1, now=now, prefix_digits=prefix_digits, tlp=tlp, timezone=tz
    )
    data = render_feed(feed, fmt)
    digest = sha256_hex(data)
    key = runtime.settings.intel_key
    headers = {
        "X-Tollguard-Digest": digest,
        "Content-Disposition": (
            f'attachment; filename="{feed.source}-{datetime.fromtimestamp(now, UTC):%Y%m%d}'
            f'{SUFFIXES[fmt]}"'
        ),
    }
    if key is not None:
        headers["X-Tollguard-Signature"] = signature_line(data, key).strip()
    runtime.store.append_audit(
        actor=who.actor,
        action="intel.export",
        subject=f"feed:{feed.source}",
        reason=(
            f"{fmt} feed: {len(feed.destinations)} destinations, {len(feed.attackers)} "
            f"addresses, {feed.histogram.total} attacks"
        ),
        at=utc(now),
        evidence={
            "format": fmt,
            "feed_digest": digest,
            "signed": key is not None,
            "since": None if t0 is None else utc(t0),
            "until": utc(t1),
            "prefix_digits": prefix_digits,
            "tlp": tlp,
            "timezone": tz,
        },
    )
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)


# -- import -------------------------------------------------------------------------------------
@intel_router.post("/import")
async def import_intel(
    request: Request,
    who: AsAnalyst,
    source: Annotated[
        str, Query(min_length=1, max_length=64, description="the carrier it came from")
    ],
    fmt: Annotated[Format | None, Query(alias="format", description="default: detect")] = None,
    allow_unsigned: Annotated[
        bool, Query(description="accept a feed without X-Tollguard-Digest")
    ] = False,
    x_tollguard_digest: Annotated[str | None, Header(max_length=200)] = None,
    x_tollguard_signature: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Import another carrier's feed (the body is the file, in any of the three formats):
    entries become candidates for review, applied only by the service's auto-accept policy.
    ``X-Tollguard-Digest`` (SHA-256 hex) is required unless ``allow_unsigned=true``;
    ``X-Tollguard-Signature`` (``hmac-sha256 <hex>``) when a shared key is configured.
    All or nothing: a malformed, hostile or changed file is refused (422) with the reason and
    nothing is written. Importing the same feed again changes nothing. Audited (``intel.import``).
    """
    runtime = runtime_of(request)
    data = await request.body()
    settings = runtime.settings
    at = utc(runtime.live.now())

    def work() -> ImportResult:
        return import_feed(
            runtime.store,
            data,
            source=source,
            at=at,
            by=who.actor,
            fmt=fmt,
            digest=x_tollguard_digest,
            signature=x_tollguard_signature,
            key=settings.intel_key,
            require_digest=not allow_unsigned,
            policy=settings.intel_policy,
        )

    try:
        result = await run_in_threadpool(work)
    except IntelError as exc:
        raise HTTPException(422, f"feed rejected, nothing imported: {exc}") from None
    if result.accepted:  # accepted by policy: the engine enforces it at once
        runtime.refresh_from_store()
    warnings = []
    if x_tollguard_signature is not None and settings.intel_key is None:
        warnings.append(
            "the feed is signed but this service has no shared key (--intel-key-file): "
            "the signature was not checked"
        )
    if x_tollguard_digest is None and settings.intel_key is None:
        warnings.append("no digest: the feed's integrity was not checked")
    feed, c = result.feed, result.counts
    return {
        "source": result.source,
        "format": result.fmt,
        "feed_digest": result.digest,
        "declared_source": feed.source,
        "generated_at": _iso(feed.generated_at),
        "tlp": feed.tlp,
        "entries": len(feed.destinations) + len(feed.attackers),
        "new": c.new,
        "updated": c.updated,
        "unchanged": c.unchanged,
        "accepted": sorted({a.key for a in result.accepted}),
        "warnings": warnings,
    }


# -- review -------------------------------------------------------------------------------------
@intel_router.get("/candidates")
def list_candidates(
    request: Request,
    _who: AsAnalyst,
    status: Literal["candidate", "accepted", "rejected", "all"] = "candidate",
    kind: Literal["country", "range", "ip"] | None = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Imported candidates (by kind, value and carrier), with their provenance and review."""
    store = runtime_of(request).store
    rows = store.list_intel_candidates(
        status=None if status == "all" else status, kind=kind, source=source
    )
    return [candidate_json(c) for c in rows]


async def _review(
    request: Request, who: AsAnalyst, ref: str, body: IntelReviewIn, accept: bool
) -> dict[str, Any]:
    runtime = runtime_of(request)
    at = utc(runtime.live.now())
    hours = runtime.settings.intel_policy.block_hours

    def work() -> list[IntelCandidate]:
        return review(
            runtime.store,
            ref,
            accept=accept,
            by=who.actor,
            reason=body.reason,
            at=at,
            block_hours=hours,
        )

    try:
        done = await run_in_threadpool(work)
    except IntelError as exc:
        raise HTTPException(422, str(exc)) from None
    except StoreError as exc:
        msg = str(exc)
        code = 409 if "already" in msg else 422 if "neither" in msg else 404
        raise HTTPException(code, msg) from None
    effect = "rejected"
    if accept:
        runtime.refresh_from_store()  # the new list entry or IP block is enforced at once
        effect = (
            f"ip_block for {hours:g} h"
            if done[0].kind == "ip"
            else "on the restricted destination list"
        )
    return {
        "key": done[0].key,
        "status": done[0].status,
        "effect": effect,
        "candidates": [candidate_json(c) for c in done],
    }


@intel_router.post("/candidates/{value}/accept")
async def accept_candidate(
    request: Request, value: str, body: IntelReviewIn, who: AsAnalyst
) -> dict[str, Any]:
    """Accept a candidate (``value``: its id) or every carrier's candidate of one destination
    (``kind:value``, e.g. ``range:8823512``, ``ip:203.0.113.9``): a country or range joins the
    restricted destination list, an address is blocked (``ip_block``); the engine enforces it at
    once. Audited (``intel.accept``)."""
    return await _review(request, who, value, body, accept=True)


@intel_router.post("/candidates/{value}/reject")
async def reject_candidate(
    request: Request, value: str, body: IntelReviewIn, who: AsAnalyst
) -> dict[str, Any]:
    """Reject a candidate (id or ``kind:value``): nothing is applied, and it stays rejected when
    the carrier shares it again. Audited (``intel.reject``)."""
    return await _review(request, who, value, body, accept=False)


# -- merged views -------------------------------------------------------------------------------
@intel_router.get("/destinations")
def destinations(
    request: Request,
    _who: AsAnalyst,
    since: When = None,
    prefix_digits: PrefixDigits = 7,
) -> list[dict[str, Any]]:
    """The merged fraud-destination list for the customer portal (contracted customers only):
    this carrier's own destinations (from ``since``) and other carriers' accepted ones, one
    per ``kind:value`` with the carriers, counts summed, the widest period and dearest band."""
    runtime = runtime_of(request)
    tz = _tz(runtime, None)
    t0, t1, now = _period(runtime, since, None, tz)
    own = own_feed(runtime, since=t0, until=t1, now=now, prefix_digits=prefix_digits, timezone=tz)
    return [
        {
            "kind": m.kind.value,
            "value": m.value,
            "country": m.country,
            "carriers": list(m.sources),
            "first_seen": _iso(m.first_seen),
            "last_seen": _iso(m.last_seen),
            "incidents": m.incidents,
            "calls": m.calls,
            "cost_band": m.cost_band,
        }
        for m in portal_destinations(runtime.store, [own])
    ]


Share = Annotated[
    float, Query(ge=0.1, le=1.0, description="share of attack starts the busiest slots hold")
]


@intel_router.get("/hours")
def hours(
    request: Request,
    _who: AsAnalyst,
    since: When = None,
    until: When = None,
    timezone: Zone = None,
    share: Share = 0.8,
) -> dict[str, Any]:
    """When attacks on this carrier started (incidents by local hour × day kind, holidays
    apart), and the fewest day-hours holding ``share`` of them: where shifts pay off."""
    runtime = runtime_of(request)
    tz = _tz(runtime, timezone)
    t0, t1, now = _period(runtime, since, until, tz)
    feed = own_feed(runtime, since=t0, until=t1, now=now, timezone=tz)
    return {"sources": [feed.source], **histogram_json(feed.histogram, share)}


@intel_router.post("/hours/merge")
def hours_merge(
    request: Request,
    body: HoursMergeIn,
    _who: AsAnalyst,
    since: When = None,
    until: When = None,
    timezone: Zone = None,
    share: Share = 0.8,
) -> dict[str, Any]:
    """This carrier's attack-time histogram (as ``GET /v1/intel/hours``, unless ``include_own``
    is false) added up with those of the feeds given as text in ``feeds`` (any format, all in
    one time zone). Nothing is stored, so the feeds need no digest."""
    runtime = runtime_of(request)
    tz = _tz(runtime, timezone)
    feeds: list[IntelFeed] = []
    if body.include_own:
        t0, t1, now = _period(runtime, since, until, tz)
        feeds.append(own_feed(runtime, since=t0, until=t1, now=now, timezone=tz))
    for i, text in enumerate(body.feeds):
        try:
            feeds.append(parse_feed(text.encode("utf-8"))[0])
        except IntelError as exc:
            raise HTTPException(422, f"feeds[{i}]: {exc}") from None
    try:
        merged = merge_hours(feeds)
    except IntelError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"sources": [f.source for f in feeds], **histogram_json(merged, share)}
