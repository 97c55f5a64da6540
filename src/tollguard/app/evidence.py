"""Incident evidence pack: what a customer needs for a police report and the carrier for the
billing dispute, from one stored case.

:func:`collect_evidence` gathers, for the case's customer and a window around the case (from
``before_s`` before it opened to ``after_s`` after it closed, or until now while it is open):

* every international call (times, number, destination country and tariff range, duration,
  charge, source address and its country), marked when it is part of the incident (a
  destination of the case, or a call tollguard denied or cut);
* the source addresses of those calls and of the customer's SIP events, with their countries
  (:class:`tollguard.domain.ipinfo.IpLocator`), authentication failures and User-Agents;
* every action taken, with its time, who took it and why, from the hash-chained audit log: the
  case itself, controls (suspension, destination denials, blocked addresses, country
  restrictions), contact attempts, cut calls and notices;
* the notices sent to the customer, with their delivery status.

:func:`render_html` makes one self-contained HTML document (inline CSS and SVG, no script, no
external reference) and :func:`render_csv` one CSV with a row per call and per event.
:func:`export_case` does both and writes the ``case.export`` audit entry with the files' SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tollguard import __version__
from tollguard.adapters.csvsafe import safe_cell
from tollguard.adapters.store import AuditEntry, Case, Store, StoredNotification
from tollguard.adapters.store import schema as s
from tollguard.adapters.store.audit import row_to_entry
from tollguard.domain.equipment import username_index
from tollguard.domain.ipinfo import IpLocator
from tollguard.domain.rating import Tariff
from tollguard.domain.records import Subscriber

JST = ZoneInfo("Asia/Tokyo")
DEFAULT_BEFORE_S = 14 * 86400.0
"""How far before the case opened the pack looks: attacks start with test calls, and slow ones
run for days before they are noticed (the simulator's low-and-slow runs up to ten)."""
DEFAULT_AFTER_S = 86400.0
"""How long after the case closed: the restoration and the last notices follow the close."""
HOME_PREFIX = "+81"
BRUTE_FORCE = 10
"""Failed logins from one address before a success there marks a brute-forced credential."""


class EvidenceError(Exception):
    """No such case, or nothing to build a pack from."""


@dataclass(frozen=True, slots=True)
class PackCall:
    """One international call of the customer in the window."""

    call_id: str
    start: datetime
    answer: datetime | None
    end: datetime
    disposition: str
    callee: str
    e164: str | None
    country: str | None
    number_type: str | None
    range_prefix: str
    range_name: str
    rate_per_min: float | None
    seconds: float
    charge_jpy: float
    source_ip: str | None
    source_country: str | None
    flagged: bool
    note: str


@dataclass(frozen=True, slots=True)
class PackEvent:
    """One thing that happened: an audited action, or a summary of calls or SIP events."""

    time: datetime
    kind: str
    actor: str
    what: str
    reason: str
    detail: str = ""
    seq: int | None = None


@dataclass(slots=True)
class PackAddress:
    """A source address seen in the window."""

    ip: str
    country: str | None
    scope: str
    first: datetime
    last: datetime
    calls: int = 0
    flagged_calls: int = 0
    auth_failures: int = 0
    auth_successes: int = 0
    registrations: int = 0
    user_agents: set[str] = field(default_factory=set)
    blocked: bool = False


@dataclass(slots=True)
class EvidencePack:
    """Everything about one case, ready to render."""

    case: Case
    subscriber: Subscriber | None
    since: datetime
    until: datetime
    generated_at: datetime
    calls: list[PackCall]
    actions: list[PackEvent]
    addresses: list[PackAddress]
    notifications: list[StoredNotification]
    timeline: list[PackEvent]
    audit_intact: bool
    audit_head: str

    @property
    def subscriber_id(self) -> str:
        """The customer's id."""
        return self.case.subscriber_id

    @property
    def flagged(self) -> list[PackCall]:
        """The calls of the incident."""
        return [c for c in self.calls if c.flagged]

    def totals(self, calls: Iterable[PackCall] | None = None) -> dict[str, Any]:
        """Counts, minutes and charges (of ``calls``, default the incident's)."""
        rows = list(self.flagged if calls is None else calls)
        answered = [c for c in rows if c.seconds > 0]
        by_country: dict[str, float] = defaultdict(float)
        for c in rows:
            by_country[c.country or "?"] += c.charge_jpy
        return {
            "calls": len(rows),
            "answered": len(answered),
            "minutes": sum(c.seconds for c in rows) / 60.0,
            "charge_jpy": sum(c.charge_jpy for c in rows),
            "first": min((c.start for c in rows), default=None),
            "last": max((c.end for c in rows), default=None),
            "countries": sorted(by_country, key=lambda k: (-by_country[k], k)),
        }


# -- collecting ----------------------------------------------------------------------------------


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _international(e164: str | None, callee: str) -> bool:
    if e164:
        return not e164.startswith(HOME_PREFIX)
    return callee.startswith(("010", "+")) and not callee.startswith(HOME_PREFIX)


def _describe(entry: AuditEntry) -> str:
    """A person's reading of an audit entry."""
    ev = entry.evidence if isinstance(entry.evidence, dict) else {}
    kind, _, target = entry.subject.partition(":")
    if entry.action in ("control.create", "control.lift"):
        lifted = entry.action == "control.lift"
        until = ev.get("expires_at")
        suffix = "" if lifted or not until else f" until {_when_text(until)}"
        if kind == "suspension":
            return (
                "International calling restored"
                if lifted
                else "International calling suspended (利用休止)"
            ) + suffix
        if kind == "destination_denial":
            dest = target.split(":", 1)[1] if ":" in target else target
            who = "for this customer" if ":" in target else "for every customer"
            return f"Calls to {dest} {'allowed again' if lifted else 'denied'} {who}{suffix}"
        if kind == "ip_block":
            return f"Address {target} {'unblocked' if lifted else 'blocked'}{suffix}"
        if kind == "country_restriction":
            return (
                f"Calls to country {target} "
                f"{'no longer restricted' if lifted else 'restricted (carrier-wide)'}{suffix}"
            )
    if kind == "destination_denial" and ":" in target:
        target = target.split(":", 1)[1]  # a customer's own denial: SID:DESTINATION
    recorded = {  # an action recorded as such (its control had already expired, or none)
        "suspend_international": "International calling suspended (利用休止)",
        "restore_international": "International calling restored",
        "deny_destination": f"Calls to {target or 'a destination'} denied",
        "allow_destination": f"Calls to {target or 'a destination'} allowed again",
        "restrict_country": f"Calls to country {target} restricted (carrier-wide)",
        "lift_country": f"Calls to country {target} no longer restricted",
        "block_ip": f"Address {target} blocked",
        "unblock_ip": f"Address {target} unblocked",
    }
    if entry.action in recorded:
        return recorded[entry.action]
    names = {
        "case.open": "Case opened",
        "case.update": f"Case now {ev.get('status', 'updated')}",
        "case.close": "Case closed",
        "case.contact": f"Contact with the customer ({ev.get('channel', 'phone')}): {entry.reason}",
        "contact_attempt": f"Contact attempt {ev.get('attempt', '')} "
        f"({ev.get('channel', 'phone')})",
        "notify": f"Notice to send ({ev.get('template', ev.get('channel', ''))})",
        "call.terminate": f"Call {ev.get('call_id', '')} cut",
        "notification.sent": "Notice delivered",
        "notification.failed": "Notice not delivered",
        "cdr.view": "Call details viewed",
        "case.export": "Evidence pack produced",
        "consent.requested": "Consent to suspend asked",
        "consent.granted": "Consent to suspend given",
        "consent.declined": "Consent to suspend declined",
        "consent.withdrawn": "Consent withdrawn",
    }
    return names.get(entry.action, entry.action.replace("_", " "))


def _when_text(value: object) -> str:
    if isinstance(value, datetime):
        return _fmt(value)
    if isinstance(value, str):
        try:
            return _fmt(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def _detail(entry: AuditEntry) -> str:
    ev = entry.evidence if isinstance(entry.evidence, dict) else {}
    inner = ev.get("evidence") if isinstance(ev.get("evidence"), dict) else ev
    assert isinstance(inner, dict)
    bits = []
    for key in (
        "fraud_probability",
        "expected_loss_jpy",
        "call_id",
        "attempt",
        "note",
        "machine_behaviour",
        "reasons",
        "subject",
        "case_id",
    ):
        value = inner.get(key, ev.get(key))
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        bits.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(bits)[:600]


def _audit_under(store: Store, prefix: str) -> list[AuditEntry]:
    """Audit entries whose subject starts with ``prefix`` (a LIKE on the indexed subject)."""
    t = s.audit_log
    q = select(t).where(t.c.subject.startswith(prefix, autoescape=True)).order_by(t.c.seq)
    with store.engine.connect() as conn:
        return [row_to_entry(r) for r in conn.execute(q)]


def _sip_rows(store: Store, usernames: set[str], since: datetime, until: datetime) -> list[Any]:
    """The SIP events of the customer's usernames in the window (an indexed range on time)."""
    t = s.sip_events
    if not usernames:
        return []
    q = (
        select(t.c.time, t.c.source_ip, t.c.username, t.c.event, t.c.user_agent)
        .where(t.c.time >= since, t.c.time <= until, t.c.username.in_(sorted(usernames)))
        .order_by(t.c.time, t.c.id)
    )
    with store.engine.connect() as conn:
        return list(conn.execute(q))


def collect_evidence(
    store: Store,
    case_id: int,
    *,
    now: datetime | None = None,
    before_s: float = DEFAULT_BEFORE_S,
    after_s: float = DEFAULT_AFTER_S,
    since: datetime | None = None,
    until: datetime | None = None,
    locator: IpLocator | None = None,
    tariff: Tariff | None = None,
) -> EvidencePack:
    """Gather a case's evidence from the store (see the module docs)."""
    case = store.get_case(case_id)
    if case is None:
        raise EvidenceError(f"no case {case_id}")
    generated = now or datetime.now(UTC)
    sid = case.subscriber_id
    opened = _aware(case.opened_at)
    start = since or opened - timedelta(seconds=before_s)
    if until is None:
        closed = case.closed_at
        until = _aware(closed) + timedelta(seconds=after_s) if closed else generated
        until = max(until, opened)
    locator = locator or IpLocator()
    tariff = tariff or Tariff.default()
    sub = store.get_subscriber(sid)
    case_countries = {str(c) for c in case.evidence.get("countries", []) or []}

    # every action: the audit log's entries about this customer and their controls
    subjects = {f"subscriber:{sid}", f"suspension:{sid}"}
    entries = {e.seq: e for subj in subjects for e in store.list_audit(subject=subj)}
    # the customer's own destination denials (``SID:COUNTRY`` or ``SID:+RANGE``), lifts included
    entries |= {e.seq: e for e in _audit_under(store, f"destination_denial:{sid}:")}

    # source addresses: the customer's SIP events, then their calls'
    addresses: dict[str, PackAddress] = {}

    def address(ip: str, t: datetime) -> PackAddress:
        found = addresses.get(ip)
        if found is None:
            info = locator.lookup(ip)
            found = addresses[ip] = PackAddress(ip, info.country, info.scope.value, t, t)
        found.first, found.last = min(found.first, t), max(found.last, t)
        return found

    usernames = {u for u, owner in username_index([sub]).items() if owner == sid} if sub else {sid}
    for row in _sip_rows(store, usernames, start, until):
        a = address(row.source_ip, _aware(row.time))
        if row.event == "auth_failure":
            a.auth_failures += 1
        elif row.event == "auth_success":
            a.auth_successes += 1
        else:
            a.registrations += 1
        if row.user_agent:
            a.user_agents.add(row.user_agent)
    rows = [
        r
        for r in store.list_cdrs(subscriber_id=sid, since=start, until=until)
        if _international(r.callee_e164, r.cdr.callee)
    ]
    for r in rows:
        if r.cdr.source_ip:
            address(r.cdr.source_ip, _aware(r.cdr.start)).calls += 1
    for seen, a in addresses.items():
        for e in store.list_audit(subject=f"ip_block:{seen}"):
            entries[e.seq] = e
            a.blocked |= e.action in ("control.create", "block_ip") and start <= _aware(e.time)
    # the incident's addresses: blocked ones, a brute-forced credential's, the case's own
    facts = case.evidence.get("facts")
    incident_ips = {a.ip for a in addresses.values() if a.blocked}
    incident_ips |= {
        a.ip for a in addresses.values() if a.auth_successes and a.auth_failures >= BRUTE_FORCE
    }
    if isinstance(facts, dict) and facts.get("ip"):
        incident_ips.add(str(facts["ip"]))

    # the calls
    cut: dict[str, datetime] = {}
    triggered: dict[str, str] = {}
    for e in entries.values():
        ev = e.evidence if isinstance(e.evidence, dict) else {}
        inner = ev.get("evidence") if isinstance(ev.get("evidence"), dict) else ev
        call_id = inner.get("call_id") if isinstance(inner, dict) else None
        if e.action == "call.terminate" and call_id:
            cut[str(call_id)] = _aware(e.time)
        elif call_id:
            triggered[str(call_id)] = _describe(e)
    denied_countries = {
        c.subject.split(":", 1)[1]
        for c in store.list_controls(kind="destination_denial")
        if c.subject.startswith(f"{sid}:") and ":+" not in c.subject
    }
    suspensions = store.list_controls(kind="suspension", subject=sid)
    # the countries the customer called abroad before the pack's window: a new one is a lead
    known_before = {
        r.country
        for r in store.list_cdrs(subscriber_id=sid, until=start)
        if r.country and _international(r.callee_e164, r.cdr.callee)
    }
    # a metering case names no destination: the calls of its day (the meter's window) onwards
    metering_since = opened - timedelta(days=1) if not case_countries and not incident_ips else None
    calls: list[PackCall] = []
    for r in rows:
        cdr = r.cdr
        rate = tariff.lookup(r.callee_e164) if r.callee_e164 else None
        country = None if r.country in (None, "001", "ZZ") else r.country
        notes = []
        if cdr.call_id in cut:
            notes.append(f"cut by tollguard at {_fmt(cut[cdr.call_id])}")
        if cdr.call_id in triggered:
            notes.append(f"led to: {triggered[cdr.call_id]}")
        ip = cdr.source_ip
        if ip in incident_ips:
            notes.append("from an address of the incident")
        if any(c.active_at(_aware(cdr.start)) for c in suspensions):
            notes.append("attempted while international calling was suspended")
        if country is not None and country not in known_before:
            notes.append("a country the customer had not called before")
        flagged = (
            bool(notes)
            or (country is not None and (country in case_countries or country in denied_countries))
            or (country is None and any(c in ("", "001") for c in case_countries))
            or (metering_since is not None and _aware(cdr.start) >= metering_since)
        )
        if flagged and ip:
            addresses[ip].flagged_calls += 1
        calls.append(
            PackCall(
                call_id=cdr.call_id,
                start=_aware(cdr.start),
                answer=None if cdr.answer is None else _aware(cdr.answer),
                end=_aware(cdr.end),
                disposition=cdr.disposition.value,
                callee=cdr.callee,
                e164=r.callee_e164,
                country=country,
                number_type=r.number_type,
                range_prefix=f"+{rate.prefix}" if rate else "",
                range_name=rate.destination if rate else "unknown range",
                rate_per_min=rate.rate_per_min if rate else None,
                seconds=cdr.billable_seconds,
                charge_jpy=float(r.charge_jpy),
                source_ip=ip,
                source_country=addresses[ip].country if ip else None,
                flagged=flagged,
                note="; ".join(notes),
            )
        )
    for country in sorted({c.country for c in calls if c.flagged and c.country}):
        for e in store.list_audit(subject=f"country_restriction:{country}"):
            entries[e.seq] = e

    actions = [
        PackEvent(_aware(e.time), "action", e.actor, _describe(e), e.reason, _detail(e), e.seq)
        for e in sorted(entries.values(), key=lambda e: e.seq)
        if start <= _aware(e.time) <= until
    ]
    notifications = [
        n
        for n in reversed(store.list_notifications(subscriber_id=sid, limit=100_000))
        if start <= _aware(n.created_at) <= until
    ]
    ok, _bad = store.verify_audit_chain()
    head = store.list_audit(after_seq=0)[-1:]  # the newest entry's hash anchors the pack
    pack = EvidencePack(
        case=case,
        subscriber=sub,
        since=start,
        until=until,
        generated_at=generated,
        calls=calls,
        actions=actions,
        addresses=sorted(addresses.values(), key=lambda a: (a.first, a.ip)),
        notifications=notifications,
        timeline=[],
        audit_intact=ok,
        audit_head=head[0].hash if head else "",
    )
    pack.timeline = build_timeline(pack)
    return pack


def build_timeline(pack: EvidencePack) -> list[PackEvent]:
    """The incident in time order: actions, the calls hour by hour, and SIP activity."""
    events = list(pack.actions)
    hours: dict[datetime, list[PackCall]] = defaultdict(list)
    for c in pack.calls:
        if c.flagged:
            hours[c.start.astimezone(JST).replace(minute=0, second=0, microsecond=0)].append(c)
    for hour, rows in sorted(hours.items()):
        t = pack.totals(rows)
        countries = ", ".join(t["countries"])
        events.append(
            PackEvent(
                min(c.start for c in rows),
                "calls",
                pack.subscriber_id,
                f"{t['calls']} call{'s' if t['calls'] != 1 else ''} abroad "
                f"({t['answered']} answered) to {countries}",
                f"{hour.strftime('%H:00')}–{hour.strftime('%H:59')}",
                f"{t['minutes']:.0f} min, ¥{t['charge_jpy']:,.0f}",
            )
        )
    for a in pack.addresses:
        if a.auth_failures:
            events.append(
                PackEvent(
                    a.first,
                    "sip",
                    a.ip,
                    f"{a.auth_failures} failed SIP logins from {a.ip} ({a.country or '?'})",
                    f"until {_fmt(a.last)}",
                    ", ".join(sorted(a.user_agents))[:200],
                )
            )
        if a.auth_successes or (a.registrations and a.country not in (None, "JP")):
            events.append(
                PackEvent(
                    a.first,
                    "sip",
                    a.ip,
                    f"SIP login from {a.ip} ({a.country or '?'}): {a.auth_successes} successful, "
                    f"{a.registrations} registrations",
                    f"until {_fmt(a.last)}",
                    ", ".join(sorted(a.user_agents))[:200],
                )
            )
    order = {"sip": 0, "calls": 1, "action": 2}
    events.sort(key=lambda e: (e.time, order.get(e.kind, 3), e.seq or 0))
    return events


# -- rendering -----------------------------------------------------------------------------------


def _fmt(t: datetime | None) -> str:
    return "" if t is None else _aware(t).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def _dur(seconds: float) -> str:
    s_ = round(seconds)
    return f"{s_ // 60}:{s_ % 60:02d}"


CSV_COLUMNS = (
    "record",
    "time",
    "end",
    "actor",
    "what",
    "reason",
    "detail",
    "call_id",
    "number",
    "country",
    "range",
    "range_name",
    "disposition",
    "billable_seconds",
    "charge_jpy",
    "source_ip",
    "source_country",
    "incident",
    "audit_seq",
)


def render_csv(pack: EvidencePack) -> str:
    """One CSV: a row per call (``record=call``) and per event (``action``, ``calls``, ``sip``),
    in time order. Times are Asia/Tokyo ISO 8601; cells are safe to open in a spreadsheet."""
    rows: list[tuple[datetime, list[object]]] = []
    for c in pack.calls:
        rows.append(
            (
                c.start,
                [
                    "call",
                    c.start.astimezone(JST).isoformat(),
                    c.end.astimezone(JST).isoformat(),
                    pack.subscriber_id,
                    "call abroad",
                    "",
                    c.note,
                    c.call_id,
                    c.e164 or c.callee,
                    c.country or "",
                    c.range_prefix,
                    c.range_name,
                    c.disposition,
                    f"{c.seconds:.0f}",
                    f"{c.charge_jpy:.2f}",
                    c.source_ip or "",
                    c.source_country or "",
                    "yes" if c.flagged else "no",
                    "",
                ],
            )
        )
    for e in pack.timeline:
        if e.kind == "calls":
            continue
        rows.append(
            (
                e.time,
                [
                    e.kind,
                    e.time.astimezone(JST).isoformat(),
                    "",
                    e.actor,
                    e.what,
                    e.reason,
                    e.detail,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    e.seq or "",
                ],
            )
        )
    rows.sort(key=lambda r: (r[0], r[1][0] != "call"))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for _t, row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


_CSS = """
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Hiragino Sans",
"Noto Sans CJK JP","Yu Gothic",sans-serif;color:#111827;margin:24px 32px;background:#f9fafb}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:2px solid #e5e7eb;padding-bottom:4px}
.meta{color:#4b5563;margin:0 0 14px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px;margin:8px 0}
.facts{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:10px}
.fact{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px}
.fact b{display:block;font-size:20px}.fact span{color:#6b7280;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{padding:4px 6px;text-align:left;
border-bottom:1px solid #f3f4f6;vertical-align:top}th{background:#f3f4f6;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr.hit td{background:#fef2f2}
.tag{display:inline-block;padding:0 6px;border-radius:9px;font-size:11px;background:#e5e7eb}
.tag.action{background:#dbeafe}.tag.calls{background:#fee2e2}.tag.sip{background:#fef3c7}
.note{color:#6b7280;font-size:12px}.mono{font-family:ui-monospace,monospace;font-size:12px}
@media print{body{background:#fff;margin:10mm}.card{break-inside:avoid}}
"""


def _chart(pack: EvidencePack) -> str:
    """Cumulative charges of the incident's calls, with tollguard's actions marked."""
    width, height, left, right, top, bottom = 1100, 230, 70, 50, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    calls = sorted(pack.flagged, key=lambda c: c.end)
    marks = [
        a
        for a in pack.actions
        if a.what.startswith(("International calling suspended", "Calls to", "Address", "Call "))
    ]
    if not calls:
        return '<p class="note">No call of the incident in the window.</p>'
    lo = min(calls[0].start, *(a.time for a in marks)) if marks else calls[0].start
    hi = max(calls[-1].end, *(a.time for a in marks)) if marks else calls[-1].end
    span = max((hi - lo).total_seconds(), 60.0)
    total = max(sum(c.charge_jpy for c in calls), 1000.0)
    step = 10.0 ** math.floor(math.log10(total))
    y_top = step * math.ceil(total / step)

    def x(t: datetime) -> float:
        return left + plot_w * (t - lo).total_seconds() / span

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_top)

    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="cumulative charges" style="max-width:100%;height:auto">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#d1d5db"/>',
    ]
    for k in range(5):
        v = y_top * k / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#f3f4f6"/><text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#4b5563">¥{v:,.0f}</text>'
        )
    for k in range(6):
        t = lo + timedelta(seconds=span * k / 5)
        parts.append(
            f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
            f'fill="#4b5563">{escape(t.astimezone(JST).strftime("%m-%d %H:%M"))}</text>'
        )
    path, level = [f"M{x(lo):.1f},{y(0):.1f}"], 0.0
    for c in calls:
        path.append(f"L{x(c.end):.1f},{y(level):.1f}")
        level += c.charge_jpy
        path.append(f"L{x(c.end):.1f},{y(level):.1f}")
    path.append(f"L{x(hi):.1f},{y(level):.1f}")
    parts.append(f'<path d="{"".join(path)}" fill="none" stroke="#dc2626" stroke-width="2.2"/>')
    for a in marks:
        colour = "#2563eb" if "suspended" in a.what or "cut" in a.what else "#7c3aed"
        parts.append(
            f'<line x1="{x(a.time):.1f}" x2="{x(a.time):.1f}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="{colour}" stroke-dasharray="4 3"><title>{escape(_fmt(a.time))} '
            f"{escape(a.what)}</title></line>"
        )
    parts.append(
        f'<text x="{left}" y="{top - 8}" font-size="12" fill="#111827">Cumulative charges of the '
        "incident's calls (red); tollguard's actions (dashed: blue suspension or cut, purple "
        "denial or block)</text></svg>"
    )
    return "".join(parts)


