"""What the console's and the portal's pages show, gathered from the live engine and the store.

Functions named ``engine_*`` read the live engine and must run on the event loop (which owns
it); the others read the store and may run in the thread pool. None of them changes anything.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tollguard.adapters.store import AuditEntry, Store
from tollguard.adapters.store.models import RatedCdr, StoredAlert, StoredNotification
from tollguard.app.service.live import CaseView, LiveEngine
from tollguard.domain.calendar import TIME_BUCKETS
from tollguard.domain.controls import Control, ControlKind

HOUR = 3600.0
DAY = 86400.0
CHART_HOURS = 48
#: Alerts looked at for the heat-map and the loss figures (newest first).
ALERT_SCAN = 20_000


def utc(t: float) -> datetime:
    """POSIX seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(t, UTC)


def alert_cost(evidence: dict[str, Any]) -> float:
    """The money an alert is about: a denied call's expected loss, or the charges metered."""
    for key in ("expected_loss_jpy", "today_jpy", "week_jpy"):
        value = evidence.get(key)
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return 0.0


def alert_summary(evidence: dict[str, Any]) -> dict[str, Any]:
    """Destination, source address and country of an alert, where it says them."""
    facts = evidence.get("facts") if isinstance(evidence.get("facts"), dict) else {}
    dest = facts.get("destination_cost", {}) if isinstance(facts, dict) else {}
    src = facts.get("source_ip", {}) if isinstance(facts, dict) else {}
    return {
        "country": dest.get("country") or evidence.get("country"),
        "rate": dest.get("rate_per_min"),
        "restricted": dest.get("restricted_list"),
        "ip": src.get("ip") or evidence.get("ip") or evidence.get("source_ip"),
        "ip_country": src.get("ip_country") or evidence.get("ip_country"),
        "time_bucket": (facts.get("calling_hours") or {}).get("time")
        if isinstance(facts, dict)
        else None,
        "probability": evidence.get("fraud_probability"),
    }


# -- a customer, from the engine ------------------------------------------------------------------
@dataclass(slots=True)
class LiveCall:
    """A call of the customer in progress."""

    call_id: str
    callee: str
    country: str | None
    source_ip: str | None
    ip_country: str | None
    started: float
    exposure: float
    rate: float


@dataclass(slots=True)
class CustomerLive:
    """What the engine knows of one customer now."""

    subscriber_id: str
    segment: str
    service: str
    numbers: tuple[str, ...]
    email: str
    status: str
    suspension: Control | None
    controls: list[Control]
    case: CaseView | None
    case_numbers: int = 0
    attempts: list[tuple[float, str, str]] = field(default_factory=list)
    usual_ips: list[tuple[str, int, str | None]] = field(default_factory=list)
    usual_countries: dict[str, int] = field(default_factory=dict)
    hours_usual: list[float] = field(default_factory=lambda: [0.0] * TIME_BUCKETS)
    hour_starts: list[float] = field(default_factory=list)
    hour_usual: list[float] = field(default_factory=list)
    hour_threshold: list[float] = field(default_factory=list)
    meter_hour: float = 0.0
    meter_today: float = 0.0
    day_threshold: float = 0.0
    baseline_days: int = 0
    live_calls: list[LiveCall] = field(default_factory=list)
    now: float = 0.0


def engine_status(live: LiveEngine, subscriber_id: str) -> tuple[str, Control | None]:
    """``active``, ``suspended`` or ``barred_by_customer``, and the suspension in force."""
    ctl = live.engine.controls
    suspension = ctl.suspended(subscriber_id)
    if suspension is not None and not suspension.active(live.now()):
        suspension = None
    if ctl.customer_barred(subscriber_id):
        return "barred_by_customer", suspension
    if suspension is not None:
        return "suspended", suspension
    return "active", None


