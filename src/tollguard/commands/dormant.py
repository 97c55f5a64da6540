"""``tollguard dormant``: customers who never call abroad, and their consent to suspension."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from tollguard.adapters.csvsafe import SafeCsvWriter
from tollguard.cli import app
from tollguard.commands._smtp import SMTP_FROM, SMTP_PORT, SMTP_STARTTLS, SMTP_USER, smtp_mailer

if TYPE_CHECKING:
    from tollguard.adapters.notify import Channel
    from tollguard.adapters.store import Store

dormant_app = typer.Typer(
    help=(
        "Dormant international calling (the source document's measure 3): list customers with "
        "international calling enabled and no call abroad for N months, and record their consent "
        "to suspend it. Every consent change is audited; a grant suspends international calling."
    ),
    no_args_is_help=True,
)
app.add_typer(dormant_app, name="dormant")

_STATES = ("requested", "granted", "declined", "withdrawn")


def _iso(t: float | None) -> str:
    return "" if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _send_consent_request(
    store: Store, subscriber_id: str, months: float, mailer: Channel | None
) -> str:
    """Record (and send, with a mailer) the consent request notice; says what happened."""
    from tollguard.app.notices import NoticeCatalog, PreparedNotice, deliver_now, format_day

    sub = store.get_subscriber(subscriber_id)
    if sub is None or not sub.email:
        return "no email address on record: ask the customer another way"
    abroad = [
        r.cdr.start.timestamp()
        for r in store.list_cdrs(subscriber_id=subscriber_id)
        if r.callee_e164 and not r.callee_e164.startswith("+81")
    ]
    subject, body = NoticeCatalog(store).render(
        "dormant_consent_request",
        {
            "subscriber_id": subscriber_id,
            "months": f"{months:g}",
            "last_international": format_day(max(abroad)) if abroad else "-",
        },
    )
    notice = PreparedNotice(
        "dormant_consent_request", subscriber_id, sub.email, subject, body, "consent:requested"
    )
    [done] = deliver_now(store, [notice], mailer=mailer)
    if done.status == "sent":
        return f"consent request sent to {sub.email}"
    return f"consent request recorded, not sent: {done.last_error}"


@dormant_app.command("report")
def report_command(
    subscribers: Path = typer.Option(..., "--subscribers", help="Subscribers CSV."),
    cdrs: list[Path] = typer.Option(..., "--cdrs", help="CDR files (repeatable)."),
    months: float = typer.Option(6.0, "--months", min=0.5, help="Months without a call abroad."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Report date (ISO 8601; default: the last call in the CDRs)."
    ),
    db: str | None = typer.Option(None, "--db", help="Store with consent states (URL or file)."),
    out: Path | None = typer.Option(None, "--out", help="Write the list as CSV here."),
) -> None:
    """List dormant customers with their consent state."""
    from tollguard.adapters.readers import InputFileError, read_any_cdrs, read_subscribers
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.dormant import DormancyTracker
    from tollguard.domain.records import QuarantinedRow, Subscriber

    console, err = Console(), Console(stderr=True)
    tracker = DormancyTracker()
    bad = 0
    try:
        subs = [s for s in read_subscribers(subscribers) if isinstance(s, Subscriber)]
        for path in cdrs:
            for rec in read_any_cdrs(path):
                if isinstance(rec, QuarantinedRow):
                    bad += 1
                else:
                    tracker.learn_one(rec)
    except InputFileError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if tracker.last_time is None:
        err.print("[red]error:[/red] no readable call in the CDR files")
        raise typer.Exit(2)
    try:
        when = datetime.fromisoformat(as_of).timestamp() if as_of else tracker.last_time
    except ValueError as exc:
        err.print(f"[red]error:[/red] --as-of: {as_of!r} is not an ISO 8601 date")
        raise typer.Exit(2) from exc
    if bad:
        err.print(f"[yellow]{bad} bad CDR rows skipped (ingest them to see why)[/yellow]")
    if not tracker.covers(when, months):
        err.print(
            f"[yellow]warning:[/yellow] the CDRs start {_iso(tracker.first_time)}: less than "
            f"{months:g} months before {_iso(when)}, so 'dormant' here means only 'no call "
            "abroad in the data'"
        )
    dormant = tracker.report(subs, when, months)
    consents = {}
    if db is not None:
        store = Store.open(resolve_db_url(db))
        consents = {c.subscriber_id: c.state for c in store.list_consents()}
        store.close()
    rows = [
        (
            d.subscriber_id,
            d.segment,
            d.email,
            _iso(d.last_international),
            d.calls_seen,
            consents.get(d.subscriber_id, "not_asked"),
        )
        for d in dormant
    ]
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = SafeCsvWriter(fh)
            w.writerow(
                ["subscriber_id", "segment", "email", "last_international", "calls_seen", "consent"]
            )
            w.writerows(rows)
    table = Table(
        title=f"{len(rows):,} of {len(subs):,} customers: international calling enabled, no call "
        f"abroad in {months:g} months (as of {_iso(when)})"
    )
    for col in ("subscriber", "segment", "last call abroad", "calls seen", "consent"):
        table.add_column(col)
    for r in rows[:50]:
        table.add_row(r[0], r[1], r[3] or "never", str(r[4]), r[5])
    console.print(table)
    if len(rows) > 50:
        console.print(f"... {len(rows) - 50:,} more" + (f" in {out}" if out else " (use --out)"))


@dormant_app.command("consent")
def consent_command(
    subscriber_id: str = typer.Argument(..., help="The customer."),
    state: str = typer.Option(..., "--state", help="requested, granted, declined or withdrawn."),
    by: str = typer.Option(..., "--by", help="Who records it (audited)."),
    reason: str = typer.Option(..., "--reason", help="Why, e.g. how the customer answered."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
    months: float = typer.Option(
        6.0, "--months", min=0.5, help="Months without a call abroad (said in the request)."
    ),
    smtp_host: str | None = typer.Option(
        None, "--smtp-host", help="SMTP server for the consent request (else recorded, unsent)."
    ),
    smtp_port: int = SMTP_PORT,
    smtp_from: str = SMTP_FROM,
    smtp_starttls: bool = SMTP_STARTTLS,
    smtp_user: str | None = SMTP_USER,
) -> None:
    """Record a consent change; a grant suspends international calling, a withdrawal restores.
    A request sends the customer the consent request notice (dormant_consent_request), recorded
    with its text."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.dormant import ConsentError, ConsentState, check_transition

    err = Console(stderr=True)
    if state not in _STATES:
        err.print(f"[red]error:[/red] --state must be one of {', '.join(_STATES)}")
        raise typer.Exit(2)
    new = ConsentState(state)
    request_note = ""
    store = Store.open(resolve_db_url(db))
    try:
        current = store.get_consent(subscriber_id)
        check_transition(ConsentState(current.state) if current else ConsentState.NOT_ASKED, new)
        now = datetime.now(UTC)
        with store.begin() as conn:
            store.set_consent(subscriber_id, new.value, by=by, reason=reason, at=now, conn=conn)
            if new is ConsentState.GRANTED:
                store.create_control(
                    "suspension",
                    subscriber_id,
                    reason=f"dormant, with consent: {reason}",
                    created_by=by,
                    at=now,
                    evidence={"consent": "granted"},
                    conn=conn,
                )
            elif new is ConsentState.WITHDRAWN:
                for c in store.active_controls(now, kind="suspension", subject=subscriber_id):
                    store.lift_control(
                        c.id, by=by, reason=f"consent withdrawn: {reason}", at=now, conn=conn
                    )
        if new is ConsentState.REQUESTED:
            mailer = smtp_mailer(smtp_host, smtp_port, smtp_from, smtp_starttls, smtp_user)
            request_note = _send_consent_request(store, subscriber_id, months, mailer)
    except ConsentError as exc:
        err.print(f"[red]error:[/red] {subscriber_id}: {exc}")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    effect = {
        ConsentState.REQUESTED: "consent request to be sent",
        ConsentState.GRANTED: "international calling suspended",
        ConsentState.DECLINED: "nothing changes",
        ConsentState.WITHDRAWN: "international calling restored",
    }[new]
    if new is ConsentState.REQUESTED:
        effect = request_note
    Console().print(f"{subscriber_id}: consent {new.value} ({effect}); recorded in the audit log")
