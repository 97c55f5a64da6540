"""Scoring a policy's replay output against the labels of a simulated data set.

:func:`score_policies` is a pure function of the truth and the outputs (the JSON-ready records the
engine's replay yields, see ``docs/backtest.md``); it does no I/O beyond loading the data directory
when given a path. Money is JPY as priced by a :class:`~tollguard.app.backtest.pricing.Rater`.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers

from tollguard.app.backtest.pricing import DOMESTIC_PREFIX, Rater, TariffRater
from tollguard.app.backtest.truth import CallRow, Incident, Truth, load_truth, parse_time

NO_CONTROL = "none"
"""Name of the baseline policy: no outputs at all, every call runs as recorded."""

STOPPING_ACTIONS = ("suspend_international", "deny_destination", "restrict_country", "block_ip")
"""Actions that stop an incident when they match its subscribers, destinations or source IPs."""

DEFAULT_GRACE = timedelta(hours=24)
"""How long after an incident's end an action still counts as aimed at it."""

Output = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StopAction:
    """The first action that stopped (part of) an incident."""

    time: datetime
    action: str
    target: str

    def describe(self) -> str:
        """``action target`` for tables."""
        return f"{self.action} {self.target}".strip()


@dataclass(slots=True)
class IncidentScore:
    """One incident under one policy."""

    incident_id: str
    kind: str
    subscriber_ids: tuple[str, ...]
    start: datetime
    end: datetime
    first_call: datetime | None
    calls: int
    loss_uncontrolled: float
    loss: float
    calls_denied: int
    calls_cut: int
    stop: StopAction | None

    @property
    def prevented_pct(self) -> float | None:
        """Share of the uncontrolled loss prevented, in %; ``None`` when nothing was at stake."""
        return _pct(self.loss_uncontrolled - self.loss, self.loss_uncontrolled)

    @property
    def time_to_stop_s(self) -> float | None:
        """Seconds from the first fraud call to the first stopping action (negative: before)."""
        if self.stop is None or self.first_call is None:
            return None
        return (self.stop.time - self.first_call).total_seconds()

    @property
    def time_from_start_s(self) -> float | None:
        """Seconds from the incident's labelled start to the first stopping action."""
        return None if self.stop is None else (self.stop.time - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Suspension:
    """A suspension of international calling of a customer not under attack at that time.

    ``restored`` is the first ``restore_international`` of the customer after it, or the
    suspension's ``until`` when earlier; ``None`` when neither.
    """

    subscriber_id: str
    time: datetime
    reason: str
    restored: datetime | None
    lookalike: bool


@dataclass(slots=True)
class LookalikeScore:
    """How a look-alike (legitimate but fraud-like) customer fared under one policy."""

    subscriber_id: str
    kind: str
    calls: int = 0
    international_calls: int = 0
    denied: int = 0
    cut: int = 0
    suspended: bool = False


@dataclass(slots=True)
class PolicyResult:
    """Every metric of one policy."""

    policy: str
    loss_uncontrolled: float
    loss: float
    incidents: list[IncidentScore]
    legit_suspended: list[Suspension]
    legit_calls: int
    legit_calls_denied: int
    legit_calls_cut: int
    legit_intl_attempts: int
    legit_intl_denied: int
    legit_intl_cut: int
    barred_intl_attempts: int
    barred_intl_denied: int
    alerts_total: int
    alerts_by_day: dict[str, int]
    alerts_by_detector: dict[str, int]
    alerts_by_severity: dict[str, int]
    days: float
    actions_by_kind: dict[str, int]
    lookalikes: list[LookalikeScore]
    loss_curve: list[tuple[datetime, float]]
    records: int
    calls_without_decision: int

    @property
    def loss_prevented(self) -> float:
        """JPY of fraud loss prevented."""
        return self.loss_uncontrolled - self.loss

    @property
    def prevented_pct(self) -> float | None:
        """Fraud loss prevented, in % of the loss without control."""
        return _pct(self.loss_prevented, self.loss_uncontrolled)

    @property
    def legit_intl_impacted(self) -> int:
        """Legitimate international call attempts denied or cut."""
        return self.legit_intl_denied + self.legit_intl_cut

    @property
    def legit_intl_impacted_pct(self) -> float | None:
        """Legitimate international call attempts denied or cut, in %."""
        return _pct(self.legit_intl_impacted, self.legit_intl_attempts)

    @property
    def legit_suspended_customers(self) -> list[str]:
        """Distinct legitimate customers suspended, sorted."""
        return sorted({s.subscriber_id for s in self.legit_suspended})

    @property
    def incidents_with_calls(self) -> list[IncidentScore]:
        """Incidents that placed at least one fraud call."""
        return [inc for inc in self.incidents if inc.first_call is not None]

    @property
    def incidents_stopped(self) -> int:
        """Incidents with calls that met a stopping action."""
        return sum(1 for inc in self.incidents_with_calls if inc.stop is not None)

    @property
    def median_time_to_stop_s(self) -> float | None:
        """Median seconds to the first stopping action over incidents with calls.

        An incident never stopped counts as infinitely late; ``None`` when the median is itself
        "never" or there is no incident with calls.
        """
        times = [
            inc.time_to_stop_s if inc.time_to_stop_s is not None else math.inf
            for inc in self.incidents_with_calls
        ]
        if not times:
            return None
        median = float(statistics.median(times))
        return None if math.isinf(median) else median

    @property
    def alerts_per_day(self) -> float:
        """Alerts per day of data (analyst workload)."""
        return self.alerts_total / self.days if self.days > 0 else float(self.alerts_total)

    @property
    def lookalike_calls_denied(self) -> int:
        """Calls of look-alike customers denied."""
        return sum(item.denied for item in self.lookalikes)

    @property
    def lookalike_calls_cut(self) -> int:
        """Calls of look-alike customers cut."""
        return sum(item.cut for item in self.lookalikes)


@dataclass(frozen=True, slots=True)
class CallSpan:
    """A fraud call as drawn on an incident timeline."""

    call_id: str
    start: datetime
    answer: datetime | None
    end: datetime


@dataclass(slots=True)
class DatasetInfo:
    """What was scored."""

    name: str
    subscribers: int
    calls: int
    fraud_calls: int
    incidents: int
    lookalikes: int
    period_start: datetime | None
    period_end: datetime | None
    days: float


@dataclass(slots=True)
class BacktestResult:
    """Policies scored side by side on one data set, plus what the report draws."""

    dataset: DatasetInfo
    policies: dict[str, PolicyResult]
    heatmap_calls: list[list[int]]
    heatmap_incidents: list[list[int]]
    incident_calls: dict[str, list[CallSpan]] = field(default_factory=dict)
    incident_starts: list[datetime] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready, deterministic summary (``summary.json``)."""
        return summary_dict(self)


def _pct(part: float, whole: float) -> float | None:
    return None if whole <= 0 else 100.0 * part / whole


def _norm_country(value: str) -> str:
    return value.strip().lstrip("+").upper()


def _norm_prefix(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    return "+" + digits if digits else ""


def _destination_keys(numbers: Iterable[str]) -> set[str]:
    """Region codes (``SL``) and country calling codes (``232``) of E.164 numbers."""
    keys: set[str] = set()
    for number in numbers:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            continue
        keys.add(str(parsed.country_code))
        region = phonenumbers.region_code_for_number(parsed)
        if region and region != "ZZ":
            keys.add(region.upper())
    return keys


class _IncidentMatcher:
    """Decides whether an action aims at an incident."""

    def __init__(self, incident: Incident, calls: list[CallRow], rater: Rater) -> None:
        self.subscribers = set(incident.subscriber_ids) | {c.subscriber_id for c in calls}
        self.ips = set(incident.source_ips) | {c.source_ip for c in calls if c.source_ip}
        self.numbers = sorted({n for c in calls if (n := rater.e164(c.callee)) is not None})
        self.countries = {_norm_country(c) for c in incident.countries} | _destination_keys(
            self.numbers
        )

    def _subscriber_ok(self, action: Output) -> bool:
        subscriber = action.get("subscriber_id")
        return not subscriber or str(subscriber) in self.subscribers

    def _country_ok(self, action: Output) -> bool:
        country = action.get("country")
        return bool(country) and _norm_country(str(country)) in self.countries

    def _prefix_ok(self, action: Output) -> bool:
        prefix = _norm_prefix(str(action.get("prefix") or ""))
        return bool(prefix) and any(n.startswith(prefix) for n in self.numbers)

    def target(self, action: Output) -> str | None:
        """What the action hit in this incident, or ``None`` when it does not aim at it."""
        kind = action.get("action")
        subscriber = str(action.get("subscriber_id") or "")
        if kind == "suspend_international":
            return subscriber if subscriber in self.subscribers else None
        if kind == "block_ip":
            ip = str(action.get("ip") or "")
            return ip if ip in self.ips else None
        if kind == "restrict_country":
            if self._subscriber_ok(action) and self._country_ok(action):
                return str(action.get("country"))
            return None
        if kind == "deny_destination":
            if not self._subscriber_ok(action):
                return None
            if self._prefix_ok(action):
                return str(action.get("prefix"))
            if self._country_ok(action):
                return str(action.get("country"))
            if not action.get("prefix") and not action.get("country") and subscriber:
                return subscriber
        return None


@dataclass(slots=True)
class _Observed:
    """What one policy's outputs said, collected in one pass."""

    denied: dict[str, datetime] = field(default_factory=dict)
    cut: dict[str, datetime] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)
    actions: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)
    alerts: list[tuple[datetime, str, str]] = field(default_factory=list)
    records: int = 0