def engine_customer(live: LiveEngine, subscriber_id: str) -> CustomerLive | None:
    """The engine's view of a customer (``None`` if unknown). Call on the event loop."""
    engine = live.engine
    sub = engine.subscribers.get(subscriber_id)
    if sub is None:
        return None
    now = live.now()
    status, suspension = engine_status(live, subscriber_id)
    controls = [
        c
        for c in live.controls()
        if c.subscriber_id == subscriber_id
        or (c.kind is ControlKind.SUSPENSION and c.subject == subscriber_id)
    ]
    case_view = next((v for v in live.cases() if v.subscriber_id == subscriber_id), None)
    out = CustomerLive(
        sub.subscriber_id,
        sub.segment.value,
        sub.service.value,
        tuple(sub.numbers),
        sub.email,
        status,
        suspension,
        controls,
        case_view,
        now=now,
    )
    policy: Any = engine.policy
    case = getattr(policy, "cases", {}).get(subscriber_id)
    if case is not None:
        out.case_numbers = len(case.numbers)
        out.attempts = [(a.time, a.channel, a.outcome) for a in case.attempts]
    cust = getattr(policy, "customers", {}).get(subscriber_id)
    if cust is not None:
        if cust.ips is not None:
            out.usual_ips = sorted(
                ((ip, n, engine.ips.lookup(ip).country) for ip, n in cust.ips.addresses.items()),
                key=lambda r: (-r[1], r[0]),
            )
            out.usual_countries = dict(cust.ips.countries)
        total = sum(cust.hours.counts)
        if total:
            out.hours_usual = [c / total for c in cust.hours.counts]
    _meter_view(live, out, cust)
    for call in engine.customer_calls(subscriber_id):
        ctx = call.ctx
        out.live_calls.append(
            LiveCall(
                ctx.call_id,
                ctx.e164 or ctx.callee,
                ctx.region,
                ctx.source_ip,
                ctx.ip_country,
                ctx.time,
                call.exposure(now),
                ctx.rate_per_min,
            )
        )
    return out


