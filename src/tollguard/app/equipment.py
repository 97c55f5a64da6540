"""Equipment-model warnings: who uses what, confirmed incidents, the test, and what it produces.

Inputs come from files (subscribers CSV, SIP events CSV, a replay's JSON lines or a simulator's
``truth/``) or from the store (subscribers, ingested SIP events, suspensions and contact
outcomes). :func:`build_report` runs :func:`tollguard.domain.equipment.check`; for each model
flagged, :func:`write_outputs` writes the warning list (every customer on the model), the ready
notices (one per customer, from the ``equipment_warning`` template) and the vendor summary (no
customer identity); :func:`notify_customers` records and sends the notices; and
:func:`service_check` is the live service's periodic check (an alert per model and window).

Where "confirmed incident" comes from:

* **store** (the live service): a suspension of international calling (by tollguard or an
  analyst; not one made with a dormant customer's consent), unless the customer later confirmed
  the calls were theirs; and every contact recorded as ``confirmed_fraud``;
* **replay** (``tollguard replay`` output): every ``suspend_international`` action;
* **truth** (``tollguard simulate``'s labels): every victim of an incident, except Wangiri (the
  customer dialled the bait number: no equipment was taken over) and scanners (no victim).
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tollguard.adapters.notify import Channel, RetryPolicy
from tollguard.adapters.readers import read_sip_events, read_subscribers
from tollguard.adapters.store import Store
from tollguard.adapters.store import schema as s
from tollguard.app.notices import (
    JST,
    NoticeCatalog,
    PreparedNotice,
    deliver_now,
    format_day,
)
from tollguard.domain.equipment import (
    SUCCESS_EVENTS,
    ConcentrationSettings,
    EquipmentRegistry,
    EquipmentReport,
    Incident,
    ModelAlert,
    check,
    username_index,
)
from tollguard.domain.records import QuarantinedRow, SipSecurityEvent, Subscriber

log = logging.getLogger("tollguard.equipment")

DETECTOR = "equipment_model"
"""The alerts' detector name (``GET /v1/alerts``)."""
TRUTH_EXCLUDED = frozenset({"wangiri", "sip_scanner"})
"""Simulated incident kinds that are not a takeover of the customer's equipment."""


@dataclass(slots=True)
class EquipmentInputs:
    """Customers, what they use, and their confirmed incidents."""

    subscribers: dict[str, Subscriber]
    registry: EquipmentRegistry
    incidents: list[Incident]
    skipped_rows: int = 0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, JST).isoformat(timespec="seconds")


def registry_of(subscribers: Iterable[Subscriber]) -> EquipmentRegistry:
    """Every customer, with the model they declared (or none)."""
    reg = EquipmentRegistry()
    for sub in subscribers:
        reg.declare(sub.subscriber_id, sub.equipment)
    return reg


def learn_sip_events(
    registry: EquipmentRegistry, users: dict[str, str], events: Iterable[SipSecurityEvent]
) -> int:
    """Learn User-Agents of customers' successful registrations; returns how many were used."""
    used = 0
    for e in events:
        sid = users.get(e.username) or users.get(e.username.lstrip("+"))
        used += registry.observe_event(sid, e.event, e.user_agent, e.time.timestamp())
    return used


# -- inputs from files -------------------------------------------------------------------------


def _good(items: Iterable[Any], bad: list[int]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, QuarantinedRow):
            bad[0] += 1
        else:
            yield item


def incidents_from_replay(path: Path) -> list[Incident]:
    """Suspensions in a ``tollguard replay`` output (JSON lines)."""
    found = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if '"suspend_international"' not in line:
                continue
            row = json.loads(line)
            if row.get("kind") == "action" and row.get("action") == "suspend_international":
                t = datetime.fromisoformat(row["time"]).timestamp()
                found.append(Incident(str(row["subscriber_id"]), t, "replay:suspension"))
    return found


def incidents_from_truth(data_dir: Path) -> list[Incident]:
    """Victims of the simulator's labelled incidents (``truth/incidents.csv``)."""
    from tollguard.app.backtest.truth import read_incidents

    found = []
    for inc in read_incidents(data_dir / "truth" / "incidents.csv"):
        if inc.kind in TRUTH_EXCLUDED:
            continue
        for sid in inc.subscriber_ids:
            found.append(Incident(sid, inc.start.timestamp(), f"truth:{inc.incident_id}"))
    return found


def inputs_from_files(
    subscribers: Path,
    sip_events: Iterable[Path] = (),
    *,
    replay: Path | None = None,
    truth: Path | None = None,
) -> EquipmentInputs:
    """Customers and models from files; incidents from a replay output and/or a truth dir."""
    bad = [0]
    subs = {s.subscriber_id: s for s in _good(read_subscribers(subscribers), bad)}
    reg = registry_of(subs.values())
    users = username_index(subs.values())
    for path in sip_events:
        learn_sip_events(reg, users, _good(read_sip_events(path), bad))
    incidents: list[Incident] = []
    if replay is not None:
        incidents += incidents_from_replay(replay)
    if truth is not None:
        incidents += incidents_from_truth(truth)
    return EquipmentInputs(subs, reg, incidents, bad[0])


