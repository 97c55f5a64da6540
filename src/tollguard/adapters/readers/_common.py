"""Shared machinery of the readers: line decoding, limits, field validation, summaries.

Every reader reads its file as bytes and decodes one physical line at a time, so that a line in
another encoding (Shift_JIS, Latin-1) is quarantined on its own instead of failing the whole file,
and so that line numbers are physical line numbers (header = line 1).
"""

from __future__ import annotations

import csv
import ipaddress
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import IO, Final, TypeVar

from tollguard.domain.records import QuarantinedRow

try:
    from zoneinfo import ZoneInfo

    JST: tzinfo = ZoneInfo("Asia/Tokyo")
except Exception:  # pragma: no cover - no tz database on this machine
    JST = timezone(timedelta(hours=9), "JST")

#: Longest accepted field, in characters (call ids, user agents, equipment names...).
MAX_FIELD_CHARS: Final = 256
#: Longest accepted physical line of a tollguard-contract CSV, in bytes (newline included).
MAX_LINE_BYTES: Final = 4096
#: Longest accepted physical line of a switch CSV (Asterisk, FreeSWITCH, Kamailio), in bytes.
MAX_SWITCH_LINE_BYTES: Final = 16384
#: At most this many characters of a bad line are kept in ``QuarantinedRow.raw``.
MAX_RAW_CHARS: Final = 2048
#: Dial strings: digits as dialled (``010...``, ``0...``, ``00...``, ``011...``).
MIN_DIAL_DIGITS: Final = 3
MAX_DIAL_DIGITS: Final = 24
#: E.164 with ``+``: country code and national number.
MIN_E164_DIGITS: Final = 6
MAX_E164_DIGITS: Final = 15

DUPLICATE_CALL_ID: Final = "duplicate call_id"
NAIVE_TIME: Final = "time has no UTC offset (naive times are refused)"

_BOM: Final = b"\xef\xbb\xbf"
_IP_CACHE_MAX: Final = 65536

T = TypeVar("T")


class InputFileError(Exception):
    """A file cannot be read at all: missing, unreadable, empty, or with an unusable header.

    Bad *rows* never raise: they are yielded as :class:`QuarantinedRow`.
    """

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        self.message = message
        super().__init__(f"{path}: {message}")


@dataclass(slots=True)
class ReadSummary:
    """Counts of one or more reads.

    ``rows_read`` counts data lines (or JSON documents) seen, header and blank lines excluded;
    ``accepted`` the records yielded; ``quarantined`` the :class:`QuarantinedRow` yielded, of which
    ``duplicates`` were duplicate call ids. Pass an instance as ``summary=`` to a reader (it adds
    all four counts when the read ends: exhausted, or closed early), or wrap any reader's iterator
    with :meth:`track` to count as items pass (then ``rows_read`` is ``accepted + quarantined``).
    Do not do both at once.
    """

    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0

    def add(self, item: object) -> None:
        """Count one item that a reader yielded."""
        self.rows_read += 1
        if isinstance(item, QuarantinedRow):
            self.quarantined += 1
            if item.reason == DUPLICATE_CALL_ID:
                self.duplicates += 1
        else:
            self.accepted += 1

    def track(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items`` unchanged, counting each one."""
        for item in items:
            self.add(item)
            yield item

    def merge(self, other: ReadSummary) -> None:
        """Add another summary's counts to this one (e.g. to total several files)."""
        self.rows_read += other.rows_read
        self.accepted += other.accepted
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates


class Counters:
    """Per-read counters, written into a :class:`ReadSummary` when the read ends."""

    __slots__ = ("accepted", "duplicates", "quarantined", "rows_read")

    def __init__(self) -> None:
        self.rows_read = 0
        self.accepted = 0
        self.quarantined = 0
        self.duplicates = 0

    def flush(self, summary: ReadSummary | None) -> None:
        """Add the counts to ``summary`` (if any) and reset them."""
        if summary is not None:
            summary.rows_read += self.rows_read
            summary.accepted += self.accepted
            summary.quarantined += self.quarantined
            summary.duplicates += self.duplicates
        self.rows_read = self.accepted = self.quarantined = self.duplicates = 0


class RowError(Exception):
    """Raised inside a reader's row parser: ``field`` (or ``None``) is bad for ``reason``."""

    __slots__ = ("field", "reason")

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def clip(text: str) -> str:
    """``text`` cut to :data:`MAX_RAW_CHARS` for storing in a quarantined row."""
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "…[truncated]"


def open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, turning OS errors into :class:`InputFileError`."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, expected a file") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot open: {exc.strerror or exc}") from None


