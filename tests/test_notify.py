"""Notifications: real SMTP (aiosmtpd) and HTTP servers on loopback, signatures, retries."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tollguard.adapters.notify import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BackgroundDispatcher,
    DeliveryError,
    DeliveryReport,
    Dispatcher,
    Notification,
    NotificationKind,
    RetryPolicy,
    SmtpMailer,
    WebhookSender,
    sign,
    verify_signature,
)

pytestmark = pytest.mark.timeout(60)

CREATED = datetime(2026, 11, 28, 14, 0, tzinfo=UTC).timestamp()
SECRET = "s3cret-webhook-key"
JA_SUBJECT = "【重要】国際電話のご利用を一時休止しました"
JA_BODY = (
    "山田 太郎 様\n\n"
    "お客様の回線から高額な国際電話の発信が続いたため、国際通話を一時休止しました（事後連絡）。\n"
    "ご本人の発信であればご連絡ください。\n"
)


def notification(**changes: Any) -> Notification:
    fields: dict[str, Any] = {
        "kind": NotificationKind.POST_NOTIFICATION,
        "recipient": "山田 太郎 <taro@customer.example>",
        "subject": JA_SUBJECT,
        "body": JA_BODY,
        "reference": "case-42",
        "created_at": CREATED,
        "subscriber_id": "S000123",
    }
    fields.update(changes)
    return Notification(**fields)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- SMTP --------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every message; refuses recipients listed in ``refuse``."""

    messages: list[Any] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def parse(envelope: Any) -> EmailMessage:
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_smtp_delivers_japanese_mail_with_proper_headers(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, sender="tollguard NOC <noc@carrier.example>", timeout=5)
    mailer.send(notification())

    [envelope] = inbox.messages
    assert envelope.mail_from == "noc@carrier.example"
    assert envelope.rcpt_tos == ["taro@customer.example"]
    raw: bytes = envelope.content
    assert raw.isascii()  # no 8BITMIME needed: headers RFC 2047, body base64/quoted-printable
    msg = parse(envelope)
    assert msg["Subject"] == JA_SUBJECT
    assert msg["To"].addresses[0].display_name == "山田 太郎"
    assert msg["To"].addresses[0].addr_spec == "taro@customer.example"
    assert msg["From"].addresses[0].addr_spec == "noc@carrier.example"
    assert msg["Date"].datetime == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@carrier.example>")
    assert msg["X-Tollguard-Kind"] == "post_notification"
    assert msg["X-Tollguard-Reference"] == "case-42"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == JA_BODY  # CRLF on the wire


def test_message_id_is_stable_across_retries() -> None:
    mailer = SmtpMailer("127.0.0.1", 25, sender="noc@carrier.example")
    first = mailer.message(notification())
    again = mailer.message(notification())
    other = mailer.message(notification(reference="case-43"))
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]


def test_smtp_subject_line_breaks_cannot_inject_headers(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, sender="noc@carrier.example", timeout=5)
    mailer.send(notification(subject="Alert\r\nBcc: victim@elsewhere.example"))
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["taro@customer.example"]
    msg = parse(envelope)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Alert Bcc: victim@elsewhere.example"


@pytest.mark.parametrize(
    "recipient", ["", "not-an-address", "a@x.example, b@y.example", "a@x.example\r\nBcc: b@y"]
)
def test_smtp_bad_recipient_is_a_permanent_error(recipient: str) -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), sender="noc@carrier.example", timeout=2)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(notification(recipient=recipient))
    assert caught.value.permanent


def test_smtp_unreachable_server_raises_delivery_error() -> None:
    port = free_port()  # nothing listens there any more
    mailer = SmtpMailer("127.0.0.1", port, sender="noc@carrier.example", timeout=2)
    with pytest.raises(DeliveryError, match=rf"SMTP server 127\.0\.0\.1:{port} unreachable"):
        mailer.send(notification())


