"""The event-time engine: events in, decisions, cuts, actions and alerts out.

One engine serves replays, backtests, the live service and tests. It is causal (what it decides at
time t depends only on events up to t), deterministic, and free of I/O: time arrives with the
events. The engine enriches each call (number, country, tariff, source address, local time), checks
the controls in force, and hands the rest to a policy (:class:`~tollguard.domain.policy.
TollguardPolicy`, or the source document's process in :mod:`tollguard.domain.reference`).

>>> from tollguard.domain.records import Subscriber, Segment, Service, IntlStatus
>>> sub = Subscriber("c1", Segment.BUSINESS, Service.PSTN, ("+81312345678",), "a@b.jp",
...                  IntlStatus.SUSPENDED)
>>> engine = Engine([sub])
>>> out = engine.process(CallStarted(1.8e9, "x1", "c1", "0101212555123"))
>>> out[0].allow, out[0].reasons
(False, ('international_barred_by_customer',))
"""

from __future__ import annotations

import math
import pickle
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Protocol

import phonenumbers

from tollguard.domain.calendar import LocalCalendar
from tollguard.domain.config import EngineConfig
from tollguard.domain.controls import Control, ControlKind, Controls, DenyReason
from tollguard.domain.detectors.base import CallContext
from tollguard.domain.detectors.population import band_edges
from tollguard.domain.events import (
    Action,
    ActionKind,
    CallAnswered,
    CallEnded,
    CallReported,
    CallStarted,
    ContactOutcome,
    Decision,
    Event,
    ManualControl,
    Output,
    SipEvent,
    Terminate,
    Tick,
)
from tollguard.domain.ipinfo import IpLocator, IpScope
from tollguard.domain.numbering import NumberClassifier, NumberingPlan
from tollguard.domain.rating import Tariff
from tollguard.domain.records import IntlStatus, Subscriber
from tollguard.domain.restricted import RestrictedDestinationList

_SNAPSHOT_VERSION = 1
#: Entries of the per-callee destination cache before it is cleared (a bound on its memory).
_DEST_CACHE_MAX = 1 << 18

#: What the engine needs to know of a dialled number: (international, e164, region, number type,
#: rate per minute, tariff prefix, country rate).
Destination = tuple[bool, str | None, str | None, str, float, str, float]


class _DecisionBuilder:
    """Same slots as :class:`Decision`, not frozen: builds the millions of domestic decisions
    without ``object.__setattr__`` per field, then becomes a ``Decision`` by ``__class__``
    assignment (both classes have the same slot layout)."""

    __slots__ = Decision.__slots__

    def __init__(self, time: float, call_id: str, subscriber_id: str) -> None:
        self.time = time
        self.call_id = call_id
        self.allow = True
        self.reasons = ()
        self.subscriber_id = subscriber_id
        self.fraud_probability = 0.0
        self.max_answered_s = None


def _allowed(time: float, call_id: str, subscriber_id: str) -> Decision:
    """``Decision(time, call_id, True, (), subscriber_id)``, built fast."""
    built: Any = _DecisionBuilder(time, call_id, subscriber_id)
    built.__class__ = Decision
    return built  # type: ignore[no-any-return]


@dataclass(slots=True)
class ActiveCall:
    """An allowed international call between set-up and end."""

    ctx: CallContext
    log_odds: float
    concurrent: int
    burst: int
    answered: float | None = None
    learnable: bool = True
    #: dialled after other numbers of its block (block spread): learned by the population
    spread: bool = False
    #: allowed under watch: cut when it has been answered this many seconds (the policy's
    #: ``watch``), else None
    watch_s: float | None = None

    def __getstate__(self) -> list[Any]:
        return [getattr(self, name) for name in _ACTIVE_FIELDS]

    def __setstate__(self, state: list[Any]) -> None:
        self.watch_s = None  # snapshots taken before calls were watched have one field fewer
        for name, value in zip(_ACTIVE_FIELDS, state, strict=False):
            setattr(self, name, value)

    def exposure(self, t: float) -> float:
        """Cost accrued so far (JPY) at the call's per-minute rate."""
        if self.answered is None:
            return 0.0
        return max(0.0, t - self.answered) * self.ctx.rate_per_min / 60.0


_ACTIVE_FIELDS = tuple(f.name for f in fields(ActiveCall))