def _meter_view(live: LiveEngine, out: CustomerLive, cust: Any) -> None:
    """Hourly usual level and alert threshold for the chart, and today's metered charges."""
    engine = live.engine
    m = engine.config.metering
    policy: Any = engine.policy
    new_ref = float(getattr(policy, "_new_customer_ref", 0.0))
    meter = None if cust is None else cust.meter
    first = math.floor(out.now / HOUR) * HOUR - (CHART_HOURS - 1) * HOUR
    out.hour_starts = [first + i * HOUR for i in range(CHART_HOURS)]
    for start in out.hour_starts:
        bucket = engine.calendar.bucket(start)
        if meter is None:
            out.hour_usual.append(0.0)
            out.hour_threshold.append(max(m.hourly_floor_jpy, new_ref))
            continue
        out.hour_usual.append(max(0.0, math.expm1(float(meter.hour_means[bucket]))))
        out.hour_threshold.append(
            meter.threshold_hour(bucket, m.k_sigma, m.min_log_sd, m.hourly_floor_jpy, new_ref)
        )
    if meter is not None:
        today = engine.calendar.local_day(out.now)
        this_hour = int(out.now // HOUR)
        out.meter_today = meter.day_total if meter.day == today else 0.0
        out.meter_hour = meter.hour_total if meter.hour == this_hour else 0.0
        out.day_threshold = meter.threshold_day(
            m.k_sigma, m.min_log_sd, m.daily_floor_jpy, 2.0 * new_ref
        )
        out.baseline_days = meter.days
    else:
        out.day_threshold = max(m.daily_floor_jpy, 2.0 * new_ref)


# -- a customer, from the store -------------------------------------------------------------------
@dataclass(slots=True)
class CustomerStored:
    """What the store holds about one customer for the case page."""

    alerts: list[StoredAlert]
    cdrs: list[RatedCdr]
    notifications: list[StoredNotification]
    audit: list[AuditEntry]
    contacts: list[Any]
    nearby_alerts: list[StoredAlert]


def store_customer(
    store: Store, subscriber_id: str, *, now: float, case_id: int | None, around: float
) -> CustomerStored:
    """Alerts, recent calls, notices, audit entries and contact attempts of a customer, and other
    customers' alerts within an hour of ``around`` (when the case opened)."""
    alerts = store.list_alerts(subscriber_id=subscriber_id, limit=200)
    since = utc(min(now - CHART_HOURS * HOUR, around - DAY))
    cdrs = store.list_cdrs(subscriber_id=subscriber_id, since=since)
    notices = store.list_notifications(subscriber_id=subscriber_id, limit=20)
    audit = [
        e
        for e in store.search_audit(text=subscriber_id, limit=100)
        if subscriber_id in e.subject or e.evidence.get("subscriber_id") == subscriber_id
    ]
    contacts = store.list_contact_attempts(case_id) if case_id is not None else []
    window = (utc(around - HOUR), utc(around + HOUR))
    nearby = [
        a
        for a in store.list_alerts(limit=2000)
        if a.subscriber_id not in (None, subscriber_id) and window[0] <= a.time <= window[1]
    ]
    return CustomerStored(alerts, cdrs, notices, audit, contacts, nearby)


# -- the case page's evidence ---------------------------------------------------------------------
def hourly_charges(c: CustomerLive, stored: CustomerStored, home: str) -> list[float]:
    """International charges per hour of the chart: stored calls by start, and for the current
    hour at least what the meter counted, plus the cost accruing on calls in progress."""
    first = c.hour_starts[0] if c.hour_starts else c.now
    values = [0.0] * len(c.hour_starts)
    for r in stored.cdrs:
        if not r.country or r.country == home or r.charge_jpy <= 0:
            continue
        i = int((r.cdr.start.timestamp() - first) // HOUR)
        if 0 <= i < len(values):
            values[i] += r.charge_jpy
    if values:
        values[-1] = max(values[-1], c.meter_hour) + sum(x.exposure for x in c.live_calls)
    return values


def destinations(c: CustomerLive, stored: CustomerStored, home: str) -> list[dict[str, Any]]:
    """Destinations of the customer's recent international calls and risky attempts: calls
    made, attempts denied, charges and the expected loss of the denied ones, dearest first."""
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"calls": 0, "minutes": 0.0, "charge": 0.0, "denied": 0, "expected": 0.0}
    )
    for r in stored.cdrs:
        if r.country and r.country != home:
            row = rows[r.country]
            row["calls"] += 1
            row["minutes"] += r.cdr.billable_seconds / 60.0
            row["charge"] += r.charge_jpy
    for a in stored.alerts:
        if a.detector != "call_risk":
            continue
        s = alert_summary(a.evidence)
        key = str(s["country"] or "?")
        rows[key]["denied"] += 1
        rows[key]["expected"] += alert_cost(a.evidence)
        rows[key]["rate"] = s["rate"]
        rows[key]["restricted"] = s["restricted"]
    for call in c.live_calls:
        key = call.country or "?"
        rows[key]["charge"] += call.exposure
        rows[key]["live"] = rows[key].get("live", 0) + 1
        rows[key]["rate"] = call.rate
    out = [{"country": k, **v} for k, v in rows.items()]
    return sorted(out, key=lambda r: (-(r["charge"] + r["expected"]), r["country"]))


def source_addresses(c: CustomerLive, stored: CustomerStored) -> list[dict[str, Any]]:
    """Addresses seen in the case (alerts, recent calls, calls in progress) with their country,
    and whether the customer has used each before."""
    usual = {ip for ip, _, _ in c.usual_ips}
    seen: dict[str, dict[str, Any]] = {}

    def add(ip: str | None, country: str | None, when: float) -> None:
        if not ip:
            return
        row = seen.setdefault(ip, {"ip": ip, "country": country, "count": 0, "last": when})
        row["count"] += 1
        row["last"] = max(row["last"], when)
        row["country"] = row["country"] or country

    for a in stored.alerts:
        s = alert_summary(a.evidence)
        add(s["ip"], s["ip_country"], a.time.timestamp())
    for r in stored.cdrs:
        add(r.cdr.source_ip, None, r.cdr.start.timestamp())
    for call in c.live_calls:
        add(call.source_ip, call.ip_country, call.started)
    rows = sorted(seen.values(), key=lambda r: -r["last"])
    for row in rows:
        row["usual"] = row["ip"] in usual
        row["usual_country"] = row["country"] in c.usual_countries if row["country"] else None
    return rows