# -- inputs from the store ---------------------------------------------------------------------


def _store_user_agents(store: Store) -> Iterator[tuple[str, str, int, datetime]]:
    """(username, user agent, count, last time) of successful SIP events, grouped in SQL."""
    t = s.sip_events
    q = (
        select(t.c.username, t.c.user_agent, func.count(), func.max(t.c.time))
        .where(t.c.event.in_([k.value for k in SUCCESS_EVENTS]))
        .group_by(t.c.username, t.c.user_agent)
    )
    with store.engine.connect() as conn:
        for username, agent, n, last in conn.execute(q):
            yield str(username), str(agent), int(n), last


def incidents_from_store(store: Store) -> list[Incident]:
    """Suspensions (not by consent, not later found legitimate) and confirmed-fraud contacts."""
    legit: dict[str, list[float]] = {}
    found: list[Incident] = []
    for case in store.list_cases():
        for attempt in store.list_contact_attempts(case.id):
            t = attempt.time.timestamp()
            if attempt.outcome == "confirmed_fraud":
                found.append(Incident(case.subscriber_id, t, f"contact:{attempt.id}"))
            elif attempt.outcome == "confirmed_legitimate":
                legit.setdefault(case.subscriber_id, []).append(t)
    for c in store.list_controls(kind="suspension"):
        evidence = c.evidence if isinstance(c.evidence, dict) else {}
        if "consent" in evidence:
            continue
        t = c.created_at.timestamp()
        if any(when >= t for when in legit.get(c.subject, [])):
            continue
        found.append(Incident(c.subject, t, f"control:{c.id}"))
    return found


def inputs_from_store(store: Store) -> EquipmentInputs:
    """Customers, models and confirmed incidents as the store holds them."""
    subs = {sub.subscriber_id: sub for sub in store.list_subscribers()}
    reg = registry_of(subs.values())
    users = username_index(subs.values())
    for username, agent, n, last in _store_user_agents(store):
        sid = users.get(username) or users.get(username.lstrip("+"))
        if sid is not None:
            reg.observe(sid, agent, last.timestamp(), count=n)
    return EquipmentInputs(subs, reg, incidents_from_store(store))


# -- the report and what it produces -----------------------------------------------------------


def build_report(
    inputs: EquipmentInputs,
    *,
    as_of: float | None = None,
    settings: ConcentrationSettings | None = None,
) -> EquipmentReport:
    """Run the test as of ``as_of`` (default: the latest incident, or 0 without any)."""
    if as_of is None:
        as_of = max((i.time for i in inputs.incidents), default=0.0)
    return check(inputs.registry, inputs.incidents, as_of=as_of, settings=settings)


def slug(text: str) -> str:
    """A file-name-safe form of a model name."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60] or "model"


def warning_notices(
    alert: ModelAlert,
    inputs: EquipmentInputs,
    catalog: NoticeCatalog,
) -> list[PreparedNotice]:
    """The equipment warning for every customer on the model who has an email address."""
    f = alert.finding
    since = format_day(min((i.time for i in alert.incidents), default=0.0))
    firmware = ", ".join(alert.firmware) or "-"
    out = []
    for sid in alert.customers:
        sub = inputs.subscribers.get(sid)
        if sub is None or not sub.email:
            continue
        subject, body = catalog.render(
            "equipment_warning",
            {
                "subscriber_id": sid,
                "model": f.name,
                "firmware": firmware,
                "incidents": f.incidents,
                "since": since,
            },
        )
        out.append(
            PreparedNotice("equipment_warning", sid, sub.email, subject, body, f"equipment:{f.key}")
        )
    return out


def vendor_summary(alert: ModelAlert) -> dict[str, object]:
    """The vendor's summary with readable times (no customer identity)."""
    summary = alert.vendor_summary(timezone_name="Asia/Tokyo")
    times = summary["incident_times"]
    assert isinstance(times, list)
    summary["incident_times"] = [_iso(t) for t in times]
    return summary


def vendor_text(alert: ModelAlert) -> str:
    """The vendor's summary as a short plain-text report."""
    f = alert.finding
    times = sorted(i.time for i in alert.incidents)
    lines = [
        f"Toll fraud incidents concentrated on {f.name}",
        "",
        f"Customers using this model: {f.customers}",
        f"Customers of this model with a confirmed incident: {f.incidents} "
        f"(chance alone would give {f.expected:.1f}; {f.rate_ratio:.1f} times the carrier's rate;"
        f" p = {f.p_value:.2e})",
        "Firmware seen on this model: " + (", ".join(alert.firmware) or "none reported"),
        "Firmware on the affected lines: " + (", ".join(alert.incident_firmware) or "unknown"),
        "",
        "Incident times (Asia/Tokyo):",
        *[f"  {_iso(t)}" for t in times],
        "",
        "No customer identity is included. Contact the carrier's fraud desk for details.",
    ]
    return "\n".join(lines) + "\n"


