"""``tollguard user``: logins for the analyst console and the customer portal."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from tollguard.cli import app

user_app = typer.Typer(
    help="Logins for the web console (roles analyst and admin) and the customer portal (role "
    "customer, tied to one subscriber). Passwords are stored as argon2id hashes only.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")

_DB = typer.Option(None, "--db", help="Database URL or SQLite file.")


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or typed twice at a prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _password_hash(from_stdin: bool, err: Console) -> str:
    """The new password read (see :func:`_read_password`) and hashed; exits 2 if unusable."""
    from tollguard.app.console.security import hash_password

    try:
        return hash_password(_read_password(from_stdin))
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@user_app.command("create")
def create(
    role: str = typer.Option(..., "--role", help="analyst, admin or customer."),
    username: str = typer.Option(..., "--username", help="The login name."),
    subscriber_id: str | None = typer.Option(
        None, "--subscriber-id", help="The customer's subscriber id (role customer only)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    locale: str = typer.Option("ja", "--locale", help="Preferred language: ja or en."),
    db: str | None = _DB,
    by: str = typer.Option("cli", "--by", help="Who creates it (for the audit log)."),
) -> None:
    """Create a login (the password is asked for, or read from stdin)."""
    from tollguard.adapters.store import Store, StoreError
    from tollguard.commands.ingest import resolve_db_url

    err = Console(stderr=True)
    if locale not in ("ja", "en"):
        err.print("[red]error:[/red] --locale is ja or en")
        raise typer.Exit(2)
    hashed = _password_hash(password_stdin, err)
    with Store.open(resolve_db_url(db)) as store:
        try:
            user = store.create_web_user(
                username,
                role,
                password_hash=hashed,
                by=by,
                at=datetime.now(UTC),
                subscriber_id=subscriber_id,
                locale=locale,
            )
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    typer.echo(f"user {user.username} ({user.role}) created with id {user.id}")


@user_app.command("password")
def password(
    username: str = typer.Option(..., "--username", help="The login name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    db: str | None = _DB,
    by: str = typer.Option("cli", "--by", help="Who changes it (for the audit log)."),
) -> None:
    """Set a new password (also unlocks a login locked after failed attempts)."""
    from tollguard.adapters.store import Store, StoreError
    from tollguard.commands.ingest import resolve_db_url

    err = Console(stderr=True)
    hashed = _password_hash(password_stdin, err)
    with Store.open(resolve_db_url(db)) as store:
        user = store.get_web_user(username)
        if user is None:
            err.print(f"[red]error:[/red] no user {username!r}")
            raise typer.Exit(2)
        try:
            store.set_web_user_password(user.id, password_hash=hashed, by=by, at=datetime.now(UTC))
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    typer.echo(f"password of {username} changed; their open sessions end")


@user_app.command("list")
def list_users(db: str | None = _DB) -> None:
    """List logins (never their passwords)."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    table = Table(title="Console and portal logins")
    for col in ("id", "username", "role", "subscriber", "locale", "created", "locked until"):
        table.add_column(col)
    with Store.open(resolve_db_url(db)) as store:
        for u in store.list_web_users():
            locked = "" if u.locked_until is None else u.locked_until.isoformat()
            table.add_row(
                str(u.id),
                u.username,
                u.role,
                u.subscriber_id or "",
                u.locale,
                u.created_at.isoformat(),
                locked,
            )
    Console().print(table)