def case_hours(stored: CustomerStored) -> list[float]:
    """Shares of the case's risky attempts by time-of-week bucket (from the alerts)."""
    from tollguard.domain.calendar import bucket_label

    labels = {bucket_label(b): b for b in range(TIME_BUCKETS)}
    counts = [0] * TIME_BUCKETS
    for a in stored.alerts:
        label = alert_summary(a.evidence)["time_bucket"]
        if label in labels:
            counts[labels[label]] += 1
    total = sum(counts)
    return [n / total for n in counts] if total else [0.0] * TIME_BUCKETS


def related_customers(
    subscriber_id: str, stored: CustomerStored, cases: list[CaseView], around: float
) -> list[dict[str, Any]]:
    """Other customers hit at the same time: alerts within an hour, cases opened within two,
    with what they share with this customer (addresses, destinations)."""
    mine_ips = {alert_summary(a.evidence)["ip"] for a in stored.alerts} - {None}
    mine_dest = {alert_summary(a.evidence)["country"] for a in stored.alerts} - {None}
    rows: dict[str, dict[str, Any]] = {}
    for a in stored.nearby_alerts:
        sid = a.subscriber_id or ""
        row = rows.setdefault(
            sid,
            {"subscriber_id": sid, "alerts": 0, "shared_ips": set(), "shared_dest": set()},
        )
        row["alerts"] += 1
        s = alert_summary(a.evidence)
        if s["ip"] in mine_ips:
            row["shared_ips"].add(s["ip"])
        if s["country"] in mine_dest:
            row["shared_dest"].add(s["country"])
    for v in cases:
        if v.subscriber_id != subscriber_id and abs(v.opened_at - around) <= 2 * HOUR:
            row = rows.setdefault(
                v.subscriber_id,
                {
                    "subscriber_id": v.subscriber_id,
                    "alerts": 0,
                    "shared_ips": set(),
                    "shared_dest": set(),
                },
            )
            row["case"] = v
            row["shared_dest"] |= set(v.countries) & mine_dest
    out = list(rows.values())
    for row in out:
        row["shared_ips"] = sorted(row["shared_ips"])
        row["shared_dest"] = sorted(row["shared_dest"])
    return sorted(
        out, key=lambda r: (-len(r["shared_ips"]) - len(r["shared_dest"]), r["subscriber_id"])
    )


# -- the dashboard -------------------------------------------------------------------------------
def engine_cases(live: LiveEngine) -> list[dict[str, Any]]:
    """Open cases with what each costs: the larger of the expected loss of the denied call
    that opened it and the charges metered today, plus the cost accruing on calls in progress."""
    now = live.now()
    policy: Any = live.engine.policy
    customers = getattr(policy, "customers", {})
    rows = []
    for v in live.cases():
        cust = customers.get(v.subscriber_id)
        today = 0.0
        meter = None if cust is None else cust.meter
        if meter is not None and meter.day == live.engine.calendar.local_day(now):
            today = meter.day_total
        exposure = sum(c.exposure(now) for c in live.engine.customer_calls(v.subscriber_id))
        cost = max(alert_cost(v.evidence), today) + exposure
        status, _ = engine_status(live, v.subscriber_id)
        rows.append({"view": v, "cost": cost, "exposure": exposure, "status": status})
    return rows


