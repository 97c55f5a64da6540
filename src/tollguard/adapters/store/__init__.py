"""Embedded storage: SQLAlchemy 2 Core over SQLite (WAL, default) or PostgreSQL (by URL).

The schema is :mod:`tollguard.adapters.store.schema`; Alembic migrations shipped in
:mod:`tollguard.migrations` create it and run on :meth:`Store.open`. See ``docs/storage.md``.
"""

from tollguard.adapters.store.audit import (
    GENESIS_HASH,
    AuditEntry,
    append_audit,
    canonical_json,
    verify_audit_chain,
)
from tollguard.adapters.store.engine import default_url, make_engine
from tollguard.adapters.store.models import (
    ApiToken,
    Case,
    ContactAttempt,
    Control,
    DormantConsent,
    IngestedFile,
    InputOffset,
    InsertCounts,
    IntelCandidate,
    IntelImportCounts,
    QuarantineEntry,
    RatedCdr,
    RestrictedDestination,
    Snapshot,
    StoredAlert,
    StoredNoticeTemplate,
    StoredNotification,
)
from tollguard.adapters.store.schema import (
    CONSENT_STATES,
    CONTROL_KINDS,
    DESTINATION_KINDS,
    INTEL_KINDS,
    INTEL_STATUSES,
    metadata,
)
from tollguard.adapters.store.store import Store, StoreError

__all__ = [
    "CONSENT_STATES",
    "CONTROL_KINDS",
    "DESTINATION_KINDS",
    "GENESIS_HASH",
    "INTEL_KINDS",
    "INTEL_STATUSES",
    "ApiToken",
    "AuditEntry",
    "Case",
    "ContactAttempt",
    "Control",
    "DormantConsent",
    "IngestedFile",
    "InputOffset",
    "InsertCounts",
    "IntelCandidate",
    "IntelImportCounts",
    "QuarantineEntry",
    "RatedCdr",
    "RestrictedDestination",
    "Snapshot",
    "Store",
    "StoreError",
    "StoredAlert",
    "StoredNoticeTemplate",
    "StoredNotification",
    "append_audit",
    "canonical_json",
    "default_url",
    "make_engine",
    "metadata",
    "verify_audit_chain",
]