def write_outputs(
    report: EquipmentReport, inputs: EquipmentInputs, out: Path, catalog: NoticeCatalog
) -> list[Path]:
    """Write ``models.csv`` and, per alert, ``<model>/customers.csv``, ``notices.jsonl``,
    ``vendor-summary.json`` and ``vendor-summary.txt``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "models.csv"]
    with written[0].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["model", "customers", "incidents", "expected", "rate_ratio", "p_value",
             "threshold", "alert"]
        )  # fmt: skip
        for f in report.findings:
            w.writerow(
                [f.name, f.customers, f.incidents, f"{f.expected:.3f}", f"{f.rate_ratio:.2f}",
                 f"{f.p_value:.3e}", f"{f.threshold:.3e}", "yes" if f.alert else "no"]
            )  # fmt: skip
    for alert in report.alerts:
        folder = out / slug(alert.finding.name)
        folder.mkdir(exist_ok=True)
        hit = {i.subscriber_id: i for i in alert.incidents}
        path = folder / "customers.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(
                ["subscriber_id", "segment", "service", "numbers", "email", "model", "source",
                 "firmware", "incident_time"]
            )  # fmt: skip
            for sid in alert.customers:
                sub = inputs.subscribers.get(sid)
                model, source = inputs.registry.model_of(sid)
                w.writerow(
                    [
                        sid,
                        sub.segment.value if sub else "",
                        sub.service.value if sub else "",
                        ";".join(sub.numbers) if sub else "",
                        sub.email if sub else "",
                        model.name if model else "",
                        source,
                        ";".join(sorted(inputs.registry.firmware(sid))),
                        _iso(hit[sid].time) if sid in hit else "",
                    ]
                )
        written.append(path)
        path = folder / "notices.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for n in warning_notices(alert, inputs, catalog):
                row = {
                    "subscriber_id": n.subscriber_id,
                    "recipient": n.recipient,
                    "subject": n.subject,
                    "body": n.body,
                }
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        written.append(path)
        path = folder / "vendor-summary.json"
        path.write_text(
            json.dumps(vendor_summary(alert), ensure_ascii=False, indent=2) + "\n", "utf-8"
        )
        written.append(path)
        path = folder / "vendor-summary.txt"
        path.write_text(vendor_text(alert), "utf-8")
        written.append(path)
    return written


def notify_customers(
    store: Store,
    alert: ModelAlert,
    inputs: EquipmentInputs,
    *,
    mailer: Channel | None = None,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] | None = None,
) -> tuple[int, int]:
    """Record (and send, with a mailer) the warning to every customer on the model; returns
    (recorded, delivered). A customer already warned about this model is not warned again."""
    already = {
        n.subscriber_id
        for n in store.list_notifications(limit=1_000_000)
        if n.kind == "equipment_warning" and n.reference == f"equipment:{alert.finding.key}"
    }
    todo = [
        n
        for n in warning_notices(alert, inputs, NoticeCatalog(store))
        if n.subscriber_id not in already
    ]
    kwargs: dict[str, Any] = {"mailer": mailer, "policy": policy}
    if clock is not None:
        kwargs["clock"] = clock
    done = deliver_now(store, todo, **kwargs)
    return len(done), sum(1 for n in done if n.status == "sent")


def service_check(
    store: Store,
    *,
    at: float,
    settings: ConcentrationSettings | None = None,
) -> list[ModelAlert]:
    """The live service's periodic check: an ``equipment_model`` alert for every model flagged
    that has had none in the window (with the warning list's size and the vendor summary; the
    notices are sent with ``tollguard equipment report --db ... --notify``)."""
    cfg = settings or ConcentrationSettings()
    inputs = inputs_from_store(store)
    report = build_report(inputs, as_of=at, settings=cfg)
    if not report.alerts:
        return []
    since = at - cfg.window_days * 86400.0
    raised = {
        a.evidence.get("model_key")
        for a in store.list_alerts(limit=10_000)
        if a.detector == DETECTOR and a.time.timestamp() >= since
    }
    new = []
    for alert in report.alerts:
        f = alert.finding
        if f.key in raised:
            continue
        store.insert_alert(
            time=datetime.fromtimestamp(at, UTC),
            detector=DETECTOR,
            severity="critical",
            subscriber_id=None,
            evidence={
                "model": f.name,
                "model_key": f.key,
                "customers_on_model": f.customers,
                "incidents_on_model": f.incidents,
                "expected_by_chance": round(f.expected, 3),
                "p_value": f.p_value,
                "threshold": f.threshold,
                "warning_list": list(alert.customers),
                "vendor_summary": vendor_summary(alert),
                "next_step": "tollguard equipment report --db URL --out DIR --notify",
            },
        )
        log.warning(
            "incidents concentrate on equipment model %s: %d of %d customers hit (p=%.2e)",
            f.name,
            f.incidents,
            f.customers,
            f.p_value,
        )
        new.append(alert)
    return new
