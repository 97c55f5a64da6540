"""``tollguard ingest``: load subscribers, CDRs and SIP events into the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tollguard.adapters.store import Store, default_url
from tollguard.cli import app

if TYPE_CHECKING:  # the ingest machinery (numbering, rating) loads only when the command runs
    from tollguard.app.ingest import IngestProgress, IngestSummary, ProgressCallback

DB_ENV = "TOLLGUARD_DB"

_HELP = (
    "Load subscribers, CDRs and SIP security events into the store (SQLite file "
    "[bold]tollguard.sqlite[/bold] here by default, or any SQLAlchemy URL). Each CDR is stored "
    "with its normalised callee, country, number type and charge. Bad rows are quarantined (table "
    "and CSV file) and never stop the good ones; a file already ingested with the same content is "
    "skipped; duplicate call ids are counted and ignored. Exit code 0 even with quarantined rows."
)


def resolve_db_url(db: str | None) -> str:
    """The database URL: ``--db``, else ``$TOLLGUARD_DB``, else ``./tollguard.sqlite``.

    A value without ``://`` is taken as the path of a SQLite file.
    """
    value = db or os.environ.get(DB_ENV) or None
    if value is None:
        return default_url()
    if "://" not in value:
        return default_url(Path(value).resolve())
    return value


def _summary_table(summary: IngestSummary) -> Table:
    table = Table(title="Ingest summary", show_footer=True)
    table.add_column("kind", footer="total")
    table.add_column("file")
    table.add_column("read", justify="right", footer=f"{summary.rows_read:,}")
    table.add_column("accepted", justify="right", footer=f"{summary.accepted:,}")
    table.add_column("quarantined", justify="right", footer=f"{summary.quarantined:,}")
    table.add_column("duplicates", justify="right", footer=f"{summary.duplicates:,}")
    table.add_column("note")
    for f in summary.files:
        note = "already ingested: skipped" if f.skipped else ""
        if f.quarantine_file is not None:
            note = f"bad rows in {f.quarantine_file}"
        table.add_row(
            f.kind,
            f.path.name,
            f"{f.rows_read:,}",
            f"{f.accepted:,}",
            f"{f.quarantined:,}",
            f"{f.duplicates:,}",
            note,
        )
    return table


@app.command("ingest", help=_HELP)
def ingest(
    subscribers: list[Path] | None = typer.Option(
        None, "--subscribers", metavar="FILE", help="Subscribers CSV (repeatable)."
    ),
    cdrs: list[Path] | None = typer.Option(
        None, "--cdrs", metavar="FILE", help="CDR file or FreeSWITCH JSON directory (repeatable)."
    ),
    sip_events: list[Path] | None = typer.Option(
        None, "--sip-events", metavar="FILE", help="SIP security events CSV (repeatable)."
    ),
    cdr_format: str | None = typer.Option(
        None,
        "--format",
        metavar="FORMAT",
        help="Format of the CDR files: tollguard, asterisk, freeswitch_csv, freeswitch_json or "
        "kamailio (default: detected from each file).",
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        metavar="URL",
        help=f"Database URL or SQLite file (default: ${DB_ENV}, else ./tollguard.sqlite).",
    ),
    quarantine_dir: Path = typer.Option(
        Path("quarantine"),
        "--quarantine-dir",
        metavar="DIR",
        file_okay=False,
        help="Directory for <input>.quarantine.csv files of rejected rows.",
    ),
) -> None:
    """Ingest input files into the store."""
    from tollguard.adapters.readers import CdrFormat
    from tollguard.app.ingest import IngestError

    err = Console(stderr=True)
    if not (subscribers or cdrs or sip_events):
        err.print("[red]error:[/red] nothing to ingest: give --subscribers, --cdrs or --sip-events")
        raise typer.Exit(2)
    if cdr_format is not None and cdr_format not in {f.value for f in CdrFormat}:
        choices = ", ".join(f.value for f in CdrFormat)
        err.print(f"[red]error:[/red] unknown --format {cdr_format!r} (one of: {choices})")
        raise typer.Exit(2)
    url = resolve_db_url(db)
    try:
        store = Store.open(url)
    except Exception as exc:  # any driver or migration error: report it, briefly
        err.print(f"[red]error:[/red] cannot open the database {url!r}: {exc}")
        raise typer.Exit(1) from exc

    out = Console()
    try:
        if out.is_terminal:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=out,
                transient=False,
            ) as bar:
                tasks: dict[Path, TaskID] = {}

                def on_progress(p: IngestProgress) -> None:
                    if p.path not in tasks:
                        tasks[p.path] = bar.add_task(f"{p.kind} {p.path.name}", total=None)
                    bar.update(tasks[p.path], completed=p.rows_done, total=p.rows_total or None)

                summary = _run(
                    store, subscribers, cdrs, sip_events, cdr_format, quarantine_dir, on_progress
                )
        else:
            summary = _run(store, subscribers, cdrs, sip_events, cdr_format, quarantine_dir, None)
    except IngestError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        store.close()
    out.print(_summary_table(summary))


def _run(
    store: Store,
    subscribers: list[Path] | None,
    cdrs: list[Path] | None,
    sip_events: list[Path] | None,
    cdr_format: str | None,
    quarantine_dir: Path,
    progress: ProgressCallback | None,
) -> IngestSummary:
    from tollguard.app.ingest import ingest_files

    return ingest_files(
        store,
        list(subscribers or []),
        list(cdrs or []),
        list(sip_events or []),
        cdr_format=cdr_format,
        quarantine_dir=quarantine_dir,
        progress=progress,
    )
