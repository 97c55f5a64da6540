"""Ingest input files into the store: subscribers, CDRs (classified and rated), SIP events.

- Every file is validated (exists, readable, usable header) before anything is written.
- A file whose content (SHA-256) was already ingested completely is skipped.
- Bad rows go to the ``quarantine`` table and to ``<quarantine_dir>/<input-name>.quarantine.csv``
  (columns ``file,line,field,reason,raw``); the good rows around them are stored.
- A CDR whose ``call_id`` is already stored, or repeated in the same file, is a *duplicate*:
  counted and ignored (the first one wins).
- Rows are written in batches, each batch (records and quarantined rows) in one transaction; the
  file is marked complete at the end. An interrupted file is started again cleanly next time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import IO, Any, Final

from tollguard.adapters.csvsafe import SafeCsvWriter
from tollguard.adapters.readers import (
    CdrFormat,
    InputFileError,
    read_any_cdrs,
    read_sip_events,
    read_subscribers,
)
from tollguard.adapters.store import RatedCdr, Store
from tollguard.domain.numbering import NumberClassifier
from tollguard.domain.rating import Tariff
from tollguard.domain.records import (
    CallDetailRecord,
    QuarantinedRow,
    SipSecurityEvent,
    Subscriber,
)

BATCH_ROWS: Final = 5_000
DUPLICATE_CALL_ID: Final = "duplicate call_id"
QUARANTINE_COLUMNS: Final = ("file", "line", "field", "reason", "raw")

KINDS: Final = ("subscribers", "cdrs", "sip_events")


class IngestError(Exception):
    """An input that cannot be used at all (missing, unreadable, unusable header, bad format)."""


@dataclass(slots=True)
class FileSummary:
    """Counts for one input file. ``rows_read = accepted + quarantined + duplicates``.

    ``skipped`` is true when the same content had been ingested before (all counts are then 0).
    ``quarantine_file`` is where this file's bad rows were written, if there were any.
    """

    kind: str
    path: Path
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    skipped: bool = False
    quarantine_file: Path | None = None


@dataclass(slots=True)
class IngestSummary:
    """What an ingest did, per file and in total."""

    files: list[FileSummary] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        """Data rows read from every file."""
        return sum(f.rows_read for f in self.files)

    @property
    def accepted(self) -> int:
        """Rows stored."""
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        """Rows rejected to quarantine."""
        return sum(f.quarantined for f in self.files)

    @property
    def duplicates(self) -> int:
        """CDRs ignored because their call_id was already stored or repeated."""
        return sum(f.duplicates for f in self.files)

    @property
    def skipped(self) -> int:
        """Files skipped because their content had been ingested before."""
        return sum(1 for f in self.files if f.skipped)


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """A progress report: ``rows_done`` of about ``rows_total`` (line count) in ``path``."""

    kind: str
    path: Path
    rows_done: int
    rows_total: int
    finished: bool


ProgressCallback = Callable[[IngestProgress], None]


@dataclass(frozen=True, slots=True)
class _Input:
    kind: str
    path: Path
    sha256: str
    size: int
    lines: int


def _fingerprint(kind: str, path: Path) -> _Input:
    """SHA-256, size and line count of a file in one pass (of every file, for a directory)."""
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    digest = hashlib.sha256()
    size = lines = 0
    if path.is_dir():  # e.g. FreeSWITCH JSON CDRs: one document per file
        members = sorted(p for p in path.rglob("*") if p.is_file())
        for member in members:
            digest.update(str(member.relative_to(path)).encode("utf-8") + b"\0")
            member_size, _ = _hash_into(digest, member)
            size += member_size
        return _Input(kind, path, digest.hexdigest(), size, len(members) + 1)
    if not path.is_file():
        raise IngestError(f"{path}: not a regular file")
    size, lines = _hash_into(digest, path)
    return _Input(kind, path, digest.hexdigest(), size, lines)


def _hash_into(digest: Any, path: Path) -> tuple[int, int]:
    """Feed a file into ``digest``; return its size and line count."""
    size = lines = 0
    last = b"\n"
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return size, lines + (last != b"\n")


class _QuarantineFile:
    """The CSV of one input's bad rows, created on the first bad row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] | None = None
        self._writer: Any = None
        path.unlink(missing_ok=True)  # a leftover from an earlier run of this input

    def write(self, row: QuarantinedRow) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = self.path.open("w", encoding="utf-8", newline="")
            self._writer = SafeCsvWriter(self._stream)
            self._writer.writerow(QUARANTINE_COLUMNS)
        self._writer.writerow([row.source, row.line, row.field or "", row.reason, row.raw])

    @property
    def written(self) -> bool:
        return self._writer is not None

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


def _quarantine_path(directory: Path, item: _Input, used: set[Path]) -> Path:
    path = directory / f"{item.path.name}.quarantine.csv"
    if path in used:  # two inputs with the same name in one run
        path = directory / f"{item.path.name}.{item.sha256[:12]}.quarantine.csv"
    used.add(path)
    return path


class _Rater:
    """Normalises callees and rates CDRs."""

    def __init__(self) -> None:
        self._classifier = NumberClassifier()
        self._tariff = Tariff.default()

    def __call__(self, cdrs: list[CallDetailRecord]) -> list[RatedCdr]:
        infos = self._classifier.classify_many([c.callee for c in cdrs])
        # An unreadable callee is charged at the tariff's (dear) fallback rate, as rating does.
        charges = self._tariff.charge_many(
            [info.e164 or c.callee for info, c in zip(infos, cdrs, strict=True)],
            [c.billable_seconds for c in cdrs],
        )
        return [
            RatedCdr(
                cdr=c,
                callee_e164=info.e164,
                country=info.region,
                number_type=info.number_type.value,
                charge_jpy=float(charge),
            )
            for c, info, charge in zip(cdrs, infos, charges, strict=True)
        ]


