"""Email over SMTP (smtplib): UTF-8 messages, optional STARTTLS and login."""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses

from tollguard.adapters.notify.notification import DeliveryError, Notification

#: Headers folded with CRLF; bodies in base64 or quoted-printable when not ASCII (no 8BITMIME
#: needed from the server). Header values with CR or LF are refused by this policy.
POLICY = SMTP.clone(cte_type="7bit")


def _address(text: str, what: str) -> Address:
    """The single address in ``text`` (``name <user@host>`` or ``user@host``)."""
    if "\r" in text or "\n" in text:
        raise DeliveryError(f"{what} address contains a line break: {text!r}", permanent=True)
    found = getaddresses([text])
    if len(found) != 1 or "@" not in found[0][1]:
        raise DeliveryError(f"not a single email address ({what}): {text!r}", permanent=True)
    name, addr = found[0]
    user, _, domain = addr.rpartition("@")
    if not user or not domain:
        raise DeliveryError(f"not an email address ({what}): {text!r}", permanent=True)
    return Address(display_name=name, username=user, domain=domain)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_permanent(exc: smtplib.SMTPException) -> bool:
    """5xx answers and unsupported features will not get better by retrying; 4xx ones may."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPNotSupportedError)


class SmtpMailer:
    """Sends each notification as one email through an SMTP server."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("SMTP login needs both a username and a password")
        self.host = host
        self.port = port
        self.sender = _address(sender, "sender")
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context

    @property
    def name(self) -> str:
        """``smtp://host:port`` (for reports)."""
        return f"smtp://{self.host}:{self.port}"

    def message(self, notification: Notification) -> EmailMessage:
        """The email for ``notification`` (Message-ID stable across retries)."""
        msg = EmailMessage(policy=POLICY)
        msg["From"] = self.sender
        msg["To"] = _address(notification.recipient, "recipient")
        msg["Subject"] = _one_line(notification.subject)
        msg["Date"] = format_datetime(datetime.fromtimestamp(notification.created_at, UTC))
        msg["Message-ID"] = f"<{notification.delivery_id}.tollguard@{self.sender.domain}>"
        msg["X-Tollguard-Kind"] = _one_line(str(notification.kind))
        if notification.reference:
            msg["X-Tollguard-Reference"] = _one_line(notification.reference)
        msg.set_content(notification.body, charset="utf-8")
        return msg

    def send(self, notification: Notification) -> None:
        """Deliver ``notification``; raise :class:`DeliveryError` on any failure."""
        msg = self.message(notification)
        where = f"{self.host}:{self.port}"
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP server {where} unreachable: {exc}") from exc
        try:
            if self.starttls:
                smtp.starttls(context=self._ssl_context or ssl.create_default_context())
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
            smtp.send_message(msg)
        except smtplib.SMTPException as exc:
            raise DeliveryError(
                f"SMTP delivery to {notification.recipient} via {where} failed: {exc}",
                permanent=_is_permanent(exc),
            ) from exc
        except OSError as exc:
            raise DeliveryError(f"SMTP connection to {where} failed: {exc}") from exc
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
