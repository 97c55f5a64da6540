"""What tollguard tells customers and analysts, and how a delivery fails."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol


class NotificationKind(StrEnum):
    """Kinds of notification the service sends (others are allowed: ``kind`` is a string)."""

    POST_NOTIFICATION = "post_notification"  # 事後連絡 after a suspension
    CASE_OPENED = "case_opened"
    SUSPENSION_REQUEST_CONFIRMED = "suspension_request_confirmed"
    ALERT = "alert"


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One message to one recipient: an email address or the name of a webhook."""

    kind: str
    recipient: str
    subject: str
    body: str
    reference: str
    created_at: float
    subscriber_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """The fields a webhook receives (the recipient is the webhook itself)."""
        return {
            "kind": str(self.kind),
            "subject": self.subject,
            "body": self.body,
            "subscriber_id": self.subscriber_id,
            "reference": self.reference,
            "created_at": self.created_at,
        }

    @property
    def delivery_id(self) -> str:
        """A stable id (32 hex digits): the same on every retry, so receivers can deduplicate."""
        text = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class DeliveryError(Exception):
    """A notification could not be delivered. ``permanent`` failures are not worth retrying."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    """Something that delivers a notification once, or raises :class:`DeliveryError`."""

    @property
    def name(self) -> str:
        """Where notifications go, for reports (never a secret)."""
        ...

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` once."""
        ...
