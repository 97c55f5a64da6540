"""``tollguard notices``: the templates of customer notices (list, show, edit, reset)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tollguard.cli import app
from tollguard.commands._smtp import SMTP_FROM, SMTP_PORT, SMTP_STARTTLS, SMTP_USER, smtp_mailer

notices_app = typer.Typer(
    help=(
        "Templates of the notices sent to customers, in Japanese and English: security advice, "
        "the post-notification after a suspension, the dormant-user consent request, the "
        "restored-service notice and the equipment warning. The packaged texts apply until an "
        "admin edits them; edits are kept in the store and audited. Fields are written $name "
        "or ${name}; each kind allows only its own fields (see `notices show`)."
    ),
    no_args_is_help=True,
)
app.add_typer(notices_app, name="notices")

#: Example values for ``notices show --preview``.
EXAMPLE_VALUES: dict[str, str] = {
    "subscriber_id": "S0001234",
    "when": "2026-10-31 02:14 JST",
    "reason": "fraud highly probable and the customer could not be reached",
    "months": "6",
    "last_international": "2026-03-02",
    "model": "Kumo IPX-200",
    "firmware": "2.1.4, 2.2.0",
    "incidents": "7",
    "since": "2026-10-01",
}


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _check_kind(kind: str, locale: str) -> None:
    from tollguard.domain.notices import FIELDS, LOCALES

    if kind not in FIELDS:
        raise _fail(f"--kind must be one of {', '.join(FIELDS)}")
    if locale not in LOCALES:
        raise _fail(f"--locale must be one of {', '.join(LOCALES)}")


@notices_app.command("list")
def list_command(
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
) -> None:
    """Every kind and locale, with the text in force (packaged or the carrier's own)."""
    from tollguard.adapters.store import Store
    from tollguard.app.notices import NoticeCatalog
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.notices import KINDS, LOCALES

    with Store.open(resolve_db_url(db)) as store:
        own = {(t.kind, t.locale): t for t in store.list_notice_templates()}
        catalog = NoticeCatalog(store)
        table = Table(title="Notice templates")
        for col in ("kind", "locale", "text", "edited by", "edited at", "subject"):
            table.add_column(col)
        for kind in KINDS:
            for locale in LOCALES:
                mine = own.get((kind, locale))
                table.add_row(
                    kind,
                    locale,
                    "carrier" if mine else "packaged",
                    mine.updated_by if mine else "",
                    mine.updated_at.isoformat(timespec="seconds") if mine else "",
                    catalog.template(kind, locale).subject,
                )
    Console().print(table)


@notices_app.command("show")
def show_command(
    kind: str = typer.Option(..., "--kind", help="Kind of notice."),
    locale: str = typer.Option("ja", "--locale", help="ja or en."),
    preview: bool = typer.Option(False, "--preview", help="Fill the fields with example values."),
    packaged: bool = typer.Option(False, "--packaged", help="Show the packaged text."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
) -> None:
    """Print a template (subject, then body) and the fields it may use."""
    from tollguard.adapters.store import Store
    from tollguard.app.notices import NoticeCatalog
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.notices import FIELDS, default_template, render

    _check_kind(kind, locale)
    with Store.open(resolve_db_url(db)) as store:
        catalog = NoticeCatalog(store)
        tpl = default_template(kind, locale) if packaged else catalog.template(kind, locale)
        source = "packaged" if packaged else catalog.source(kind, locale)
    err = Console(stderr=True)
    err.print(
        f"{kind}/{locale} ({source}); fields: " + ", ".join(f"${f}" for f in FIELDS[kind]),
        highlight=False,
    )
    if preview:
        subject, body = render(tpl, {f: EXAMPLE_VALUES[f] for f in FIELDS[kind]})
    else:
        subject, body = tpl.subject, tpl.body.strip("\n")
    typer.echo(f"Subject: {subject}\n\n{body}")


@notices_app.command("edit")
def edit_command(
    kind: str = typer.Option(..., "--kind", help="Kind of notice."),
    locale: str = typer.Option(..., "--locale", help="ja or en."),
    subject: str | None = typer.Option(None, "--subject", help="New subject (one line)."),
    body_file: Path | None = typer.Option(
        None, "--body-file", help="File with the new body (UTF-8)."
    ),
    by: str = typer.Option(..., "--by", help="Who edits (audited)."),
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
) -> None:
    """Replace a template's subject and/or body; checked before it is kept (and audited)."""
    from tollguard.adapters.store import Store
    from tollguard.app.notices import NoticeCatalog
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.notices import TemplateError

    _check_kind(kind, locale)
    if subject is None and body_file is None:
        raise _fail("give --subject, --body-file or both")
    body: str | None = None
    if body_file is not None:
        try:
            body = body_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"--body-file: {exc}") from exc
    with Store.open(resolve_db_url(db)) as store:
        catalog = NoticeCatalog(store)
        current = catalog.template(kind, locale)
        try:
            catalog.edit(
                kind,
                locale,
                subject=current.subject if subject is None else subject,
                body=current.body if body is None else body,
                by=by,
                at=datetime.now(UTC),
                reason=reason,
            )
        except TemplateError as exc:
            raise _fail(str(exc)) from exc
    Console().print(f"{kind}/{locale}: the carrier's template is now in force (audited)")


@notices_app.command("reset")
def reset_command(
    kind: str = typer.Option(..., "--kind", help="Kind of notice."),
    locale: str = typer.Option(..., "--locale", help="ja or en."),
    by: str = typer.Option(..., "--by", help="Who resets (audited)."),
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
) -> None:
    """Drop the carrier's template: the packaged text applies again (audited)."""
    from tollguard.adapters.store import Store
    from tollguard.commands.ingest import resolve_db_url

    _check_kind(kind, locale)
    with Store.open(resolve_db_url(db)) as store:
        dropped = store.delete_notice_template(
            kind, locale, by=by, at=datetime.now(UTC), reason=reason
        )
    message = "the packaged template applies again" if dropped else "it was packaged already"
    Console().print(f"{kind}/{locale}: {message}")


@notices_app.command("send")
def send_command(
    subscriber: list[str] = typer.Option(
        [], "--subscriber", help="Customer to advise (repeatable)."
    ),
    everyone: bool = typer.Option(False, "--all", help="Every customer with an email address."),
    db: str | None = typer.Option(None, "--db", help="Store (URL or SQLite file)."),
    smtp_host: str | None = typer.Option(None, "--smtp-host", help="SMTP server."),
    smtp_port: int = SMTP_PORT,
    smtp_from: str = SMTP_FROM,
    smtp_starttls: bool = SMTP_STARTTLS,
    smtp_user: str | None = SMTP_USER,
) -> None:
    """Send the security advice (security_advice) to customers: each notice is recorded with its
    text, and sent when --smtp-host is given (else recorded as not sent, with the reason). The
    other kinds are sent by their own workflows (suspension, restoration, dormant consent
    request, equipment warning)."""
    from tollguard.adapters.store import Store
    from tollguard.app.notices import NoticeCatalog, PreparedNotice, deliver_now
    from tollguard.commands.ingest import resolve_db_url

    if not subscriber and not everyone:
        raise _fail("give --subscriber (repeatable) or --all")
    with Store.open(resolve_db_url(db)) as store:
        if everyone:
            subs = store.list_subscribers()
        else:
            found = {sid: store.get_subscriber(sid) for sid in subscriber}
            unknown = [sid for sid, sub in found.items() if sub is None]
            if unknown:
                raise _fail(f"no such customer: {', '.join(unknown)}")
            subs = [sub for sub in found.values() if sub is not None]
        catalog = NoticeCatalog(store)
        at = datetime.now(UTC)
        todo = []
        for sub in subs:
            if not sub.email:
                continue
            subject, body = catalog.render("security_advice", {"subscriber_id": sub.subscriber_id})
            todo.append(
                PreparedNotice(
                    "security_advice",
                    sub.subscriber_id,
                    sub.email,
                    subject,
                    body,
                    f"advice:{at.date().isoformat()}",
                )
            )
        mailer = smtp_mailer(smtp_host, smtp_port, smtp_from, smtp_starttls, smtp_user)
        done = deliver_now(store, todo, mailer=mailer)
    sent = sum(1 for n in done if n.status == "sent")
    skipped = len(subs) - len(todo)
    Console().print(
        f"{len(done)} security advice notices recorded, {sent} sent"
        + ("" if mailer else " (no --smtp-host: recorded as not sent)")
        + (f"; {skipped} customers without an email address skipped" if skipped else ""),
        highlight=False,
    )
