"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def sqlite_utc_text(value: datetime) -> str:
    """An aware datetime as the UTC text stored on SQLite: ``YYYY-MM-DD HH:MM:SS.ffffff``.

    The same fixed-width text SQLAlchemy's SQLite ``DATETIME`` writes and parses.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {value.isoformat()} (times must be timezone-aware)")
    return (value.replace(tzinfo=None) - offset).isoformat(" ", "microseconds")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC and always returned as an aware UTC ``datetime``.

    PostgreSQL stores ``timestamptz``. SQLite has no timestamp type: SQLAlchemy stores a fixed-width
    ``YYYY-MM-DD HH:MM:SS.ffffff`` string, so values are converted to UTC before storing, which
    keeps comparisons (``expires_at > :t``) correct as plain string comparisons. Naive datetimes are
    rejected: a naive time is ambiguous, and the domain only produces aware ones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (times must be timezone-aware)")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, format the UTC text directly (the hot path of bulk inserts)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: Any) -> str | None:
            return None if value is None else sqlite_utc_text(value)

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if when.tzinfo is None:
            return when.replace(tzinfo=UTC)
        return when.astimezone(UTC)
