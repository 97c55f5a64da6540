"""Dormant international calling: the report, the consent workflow, its audit and its controls."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollguard.adapters.store import Store, StoreError
from tollguard.cli import _register, app
from tollguard.domain.dormant import (
    ConsentError,
    ConsentState,
    DormancyTracker,
    check_transition,
    consent_action,
)
from tollguard.domain.events import ActionKind
from tollguard.domain.records import (
    CallDetailRecord,
    Disposition,
    IntlStatus,
    Segment,
    Service,
    Subscriber,
)

T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)


def _sub(sid: str, status: IntlStatus = IntlStatus.ENABLED) -> Subscriber:
    return Subscriber(sid, Segment.BUSINESS, Service.IP, (), f"{sid}@example.jp", status)


def _cdr(n: int, sid: str, callee: str, days: int) -> CallDetailRecord:
    t = T0 + timedelta(days=days)
    return CallDetailRecord(
        f"c{n}", sid, "", callee, t, t, t + timedelta(minutes=3), Disposition.ANSWERED, None
    )


def test_report_lists_enabled_customers_without_a_call_abroad_in_the_window() -> None:
    tracker = DormancyTracker()
    calls = [
        ("old", "01012025550123", 0),  # abroad, but 8 months ago
        ("old", "0312345678", 240),
        ("recent", "+442079460000", 200),  # abroad within the window (E.164)
        ("never", "0312345678", 100),
        ("barred", "0312345678", 100),
    ]
    for n, (sid, callee, day) in enumerate(calls):
        tracker.learn_one(_cdr(n, sid, callee, day))
    subs = [
        _sub("old"),
        _sub("recent"),
        _sub("never"),
        _sub("silent"),
        _sub("barred", IntlStatus.SUSPENDED),
    ]
    as_of = (T0 + timedelta(days=240)).timestamp()
    report = tracker.report(subs, as_of, months=6)
    assert [d.subscriber_id for d in report] == ["never", "old", "silent"]
    old = report[1]
    assert old.last_international == T0.timestamp() and old.calls_seen == 2
    assert tracker.covers(as_of, 6) and not tracker.covers(as_of, 9)


def test_consent_workflow_transitions_and_actions() -> None:
    check_transition(ConsentState.NOT_ASKED, ConsentState.REQUESTED)
    check_transition(ConsentState.REQUESTED, ConsentState.GRANTED)
    check_transition(ConsentState.GRANTED, ConsentState.WITHDRAWN)
    check_transition(ConsentState.DECLINED, ConsentState.REQUESTED)
    for current, new in [
        (ConsentState.NOT_ASKED, ConsentState.GRANTED),  # never without asking
        (ConsentState.DECLINED, ConsentState.GRANTED),
        (ConsentState.GRANTED, ConsentState.DECLINED),
    ]:
        with pytest.raises(ConsentError, match=f"from {current.value} to {new.value}"):
            check_transition(current, new)
    kinds = {s: consent_action("c1", s, 0.0, "op", "") for s in ConsentState}
    assert kinds[ConsentState.REQUESTED].action is ActionKind.NOTIFY  # type: ignore[union-attr]
    assert kinds[ConsentState.GRANTED].action is ActionKind.SUSPEND_INTERNATIONAL  # type: ignore[union-attr]
    assert kinds[ConsentState.WITHDRAWN].action is ActionKind.RESTORE_INTERNATIONAL  # type: ignore[union-attr]
    assert kinds[ConsentState.DECLINED] is None


def test_store_refuses_an_unknown_state(tmp_path: Path) -> None:
    store = Store.open(path=tmp_path / "s.sqlite")
    with pytest.raises(StoreError, match="unknown consent state"):
        store.set_consent("c1", "maybe", by="op", reason="", at=T0)
    store.close()


def test_cli_report_and_consent_grant_suspends_and_withdrawal_restores(tmp_path: Path) -> None:
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "subscriber_id,segment,service,numbers,email,intl_status\n"
        "a,business,ip,+81355550001,a@example.jp,enabled\n"
        "b,business,ip,+81355550002,b@example.jp,enabled\n"
    )
    cdrs = tmp_path / "cdrs.csv"
    rows = ["call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip"]
    for i, (sid, callee, day) in enumerate(
        [("a", "0312345678", 1), ("b", "01012025550123", 200), ("a", "0312345678", 210)]
    ):
        t = (T0 + timedelta(days=day)).isoformat()
        rows.append(f"c{i},{sid},+8135555000{i},{callee},{t},,{t},NO ANSWER,")
    cdrs.write_text("\n".join(rows) + "\n")
    db = tmp_path / "store.sqlite"
    out = tmp_path / "dormant.csv"
    _register()
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "dormant",
            "report",
            "--subscribers",
            str(subs),
            "--cdrs",
            str(cdrs),
            "--months",
            "6",
            "--db",
            str(db),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    listed = list(csv.DictReader(out.open()))
    assert [(r["subscriber_id"], r["consent"]) for r in listed] == [("a", "not_asked")]

    def consent(state: str) -> int:
        r = runner.invoke(
            app,
            [
                "dormant",
                "consent",
                "a",
                "--state",
                state,
                "--by",
                "op-7",
                "--reason",
                f"{state} by phone",
                "--db",
                str(db),
            ],
        )
        return r.exit_code

    assert consent("granted") == 2  # never without asking first
    assert consent("requested") == 0
    assert consent("granted") == 0
    store = Store.open(path=db)
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert [c.subject for c in store.active_controls(now, kind="suspension")] == ["a"]
    assert store.get_consent("a").state == "granted"  # type: ignore[union-attr]
    store.close()
    assert consent("withdrawn") == 0
    store = Store.open(path=db)
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert store.active_controls(later, kind="suspension") == []
    actions = [e.action for e in store.list_audit(subject="subscriber:a")]
    assert actions == ["consent.requested", "consent.granted", "consent.withdrawn"]
    assert store.verify_audit_chain()[0]
    store.close()
