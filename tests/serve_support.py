"""Running the real ``tollguard serve`` in a subprocess for the tests that need one."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOLLGUARD = str(Path(sys.executable).with_name("tollguard"))


def seed_store(db_url: str) -> str:
    """Put customers alice and bob and an admin token in the store; returns the token."""
    from datetime import UTC, datetime

    from tests.engine_support import customer
    from tollguard.adapters.store import Store
    from tollguard.app.service.auth import new_token, token_hash

    store = Store.open(db_url)
    at = datetime.now(UTC)
    store.upsert_subscribers([customer("alice"), customer("bob")], at=at)
    token = new_token()
    store.create_token("ops", "admin", token_hash=token_hash(token), by="test", at=at)
    store.close()
    return token


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    db: str | Path, port: int, data_dir: Path, *extra: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``tollguard serve`` on 127.0.0.1:``port`` (log at warning level, to ``log``)."""
    args = [TOLLGUARD, "serve", "--db", str(db), "--port", str(port), "--data-dir",
            str(data_dir), "--log-level", "warning", *extra]  # fmt: skip
    stderr = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)


def wait_healthy(base: str, timeout: float = 60.0) -> None:
    """Wait until ``base``/healthz answers 200 (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"tollguard serve at {base} did not start")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not stop within 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
