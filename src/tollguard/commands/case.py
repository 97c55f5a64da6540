"""``tollguard case``: stored cases, and their evidence packs."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tollguard.cli import app

case_app = typer.Typer(
    help=(
        "Cases the live service opened (an anomaly on one customer) and their evidence packs: a "
        "self-contained HTML document and a CSV with the incident's timeline, the calls (times, "
        "destination country and range, durations, charges), the source addresses and their "
        "countries, and every action taken with its time and reason: what the customer needs "
        "for a police report and the carrier for the billing dispute."
    ),
    no_args_is_help=True,
)
app.add_typer(case_app, name="case")


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {option}: {value!r} is not ISO 8601")
        raise typer.Exit(2) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@case_app.command("list")
def list_command(
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
    open_only: bool = typer.Option(False, "--open", help="Only cases still open."),
    subscriber: str | None = typer.Option(None, "--subscriber", help="One customer's cases."),
) -> None:
    """Stored cases, oldest first."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    with Store.open(resolve_db_url(db)) as store:
        cases = store.list_cases(subscriber_id=subscriber, open_only=open_only)
    table = Table(title=f"{len(cases)} cases")
    for col in ("case", "customer", "opened", "status", "score", "closed", "reasons"):
        table.add_column(col)
    for c in cases:
        reasons = c.evidence.get("reasons", []) if isinstance(c.evidence, dict) else []
        table.add_row(
            str(c.id),
            c.subscriber_id,
            c.opened_at.isoformat(timespec="seconds"),
            c.status,
            f"{c.score:.4f}",
            c.closed_at.isoformat(timespec="seconds") if c.closed_at else "",
            ", ".join(map(str, reasons)),
        )
    Console().print(table)


@case_app.command("export")
def export_command(
    case_id: int = typer.Argument(..., help="The stored case (tollguard case list)."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
    out: Path = typer.Option(Path("."), "--out", help="Directory for the HTML and CSV files."),
    by: str | None = typer.Option(None, "--by", help="Who produces it (audited; default: you)."),
    reason: str = typer.Option("", "--reason", help="Why, e.g. 'police report' (audited)."),
    days_before: float = typer.Option(
        14.0, "--days-before", min=0, help="Days before the case opened to include."
    ),
    days_after: float = typer.Option(
        1.0, "--days-after", min=0, help="Days after the case closed to include."
    ),
    since: str | None = typer.Option(None, "--since", help="Window start (ISO 8601)."),
    until: str | None = typer.Option(None, "--until", help="Window end (ISO 8601)."),
    carrier: str = typer.Option("", "--carrier", help="The carrier's name, for the footer."),
) -> None:
    """Write a case's evidence pack (HTML and CSV); producing it is audited (case.export)."""
    from tollguard.adapters.store import Store
    from tollguard.app.evidence import EvidenceError, export_case
    from tollguard.commands.ingest import resolve_db_url

    who = by or f"cli:{getpass.getuser()}"
    with Store.open(resolve_db_url(db)) as store:
        try:
            done = export_case(
                store,
                case_id,
                by=who,
                reason=reason,
                out_dir=out,
                carrier=carrier,
                before_s=days_before * 86400.0,
                after_s=days_after * 86400.0,
                since=_time(since, "--since"),
                until=_time(until, "--until"),
            )
        except EvidenceError as exc:
            Console(stderr=True).print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    t = done.pack.totals()
    Console().print(
        f"case {case_id} ({done.pack.subscriber_id}): {t['calls']:,} calls of the incident "
        f"(¥{t['charge_jpy']:,.0f}), {len(done.pack.actions)} actions; written "
        + ", ".join(str(p) for p in done.paths)
        + " (audited as case.export)",
        highlight=False,
    )