def _observe(outputs: Iterable[Output]) -> _Observed:
    seen = _Observed()
    for record in outputs:
        seen.records += 1
        kind = record.get("kind")
        if kind not in ("call", "terminate", "action", "alert"):
            continue
        moment = parse_time(str(record["time"]))
        if kind == "call":
            call_id = str(record["call_id"])
            seen.decided.add(call_id)
            if record.get("decision") == "deny":
                seen.denied.setdefault(call_id, moment)
        elif kind == "terminate":
            call_id = str(record["call_id"])
            previous = seen.cut.get(call_id)
            seen.cut[call_id] = moment if previous is None else min(previous, moment)
        elif kind == "action":
            seen.actions.append((moment, len(seen.actions), dict(record)))
        else:
            seen.alerts.append(
                (moment, str(record.get("detector", "")), str(record.get("severity", "")))
            )
    seen.actions.sort(key=lambda item: (item[0], item[1]))
    return seen


class _Pricer:
    """Caches the E.164 form and the charge of fraud calls."""

    def __init__(self, rater: Rater) -> None:
        self.rater = rater
        self._e164: dict[str, str | None] = {}

    def e164(self, raw: str) -> str | None:
        if raw not in self._e164:
            self._e164[raw] = self.rater.e164(raw)
        return self._e164[raw]

    def international(self, raw: str) -> bool:
        # The Japanese national plan: "0" not followed by "0" or "10" stays in Japan.
        if raw.startswith(DOMESTIC_PREFIX) or (
            raw.startswith("0") and not raw.startswith(("00", "010"))
        ):
            return False
        number = self.e164(raw)
        return number is not None and not number.startswith(DOMESTIC_PREFIX)

    def charge(self, call: CallRow, seconds: float) -> float:
        number = self.e164(call.callee)
        if number is None or seconds <= 0:
            return 0.0
        return self.rater.charge(number, seconds)


