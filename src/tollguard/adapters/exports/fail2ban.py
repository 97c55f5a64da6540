"""One fail2ban-compatible log line per block (``integrations/fail2ban`` has the filter).

Format (one line; times in UTC, so the jail sets ``logtimezone = UTC``)::

    2026-11-28 14:00:00,000 tollguard[block]: Ban 203.0.113.5 reason="sip_flood" actor="api"

Reason and actor are sanitised: no control characters (so no line breaks), no double quotes or
backslashes, whitespace collapsed, length bounded; a crafted reason cannot forge another line.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tollguard.adapters.exports.sets import parse_address

#: Longest reason or actor written (characters).
MAX_FIELD_CHARS = 200


def sanitise(text: str, *, limit: int = MAX_FIELD_CHARS) -> str:
    """``text`` on one line, without quotes or backslashes, at most ``limit`` characters."""
    kept = "".join(
        "'" if ch == '"' else "/" if ch == "\\" else ch if ch.isprintable() else " " for ch in text
    )
    return " ".join(kept.split())[:limit].rstrip() or "-"


def log_time(time: float) -> str:
    """``YYYY-MM-DD HH:MM:SS,mmm`` in UTC (fail2ban's default date format)."""
    moment = datetime.fromtimestamp(time, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d}"


def fail2ban_line(time: float, ip: str, reason: str, *, actor: str) -> str:
    """The log line (without newline) for blocking ``ip`` at POSIX time ``time``."""
    address = parse_address(ip)
    return (
        f'{log_time(time)} tollguard[block]: Ban {address} reason="{sanitise(reason)}"'
        f' actor="{sanitise(actor)}"'
    )