def _table(head: list[str], rows: list[list[str]], numeric: set[int], hits: set[int]) -> str:
    ths = "".join(
        f'<th class="n">{h}</th>' if i in numeric else f"<th>{h}</th>" for i, h in enumerate(head)
    )
    body = []
    for r, row in enumerate(rows):
        tds = "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f'<tr class="hit">{tds}</tr>' if r in hits else f"<tr>{tds}</tr>")
    thead = f"<thead><tr>{ths}</tr></thead>" if any(head) else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def render_html(pack: EvidencePack, *, carrier: str = "") -> str:
    """The pack as one self-contained HTML document (no script, no external reference)."""
    e = escape
    sub = pack.subscriber
    t = pack.totals()
    everything = pack.totals(pack.calls)
    first, last = t["first"], t["last"]
    facts = [
        (f"¥{t['charge_jpy']:,.0f}", "charges of the incident's calls / 不正利用分の通話料"),
        (f"{t['calls']:,}", f"calls abroad in the incident ({t['answered']:,} answered)"),
        (f"{t['minutes']:,.0f} min", "billed minutes / 課金時間"),
        (e(", ".join(t["countries"][:6]) or "—"), "destination countries / 発信先"),
    ]
    facts_html = "".join(f'<div class="fact"><b>{v}</b><span>{k}</span></div>' for v, k in facts)
    customer = [
        ("Customer / お客様番号", e(pack.subscriber_id)),
        ("Numbers / 電話番号", e(", ".join(sub.numbers)) if sub else "unknown"),
        ("Line / 回線", e(f"{sub.segment.value}, {sub.service.value}") if sub else ""),
        ("Equipment / 機器", e(sub.equipment or "unknown") if sub else ""),
        (
            "Case / 事案",
            e(
                f"#{pack.case.id}, {pack.case.status}, opened {_fmt(pack.case.opened_at)}"
                + (f", closed {_fmt(pack.case.closed_at)}" if pack.case.closed_at else "")
            ),
        ),
        ("Reasons / 検知理由", e(", ".join(map(str, pack.case.evidence.get("reasons", []))))),
        (
            "Incident calls / 不正利用の期間",
            e(f"{_fmt(first)} → {_fmt(last)}" if first else "—"),
        ),
        ("Window examined / 調査期間", e(f"{_fmt(pack.since)} → {_fmt(pack.until)} (Asia/Tokyo)")),
        (
            "All calls abroad in the window",
            e(f"{everything['calls']:,} (¥{everything['charge_jpy']:,.0f})"),
        ),
    ]
    customer_html = _table(["", ""], [[f"<b>{k}</b>", v] for k, v in customer], set(), set())
    timeline_rows = [
        [
            e(_fmt(ev.time)),
            f'<span class="tag {e(ev.kind)}">{e(ev.kind)}</span>',
            e(ev.what),
            e(ev.reason),
            e(ev.actor),
            f'<span class="note">{e(ev.detail)}</span>',
        ]
        for ev in pack.timeline
    ]
    action_rows = [
        [
            str(a.seq or ""),
            e(_fmt(a.time)),
            e(a.actor),
            e(a.what),
            e(a.reason),
            f'<span class="note">{e(a.detail)}</span>',
        ]
        for a in pack.actions
    ]
    call_rows = [
        [
            e(_fmt(c.start)),
            e(c.e164 or c.callee),
            e(c.country or "intl. network"),
            e(f"{c.range_prefix} {c.range_name}"),
            e(c.disposition),
            _dur(c.seconds),
            f"{c.charge_jpy:,.0f}",
            e(c.source_ip or "—"),
            e(c.source_country or ""),
            e(c.note),
            f'<span class="mono">{e(c.call_id)}</span>',
        ]
        for c in pack.calls
    ]
    hits = {i for i, c in enumerate(pack.calls) if c.flagged}
    address_rows = [
        [
            e(a.ip),
            e(a.country or "—"),
            e(a.scope),
            e(_fmt(a.first)),
            e(_fmt(a.last)),
            str(a.calls),
            str(a.flagged_calls),
            str(a.auth_failures),
            str(a.auth_successes),
            str(a.registrations),
            e(", ".join(sorted(a.user_agents))[:160]),
            "blocked" if a.blocked else "",
        ]
        for a in pack.addresses
    ]
    addr_hits = {i for i, a in enumerate(pack.addresses) if a.flagged_calls or a.auth_failures}
    notice_rows = [
        [
            e(_fmt(n.created_at)),
            e(n.kind),
            e(n.channel),
            e(n.recipient),
            e(n.subject),
            e(n.status),
            e(_fmt(n.sent_at)),
        ]
        for n in pack.notifications
    ]
    integrity = (
        "intact" if pack.audit_intact else "<b style='color:#b91c1c'>BROKEN: see audit verify</b>"
    )
    sections = [
        f'<div class="facts">{facts_html}</div>',
        "<h2>事案の概要 / The case</h2>",
        f'<div class="card">{customer_html}</div>',
        f'<div class="card">{_chart(pack)}</div>',
        "<h2>経過 / Timeline</h2>",
        '<p class="note">Times are Asia/Tokyo (JST). Calls of the incident are summarised hour '
        "by hour here and listed one by one below.</p>",
        '<div class="card">'
        + _table(["time", "", "what", "why / when", "who", "details"], timeline_rows, set(), set())
        + "</div>",
        "<h2>対応の記録 / Every action taken</h2>",
        '<p class="note">From tollguard\'s hash-chained audit log (seq = entry number).</p>',
        '<div class="card">'
        + _table(["seq", "time", "who", "action", "reason", "evidence"], action_rows, {0}, set())
        + "</div>",
        "<h2>通話明細 / Calls abroad</h2>",
        f'<p class="note">Every international call of the customer in the window; rows in red are '
        f"the incident's ({len(hits):,} of {len(pack.calls):,}). Duration is billed time "
        "(min:s), charge in JPY at the carrier's tariff.</p>",
        '<div class="card">'
        + _table(
            [
                "start",
                "number called",
                "country",
                "range",
                "result",
                "duration",
                "¥",
                "source address",
                "addr. country",
                "tollguard",
                "call reference",
            ],
            call_rows,
            {5, 6},
            hits,
        )
        + "</div>",
        "<h2>発信元 / Source addresses</h2>",
        '<div class="card">'
        + _table(
            [
                "address",
                "country",
                "scope",
                "first seen",
                "last seen",
                "calls",
                "incident calls",
                "failed logins",
                "logins",
                "registrations",
                "User-Agent",
                "",
            ],
            address_rows,
            {5, 6, 7, 8, 9},
            addr_hits,
        )
        + "</div>",
        "<h2>お客様への通知 / Notices to the customer</h2>",
        '<div class="card">'
        + (
            _table(
                ["recorded", "kind", "channel", "to", "subject", "status", "delivered"],
                notice_rows,
                set(),
                set(),
            )
            if notice_rows
            else '<p class="note">No notice in the window.</p>'
        )
        + "</div>",
        f'<p class="note">Produced by tollguard {e(__version__)} on '
        f"{e(_fmt(pack.generated_at))} JST{' for ' + e(carrier) if carrier else ''}. Audit log "
        f'{integrity}; newest entry hash <span class="mono">{e(pack.audit_head)}</span>. The '
        "CSV beside this file holds the same calls and events.</p>",
    ]
    title = f"Evidence pack · case {pack.case.id} · {pack.subscriber_id}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>国際通話不正利用 証拠資料 / Toll fraud evidence pack</h1>"
        f'<p class="meta">Case #{pack.case.id} · customer {e(pack.subscriber_id)} · for the '
        "police report (被害届) and the billing dispute</p>"
        + "".join(sections)
        + "</body></html>\n"
    )


