"""Alembic migrations of the tollguard store, run from the installed package.

There is no ``alembic.ini``: :func:`tollguard.adapters.store.migrate.alembic_config` builds the
configuration in code, with ``script_location = tollguard:migrations``.
"""
