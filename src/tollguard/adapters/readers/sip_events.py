"""Reader of the SIP security events CSV (``docs/formats.md``, "SIP security events CSV")."""

from __future__ import annotations

import os
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Final

from tollguard.adapters.readers._common import (
    MAX_LINE_BYTES,
    Counters,
    IpValidator,
    ReadSummary,
    RowError,
    drive_csv,
    guarded,
    iter_lines,
    open_binary,
    parse_aware,
    read_header,
)
from tollguard.domain.records import QuarantinedRow, SipEventKind, SipSecurityEvent

#: The columns, in their canonical order.
SIP_EVENT_COLUMNS: Final = ("time", "source_ip", "username", "event", "user_agent")

_KINDS: Final = {k.value: k for k in SipEventKind}


def read_sip_events(
    path: Path | str | os.PathLike[str], *, summary: ReadSummary | None = None
) -> Iterator[SipSecurityEvent | QuarantinedRow]:
    """Read a SIP security events CSV: one :class:`SipSecurityEvent` per good row.

    ``username`` and ``user_agent`` may be empty (scanners often send neither).
    """
    path = Path(path)
    stream = open_binary(path)
    counters = Counters()
    try:
        lines = iter_lines(stream, MAX_LINE_BYTES)
        names = read_header(path, lines, SIP_EVENT_COLUMNS)
    except BaseException:
        stream.close()
        raise
    pick = itemgetter(*(names.index(column) for column in SIP_EVENT_COLUMNS))
    ip_of = IpValidator()

    def parse(fields: list[str]) -> SipSecurityEvent:
        time_s, ip_s, username, event_s, user_agent = pick(fields)
        time = parse_aware("time", time_s)
        source_ip = ip_of(ip_s)
        if source_ip is None:
            raise RowError("source_ip", "is empty" if not ip_s else "not an IPv4 or IPv6 address")
        event = _KINDS.get(event_s)
        if event is None:
            raise RowError("event", "must be auth_failure, auth_success or register")
        return SipSecurityEvent(time, source_ip, username, event, user_agent)

    rows = drive_csv(str(path), lines, tuple(names), parse, counters)
    return guarded(stream, counters, summary, rows)
