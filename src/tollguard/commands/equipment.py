"""``tollguard equipment``: do confirmed incidents concentrate on one equipment model?"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tollguard.cli import app
from tollguard.commands._smtp import SMTP_FROM, SMTP_PORT, SMTP_STARTTLS, SMTP_USER, smtp_mailer

equipment_app = typer.Typer(
    help=(
        "Equipment models (the source document: damage concentrated on one vendor's PBX model). "
        "Learns each customer's model from the User-Agent of their SIP registrations (else the "
        "subscribers CSV's equipment column) and tests whether confirmed incidents crowd onto a "
        "model more than chance would give, given how many customers use it. For each model "
        "flagged: the list of every customer on it, a ready warning notice for each, and a "
        "summary for the vendor without customer identities."
    ),
    no_args_is_help=True,
)
app.add_typer(equipment_app, name="equipment")


@equipment_app.command("report")
def report_command(
    subscribers: Path | None = typer.Option(
        None, "--subscribers", help="Subscribers CSV (its equipment column is optional)."
    ),
    sip_events: list[Path] = typer.Option(
        [], "--sip-events", help="SIP security events CSV (repeatable): User-Agents seen."
    ),
    replay: Path | None = typer.Option(
        None, "--replay", help="A `tollguard replay` output: its suspensions are the incidents."
    ),
    truth: Path | None = typer.Option(
        None,
        "--truth",
        help="A `tollguard simulate` directory: its labelled victims are the incidents (and its "
        "subscribers.csv and sip_events.csv are read when --subscribers is not given).",
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        help="Store (URL or SQLite file): customers, ingested SIP events, suspensions and "
        "confirmed-fraud contacts. Used when no --subscribers or --truth is given, and for "
        "--notify.",
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="ISO 8601 time of the check (default: the latest incident)."
    ),
    window_days: float = typer.Option(30.0, "--window-days", help="Incidents this recent count."),
    alpha: float = typer.Option(1e-3, "--alpha", help="False-alarm probability of one check."),
    min_incidents: int = typer.Option(3, "--min-incidents", help="Fewest victims on a model."),
    min_rate_ratio: float = typer.Option(
        2.0, "--min-rate-ratio", help="Model's incident rate over the carrier's, at least."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for models.csv and, per model flagged, its lists."
    ),
    notify: bool = typer.Option(
        False,
        "--notify",
        help="Record (and with --smtp-host send) the warning to every customer on each model "
        "flagged, in the store's notifications (each customer once per model).",
    ),
    smtp_host: str | None = typer.Option(None, "--smtp-host", help="SMTP server for --notify."),
    smtp_port: int = SMTP_PORT,
    smtp_from: str = SMTP_FROM,
    smtp_starttls: bool = SMTP_STARTTLS,
    smtp_user: str | None = SMTP_USER,
) -> None:
    """Test incident concentration per equipment model; list, warn and summarise."""
    from tollguard.adapters.readers import InputFileError
    from tollguard.adapters.store import Store
    from tollguard.app.equipment import (
        build_report,
        inputs_from_files,
        inputs_from_store,
        notify_customers,
        write_outputs,
    )
    from tollguard.app.notices import JST, NoticeCatalog
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.equipment import ConcentrationSettings

    console, err = Console(), Console(stderr=True)

    def fail(message: str) -> typer.Exit:
        err.print(f"[red]error:[/red] {message}", highlight=False)
        return typer.Exit(2)

    if notify and db is None:
        raise fail("--notify records the notices in a store: give --db")
    try:
        cfg = ConcentrationSettings(alpha, min_incidents, min_rate_ratio, window_days)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    try:
        when = datetime.fromisoformat(as_of).timestamp() if as_of else None
    except ValueError as exc:
        raise fail(f"--as-of: {as_of!r} is not an ISO 8601 time") from exc
    if subscribers is None and truth is not None:
        subscribers = truth / "subscribers.csv"
        if not sip_events and (truth / "sip_events.csv").exists():
            sip_events = [truth / "sip_events.csv"]
    store = Store.open(resolve_db_url(db)) if db is not None else None
    try:
        if subscribers is not None:
            try:
                inputs = inputs_from_files(subscribers, sip_events, replay=replay, truth=truth)
            except (InputFileError, OSError, ValueError) as exc:
                raise fail(str(exc)) from exc
            source = "files"
        elif store is not None:
            inputs = inputs_from_store(store)
            source = "store"
        else:
            raise fail("give --subscribers (with --replay or --truth), --truth, or --db")
        report = build_report(inputs, as_of=when, settings=cfg)
        table = Table(
            title=f"Equipment models ({source}): {report.customers_known:,} customers with a "
            f"known model, {report.customers_unknown:,} unknown; {report.incidents_attributed} "
            f"confirmed incidents on known models, {report.incidents_unattributed} on unknown, "
            f"in the {cfg.window_days:g} days to "
            f"{datetime.fromtimestamp(report.as_of, JST).isoformat(timespec='seconds')}"
        )
        for col in ("model", "customers", "incidents", "expected", "ratio", "p-value", "alert"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for f in report.findings[:25]:
            table.add_row(
                f.name,
                f"{f.customers:,}",
                str(f.incidents),
                f"{f.expected:.2f}",
                f"{f.rate_ratio:.1f}",
                f"{f.p_value:.2e}",
                "[bold red]ALERT[/bold red]" if f.alert else "",
            )
        console.print(table)
        console.print(
            f"alert when p < {cfg.alpha:g} / {len(report.findings)} models, at least "
            f"{cfg.min_incidents} incidents and {cfg.min_rate_ratio:g}× the carrier's rate",
            highlight=False,
        )
        catalog = NoticeCatalog(store)
        if out is not None:
            write_outputs(report, inputs, out, catalog)
            console.print(f"written to {out}", highlight=False)
        for alert in report.alerts:
            f = alert.finding
            console.print(
                f"[bold red]{f.name}[/bold red]: {f.incidents} of {f.customers} customers hit "
                f"(chance: {f.expected:.1f}); warning list of {len(alert.customers)} customers; "
                f"firmware seen: {', '.join(alert.firmware) or 'none'}",
                highlight=False,
            )
            if notify and store is not None:
                mailer = smtp_mailer(smtp_host, smtp_port, smtp_from, smtp_starttls, smtp_user)
                recorded, sent = notify_customers(store, alert, inputs, mailer=mailer)
                console.print(
                    f"  {recorded} warnings recorded, {sent} sent"
                    + ("" if mailer else " (no --smtp-host: recorded as not sent)"),
                    highlight=False,
                )
        if not report.alerts:
            console.print("no model has more incidents than chance would give")
    finally:
        if store is not None:
            store.close()
