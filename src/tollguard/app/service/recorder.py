"""The recorder: one background thread that writes the engine's outputs and carries them out.

Every output of the live engine passes through here, in order: actions become controls and audit
entries (with who, when, why and the evidence), alerts are kept, cuts go to the switch, the hard
lists are pushed to the switch and exported when controls change, and notices are queued. The
request path only puts work on a queue; a slow database or switch never delays an answer.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from tollguard.adapters.exports import BlockListExporter
from tollguard.adapters.store import Store, StoreError
from tollguard.app.service.live import CaseView, control_from_record, store_subject
from tollguard.app.service.switch import HardLists, SwitchControl
from tollguard.domain.controls import Control, ControlKind
from tollguard.domain.events import Action, ActionKind, Alert, Output, Terminate
from tollguard.domain.records import IntlStatus

log = logging.getLogger("tollguard.service")

JOURNAL_OFFSET = "live-journal"
"""Input offset: the journal position up to which the store holds the engine's outputs."""

#: Actions that put a control in force, and those that lift one.
PUTS: dict[ActionKind, ControlKind] = {
    ActionKind.SUSPEND_INTERNATIONAL: ControlKind.SUSPENSION,
    ActionKind.RESTRICT_COUNTRY: ControlKind.COUNTRY_RESTRICTION,
    ActionKind.BLOCK_IP: ControlKind.IP_BLOCK,
    ActionKind.DENY_DESTINATION: ControlKind.DESTINATION_DENIAL,
}
LIFTS: dict[ActionKind, ControlKind] = {
    ActionKind.RESTORE_INTERNATIONAL: ControlKind.SUSPENSION,
    ActionKind.LIFT_COUNTRY: ControlKind.COUNTRY_RESTRICTION,
    ActionKind.UNBLOCK_IP: ControlKind.IP_BLOCK,
    ActionKind.ALLOW_DESTINATION: ControlKind.DESTINATION_DENIAL,
}


def utc(t: float) -> datetime:
    """POSIX seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(t, UTC)


def action_control(action: Action) -> tuple[ControlKind, str] | None:
    """The control an action puts or lifts, as (kind, store subject); ``None`` for others."""
    kind = PUTS.get(action.action) or LIFTS.get(action.action)
    if kind is None:
        return None
    if kind is ControlKind.SUSPENSION:
        subject = action.subscriber_id or ""
    elif kind is ControlKind.COUNTRY_RESTRICTION:
        subject = action.country or ""
    elif kind is ControlKind.IP_BLOCK:
        subject = action.ip or ""
    else:
        # a customer's range denial also names the country the range is in: the range it is
        target = f"+{action.prefix}" if action.prefix else (action.country or "")
        if action.subscriber_id is None:
            target = action.prefix or ""
        return kind, store_subject(kind, target, action.subscriber_id)
    return kind, subject


def post_notification(suspension: Action) -> Action:
    """The notice that follows an operator's suspension of a customer."""
    return Action(
        suspension.time,
        ActionKind.NOTIFY,
        "post-notification (事後連絡): international calling was suspended; call us to restore it",
        suspension.actor,
        subscriber_id=suspension.subscriber_id,
        evidence={
            "channel": "email",
            "template": "post_suspension",
            "suspension_reason": suspension.reason,
        },
    )


def restored_notice(restore: Action) -> Action:
    """The notice that tells a customer their international calling is available again."""
    return Action(
        restore.time,
        ActionKind.NOTIFY,
        "notice: international calling restored",
        restore.actor,
        subscriber_id=restore.subscriber_id,
        evidence={
            "channel": "email",
            "template": "service_restored",
            "restore_reason": restore.reason,
        },
    )