#: Reason on an allowed call of a suspended customer to a contact the suspension spares.
SPARED_BY_SUSPENSION = "established_contact_during_suspension"
#: Reason on an allowed call to a contact that the customer's destination denial spares.
SPARED_BY_DENIAL = "contact_during_destination_denial"


#: What the engine's domestic path needs of a call to a home-country number: (local day,
#: time-of-week bucket, public source address, its network, its country); see :class:`RowFacts`.
HomeFacts = tuple[int, int, bool, str | None, str | None]


class RowFacts:
    """The facts of a call that follow from its row alone (callee, start, source address) and
    the engine's numbering plan, calendar and (portable) locator, as the engine computes them.

    The engine makes its own; a replay's reading process makes one from the same config and
    computes them ahead (:meth:`Engine.call_started_home`). Two with equal :attr:`key` give the
    same facts when both locators are portable (``tests/test_replay_equivalence.py``).
    """

    __slots__ = ("_calendar", "_carrier_heads", "_dial_prefixes", "_home_plus", "_ips", "key")

    def __init__(self, plan: NumberingPlan, calendar: LocalCalendar, ips: IpLocator) -> None:
        self._home_plus = f"+{plan.calling_code}"
        self._dial_prefixes = plan.international_prefixes
        self._carrier_heads = frozenset(c[:2] for c in plan.carrier_prefixes)
        self._calendar = calendar
        self._ips = ips
        self.key = (self._home_plus, self._dial_prefixes, self._carrier_heads, calendar.key)

    @classmethod
    def for_config(cls, config: EngineConfig, ips: IpLocator) -> RowFacts:
        """The facts an :class:`Engine` of ``config`` (default classifier) computes."""
        plan = NumberingPlan.for_region(config.home_region)
        return cls(plan, LocalCalendar(config.timezone, config.home_region), ips)

    def home_number(self, callee: str) -> bool:
        """True when ``callee`` certainly has the home calling code, hence is domestic, read
        without classifying it (most calls; tested against the classifier).

        ``+`` and the home code, or digits as dialled with neither an international prefix nor
        the start of a carrier prefix: :class:`NumberClassifier` reads the latter as the home
        code and the rest (after the trunk prefix, if any), so every branch of its
        classification (too short, too long, or a home-code number) is not international, and
        the engine's own test (no E.164 but an international prefix) fails too.
        """
        if callee[:1] == "+":
            return (
                callee.startswith(self._home_plus) and callee.isascii() and callee[1:].isdecimal()
            )
        return (
            callee.isascii()
            and callee.isdecimal()
            and not callee.startswith(self._dial_prefixes)
            and callee[:2] not in self._carrier_heads
        )

    def local(self, t: float, source_ip: str | None) -> HomeFacts:
        """The local day and bucket of a call starting at ``t``, and its source address."""
        day, bucket = self._calendar.day_bucket(t)
        ip = source_ip or None
        if ip is None:
            return day, bucket, False, None, None
        ipi = self._ips.lookup(ip)
        return day, bucket, ipi.scope is IpScope.PUBLIC, ipi.network, ipi.country

    def home(self, callee: str, t: float, source_ip: str | None) -> HomeFacts | None:
        """:meth:`local` of a call to a :meth:`home_number`, else None."""
        return self.local(t, source_ip) if self.home_number(callee) else None


class Policy(Protocol):
    """What the engine asks of a policy."""

    def observe_attempt(self, ctx: CallContext, out: list[Output]) -> None:
        """See every international attempt (before controls); may put controls in force."""

    def assess(self, ctx: CallContext, out: list[Output]) -> tuple[bool, tuple[str, ...], float]:
        """Decide an international call the controls let through: (allow, reasons, log-odds)."""

    def denied_by_control(self, ctx: CallContext, reason: DenyReason, out: list[Output]) -> None:
        """An international attempt was refused by a control in force."""

    def reachable_while_suspended(self, ctx: CallContext) -> bool:
        """True when a suspended customer's call goes to a contact the suspension spares."""

    def reachable_while_denied(self, ctx: CallContext) -> bool:
        """True when a call goes to a contact that the customer's destination denial spares."""

    def call_ended(self, call: ActiveCall, t: float, charge: float, out: list[Output]) -> None:
        """An allowed international call ended (or was cut) with this charge."""

    def domestic_call(self, ctx: CallContext) -> None:
        """An allowed domestic call was set up (learning only)."""

    def learn_domestic(
        self,
        subscriber_id: str,
        day: int,
        bucket: int,
        source_ip: str | None,
        ip_public: bool,
        ip_network: str | None,
        ip_country: str | None,
    ) -> None:
        """:meth:`domestic_call` from the facts it uses, without a :class:`CallContext`."""

    def sip_event(self, event: SipEvent, out: list[Output]) -> None:
        """A SIP security event."""

    def tick(self, t: float, out: list[Output]) -> None:
        """Periodic work."""

    def contact_outcome(self, event: ContactOutcome, out: list[Output]) -> None:
        """An operator recorded the outcome of contacting a customer."""


