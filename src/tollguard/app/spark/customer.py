"""The per-key work of the Spark job, in plain Python (no Spark import: tested without it).

A **customer key** (``c:<subscriber id>``) runs the embedded :class:`~tollguard.domain.engine.
Engine` restricted to one customer: its state between micro-batches is that engine's
:meth:`~tollguard.domain.engine.Engine.snapshot` (the same pickle the embedded engine snapshots
with), plus the answers and ends of its calls not yet due. Its CDRs become events exactly as in
:func:`tollguard.app.replay.run_outputs` (the same merge, restricted to the customer: the
restriction of the replay's order), and events are processed only up to the watermark, so that a
call's end never overtakes a later call's start of the same customer.

A **source-address key** (``i:<address>``) counts the address's SIP failures in the flood
detector's trailing window (the embedded engine's :class:`SipAuthFlood`, state dropped once the
address is idle for a window) and passes on the floods and brute-force successes it finds; the
carrier decides what to do about them.

What a customer key cannot see (other customers) comes from the :class:`Context` that the driver
publishes after each micro-batch (:mod:`tollguard.app.spark.carrier`): the carrier's population
baseline, the carrier-wide controls in force, the cross-customer windows the per-call evidence
reads, the addresses that failed enough to make a success a brute force, and notices of brute
forces found by the carrier. ``docs/scale-out.md`` lists each approximation and its bound.
"""

from __future__ import annotations

import heapq
import math
import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tollguard.domain.config import EngineConfig
from tollguard.domain.controls import Control, ControlKind
from tollguard.domain.detectors.base import CallContext
from tollguard.domain.detectors.country_burst import CountryBurst
from tollguard.domain.detectors.population import PopulationBaseline
from tollguard.domain.detectors.range_burst import RangeBurst
from tollguard.domain.detectors.shared_source_ip import SharedSourceIp
from tollguard.domain.detectors.sip_auth_flood import SipAuthFlood, _Source
from tollguard.domain.engine import Engine
from tollguard.domain.events import (
    Action,
    Alert,
    CallAnswered,
    CallEnded,
    CallStarted,
    Event,
    Output,
    SipEvent,
    Terminate,
)
from tollguard.domain.policy import TollguardPolicy, destination_key
from tollguard.domain.records import Service, SipEventKind, Subscriber

#: Controls that apply to every customer: the carrier's, put in force by the driver.
CARRIER_KINDS = (ControlKind.COUNTRY_RESTRICTION, ControlKind.IP_BLOCK)

#: Output row kinds of the per-key function (column ``kind``).
OUT = "out"  # an engine output (Decision excluded): Action, Alert or Terminate
OBS = "obs"  # an international attempt as the carrier sees it: (CallContext, novel range?)
POP = "pop"  # the customer's additions to the population baseline in this micro-batch
IPS = "ips"  # the customer's known source addresses (when they changed)
SIP = "sip"  # a SIP event the flood detector found something in: (event, evidence)
WIN = "win"  # Spark's windowed aggregation: a customer seen in a cross-customer window
FAILS = "fails"  # an address's SIP failures so far, once enough for a brute force (0: forgotten)

#: The cross-customer windows Spark counts (event-time windowed aggregation): detector names,
#: the first part of a window row's key ``w:<detector>:<subject>``.
COUNTRY_WINDOW = "country_burst"  # subject: the called country (its code only)
ADDRESS_WINDOW = "shared_source_ip"  # subject: the public source address of an IP line

_SIP_KINDS = {k.value: k for k in SipEventKind}
_RANK_SIP, _RANK_ANSWER, _RANK_END = 1, 2, 3


def is_carrier_control(kind: ControlKind, subscriber_id: str | None) -> bool:
    """Whether a control is the carrier's (all customers) rather than one customer's."""
    return kind in CARRIER_KINDS or (
        kind is ControlKind.DESTINATION_DENIAL and subscriber_id is None
    )


@dataclass(slots=True)
class BruteforceNotice:
    """The carrier found that ``subscriber_id``'s SIP credential was brute-forced from ``ip``."""

    ip: str
    subscriber_id: str
    time: float
    facts: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, float]:
        """Identity (a customer applies each notice once)."""
        return (self.ip, self.subscriber_id, self.time)


