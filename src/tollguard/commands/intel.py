"""``tollguard intel``: share fraud destinations, attacking addresses and attack times with other
carriers (MISP, STIX 2.1, CSV), import theirs as candidates, and review them."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from tollguard.adapters.csvsafe import SafeCsvWriter
from tollguard.cli import app

if TYPE_CHECKING:
    from tollguard.domain.intel import IntelFeed

intel_app = typer.Typer(
    help=(
        "Inter-carrier sharing of fraud intelligence (see docs/intel.md). [bold]export[/bold] "
        "confirmed fraud destinations (ranges, not numbers), attacking addresses and the "
        "attack-time histogram as MISP, STIX 2.1 or CSV with a SHA-256 digest and optional "
        "HMAC signature; [bold]import[/bold] other carriers' feeds as candidates; "
        "[bold]review[/bold] them; [bold]hours[/bold] merges attack times for shift planning; "
        "[bold]destinations[/bold] is the merged list for the customer portal."
    ),
    no_args_is_help=True,
)
review_app = typer.Typer(help="List, accept or reject imported candidates.", no_args_is_help=True)
intel_app.add_typer(review_app, name="review")
app.add_typer(intel_app, name="intel")

_err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _when(value: str | None, tz: str, option: str) -> float | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option}: {value!r} is not an ISO 8601 date or time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.timestamp()


def _key(path: Path | None) -> bytes | None:
    from tollguard.adapters.intel._common import check_key

    if path is None:
        return None
    try:
        return check_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise _fail(f"--key-file: {exc}") from None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


@intel_app.command("export")
def export_command(
    fmt: str = typer.Option(..., "--format", help="misp, stix or csv."),
    out: Path = typer.Option(..., "--out", help="Feed file (FILE.sha256, FILE.sig beside it)."),
    carrier: str = typer.Option(..., "--carrier", help="This carrier's name in the feed."),
    replay: Path | None = typer.Option(None, "--replay", help="Replay output (JSON lines)."),
    cdrs: Path | None = typer.Option(None, "--cdrs", help="The CDR file the replay read."),
    db: str | None = typer.Option(
        None, "--db", help="Also share the store's own IP blocks and country restrictions."
    ),
    since: str | None = typer.Option(None, "--since", help="Start (ISO 8601, local if naive)."),
    until: str | None = typer.Option(None, "--until", help="End, exclusive (default: now)."),
    prefix_digits: int = typer.Option(
        7, "--prefix-digits", min=1, max=15, help="Digits of a called number kept in a range."
    ),
    full_numbers: bool = typer.Option(
        False, "--full-numbers", help="Share full called numbers (off: ranges only)."
    ),
    tlp: str = typer.Option("amber", "--tlp", help="Traffic Light Protocol: white..red."),
    key_file: Path | None = typer.Option(None, "--key-file", help="Shared HMAC key: sign."),
    timezone: str = typer.Option("Asia/Tokyo", "--timezone", help="Zone of the histogram."),
) -> None:
    """Export confirmed fraud as a feed for other carriers (no customer identity leaves)."""
    from tollguard.adapters.intel.service import FORMATS, write_export
    from tollguard.adapters.intel.sources import collect_replay, collect_store
    from tollguard.adapters.readers import InputFileError
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.intel import ExportOptions, IntelAggregator, IntelError

    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}")
    if (replay is None) != (cdrs is None):
        raise _fail("--replay and --cdrs go together (the replay output and its CDR file)")
    if replay is None and db is None:
        raise _fail("nothing to export: give --replay and --cdrs, and/or --db")
    now = datetime.now(UTC).timestamp()
    t0 = _when(since, timezone, "--since")
    t1 = _when(until, timezone, "--until") or now
    key = _key(key_file)
    try:
        agg = IntelAggregator(ExportOptions(prefix_digits, full_numbers, timezone))
        calls = controls = 0
        if replay is not None and cdrs is not None:
            calls = collect_replay(agg, replay, cdrs, since=t0, until=t1)
        if db is not None:
            with Store.open(resolve_db_url(db)) as store:
                controls = collect_store(agg, store, since=t0, until=t1)
        feed = agg.feed(carrier, generated_at=now, since=t0, until=t1, tlp=tlp)
        result = write_export(feed, fmt, out, key)
    except (IntelError, InputFileError, OSError) as exc:
        raise _fail(str(exc)) from None
    Console().print(
        f"{out}: {len(feed.destinations)} destinations, {len(feed.attackers)} addresses, "
        f"{feed.histogram.total} attacks in the histogram (from {calls} fraud calls"
        f"{f', {controls} controls' if db else ''}); sha256 {result.digest}"
        + (f"; signed ({result.signature_path})" if result.signature_path else "")
        + ("" if not full_numbers else "; [yellow]FULL NUMBERS included[/yellow]"),
        highlight=False,
    )


@intel_app.command("import")
def import_command(
    feed_file: Path = typer.Argument(..., help="A feed from another carrier."),
    source: str = typer.Option(..., "--from", help="The carrier it came from (provenance)."),
    fmt: str | None = typer.Option(None, "--format", help="misp, stix or csv (default: detect)."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
    by: str = typer.Option("analyst", "--by", help="Who imports (audited)."),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="Shared key: require a valid signature."
    ),
    allow_unsigned: bool = typer.Option(
        False, "--allow-unsigned", help="Accept a feed without FILE.sha256 (no integrity check)."
    ),
    trust: list[str] = typer.Option(
        [], "--auto-accept-from", help="Accept this carrier's entries without review."
    ),
    min_incidents: int = typer.Option(
        1, "--min-incidents", min=1, help="Auto-accept only entries with this many incidents."
    ),
    block_hours: float = typer.Option(168.0, "--block-hours", min=1, help="IP block duration."),
) -> None:
    """Import a feed: entries become candidates for review (nothing is applied by default)."""
    from tollguard.adapters.intel.service import ImportPolicy, import_feed, read_feed_file
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.intel import IntelError

    key = _key(key_file)
    try:
        data, digest, signature = read_feed_file(feed_file)
    except (OSError, IntelError) as exc:
        raise _fail(f"{feed_file}: {exc}") from None
    policy = ImportPolicy(frozenset(trust), min_incidents, block_hours)
    with Store.open(resolve_db_url(db)) as store:
        try:
            result = import_feed(
                store,
                data,
                source=source,
                at=datetime.now(UTC),
                by=by,
                fmt=fmt,
                digest=digest,
                signature=signature,
                key=key,
                require_digest=not allow_unsigned,
                policy=policy,
            )
        except IntelError as exc:
            raise _fail(f"{feed_file}: rejected, nothing imported: {exc}") from None
    c = result.counts
    if signature is not None and key is None:
        _err.print("[yellow]warning:[/yellow] the feed is signed but no --key-file was given")
    Console().print(
        f"{feed_file} ({result.fmt}, sha256 {result.digest[:16]}…) from {source}: {c.new} new, "
        f"{c.updated} updated, {c.unchanged} unchanged candidates"
        + (f"; {len(result.accepted)} accepted by policy" if result.accepted else "")
        + "; review with `tollguard intel review list`",
        highlight=False,
    )


@review_app.command("list")
def review_list_command(
    status: str = typer.Option("candidate", "--status", help="candidate, accepted, rejected, all."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
) -> None:
    """List imported candidates."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    with Store.open(resolve_db_url(db)) as store:
        rows = store.list_intel_candidates(status=None if status == "all" else status)
    table = Table(title=f"{len(rows)} intel candidates ({status})")
    for col in ("id", "kind:value", "country", "from", "first seen", "last seen", "incidents"):
        table.add_column(col)
    for col in ("calls", "band", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.id),
            r.key,
            r.country or "",
            r.source,
            _iso(r.first_seen.timestamp()),
            _iso(r.last_seen.timestamp()),
            str(r.incidents),
            str(r.calls),
            r.cost_band or "",
            r.status,
        )
    Console().print(table)


