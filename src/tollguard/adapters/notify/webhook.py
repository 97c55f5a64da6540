"""Signed webhooks (httpx): JSON bodies with an HMAC-SHA256 signature over timestamp and body.

The receiver recomputes ``sha256=`` + hex HMAC-SHA256(secret, ``f"{timestamp}.".encode() + body``)
over the raw request body and the ``X-Tollguard-Timestamp`` header, compares in constant time and
rejects stale timestamps (replays): :func:`verify_signature` does all three.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from tollguard.adapters.notify.notification import DeliveryError, Notification

TIMESTAMP_HEADER = "X-Tollguard-Timestamp"
SIGNATURE_HEADER = "X-Tollguard-Signature"
DELIVERY_HEADER = "X-Tollguard-Delivery"
KIND_HEADER = "X-Tollguard-Kind"
#: 4xx answers worth retrying (timeout, too early, rate limited); other 4xx are permanent.
RETRYABLE_4XX = frozenset({408, 425, 429})


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``."""
    mac = hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance_s: float = 300,
) -> bool:
    """True when ``signature`` signs ``timestamp`` and ``body`` and the timestamp is fresh.

    ``timestamp`` and ``signature`` are the header values as received, ``body`` the raw bytes.
    Timestamps more than ``tolerance_s`` away from ``now`` (either way) are rejected.
    """
    text = str(timestamp).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return False
    if not math.isfinite(now) or abs(now - int(text)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, text, body).encode(), signature.strip().encode())


class WebhookSender:
    """POSTs each notification as signed JSON to one URL."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        name: str | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook URL must be http(s)://host/...: {url!r}")
        if not _key(secret):
            raise ValueError("webhook secret must not be empty")
        self.url = url
        self._secret = _key(secret)
        # the URL may carry a token in its query: reports show scheme, host and path only
        self._name = name or f"{parts.scheme}://{parts.hostname}{_port(parts.port)}{parts.path}"
        self.timeout = timeout
        self._clock = clock
        self._verify = verify
        self._transport = transport

    @property
    def name(self) -> str:
        """The webhook's name (default: its URL without query)."""
        return self._name

    @staticmethod
    def request_body(notification: Notification) -> bytes:
        """The JSON body: compact, keys sorted, UTF-8."""
        text = json.dumps(
            notification.payload(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        return text.encode("utf-8")

    def headers(self, notification: Notification, body: bytes, timestamp: int) -> dict[str, str]:
        """Request headers, signature included."""
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "tollguard-webhook/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            DELIVERY_HEADER: notification.delivery_id,
            KIND_HEADER: str(notification.kind).encode("ascii", "replace").decode(),
        }

    def send(self, notification: Notification) -> None:
        """POST ``notification``; raise :class:`DeliveryError` unless the answer is 2xx."""
        body = self.request_body(notification)
        timestamp = int(self._clock())
        headers = self.headers(notification, body, timestamp)
        try:
            with httpx.Client(
                timeout=self.timeout, verify=self._verify, transport=self._transport
            ) as client:
                response = client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {self.name} unreachable: {exc!r}") from exc
        if not response.is_success:
            status = response.status_code
            detail = " ".join(response.text[:200].split())
            raise DeliveryError(
                f"webhook {self.name} answered {status} {response.reason_phrase}"
                + (f": {detail}" if detail else ""),
                # redirects and client errors will not change on retry (except 408, 425, 429)
                permanent=300 <= status < 500 and status not in RETRYABLE_4XX,
            )


def _port(port: int | None) -> str:
    return f":{port}" if port is not None else ""
