"""Command-line SMTP options shared by the commands that send customer notices."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from tollguard.adapters.notify import Channel

SMTP_PORT: int = typer.Option(25, "--smtp-port", help="SMTP port.")
SMTP_FROM: str = typer.Option("tollguard@localhost", "--smtp-from", help="Sender address.")
SMTP_STARTTLS: bool = typer.Option(False, "--smtp-starttls", help="Use STARTTLS.")
SMTP_USER: str | None = typer.Option(
    None, "--smtp-user", help="SMTP login; the password is read from $TOLLGUARD_SMTP_PASSWORD."
)


def smtp_mailer(
    host: str | None, port: int, sender: str, starttls: bool, user: str | None
) -> Channel | None:
    """An SMTP mailer from command-line options (password from $TOLLGUARD_SMTP_PASSWORD), or
    ``None`` without a host (notices are then recorded as not sent, with the reason)."""
    if not host:
        return None
    from tollguard.adapters.notify import SmtpMailer

    password = os.environ.get("TOLLGUARD_SMTP_PASSWORD") if user else None
    return SmtpMailer(
        host, port, sender=sender, starttls=starttls, username=user, password=password
    )