def _period(truth: Truth) -> tuple[datetime | None, datetime | None, float]:
    starts = [c.start for c in truth.calls.values()]
    first = min(starts) if starts else None
    last = max((c.end for c in truth.calls.values()), default=None)
    parameters = truth.meta.get("parameters")
    meta_days = truth.meta.get("days")
    if meta_days is None and isinstance(parameters, dict):
        meta_days = parameters.get("days")
    if isinstance(meta_days, int | float) and not isinstance(meta_days, bool) and meta_days > 0:
        return first, last, float(meta_days)
    if first is None:
        return None, None, 1.0
    last_start = max(starts)
    return first, last, float((last_start.date() - first.date()).days + 1)


def _dates(first: datetime | None, days: float) -> list[date]:
    if first is None:
        return []
    return [first.date() + timedelta(days=i) for i in range(max(1, math.ceil(days)))]


def _heatmaps(truth: Truth) -> tuple[list[list[int]], list[list[int]]]:
    calls = [[0] * 24 for _ in range(7)]
    incidents = [[0] * 24 for _ in range(7)]
    for call_id in truth.fraud_calls:
        row = truth.calls.get(call_id)
        if row is not None:
            calls[row.start.weekday()][row.start.hour] += 1
    for inc in truth.incidents:
        incidents[inc.start.weekday()][inc.start.hour] += 1
    return calls, incidents


