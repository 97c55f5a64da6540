"""Reader of FreeSWITCH ``mod_json_cdr`` call detail records.

Accepted inputs: one JSON document per file (``log-dir`` output, ``<uuid>.cdr.json``), a directory
of such files (read in name order), or a JSON-lines file (one document per line). Values may be
URL-encoded (``encode-values``), as ``mod_json_cdr`` does by default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from tollguard.adapters.readers._common import (
    DUPLICATE_CALL_ID,
    JST,
    MAX_RAW_CHARS,
    Counters,
    InputFileError,
    IpValidator,
    ReadSummary,
    RowError,
    clip,
    has_control_chars,
    iter_lines,
    open_binary,
    parse_local,
)
from tollguard.adapters.readers.freeswitch_csv import build_record
from tollguard.domain.records import CallDetailRecord, QuarantinedRow

#: Largest JSON document accepted, in bytes (a JSON line, or a whole one-document file).
MAX_JSON_BYTES: Final = 4 * 1024 * 1024
#: File name patterns read from a directory.
JSON_SUFFIXES: Final = (".json", ".jsonl", ".ndjson")


def _text(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return unquote(text) if "%" in text else text


def _caller_profile(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The caller profile of the first call flow (``profile_index`` 1: the number as dialled)."""
    flows = doc.get("callflow")
    if isinstance(flows, Mapping):
        flows = [flows]
    if not isinstance(flows, list):
        return {}
    profiles = [f for f in flows if isinstance(f, Mapping)]
    if not profiles:
        return {}

    def index(flow: Mapping[str, Any]) -> int:
        try:
            return int(_text(flow.get("profile_index")) or 0)
        except ValueError:
            return 0

    profile = min(profiles, key=index).get("caller_profile")
    return profile if isinstance(profile, Mapping) else {}


def _time(variables: Mapping[str, Any], stem: str, tz: tzinfo) -> datetime | None:
    """``<stem>_uepoch`` (µs), else ``<stem>_epoch`` (s), else ``<stem>_stamp`` (local, ``tz``).

    ``None`` when absent or zero (FreeSWITCH writes 0 for a call never answered).
    """
    for suffix, scale in (("_uepoch", 1_000_000), ("_epoch", 1)):
        raw = _text(variables.get(stem + suffix))
        if raw:
            if not (raw.isascii() and raw.isdigit()):
                raise RowError(stem + suffix, "not a whole number")
            value = int(raw)
            if value == 0:
                return None
            try:
                return datetime.fromtimestamp(value / scale, UTC)
            except (OverflowError, OSError, ValueError):
                raise RowError(stem + suffix, "out of range") from None
    stamp = _text(variables.get(stem + "_stamp"))
    return parse_local(stem + "_stamp", stamp, tz) if stamp else None


def record_from_document(doc: object, tz: tzinfo, ip_of: IpValidator) -> CallDetailRecord:
    """Map one ``mod_json_cdr`` document onto the CDR contract; raises :class:`RowError`."""
    if not isinstance(doc, Mapping):
        raise RowError(None, "JSON document is not an object")
    variables = doc.get("variables")
    if not isinstance(variables, Mapping):
        raise RowError("variables", "missing or not an object")
    profile = _caller_profile(doc)

    def first(*candidates: tuple[Mapping[str, Any], str]) -> str:
        for where, key in candidates:
            value = _text(where.get(key))
            if value:
                if len(value) > 256 or has_control_chars(value):
                    raise RowError(key, "too long or contains control characters")
                return value
        return ""

    call_id = first((variables, "uuid"), (profile, "uuid"))
    caller = first(
        (variables, "caller_id_number"),
        (profile, "caller_id_number"),
        (variables, "sip_from_user"),
        (variables, "ani"),
    )
    callee = first(
        (variables, "destination_number"),
        (profile, "destination_number"),
        (variables, "sip_req_user"),
    )
    subscriber_id = first((variables, "accountcode"), (variables, "sip_auth_username")) or caller
    start = _time(variables, "start", tz)
    if start is None:
        raise RowError("start_uepoch", "no start time (start_uepoch, start_epoch, start_stamp)")
    end = _time(variables, "end", tz)
    if end is None:
        raise RowError("end_uepoch", "no end time (end_uepoch, end_epoch, end_stamp)")
    answer = _time(variables, "answer", tz)
    ip_text = first(
        (variables, "sip_received_ip"), (variables, "sip_network_ip"), (profile, "network_addr")
    )
    source_ip = ip_of(ip_text) if ip_text else None
    if ip_text and source_ip is None:
        raise RowError("sip_received_ip", "not an IPv4 or IPv6 address")
    return build_record(
        call_id=call_id,
        subscriber_id=subscriber_id,
        caller=caller,
        callee=callee,
        start=start,
        answer=answer,
        end=end,
        hangup_cause=first((variables, "hangup_cause"), (doc, "hangup_cause")),
        source_ip=source_ip,
    )


