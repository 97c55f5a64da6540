"""Run the packaged Alembic migrations programmatically (no ``alembic.ini`` needed)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

SCRIPT_LOCATION = "tollguard:migrations"
_PG_MIGRATE_LOCK = 0x746F6C6D  # pg_advisory_xact_lock key serialising migrations


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic :class:`Config` for tollguard's migrations, bound to a connection or a URL.

    Usable with any :mod:`alembic.command`, e.g. ``command.upgrade(alembic_config(url=u), "head")``.
    """
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this version of tollguard."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database at ``engine`` is at (``None`` when never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database at ``engine`` to ``revision`` (default: newest), in a transaction.

    Concurrent callers are serialised (an advisory lock on PostgreSQL, the write lock on SQLite),
    so several processes opening a fresh database at once migrate it once.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATE_LOCK})
        command.upgrade(alembic_config(connection=conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database at ``engine`` down to ``revision`` (``"base"`` drops everything)."""
    with engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), revision)