def _score_one(
    policy: str,
    truth: Truth,
    grouped: dict[str, list[CallRow]],
    matchers: dict[str, _IncidentMatcher],
    pricer: _Pricer,
    outputs: Iterable[Output],
    grace: timedelta,
    period: tuple[datetime | None, datetime | None, float],
) -> PolicyResult:
    seen = _observe(outputs)

    # Fraud loss, per call, with the time the money is spent for the cumulative curve.
    spend: list[tuple[datetime, float]] = []
    incidents: list[IncidentScore] = []
    total_full = 0.0
    total_loss = 0.0
    for inc in truth.incidents:
        rows = grouped.get(inc.incident_id, [])
        full = loss = 0.0
        denied = cut = 0
        stops: list[tuple[datetime, int, StopAction]] = []
        for row in rows:
            row_full = pricer.charge(row, row.billable_seconds)
            full += row_full
            if row.call_id in seen.denied:
                denied += 1
                moment = seen.denied[row.call_id]
                stops.append((moment, 0, StopAction(moment, "deny", row.call_id)))
                continue
            if row.call_id in seen.cut:
                cut += 1
                moment = seen.cut[row.call_id]
                stops.append((moment, 1, StopAction(moment, "terminate", row.call_id)))
                row_loss = pricer.charge(row, row.billable_until(moment))
                spend_at = min(moment, row.end)
            else:
                row_loss = row_full
                spend_at = row.end
            loss += row_loss
            if row_loss > 0:
                spend.append((spend_at, row_loss))
        matcher = matchers[inc.incident_id]
        window_start = inc.start if not rows else min(inc.start, rows[0].start)
        window_end = inc.end + grace
        for moment, order, action in seen.actions:
            if moment < window_start:
                continue
            if moment > window_end:
                break
            if action.get("action") not in STOPPING_ACTIONS:
                continue
            target = matcher.target(action)
            if target is not None:
                stops.append((moment, 2 + order, StopAction(moment, str(action["action"]), target)))
                break
        stop = min(stops, key=lambda item: (item[0], item[1]))[2] if stops else None
        total_full += full
        total_loss += loss
        incidents.append(
            IncidentScore(
                incident_id=inc.incident_id,
                kind=inc.kind,
                subscriber_ids=inc.subscriber_ids,
                start=inc.start,
                end=inc.end,
                first_call=rows[0].start if rows else None,
                calls=len(rows),
                loss_uncontrolled=full,
                loss=loss,
                calls_denied=denied,
                calls_cut=cut,
                stop=stop,
            )
        )
    # Fraud calls labelled with an incident id absent from incidents.csv still cost money.
    known = {inc.incident_id for inc in truth.incidents}
    for incident_id, rows in grouped.items():
        if incident_id in known:
            continue
        for row in rows:
            row_full = pricer.charge(row, row.billable_seconds)
            total_full += row_full
            if row.call_id in seen.denied:
                continue
            if row.call_id in seen.cut:
                moment = seen.cut[row.call_id]
                row_loss = pricer.charge(row, row.billable_until(moment))
                spend_at = min(moment, row.end)
            else:
                row_loss, spend_at = row_full, row.end
            total_loss += row_loss
            if row_loss > 0:
                spend.append((spend_at, row_loss))

    spend.sort(key=lambda item: item[0])
    curve: list[tuple[datetime, float]] = []
    running = 0.0
    for moment, amount in spend:
        running += amount
        curve.append((moment, running))

    # Legitimate customers: suspensions, calls denied or cut, look-alikes.
    lookalike_kind = {item.subscriber_id: item.kind for item in truth.lookalikes}
    under_attack: dict[str, list[tuple[datetime, datetime]]] = {}
    for inc in truth.incidents:
        for subscriber in matchers[inc.incident_id].subscribers:
            under_attack.setdefault(subscriber, []).append((inc.start, inc.end + grace))
    suspensions: list[Suspension] = []
    suspended_any: set[str] = set()
    listed: set[tuple[str, datetime]] = set()
    for index, (moment, _order, action) in enumerate(seen.actions):
        if action.get("action") != "suspend_international":
            continue
        subscriber = str(action.get("subscriber_id") or "")
        suspended_any.add(subscriber)
        if (subscriber, moment) in listed:
            continue
        listed.add((subscriber, moment))
        windows = under_attack.get(subscriber, [])
        if any(lo <= moment <= hi for lo, hi in windows):
            continue
        restored = next(
            (
                later
                for later, _o, other in seen.actions[index + 1 :]
                if other.get("action") == "restore_international"
                and str(other.get("subscriber_id") or "") == subscriber
            ),
            None,
        )
        until = action.get("until")
        if until:
            expiry = parse_time(str(until))
            restored = expiry if restored is None else min(restored, expiry)
        suspensions.append(
            Suspension(
                subscriber_id=subscriber,
                time=moment,
                reason=str(action.get("reason") or ""),
                restored=restored,
                lookalike=subscriber in lookalike_kind,
            )
        )

    looks = {
        sub: LookalikeScore(subscriber_id=sub, kind=kind) for sub, kind in lookalike_kind.items()
    }
    legit_calls = legit_denied = legit_cut = 0
    intl_attempts = intl_denied = intl_cut = 0
    barred_attempts = barred_denied = 0
    for call_id, row in truth.calls.items():
        if call_id in truth.fraud_calls:
            continue
        legit_calls += 1
        was_denied = call_id in seen.denied
        was_cut = not was_denied and call_id in seen.cut
        international = pricer.international(row.callee)
        if international and row.subscriber_id in truth.barred:
            # The customer asked for international calling to be barred: denying is service.
            barred_attempts += 1
            barred_denied += was_denied
            was_denied = False
        legit_denied += was_denied
        legit_cut += was_cut
        if international and row.subscriber_id not in truth.barred:
            intl_attempts += 1
            intl_denied += was_denied
            intl_cut += was_cut
        look = looks.get(row.subscriber_id)
        if look is not None:
            look.calls += 1
            look.international_calls += international
            look.denied += was_denied
            look.cut += was_cut
    for look in looks.values():
        look.suspended = look.subscriber_id in suspended_any

    first, _last, days = period
    by_day: Counter[str] = Counter({d.isoformat(): 0 for d in _dates(first, days)})
    for moment, _detector, _severity in seen.alerts:
        by_day[moment.date().isoformat()] += 1

    return PolicyResult(
        policy=policy,
        loss_uncontrolled=total_full,
        loss=total_loss,
        incidents=incidents,
        legit_suspended=suspensions,
        legit_calls=legit_calls,
        legit_calls_denied=legit_denied,
        legit_calls_cut=legit_cut,
        legit_intl_attempts=intl_attempts,
        legit_intl_denied=intl_denied,
        legit_intl_cut=intl_cut,
        barred_intl_attempts=barred_attempts,
        barred_intl_denied=barred_denied,
        alerts_total=len(seen.alerts),
        alerts_by_day=dict(sorted(by_day.items())),
        alerts_by_detector=dict(sorted(Counter(d for _t, d, _s in seen.alerts).items())),
        alerts_by_severity=dict(sorted(Counter(s for _t, _d, s in seen.alerts).items())),
        days=days,
        actions_by_kind=dict(
            sorted(Counter(str(a.get("action")) for _t, _o, a in seen.actions).items())
        ),
        lookalikes=[looks[sub] for sub in sorted(looks)],
        loss_curve=curve,
        records=seen.records,
        calls_without_decision=sum(1 for call_id in truth.calls if call_id not in seen.decided),
    )


