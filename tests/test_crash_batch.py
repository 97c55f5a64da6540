"""Crash safety of the batch commands: ``kill -9`` during ``tollguard ingest`` or
``tollguard replay``, then the same command again, gives what an uninterrupted run gives.

Ingest commits in batches and marks a file finished only at its end, so a killed ingest is
resumed by running it again: CDRs already stored are recognised by their call id (none counted
twice), the rest are added (none lost). A replay is a function of its input: run again, it
writes the same bytes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tollguard.adapters.store import Store
from tollguard.adapters.store import schema as s
from tollguard.app.simulate import SimulationConfig, simulate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TG = str(Path(sys.executable).with_name("tollguard"))


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("carrier")
    simulate(SimulationConfig(subscribers=2000, days=21, seed=3), data)
    return data


def _totals(db: Path) -> tuple[int, float, int]:
    store = Store.open(f"sqlite:///{db}")
    with store.begin() as conn:
        n, charge = conn.execute(select(func.count(), func.sum(s.cdrs.c.charge_jpy))).one()
        q = conn.execute(select(func.count()).select_from(s.quarantine)).scalar_one()
    store.close()
    return int(n), round(float(charge or 0.0), 4), int(q)


def _running_with(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split()[2]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def _kill_during(args: list[str], after_s: float) -> bool:
    """Start the command, SIGKILL it after ``after_s``; True if it was still running."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    return alive


def test_ingest_killed_at_random_moments_then_resumed(carrier: Path, tmp_path: Path) -> None:
    files = ["--subscribers", str(carrier / "subscribers.csv"), "--cdrs", str(carrier / "cdrs.csv"),
             "--sip-events", str(carrier / "sip_events.csv")]  # fmt: skip
    clean = tmp_path / "clean.sqlite"
    t0 = time.monotonic()
    subprocess.run([TG, "ingest", "--db", str(clean), *files], check=True, capture_output=True)
    full = time.monotonic() - t0
    expected = _totals(clean)
    assert expected[0] > 40_000
    rng = random.Random(7)
    crashed = tmp_path / "crashed.sqlite"
    kills = 0
    for _ in range(5):
        if _kill_during([TG, "ingest", "--db", str(crashed), *files], rng.uniform(0.2, full)):
            kills += 1
    subprocess.run([TG, "ingest", "--db", str(crashed), *files], check=True, capture_output=True)
    assert kills >= 3, "the kills were meant to land during the ingest"
    assert _totals(crashed) == expected


def test_replay_killed_then_run_again_writes_the_same_bytes(carrier: Path, tmp_path: Path) -> None:
    def args(out: Path) -> list[str]:
        return [TG, "replay", "--subscribers", str(carrier / "subscribers.csv"),
                "--cdrs", str(carrier / "cdrs.csv"), "--sip-events",
                str(carrier / "sip_events.csv"), "--out", str(out)]  # fmt: skip

    clean = tmp_path / "clean.jsonl"
    t0 = time.monotonic()
    subprocess.run(args(clean), check=True, capture_output=True)
    full = time.monotonic() - t0
    again = tmp_path / "again.jsonl"
    assert _kill_during(args(again), full / 2)
    # its reading process (forked) must not outlive it
    deadline = time.monotonic() + 10
    while orphans := _running_with(str(again)):
        if time.monotonic() > deadline:
            for pid in orphans:
                os.kill(pid, signal.SIGKILL)
            pytest.fail("the replay's reading process outlived it")
        time.sleep(0.1)
    subprocess.run(args(again), check=True, capture_output=True)
    assert again.read_bytes() == clean.read_bytes()
