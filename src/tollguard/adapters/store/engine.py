"""Engine creation: SQLite (WAL, foreign keys) by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

DEFAULT_SQLITE_FILE = "tollguard.sqlite"
READONLY_OPTION = "tollguard_readonly"
"""Execution option: on SQLite, start the transaction with a plain (deferred) ``BEGIN``."""


def default_url(path: Path | None = None) -> str:
    """``sqlite:///<path>``, with ``./tollguard.sqlite`` when no path is given."""
    target = path if path is not None else Path.cwd() / DEFAULT_SQLITE_FILE
    return f"sqlite:///{target}"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``.

    SQLite connections get ``journal_mode=WAL``, ``foreign_keys=ON`` and ``synchronous=NORMAL``,
    a 30 s busy timeout, and transactions that start with ``BEGIN IMMEDIATE`` so that two writers
    queue for the lock instead of failing on an upgrade from a read to a write lock (connections
    with the :data:`READONLY_OPTION` execution option use a deferred ``BEGIN``). On PostgreSQL
    every connection works in UTC.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30.0})
        _configure_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {"options": "-c timezone=UTC"}
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(READONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
