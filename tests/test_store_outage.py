"""The live service on PostgreSQL keeps answering from memory while its database is down, and
records everything once it is back.

A private PostgreSQL cluster (``scripts/postgres.sh`` with its own state directory) is stopped in
the middle of the run (``pause``: an immediate shutdown, as a crash of the database would be) and
started again (``resume``). Meanwhile switches go on getting answers, an analyst's suspension is
enforced at once, readiness reports the outage; afterwards the suspension, its audit entry and the
post-notification are in the store.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine_support import DOMESTIC, US
from tests.serve_support import free_port, seed_store, start_serve, stop, wait_healthy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


def _pg(command: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOLLGUARD_PG_STATE_DIR": str(state)}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    state = tmp_path / "pgstate"
    started = _pg("start", state)
    if started.returncode != 0:
        pytest.skip(f"a private PostgreSQL could not be started here: {started.stderr[-500:]}")
    try:
        yield started.stdout.strip()
    finally:
        _pg("resume", state)  # in case the test stopped midway while it was paused
        _pg("stop", state)


def test_answers_from_memory_while_the_database_is_down(pg_url: str, tmp_path: Path) -> None:
    state = tmp_path / "pgstate"
    token = seed_store(pg_url)
    port = free_port()
    proc = start_serve(pg_url, port, tmp_path / "data", log=tmp_path / "serve.log")
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        assert client.get("/readyz").status_code == 200

        assert _pg("pause", state).returncode == 0
        body = {"call_id": "d1", "callee": DOMESTIC, "subscriber_id": "bob"}
        started = time.monotonic()
        assert client.post("/v1/authorize", json=body).json()["decision"] == "allow"
        assert time.monotonic() - started < 1.0
        r = client.post("/v1/subscribers/alice/suspend", json={"reason": "PBX compromised"})
        assert r.status_code == 200
        assert r.json()["recorded"] is False  # in force, not yet written
        d = client.post(
            "/v1/authorize", json={"call_id": "i1", "callee": US, "subscriber_id": "alice"}
        ).json()
        assert (d["decision"], d["reason"]) == ("deny", "international_suspended")
        for n in range(50):  # the switch keeps getting answers, fast
            body = {"call_id": f"d{n + 2}", "callee": DOMESTIC, "subscriber_id": "bob"}
            assert client.post("/v1/authorize", json=body).status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "unreachable" in ready.json()["status"]

        assert _pg("resume", state).returncode == 0
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        controls = client.get("/v1/controls").json()
        assert [(c["kind"], c["subject"]) for c in controls] == [("suspension", "alice")]
        actions = [e["action"] for e in client.get("/v1/audit").json()]
        assert "control.create" in actions and "notify" in actions
        notes = client.get("/v1/notifications").json()
        assert [n["kind"] for n in notes] == ["post_notification"]
        assert "store_retries" in client.get("/metrics").text
    finally:
        client.close()
        stop(proc)
