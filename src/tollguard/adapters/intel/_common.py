"""Helpers shared by the feed formats: safe decoding of untrusted files, times, integrity.

Everything read here comes from another carrier and is treated as hostile: size, nesting depth,
number sizes, duplicate keys, encoding and control characters are checked before any value is
used, and every failure is an :class:`~tollguard.domain.intel.IntelError` with a clear reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tollguard.domain.intel import (
    DAY_KINDS,
    AttackerAddress,
    AttackTimeHistogram,
    FraudDestination,
    IndicatorKind,
    IntelError,
    check_band,
    check_count,
    check_timezone,
)

#: Largest feed file read (bytes).
MAX_FEED_BYTES = 16 * 1024 * 1024
#: Deepest JSON nesting accepted (a MISP event or STIX bundle needs about six levels).
MAX_JSON_DEPTH = 16
#: Namespace of the deterministic UUIDs in MISP events and STIX bundles.
NAMESPACE = uuid.UUID("6f0d5c1e-3b7a-5d2e-9c41-7a1b2c3d4e5f")
#: Minimum length of a shared HMAC key (bytes).
MIN_KEY_BYTES = 16


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class IntegrityError(IntelError):
    """A feed does not match its digest or signature, or lacks one that is required."""


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 text of an untrusted file, with size and control characters checked."""
    if len(data) > MAX_FEED_BYTES:
        raise IntelError(f"{what}: {len(data):,} bytes is over the {MAX_FEED_BYTES:,} byte limit")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IntelError(f"{what}: not UTF-8 (byte {exc.start})") from None
    bad = _CONTROL.search(text)
    if bad is not None:
        raise IntelError(
            f"{what}: control character {ord(bad.group()):#04x} at offset {bad.start()}"
        )
    return text


def _int(s: str) -> int:
    if len(s.lstrip("-")) > 15:
        raise IntelError(f"number {s[:20]}... has more than 15 digits")
    return int(s)


def _float(s: str) -> float:
    if len(s) > 32:
        raise IntelError(f"number {s[:20]}... is too long")
    f = float(s)
    if not math.isfinite(f):
        raise IntelError(f"number {s[:20]} is out of range")
    return f


def _constant(s: str) -> Any:
    raise IntelError(f"{s} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise IntelError(f"key {k[:40]!r} appears twice in one object")
        out[k] = v
    return out


def load_json(data: bytes, what: str) -> Any:
    """Parse untrusted JSON: size, depth, number and duplicate-key limits."""
    text = decode_text(data, what)
    try:
        value = json.loads(
            text,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise IntelError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH}") from None
    except IntelError as exc:
        raise IntelError(f"{what}: {exc}") from None
    except ValueError as exc:
        raise IntelError(f"{what}: not JSON ({exc})") from None
    _check_depth(value, what)
    return value


def _check_depth(value: Any, what: str) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise IntelError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH}")
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)


def iso(t: float) -> str:
    """POSIX seconds as ISO 8601 UTC (``Z``), whole seconds."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object, what: str) -> float:
    """An ISO 8601 time with an offset (or a ``datetime``) as POSIX seconds."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.isascii() and len(value) <= 40:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise IntelError(f"{what}: {value!r} is not an ISO 8601 time") from None
    else:
        raise IntelError(f"{what}: {str(value)[:40]!r} is not an ISO 8601 time")
    if dt.tzinfo is None:
        raise IntelError(f"{what}: {value!s} has no UTC offset")
    return dt.timestamp()


def fields_text(fields: Mapping[str, object]) -> str:
    """``key=value; ...`` (the machine-readable part of MISP comments and STIX descriptions)."""
    return "; ".join(f"{k}={'' if v is None else v}" for k, v in fields.items())


def parse_fields(text: object, what: str) -> dict[str, str]:
    """The ``key=value`` pairs of :func:`fields_text`."""
    if not isinstance(text, str) or len(text) > 2000:
        raise IntelError(f"{what}: description is not text of at most 2,000 characters")
    out: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def optional_int(value: str | None, what: str) -> int | None:
    """A decimal field that may be empty."""
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise IntelError(f"{what}: {value[:20]!r} is not a count")
    return int(value)


def stable_uuid(*parts: object) -> str:
    """A UUID derived from ``parts`` (same feed, same identifiers)."""
    return str(uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts)))


