"""The engine, live: wall-clock events in, decisions out, outputs handed to the recorder.

:class:`LiveEngine` is owned by one thread (the service's event loop): every method that touches
the engine must be called from it, so the engine needs no lock and a decision costs what it costs
in a replay. Whatever must be written or sent (actions, alerts, cuts, notices) goes to a
:class:`OutputSink` (the recorder thread), never done on the request path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from tollguard.adapters.store import Control as StoredControl
from tollguard.app.service.journal import CdrSeen, EventJournal
from tollguard.domain.controls import Control, ControlKind
from tollguard.domain.engine import Engine
from tollguard.domain.events import (
    ActionKind,
    CallAnswered,
    CallEnded,
    CallReported,
    CallStarted,
    ContactOutcome,
    ContactResult,
    Decision,
    Event,
    ManualControl,
    Output,
    SipEvent,
    Terminate,
    Tick,
)
from tollguard.domain.records import SipEventKind, Subscriber

UNKNOWN_SUBSCRIBER = "unknown_subscriber"
CDR_MEMORY_S = 8 * 86400.0
"""How long a metered CDR's call id is remembered, so that a resent CDR is not metered twice
(a week of switch retries and a day of margin)."""


class OutputSink(Protocol):
    """Where the live engine's outputs go (the recorder)."""

    def submit(self, outputs: list[Output], seq: int = 0) -> None:
        """Take outputs to persist and carry out, in order (``seq``: the journal position of
        the event that produced them)."""


@dataclass(frozen=True, slots=True)
class CaseView:
    """An open case as the service shows it (from the engine's policy)."""

    subscriber_id: str
    opened_at: float
    state: str
    probability: float
    reasons: tuple[str, ...]
    contact_attempts: int
    countries: tuple[str, ...]
    numbers: int
    evidence: dict[str, Any]


def caller_username(caller: str) -> str:
    """The user part of a SIP/tel URI or a plain number (``sip:+8131234@pbx`` -> ``+8131234``)."""
    user = caller.strip()
    for scheme in ("sips:", "sip:", "tel:"):
        if user.lower().startswith(scheme):
            user = user[len(scheme) :]
            break
    return user.split("@", 1)[0].split(";", 1)[0]