@dataclass(slots=True)
class Context:
    """What the driver tells every key before a micro-batch (see the module)."""

    version: int = 0
    population: bytes = b""
    controls: list[Control] = field(default_factory=list)
    shared_ip: bytes = b""
    country_burst: bytes = b""
    range_burst: bytes = b""
    #: country -> the last time one of its ranges was found pumped across customers
    range_findings: dict[str, float] = field(default_factory=dict)
    #: address -> its SIP failures so far (only addresses with at least ``min_failures``)
    flagged: dict[str, int] = field(default_factory=dict)
    notices: dict[str, list[BruteforceNotice]] = field(default_factory=dict)
    #: addresses blocked for being shared by customers -> those customers (cases mark it)
    shared_blocks: dict[str, list[str]] = field(default_factory=dict)


def write_context(directory: Path, context: Context) -> None:
    """Publish a context atomically (``CURRENT`` names the newest file)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"context-{context.version:08d}.pkl"
    tmp = directory / (name + ".tmp")
    tmp.write_bytes(pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, directory / name)
    pointer = directory / "CURRENT.tmp"
    pointer.write_text(name)
    os.replace(pointer, directory / "CURRENT")
    for old in directory.glob("context-*.pkl"):
        if old.name < name and old.name != name:
            old.unlink(missing_ok=True)


def read_context(directory: Path) -> Context:
    """The newest published context (an empty one before the first)."""
    try:
        name = (directory / "CURRENT").read_text().strip()
        blob = (directory / name).read_bytes()
    except FileNotFoundError:
        return Context()
    context = pickle.loads(blob)
    assert isinstance(context, Context)
    return context


@dataclass(slots=True)
class Setup:
    """What every key needs and never changes while the job runs (written once by the driver)."""

    config: EngineConfig
    subscribers: dict[str, Subscriber]
    #: SIP username (id, E.164 with and without ``+``, national) -> subscriber id
    usernames: dict[str, str]


def write_setup(directory: Path, setup: Setup) -> None:
    """Write the job's setup beside its contexts."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / "setup.pkl.tmp"
    tmp.write_bytes(pickle.dumps(setup, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, directory / "setup.pkl")


def make_setup(subscribers: Iterable[Subscriber], config: EngineConfig | None = None) -> Setup:
    """The setup of a carrier: its subscribers and SIP usernames as the engine maps them."""
    cfg = config or EngineConfig()
    subs = list(subscribers)
    engine = Engine(subs, cfg)
    return Setup(cfg, {s.subscriber_id: s for s in subs}, dict(engine.usernames))


class _ObservedPolicy(TollguardPolicy):
    """The tollguard policy of one customer's engine, recording what the carrier must see.

    Cross-customer *decisions* (country restriction, range denial, shared-address block) are the
    carrier's: here the cross-customer windows are only learnt and read as evidence. The class is
    swapped in after a restore and out before a snapshot, so the state stays a plain snapshot.
    """

    observed: list[tuple[CallContext, bool]]

    def observe_attempt(self, ctx: CallContext, out: list[Output]) -> None:
        cust = self.customers.get(ctx.subscriber_id)
        novel = not (cust is not None and cust.novelty and cust.novelty.knows(destination_key(ctx)))
        self.observed.append((ctx, novel))
        super().observe_attempt(ctx, out)

    def _check_country_burst(self, ctx: CallContext, out: list[Output]) -> None:
        return None

    def _check_shared_ip(self, ctx: CallContext, out: list[Output]) -> None:
        return None

    def _deny_range(self, ctx: CallContext, prefix: str, n: int, out: list[Output]) -> None:
        return None


@dataclass(slots=True)
class _KeyState:
    """A customer key's state between micro-batches."""

    snapshot: bytes
    pending: list[tuple[float, int, int, Event]]
    seq: int
    applied: set[tuple[str, str, float]]
    ips: frozenset[str]
    controls_seen: set[tuple[str, str, float]]


class CustomerRunner:
    """Runs customer keys and address keys in one Python worker (one engine shell, reused)."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.shell = Engine([], setup.config)
        self.empty = self.shell.snapshot()  # a new customer's engine starts from this
        self._context_version = -1
        self._context = Context()
        self._population: PopulationBaseline | None = None
        self._windows: tuple[bytes, bytes, bytes] = (b"", b"", b"")

    # -- context ------------------------------------------------------------------------------
    def use_context(self, context: Context) -> None:
        """Make ``context`` the one keys see from now on."""
        if context.version != self._context_version:
            self._context = context
            self._context_version = context.version
            self._windows = (context.shared_ip, context.country_burst, context.range_burst)

    # -- customer keys ------------------------------------------------------------------------
    def run_customer(
        self,
        sid: str,
        state: bytes | None,
        calls: list[tuple[str, str, float, float | None, float, str | None]],
        sips: list[SipEvent],
        watermark: float,
    ) -> tuple[bytes, list[tuple[str, float, Any]], float | None]:
        """One micro-batch of one customer.

        ``calls`` are ``(call_id, callee, start, answer, end, source_ip)`` in start order (ties
        by call id), ``sips`` the customer's SIP registrations and successes in time order, and
        ``watermark`` the time before which every event of every customer has arrived. Returns
        the new state, the output rows ``(kind, time, payload)`` and when the key must run again
        without new data (``None``: not before its next data).
        """
        engine = self.shell
        ks = self._load(sid, state)
        policy = engine.policy
        assert isinstance(policy, TollguardPolicy)
        policy.__class__ = _ObservedPolicy
        assert isinstance(policy, _ObservedPolicy)
        policy.observed = []
        before_pop = self._install(ks)
        out: list[Output] = []
        rows: list[tuple[str, float, Any]] = []
        self._apply_context(sid, ks, out)
        pending = ks.pending
        push, pop = heapq.heappush, heapq.heappop
        for e in sips:
            push(pending, (e.time, _RANK_SIP, ks.seq, e))
            ks.seq += 1
        active, dropped = engine.active, engine.dropped
        skip = self._skip_idle_ticks
        for call_id, callee, t0, answered, t1, ip in calls:
            while pending and pending[0][0] <= t0:
                event = pop(pending)[3]
                skip(event.time)
                out.extend(engine.process(event))
            skip(t0)
            out.extend(engine.call_started(t0, call_id, sid, callee, ip))
            if call_id in active:
                if answered is not None:
                    push(pending, (answered, _RANK_ANSWER, ks.seq, CallAnswered(answered, call_id)))
                    ks.seq += 1
                push(pending, (t1, _RANK_END, ks.seq, CallEnded(t1, call_id, answered)))
                ks.seq += 1
            elif call_id in dropped:
                push(pending, (t1, _RANK_END, ks.seq, CallEnded(t1, call_id, answered)))
                ks.seq += 1
        while pending and pending[0][0] < watermark:
            event = pop(pending)[3]
            skip(event.time)
            out.extend(engine.process(event))
        if engine.next_tick is not None and watermark > engine.now:
            skip(watermark)
            out.extend(engine.advance(watermark))
        for o in out:
            if isinstance(o, Action | Alert | Terminate) and not self._carrier_lift(o):
                rows.append((OUT, o.time, o))
        for ctx, novel in policy.observed:
            rows.append((OBS, ctx.time, (ctx, novel)))
        delta = _population_delta(before_pop, policy.population)
        if delta is not None:
            rows.append((POP, engine.now, delta))
        cust = policy.customers.get(sid)
        ips = frozenset(cust.ips.addresses) if cust is not None and cust.ips is not None else None
        if ips is not None and ips != ks.ips:
            ks.ips = ips
            rows.append((IPS, engine.now, (sid, sorted(ips))))
        wake = self._wake(ks, bool(sips))
        return self._save(ks), rows, wake

    def _skip_idle_ticks(self, t: float) -> None:
        """Leave out the ticks before ``t`` of a customer with nothing a tick does: no call in
        progress, no case, no control of its own that expires. The embedded engine's ticks
        serve every customer at once; one customer's engine would otherwise tick every minute
        of event time for nothing (their only effect, forgetting old window entries, does not
        change what the windows answer)."""
        engine = self.shell
        nt = engine.next_tick
        if nt is None or nt > t or engine.by_customer:
            return
        policy = engine.policy
        assert isinstance(policy, TollguardPolicy)
        if policy.cases:
            return
        for c in engine.controls.all():
            if not is_carrier_control(c.kind, c.subscriber_id) and math.isfinite(c.until):
                return
        interval = engine.config.tick_interval_s
        last = math.floor(t / interval) * interval  # the last tick due by t still runs
        if last > nt:
            engine.next_tick = last

    def _load(self, sid: str, state: bytes | None) -> _KeyState:
        engine = self.shell
        if state is None:
            engine.restore(self.empty)
            sub = self.setup.subscribers.get(sid)
            if sub is not None:
                engine.add_subscriber(sub)
            return _KeyState(b"", [], 0, set(), frozenset(), set())
        ks = pickle.loads(state)
        assert isinstance(ks, _KeyState)
        restricted = engine.restricted
        engine.restore(ks.snapshot)
        engine.restricted = restricted
        return ks

    def _install(self, ks: _KeyState) -> PopulationBaseline:
        """Put the carrier's view into the customer's engine; returns the population as it was
        given (to compute the customer's additions)."""
        policy = self.shell.policy
        assert isinstance(policy, TollguardPolicy)
        ctx = self._context
        if ctx.population:
            base = pickle.loads(ctx.population)
            policy.population = pickle.loads(ctx.population)
        else:
            base = PopulationBaseline()
            policy.population = PopulationBaseline()
        shared, country, ranges = self._windows
        policy.shared_ip = pickle.loads(shared) if shared else SharedSourceIp()
        policy.country_burst = pickle.loads(country) if country else CountryBurst()
        policy.range_burst = pickle.loads(ranges) if ranges else RangeBurst()
        policy.range_findings = dict(ctx.range_findings)
        policy.sip = SipAuthFlood()
        for ip, failures in ctx.flagged.items():
            policy.sip.sources[ip] = _Source(flagged=True, total_failures=failures)
        assert isinstance(base, PopulationBaseline)
        return base

    def _apply_context(self, sid: str, ks: _KeyState, out: list[Output]) -> None:
        """Carrier controls in force (cutting this customer's calls they stop) and notices."""
        engine = self.shell
        policy = engine.policy
        assert isinstance(policy, TollguardPolicy)
        t = engine.now
        for c in self._context.controls:
            engine.controls.put(c)
            ident = (c.kind.value, c.subject, c.since)
            if ident in ks.controls_seen:
                continue
            ks.controls_seen.add(ident)
            for call in engine.customer_calls(sid):
                ctx = call.ctx
                if c.kind is ControlKind.IP_BLOCK and ctx.source_ip == c.subject:
                    reason = "ip_blocked"
                elif c.kind is ControlKind.DESTINATION_DENIAL and (ctx.e164 or "").lstrip(
                    "+"
                ).startswith(c.subject):
                    reason = "range_denied"
                else:
                    continue
                if ctx.time <= c.since and c.active(max(t, c.since)):
                    engine.terminate(ctx.call_id, max(t, c.since), reason, out)
        case = policy.cases.get(sid)
        if case is not None:
            for users in self._context.shared_blocks.values():
                if sid in users:
                    case.shared_address = True
        for notice in self._context.notices.get(sid, []):
            if notice.key in ks.applied:
                continue
            ks.applied.add(notice.key)
            at = max(notice.time, t) if math.isfinite(t) else notice.time
            policy.bruteforced_lines[(notice.ip, sid)] = notice.time
            opened = policy._open_case(sid, at, policy._prior, dict(notice.facts), out)
            opened.bruteforce = True
            opened.add_reason("bruteforced_credential")

    def _carrier_lift(self, o: Output) -> bool:
        """An expiry of a carrier control seen by a customer's engine (the carrier emits it)."""
        if not isinstance(o, Action) or o.subscriber_id is not None:
            return False
        return bool(o.evidence.get("expired"))

    def _wake(self, ks: _KeyState, had_sip: bool) -> float | None:
        engine = self.shell
        policy = engine.policy
        assert isinstance(policy, TollguardPolicy)
        own = [
            c
            for c in engine.controls.all()
            if not is_carrier_control(c.kind, c.subscriber_id) and math.isfinite(c.until)
        ]
        busy = bool(ks.pending or engine.by_customer or policy.cases or own or had_sip)
        if not busy or engine.next_tick is None:
            return None
        return engine.next_tick

    def _save(self, ks: _KeyState) -> bytes:
        engine = self.shell
        policy = engine.policy
        policy.__class__ = TollguardPolicy
        assert isinstance(policy, TollguardPolicy)
        if hasattr(policy, "observed"):
            del policy.observed
        for c in list(engine.controls.all()):
            if is_carrier_control(c.kind, c.subscriber_id):
                engine.controls.lift(c.kind, c.subject, c.subscriber_id)
        # what the carrier gives anew each micro-batch is not kept with the customer
        policy.population = PopulationBaseline()
        policy.shared_ip = SharedSourceIp()
        policy.country_burst = CountryBurst()
        policy.range_burst = RangeBurst()
        policy.range_findings = {}
        policy.sip = SipAuthFlood()
        # the restricted destination list is the same for every customer: not kept per key
        restricted, engine.restricted = engine.restricted, None  # type: ignore[assignment]
        try:
            ks.snapshot = engine.snapshot()
        finally:
            engine.restricted = restricted
        return pickle.dumps(ks, protocol=pickle.HIGHEST_PROTOCOL)

    # -- the windowed aggregation's input -------------------------------------------------------
    def window_keys(
        self, sid: str, callee: str, source_ip: str | None, t: float
    ) -> list[tuple[str, str]]:
        """The cross-customer windows an attempt counts in, ``(detector, subject)``, as the
        embedded engine's ``observe_attempt`` counts it: every international attempt in its
        country (the country code only, never the number), and an IP line's attempt from a
        public address in that address."""
        ctx = self.shell.enrich(CallStarted(t, "", sid, callee, source_ip or None), t)
        if not ctx.international:
            return []
        keys: list[tuple[str, str]] = []
        if ctx.region:
            keys.append((COUNTRY_WINDOW, ctx.region))
        if ctx.source_ip and ctx.ip_public:
            sub = self.setup.subscribers.get(sid)
            if sub is None or sub.service is Service.IP:
                keys.append((ADDRESS_WINDOW, ctx.source_ip))
        return keys

    # -- source-address keys ------------------------------------------------------------------
    def run_address(
        self, ip: str, state: bytes | None, events: list[SipEvent], watermark: float
    ) -> tuple[bytes | None, list[tuple[str, float, Any]], float | None]:
        """One micro-batch of one source address: its SIP failures counted in the flood
        detector's trailing window by the embedded engine's :class:`SipAuthFlood` (this
        address alone). Passes on what the detector finds (a flood, a success after enough
        failures: ``(event, evidence)``) and the address's failures so far once they are enough
        for a brute force (``0`` when forgotten). Returns the new state (``None``: forgotten,
        as the embedded engine forgets an address idle for a window unless it was flagged),
        the rows, and when to run again without new data (to forget it)."""
        flood = pickle.loads(state) if state else SipAuthFlood()
        assert isinstance(flood, SipAuthFlood)
        cfg = self.setup.config.sip_flood
        window = cfg.window_s
        src = flood.sources.get(ip)
        reported = src.total_failures if src is not None else 0
        rows: list[tuple[str, float, Any]] = []
        for e in events:
            flood.forget(e.time, window)
            ev = flood.learn_one(
                e.time,
                e.source_ip,
                e.username,
                e.event.value,
                window,
                cfg.min_failures,
                cfg.min_usernames,
                cfg.single_user_failures,
            )
            if ev is not None:
                rows.append((SIP, e.time, (e, ev)))
        if math.isfinite(watermark):
            flood.forget(watermark, window)
        src = flood.sources.get(ip)
        total = src.total_failures if src is not None else 0
        if total != reported and (total >= cfg.min_failures or reported >= cfg.min_failures):
            t = events[-1].time if events else watermark
            rows.append((FAILS, t, (ip, total)))
        if src is None:
            return None, rows, None
        wake = None if src.flagged or not src.failures else src.failures[-1][0] + window
        return pickle.dumps(flood, protocol=pickle.HIGHEST_PROTOCOL), rows, wake


def sip_event(row: dict[str, Any]) -> SipEvent:
    """A SIP event from a row's fields."""
    return SipEvent(
        float(row["time"]),
        str(row["source_ip"]),
        str(row["username"]),
        _SIP_KINDS[str(row["event"])],
        str(row["user_agent"] or ""),
    )


def _population_delta(
    before: PopulationBaseline, after: PopulationBaseline
) -> dict[str, Any] | None:
    """What a customer's calls added to the population baseline (``None``: nothing)."""
    if (
        after.calls == before.calls
        and after.classes == before.classes  # refused attempts add to the classes alone
        and after._country_days == before._country_days
        and after.first_day == before.first_day
    ):
        return None
    hours: dict[str, list[float]] = {}
    for seg, arr in after.segment_hours.items():
        old = before.segment_hours.get(seg)
        diff = [a - (old[i] if old is not None else 0.0) for i, a in enumerate(arr)]
        if any(diff):
            hours[seg] = diff
    country: dict[str, dict[int, list[float]]] = {}
    for region, days in after._country_days.items():
        old_days = before._country_days.get(region, {})
        for day, (calls, minutes) in days.items():
            was = old_days.get(day, [0.0, 0.0])
            if calls != was[0] or minutes != was[1]:
                country.setdefault(region, {})[day] = [calls - was[0], minutes - was[1]]
    return {
        "calls": after.calls - before.calls,
        "intl": after.intl - before.intl,
        "intl_spread": after.intl_spread - before.intl_spread,
        "classes": [a - b for a, b in zip(after.classes, before.classes, strict=True)],
        "hours": hours,
        "ip_calls": after.ip_calls - before.ip_calls,
        "foreign": after.foreign - before.foreign,
        "first_day": after.first_day,
        "country": country,
    }


def merge_population(pop: PopulationBaseline, delta: dict[str, Any]) -> None:
    """Add a customer's additions (:func:`_population_delta`) to the carrier's baseline."""
    from array import array

    from tollguard.domain.calendar import TIME_BUCKETS

    pop.calls += delta["calls"]
    pop.intl += delta["intl"]
    pop.intl_spread += delta.get("intl_spread", 0)
    pop.classes = [a + b for a, b in zip(pop.classes, delta["classes"], strict=True)]
    for seg, diff in delta["hours"].items():
        hours = pop.segment_hours.get(seg)
        if hours is None:
            hours = pop.segment_hours[seg] = array("d", [0.0] * TIME_BUCKETS)
            pop.segment_totals[seg] = 0.0
        for i, d in enumerate(diff):
            hours[i] += d
        pop.segment_totals[seg] += sum(diff)
    pop.ip_calls += delta["ip_calls"]
    pop.foreign += delta["foreign"]
    first = delta["first_day"]
    if first is not None and (pop.first_day is None or first < pop.first_day):
        pop.first_day = first
    for region, days in delta["country"].items():
        for day, (calls, minutes) in sorted(days.items()):
            pop._normal.pop(region, None)
            table = pop._country_days.setdefault(region, {})
            row = table.get(day)
            if row is None:
                row = table[day] = [0.0, 0.0]
                for old in [d for d in table if d <= day - 30]:
                    del table[old]
            row[0] += calls
            row[1] += minutes


def group_rows(
    rows: Iterator[dict[str, Any]],
) -> tuple[list[tuple[str, str, float, float | None, float, str | None]], list[SipEvent]]:
    """A customer key's input rows as calls (start order, ties by call id) and SIP events."""
    calls: list[tuple[str, str, float, float | None, float, str | None]] = []
    sips: list[SipEvent] = []
    for r in rows:
        if r["kind"] == "cdr":
            answer = r["answer"]
            answered = None if answer is None or answer != answer else float(answer)
            ip = r["source_ip"] or None
            calls.append(
                (str(r["call_id"]), str(r["callee"]), float(r["time"]), answered, float(r["end"]),
                 ip if isinstance(ip, str) else None)
            )  # fmt: skip
        elif r["kind"] == "sip":
            sips.append(sip_event(r))
    calls.sort(key=lambda c: (c[2], c[0]))
    sips.sort(key=lambda e: (e.time, e.source_ip, e.username, e.event.value, e.user_agent))
    return calls, sips
