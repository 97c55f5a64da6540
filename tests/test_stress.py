"""Authorization under stress: ten times the nominal rate, and the service keeps answering.

The real ``tollguard serve`` is flooded by ``hey`` with 400 connections sending as fast as they
can (a closed loop: each sends its next request when the last is answered) for eight seconds,
offering far more than the 2,000 requests/s a carrier's switches send at peak. Meanwhile a probe
sends one request every 100 ms, as a switch with a one-second timeout would. Every answer must
be 200 or 503 (load shed beyond ``--limit-concurrency``), every probe must be answered within
its timeout, the process must not grow without bound, and right after the flood the service
answers normally. The figures are printed (``-s``) and quoted in ``docs/reliability.md``.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.engine_support import DOMESTIC, customer
from tests.serve_support import free_port, start_serve, stop, wait_healthy
from tollguard.adapters.store import Store
from tollguard.app.service.auth import new_token, token_hash

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_ten_times_the_nominal_rate_is_shed_not_fatal(tmp_path: Path) -> None:
    hey = shutil.which("hey")
    if hey is None:
        pytest.skip("needs `hey` (Debian package hey; scripts/tools.sh installs it)")
    db = tmp_path / "tg.sqlite"
    store = Store.open(f"sqlite:///{db}")
    at = datetime.now(UTC)
    store.upsert_subscribers([customer("alice")], at=at)
    token = new_token()
    store.create_token("sw", "switch", token_hash=token_hash(token), by="test", at=at)
    store.close()
    port = free_port()
    proc = start_serve(db, port, tmp_path / "data", "--limit-concurrency", "1024")
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    body = f'{{"call_id":"s1","callee":"{DOMESTIC}","subscriber_id":"alice"}}'
    try:
        wait_healthy(base)
        rss_before = _rss_mb(proc.pid)
        probes: list[tuple[float, int]] = []
        flood_over = threading.Event()

        connected = threading.Event()

        def probe() -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=1.0) as c:
                c.post("/v1/authorize", content=body)  # the switch's connection, kept alive
                connected.set()
                n = 0
                while not flood_over.is_set():
                    n += 1
                    t0 = time.perf_counter()
                    try:
                        status = c.post("/v1/authorize", content=body).status_code
                    except httpx.TransportError:
                        status = 0
                    probes.append((time.perf_counter() - t0, status))
                    flood_over.wait(0.1)

        prober = threading.Thread(target=probe)
        prober.start()
        assert connected.wait(10)
        out = subprocess.run(
            [hey, "-z", "8s", "-c", "400", "-m", "POST", "-T", "application/json",
             "-H", f"Authorization: Bearer {token}", "-d", body, "-o", "csv",
             f"{base}/v1/authorize"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        flood_over.set()
        prober.join()
        rows = list(csv.DictReader(io.StringIO(out)))
        codes: dict[str, int] = {}
        for row in rows:
            codes[row["status-code"]] = codes.get(row["status-code"], 0) + 1
        rss_after = _rss_mb(proc.pid)
        answered = [d for d, s in probes if s in (200, 503)]
        print(
            f"\nflood: {len(rows):,} requests in 8 s ({len(rows) / 8:,.0f}/s answered), "
            f"codes {codes}; probes {len(probes)}: {len(answered)} answered, slowest "
            f"{max(d for d, _ in probes) * 1000:.0f} ms; RSS {rss_before:.0f} -> {rss_after:.0f} MB"
        )
        assert set(codes) <= {"200", "503"}, codes
        assert codes.get("200", 0) > 1000
        # every probe on a loaded two-core machine; allow one in twenty to a machine shared with
        # other jobs (measured alone: every probe answered, docs/reliability.md)
        assert len(probes) >= 30 and len(answered) >= 0.95 * len(probes), probes
        assert rss_after < rss_before + 200
        assert proc.poll() is None
        t0 = time.perf_counter()
        r = httpx.post(f"{base}/v1/authorize", content=body, headers=headers, timeout=1.0)
        assert r.status_code == 200 and time.perf_counter() - t0 < 0.2
    finally:
        stop(proc)