def read_freeswitch_json(
    path: Path | str | os.PathLike[str],
    *,
    tz: tzinfo = JST,
    dedupe: bool = True,
    summary: ReadSummary | None = None,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """Read ``mod_json_cdr`` output: a one-document file, a directory of them, or JSON lines.

    Times come from ``*_uepoch`` (absolute); ``tz`` only applies to the ``*_stamp`` fallback. In a
    directory each file is its own ``source`` (line 1 for a one-document file).
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(JSON_SUFFIXES))
    else:
        open_binary(path).close()  # raises InputFileError now for a missing or unreadable file
        files = [path]
    return _read(files, tz, dedupe, summary)


def _documents(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """``(line, text, error)`` per document.

    JSON lines when the first non-blank line is a JSON value on its own; else the whole file is one
    (maybe pretty-printed) document, reported at line 1.
    """
    try:
        stream = open_binary(path)
    except InputFileError as exc:  # a file of a directory vanished or is unreadable
        yield 1, "", exc.message
        return
    with stream:
        head = stream.read(MAX_JSON_BYTES + 1)
        first_line = next((ln for ln in head.split(b"\n") if ln.strip()), b"")
        try:
            json.loads(first_line.decode("utf-8-sig"))
            json_lines = True
        except ValueError:  # also UnicodeDecodeError
            json_lines = False
        if json_lines:
            stream.seek(0)
            yield from iter_lines(stream, MAX_JSON_BYTES)
            return
        if len(head) > MAX_JSON_BYTES:
            shown = head[:MAX_RAW_CHARS].decode("utf-8", "backslashreplace")
            yield 1, clip(shown), f"JSON document larger than {MAX_JSON_BYTES} bytes"
            return
        try:
            yield 1, head.decode("utf-8-sig"), None
        except UnicodeDecodeError as exc:
            shown = head[:MAX_RAW_CHARS].decode("utf-8", "backslashreplace")
            yield 1, clip(shown), f"not valid UTF-8 at byte {exc.start + 1} (files must be UTF-8)"


def _read(
    files: list[Path], tz: tzinfo, dedupe: bool, summary: ReadSummary | None
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    counters = Counters()
    ip_of = IpValidator()
    seen: set[str] = set()
    try:
        for path in files:
            source = str(path)
            for number, text, error in _documents(path):
                if error is not None:
                    counters.rows_read += 1
                    counters.quarantined += 1
                    yield QuarantinedRow(source, number, None, error, text)
                    continue
                if not text or text.isspace():
                    continue
                counters.rows_read += 1
                try:
                    try:
                        doc = json.loads(text)
                    except ValueError as exc:
                        raise RowError(None, f"not valid JSON: {exc}") from None
                    except RecursionError:
                        raise RowError(None, "JSON nested too deeply") from None
                    record = record_from_document(doc, tz, ip_of)
                    if dedupe:
                        if record.call_id in seen:
                            counters.duplicates += 1
                            raise RowError("uuid", DUPLICATE_CALL_ID)
                        seen.add(record.call_id)
                except RowError as exc:
                    counters.quarantined += 1
                    yield QuarantinedRow(source, number, exc.field, exc.reason, clip(text))
                    continue
                counters.accepted += 1
                yield record
    finally:
        counters.flush(summary)