def test_smtp_refused_recipient_permanent_on_5xx_transient_on_4xx(
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    inbox.refuse = {
        "gone@customer.example": "550 5.1.1 No such user",
        "busy@customer.example": "451 4.3.0 Try again later",
    }
    mailer = SmtpMailer("127.0.0.1", port, sender="noc@carrier.example", timeout=5)
    with pytest.raises(DeliveryError, match="No such user") as gone:
        mailer.send(notification(recipient="gone@customer.example"))
    assert gone.value.permanent
    with pytest.raises(DeliveryError, match="Try again later") as busy:
        mailer.send(notification(recipient="busy@customer.example"))
    assert not busy.value.permanent
    assert inbox.messages == []


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a certificate for the STARTTLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_smtp_starttls_and_login(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
            b"tollguard",
            b"pa55word",
        )
        return AuthResult(success=ok, handled=False)  # the server answers 535 itself

    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        common: dict[str, Any] = {"sender": "noc@carrier.example", "timeout": 5}
        good = SmtpMailer(
            "127.0.0.1", port, starttls=True, username="tollguard", password="pa55word",
            ssl_context=client_tls, **common,
        )  # fmt: skip
        good.send(notification())
        assert parse(inbox.messages[0])["Subject"] == JA_SUBJECT

        bad = SmtpMailer(
            "127.0.0.1", port, starttls=True, username="tollguard", password="wrong",
            ssl_context=client_tls, **common,
        )  # fmt: skip
        with pytest.raises(DeliveryError, match="failed") as caught:
            bad.send(notification())
        assert caught.value.permanent  # 535: a wrong password does not get better

        no_tls = SmtpMailer("127.0.0.1", port, **common)
        with pytest.raises(DeliveryError):
            no_tls.send(notification())
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


# -- webhooks ----------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class Hook:
    """A local HTTP server answering POSTs with scripted statuses (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[Received] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                hook.received.append(Received(dict(self.headers.items()), body))
                i = min(len(hook.received), len(hook.statuses)) - 1
                status = hook.statuses[i]
                reply = b"ok" if status < 300 else b"temporarily unavailable"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tollguard?token=x"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def hook_factory() -> Iterator[Any]:
    hooks: list[Hook] = []

    def make(*statuses: int) -> Hook:
        hooks.append(Hook(list(statuses) or [200]))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


NOW = 1_795_000_000.0


def sender(url: str, now: float = NOW) -> WebhookSender:
    return WebhookSender(url, SECRET, timeout=5, clock=lambda: now)


def test_webhook_posts_signed_json(hook_factory: Any) -> None:
    hook = hook_factory(204)
    webhook = sender(hook.url)
    assert webhook.name == f"{hook.url.split('?')[0]}"  # no query (it may carry a token)
    webhook.send(notification())

    [got] = hook.received
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(got.body) == {
        "kind": "post_notification",
        "subject": JA_SUBJECT,
        "body": JA_BODY,
        "subscriber_id": "S000123",
        "reference": "case-42",
        "created_at": CREATED,
    }
    timestamp, signature = got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER]
    assert timestamp == str(int(NOW))
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(SECRET, timestamp, got.body, signature, now=NOW + 10)
    assert got.headers["X-Tollguard-Delivery"] == notification().delivery_id

    tampered = got.body.replace("休止".encode(), "再開".encode())
    assert tampered != got.body
    assert not verify_signature(SECRET, timestamp, tampered, signature, now=NOW)
    assert not verify_signature("other-secret", timestamp, got.body, signature, now=NOW)
    assert not verify_signature(SECRET, str(int(NOW) + 1), got.body, signature, now=NOW)
    # stale (a replay ten minutes later) and too far in the future
    assert not verify_signature(SECRET, timestamp, got.body, signature, now=NOW + 301)
    assert not verify_signature(SECRET, timestamp, got.body, signature, now=NOW - 301)
    assert verify_signature(SECRET, timestamp, got.body, signature, now=NOW + 600, tolerance_s=900)


def test_signature_is_hmac_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, body) == f"sha256={expected}"


@pytest.mark.parametrize("timestamp", ["", "abc", "-5", "1.5e9", "１７００００００００", "9" * 40])
def test_verify_rejects_malformed_timestamps(timestamp: str) -> None:
    body = b"{}"
    assert not verify_signature("k", timestamp, body, sign("k", timestamp, body), now=1.7e9)


def test_webhook_non_2xx_and_unreachable_raise(hook_factory: Any) -> None:
    hook = hook_factory(503)
    with pytest.raises(DeliveryError, match="answered 503") as unavailable:
        sender(hook.url).send(notification())
    assert not unavailable.value.permanent
    hook = hook_factory(404)
    with pytest.raises(DeliveryError, match="answered 404") as missing:
        sender(hook.url).send(notification())
    assert missing.value.permanent
    with pytest.raises(DeliveryError, match="unreachable") as refused:
        sender(f"http://127.0.0.1:{free_port()}/hook").send(notification())
    assert not refused.value.permanent


def test_webhook_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookSender("ftp://example.net/hook", SECRET)
    with pytest.raises(ValueError, match="secret"):
        WebhookSender("https://example.net/hook", "")


# -- retries -----------------------------------------------------------------------------------


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_retry_delivers_after_two_failures(hook_factory: Any) -> None:
    hook = hook_factory(500, 503, 200)
    sleeps = Sleeps()
    dispatcher = Dispatcher(
        RetryPolicy(max_attempts=5, base_delay_s=0.5), sleep=sleeps, clock=lambda: 1234.0
    )
    report = dispatcher.deliver(notification(), sender(hook.url))
    assert report.delivered
    assert report.attempts == 3
    assert report.delivered_at == 1234.0
    assert sleeps.delays == [0.5, 1.0]
    assert report.last_error is not None and "503" in report.last_error
    assert len(report.errors) == 2
    assert len(hook.received) == 3
    # every attempt is the same delivery, freshly signed
    assert len({r.headers["X-Tollguard-Delivery"] for r in hook.received}) == 1


def test_retry_gives_up_after_max_attempts_with_last_error() -> None:
    sleeps = Sleeps()
    port = free_port()
    mailer = SmtpMailer("127.0.0.1", port, sender="noc@carrier.example", timeout=2)
    policy = RetryPolicy(max_attempts=4, base_delay_s=2, factor=3, max_delay_s=10)
    report = Dispatcher(policy, sleep=sleeps).deliver(notification(), mailer)
    assert not report.delivered
    assert report.attempts == 4
    assert report.delivered_at is None
    assert sleeps.delays == [2, 6, 10]  # capped at max_delay_s
    assert report.channel == f"smtp://127.0.0.1:{port}"
    assert report.last_error is not None and "unreachable" in report.last_error


def test_permanent_failure_is_not_retried(hook_factory: Any) -> None:
    hook = hook_factory(410)
    sleeps = Sleeps()
    report = Dispatcher(RetryPolicy(max_attempts=5), sleep=sleeps).deliver(
        notification(), sender(hook.url)
    )
    assert (report.delivered, report.attempts, sleeps.delays) == (False, 1, [])
    assert report.last_error is not None and "410" in report.last_error


def test_unexpected_channel_error_is_reported_not_raised() -> None:
    class Broken:
        name = "broken"

        def send(self, notification: Notification) -> None:
            raise RuntimeError("bug")

    report = Dispatcher(RetryPolicy(max_attempts=2), sleep=Sleeps()).deliver(
        notification(), Broken()
    )
    assert (report.delivered, report.attempts, report.last_error) == (
        False,
        2,
        "RuntimeError: bug",
    )


def test_retry_policy_validates() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    assert RetryPolicy(base_delay_s=1, factor=2, max_delay_s=100).delay(5) == 16


def test_background_dispatcher_reports_and_close_stops_retries(hook_factory: Any) -> None:
    ok, failing = hook_factory(200), hook_factory(503)
    reports: list[DeliveryReport] = []
    background = BackgroundDispatcher(
        reports.append, RetryPolicy(max_attempts=10, base_delay_s=60), max_workers=2
    )
    done = background.submit(notification(), sender(ok.url)).result(timeout=10)
    assert done.delivered and done.attempts == 1
    pending = background.submit(notification(), sender(failing.url))
    while not failing.received:  # first attempt made; now waiting 60 s before the next
        threading.Event().wait(0.01)
    background.close()  # does not wait the 60 s
    stopped = pending.result(timeout=10)
    assert not stopped.delivered and stopped.attempts == 1
    assert stopped.last_error is not None
    assert stopped.last_error.endswith(
        "answered 503 Service Unavailable: temporarily unavailable (retries stopped: shutting down)"
    )
    assert [r.delivered for r in reports] == [True, False]