def number_forms(number: str) -> set[str]:
    """The forms a switch may present a customer's number in: E.164 with and without ``+``, and
    national (trunk prefix and national number, e.g. ``0312345678``)."""
    forms = {number, number.lstrip("+")}
    try:
        parsed = phonenumbers.parse(number if number.startswith("+") else "+" + number, None)
    except phonenumbers.NumberParseException:
        return forms
    region = phonenumbers.region_code_for_number(parsed)
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    trunk = (meta.national_prefix or "") if meta is not None else ""
    forms.add(trunk + phonenumbers.national_significant_number(parsed))
    return forms


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def action_subject(action: Action) -> str:
    """The audit subject of an action that is not a control change."""
    if action.subscriber_id:
        return f"subscriber:{action.subscriber_id}"
    for name in ("ip", "country", "prefix"):
        value = getattr(action, name)
        if value:
            return f"{name}:{value}"
    return "tollguard"


@dataclass(slots=True)
class RecorderStats:
    """What the recorder has done (for /metrics)."""

    errors: int = 0
    store_retries: int = 0
    switch_failures: int = 0


RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
"""Waits between attempts while the store is unreachable: doubling from half a second, at most
ten, so that recording resumes within seconds of the store's return."""

Job = Callable[[], None]
_STOP = object()


