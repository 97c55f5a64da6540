"""Reliability and security: the audit log's integrity from the command line, crash safety of the
live service's journal, and the recorder riding out an unreachable database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from tollguard.adapters.store import Store
from tollguard.cli import _register, app

_register()


def _store_with_entries(path: Path, n: int) -> Store:
    store = Store.open(f"sqlite:///{path}")
    t0 = datetime(2026, 11, 28, tzinfo=UTC)
    for i in range(n):
        store.append_audit(
            actor="analyst:night",
            action="control.create",
            subject=f"suspension:S{i}",
            reason="test",
            at=t0 + timedelta(seconds=i),
            evidence={"i": i},
        )
    return store


def test_audit_verify_detects_changed_and_removed_entries(tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite"
    store = _store_with_entries(db, 5)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    head = re.search(r"head (\d+:[0-9a-f]{64})", ok.output)
    assert head is not None and head.group(1).startswith("5:")
    with store.begin() as conn:  # the triggers refuse: only someone who drops them can tamper
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    # the chain alone still holds after removing the tail; the kept head shows it
    assert runner.invoke(app, ["audit", "verify", "--db", str(db)]).exit_code == 0
    cut = runner.invoke(app, ["audit", "verify", "--db", str(db), "--expect-head", head.group(1)])
    assert cut.exit_code == 1 and "removed" in cut.output
    with store.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 2"))
    bad = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    assert bad.exit_code == 1 and "broken at entry 2" in bad.output
    wide = CliRunner(env={"COLUMNS": "200"})
    listed = wide.invoke(app, ["audit", "list", "--db", str(db), "--limit", "2"])
    assert listed.exit_code == 0 and "analyst:night" in listed.output
    store.close()
