"""Export, import and review of shared fraud intelligence: the functions the CLI calls.

The (future) HTTP service calls the same functions: :func:`write_export` / :func:`render_feed`
for ``GET /intel/export``, :func:`import_feed` for ``POST /intel/import``, :func:`review` for
``POST /intel/candidates/{id|kind:value}/accept|reject``, :func:`portal_destinations` for the
customer portal's fraud-destination list, :func:`merge_hours` for the shift-planning report, and
:func:`restricted_list` to give the engine the store's list (accepted intelligence included).

Imports are all-or-nothing: a file is checked (size, encoding, structure, every value) and its
digest and signature verified before anything is written; the candidates, the audit entry and
any acceptance by policy are then written in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tollguard.adapters.intel import csvfeed, misp, stix
from tollguard.adapters.intel._common import (
    MAX_FEED_BYTES,
    IntegrityError,
    digest_line,
    load_json,
    sha256_hex,
    signature_line,
    verify,
)
from tollguard.adapters.store import IntelCandidate, IntelImportCounts, Store, StoreError
from tollguard.adapters.store import schema as s
from tollguard.domain.intel import (
    AttackTimeHistogram,
    IndicatorKind,
    IntelError,
    IntelFeed,
    MergedIndicator,
    as_indicator,
    check_source,
    dearer_band,
    merge_histograms,
    merge_indicator,
    normalise_value,
)
from tollguard.domain.restricted import (
    DestinationKind,
    RestrictedDestination,
    RestrictedDestinationList,
)

FORMATS = ("misp", "stix", "csv")
SUFFIXES = {"misp": ".misp.json", "stix": ".stix.json", "csv": ".csv"}
#: How long an IP block accepted from another carrier's feed lasts, by default.
DEFAULT_BLOCK_HOURS = 168.0

__all__ = [
    "DEFAULT_BLOCK_HOURS",
    "FORMATS",
    "ExportResult",
    "ImportPolicy",
    "ImportResult",
    "IntegrityError",
    "IntelError",
    "import_feed",
    "merge_hours",
    "parse_feed",
    "portal_destinations",
    "read_feed_file",
    "render_feed",
    "restricted_list",
    "review",
    "write_export",
]


def render_feed(feed: IntelFeed, fmt: str) -> bytes:
    """The feed in ``fmt`` (``misp``, ``stix`` or ``csv``)."""
    if fmt == "misp":
        return misp.render(feed)
    if fmt == "stix":
        return stix.render(feed)
    if fmt == "csv":
        return csvfeed.render(feed)
    raise IntelError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def parse_feed(data: bytes, fmt: str | None = None) -> tuple[IntelFeed, str]:
    """Read a feed in any of the three formats (detected when ``fmt`` is ``None``)."""
    if fmt is None:
        if csvfeed.looks_like(data):
            return csvfeed.parse(data), "csv"
        doc = load_json(data, "feed")
        if stix.looks_like(doc):
            return stix.parse_document(doc), "stix"
        if misp.looks_like(doc):
            return misp.parse_document(doc), "misp"
        raise IntelError("feed: neither a tollguard CSV feed, a STIX bundle nor a MISP event")
    if fmt == "csv":
        return csvfeed.parse(data), fmt
    if fmt == "stix":
        return stix.parse(data), fmt
    if fmt == "misp":
        return misp.parse(data), fmt
    raise IntelError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def read_feed_file(path: Path) -> tuple[bytes, str | None, str | None]:
    """A feed file and its sidecars (``FILE.sha256``, ``FILE.sig``, ``None`` when absent).

    Reads at most :data:`MAX_FEED_BYTES` (+1, to tell that a file is too big).
    """
    with path.open("rb") as fh:
        data = fh.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        raise IntelError(f"{path}: over the {MAX_FEED_BYTES:,} byte limit")

    def sidecar(suffix: str) -> str | None:
        p = path.with_name(path.name + suffix)
        if not p.exists():
            return None
        return p.read_bytes()[:1024].decode("ascii", errors="replace")

    return data, sidecar(".sha256"), sidecar(".sig")


# -- export ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportResult:
    """A written feed: its path, SHA-256 and (with a key) HMAC signature file."""

    path: Path
    digest: str
    signature_path: Path | None


def write_export(feed: IntelFeed, fmt: str, out: Path, key: bytes | None = None) -> ExportResult:
    """Write ``out`` plus ``out.sha256`` and, with a shared key, ``out.sig``."""
    data = render_feed(feed, fmt)
    out.write_bytes(data)
    out.with_name(out.name + ".sha256").write_text(digest_line(data, out.name), encoding="ascii")
    sig: Path | None = None
    if key is not None:
        sig = out.with_name(out.name + ".sig")
        sig.write_text(signature_line(data, key), encoding="ascii")
    return ExportResult(out, sha256_hex(data), sig)


# -- import ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportPolicy:
    """When imported entries are accepted without review: only from the named carriers, only
    with at least ``min_incidents`` incidents. The default accepts nothing."""

    auto_accept_from: frozenset[str] = frozenset()
    min_incidents: int = 1
    block_hours: float = DEFAULT_BLOCK_HOURS


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did."""

    source: str
    fmt: str
    digest: str
    feed: IntelFeed
    counts: IntelImportCounts
    accepted: tuple[IntelCandidate, ...]


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def import_feed(
    store: Store,
    data: bytes,
    *,
    source: str,
    at: datetime,
    by: str,
    fmt: str | None = None,
    digest: str | None = None,
    signature: str | None = None,
    key: bytes | None = None,
    require_digest: bool = True,
    policy: ImportPolicy | None = None,
) -> ImportResult:
    """Import another carrier's feed as candidates (see the module docs); nothing is written
    unless the whole file is valid and intact."""
    check_source(source)
    sha = verify(data, digest=digest, signature=signature, key=key, require_digest=require_digest)
    feed, fmt = parse_feed(data, fmt)
    rows: list[dict[str, Any]] = [
        {
            "kind": m.kind.value,
            "value": m.value,
            "country": m.country,
            "first_seen": _utc(m.first_seen),
            "last_seen": _utc(m.last_seen),
            "incidents": m.incidents,
            "calls": m.calls,
            "cost_band": m.cost_band,
        }
        for m in (as_indicator(e, source) for e in feed.entries())
    ]
    policy = policy or ImportPolicy()
    accepted: list[IntelCandidate] = []
    with store.begin() as conn:
        counts, changed = store.import_intel_candidates(
            rows,
            source=source,
            feed_digest=sha,
            at=at,
            by=by,
            evidence={
                "format": fmt,
                "declared_source": feed.source,
                "generated_at": _utc(feed.generated_at),
                "signed": key is not None,
                "tlp": feed.tlp,
            },
            conn=conn,
        )
        if source in policy.auto_accept_from:
            for cand in changed:
                if cand.status == "candidate" and cand.incidents >= policy.min_incidents:
                    accepted += _accept(
                        store,
                        conn,
                        [cand],
                        by="policy:auto-accept",
                        reason=f"trusted carrier {source}, {cand.incidents} incidents",
                        at=at,
                        block_hours=policy.block_hours,
                    )
    return ImportResult(source, fmt, sha, feed, counts, tuple(accepted))


