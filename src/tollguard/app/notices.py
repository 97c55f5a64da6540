"""Customer notices: the carrier's templates over the packaged ones, rendered and recorded.

:class:`NoticeCatalog` answers "what does this notice say" from the store's ``notice_templates``
(a carrier's own text, edited by admins with ``tollguard notices edit``) or the packaged default
(:mod:`tollguard.domain.notices`). :func:`deliver_now` records notices with their text in the
store's ``notifications`` and sends them by email when a mail server is given, recording the
outcome (the same records as the live service's outbox).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tollguard.adapters.notify import Channel, Dispatcher, Notification, RetryPolicy
from tollguard.adapters.store import Store, StoredNotification
from tollguard.domain.notices import (
    CUSTOMER_LOCALES,
    NoticeTemplate,
    TemplateError,
    combine,
    default_template,
    render,
    validate,
)

JST = ZoneInfo("Asia/Tokyo")
NO_MAILER = "no SMTP server configured (tollguard serve --smtp-host)"


def format_when(t: float, tz: ZoneInfo = JST) -> str:
    """A time as customers read it: ``2026-10-05 09:12 JST``."""
    moment = datetime.fromtimestamp(t, tz)
    return moment.strftime("%Y-%m-%d %H:%M ") + (moment.tzname() or "")


def format_day(t: float, tz: ZoneInfo = JST) -> str:
    """A date as customers read it: ``2026-10-05``."""
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d")


class NoticeCatalog:
    """The templates in force: the carrier's own (in the store) over the packaged ones."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store

    def template(self, kind: str, locale: str) -> NoticeTemplate:
        """The template of ``kind`` in ``locale`` that notices use now."""
        if self.store is not None:
            own = self.store.get_notice_template(kind, locale)
            if own is not None:
                try:
                    return validate(NoticeTemplate(kind, locale, own.subject, own.body))
                except TemplateError:  # edited outside tollguard: fall back, never fail a notice
                    pass
        return default_template(kind, locale)

    def source(self, kind: str, locale: str) -> str:
        """``carrier`` when the carrier's own template is in force, else ``packaged``."""
        if self.store is not None and self.store.get_notice_template(kind, locale) is not None:
            return "carrier"
        return "packaged"

    def render(
        self,
        kind: str,
        values: Mapping[str, object],
        locales: Iterable[str] = CUSTOMER_LOCALES,
    ) -> tuple[str, str]:
        """Subject and body of one message, in each of ``locales`` (Japanese, then English)."""
        return combine([render(self.template(kind, loc), values) for loc in locales])

    def edit(
        self,
        kind: str,
        locale: str,
        *,
        subject: str,
        body: str,
        by: str,
        at: datetime,
        reason: str = "",
    ) -> NoticeTemplate:
        """Check and keep a carrier's template (audited); :class:`TemplateError` if unusable."""
        if self.store is None:
            raise TemplateError("templates are edited in a store")
        tpl = validate(NoticeTemplate(kind, locale, subject, body))
        self.store.put_notice_template(
            kind, locale, subject=subject, body=body, by=by, at=at, reason=reason
        )
        return tpl


@dataclass(frozen=True, slots=True)
class PreparedNotice:
    """A notice ready to record and send to one customer."""

    kind: str
    subscriber_id: str
    recipient: str
    subject: str
    body: str
    reference: str


def deliver_now(
    store: Store,
    notices: Iterable[PreparedNotice],
    *,
    mailer: Channel | None = None,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.time,
) -> list[StoredNotification]:
    """Record each notice with its text, send it by email (retrying) when ``mailer`` is given,
    and record the outcome (audited as ``notification.sent`` / ``.failed``). Without a mailer
    each notice is recorded as not sent, with the reason."""
    dispatcher = Dispatcher(policy or RetryPolicy(max_attempts=3, base_delay_s=1.0), clock=clock)
    done = []
    for n in notices:
        rec = store.add_notification(
            kind=n.kind,
            channel="email",
            recipient=n.recipient,
            subject=n.subject,
            body=n.body,
            subscriber_id=n.subscriber_id,
            reference=n.reference,
            at=datetime.fromtimestamp(clock(), UTC),
        )
        if mailer is None:
            done.append(
                store.finish_notification(
                    rec.id,
                    delivered=False,
                    attempts=0,
                    last_error=NO_MAILER,
                    at=datetime.fromtimestamp(clock(), UTC),
                )
            )
            continue
        report = dispatcher.deliver(
            Notification(
                kind=n.kind,
                recipient=n.recipient,
                subject=n.subject,
                body=n.body,
                reference=f"notification:{rec.id}",
                created_at=clock(),
                subscriber_id=n.subscriber_id,
            ),
            mailer,
        )
        done.append(
            store.finish_notification(
                rec.id,
                delivered=report.delivered,
                attempts=report.attempts,
                last_error=report.last_error,
                at=datetime.fromtimestamp(report.delivered_at or clock(), UTC),
            )
        )
    return done