@dataclass(frozen=True, slots=True)
class ExportedPack:
    """What :func:`export_case` wrote."""

    pack: EvidencePack
    html: str
    csv: str
    paths: tuple[Path, ...] = ()


def digest(text: str) -> str:
    """SHA-256 of a text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_export(
    store: Store,
    pack: EvidencePack,
    *,
    by: str,
    reason: str,
    files: dict[str, str],
    served: str = "files",
) -> AuditEntry:
    """The ``case.export`` audit entry: who produced the pack, why, and each file's SHA-256."""
    return store.append_audit(
        actor=by,
        action="case.export",
        subject=f"subscriber:{pack.subscriber_id}",
        reason=reason or f"evidence pack of case {pack.case.id}",
        at=pack.generated_at,
        evidence={
            "case_id": pack.case.id,
            "since": pack.since,
            "until": pack.until,
            "calls": len(pack.calls),
            "incident_calls": len(pack.flagged),
            "actions": len(pack.actions),
            "files": files,
            "served": served,
        },
    )


def export_case(
    store: Store,
    case_id: int,
    *,
    by: str,
    reason: str = "",
    out_dir: Path | None = None,
    carrier: str = "",
    served: str = "files",
    **options: Any,
) -> ExportedPack:
    """Collect, render (HTML and CSV), optionally write to ``out_dir``, and audit the export."""
    pack = collect_evidence(store, case_id, **options)
    html = render_html(pack, carrier=carrier)
    text = render_csv(pack)
    paths: list[Path] = []
    names = {
        f"evidence-case-{case_id}.html": html,
        f"evidence-case-{case_id}.csv": text,
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, content in names.items():
            path = out_dir / name
            path.write_text(content, encoding="utf-8")
            paths.append(path)
    record_export(
        store,
        pack,
        by=by,
        reason=reason,
        files={name: digest(content) for name, content in names.items()},
        served=served,
    )
    return ExportedPack(pack, html, text, tuple(paths))