def sort_cases(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Costliest first (then newest), or newest first (then costliest)."""
    if key == "time":
        return sorted(rows, key=lambda r: (-r["view"].opened_at, -r["cost"]))
    return sorted(rows, key=lambda r: (-r["cost"], -r["view"].opened_at))


def alert_rows(alerts: list[StoredAlert], key: str) -> list[dict[str, Any]]:
    """Alerts with their cost and summary, newest first or costliest first."""
    rows = [
        {"alert": a, "cost": alert_cost(a.evidence), **alert_summary(a.evidence)} for a in alerts
    ]
    if key == "cost":
        rows.sort(key=lambda r: (-r["cost"], -r["alert"].time.timestamp()))
    return rows


# -- insights -------------------------------------------------------------------------------------
@dataclass(slots=True)
class Insights:
    """The attack heat-map and the loss figures over a period."""

    days: int
    heat: list[list[int]]
    alerts: int
    denied_calls: int
    loss_prevented: float
    calls_cut: int
    suspensions: int
    destination_denials: int
    ip_blocks: int
    by_day: list[tuple[str, float, int]]


def insights(store: Store, *, now: float, days: int) -> Insights:
    """Alerts of the last ``days`` by weekday and hour (Japan time), the expected loss of the
    calls denied for risk (what tollguard prevented, by its own estimate), and the actions."""
    from tollguard.app.console.i18n import JST

    since = utc(now - days * DAY)
    heat = [[0] * 24 for _ in range(7)]
    denied = 0
    loss = 0.0
    per_day: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    alerts = [a for a in store.list_alerts(limit=ALERT_SCAN) if a.time >= since]
    for a in alerts:
        local = a.time.astimezone(JST)
        heat[local.weekday()][local.hour] += 1
        if a.detector == "call_risk":
            denied += 1
            cost = alert_cost(a.evidence)
            loss += cost
            day = local.strftime("%m-%d")
            per_day[day][0] += cost
            per_day[day][1] += 1
    actions = Counter(
        e.action for e in store.search_audit(action="c", since=since, limit=ALERT_SCAN)
    )
    creates = Counter(
        e.subject.split(":", 1)[0]
        for e in store.search_audit(action="control.create", since=since, limit=ALERT_SCAN)
    )
    by_day = [(d, v[0], int(v[1])) for d, v in sorted(per_day.items())]
    return Insights(
        days,
        heat,
        len(alerts),
        denied,
        loss,
        actions.get("call.terminate", 0),
        creates.get("suspension", 0),
        creates.get("destination_denial", 0),
        creates.get("ip_block", 0),
        by_day,
    )


# -- the portal -----------------------------------------------------------------------------------
def usage(store: Store, subscriber_id: str, *, now: float, days: int, home: str) -> dict[str, Any]:
    """A customer's international calls of the last ``days``: per day and per destination."""
    rows = [
        r
        for r in store.list_cdrs(subscriber_id=subscriber_id, since=utc(now - days * DAY))
        if r.country and r.country != home
    ]
    from tollguard.app.console.i18n import JST

    per_day: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    per_dest: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for r in rows:
        minutes = r.cdr.billable_seconds / 60.0
        for table, key in (
            (per_day, r.cdr.start.astimezone(JST).strftime("%Y-%m-%d")),
            (per_dest, r.country or "?"),
        ):
            table[key][0] += 1
            table[key][1] += minutes
            table[key][2] += r.charge_jpy
    return {
        "calls": len(rows),
        "charge": sum(r.charge_jpy for r in rows),
        "days": [(k, int(v[0]), v[1], v[2]) for k, v in sorted(per_day.items(), reverse=True)],
        "destinations": sorted(
            ((k, int(v[0]), v[1], v[2]) for k, v in per_dest.items()), key=lambda r: -r[3]
        ),
        "recent": rows[-20:][::-1],
    }


def restricted_with_traffic(
    store: Store, entries: list[dict[str, Any]], *, now: float, days: int
) -> list[dict[str, Any]]:
    """Each restricted-list entry with the stored calls and charges to it over ``days``."""
    traffic = store.destination_traffic(
        since=utc(now - days * DAY),
        until=utc(now + 1),
        countries=[e["value"] for e in entries if e["kind"] == "country"],
        prefixes=[e["value"] for e in entries if e["kind"] == "range"],
    )
    for e in entries:
        calls, charge = traffic.get(f"{e['kind']}:{e['value']}", (0, 0.0))
        e["calls"], e["charge"] = calls, charge
    return entries


def since_hours(now: float, hours: float) -> datetime:
    """The time ``hours`` before ``now``."""
    return utc(now) - timedelta(hours=hours)
