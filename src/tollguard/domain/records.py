"""The records tollguard reads: subscribers, call detail records and SIP security events.

These are the data contracts of ``docs/formats.md`` as typed, immutable values. Readers (adapters)
produce them; the engine consumes them. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Segment(StrEnum):
    """Kind of customer."""

    RESIDENTIAL = "residential"
    BUSINESS = "business"


class Service(StrEnum):
    """How the customer's line reaches the carrier: SIP over IP, or a PSTN line (no source IP)."""

    IP = "ip"
    PSTN = "pstn"


class IntlStatus(StrEnum):
    """International calling status as the customer asked for it."""

    ENABLED = "enabled"
    SUSPENDED = "suspended"


class Disposition(StrEnum):
    """Outcome of a call attempt."""

    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"


class SipEventKind(StrEnum):
    """Kind of SIP security event."""

    AUTH_FAILURE = "auth_failure"
    AUTH_SUCCESS = "auth_success"
    REGISTER = "register"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A customer of the carrier.

    ``numbers`` are E.164 with ``+``. ``equipment`` is the customer's equipment model when known
    (optional column).
    """

    subscriber_id: str
    segment: Segment
    service: Service
    numbers: tuple[str, ...]
    email: str
    intl_status: IntlStatus
    equipment: str | None = None


@dataclass(frozen=True, slots=True)
class CallDetailRecord:
    """One call attempt as the switch recorded it (the CDR contract).

    ``callee`` is kept as recorded (E.164 with ``+`` or digits as dialled under the national plan);
    normalisation happens in :mod:`tollguard.domain.numbering`. Times are timezone-aware.
    ``answer`` is ``None`` for an unanswered call. ``source_ip`` is ``None`` for PSTN lines.
    """

    call_id: str
    subscriber_id: str
    caller: str
    callee: str
    start: datetime
    answer: datetime | None
    end: datetime
    disposition: Disposition
    source_ip: str | None

    @property
    def billable_seconds(self) -> float:
        """Seconds from answer to end; 0 for unanswered calls."""
        if self.answer is None or self.disposition is not Disposition.ANSWERED:
            return 0.0
        return max(0.0, (self.end - self.answer).total_seconds())


@dataclass(frozen=True, slots=True)
class SipSecurityEvent:
    """A SIP authentication or registration event seen by the carrier's SIP edge."""

    time: datetime
    source_ip: str
    username: str
    event: SipEventKind
    user_agent: str


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    """A row a reader could not accept, with where it came from and why.

    ``line`` is the 1-based physical line number in ``source`` (the header is line 1).
    ``field`` names the offending field, or ``None`` when the row as a whole is bad.
    """

    source: str
    line: int
    field: str | None
    reason: str
    raw: str

    def describe(self) -> str:
        """A one-line human description: ``file:line: field: reason``."""
        where = f"{self.source}:{self.line}"
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"
