"""Shared fixtures. ``store`` runs a test on SQLite and, when ``TOLLGUARD_TEST_PG`` is set, on
PostgreSQL (``scripts/postgres.sh start`` prints a suitable URL; ``make test`` does it for you).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tollguard.adapters.store import Store, metadata

PG_ENV = "TOLLGUARD_TEST_PG"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases (dropped at the end of the session)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (run `bash scripts/postgres.sh start`)")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def create() -> str:
        name = f"tollguard_test_{os.getpid()}_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    yield create
    with admin.connect() as conn:
        for name in created:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def pg_store_url(pg_database: Callable[[], str]) -> str:
    """One migrated PostgreSQL database for the whole session's ``store`` tests."""
    url = pg_database()
    Store.open(url).close()
    return url


def _clean_postgres(store: Store) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with store.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: ``"sqlite"`` or ``"postgres"``."""
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty, migrated store on each backend (a fresh SQLite file; a cleaned PG database)."""
    if backend == "sqlite":
        st = Store.open(path=tmp_path / "tollguard.sqlite")
    else:
        st = Store.open(request.getfixturevalue("pg_store_url"))
        _clean_postgres(st)
    try:
        yield st
    finally:
        st.close()
