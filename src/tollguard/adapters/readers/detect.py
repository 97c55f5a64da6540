"""Which CDR format a file is in, and one entry point that reads any of them."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator
from datetime import tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from tollguard.adapters.readers._common import JST, InputFileError, ReadSummary
from tollguard.adapters.readers.asterisk import ASTERISK_EXTRA_COLUMNS, read_asterisk_master_csv
from tollguard.adapters.readers.cdrs import CDR_COLUMNS, read_cdrs
from tollguard.adapters.readers.freeswitch_csv import read_freeswitch_csv
from tollguard.adapters.readers.freeswitch_json import JSON_SUFFIXES, read_freeswitch_json
from tollguard.adapters.readers.kamailio import read_kamailio_acc_cdrs
from tollguard.domain.records import CallDetailRecord, QuarantinedRow


class CdrFormat(StrEnum):
    """The CDR file formats tollguard reads."""

    TOLLGUARD = "tollguard"
    ASTERISK = "asterisk"
    FREESWITCH_CSV = "freeswitch_csv"
    FREESWITCH_JSON = "freeswitch_json"
    KAMAILIO = "kamailio"


_SNIFF_BYTES: Final = 64 * 1024
_SNIFF_LINES: Final = 20
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


def _looks_like_times(start_answer_end: list[str]) -> bool:
    """A start time, then answer and end times or empty fields."""
    start, *rest = start_answer_end
    return _STAMP.match(start) is not None and all(not v or _STAMP.match(v) for v in rest)


def _headerless_format(line: str) -> CdrFormat | None:
    """The headerless format ``line`` is a record of, if any."""
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None
    width = len(fields)
    if width in ASTERISK_EXTRA_COLUMNS and _looks_like_times(fields[9:12]):
        return CdrFormat.ASTERISK
    if width in (13, 15) and _looks_like_times(fields[4:7]):
        return CdrFormat.FREESWITCH_CSV
    return None


def detect_cdr_format(path: Path | str | os.PathLike[str]) -> CdrFormat:
    """Sniff the format of a CDR file from its first non-blank lines.

    A header (line 1) tells the tollguard and Kamailio formats; headerless switch files are told
    by the first of their first 20 lines that looks like a record. A directory is
    ``freeswitch_json``. Raises :class:`InputFileError` when the file is missing,
    empty, or matches no known format.
    """
    path = Path(path)
    if path.is_dir():
        if any(p.name.endswith(JSON_SUFFIXES) for p in path.iterdir()):
            return CdrFormat.FREESWITCH_JSON
        raise InputFileError(path, "directory holds no .json files")
    try:
        with path.open("rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot open: {exc.strerror or exc}") from None
    text = head.decode("utf-8-sig", "replace")
    lines = [ln.strip("\r") for ln in text.split("\n") if ln.strip()]
    if not lines:
        raise InputFileError(path, "empty file: cannot detect its CDR format")
    first = lines[0]
    if first.lstrip().startswith(("{", "[")):
        return CdrFormat.FREESWITCH_JSON
    lowered = {name.strip().lower() for name in re.split(r"[,;\t]", first)}
    if set(CDR_COLUMNS) <= lowered:
        return CdrFormat.TOLLGUARD
    if {"start_time", "callid"} <= lowered:
        return CdrFormat.KAMAILIO
    for line in lines[:_SNIFF_LINES]:  # headerless: the first line that looks like a record
        found = _headerless_format(line)
        if found is not None:
            return found
    raise InputFileError(
        path,
        "unknown CDR format (expected tollguard CSV, Asterisk Master.csv, FreeSWITCH CSV/JSON or "
        "a Kamailio acc_cdrs export)",
    )


_READERS: Final[dict[CdrFormat, Callable[..., Iterator[CallDetailRecord | QuarantinedRow]]]] = {
    CdrFormat.TOLLGUARD: read_cdrs,
    CdrFormat.ASTERISK: read_asterisk_master_csv,
    CdrFormat.FREESWITCH_CSV: read_freeswitch_csv,
    CdrFormat.FREESWITCH_JSON: read_freeswitch_json,
    CdrFormat.KAMAILIO: read_kamailio_acc_cdrs,
}


def read_any_cdrs(
    path: Path | str | os.PathLike[str],
    fmt: CdrFormat | str | None = None,
    *,
    tz: tzinfo = JST,
    dedupe: bool = True,
    summary: ReadSummary | None = None,
    **kw: Any,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """Read CDRs in ``fmt`` (detected with :func:`detect_cdr_format` when ``None``).

    ``tz`` applies to switch formats whose times carry no offset; the tollguard contract ignores
    it (its times must carry an offset). Other keywords go to the format's reader.
    """
    path = Path(path)
    chosen = detect_cdr_format(path) if fmt is None else CdrFormat(fmt)
    reader = _READERS[chosen]
    if chosen is CdrFormat.TOLLGUARD:
        return reader(path, dedupe=dedupe, summary=summary, **kw)
    return reader(path, tz=tz, dedupe=dedupe, summary=summary, **kw)
