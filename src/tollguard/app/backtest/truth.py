"""Loading a ``tollguard simulate`` data directory: the calls and the labels a backtest scores.

Only what scoring needs is kept per call (a slim :class:`CallRow`), so a large CDR file stays cheap.
Labels live under ``truth/``: ``incidents.csv``, ``fraud_calls.csv``, ``lookalikes.csv`` and
``meta.json``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 timestamp with offset; reject naive timestamps."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without offset: {value!r}")
    return moment


def _split(value: str | None) -> tuple[str, ...]:
    """Split a ``;``-separated list cell, dropping blanks."""
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(";") if part.strip())


@dataclass(frozen=True, slots=True)
class CallRow:
    """The fields of one CDR a backtest needs."""

    call_id: str
    subscriber_id: str
    callee: str
    start: datetime
    answer: datetime | None
    end: datetime
    answered: bool
    source_ip: str | None

    @property
    def billable_seconds(self) -> float:
        """Seconds from answer to end as recorded; 0 when unanswered."""
        if not self.answered or self.answer is None:
            return 0.0
        return max(0.0, (self.end - self.answer).total_seconds())

    def billable_until(self, cut: datetime) -> float:
        """Seconds from answer to ``min(end, cut)``; 0 when unanswered or cut before answer."""
        if not self.answered or self.answer is None:
            return 0.0
        stop = min(self.end, cut)
        return max(0.0, (stop - self.answer).total_seconds())


@dataclass(frozen=True, slots=True)
class Incident:
    """One labelled fraud incident (``truth/incidents.csv``)."""

    incident_id: str
    kind: str
    subscriber_ids: tuple[str, ...]
    start: datetime
    end: datetime
    source_ips: tuple[str, ...]
    countries: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class Lookalike:
    """A legitimate customer whose behaviour resembles fraud (``truth/lookalikes.csv``)."""

    subscriber_id: str
    kind: str
    start: datetime | None
    end: datetime | None
    description: str


@dataclass(slots=True)
class Truth:
    """A loaded data directory: calls, labels and the set of subscribers."""

    calls: dict[str, CallRow]
    fraud_calls: dict[str, str]
    incidents: list[Incident]
    lookalikes: list[Lookalike]
    subscribers: set[str] = field(default_factory=set)
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    barred: set[str] = field(default_factory=set)
    """Customers whose international calling is suspended at their own request."""

    def incident_calls(self) -> dict[str, list[CallRow]]:
        """Fraud calls per incident id, sorted by start time."""
        grouped: dict[str, list[CallRow]] = {inc.incident_id: [] for inc in self.incidents}
        for call_id, incident_id in self.fraud_calls.items():
            row = self.calls.get(call_id)
            if row is not None:
                grouped.setdefault(incident_id, []).append(row)
        for rows in grouped.values():
            rows.sort(key=lambda r: (r.start, r.call_id))
        return grouped


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _optional_time(value: str | None) -> datetime | None:
    return parse_time(value) if value and value.strip() else None


def read_calls(path: Path) -> dict[str, CallRow]:
    """Read ``cdrs.csv`` into slim rows keyed by call id."""
    calls: dict[str, CallRow] = {}
    for row in _rows(path):
        answer = _optional_time(row.get("answer"))
        disposition = (row.get("disposition") or "").strip().upper()
        calls[row["call_id"]] = CallRow(
            call_id=row["call_id"],
            subscriber_id=row["subscriber_id"],
            callee=row["callee"].strip(),
            start=parse_time(row["start"]),
            answer=answer,
            end=parse_time(row["end"]),
            answered=answer is not None and disposition == "ANSWERED",
            source_ip=(row.get("source_ip") or "").strip() or None,
        )
    return calls


def read_incidents(path: Path) -> list[Incident]:
    """Read ``truth/incidents.csv``."""
    incidents = [
        Incident(
            incident_id=row["incident_id"],
            kind=row.get("kind", "") or "",
            subscriber_ids=_split(row.get("subscriber_ids")),
            start=parse_time(row["start"]),
            end=parse_time(row["end"]),
            source_ips=_split(row.get("source_ips")),
            countries=_split(row.get("countries")),
            description=row.get("description", "") or "",
        )
        for row in _rows(path)
    ]
    incidents.sort(key=lambda inc: (inc.start, inc.incident_id))
    return incidents


def read_lookalikes(path: Path) -> list[Lookalike]:
    """Read ``truth/lookalikes.csv`` (missing file: none)."""
    if not path.exists():
        return []
    return [
        Lookalike(
            subscriber_id=row["subscriber_id"],
            kind=row.get("kind", "") or "",
            start=_optional_time(row.get("start")),
            end=_optional_time(row.get("end")),
            description=row.get("description", "") or "",
        )
        for row in _rows(path)
    ]


def load_truth(data_dir: Path) -> Truth:
    """Load a data directory written by ``tollguard simulate``."""
    truth_dir = data_dir / "truth"
    fraud = {row["call_id"]: row["incident_id"] for row in _rows(truth_dir / "fraud_calls.csv")}
    subscribers_path = data_dir / "subscribers.csv"
    subscribers: set[str] = set()
    barred: set[str] = set()
    if subscribers_path.exists():
        for row in _rows(subscribers_path):
            subscribers.add(row["subscriber_id"])
            if (row.get("intl_status") or "").strip().lower() == "suspended":
                barred.add(row["subscriber_id"])
    meta_path = truth_dir / "meta.json"
    meta: dict[str, Any] = {}
    if meta_path.exists():
        loaded = json.loads(meta_path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            meta = loaded
    return Truth(
        calls=read_calls(data_dir / "cdrs.csv"),
        fraud_calls=fraud,
        incidents=read_incidents(truth_dir / "incidents.csv"),
        lookalikes=read_lookalikes(truth_dir / "lookalikes.csv"),
        subscribers=subscribers,
        meta=meta,
        name=data_dir.resolve().name,
        barred=barred,
    )
