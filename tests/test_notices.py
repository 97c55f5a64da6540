"""Notice templates: packaged texts, strict fields, the carrier's edits (audited), the service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.test_service import Clock, RecordingSwitch, Service
from tollguard.adapters.store import Store
from tollguard.app.notices import NoticeCatalog, PreparedNotice, deliver_now, format_when
from tollguard.app.service import notices as service_notices
from tollguard.app.service.api import create_app
from tollguard.app.service.outbox import NO_MAILER, Outbox
from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
from tollguard.cli import _register, app
from tollguard.domain.notices import (
    FIELDS,
    KINDS,
    LOCALES,
    NoticeTemplate,
    TemplateError,
    default_template,
    packaged_templates,
    render,
    validate,
)

T0 = datetime(2026, 10, 31, 2, 14, tzinfo=UTC)


def _values(kind: str) -> dict[str, str]:
    return {f: f"<{f}>" for f in FIELDS[kind]}


def test_every_kind_is_packaged_in_japanese_and_english_and_renders_every_field() -> None:
    assert set(KINDS) == {
        "security_advice",
        "post_suspension",
        "dormant_consent_request",
        "service_restored",
        "equipment_warning",
    }
    packaged = packaged_templates()
    assert set(packaged) == {(k, loc) for k in KINDS for loc in LOCALES}
    for (kind, locale), tpl in packaged.items():
        subject, body = render(tpl, _values(kind))
        assert "$" not in subject + body, (kind, locale)
        assert "<subscriber_id>" in body
        text = subject + body
        for field in FIELDS[kind]:
            assert f"<{field}>" in text, (kind, locale, field)
        japanese = any("\u3040" <= ch <= "\u30ff" for ch in text)
        assert japanese == (locale == "ja"), (kind, locale)


def test_the_post_notification_text_is_unchanged_by_the_move_to_templates() -> None:
    subject, body = service_notices.post_suspension("S1", "why", T0.timestamp())
    assert subject == "【重要】国際通話の利用休止のお知らせ / International calling suspended"
    assert body.startswith("お客様番号 S1 様\n\n2026-10-31 11:14 JST、お客様の回線から")
    assert "\n\n理由: why\n\n----\n\nCustomer S1,\n\nAt 2026-10-31 11:14 JST calls abroad" in body
    assert body.endswith("\n\nReason: why\n")


@pytest.mark.parametrize(
    ("subject", "body", "message"),
    [
        ("Hello $name", "x", "subject: unknown field $name (allowed: $reason, $subscriber_id"),
        ("ok", "Dear ${customer}", "body: unknown field $customer"),
        ("ok", "costs 5$ a minute", "a '$' must start a field"),
        ("two\nlines", "x", "subject: one non-empty line"),
        ("ok", "  \n", "body: empty"),
    ],
)
def test_a_bad_template_is_refused_with_a_clear_message(
    subject: str, body: str, message: str
) -> None:
    with pytest.raises(TemplateError) as err:
        validate(NoticeTemplate("service_restored", "en", subject, body))
    assert message in str(err.value)


def test_unknown_kinds_locales_and_missing_values() -> None:
    with pytest.raises(TemplateError, match="unknown notice kind"):
        validate(NoticeTemplate("welcome", "en", "s", "b"))
    with pytest.raises(TemplateError, match="unknown locale"):
        validate(NoticeTemplate("security_advice", "fr", "s", "b"))
    tpl = default_template("service_restored", "en")
    with pytest.raises(TemplateError, match="values missing"):
        render(tpl, {"subscriber_id": "S1"})
    with pytest.raises(TemplateError, match="not allowed"):
        render(tpl, {**_values("service_restored"), "password": "x"})
    # a field's value cannot inject a placeholder or break the subject line
    subject, body = render(
        NoticeTemplate("service_restored", "en", "Restored ($reason)", "$reason / $$5"),
        {"subscriber_id": "S1", "when": "now", "reason": "$subscriber_id\nBcc: x"},
    )
    assert subject == "Restored ($subscriber_id Bcc: x)"
    assert body == "$subscriber_id\nBcc: x / $5"


def test_the_carriers_templates_are_kept_audited_and_take_precedence(tmp_path: Path) -> None:
    store = Store.open(path=tmp_path / "s.sqlite")
    catalog = NoticeCatalog(store)
    assert catalog.source("service_restored", "en") == "packaged"
    with pytest.raises(TemplateError, match=r"unknown field \$customer"):
        catalog.edit(
            "service_restored", "en", subject="x", body="Dear $customer", by="admin", at=T0
        )
    assert store.list_notice_templates() == []
    catalog.edit(
        "service_restored",
        "en",
        subject="Calls abroad are back",
        body="Dear $subscriber_id, restored at $when ($reason).",
        by="admin-1",
        at=T0,
        reason="shorter text",
    )
    assert catalog.source("service_restored", "en") == "carrier"
    subject, body = catalog.render(
        "service_restored", {"subscriber_id": "S9", "when": "w", "reason": "r"}, ["en"]
    )
    assert (subject, body) == ("Calls abroad are back", "Dear S9, restored at w (r).\n")
    stored = store.get_notice_template("service_restored", "en")
    assert stored is not None and stored.updated_by == "admin-1"
    catalog.edit("service_restored", "en", subject="v2", body="$when", by="admin-2", at=T0)
    audit = store.list_audit(subject="notice_template:service_restored/en")
    assert [e.action for e in audit] == ["notice_template.put", "notice_template.put"]
    assert audit[0].reason == "shorter text" and audit[0].evidence["previous"] is None
    assert audit[1].evidence["previous"]["subject"] == "Calls abroad are back"
    assert store.delete_notice_template("service_restored", "en", by="admin-1", at=T0)
    assert not store.delete_notice_template("service_restored", "en", by="admin-1", at=T0)
    assert catalog.source("service_restored", "en") == "packaged"
    assert store.verify_audit_chain() == (True, None)
    store.close()


def test_notices_recorded_with_their_text_without_a_mail_server(tmp_path: Path) -> None:
    store = Store.open(path=tmp_path / "s.sqlite")
    subject, body = NoticeCatalog(store).render("security_advice", {"subscriber_id": "S1"})
    done = deliver_now(
        store,
        [PreparedNotice("security_advice", "S1", "s1@example.jp", subject, body, "advice:1")],
        clock=lambda: T0.timestamp(),
    )
    assert [(n.status, n.last_error) for n in done] == [("failed", NO_MAILER)]
    [note] = store.list_notifications(subscriber_id="S1")
    assert note.body == body and "PBX" in note.body
    assert [e.action for e in store.list_audit(subject="subscriber:S1")] == ["notification.failed"]
    store.close()


def test_cli_list_show_edit_reset(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    db = str(tmp_path / "s.sqlite")
    body = tmp_path / "body.txt"
    body.write_text("お客様番号 ${subscriber_id} 様\n\n$when に国際通話を再開しました。\n", "utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_text("Dear ${name}\n", "utf-8")

    def run(*args: str) -> tuple[int, str]:
        r = runner.invoke(app, ["notices", *args, "--db", db])
        return r.exit_code, r.output

    code, out = run("edit", "--kind", "service_restored", "--locale", "ja", "--body-file",
                    str(bad), "--by", "admin")  # fmt: skip
    assert code == 2 and "unknown field $name" in out and "$subscriber_id" in out
    code, out = run("edit", "--kind", "nope", "--locale", "ja", "--subject", "x", "--by", "a")
    assert code == 2 and "--kind must be one of" in out
    code, out = run("edit", "--kind", "service_restored", "--locale", "ja", "--body-file",
                    str(body), "--by", "admin-7", "--reason", "plainer")  # fmt: skip
    assert code == 0, out
    code, out = run("show", "--kind", "service_restored", "--locale", "ja", "--preview")
    assert code == 0 and "2026-10-31 02:14 JST に国際通話を再開しました" in out
    assert "Subject: 国際通話のご利用再開のお知らせ" in out  # the subject was kept
    code, out = run("show", "--kind", "equipment_warning", "--locale", "en")
    assert code == 0 and "${model}" in out
    code, out = run("list")
    assert code == 0 and "carrier" in out and "admin-7" in out
    code, out = run("reset", "--kind", "service_restored", "--locale", "ja", "--by", "admin-7")
    assert code == 0 and "packaged template applies again" in out
    store = Store.open(path=Path(db))
    actions = [e.action for e in store.list_audit(subject="notice_template:service_restored/ja")]
    assert actions == ["notice_template.put", "notice_template.reset"]
    store.close()


def test_the_service_sends_the_post_notification_from_the_carriers_template(
    tmp_path: Path,
) -> None:
    svc = Service(f"sqlite:///{tmp_path / 'tg.sqlite'}", tmp_path, Clock(T0.timestamp()),
                  RecordingSwitch())  # fmt: skip
    store = Store.open(svc.db)
    NoticeCatalog(store).edit(
        "post_suspension",
        "en",
        subject="Calls abroad stopped",
        body="Customer $subscriber_id: suspended at $when because $reason.",
        by="admin",
        at=T0,
    )
    settings = ServiceSettings(db_url=svc.db, tick_s=3600, data_dir=tmp_path / "data")
    rt = ServiceRuntime(settings, store=store, switch=svc.switch, outbox=Outbox(store),
                        clock=svc.clock)  # fmt: skip
    with TestClient(create_app(rt)) as c:
        r = c.post(
            "/v1/subscribers/alice/suspend",
            json={"reason": "pumping to +882"},
            headers=svc.h("analyst"),
        )
        assert r.status_code == 200
        notes = c.get("/v1/notifications", headers=svc.h("analyst")).json()
        r = c.post(
            "/v1/subscribers/alice/restore",
            json={"reason": "customer changed the PBX passwords"},
            headers=svc.h("analyst"),
        )
        assert r.status_code == 200
        later = c.get("/v1/notifications", headers=svc.h("analyst")).json()
    restored = later[0]
    assert (restored["kind"], restored["recipient"]) == ("service_restored", "alice@example.jp")
    assert restored["subject"].startswith("国際通話のご利用再開のお知らせ")
    assert "customer changed the PBX passwords" in restored["body"]
    [note] = notes
    assert note["kind"] == "post_notification" and note["status"] == "failed"
    assert note["subject"] == "【重要】国際通話の利用休止のお知らせ / Calls abroad stopped"
    when = format_when(T0.timestamp())
    assert note["body"].endswith(f"Customer alice: suspended at {when} because pumping to +882.\n")
    assert "国際通話のご利用を一時休止" in note["body"]  # the packaged Japanese text


def test_dormant_consent_request_and_security_advice_are_recorded_with_their_text(
    tmp_path: Path,
) -> None:
    from tollguard.domain.records import IntlStatus, Segment, Subscriber
    from tollguard.domain.records import Service as Line

    db = tmp_path / "s.sqlite"
    store = Store.open(path=db)
    subs = [
        Subscriber("d1", Segment.RESIDENTIAL, Line.IP, ("+81355550101",), "d1@example.jp",
                   IntlStatus.ENABLED),
        Subscriber("d2", Segment.BUSINESS, Line.PSTN, ("+81355550102",), "",
                   IntlStatus.ENABLED),
    ]  # fmt: skip
    store.upsert_subscribers(subs, at=T0)
    store.close()
    _register()
    runner = CliRunner()
    ask = ["dormant", "consent", "d1", "--state", "requested", "--by", "op-1", "--reason", "mail"]
    r = runner.invoke(app, [*ask, "--months", "9", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "consent request recorded, not sent" in r.output
    r = runner.invoke(app, ["dormant", "consent", "d2", "--state", "requested", "--by", "op-1",
                            "--reason", "letter campaign", "--db", str(db)])  # fmt: skip
    assert r.exit_code == 0 and "no email address on record" in r.output
    r = runner.invoke(app, ["notices", "send", "--all", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "1 security advice notices recorded, 0 sent" in r.output
    assert "1 customers without an email address skipped" in r.output
    r = runner.invoke(app, ["notices", "send", "--subscriber", "nobody", "--db", str(db)])
    assert r.exit_code == 2 and "no such customer: nobody" in r.output
    store = Store.open(path=db)
    notes = {n.kind: n for n in store.list_notifications(subscriber_id="d1")}
    assert set(notes) == {"dormant_consent_request", "security_advice"}
    request = notes["dormant_consent_request"]
    assert request.recipient == "d1@example.jp" and request.status == "failed"
    assert "9か月以上" in request.body and "for 9 months or more" in request.body
    assert "(last one:\n-)" in request.body  # never called abroad
    actions = [e.action for e in store.list_audit(subject="subscriber:d1")]
    assert actions == ["consent.requested", "notification.failed", "notification.failed"]
    store.close()