def _review(ref: str, accept: bool, by: str, reason: str, db: str | None, hours: float) -> None:
    from tollguard.adapters.intel.service import review
    from tollguard.adapters.store import Store, StoreError
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.intel import IntelError

    with Store.open(resolve_db_url(db)) as store:
        try:
            done = review(
                store,
                ref,
                accept=accept,
                by=by,
                reason=reason,
                at=datetime.now(UTC),
                block_hours=hours,
            )
        except (StoreError, IntelError) as exc:
            raise _fail(str(exc)) from None
    effect = "rejected"
    if accept:
        effect = (
            f"accepted: IP blocked for {hours:g} h"
            if done[0].kind == "ip"
            else "accepted: on the restricted destination list"
        )
    Console().print(
        f"{done[0].key} ({', '.join(c.source for c in done)}): {effect}; audited", highlight=False
    )


@review_app.command("accept")
def review_accept_command(
    ref: str = typer.Argument(..., help="Candidate id, or kind:value (every carrier's)."),
    by: str = typer.Option(..., "--by", help="Who accepts (audited)."),
    reason: str = typer.Option(..., "--reason", help="Why."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
    block_hours: float = typer.Option(168.0, "--block-hours", min=1, help="IP block duration."),
) -> None:
    """Accept: a country or range joins the restricted list; an address is blocked."""
    _review(ref, True, by, reason, db, block_hours)


@review_app.command("reject")
def review_reject_command(
    ref: str = typer.Argument(..., help="Candidate id, or kind:value (every carrier's)."),
    by: str = typer.Option(..., "--by", help="Who rejects (audited)."),
    reason: str = typer.Option(..., "--reason", help="Why."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
) -> None:
    """Reject: nothing is applied; the candidate stays rejected on later imports."""
    _review(ref, False, by, reason, db, 0.0)


def _read_feeds(paths: list[Path]) -> list[IntelFeed]:
    from tollguard.adapters.intel.service import parse_feed, read_feed_file
    from tollguard.domain.intel import IntelError

    feeds: list[IntelFeed] = []
    for p in paths:
        try:
            feeds.append(parse_feed(read_feed_file(p)[0])[0])
        except (OSError, IntelError) as exc:
            raise _fail(f"{p}: {exc}") from None
    return feeds


@intel_app.command("hours")
def hours_command(
    feeds: list[Path] = typer.Argument(..., help="Feeds (own and other carriers', any format)."),
    share: float = typer.Option(
        0.8, "--share", min=0.1, max=1.0, help="Share of attacks to cover."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the merged histogram as CSV."),
) -> None:
    """When attacks start, merged over carriers (hour x weekday, holidays): plan shifts."""
    from tollguard.adapters.intel.service import merge_hours
    from tollguard.domain.intel import DAY_KINDS, IntelError

    try:
        hist = merge_hours(_read_feeds(feeds))
    except IntelError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"attack starts by local hour ({hist.timezone}), {hist.total} attacks")
    table.add_column("hour")
    for day in DAY_KINDS:
        table.add_column(day, justify="right")
    for h in range(24):
        table.add_row(f"{h:02d}", *(str(row[h]) if row[h] else "·" for row in hist.counts))
    console = Console()
    console.print(table)
    slots = hist.busiest(share)
    covered = sum(c for _, _, c in slots)
    console.print(
        f"{len(slots)} of {len(DAY_KINDS) * 24} day-hours hold {covered} of {hist.total} attack "
        f"starts: " + ", ".join(f"{d} {h:02d}h ({c})" for d, h, c in slots[:20]),
        highlight=False,
    )
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["day", *(f"{h:02d}" for h in range(24))])
            for day, row in zip(DAY_KINDS, hist.counts, strict=True):
                w.writerow([day, *row])


@intel_app.command("destinations")
def destinations_command(
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
    own: list[Path] = typer.Option([], "--own", help="This carrier's own exported feeds."),
    out: Path | None = typer.Option(None, "--out", help="Write the list as CSV."),
) -> None:
    """The merged fraud-destination list (own + accepted shared) for the customer portal."""
    from tollguard.adapters.intel.service import portal_destinations
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    feeds = _read_feeds(own)
    with Store.open(resolve_db_url(db)) as store:
        merged = portal_destinations(store, feeds)
    columns = ["kind", "value", "country", "carriers", "first_seen", "last_seen", "incidents"]
    columns += ["calls", "cost_band"]
    rows = [
        [
            m.kind.value,
            m.value,
            m.country or "",
            " ".join(m.sources),
            _iso(m.first_seen),
            _iso(m.last_seen),
            m.incidents,
            m.calls,
            m.cost_band or "",
        ]
        for m in merged
    ]
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = SafeCsvWriter(fh)
            w.writerow(columns)
            w.writerows(rows)
    table = Table(title=f"{len(rows)} fraud destinations (for contracted customers only)")
    for col in columns:
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(v) for v in r))
    Console().print(table)