class Engine:
    """Deterministic, causal fraud engine over an ordered stream of events."""

    def __init__(
        self,
        subscribers: Iterable[Subscriber],
        config: EngineConfig | None = None,
        *,
        policy: str = "tollguard",
        classifier: NumberClassifier | None = None,
        tariff: Tariff | None = None,
        ip_locator: IpLocator | None = None,
        restricted: RestrictedDestinationList | None = None,
        fast: bool = True,
    ) -> None:
        self.config = config or EngineConfig()
        # Fast paths (per-callee destination cache, domestic calls without a CallContext). They
        # give exactly the outputs of the general path (tests/test_replay_equivalence.py); False
        # runs the general path only.
        self.fast = fast
        # callee -> its Destination; for a domestic callee only the first item is meaningful
        # (the rest are placeholders: domestic calls need no rate), see _call_started.
        self._destinations: dict[str, Destination] = {}
        self.classifier = classifier or NumberClassifier(
            NumberingPlan.for_region(self.config.home_region)
        )
        self.tariff = tariff or Tariff.default()
        self.ips = ip_locator or IpLocator()
        self.restricted = restricted or RestrictedDestinationList.default()
        self.calendar = LocalCalendar(self.config.timezone, self.config.home_region)
        self.band_edges = band_edges(reference_rate(self.tariff, self.classifier.plan.calling_code))
        self.row_facts = RowFacts(self.classifier.plan, self.calendar, self.ips)
        self._cc_region: dict[int, str | None] = {}
        self._cc_rate: dict[int, float] = {}
        self.controls = Controls()
        self.subscribers: dict[str, Subscriber] = {}
        self.usernames: dict[str, str] = {}
        self.active: dict[str, ActiveCall] = {}
        self.by_customer: dict[str, set[str]] = {}
        self.dropped: set[str] = set()
        # subscriber -> [international calls ended, billable seconds, charge in yen] since the
        # state began: what the engine has metered (a crash-safety check counts on it)
        self.ledger: dict[str, list[float]] = {}
        self.next_tick: float | None = None
        self.now = -math.inf
        for sub in subscribers:
            self.add_subscriber(sub)
        self.policy_name = policy
        self.policy: Policy = _make_policy(policy, self)

    # -- subscribers -----------------------------------------------------------------------
    def add_subscriber(self, sub: Subscriber) -> None:
        """Register (or update) a customer; their own bar request becomes a control."""
        self.subscribers[sub.subscriber_id] = sub
        self.controls.set_customer_barred(
            sub.subscriber_id, sub.intl_status is IntlStatus.SUSPENDED
        )
        self.usernames[sub.subscriber_id] = sub.subscriber_id
        for number in sub.numbers:
            digits = number.lstrip("+")
            self.usernames[number] = sub.subscriber_id
            self.usernames[digits] = sub.subscriber_id
            national = self.classifier.plan.trunk_prefix + digits[len(str(self._home_cc())) :]
            self.usernames[national] = sub.subscriber_id

    def _home_cc(self) -> int:
        return self.classifier.plan.calling_code

    def subscriber_for_username(self, username: str) -> str | None:
        """The customer a SIP username belongs to (id, E.164 or national number)."""
        return self.usernames.get(username)

    # -- running ---------------------------------------------------------------------------
    def feed(self, events: Iterable[Event]) -> Iterator[Output]:
        """Process an ordered stream, inserting ticks; yields outputs in order."""
        for event in events:
            yield from self.process(event)

    def advance(self, t: float) -> list[Output]:
        """Run the ticks due up to time ``t``."""
        out: list[Output] = []
        interval = self.config.tick_interval_s
        if self.next_tick is None:
            self.next_tick = (math.floor(t / interval) + 1) * interval
            return out
        while self.next_tick <= t:
            tick_t = self.next_tick
            self.next_tick = tick_t + interval
            self._tick(tick_t, out)
        return out

    def process(self, event: Event) -> list[Output]:
        """Process one event (ticks due before it run first)."""
        t = event.time
        if t < self.now:
            t = self.now  # late events are taken as arriving now; the engine never goes back
        out = self.advance(t) if not isinstance(event, Tick) else []
        self.now = t
        if isinstance(event, CallStarted):
            self._call_started(
                t, event.call_id, event.subscriber_id, event.callee, event.source_ip, out
            )
        elif isinstance(event, CallAnswered):
            call = self.active.get(event.call_id)
            if call is not None and call.answered is None:
                call.answered = t
        elif isinstance(event, CallEnded):
            self._call_ended(event, t, out)
        elif isinstance(event, CallReported):
            self._call_reported(event, t, out)
        elif isinstance(event, SipEvent):
            self.policy.sip_event(event, out)
        elif isinstance(event, Tick):
            self._tick(t, out)
        elif isinstance(event, ContactOutcome):
            self.policy.contact_outcome(event, out)
        elif isinstance(event, ManualControl):
            self.apply_manual(event, out)
        return out

    def call_started(
        self,
        time: float,
        call_id: str,
        subscriber_id: str,
        callee: str,
        source_ip: str | None = None,
    ) -> list[Output]:
        """``process(CallStarted(time, call_id, subscriber_id, callee, source_ip))``, without
        building the event (the replay's hot path)."""
        t = time if time >= self.now else self.now
        nt = self.next_tick
        out = self.advance(t) if nt is None or nt <= t else []
        self.now = t
        self._call_started(t, call_id, subscriber_id, callee, source_ip, out)
        return out

    def call_started_home(
        self,
        time: float,
        call_id: str,
        subscriber_id: str,
        callee: str,
        source_ip: str | None,
        home: HomeFacts,
    ) -> list[Output]:
        """:meth:`call_started` of a call whose ``row_facts.home(callee, time, source_ip)`` is
        ``home`` (not None), computed ahead by a :class:`RowFacts` with the same ``key`` (the
        replay's reading process): the domestic path starts from these facts."""
        t = time if time >= self.now else self.now
        nt = self.next_tick
        out = self.advance(t) if nt is None or nt <= t else []
        self.now = t
        if not (
            t == time
            and self.fast
            and self._domestic_fast(t, call_id, subscriber_id, source_ip, home, out)
        ):
            self._call_started(t, call_id, subscriber_id, callee, source_ip, out)
        return out

    # -- calls -----------------------------------------------------------------------------
    def _destination(self, callee: str, rate_domestic: bool = True) -> Destination:
        """Classify and rate a dialled number (without ``rate_domestic``, a domestic number's
        rate facts are placeholders)."""
        info = self.classifier.classify(callee)
        region = info.region
        if region is None and info.calling_code is not None:
            region = self._region_of_code(info.calling_code)
        international = info.international or (
            info.e164 is None and callee.startswith(self.classifier.plan.international_prefixes)
        )
        if not (international or rate_domestic):
            return (False, info.e164, region, info.number_type.value, 0.0, "", 0.0)
        rate = self.tariff.lookup(info.e164) if info.e164 else None
        return (
            international,
            info.e164,
            region,
            info.number_type.value,
            (rate or self.tariff.fallback).rate_per_min,
            rate.prefix if rate else "",
            self._country_rate(info.calling_code),
        )

    def enrich(self, event: CallStarted, t: float) -> CallContext:
        """Classify, rate and locate a call."""
        return self._context(
            t, event.call_id, event.subscriber_id, event.callee, event.source_ip, None
        )

    def _context(
        self,
        t: float,
        call_id: str,
        subscriber_id: str,
        callee: str,
        source_ip: str | None,
        dest: Destination | None,
    ) -> CallContext:
        international, e164, region, number_type, rate_per_min, rate_prefix, country_rate = (
            dest if dest is not None else self._destination(callee)
        )
        ip = source_ip or None
        ip_country = ip_network = None
        public = False
        if ip is not None:
            ipi = self.ips.lookup(ip)
            ip_country, ip_network = ipi.country, ipi.network
            public = ipi.scope is IpScope.PUBLIC
        restricted = self.restricted.match(e164, region, number_type) if international else None
        day, bucket = self.calendar.day_bucket(t)
        return CallContext(  # positional (the field order): faster than 18 keywords
            t,
            call_id,
            subscriber_id,
            callee,
            e164,
            region,
            number_type,
            international,
            rate_per_min,
            restricted,
            ip,
            ip_country,
            ip_network,
            public,
            bucket,
            day,
            rate_prefix,
            country_rate,
        )

    def _country_rate(self, cc: int | None) -> float:
        """The tariff's rate for the bare calling code (the country's ordinary rate)."""
        if cc is None:
            return 0.0
        hit = self._cc_rate.get(cc)
        if hit is None:
            rate = self.tariff.lookup(f"+{cc}")
            hit = self._cc_rate[cc] = rate.rate_per_min if rate else 0.0
        return hit

    def _region_of_code(self, cc: int) -> str | None:
        """The main region of a calling code, for numbers too malformed to place exactly."""
        if cc not in self._cc_region:
            region = phonenumbers.region_code_for_country_code(cc)
            self._cc_region[cc] = None if region == "ZZ" else region
        return self._cc_region[cc]

    def _call_started(
        self,
        t: float,
        call_id: str,
        sid: str,
        callee: str,
        source_ip: str | None,
        out: list[Output],
    ) -> None:
        dest = None
        if self.fast:
            facts = self.row_facts
            home = facts.home(callee, t, source_ip)
            if home is not None and self._domestic_fast(t, call_id, sid, source_ip, home, out):
                return
            cache = self._destinations
            dest = cache.get(callee)
            if dest is None:
                dest = self._destination(callee, rate_domestic=False)
                if len(cache) >= _DEST_CACHE_MAX:
                    cache.clear()
                cache[callee] = dest
            if not dest[0]:
                if self._domestic_fast(t, call_id, sid, source_ip, facts.local(t, source_ip), out):
                    return
                dest = None  # its rate facts are placeholders: the general path computes them
        ctx = self._context(t, call_id, sid, callee, source_ip, dest)
        if ctx.international:
            self.policy.observe_attempt(ctx, out)
        deny = self.controls.authorize(
            sid, ctx.international, ctx.region, ctx.e164, ctx.source_ip, t, ctx.rate_prefix
        )
        spared = deny is DenyReason.SUSPENDED and self.policy.reachable_while_suspended(ctx)
        if spared:
            deny = self.controls.authorize(
                sid, True, ctx.region, ctx.e164, ctx.source_ip, t, ctx.rate_prefix, spared=True
            )
        contact = deny is DenyReason.DESTINATION_DENIED and self.policy.reachable_while_denied(ctx)
        if contact:
            deny = self.controls.authorize(
                sid,
                True,
                ctx.region,
                ctx.e164,
                ctx.source_ip,
                t,
                ctx.rate_prefix,
                spared=spared,
                contact=True,
            )
        if deny is not None:
            self.dropped.add(call_id)
            out.append(Decision(t, call_id, False, (deny.value,), sid))
            if ctx.international:
                self.policy.denied_by_control(ctx, deny, out)
            return
        if not ctx.international:
            self.policy.domestic_call(ctx)
            out.append(Decision(t, call_id, True, (), sid))
            return
        allow, reasons, log_odds = self.policy.assess(ctx, out)
        if contact and allow:
            reasons = (SPARED_BY_DENIAL, *reasons)
        if spared and allow:
            reasons = (SPARED_BY_SUSPENSION, *reasons)
        p = 1.0 / (1.0 + math.exp(-log_odds)) if log_odds > -700 else 0.0
        watched = self.active.get(call_id) if allow else None
        limit = watched.watch_s if watched is not None else None
        out.append(Decision(t, call_id, allow, reasons, sid, round(p, 6), limit))
        if not allow:
            self.dropped.add(call_id)

    def _domestic_fast(
        self,
        t: float,
        call_id: str,
        sid: str,
        source_ip: str | None,
        home: HomeFacts,
        out: list[Output],
    ) -> bool:
        """A domestic call without a :class:`CallContext`, from its :class:`RowFacts`: the
        controls only check its source address, and the policy only learns from it. False when
        the general path must run (the address is blocked)."""
        ip = source_ip or None
        if ip is not None:
            block = self.controls.ip_blocked(ip)
            if block is not None and block.active(t):
                return False
        day, bucket, public, network, country = home
        self.policy.learn_domestic(sid, day, bucket, ip, public, network, country)
        out.append(_allowed(t, call_id, sid))
        return True

    def register_active(self, call: ActiveCall) -> None:
        """Track an allowed international call until it ends."""
        cid = call.ctx.call_id
        self.active[cid] = call
        self.by_customer.setdefault(call.ctx.subscriber_id, set()).add(cid)

    def _finish(self, call_id: str, t: float, out: list[Output]) -> None:
        call = self.active.pop(call_id, None)
        if call is None:
            return
        sid = call.ctx.subscriber_id
        calls = self.by_customer.get(sid)
        if calls is not None:
            calls.discard(call_id)
            if not calls:
                del self.by_customer[sid]
        seconds = 0.0 if call.answered is None else max(0.0, t - call.answered)
        charge = self.tariff.charge(call.ctx.e164, seconds) if call.ctx.e164 and seconds else 0.0
        entry = self.ledger.get(sid)
        if entry is None:
            self.ledger[sid] = [1.0, seconds, charge]
        else:
            entry[0] += 1.0
            entry[1] += seconds
            entry[2] += charge
        self.policy.call_ended(call, t, charge, out)

    def _call_ended(self, event: CallEnded, t: float, out: list[Output]) -> None:
        if event.call_id in self.dropped:
            self.dropped.discard(event.call_id)
            return
        call = self.active.get(event.call_id)
        if call is None:
            return
        if event.answered_at is not None:  # the CDR's answer time is the billed one
            call.answered = min(event.answered_at, t)
        self._finish(event.call_id, t, out)

    def _call_reported(self, event: CallReported, t: float, out: list[Output]) -> None:
        cid = event.call_id
        start = CallStarted(t, cid, event.subscriber_id, event.callee, event.source_ip)
        self._call_started(t, cid, event.subscriber_id, event.callee, event.source_ip, out)
        call = self.active.get(cid)
        if call is None:  # refused or domestic: an international call still happened
            self.dropped.discard(cid)
            ctx = self.enrich(start, t)
            if not ctx.international:
                return
            call = ActiveCall(ctx, 0.0, 0, 0, learnable=False)
            self.register_active(call)
        call.answered = t - event.billable_seconds if event.billable_seconds > 0 else None
        self._finish(cid, t, out)

    def terminate(self, call_id: str, t: float, reason: str, out: list[Output]) -> None:
        """Cut a call in progress: its cost stops now and its later end is ignored."""
        call = self.active.get(call_id)
        if call is None:
            return
        out.append(Terminate(t, call_id, reason, call.ctx.subscriber_id))
        self.dropped.add(call_id)
        self._finish(call_id, t, out)

    def customer_calls(self, subscriber_id: str) -> list[ActiveCall]:
        """A customer's international calls in progress, in a stable order."""
        ids = self.by_customer.get(subscriber_id)
        return [self.active[c] for c in sorted(ids)] if ids else []

    # -- controls --------------------------------------------------------------------------
    def put_control(self, control: Control, action: Action, out: list[Output]) -> None:
        """Put a control in force and emit its (audited) action."""
        self.controls.put(control)
        out.append(action)

    def apply_manual(self, event: ManualControl, out: list[Output]) -> None:
        """Apply an operator's control change (the action records who and why)."""
        change = _MANUAL.get(event.action)
        if change is None:
            raise ValueError(f"{event.action.value} is not a control change")
        kind, put = change
        t, subject = event.time, event.subject
        dest_sid = event.subscriber_id if kind is ControlKind.DESTINATION_DENIAL else None
        action = _where(kind, subject, dest_sid).action(
            t, event.action, event.reason, event.actor, event.until, {"manual": True}
        )
        if put:
            until = event.until if event.until is not None else math.inf
            control = Control(kind, subject, event.reason, t, until, event.actor, dest_sid)
            self.put_control(control, action, out)
        else:
            self.controls.lift(kind, subject, dest_sid)
            out.append(action)
        if event.action is ActionKind.SUSPEND_INTERNATIONAL:
            for call in self.customer_calls(subject):
                self.terminate(call.ctx.call_id, t, "international_suspended", out)

    def _tick(self, t: float, out: list[Output]) -> None:
        for c in self.controls.expired(t):
            out.append(_lift_action(c, t))
        self.policy.tick(t, out)

    # -- state -----------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The engine's whole state as bytes (trusted local storage only: it is a pickle)."""
        state = {k: v for k, v in self.__dict__.items() if k not in _NOT_STATE}
        return pickle.dumps((_SNAPSHOT_VERSION, state), protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, blob: bytes) -> None:
        """Replace this engine's state with a snapshot taken by :meth:`snapshot`."""
        version, state = pickle.loads(blob)
        if version != _SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {version} is not {_SNAPSHOT_VERSION}")
        self.__dict__.update(state)
        self.policy.engine = self  # type: ignore[attr-defined]