def _decode(number: int, data: bytes) -> tuple[int, str, str | None]:
    """Decode one line (without ``\\n``) or describe why it cannot be."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = data.rstrip(b"\r").decode("utf-8", "backslashreplace")
        reason = f"not valid UTF-8 at byte {exc.start + 1} of the line (files must be UTF-8)"
        return number, clip(shown), reason
    return number, (text[:-1] if text.endswith("\r") else text), None


def _overlong(number: int, head: bytes, max_bytes: int) -> tuple[int, str, str | None]:
    shown = head[: min(max_bytes, MAX_RAW_CHARS)].decode("utf-8", "backslashreplace")
    return number, clip(shown), f"line longer than {max_bytes} bytes"


def iter_lines(
    stream: IO[bytes], max_bytes: int, chunk_size: int = 1 << 20
) -> Iterator[tuple[int, str, str | None]]:
    """Yield ``(line_number, text, error)`` for each physical line of ``stream``.

    For a good line ``error`` is ``None`` and ``text`` is the UTF-8 decoded line without its
    ``\\n``/``\\r\\n`` (a BOM at the start of the file is dropped). For a bad line (longer than
    ``max_bytes`` with its newline, or not UTF-8) ``error`` says why and ``text`` is a printable
    rendering of its start. The stream is read in chunks: an overlong line is never held whole.
    """
    read = stream.read
    number = 0
    carry = b""
    overlong: bytes | None = None  # start of the overlong line being skipped
    first = True
    while True:
        chunk = read(chunk_size)
        if not chunk:
            break
        if first:
            first = False
            while len(chunk) < len(_BOM):
                more = read(chunk_size)
                if not more:
                    break
                chunk += more
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        parts = chunk.split(b"\n")
        tail = parts.pop()
        if parts:
            if overlong is not None:
                number += 1
                yield _overlong(number, overlong, max_bytes)
                overlong = None
                del parts[0]
            else:
                parts[0] = carry + parts[0]
            for data in parts:
                number += 1
                if len(data) >= max_bytes:
                    yield _overlong(number, data, max_bytes)
                    continue
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    yield _decode(number, data)
                    continue
                yield number, (text[:-1] if text.endswith("\r") else text), None
            carry = tail
        elif overlong is None:
            carry += tail
        if overlong is None and len(carry) >= max_bytes:
            overlong = carry[:MAX_RAW_CHARS]
            carry = b""
    if overlong is not None:
        yield _overlong(number + 1, overlong, max_bytes)
    elif carry:
        yield _decode(number + 1, carry)


def split_csv_line(text: str, delimiter: str = ",") -> list[str]:
    """Split one physical CSV line; quoted fields are honoured, malformed quoting raises.

    Raises :class:`RowError` on malformed quoting, e.g. an unclosed quote (records never span
    lines).
    """
    if '"' not in text:
        return text.split(delimiter)
    try:
        rows = list(csv.reader((text,), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise RowError(None, f"malformed CSV quoting: {exc}") from None
    if len(rows) != 1:  # pragma: no cover - a single line without newline gives one row
        raise RowError(None, "malformed CSV line")
    return rows[0]


def is_blank(text: str) -> bool:
    """A blank line (empty or only whitespace): skipped by every reader, never quarantined."""
    return not text or text.isspace()


def has_control_chars(value: str) -> bool:
    """True if ``value`` holds control or format characters (C0/C1 controls, DEL, BiDi marks...)."""
    if value.isprintable():
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in value)


def check_text(name: str, value: str, *, required: bool, limit: int = MAX_FIELD_CHARS) -> str:
    """Validate a free-text field: length, no control characters, presence when required."""
    if not value:
        if required:
            raise RowError(name, "is empty")
        return value
    if len(value) > limit:
        raise RowError(name, f"longer than {limit} characters")
    if has_control_chars(value):
        raise RowError(name, "contains control characters")
    return value


def check_fields(
    names: tuple[str, ...], values: list[str], limits: dict[str, int] | None = None
) -> None:
    """Check every field for size and control characters; only used on unusual lines.

    ``limits`` overrides :data:`MAX_FIELD_CHARS` for some columns.
    """
    for name, value in zip(names, values, strict=False):
        limit = limits.get(name, MAX_FIELD_CHARS) if limits else MAX_FIELD_CHARS
        if len(value) > limit:
            raise RowError(name, f"longer than {limit} characters")
        if has_control_chars(value):
            raise RowError(name, "contains control characters")


def is_dial_string(value: str) -> bool:
    """A plausible number as recorded: E.164 with ``+``, or ASCII digits as dialled.

    No normalisation happens here. ``*``, ``#``, spaces, dashes and letters are refused.
    """
    if value[:1] == "+":
        digits = value[1:]
        return (
            digits.isascii()
            and digits.isdigit()
            and (MIN_E164_DIGITS <= len(digits) <= MAX_E164_DIGITS)
        )
    return value.isascii() and value.isdigit() and MIN_DIAL_DIGITS <= len(value) <= MAX_DIAL_DIGITS


def is_e164(value: str) -> bool:
    """E.164 with a leading ``+`` and 6 to 15 ASCII digits, the first not ``0``."""
    digits = value[1:]
    return (
        value[:1] == "+"
        and digits.isascii()
        and digits.isdigit()
        and MIN_E164_DIGITS <= len(digits) <= MAX_E164_DIGITS
        and digits[0] != "0"
    )


class IpValidator:
    """Validates IPv4/IPv6 address text and returns its canonical form, with a bounded cache."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[str, str | None] = {}

    def __call__(self, value: str) -> str | None:
        """The canonical address text, or ``None`` if ``value`` is not an IP address."""
        cache = self.cache
        try:
            return cache[value]
        except KeyError:
            pass
        result: str | None
        if not value or "%" in value or len(value) > 45:
            result = None
        else:
            try:
                result = str(ipaddress.ip_address(value))
            except ValueError:
                result = None
        if len(cache) >= _IP_CACHE_MAX:
            cache.clear()
        cache[value] = result
        return result


