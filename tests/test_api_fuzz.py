"""Schemathesis over the service's OpenAPI spec: every operation, generated requests, no server
error (5xx). The app runs in process on a temporary SQLite store with an admin token (the role
that may call everything), so requests reach the handlers rather than stopping at 401/403."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.engine_support import T0, customer
from tollguard.adapters.store import Store
from tollguard.app.service.api import create_app
from tollguard.app.service.auth import new_token, token_hash
from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings

_TMP = Path(tempfile.mkdtemp(prefix="tollguard-fuzz-"))
_DB = f"sqlite:///{_TMP / 'fuzz.sqlite'}"
_store = Store.open(_DB)
_at = datetime.fromtimestamp(T0, UTC)
_store.upsert_subscribers([customer("alice"), customer("bob")], at=_at)
TOKEN = new_token()
_store.create_token("fuzz", "admin", token_hash=token_hash(TOKEN), by="test", at=_at)
_runtime = ServiceRuntime(
    ServiceSettings(db_url=_DB, tick_s=3600, data_dir=_TMP / "data"),
    store=_store,
    clock=lambda: T0 + 3600,
)
APP = create_app(_runtime)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_makes_a_server_error(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error]
    )
