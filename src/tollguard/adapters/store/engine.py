"""Engine creation: SQLite (WAL, foreign keys) by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

DEFAULT_SQLITE_FILE = "tollguard.sqlite"
BUSY_TIMEOUT = 30.0
"""Seconds a SQLite connection waits for another one's lock before giving up."""
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
    with the :data:`READONLY_OPTION` execution option use a deferred ``BEGIN``). A
    ``postgresql://`` URL without a driver uses psycopg 3; every PostgreSQL connection works in
    UTC.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT})
        _configure_sqlite(engine)
        return engine
    for plain in ("postgresql://", "postgres://"):  # no driver named: use psycopg 3
        if url.startswith(plain):
            url = "postgresql+psycopg://" + url[len(plain) :]
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {"options": "-c timezone=UTC"}
    return create_engine(url, **kwargs)


def _enable_wal(cursor: sqlite3.Cursor, timeout: float = BUSY_TIMEOUT) -> None:
    """Switch the database file to WAL (persistent), retrying while another connection holds it.

    SQLite answers ``PRAGMA journal_mode=WAL`` with "database is locked" at once, without waiting
    on the busy timeout, when another connection is writing to a database not yet in WAL mode.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if engine.url.database not in (None, "", ":memory:"):
                _enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(READONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
