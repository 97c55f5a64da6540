"""Values the store reads and writes, besides the records of :mod:`tollguard.domain.records`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tollguard.domain.records import CallDetailRecord

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RatedCdr:
    """A CDR with its callee normalised (E.164, country, number type) and its charge in yen."""

    cdr: CallDetailRecord
    callee_e164: str | None
    country: str | None
    number_type: str | None
    charge_jpy: float


@dataclass(frozen=True, slots=True)
class InsertCounts:
    """How many rows of a bulk insert were new and how many were already there."""

    new: int
    duplicate: int


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A stored quarantined row."""

    id: int
    source_file: str
    line: int
    field: str | None
    reason: str
    raw: str
    ingested_at: datetime
    file_id: int | None


@dataclass(frozen=True, slots=True)
class IngestedFile:
    """An input file being or having been ingested; ``finished_at is None`` while in progress."""

    id: int
    kind: str
    path: str
    sha256: str
    size: int
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_duplicate: int
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Control:
    """A control in force from ``created_at`` until it expires or is lifted."""

    id: int
    kind: str
    subject: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None
    evidence: JsonObject

    def active_at(self, at: datetime) -> bool:
        """Whether the control is in force at ``at``."""
        return (
            self.created_at <= at
            and (self.expires_at is None or at < self.expires_at)
            and (self.lifted_at is None or at < self.lifted_at)
        )


@dataclass(frozen=True, slots=True)
class Case:
    """A suspected-fraud case on one subscriber."""

    id: int
    subscriber_id: str
    opened_at: datetime
    status: str
    score: float
    evidence: JsonObject
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ContactAttempt:
    """One attempt to reach the customer of a case."""

    id: int
    case_id: int
    channel: str
    time: datetime
    outcome: str
    note: str
    made_by: str


@dataclass(frozen=True, slots=True)
class RestrictedDestination:
    """An entry of the restricted destination list (a country code or a number range)."""

    id: int
    kind: str
    value: str
    criteria: JsonObject
    provenance: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class DormantConsent:
    """A dormant customer's consent to the suspension of international calling."""

    subscriber_id: str
    state: str
    updated_at: datetime
    updated_by: str
    note: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A saved engine state with the input offsets it corresponds to."""

    id: int
    name: str
    taken_at: datetime
    offsets: JsonObject
    state: bytes


@dataclass(frozen=True, slots=True)
class InputOffset:
    """How far an input source has been consumed."""

    source: str
    position: int
    detail: JsonObject
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IntelCandidate:
    """A destination or address another carrier shared, awaiting (or after) review."""

    id: int
    kind: str
    value: str
    source: str
    country: str | None
    first_seen: datetime
    last_seen: datetime
    incidents: int
    calls: int
    cost_band: str | None
    feed_digest: str
    imported_at: datetime
    status: str
    reviewed_by: str | None
    reviewed_at: datetime | None

    @property
    def key(self) -> str:
        """``kind:value``."""
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class IntelImportCounts:
    """What an import changed: candidates new, updated with newer figures, and unchanged."""

    new: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record (the token itself is never stored, only its SHA-256)."""

    id: int
    name: str
    role: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """A detector's finding as kept for analysts."""

    id: int
    time: datetime
    detector: str
    severity: str
    subscriber_id: str | None
    evidence: JsonObject


@dataclass(frozen=True, slots=True)
class StoredNotification:
    """A notice to a customer or analyst, with its delivery status."""

    id: int
    kind: str
    channel: str
    recipient: str
    subject: str
    body: str
    subscriber_id: str | None
    reference: str
    created_at: datetime
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebUser:
    """A person who logs in to the console (analyst, admin) or the portal (customer).

    Only a password hash (a memory-hard KDF's encoded string) is kept. ``failed_logins`` counts
    failures since the last success; ``locked_until`` is set when too many follow each other.
    """

    id: int
    username: str
    role: str
    subscriber_id: str | None
    password_hash: str
    locale: str
    created_by: str
    created_at: datetime
    disabled_at: datetime | None
    failed_logins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class StoredNoticeTemplate:
    """A carrier's own version of a notice template (the packaged one applies otherwise)."""

    kind: str
    locale: str
    subject: str
    body: str
    updated_by: str
    updated_at: datetime
