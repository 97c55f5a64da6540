"""Notifications to customers and analysts: email over SMTP and signed webhooks, with retries.

A :class:`Notification` goes through a channel (:class:`SmtpMailer`, :class:`WebhookSender`);
:class:`Dispatcher` retries transient failures with exponential backoff and returns a
:class:`DeliveryReport` for the service to record; :class:`BackgroundDispatcher` runs it on
worker threads.
"""

from tollguard.adapters.notify.dispatch import (
    BackgroundDispatcher,
    DeliveryReport,
    Dispatcher,
    RetryPolicy,
)
from tollguard.adapters.notify.notification import (
    Channel,
    DeliveryError,
    Notification,
    NotificationKind,
)
from tollguard.adapters.notify.smtp import SmtpMailer
from tollguard.adapters.notify.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSender,
    sign,
    verify_signature,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BackgroundDispatcher",
    "Channel",
    "DeliveryError",
    "DeliveryReport",
    "Dispatcher",
    "Notification",
    "NotificationKind",
    "RetryPolicy",
    "SmtpMailer",
    "WebhookSender",
    "sign",
    "verify_signature",
]
