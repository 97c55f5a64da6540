"""Crash safety of the live service: ``kill -9`` at random moments loses no call and counts none
twice.

The real ``tollguard serve`` runs in a subprocess and saves its state every second. A client sends
a fixed sequence of international calls (authorize, answered, ended with a stated billable time)
and, while it does, the test kills the server with SIGKILL at random moments (mid-request,
between requests, while a state is being saved), restarts it, and sends again the request that
got no answer, as a switch would. At the end, what the engine has metered for each customer
(calls and billable seconds) must equal what the client saw allowed and ended, exactly; and a
control put in force before a crash is still enforced after it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine_support import customer
from tests.serve_support import free_port, start_serve, wait_healthy
from tollguard.adapters.store import Store
from tollguard.app.service.auth import new_token, token_hash

pytestmark = pytest.mark.e2e

US_NUMBERS = [f"+1202555{n:04d}" for n in range(40)]


class Server:
    """``tollguard serve`` in a subprocess, restartable."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = tmp / "tg.sqlite"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        store = Store.open(f"sqlite:///{self.db}")
        at = datetime.now(UTC)
        store.upsert_subscribers([customer(f"c{i:02d}") for i in range(8)], at=at)
        self.token = new_token()
        store.create_token("switch", "admin", token_hash=token_hash(self.token), by="test", at=at)
        store.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = start_serve(
            self.db, self.port, self.tmp / "data", "--snapshot-interval", "1",
            log=self.tmp / "serve.log",
        )  # fmt: skip
        wait_healthy(self.base)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.kills += 1

    def wait_dead(self) -> None:
        if self.proc is not None:
            self.proc.wait(30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    srv.start()
    yield srv
    srv.kill()
    srv.wait_dead()


def _operations(rng: random.Random, calls: int) -> list[tuple[str, dict[str, Any]]]:
    ops: list[tuple[str, dict[str, Any]]] = []
    for i in range(calls):
        sid = f"c{rng.randrange(8):02d}"
        cid = f"call-{i:04d}"
        callee = rng.choice(US_NUMBERS)
        body = {
            "call_id": cid,
            "callee": callee,
            "subscriber_id": sid,
            "source_ip": "198.51.100.20",
        }
        ops.append(("/v1/authorize", body))
        ops.append(("/v1/events/call-answered", {"call_id": cid}))
        ops.append(("/v1/events/call-ended", {"call_id": cid, "billable_seconds": 30 + i % 170}))
    return ops


def test_kill_9_at_random_moments_loses_no_call_and_counts_none_twice(server: Server) -> None:
    rng = random.Random(20261128)
    ops = _operations(rng, 240)
    headers = {"Authorization": f"Bearer {server.token}"}
    kill_at = sorted(rng.sample(range(10, len(ops) - 10), 6))
    allowed: dict[str, str] = {}  # call id -> customer, for calls the client saw allowed
    answers: dict[str, str] = {}
    client = httpx.Client(base_url=server.base, headers=headers, timeout=5)
    i = 0
    while i < len(ops):
        if kill_at and i >= kill_at[0]:
            kill_at.pop(0)
            # a kill at a random moment within the next few requests (or mid-request)
            threading.Timer(rng.uniform(0.0, 0.02), server.kill).start()
        path, body = ops[i]
        try:
            r = client.post(path, json=body)
        except httpx.TransportError:
            server.wait_dead()
            server.start()
            continue  # send it again, as a switch would
        assert r.status_code in (200, 204), (path, r.status_code, r.text)
        if path == "/v1/authorize":
            answers[body["call_id"]] = r.json()["decision"]
            if r.json()["decision"] == "allow":
                allowed[body["call_id"]] = r.json()["subscriber_id"]
        i += 1
    time.sleep(0.05)
    server.kill()  # and a last one, before anything could be saved
    server.wait_dead()
    server.start()
    assert server.kills >= 6
    assert len(allowed) > 200, "the sequence is meant to be allowed calls"
    expected: dict[str, tuple[int, float]] = {}
    for path, body in ops:
        if path == "/v1/events/call-ended" and body["call_id"] in allowed:
            sid = allowed[body["call_id"]]
            calls, seconds = expected.get(sid, (0, 0.0))
            expected[sid] = (calls + 1, seconds + body["billable_seconds"])
    got: dict[str, tuple[int, float]] = {}
    for sid in sorted(expected):
        m = client.get(f"/v1/subscribers/{sid}").json()["metered"]
        got[sid] = (int(m["international_calls"]), round(m["billable_seconds"], 3))
    assert got == {k: (c, round(s, 3)) for k, (c, s) in expected.items()}


def test_controls_in_force_survive_kill_9(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    client = httpx.Client(base_url=server.base, headers=headers, timeout=5)
    r = client.post("/v1/subscribers/c03/suspend", json={"reason": "PBX compromised"})
    assert r.status_code == 200
    r = client.post(
        "/v1/controls",
        json={"kind": "country_restriction", "subject": "SO", "reason": "IRSF wave"},
    )
    assert r.status_code == 201
    server.kill()  # at once: the state saved every second may not hold them yet
    server.wait_dead()
    server.start()
    body = {"call_id": "after", "callee": US_NUMBERS[0], "subscriber_id": "c03"}
    d = client.post("/v1/authorize", json=body).json()
    assert (d["decision"], d["reason"]) == ("deny", "international_suspended")
    body = {"call_id": "so", "callee": "+2526112345", "subscriber_id": "c04"}
    d = client.post("/v1/authorize", json=body).json()
    assert (d["decision"], d["reason"]) == ("deny", "country_restricted")
    kinds = sorted(c["kind"] for c in client.get("/v1/controls").json())
    assert kinds == ["country_restriction", "suspension"]