def score_policies(
    data: Path | Truth,
    runs: Mapping[str, Iterable[Output]],
    *,
    rater: Rater | None = None,
    include_no_control: bool = True,
    grace: timedelta = DEFAULT_GRACE,
) -> BacktestResult:
    """Score several policies' replay outputs on one data set, side by side.

    ``runs`` maps a policy name to its outputs (consumed once). With ``include_no_control`` the
    baseline :data:`NO_CONTROL` (no outputs) comes first. ``rater`` defaults to
    :class:`~tollguard.app.backtest.pricing.TariffRater`.
    """
    truth = data if isinstance(data, Truth) else load_truth(data)
    pricer = _Pricer(rater if rater is not None else TariffRater())
    grouped = truth.incident_calls()
    matchers = {
        inc.incident_id: _IncidentMatcher(inc, grouped.get(inc.incident_id, []), pricer.rater)
        for inc in truth.incidents
    }
    period = _period(truth)
    ordered: list[tuple[str, Iterable[Output]]] = []
    if include_no_control and NO_CONTROL not in runs:
        ordered.append((NO_CONTROL, ()))
    ordered.extend(runs.items())
    policies = {
        name: _score_one(name, truth, grouped, matchers, pricer, outputs, grace, period)
        for name, outputs in ordered
    }
    heat_calls, heat_incidents = _heatmaps(truth)
    return BacktestResult(
        dataset=DatasetInfo(
            name=truth.name,
            subscribers=len(truth.subscribers),
            calls=len(truth.calls),
            fraud_calls=len(truth.fraud_calls),
            incidents=len(truth.incidents),
            lookalikes=len(truth.lookalikes),
            period_start=period[0],
            period_end=period[1],
            days=period[2],
        ),
        policies=policies,
        heatmap_calls=heat_calls,
        heatmap_incidents=heat_incidents,
        incident_starts=[inc.start for inc in truth.incidents],
        incident_calls={
            incident_id: [
                CallSpan(r.call_id, r.start, r.answer if r.answered else None, r.end) for r in rows
            ]
            for incident_id, rows in grouped.items()
        },
    )