# -- integrity: SHA-256 digest and optional HMAC-SHA256 ----------------------------------------


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


def hmac_hex(data: bytes, key: bytes) -> str:
    """HMAC-SHA256 of ``data`` under the shared ``key``, in hex."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def check_key(key: bytes) -> bytes:
    """A shared key, stripped of a trailing newline, at least :data:`MIN_KEY_BYTES` long."""
    key = key.rstrip(b"\r\n")
    if len(key) < MIN_KEY_BYTES:
        raise IntegrityError(f"the shared key must be at least {MIN_KEY_BYTES} bytes")
    return key


def digest_line(data: bytes, name: str) -> str:
    """The ``FILE.sha256`` sidecar (``sha256sum -c`` format)."""
    return f"{sha256_hex(data)}  {name}\n"


def signature_line(data: bytes, key: bytes) -> str:
    """The ``FILE.sig`` sidecar."""
    return f"hmac-sha256 {hmac_hex(data, check_key(key))}\n"


def verify(
    data: bytes,
    *,
    digest: str | None,
    signature: str | None,
    key: bytes | None,
    require_digest: bool = True,
) -> str:
    """Check a feed against its sidecars; returns its SHA-256. With ``key`` the signature is
    required and checked; without one a digest is required unless ``require_digest`` is off."""
    actual = sha256_hex(data)
    if digest is not None:
        words = digest.split()
        claimed = words[0].lower() if words else ""
        if len(claimed) != 64 or not hmac.compare_digest(claimed, actual):
            raise IntegrityError(
                f"the file's SHA-256 is {actual}, its digest file says {claimed[:64]!r}: "
                "the file was changed or damaged"
            )
    elif require_digest and key is None:
        raise IntegrityError("no digest file (FILE.sha256) beside the feed")
    if key is not None:
        if signature is None:
            raise IntegrityError("a key was given but the feed has no signature (FILE.sig)")
        words = signature.split()
        if len(words) != 2 or words[0] != "hmac-sha256":
            raise IntegrityError("the signature file is not 'hmac-sha256 <hex>'")
        if not hmac.compare_digest(words[1].lower(), hmac_hex(data, check_key(key))):
            raise IntegrityError("the signature does not match: wrong key or a changed file")
    return actual


def histogram_from_json(hist: Any, what: str) -> AttackTimeHistogram:
    """The attack-time histogram from its JSON form (``timezone``, ``days``, ``counts``)."""
    if not isinstance(hist, dict) or hist.get("days") != list(DAY_KINDS):
        raise IntelError(f"{what}: histogram days must be {', '.join(DAY_KINDS)}")
    counts = hist.get("counts")
    if not isinstance(counts, list) or len(counts) != len(DAY_KINDS):
        raise IntelError(f"{what}: histogram counts must be {len(DAY_KINDS)} rows")
    rows = []
    for row in counts:
        if not isinstance(row, list) or len(row) != 24:
            raise IntelError(f"{what}: histogram rows must have 24 hours")
        rows.append(tuple(check_count(f"{what}: histogram", c) for c in row))
    return AttackTimeHistogram(check_timezone(hist.get("timezone")), tuple(rows))


def histogram_json(hist: AttackTimeHistogram) -> str:
    """The JSON form of the attack-time histogram."""
    body = {"timezone": hist.timezone, "days": list(DAY_KINDS)}
    return json.dumps({**body, "counts": [list(r) for r in hist.counts]}, separators=(",", ":"))


def indicator_from_fields(
    kind: IndicatorKind,
    value: str,
    fields: Mapping[str, str],
    first: float,
    last: float,
    where: str,
) -> FraudDestination | AttackerAddress:
    """One shared indicator from the ``key=value`` fields MISP and STIX feeds carry with it."""
    incidents = optional_int(fields.get("incidents"), f"{where}: incidents")
    calls = optional_int(fields.get("calls"), f"{where}: calls") or 0
    incidents = 1 if incidents is None else incidents
    if kind is IndicatorKind.IP:
        return AttackerAddress(value, first, last, incidents, calls)
    return FraudDestination(
        kind,
        value,
        fields.get("country") or None,
        optional_int(fields.get("calling_code"), f"{where}: calling_code"),
        first,
        last,
        incidents,
        calls,
        check_band(fields.get("cost_band")),
    )
