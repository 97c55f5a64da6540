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
from tollguard.app.notices import NO_MAILER
from tollguard.app.service import notices
from tollguard.app.service.recorder import utc
from tollguard.domain.events import Action

log = logging.getLogger("tollguard.service")

__all__ = ["NO_MAILER", "Outbox"]

#: Notices the service sends: the action's ``template`` -> (notification kind, text).
TEMPLATES = {
    "post_suspension": ("post_notification", notices.post_suspension),
    "service_restored": ("service_restored", notices.service_restored),
}


class Outbox:
    """Sends the post-notification of a suspension, and the notice that service is restored, to
    the customer (email) and to webhooks, with the text of the templates in force."""

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
        template = str(action.evidence.get("template") or "post_suspension")
        if template not in TEMPLATES:
            log.warning("notice %r for %s: the service does not send it", template, sid)
            return
        kind, text = TEMPLATES[template]
        reason = str(
            action.evidence.get("suspension_reason")
            or action.evidence.get("restore_reason")
            or action.reason
        )
        subject, body = text(sid, reason, action.time, self.store)
        sub = self.store.get_subscriber(sid)
        targets: list[tuple[str, str, Channel | None]] = []
        if sub is not None and sub.email:
            targets.append(("email", sub.email, self.mailer))
        targets += [("webhook", w.name, w) for w in self.webhooks]
        if not targets:
            log.warning("%s for %s has no recipient (no email, no webhook)", kind, sid)
        for channel_kind, recipient, channel in targets:
            rec = self.store.add_notification(
                kind=kind,
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
                kind=kind,
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
