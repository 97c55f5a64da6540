"""``tollguard token``: API tokens for switches, analysts and admins."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from tollguard.cli import app

token_app = typer.Typer(
    help="API tokens for the live service. Roles: switch (authorization and events only), "
    "analyst (reads, controls, cases), admin (everything, tokens included). Only a hash of "
    "each token is stored; the token is printed once, when created.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")

_DB = typer.Option(None, "--db", help="Database URL or SQLite file.")


@token_app.command("create")
def create(
    role: str = typer.Option(..., "--role", help="switch, analyst or admin."),
    name: str = typer.Option(..., "--name", help="Who or what holds it (e.g. kamailio-tokyo-1)."),
    db: str | None = _DB,
    by: str = typer.Option("cli", "--by", help="Who creates it (for the audit log)."),
) -> None:
    """Create a token and print it (only the token, on one line)."""
    from tollguard.adapters.store import Store, StoreError
    from tollguard.app.service.auth import new_token, token_hash
    from tollguard.commands.ingest import resolve_db_url

    token = new_token()
    with Store.open(resolve_db_url(db)) as store:
        try:
            store.create_token(
                name, role, token_hash=token_hash(token), by=by, at=datetime.now(UTC)
            )
        except StoreError as exc:
            Console(stderr=True).print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    typer.echo(token)


@token_app.command("list")
def list_tokens(db: str | None = _DB) -> None:
    """List tokens (never their values)."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    table = Table(title="API tokens")
    for col in ("id", "name", "role", "created", "revoked"):
        table.add_column(col)
    with Store.open(resolve_db_url(db)) as store:
        for t in store.list_tokens():
            revoked = "" if t.revoked_at is None else t.revoked_at.isoformat()
            table.add_row(str(t.id), t.name, t.role, t.created_at.isoformat(), revoked)
    Console().print(table)


@token_app.command("revoke")
def revoke(
    token_id: int = typer.Argument(..., help="The token's id (see `tollguard token list`)."),
    reason: str = typer.Option(..., "--reason", help="Why (for the audit log)."),
    db: str | None = _DB,
    by: str = typer.Option("cli", "--by", help="Who revokes it."),
) -> None:
    """Revoke a token (a running service picks this up on its next token reload or restart)."""
    from tollguard.adapters.store import Store, StoreError
    from tollguard.commands.ingest import resolve_db_url

    with Store.open(resolve_db_url(db)) as store:
        try:
            store.revoke_token(token_id, by=by, reason=reason, at=datetime.now(UTC))
        except StoreError as exc:
            Console(stderr=True).print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    typer.echo(f"token {token_id} revoked")
