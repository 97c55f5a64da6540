"""Horizontally scaled authorization: two ``tollguard serve`` processes on one PostgreSQL.

Each answers from memory; a control made through one is enforced by the other within half a
second (each polls the database for control changes every quarter second, off its
event loop).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine_support import CU, US
from tests.serve_support import free_port, seed_store, start_serve, stop, wait_healthy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "TOLLGUARD_PG_STATE_DIR": str(tmp_path / "pgstate")}
    script = str(ROOT / "scripts" / "postgres.sh")
    started = subprocess.run(
        ["bash", script, "start"], env=env, capture_output=True, text=True, timeout=180
    )
    if started.returncode != 0:
        pytest.skip(f"a private PostgreSQL could not be started here: {started.stderr[-500:]}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", script, "stop"], env=env, capture_output=True, timeout=120)


def _serve(url: str, tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = start_serve(url, port, tmp / name, "--instance", name, log=tmp / f"{name}.log")
    return proc, f"http://127.0.0.1:{port}"


def _until(check: object, timeout: float = 5.0) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout``)."""
    t0 = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - t0 < timeout, "not enforced in time"
        time.sleep(0.05)
    return time.monotonic() - t0


def test_a_control_made_through_one_process_is_enforced_by_the_other(
    pg_url: str, tmp_path: Path
) -> None:
    token = seed_store(pg_url)
    a, base_a = _serve(pg_url, tmp_path, "a")
    b, base_b = _serve(pg_url, tmp_path, "b")
    headers = {"Authorization": f"Bearer {token}"}
    ca = httpx.Client(base_url=base_a, headers=headers, timeout=5)
    cb = httpx.Client(base_url=base_b, headers=headers, timeout=5)
    n = iter(range(10_000))

    def decision(c: httpx.Client, sid: str, callee: str) -> tuple[str, str]:
        body = {"call_id": f"c{next(n)}", "callee": callee, "subscriber_id": sid}
        d = c.post("/v1/authorize", json=body).json()
        return d["decision"], d["reason"]

    try:
        wait_healthy(base_a)
        wait_healthy(base_b)
        assert decision(cb, "alice", US)[0] == "allow"
        r = ca.post("/v1/subscribers/alice/suspend", json={"reason": "PBX compromised"})
        assert r.status_code == 200 and r.json()["recorded"] is True
        suspended = ("deny", "international_suspended")
        took = _until(lambda: decision(cb, "alice", US) == suspended)
        r = cb.post("/v1/subscribers/alice/restore", json={"reason": "customer secured it"})
        assert r.status_code == 200
        took = max(took, _until(lambda: decision(ca, "alice", US)[0] == "allow"))
        r = ca.post(
            "/v1/controls",
            json={"kind": "country_restriction", "subject": "CU", "reason": "IRSF wave"},
        )
        assert r.status_code == 201
        restricted = ("deny", "country_restricted")
        took = max(took, _until(lambda: decision(cb, "bob", CU) == restricted))
        print(f"\nslowest propagation between the two processes: {took * 1000:.0f} ms")
        assert took < 1.5
        # the other's controls are in force in each, and survive its restart
        stop(b)
        b, base_b = _serve(pg_url, tmp_path, "b")
        wait_healthy(base_b)
        cb = httpx.Client(base_url=base_b, headers=headers, timeout=5)
        assert decision(cb, "bob", CU) == restricted
        assert decision(cb, "alice", US)[0] == "allow"
    finally:
        stop(a)
        stop(b)
