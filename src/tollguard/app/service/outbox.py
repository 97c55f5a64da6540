"""The outbox: every notice is recorded with its text, sent with retries, and its outcome kept."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from tollguard.adapters.notify import (
    BackgroundDispatcher,
    Channel,
    DeliveryReport,
    Notification,
    RetryPolicy,
)
from tollguard.adapters.store import Store
from tollguard.app.service import notices
from tollguard.app.service.recorder import utc
from tollguard.domain.events import Action

log = logging.getLogger("tollguard.service")

NO_MAILER = "no SMTP server configured (tollguard serve --smtp-host)"


class Outbox:
    """Sends the post-notification of a suspension to the customer (email) and to webhooks."""

    def __init__(
        self,
        store: Store,
        *,
        mailer: Channel | None = None,
        webhooks: Sequence[Channel] = (),
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.webhooks = list(webhooks)
        self.clock = clock
        self.dispatcher = BackgroundDispatcher(self._report, policy, clock=clock)

    def notify(self, action: Action) -> None:
        """Send the notice an action asks for (called on the recorder thread)."""
        sid = action.subscriber_id
        if sid is None:
            return
        reason = str(action.evidence.get("suspension_reason") or action.reason)
        subject, body = notices.post_suspension(sid, reason, action.time)
        sub = self.store.get_subscriber(sid)
        targets: list[tuple[str, str, Channel | None]] = []
        if sub is not None and sub.email:
            targets.append(("email", sub.email, self.mailer))
        targets += [("webhook", w.name, w) for w in self.webhooks]
        if not targets:
            log.warning("post-notification for %s has no recipient (no email, no webhook)", sid)
        for channel_kind, recipient, channel in targets:
            rec = self.store.add_notification(
                kind="post_notification",
                channel=channel_kind,
                recipient=recipient,
                subject=subject,
                body=body,
                subscriber_id=sid,
                reference=f"action:{action.action.value}@{action.time:.3f}",
                at=utc(self.clock()),
            )
            if channel is None:
                self.store.finish_notification(
                    rec.id, delivered=False, attempts=0, last_error=NO_MAILER, at=utc(self.clock())
                )
                continue
            note = Notification(
                kind="post_notification",
                recipient=recipient,
                subject=subject,
                body=body,
                reference=f"notification:{rec.id}",
                created_at=self.clock(),
                subscriber_id=sid,
            )
            self.dispatcher.submit(note, channel)

    def _report(self, report: DeliveryReport) -> None:
        ref = report.notification.reference
        nid = int(ref.split(":", 1)[1])
        at = report.delivered_at if report.delivered_at is not None else self.clock()
        self.store.finish_notification(
            nid,
            delivered=report.delivered,
            attempts=report.attempts,
            last_error=report.last_error,
            at=utc(at),
        )

    def close(self) -> None:
        """Stop retrying; deliveries in progress finish their attempt and are recorded."""
        self.dispatcher.close(wait=True)