@cache
def _rater() -> _Rater:
    """The shared rater (the classifier is thread-safe, the tariff immutable)."""
    return _Rater()


def _open_reader(
    item: _Input, cdr_format: CdrFormat | str | None
) -> Iterator[Subscriber | CallDetailRecord | SipSecurityEvent | QuarantinedRow]:
    try:
        if item.kind == "subscribers":
            return read_subscribers(item.path)
        if item.kind == "cdrs":
            return read_any_cdrs(item.path, fmt=cdr_format)
        return read_sip_events(item.path)
    except InputFileError as exc:
        raise IngestError(str(exc)) from exc
    except ValueError as exc:  # e.g. an unknown or undetectable CDR format
        raise IngestError(f"{item.path}: {exc}") from exc


def ingest_files(
    store: Store,
    subscribers: list[Path],
    cdrs: list[Path],
    sip_events: list[Path],
    *,
    cdr_format: CdrFormat | str | None = None,
    quarantine_dir: Path,
    progress: ProgressCallback | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    batch_rows: int = BATCH_ROWS,
    on_record: Callable[[Any], None] | None = None,
) -> IngestSummary:
    """Ingest subscribers, then CDRs, then SIP events; return the counts per file and in total.

    ``cdr_format`` is passed to :func:`tollguard.adapters.readers.read_any_cdrs` (``None``: detect
    it). ``on_record`` is called with every good record read (not for files skipped as ingested
    before), so a caller that also needs the records reads the file once. Raises
    :class:`IngestError`, before writing anything, if any input is unusable.
    """
    inputs = [
        _fingerprint(kind, Path(p))
        for kind, paths in zip(KINDS, (subscribers, cdrs, sip_events), strict=True)
        for p in paths
    ]
    summary = IngestSummary()
    readers: dict[int, Iterator[Any]] = {}
    try:
        # Validate every input (headers included) before writing anything.
        for n, item in enumerate(inputs):
            if _needs_ingest(store, item):
                readers[n] = _open_reader(item, cdr_format)
        used: set[Path] = set()
        for n, item in enumerate(inputs):
            # Checked again: the same content may come twice in one run (the first one wins).
            if n not in readers or not _needs_ingest(store, item):
                summary.files.append(FileSummary(item.kind, item.path, skipped=True))
                if progress is not None:
                    progress(IngestProgress(item.kind, item.path, 0, 0, True))
                continue
            qfile = _QuarantineFile(_quarantine_path(quarantine_dir, item, used))
            try:
                result = _ingest_one(
                    store, item, readers[n], qfile, progress, clock, batch_rows, on_record
                )
            finally:
                qfile.close()
            summary.files.append(result)
    finally:
        for reader in readers.values():
            close = getattr(reader, "close", None)
            if close is not None:
                close()
    return summary


def _needs_ingest(store: Store, item: _Input) -> bool:
    """False when this content was ingested completely before."""
    record = store.find_ingested_file(item.kind, item.sha256)
    return record is None or record.finished_at is None


def _ingest_one(
    store: Store,
    item: _Input,
    reader: Iterator[Any],
    qfile: _QuarantineFile,
    progress: ProgressCallback | None,
    clock: Callable[[], datetime],
    batch_rows: int,
    on_record: Callable[[Any], None] | None = None,
) -> FileSummary:
    record = store.start_ingested_file(
        item.kind, str(item.path), item.sha256, item.size, at=clock()
    )
    result = FileSummary(item.kind, item.path)
    expected = max(item.lines - 1, 0)  # minus the header
    good: list[Any] = []
    bad: list[QuarantinedRow] = []

    def flush() -> None:
        rated = _rater()(good) if item.kind == "cdrs" and good else []  # before taking the lock
        at = clock()
        with store.begin() as conn:
            if good:
                if item.kind == "subscribers":
                    result.accepted += store.upsert_subscribers(good, at=at, conn=conn)
                elif item.kind == "cdrs":
                    counts = store.insert_cdrs(rated, at=at, file_id=record.id, conn=conn)
                    result.accepted += counts.new
                    result.duplicates += counts.duplicate
                else:
                    result.accepted += store.insert_sip_events(good, file_id=record.id, conn=conn)
            if bad:
                result.quarantined += store.add_quarantine(bad, at=at, file_id=record.id, conn=conn)
        good.clear()
        bad.clear()
        if progress is not None:
            done = result.accepted + result.quarantined + result.duplicates
            progress(IngestProgress(item.kind, item.path, done, max(expected, done), False))

    try:
        for row in reader:
            if isinstance(row, QuarantinedRow):
                if item.kind == "cdrs" and row.reason == DUPLICATE_CALL_ID:
                    result.duplicates += 1
                    continue
                bad.append(row)
                qfile.write(row)
            else:
                good.append(row)
                if on_record is not None:
                    on_record(row)
            if len(good) + len(bad) >= batch_rows:
                flush()
        flush()
    except InputFileError as exc:
        raise IngestError(str(exc)) from exc
    result.rows_read = result.accepted + result.quarantined + result.duplicates
    store.finish_ingested_file(
        record.id,
        rows_read=result.rows_read,
        rows_accepted=result.accepted,
        rows_quarantined=result.quarantined,
        rows_duplicate=result.duplicates,
        at=clock(),
    )
    result.quarantine_file = qfile.path if qfile.written else None
    if progress is not None:
        progress(IngestProgress(item.kind, item.path, result.rows_read, result.rows_read, True))
    return result
