"""``tollguard audit``: check and read the hash-chained audit log."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from tollguard.cli import app

audit_app = typer.Typer(
    help="The audit log: every control action, case step, notice and view of call details, "
    "with who, when, why and the evidence, chained with SHA-256 so that a change, removal or "
    "reordering of any entry is detected.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

_DB = typer.Option(None, "--db", help="Database URL or SQLite file.")


@audit_app.command("verify")
def verify(
    db: str | None = _DB,
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        help="SEQ:HASH printed by an earlier verify and kept elsewhere: also detects entries "
        "removed from the end of the log (which the chain alone cannot show).",
    ),
) -> None:
    """Recompute the chain; exit 1 if any entry was changed, removed or reordered."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    err = Console(stderr=True, soft_wrap=True)
    with Store.open(resolve_db_url(db)) as store:
        ok, bad = store.verify_audit_chain()
        if not ok:
            err.print(f"[red]audit log broken at entry {bad}[/red]: changed, removed or reordered")
            raise typer.Exit(1)
        last = store.list_audit_tail()
        if expect_head is not None:
            seq_text, _, want = expect_head.partition(":")
            if not seq_text.isdigit() or len(want) != 64:
                err.print("[red]error:[/red] --expect-head is SEQ:HASH (64 hex digits)")
                raise typer.Exit(2)
            kept = store.list_audit(after_seq=int(seq_text) - 1, limit=1)
            if not kept or kept[0].seq != int(seq_text) or kept[0].hash != want:
                err.print(
                    f"[red]audit log does not contain entry {seq_text} with the expected hash"
                    "[/red]: entries were removed or the log was replaced"
                )
                raise typer.Exit(1)
    if last is None:
        typer.echo("audit log intact (empty)")
    else:  # one unwrapped line: the head is meant to be copied and kept elsewhere
        typer.echo(f"audit log intact: {last.seq} entries; head {last.seq}:{last.hash}")


@audit_app.command("list")
def list_entries(
    db: str | None = _DB,
    subject: str | None = typer.Option(None, "--subject", help="e.g. subscriber:S0000123"),
    after_seq: int = typer.Option(0, "--after", min=0, help="Entries after this sequence number."),
    limit: int = typer.Option(50, "--limit", min=1, help="How many."),
) -> None:
    """Show audit entries in order."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    table = Table(title="Audit log")
    for col in ("seq", "time", "actor", "action", "subject", "reason"):
        table.add_column(col, overflow="fold")
    with Store.open(resolve_db_url(db)) as store:
        for e in store.list_audit(subject=subject, after_seq=after_seq, limit=limit):
            table.add_row(str(e.seq), e.time.isoformat(), e.actor, e.action, e.subject, e.reason)
    Console().print(table)