_NOT_STATE = {"classifier", "tariff", "ips", "calendar", "row_facts", "fast", "_destinations"}


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a control applies, as the fields of its :class:`Action`."""

    subscriber_id: str | None = None
    country: str | None = None
    prefix: str | None = None
    ip: str | None = None

    def action(
        self,
        t: float,
        kind: ActionKind,
        reason: str,
        actor: str,
        until: float | None,
        evidence: dict[str, Any],
    ) -> Action:
        return Action(
            t,
            kind,
            reason,
            actor,
            subscriber_id=self.subscriber_id,
            country=self.country,
            prefix=self.prefix,
            ip=self.ip,
            until=until,
            evidence=evidence,
        )


def _where(kind: ControlKind, subject: str, subscriber_id: str | None) -> _Where:
    if kind is ControlKind.SUSPENSION:
        return _Where(subscriber_id=subject)
    if kind is ControlKind.COUNTRY_RESTRICTION:
        return _Where(country=subject)
    if kind is ControlKind.IP_BLOCK:
        return _Where(ip=subject)
    if subscriber_id is None:
        return _Where(prefix=subject)
    if subject.startswith("+"):  # a customer's denial of one tariff range
        return _Where(subscriber_id=subscriber_id, prefix=subject[1:])
    return _Where(subscriber_id=subscriber_id, country=subject)


#: Operator control changes: the control they concern, and whether they put it (or lift it).
_MANUAL: dict[ActionKind, tuple[ControlKind, bool]] = {
    ActionKind.SUSPEND_INTERNATIONAL: (ControlKind.SUSPENSION, True),
    ActionKind.RESTORE_INTERNATIONAL: (ControlKind.SUSPENSION, False),
    ActionKind.RESTRICT_COUNTRY: (ControlKind.COUNTRY_RESTRICTION, True),
    ActionKind.LIFT_COUNTRY: (ControlKind.COUNTRY_RESTRICTION, False),
    ActionKind.BLOCK_IP: (ControlKind.IP_BLOCK, True),
    ActionKind.UNBLOCK_IP: (ControlKind.IP_BLOCK, False),
    ActionKind.DENY_DESTINATION: (ControlKind.DESTINATION_DENIAL, True),
    ActionKind.ALLOW_DESTINATION: (ControlKind.DESTINATION_DENIAL, False),
}

#: The action that records a control being lifted.
_LIFTED: dict[ControlKind, ActionKind] = {k: a for a, (k, put) in _MANUAL.items() if not put}


def put_action(c: Control, t: float, reason: str) -> Action:
    """The (audited) action recording that control ``c`` is in force."""
    put = next(a for a, (k, p) in _MANUAL.items() if k is c.kind and p)
    until = None if math.isinf(c.until) else c.until
    return _where(c.kind, c.subject, c.subscriber_id).action(
        t, put, reason, c.actor, until, {"since": c.since}
    )


def lift_action(
    c: Control, t: float, reason: str, actor: str, evidence: dict[str, Any] | None = None
) -> Action:
    """The (audited) action recording that control ``c`` was lifted."""
    where = _where(c.kind, c.subject, c.subscriber_id)
    return where.action(t, _LIFTED[c.kind], reason, actor, None, evidence or {})


def _lift_action(c: Control, t: float) -> Action:
    evidence: dict[str, Any] = {"since": c.since, "expired": True}
    return lift_action(c, t, f"expired: {c.reason}", "tollguard", evidence)


def reference_rate(tariff: Tariff, home_cc: int) -> float:
    """Median per-minute rate of the tariff's country-level (1-3 digit) international prefixes."""
    home = str(home_cc)
    rates = [r.rate_per_min for r in tariff.rates if len(r.prefix) <= 3 and r.prefix != home]
    return statistics.median(rates) if rates else tariff.fallback.rate_per_min


def _make_policy(name: str, engine: Engine) -> Policy:
    if name == "tollguard":
        from tollguard.domain.policy import TollguardPolicy

        return TollguardPolicy(engine)
    if name == "reference":
        from tollguard.domain.reference import ReferencePolicy

        return ReferencePolicy(engine)
    raise ValueError(f"unknown policy {name!r} (known: tollguard, reference)")
