"""Reader of the subscribers CSV (``docs/formats.md``, "Subscribers CSV")."""

from __future__ import annotations

import os
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Final

from tollguard.adapters.readers._common import (
    MAX_FIELD_CHARS,
    MAX_LINE_BYTES,
    Counters,
    ReadSummary,
    RowError,
    check_text,
    drive_csv,
    guarded,
    is_e164,
    iter_lines,
    open_binary,
    read_header,
)
from tollguard.adapters.readers.cdrs import valid_id
from tollguard.domain.records import IntlStatus, QuarantinedRow, Segment, Service, Subscriber

#: Required columns, in their canonical order.
SUBSCRIBER_COLUMNS: Final = (
    "subscriber_id",
    "segment",
    "service",
    "numbers",
    "email",
    "intl_status",
)
#: Optional columns.
SUBSCRIBER_OPTIONAL: Final = ("equipment",)
#: Most numbers one subscriber may have, and the size limit of the ``numbers`` field.
MAX_NUMBERS: Final = 100
MAX_NUMBERS_CHARS: Final = MAX_NUMBERS * 17
MAX_EMAIL_CHARS: Final = 254

_SEGMENTS: Final = {s.value: s for s in Segment}
_SERVICES: Final = {s.value: s for s in Service}
_STATUSES: Final = {s.value: s for s in IntlStatus}


def _check_email(value: str) -> str:
    if not value:
        return value
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or ".." in domain
        or len(value) > MAX_EMAIL_CHARS
        or value.split() != [value]
        or "," in value
        or ";" in value
    ):
        raise RowError("email", "not an e-mail address (name@domain.tld)")
    return value


def read_subscribers(
    path: Path | str | os.PathLike[str], *, summary: ReadSummary | None = None
) -> Iterator[Subscriber | QuarantinedRow]:
    """Read the subscribers CSV: one :class:`Subscriber` per good row, else a quarantined row.

    Columns may come in any order; ``equipment`` is optional. A subscriber_id seen earlier in the
    file, or a number already given to another subscriber, is quarantined (first one wins).
    """
    path = Path(path)
    stream = open_binary(path)
    counters = Counters()
    try:
        lines = iter_lines(stream, MAX_LINE_BYTES)
        names = read_header(path, lines, SUBSCRIBER_COLUMNS, SUBSCRIBER_OPTIONAL)
    except BaseException:
        stream.close()
        raise
    pick = itemgetter(*(names.index(column) for column in SUBSCRIBER_COLUMNS))
    equipment_at = names.index("equipment") if "equipment" in names else None
    ids: set[str] = set()
    owner_of: dict[str, str] = {}

    def parse(fields: list[str]) -> Subscriber:
        subscriber_id, segment_s, service_s, numbers_s, email, status_s = pick(fields)
        if not valid_id(subscriber_id):
            raise RowError("subscriber_id", "must be 1-64 characters without spaces")
        segment = _SEGMENTS.get(segment_s)
        if segment is None:
            raise RowError("segment", "must be residential or business")
        service = _SERVICES.get(service_s)
        if service is None:
            raise RowError("service", "must be ip or pstn")
        if not numbers_s:
            raise RowError("numbers", "is empty: at least one number is required")
        numbers = tuple(dict.fromkeys(numbers_s.split(";")))
        if len(numbers) > MAX_NUMBERS:
            raise RowError("numbers", f"more than {MAX_NUMBERS} numbers")
        for number in numbers:
            if not is_e164(number):
                raise RowError("numbers", f"not E.164 with '+': {number[:32]!r}")
            owner = owner_of.get(number)
            if owner is not None and owner != subscriber_id:
                raise RowError("numbers", f"{number} already belongs to subscriber {owner}")
        _check_email(email)
        status = _STATUSES.get(status_s)
        if status is None:
            raise RowError("intl_status", "must be enabled or suspended")
        equipment: str | None = None
        if equipment_at is not None:
            equipment = (
                check_text("equipment", fields[equipment_at], required=False, limit=MAX_FIELD_CHARS)
                or None
            )
        if subscriber_id in ids:
            raise RowError("subscriber_id", "duplicate subscriber_id")
        ids.add(subscriber_id)
        for number in numbers:
            owner_of[number] = subscriber_id
        return Subscriber(subscriber_id, segment, service, numbers, email, status, equipment)

    rows = drive_csv(
        str(path), lines, tuple(names), parse, counters, limits={"numbers": MAX_NUMBERS_CHARS}
    )
    return guarded(stream, counters, summary, rows)