# -- review ---------------------------------------------------------------------------------


def _targets(store: Store, ref: str, conn: Connection) -> list[IntelCandidate]:
    """The candidates under review that ``ref`` names: an id, or ``kind:value`` (all sources)."""
    if ref.isascii() and ref.isdigit():
        cand = store.get_intel_candidate(int(ref), conn=conn)
        if cand is None:
            raise StoreError(f"no candidate {ref}")
        if cand.status != "candidate":
            raise StoreError(f"candidate {ref} was already {cand.status}")
        return [cand]
    kind, sep, value = ref.partition(":")
    try:
        ikind = IndicatorKind(kind)
    except ValueError:
        raise StoreError(f"{ref!r} is neither a candidate id nor country:, range: or ip:") from None
    if not sep:
        raise StoreError(f"{ref!r} is neither a candidate id nor kind:value")
    value = normalise_value(ikind, value)
    t = s.intel_candidates
    ids = conn.execute(
        select(t.c.id).where(t.c.kind == kind, t.c.value == value, t.c.status == "candidate")
    ).scalars()
    found = [c for i in ids if (c := store.get_intel_candidate(i, conn=conn)) is not None]
    if not found:
        raise StoreError(f"no candidate under review for {kind}:{value}")
    return found


def _accept(
    store: Store,
    conn: Connection,
    cands: list[IntelCandidate],
    *,
    by: str,
    reason: str,
    at: datetime,
    block_hours: float,
) -> list[IntelCandidate]:
    """Mark candidates of one ``kind:value`` accepted and put it in force (once)."""
    done = [
        store.review_intel_candidate(c.id, "accepted", by=by, reason=reason, at=at, conn=conn)
        for c in cands
    ]
    kind, value = done[0].kind, done[0].value
    intel = {
        "source": "intel",
        "carriers": sorted({c.source for c in done}),
        "candidate_ids": [c.id for c in done],
        "feed_digests": sorted({c.feed_digest for c in done}),
        "incidents": sum(c.incidents for c in done),
        "first_seen": min(c.first_seen for c in done),
        "last_seen": max(c.last_seen for c in done),
        "cost_band": reduce(dearer_band, (c.cost_band for c in done), None),
    }
    carriers = ", ".join(intel["carriers"])  # type: ignore[arg-type]
    if kind in s.DESTINATION_KINDS:
        t = s.restricted_destinations
        listed = conn.execute(select(t.c.id).where(t.c.kind == kind, t.c.value == value)).first()
        if listed is None:  # an entry the carrier made itself keeps its own criteria
            store.put_restricted_destination(
                kind,
                value,
                criteria={"intel": intel},
                provenance=f"shared by {carriers}; accepted by {by}: {reason}",
                added_by=by,
                at=at,
                conn=conn,
            )
        return done
    c = s.controls.c
    blocked = conn.execute(
        select(c.id).where(
            c.kind == "ip_block",
            c.subject == value,
            c.lifted_at.is_(None),
            (c.expires_at.is_(None)) | (c.expires_at > at),
        )
    ).first()
    if blocked is None:
        store.create_control(
            "ip_block",
            value,
            reason=f"attacker address shared by {carriers}: {reason}",
            created_by=by,
            at=at,
            expires_at=at + timedelta(hours=block_hours),
            evidence=intel,
            conn=conn,
        )
    return done