class LiveEngine:
    """The detection engine driven by the wall clock (or an injected one, in tests)."""

    def __init__(
        self,
        engine: Engine,
        sink: OutputSink,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.sink = sink
        self.clock = clock
        self.journal: EventJournal | None = None
        self.seq = 0
        """Journal position of the last event processed."""
        self.cdr_ids: dict[str, float] = {}
        """CDRs reported after the fact and metered, by call id (kept for :data:`CDR_MEMORY_S`)."""
        self._case_view: dict[str, tuple[str, int]] = {}

    # -- time --------------------------------------------------------------------------------
    def now(self) -> float:
        """The engine's present: the clock, never earlier than the engine has already been."""
        return max(self.clock(), self.engine.now)

    def _emit(self, outputs: list[Output]) -> None:
        if outputs:
            self.sink.submit(outputs, self.seq)

    def _process(self, event: Event | CdrSeen) -> list[Output]:
        """Journal an event, then process it (the one way events reach the engine here)."""
        if self.journal is not None:
            self.seq = self.journal.append(event)
        return self.apply(event)

    def apply(self, event: Event | CdrSeen) -> list[Output]:
        """Process an event without journaling it (journal replay at start)."""
        if isinstance(event, CdrSeen):
            self.cdr_ids[event.call_id] = event.time
            return []
        if isinstance(event, Tick):  # journaled form of Engine.advance
            return self.engine.advance(event.time)
        return self.engine.process(event)

    def tick(self) -> list[Output]:
        """Run the periodic work due by now (metering, contact timers, expiries)."""
        t = self.now()
        nt = self.engine.next_tick
        if nt is not None and nt > t:
            return []
        out = self._process(Tick(t))
        if self.cdr_ids:
            old = [c for c, seen in self.cdr_ids.items() if seen < t - CDR_MEMORY_S]
            for c in old:
                del self.cdr_ids[c]
        self._emit(out)
        return out

    # -- calls -------------------------------------------------------------------------------
    def resolve(self, subscriber_id: str | None, caller: str | None) -> str | None:
        """The customer placing a call: by id, else by the caller's number or SIP username."""
        subs = self.engine.subscribers
        if subscriber_id:
            return subscriber_id if subscriber_id in subs else None
        if not caller:
            return None
        user = caller_username(caller)
        return self.engine.subscriber_for_username(user) or self.engine.subscriber_for_username(
            user.lstrip("+")
        )

    def authorize(
        self,
        call_id: str,
        callee: str,
        *,
        subscriber_id: str | None = None,
        caller: str | None = None,
        source_ip: str | None = None,
    ) -> Decision:
        """Decide a call set-up. Unknown customers are refused (``unknown_subscriber``)."""
        t = self.now()
        sid = self.resolve(subscriber_id, caller)
        if sid is None:
            return Decision(t, call_id, False, (UNKNOWN_SUBSCRIBER,), subscriber_id or "")
        out = self._process(CallStarted(t, call_id, sid, callee, source_ip or None))
        decision = next(o for o in out if isinstance(o, Decision) and o.call_id == call_id)
        self._emit([o for o in out if not isinstance(o, Decision)])
        return decision

    def call_answered(self, call_id: str) -> None:
        """The callee answered: billing starts now. A call tollguard refused or already cut
        (a switch can only cut an answered call) is cut again now that it can be."""
        t = self.now()
        out = self._process(CallAnswered(t, call_id))
        if call_id in self.engine.dropped:
            out = [*out, Terminate(t, call_id, "refused_or_cut_before_answer")]
        self._emit(out)

    def call_ended(self, call_id: str, *, billable_seconds: float | None = None) -> None:
        """The call ended now (``billable_seconds`` overrides the duration the service saw)."""
        t = self.now()
        answered = None if billable_seconds is None else t - max(0.0, billable_seconds)
        self._emit(self._process(CallEnded(t, call_id, answered)))

    def cdr(
        self,
        call_id: str,
        subscriber_id: str,
        callee: str,
        source_ip: str | None,
        billable_seconds: float,
    ) -> bool:
        """A call reported only after it ended (a CDR): learn from it and meter its charge now.

        Returns ``False`` for a call the engine already followed live, or a CDR already metered
        (sent again): nothing is counted twice.
        """
        engine = self.engine
        if call_id in engine.active or call_id in self.cdr_ids or call_id in engine.dropped:
            return False
        t = self.now()
        self._process(CdrSeen(t, call_id))
        event = CallReported(t, call_id, subscriber_id, callee, source_ip, billable_seconds)
        self._emit([o for o in self._process(event) if not isinstance(o, Decision)])
        return True

    def sip_event(
        self, source_ip: str, username: str, kind: SipEventKind, user_agent: str = ""
    ) -> None:
        """A SIP security event (authentication failure or success, registration)."""
        self._emit(self._process(SipEvent(self.now(), source_ip, username, kind, user_agent)))

    # -- operators ---------------------------------------------------------------------------
    def manual(
        self,
        action: ActionKind,
        subject: str,
        *,
        reason: str,
        actor: str,
        until: float | None = None,
        subscriber_id: str | None = None,
    ) -> list[Output]:
        """An operator's control change; its outputs (the audited action, cuts) are returned."""
        event = ManualControl(self.now(), action, subject, reason, actor, until, subscriber_id)
        out = self._process(event)
        self._emit(out)
        return out

    def contact(
        self,
        subscriber_id: str,
        result: ContactResult,
        *,
        actor: str,
        channel: str = "phone",
        note: str = "",
    ) -> list[Output]:
        """Record the outcome of contacting a customer (restores, suspends or waits)."""
        event = ContactOutcome(self.now(), subscriber_id, result, channel, actor, note)
        out = self._process(event)
        self._emit(out)
        return out

    def add_subscribers(self, subscribers: Iterable[Subscriber]) -> int:
        """Register (or update) customers; returns how many."""
        n = 0
        for sub in subscribers:
            self.engine.add_subscriber(sub)
            n += 1
        return n

    # -- views -------------------------------------------------------------------------------
    def cases(self) -> list[CaseView]:
        """Open cases, most probable fraud first."""
        policy: Any = self.engine.policy
        cases = getattr(policy, "cases", {})
        prob = getattr(policy, "case_probability", None)
        views = []
        for case in cases.values():
            p = float(prob(case)) if prob is not None else 0.0
            views.append(
                CaseView(
                    case.subscriber_id,
                    case.opened_at,
                    case.state.value,
                    p,
                    tuple(case.reasons),
                    len(case.attempts),
                    tuple(sorted(case.countries)),
                    len(case.numbers),
                    dict(case.evidence),
                )
            )
        return sorted(views, key=lambda v: (-v.probability, v.opened_at, v.subscriber_id))

    def changed_cases(self) -> list[CaseView] | None:
        """The open cases if any opened, changed state or closed since the last call."""
        views = self.cases()
        now = {v.subscriber_id: (v.state, v.contact_attempts) for v in views}
        if now == self._case_view:
            return None
        self._case_view = now
        return views

    def controls(self) -> list[Control]:
        """Controls in force in the engine."""
        t = self.now()
        return [c for c in self.engine.controls.all() if c.active(t)]

    def calls_in_progress(self) -> int:
        """International calls the engine is following."""
        return len(self.engine.active)


def reconcile_controls(engine: Engine, in_force: Iterable[Control]) -> tuple[int, list[Control]]:
    """Put in the engine the store's controls it lacks; returns how many, and the engine's
    controls the store lacks (for the caller to write, or to accept as the engine's own)."""
    wanted = {(c.kind, c.subscriber_id, c.subject): c for c in in_force}
    have = {(c.kind, c.subscriber_id, c.subject): c for c in engine.controls.all()}
    put = 0
    for key, c in wanted.items():
        if key not in have:
            engine.controls.put(c)
            put += 1
    return put, [have[k] for k in sorted(have.keys() - wanted.keys(), key=str)]


def control_from_record(record: StoredControl) -> Control:
    """The domain control of a stored one (destination denials are stored as ``SID:SUBJECT``)."""
    kind = ControlKind(record.kind)
    sid: str | None = None
    subject = record.subject
    if kind is ControlKind.DESTINATION_DENIAL and ":" in subject:
        sid, subject = subject.split(":", 1)
    until = math.inf if record.expires_at is None else record.expires_at.timestamp()
    return Control(
        kind, subject, record.reason, record.created_at.timestamp(), until, record.created_by, sid
    )


def store_subject(kind: ControlKind, subject: str, subscriber_id: str | None) -> str:
    """How the store names a control's subject (``SID:SUBJECT`` for a customer's denial)."""
    if kind is ControlKind.DESTINATION_DENIAL and subscriber_id is not None:
        return f"{subscriber_id}:{subject}"
    return subject
