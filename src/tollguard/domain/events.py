"""Events into the engine and outputs from it.

The engine is a function of (state, event) -> (state, outputs). Time arrives with the events as
POSIX seconds (``float``), so the domain core never reads a clock. Adapters convert timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tollguard.domain.records import SipEventKind

# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, slots=True)
class CallStarted:
    """An authorization request: a customer's call is being set up."""

    time: float
    call_id: str
    subscriber_id: str
    callee: str
    source_ip: str | None = None
    caller: str = ""


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The callee answered: billing (and live exposure) starts."""

    time: float
    call_id: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call ended (the CDR). ``answered_at`` is ``None`` when it was never answered."""

    time: float
    call_id: str
    answered_at: float | None = None


@dataclass(frozen=True, slots=True)
class CallReported:
    """A call known only after it ended (a CDR the switch sends later, with no set-up asked).

    It happened whatever the engine would have decided: its set-up is assessed (the evidence
    counts) and its charge is metered, as of when the report arrives.
    """

    time: float
    call_id: str
    subscriber_id: str
    callee: str
    source_ip: str | None
    billable_seconds: float


@dataclass(frozen=True, slots=True)
class SipEvent:
    """A SIP security event (authentication failure or success, registration)."""

    time: float
    source_ip: str
    username: str
    event: SipEventKind
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes: periodic work (live metering, contact timers, expiry) runs on ticks."""

    time: float


class ContactResult(StrEnum):
    """What a contact attempt with a customer established."""

    NO_ANSWER = "no_answer"
    CONFIRMED_LEGITIMATE = "confirmed_legitimate"
    CONFIRMED_FRAUD = "confirmed_fraud"


@dataclass(frozen=True, slots=True)
class ContactOutcome:
    """An operator records the outcome of contacting a customer about a case."""

    time: float
    subscriber_id: str
    result: ContactResult
    channel: str = "phone"
    actor: str = "analyst"
    note: str = ""


@dataclass(frozen=True, slots=True)
class ManualControl:
    """An operator changes a control by hand (suspend, restore, restrict, block, deny, lift).

    ``action`` is an :class:`ActionKind`; ``subject`` is the subscriber id, country (ISO alpha-2),
    IP address or E.164 prefix it applies to; ``until`` is an expiry time or ``None``.
    """

    time: float
    action: ActionKind
    subject: str
    reason: str
    actor: str
    until: float | None = None
    subscriber_id: str | None = None


Event = (
    CallStarted
    | CallAnswered
    | CallEnded
    | CallReported
    | SipEvent
    | Tick
    | ContactOutcome
    | ManualControl
)

# --------------------------------------------------------------------------------------------
# Outputs


class ActionKind(StrEnum):
    """Control actions the engine (or an operator) takes. Each one is audited."""

    SUSPEND_INTERNATIONAL = "suspend_international"
    RESTORE_INTERNATIONAL = "restore_international"
    DENY_DESTINATION = "deny_destination"
    ALLOW_DESTINATION = "allow_destination"
    RESTRICT_COUNTRY = "restrict_country"
    LIFT_COUNTRY = "lift_country"
    BLOCK_IP = "block_ip"
    UNBLOCK_IP = "unblock_ip"
    CONTACT_ATTEMPT = "contact_attempt"
    NOTIFY = "notify"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a :class:`CallStarted`: allow or deny, with reasons."""

    time: float
    call_id: str
    allow: bool
    reasons: tuple[str, ...] = ()
    subscriber_id: str = ""
    fraud_probability: float = 0.0
    #: A call allowed under watch: the answered seconds after which tollguard cuts it (it may
    #: cut sooner, on what it learns meanwhile). A switch can enforce it by itself as well, so
    #: the watch holds even when tollguard cannot reach it (Kamailio's dialog timeout, FreeSWITCH
    #: ``sched_hangup``, Asterisk ``Dial(...,L(...))``). None: no limit.
    max_answered_s: float | None = None


@dataclass(frozen=True, slots=True)
class Terminate:
    """Cut a call in progress."""

    time: float
    call_id: str
    reason: str
    subscriber_id: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """A control action with who/why and the evidence behind it (this is the audit record)."""

    time: float
    action: ActionKind
    reason: str
    actor: str = "tollguard"
    subscriber_id: str | None = None
    country: str | None = None
    prefix: str | None = None
    ip: str | None = None
    until: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


class Severity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    """A detector's finding, for analysts. Alerts never act by themselves."""

    time: float
    detector: str
    severity: Severity
    subscriber_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


Output = Decision | Terminate | Action | Alert