def parse_aware(name: str, value: str) -> datetime:
    """Parse an ISO 8601 time that must carry a UTC offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(name, f"not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RowError(name, NAIVE_TIME)
    return parsed


def parse_local(name: str, value: str, tz: tzinfo) -> datetime:
    """Parse a switch time ``YYYY-MM-DD HH:MM:SS[.fff]``: naive means local time in ``tz``.

    A time that carries its own UTC offset keeps it.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(name, f"not a time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz)
    return parsed


def check_time_order(start: datetime, answer: datetime | None, end: datetime) -> None:
    """``answer >= start``, ``end >= start`` and ``end >= answer``."""
    if end < start:
        raise RowError("end", "end is before start")
    if answer is not None:
        if answer < start:
            raise RowError("answer", "answer is before start")
        if end < answer:
            raise RowError("end", "end is before answer")


def read_header(
    path: Path,
    lines: Iterator[tuple[int, str, str | None]],
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    *,
    delimiter: str = ",",
) -> list[str]:
    """Read and check line 1, the header; return the column names, lower-cased and stripped.

    Raises :class:`InputFileError` for an empty file, an undecodable or malformed header,
    duplicate column names, or missing required columns. Unknown columns are allowed (ignored).
    """
    first = next(lines, None)
    if first is None:
        raise InputFileError(path, "empty file: expected a header line")
    _, text, error = first
    if error is not None:
        raise InputFileError(path, f"line 1 (header): {error}")
    if is_blank(text):
        raise InputFileError(path, "line 1 (header) is blank")
    try:
        names = [name.strip().lower() for name in split_csv_line(text, delimiter)]
    except RowError as exc:
        raise InputFileError(path, f"line 1 (header): {exc.reason}") from None
    dupes = sorted({name for name in names if names.count(name) > 1})
    if dupes:
        raise InputFileError(path, f"header repeats column(s): {', '.join(dupes)}")
    missing = [name for name in required if name not in names]
    if missing:
        expected = ",".join(required + optional)
        raise InputFileError(
            path, f"header lacks column(s) {', '.join(missing)}; expected {expected}"
        )
    return names


def drive_csv(
    source: str,
    lines: Iterator[tuple[int, str, str | None]],
    names: tuple[str, ...],
    parse_row: Callable[[list[str]], T],
    counters: Counters,
    *,
    delimiter: str = ",",
    limits: dict[str, int] | None = None,
) -> Iterator[T | QuarantinedRow]:
    """The common loop of the CSV readers: one record or quarantined row per non-blank line.

    ``names`` are the file's columns in order; every line must have exactly that many fields.
    ``parse_row`` turns the fields into a record or raises :class:`RowError`. ``limits`` raises
    the field size limit of some columns.
    """
    ncols = len(names)
    for number, text, error in lines:
        if error is not None:
            counters.rows_read += 1
            counters.quarantined += 1
            yield QuarantinedRow(source, number, None, error, text)
            continue
        if not text or text.isspace():
            continue
        counters.rows_read += 1
        try:
            fields = text.split(delimiter) if '"' not in text else split_csv_line(text, delimiter)
            if len(fields) != ncols:
                raise RowError(None, f"expected {ncols} fields, got {len(fields)}")
            if len(text) > MAX_FIELD_CHARS or not text.isprintable():
                check_fields(names, fields, limits)
            record = parse_row(fields)
        except RowError as exc:
            counters.quarantined += 1
            if exc.reason == DUPLICATE_CALL_ID:
                counters.duplicates += 1
            yield QuarantinedRow(source, number, exc.field, exc.reason, clip(text))
            continue
        counters.accepted += 1
        yield record


def guarded(
    stream: IO[bytes], counters: Counters, summary: ReadSummary | None, rows: Iterator[T]
) -> Iterator[T]:
    """Yield ``rows``; close ``stream`` and flush ``counters`` into ``summary`` at the end."""
    try:
        yield from rows
    finally:
        stream.close()
        counters.flush(summary)
