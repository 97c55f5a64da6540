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


# -- CSV injection ------------------------------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tollguard.adapters.csvsafe import safe_cell  # noqa: E402

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


@given(st.text(max_size=40))
def test_no_cell_of_a_csv_for_people_starts_a_formula(text: str) -> None:
    out = safe_cell(text)
    assert out in (text, "'" + text)
    if out == text and text.startswith(TRIGGERS):
        assert not any(c.isalpha() for c in text) and "=" not in text and "@" not in text


def test_numbers_stay_readable() -> None:
    assert safe_cell("+81312345678") == "+81312345678"
    assert safe_cell("-1500") == "-1500"
    assert safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert safe_cell("+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0"


def test_a_hostile_row_is_quarantined_without_its_formula_running(tmp_path: Path) -> None:
    import csv

    from tollguard.app.ingest import ingest_files

    cdrs = tmp_path / "cdrs.csv"
    cdrs.write_text(
        "call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip\n"
        "=1+cmd|' /C calc'!A0,S1,+81312345678,+12025550100,"
        "2026-10-05T09:00:00+09:00,,2026-10-05T09:00:10+09:00,=HYPERLINK(1),198.51.100.7\n",
        encoding="utf-8",
    )
    store = Store.open(f"sqlite:///{tmp_path / 'q.sqlite'}")
    summary = ingest_files(store, [], [cdrs], [], quarantine_dir=tmp_path / "q")
    assert summary.quarantined == 1
    qfile = summary.files[0].quarantine_file
    assert qfile is not None
    rows = list(csv.reader(qfile.open(encoding="utf-8")))
    assert all(not cell.startswith(TRIGGERS) for row in rows for cell in row)
    assert rows[1][-1].startswith("'=1+cmd")
    store.close()


# -- secrets and SQL ----------------------------------------------------------------------------

import ast  # noqa: E402
import logging  # noqa: E402

import pytest  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src" / "tollguard"


def _sql_calls_with_built_strings(root: Path = SRC) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            f = node.func
            name = (
                f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            )
            if name not in ("text", "execute", "exec_driver_sql", "executescript", "executemany"):
                continue
            arg = node.args[0]
            built = (
                isinstance(arg, ast.JoinedStr)
                or (isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod | ast.Add))
                or (
                    isinstance(arg, ast.Call)
                    and isinstance(arg.func, ast.Attribute)
                    and arg.func.attr == "format"
                )
            )
            if built:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_sql_is_never_built_from_strings(tmp_path: Path) -> None:
    """Every statement is SQLAlchemy Core or a constant text with bound parameters."""
    assert _sql_calls_with_built_strings() == []
    (tmp_path / "bad.py").write_text(
        'conn.execute(f"SELECT * FROM cdrs WHERE id = {x}")\n'
        'conn.execute(text("DELETE FROM t WHERE a = %s" % a))\n',
        encoding="utf-8",
    )
    assert _sql_calls_with_built_strings(tmp_path) == ["bad.py:1", "bad.py:2"]


def test_no_token_reaches_the_logs_or_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import base64

    from fastapi.testclient import TestClient

    from tests.engine_support import T0, US
    from tests.test_service import Clock, RecordingSwitch, Service
    from tollguard.app.service.api import create_app
    from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings

    svc = Service(f"sqlite:///{tmp_path / 'tg.sqlite'}", tmp_path, Clock(T0), RecordingSwitch())
    caplog.set_level(logging.DEBUG)
    settings = ServiceSettings(db_url=svc.db, tick_s=3600, data_dir=tmp_path / "data")
    rt = ServiceRuntime(settings, switch=svc.switch, clock=svc.clock)
    with TestClient(create_app(rt)) as c:
        made = c.post("/v1/tokens", json={"name": "k", "role": "switch"}, headers=svc.h("admin"))
        new = made.json()["token"]
        basic = base64.b64encode(f"kam:{new}".encode()).decode()
        body = {"call_id": "x", "callee": US, "subscriber_id": "alice"}
        c.post("/v1/authorize", json=body, headers={"Authorization": f"Basic {basic}"})
        c.post("/v1/authorize", json=body, headers={"Authorization": "Bearer tg_wrong"})
        c.post("/v1/subscribers/alice/suspend", json={"reason": "x" * 5}, headers=svc.h("analyst"))
    secrets = [new, *svc.tokens.values()]
    logged = caplog.text
    assert not any(s in logged for s in secrets)
    raw = (tmp_path / "tg.sqlite").read_bytes()
    wal = tmp_path / "tg.sqlite-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert not any(s.encode() in raw for s in secrets)
    journal = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert not any(s.encode() in journal for s in secrets)