def review(
    store: Store,
    ref: str,
    *,
    accept: bool,
    by: str,
    reason: str,
    at: datetime,
    block_hours: float = DEFAULT_BLOCK_HOURS,
) -> list[IntelCandidate]:
    """Accept or reject candidates (an id, or ``kind:value`` for every carrier's). Accepting a
    country or range adds it to the restricted destination list (unless already listed); an
    address gets an IP block for ``block_hours``. Audited in the same transaction."""
    with store.begin() as conn:
        targets = _targets(store, ref, conn)
        if accept:
            return _accept(
                store, conn, targets, by=by, reason=reason, at=at, block_hours=block_hours
            )
        return [
            store.review_intel_candidate(c.id, "rejected", by=by, reason=reason, at=at, conn=conn)
            for c in targets
        ]


# -- merged views -----------------------------------------------------------------------------


def portal_destinations(store: Store, own: Sequence[IntelFeed] = ()) -> list[MergedIndicator]:
    """The fraud-destination list for the customer portal (contracted customers only): the
    carrier's own feeds' destinations merged with other carriers' accepted ones."""
    merged: dict[tuple[IndicatorKind, str], MergedIndicator] = {}

    def add(m: MergedIndicator) -> None:
        key = (m.kind, m.value)
        merged[key] = merge_indicator(merged[key], m) if key in merged else m

    for feed in own:
        for d in feed.destinations:
            add(as_indicator(d, feed.source))
    for c in store.list_intel_candidates(status="accepted"):
        if c.kind == "ip":
            continue
        add(
            MergedIndicator(
                IndicatorKind(c.kind),
                c.value,
                (c.source,),
                c.country,
                c.first_seen.timestamp(),
                c.last_seen.timestamp(),
                c.incidents,
                c.calls,
                c.cost_band,
            )
        )
    return [merged[k] for k in sorted(merged)]


def restricted_list(
    store: Store, base: RestrictedDestinationList | None = None
) -> RestrictedDestinationList:
    """The engine's restricted destination list: ``base`` (default: the packaged list) plus the
    store's entries, accepted intelligence included. An entry is restrictable (country
    restriction under a burst) only when its criteria say both ``no_government_traffic`` and
    ``no_life_critical_traffic``, which shared intelligence never does by itself."""
    out = RestrictedDestinationList((base or RestrictedDestinationList.default()).entries())
    for e in store.list_restricted_destinations():
        crit = e.criteria
        out.add(
            RestrictedDestination(
                DestinationKind(e.kind),
                e.value,
                f"{e.kind} {e.value}",
                crit.get("no_government_traffic") is True,
                crit.get("no_life_critical_traffic") is True,
                e.provenance,
                f"store, added by {e.added_by}",
            )
        )
    return out


def merge_hours(feeds: Sequence[IntelFeed]) -> AttackTimeHistogram:
    """Several carriers' attack-time histograms added up (for planning shifts)."""
    return merge_histograms([f.histogram for f in feeds])