class Recorder:
    """Persists and carries out outputs on a background thread, in submission order."""

    def __init__(
        self,
        store: Store,
        *,
        switch: SwitchControl | None = None,
        on_notify: Callable[[Action], None] | None = None,
        exporter: BlockListExporter | None = None,
        clock: Callable[[], float] = time.time,
        journal_offset: str = JOURNAL_OFFSET,
    ) -> None:
        self.store = store
        self.switch = switch
        self.on_notify = on_notify
        self.exporter = exporter
        self.journal_offset = journal_offset
        self._busy = False
        self.clock = clock
        self.stats = RecorderStats()
        self.case_ids: dict[str, int] = {
            c.subscriber_id: c.id for c in store.list_cases(open_only=True)
        }
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stopping = threading.Event()
        self.lists_dirty = False
        """Controls changed but the hard lists could not be pushed yet."""
        self.store_down_since: float | None = None
        """Since when the store cannot be reached (``None`` while it can)."""
        self._thread: threading.Thread | None = None
        self._last_lists: HardLists | None = None

    # -- thread ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tollguard-recorder")
            self._thread.daemon = True
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued work, then stop (giving up on an unreachable store after
        ``timeout``: the journal keeps what was not recorded)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._stopping.set()
                self._thread.join(5.0)
            self._thread = None

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is done (or run it here if not started);
        ``False`` if that took longer than ``timeout`` seconds (the work goes on)."""
        if self._thread is None:
            self._drain()
            return True
        done = threading.Event()
        self._queue.put(done.set)
        return done.wait(timeout)

    @property
    def backlog(self) -> int:
        """Jobs waiting."""
        return self._queue.qsize()

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being done: the store holds every output so far."""
        return not self._busy and self._queue.empty()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            self._busy = True
            try:
                if job is _STOP:
                    return
                self._do(job)
            finally:
                self._busy = False
                self._queue.task_done()

    def _drain(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if job is not _STOP:
                    self._do(job)
            finally:
                self._queue.task_done()

    def _do(self, job: Job) -> None:
        """Run a job; while the store cannot be reached, wait and try again (nothing is
        dropped: the engine goes on answering from memory meanwhile)."""
        delay = RETRY_FIRST_S
        while True:
            try:
                job()
            except (OperationalError, InterfaceError) as exc:
                if self._stopping.is_set():
                    log.error("store unreachable at shutdown; the journal keeps the rest: %s", exc)
                    return
                if self.store_down_since is None:
                    self.store_down_since = self.clock()
                    log.error("store unreachable, retrying (answers go on from memory): %s", exc)
                self.stats.store_retries += 1
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            except Exception:
                self.stats.errors += 1
                log.exception("recorder job failed")
            if self.store_down_since is not None:
                log.warning(
                    "store reachable again after %.0f s", self.clock() - self.store_down_since
                )
                self.store_down_since = None
            return

    # -- submitting --------------------------------------------------------------------------
    def submit(self, outputs: list[Output], seq: int = 0) -> None:
        """Queue outputs to persist and carry out (``seq``: the journal position they follow)."""
        if outputs:
            self._queue.put(lambda: self._record(outputs, seq))

    def call(self, job: Job) -> None:
        """Queue any job (it runs after everything submitted before it)."""
        self._queue.put(job)

    def sync_cases(self, views: list[CaseView]) -> None:
        """Queue: open, update and close stored cases to match the engine's open cases."""
        self._queue.put(lambda: self._sync_cases(views))

    # -- work --------------------------------------------------------------------------------
    def _record(self, outputs: list[Output], seq: int = 0) -> None:
        """Write a batch in one transaction, with the journal position it brings the store to
        (so that after a crash the journal's later events are recorded again, and only those);
        then carry out what lies outside the store (cuts, notices, hard lists)."""
        controls_changed = False
        notices: list[Action] = []
        cuts: list[Terminate] = []
        with self.store.begin() as conn:
            for o in outputs:
                if isinstance(o, Action):
                    controls_changed |= self._action(o, conn)
                    if o.action is ActionKind.NOTIFY:
                        notices.append(o)
                    if (
                        o.action is ActionKind.SUSPEND_INTERNATIONAL
                        and o.evidence.get("manual")
                        and not o.actor.startswith("customer:")  # confirmed to them by the portal
                    ):
                        # an operator's suspension is post-notified like tollguard's own (事後連絡)
                        notice = post_notification(o)
                        self._action(notice, conn)
                        notices.append(notice)
                    if o.action is ActionKind.RESTORE_INTERNATIONAL and o.subscriber_id:
                        notice = restored_notice(o)  # the customer is told service is back
                        self._action(notice, conn)
                        notices.append(notice)
                elif isinstance(o, Alert):
                    self.store.insert_alert(
                        time=utc(o.time),
                        detector=o.detector,
                        severity=o.severity.value,
                        subscriber_id=o.subscriber_id,
                        evidence=o.evidence,
                        conn=conn,
                    )
                elif isinstance(o, Terminate):
                    cuts.append(o)
            for o in cuts:
                self._terminate_record(o, conn)
            if seq:
                self.store.set_input_offset(
                    self.journal_offset, seq, at=utc(self.clock()), detail={}, conn=conn
                )
        # Outside the transaction, and never retried with it (that would record it twice).
        for o in cuts:
            self._cut(o)
        if self.on_notify is not None and notices:
            notify = self.on_notify
            self._queue.put(lambda: [notify(n) for n in notices] and None)
        if controls_changed:
            self.lists_dirty = True
            try:
                self.sync_lists()
            except (OperationalError, InterfaceError) as exc:
                log.warning("hard lists not pushed (store unreachable), retried later: %s", exc)

    def _action(self, a: Action, conn: Connection) -> bool:
        target = action_control(a)
        at = utc(a.time)
        evidence = {**a.evidence, "action": a.action.value}
        if target is None:
            self.store.append_audit(
                actor=a.actor,
                action=a.action.value,
                subject=action_subject(a),
                reason=a.reason,
                at=at,
                evidence=evidence,
                conn=conn,
            )
            return False
        kind, subject = target
        in_force = self.store.active_controls(at, kind=kind.value, subject=subject, conn=conn)
        if a.action in PUTS:
            for old in in_force:
                self.store.lift_control(
                    old.id, by=a.actor, reason=f"replaced: {a.reason}", at=at, conn=conn
                )
            expires = None if a.until is None or a.until == float("inf") else utc(a.until)
            if expires is not None and expires <= at:
                expires = None
            self.store.create_control(
                kind.value,
                subject,
                reason=a.reason,
                created_by=a.actor,
                at=at,
                expires_at=expires,
                evidence=evidence,
                conn=conn,
            )
            return True
        for old in in_force:
            self.store.lift_control(old.id, by=a.actor, reason=a.reason, at=at, conn=conn)
        if not in_force:  # nothing stored in force (expired already): still audit the action
            self.store.append_audit(
                actor=a.actor,
                action=a.action.value,
                subject=f"{kind.value}:{subject}",
                reason=a.reason,
                at=at,
                evidence=evidence,
                conn=conn,
            )
        return True

    def _terminate_record(self, o: Terminate, conn: Connection) -> None:
        self.store.append_audit(
            actor="tollguard",
            action="call.terminate",
            subject=f"subscriber:{o.subscriber_id}" if o.subscriber_id else "tollguard",
            reason=o.reason,
            at=utc(o.time),
            evidence={"call_id": o.call_id, "switch": self.switch is not None},
            conn=conn,
        )

    def _cut(self, o: Terminate) -> None:
        if self.switch is not None and not self.switch.terminate(o.call_id, o.reason):
            self.stats.switch_failures += 1
            log.warning("the switch did not confirm cutting call %s", o.call_id)

    def _sync_cases(self, views: list[CaseView]) -> None:
        at = utc(self.clock())
        seen = set()
        for v in views:
            seen.add(v.subscriber_id)
            evidence = {
                "state": v.state,
                "reasons": list(v.reasons),
                "countries": list(v.countries),
                "numbers": v.numbers,
                "contact_attempts": v.contact_attempts,
                "facts": v.evidence,
            }
            case_id = self.case_ids.get(v.subscriber_id)
            if case_id is None:
                case = self.store.open_case(
                    v.subscriber_id,
                    at=utc(v.opened_at),
                    score=v.probability,
                    evidence=evidence,
                    status=v.state,
                    reason=", ".join(v.reasons) or "anomaly",
                )
                self.case_ids[v.subscriber_id] = case.id
                continue
            stored = self.store.get_case(case_id)
            if stored is not None and stored.status != v.state:
                self.store.update_case(
                    case_id,
                    status=v.state,
                    at=at,
                    by="tollguard",
                    reason=f"case {v.state}",
                    score=v.probability,
                    evidence=evidence,
                )
        for sid in sorted(self.case_ids.keys() - seen):
            case_id = self.case_ids.pop(sid)
            try:
                self.store.update_case(
                    case_id, status="closed", at=at, by="tollguard", reason="closed", close=True
                )
            except StoreError:
                continue

    # -- hard lists --------------------------------------------------------------------------
    def hard_lists(self) -> HardLists:
        """The lists a switch can enforce alone, from the controls in force in the store."""
        return self._lists()[0]

    def _lists(self) -> tuple[HardLists, list[Control]]:
        at = utc(self.clock())
        blocks: list[Control] = []
        ips: set[str] = set()
        suspended: set[str] = set()
        prefixes: set[str] = set()
        for c in self.store.active_controls(at):
            if c.kind == ControlKind.IP_BLOCK.value:
                if not _is_ip(c.subject):
                    log.warning("IP block on %r skipped: not an address", c.subject)
                    continue
                ips.add(c.subject)
                blocks.append(control_from_record(c))
            elif c.kind == ControlKind.SUSPENSION.value:
                suspended.add(c.subject)
            elif c.kind == ControlKind.COUNTRY_RESTRICTION.value:
                code = phonenumbers.country_code_for_region(c.subject)
                if code:
                    prefixes.add(str(code))
            elif c.kind == ControlKind.DESTINATION_DENIAL.value and ":" not in c.subject:
                prefixes.add(c.subject.lstrip("+"))
        names: set[str] = set()
        barred: set[str] = set()
        for sub in self.store.list_subscribers():
            if sub.subscriber_id in suspended:
                into = names  # a control wins: the bar would not lift it
            elif sub.intl_status is IntlStatus.SUSPENDED:
                into = barred
            else:
                continue
            into.add(sub.subscriber_id)
            for number in sub.numbers:
                into.update(number_forms(number))
        lists = HardLists(
            frozenset(ips),
            frozenset(names | suspended),
            frozenset(prefixes),
            frozenset(barred - names - suspended),
        )
        return lists, blocks

    def sync_lists(self) -> None:
        """Push the hard lists to the switch and the blocked addresses to the exporters."""
        lists, blocks = self._lists()
        self.lists_dirty = False
        if self.exporter is not None:
            change = self.exporter.update(blocks)
            if change.rejected:
                log.warning("IP blocks not exported (not addresses): %s", change.rejected)
        if self.switch is not None and lists != self._last_lists:
            if self.switch.sync_lists(lists):
                self._last_lists = lists
            else:
                self.stats.switch_failures += 1