def score(
    data: Path | Truth,
    outputs: Iterable[Output],
    *,
    policy: str = "tollguard",
    rater: Rater | None = None,
    grace: timedelta = DEFAULT_GRACE,
) -> BacktestResult:
    """Score one policy's replay outputs against the labels, next to the no-control baseline."""
    return score_policies(data, {policy: outputs}, rater=rater, grace=grace)


def _money(value: float) -> float:
    return round(value, 2)


def _maybe(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _policy_dict(result: PolicyResult) -> dict[str, Any]:
    return {
        "fraud_loss_uncontrolled_jpy": _money(result.loss_uncontrolled),
        "fraud_loss_jpy": _money(result.loss),
        "fraud_loss_prevented_jpy": _money(result.loss_prevented),
        "fraud_loss_prevented_pct": _maybe(result.prevented_pct, 3),
        "incidents_with_calls": len(result.incidents_with_calls),
        "incidents_stopped": result.incidents_stopped,
        "median_time_to_stop_s": _maybe(result.median_time_to_stop_s, 1),
        "legit_customers_suspended": len(result.legit_suspended_customers),
        "legit_customers_suspended_ids": result.legit_suspended_customers,
        "legit_suspensions": [
            {
                "subscriber_id": s.subscriber_id,
                "time": _iso(s.time),
                "reason": s.reason,
                "restored": _iso(s.restored),
                "lookalike": s.lookalike,
            }
            for s in result.legit_suspended
        ],
        "legit_calls": result.legit_calls,
        "legit_calls_denied": result.legit_calls_denied,
        "legit_calls_cut": result.legit_calls_cut,
        "legit_intl_attempts": result.legit_intl_attempts,
        "legit_intl_denied": result.legit_intl_denied,
        "legit_intl_cut": result.legit_intl_cut,
        "legit_intl_denied_or_cut": result.legit_intl_impacted,
        "legit_intl_denied_or_cut_pct": _maybe(result.legit_intl_impacted_pct, 4),
        "barred_intl_attempts": result.barred_intl_attempts,
        "barred_intl_denied": result.barred_intl_denied,
        "alerts_total": result.alerts_total,
        "alerts_per_day": round(result.alerts_per_day, 3),
        "alerts_by_day": result.alerts_by_day,
        "alerts_by_detector": result.alerts_by_detector,
        "alerts_by_severity": result.alerts_by_severity,
        "actions_by_kind": result.actions_by_kind,
        "lookalike_calls_denied": result.lookalike_calls_denied,
        "lookalike_calls_cut": result.lookalike_calls_cut,
        "lookalikes": [
            {
                "subscriber_id": item.subscriber_id,
                "kind": item.kind,
                "calls": item.calls,
                "international_calls": item.international_calls,
                "denied": item.denied,
                "cut": item.cut,
                "suspended": item.suspended,
            }
            for item in result.lookalikes
        ],
        "incidents": [
            {
                "incident_id": inc.incident_id,
                "kind": inc.kind,
                "subscriber_ids": list(inc.subscriber_ids),
                "first_call": _iso(inc.first_call),
                "calls": inc.calls,
                "calls_denied": inc.calls_denied,
                "calls_cut": inc.calls_cut,
                "loss_uncontrolled_jpy": _money(inc.loss_uncontrolled),
                "loss_jpy": _money(inc.loss),
                "prevented_pct": _maybe(inc.prevented_pct, 3),
                "time_to_stop_s": _maybe(inc.time_to_stop_s, 1),
                "time_from_incident_start_s": _maybe(inc.time_from_start_s, 1),
                "stop_action": None if inc.stop is None else inc.stop.action,
                "stop_target": None if inc.stop is None else inc.stop.target,
                "stop_time": None if inc.stop is None else _iso(inc.stop.time),
            }
            for inc in result.incidents
        ],
        "records": result.records,
        "calls_without_decision": result.calls_without_decision,
    }


def summary_dict(result: BacktestResult) -> dict[str, Any]:
    """The JSON-ready summary of a backtest (no timestamps of its own: deterministic)."""
    info = result.dataset
    return {
        "dataset": {
            "name": info.name,
            "subscribers": info.subscribers,
            "calls": info.calls,
            "fraud_calls": info.fraud_calls,
            "incidents": info.incidents,
            "lookalikes": info.lookalikes,
            "period_start": _iso(info.period_start),
            "period_end": _iso(info.period_end),
            "days": info.days,
        },
        "policy_order": list(result.policies),
        "policies": {name: _policy_dict(res) for name, res in result.policies.items()},
        "heatmap_fraud_calls_weekday_hour": result.heatmap_calls,
        "heatmap_incident_starts_weekday_hour": result.heatmap_incidents,
    }
