"""The changes people make from the console and the portal.

They go through what the JSON API's routes call: control changes through ``live.manual`` and
then ``recorder.flush`` (the recorder writes the control and its audit entry, cuts calls, pushes
the hard lists and sends the post-notification), contact outcomes through ``live.contact`` with
the contact attempt stored on the recorder thread, restricted-list edits through the store and
``refresh_from_store``. Call these from the event loop (they touch the live engine).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from tollguard.adapters.notify import Notification
from tollguard.app.service.contacts import record_contact
from tollguard.app.service.outbox import NO_MAILER
from tollguard.app.service.recorder import utc
from tollguard.app.service.runtime import ServiceRuntime
from tollguard.domain.events import ActionKind, Terminate
from tollguard.domain.records import Subscriber

__all__ = ["change", "confirmation_text", "record_contact"]

SUSPEND_REQUEST = "suspension_request_confirmed"
RESTORE_REQUEST = "restoration_request_received"


async def change(
    runtime: ServiceRuntime,
    actor: str,
    action: ActionKind,
    subject: str,
    reason: str,
    *,
    until: float | None = None,
    subscriber_id: str | None = None,
) -> list[str]:
    """Put or lift a control as ``actor`` (audited); returns the calls cut."""
    out = runtime.live.manual(
        action, subject, reason=reason, actor=actor, until=until, subscriber_id=subscriber_id
    )
    await run_in_threadpool(runtime.recorder.flush)
    return [o.call_id for o in out if isinstance(o, Terminate)]


def confirmation_text(kind: str, sub: Subscriber, note: str, when: str) -> tuple[str, str]:
    """Subject and body (Japanese, then English) confirming a customer's request."""
    sid = sub.subscriber_id
    if kind == SUSPEND_REQUEST:
        subject = (
            "国際通話の利用休止を受け付けました / International calling suspended at your request"
        )
        ja = (
            f"お客様番号 {sid} 様\n\n{when}、ポータルからのご依頼により国際通話のご利用を"
            "休止いたしました。国際電話の発信はできません(国内通話はご利用いただけます)。\n"
            "再開をご希望の際は、ポータルから再開を依頼してください。担当者が確認のうえ"
            "再開いたします。"
        )
        en = (
            f"Customer {sid},\n\nAt {when}, at your request through the portal, we suspended "
            "international calling on your account. Calls abroad are refused; domestic calls "
            "work as usual.\nTo have it restored, ask for restoration in the portal: an "
            "analyst checks the request and restores it."
        )
    else:
        subject = (
            "国際通話の再開依頼を受け付けました / Request to restore international calling received"
        )
        ja = (
            f"お客様番号 {sid} 様\n\n{when}、国際通話の再開のご依頼を受け付けました。"
            "不正利用の被害を防ぐため、再開は自動では行いません。担当者が確認のうえ、"
            "ご登録の連絡先にご連絡してから再開いたします。"
        )
        en = (
            f"Customer {sid},\n\nAt {when} we received your request to restore international "
            "calling. To protect you from fraud it is not restored automatically: an analyst "
            "checks the request, contacts you, then restores it."
        )
    note_ja = f"\n\nご依頼内容: {note}" if note else ""
    note_en = f"\n\nYour note: {note}" if note else ""
    body = f"{ja}{note_ja}\n\n----\n\n{en}{note_en}\n"
    return subject, body


def send_confirmation(runtime: ServiceRuntime, kind: str, subscriber_id: str, note: str) -> str:
    """Record and send (through the service's outbox) the email confirming a customer's
    request, as the outbox does for post-notifications. Returns ``queued``, ``not_sent`` (no
    mail server: recorded as not sent, with the reason) or ``no_email``. Runs on the recorder
    thread (``recorder.call``) so that it follows the change it confirms."""
    from tollguard.app.console.i18n import fmt_time

    store = runtime.store
    sub = store.get_subscriber(subscriber_id)
    if sub is None or not sub.email:
        return "no_email"
    now = runtime.clock()
    subject, body = confirmation_text(kind, sub, note, fmt_time(now, "ja"))
    rec = store.add_notification(
        kind=kind,
        channel="email",
        recipient=sub.email,
        subject=subject,
        body=body,
        subscriber_id=subscriber_id,
        reference=f"portal:{kind}@{now:.3f}",
        at=utc(now),
    )
    outbox = runtime.outbox
    if outbox is None or outbox.mailer is None:
        store.finish_notification(
            rec.id, delivered=False, attempts=0, last_error=NO_MAILER, at=utc(now)
        )
        return "not_sent"
    note_out = Notification(
        kind=kind,
        recipient=sub.email,
        subject=subject,
        body=body,
        reference=f"notification:{rec.id}",
        created_at=now,
        subscriber_id=subscriber_id,
    )
    outbox.dispatcher.submit(note_out, outbox.mailer)
    return "queued"


async def customer_request(
    runtime: ServiceRuntime,
    *,
    username: str,
    subscriber_id: str,
    kind: str,
    note: str,
    client: str,
) -> dict[str, Any]:
    """A customer's request from the portal: suspension is applied at once (through
    ``live.manual``, actor ``customer:USERNAME``); restoration is recorded for an analyst to act
    on. Both are audited (``portal.request_suspend`` / ``portal.request_restore``) and confirmed
    by email."""
    actor = f"customer:{username}"
    live = runtime.live
    applied = False
    if kind == "suspend":
        from tollguard.app.console.views import engine_status

        status, _ = engine_status(live, subscriber_id)
        if status == "active":
            reason = "suspension requested by the customer in the portal"
            if note:
                reason += f": {note}"
            await change(
                runtime, actor, ActionKind.SUSPEND_INTERNATIONAL, subscriber_id, reason[:2000]
            )
            applied = True
    at = utc(live.now())
    notice = SUSPEND_REQUEST if kind == "suspend" else RESTORE_REQUEST
    result: dict[str, Any] = {"applied": applied}

    def record() -> None:
        runtime.store.append_audit(
            actor=actor,
            action=f"portal.request_{kind}",
            subject=f"subscriber:{subscriber_id}",
            reason=note or f"{kind} requested in the portal",
            at=at,
            evidence={"applied": applied, "client": client, "pending": kind == "restore"},
        )
        result["email"] = send_confirmation(runtime, notice, subscriber_id, note)

    runtime.recorder.call(record)
    await run_in_threadpool(runtime.recorder.flush)
    return result
