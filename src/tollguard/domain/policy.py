"""The tollguard policy: evidence to graded actions, and the case workflow.

For each international call the controls let through, the policy multiplies the detectors'
likelihood ratios into a fraud probability ``p`` (prior odds x product of LRs). It denies the call
when the expected loss of letting it run, ``p x rate x fraud_call_minutes``, exceeds what wrongly
denying a legitimate call costs, or when ``p`` alone is overwhelming. Dear destinations are thus
denied on less evidence than cheap ones, and every threshold is a cost.

Graded response (the source document's measures, faster):

(a) a call denied for risk denies the customer's further calls to that country for a while and
    cuts their calls in progress to it; an alert and a case open;
(b) the case tries to reach the customer several times; when all attempts fail, fraud is highly
    probable and the evidence shows an automated attack, international calling is suspended and
    the post-notification (事後連絡) is sent;
(c) suspension cuts the customer's international calls in progress;
(d) the customer's confirmation restores service and teaches the engine the destinations.
Cross-customer findings restrict countries (発信規制), deny ranges and block addresses, each
with an expiry. Metering of charges (ended and live) opens cases and cuts calls mid-way.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

import phonenumbers

from tollguard.domain.cases import Case, CaseState, ContactAttempt
from tollguard.domain.controls import Control, ControlKind, DenyReason
from tollguard.domain.detectors.base import (
    CallContext,
    DistinctInWindow,
    Evidence,
    capped_power,
    slot_state,
)
from tollguard.domain.detectors.block_spread import BlockSpread
from tollguard.domain.detectors.calling_hours import CallingHours
from tollguard.domain.detectors.charge_meter import ChargeMeter
from tollguard.domain.detectors.concurrency import Concurrency
from tollguard.domain.detectors.country_burst import CountryBurst
from tollguard.domain.detectors.destination_novelty import DestinationNovelty
from tollguard.domain.detectors.international_share import InternationalShare
from tollguard.domain.detectors.population import (
    PopulationBaseline,
    destination_class,
    rate_band,
)
from tollguard.domain.detectors.range_burst import RangeBurst
from tollguard.domain.detectors.repeat_contact import RepeatContact
from tollguard.domain.detectors.shared_source_ip import SharedSourceIp
from tollguard.domain.detectors.sip_auth_flood import SipAuthFlood
from tollguard.domain.detectors.source_ip import SourceIpHistory
from tollguard.domain.engine import lift_action
from tollguard.domain.events import (
    Action,
    ActionKind,
    Alert,
    ContactOutcome,
    ContactResult,
    Output,
    Severity,
    SipEvent,
)
from tollguard.domain.numbering import NON_GEOGRAPHIC_REGION
from tollguard.domain.records import Segment, Service

if TYPE_CHECKING:
    from tollguard.domain.engine import ActiveCall, Engine

ACTOR = "tollguard"
_HOUR = 3600.0


#: Reason of a case, and of the calls it cuts, when charges over the customer's baseline come at
#: a dialler's pace (:meth:`TollguardPolicy._metered_pump`).
DIALLER_PACE: Final = "dialler_pace_over_baseline"
#: Reason of a case, and of the calls it cuts, when charges over the customer's baseline come
#: from a call to a number block they walk (:meth:`TollguardPolicy._metered_walk`).
BLOCK_WALK: Final = "block_walk_over_baseline"
#: Reason of a case, and of the calls it cuts, when a night's calls to new numbers of blocks the
#: customer walks, at a dialler's pace, cost more than the metering floor, whatever the
#: customer's own baseline (:meth:`TollguardPolicy._night_walk`).
NIGHT_WALK: Final = "block_walk_at_night"
#: Reason on a call allowed under watch (``RiskConfig.watch_max_probability``).
WATCHED: Final = "allowed_under_watch"
#: Reason of the cut of a watched call, and of the case it opens, when its watch is over.
WATCH_OVER: Final = "watched_call_over_its_cost"
#: Reason of the cut of a watched call when a later call of the customer is refused for its risk.
WATCH_ENDED: Final = "watched_call_ended_by_a_refusal"


def destination_key(ctx: CallContext) -> str | None:
    """The destination as the policy sees it: ``+`` and the tariff range when it is a dear range
    of its country (its rate at least twice the country's), otherwise the country. What a risk
    denial denies the customer (the range, not the whole country, when the range is the risk),
    and what counts as one destination for novelty and range bursts (calling a country's mobiles
    every day does not make its premium-rate range familiar)."""
    if ctx.rate_prefix and ctx.rate_per_min >= 2.0 * ctx.country_rate_per_min > 0:
        return "+" + ctx.rate_prefix
    return ctx.region


def denial_subject(ctx: CallContext) -> str | None:
    """What a risk denial denies the customer: :func:`destination_key`, except that a
    non-geographic number (region ``001``) is denied by its tariff range: Inmarsat, Iridium,
    Thuraya and the international networks of +882/+883 are separate systems, and one risky
    call to one of them is no reason to cut a ship operator off from the others."""
    if ctx.region == NON_GEOGRAPHIC_REGION and ctx.rate_prefix:
        return "+" + ctx.rate_prefix
    return destination_key(ctx)


def _narrow_blocks(e164: str, region: str | None, block_digits: int) -> bool:
    """Whether ``e164``'s block is a narrow slice of its country's numbering: a national number
    of at least ``block_digits`` + 4 digits, so a block is at most 1/10,000 of the country's
    numbers. In a small country of seven-digit numbers (Tonga,
    Samoa) a block of 10,000 is a town or a whole network, and a family trying its relatives
    there after a disaster dials several numbers of one "block". Non-geographic numbers are
    the dear-range rules' business."""
    if not region or region == NON_GEOGRAPHIC_REGION:
        return False
    cc = phonenumbers.country_code_for_region(region)
    if not cc:
        return False
    national = len(e164) - 1 - len(str(cc))
    return national >= block_digits + 4


def _remaining_fraud_minutes(call: ActiveCall, t: float, fraud_call_minutes: float) -> float:
    """Minutes a fraudulent call in progress is expected to go on. IRSF call lengths are heavy
    tailed (the attacker holds the line as long as the range pays). For a Lomax length of shape 2
    and mean ``fraud_call_minutes`` the expected remaining time after ``s`` minutes is
    ``fraud_call_minutes + s``: the longer it has run, the longer it is expected to go on."""
    if call.answered is None:
        return fraud_call_minutes
    return fraud_call_minutes + max(0.0, t - call.answered) / 60.0


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _new_meter(cust: CustomerState, today: int) -> ChargeMeter:
    """A customer's meter, made at their first international charge.

    The days since the customer was first seen had no international charge: they are days of
    the baseline (zero), so a customer who never called abroad is measured against that, not
    given a newcomer's allowance.
    """
    meter = ChargeMeter()
    if 0 <= cust.first_day < today:
        meter.day = cust.first_day  # the first roll closes it and the quiet days after it
    return meter


#: Refusals whose attempts still count as the carrier's demand for their destination class.
_DEMAND_REFUSALS: Final = frozenset(
    {DenyReason.DESTINATION_DENIED, DenyReason.RANGE_DENIED, DenyReason.COUNTRY_RESTRICTED}
)


class CustomerState:
    """Everything the policy has learned about one customer. Idle customers stay small."""

    __slots__ = (
        "barred_alert_day",
        "conc",
        "first_day",
        "hours",
        "ips",
        "last_intl",
        "meter",
        "novelty",
        "refused_days",
        "repeats",
        "segment",
        "share",
        "spread",
        "walk_spend",
    )

    def __init__(self, segment: str) -> None:
        self.segment = segment
        self.share = InternationalShare()
        self.hours = CallingHours()
        self.novelty: DestinationNovelty | None = None
        self.conc: Concurrency | None = None
        self.ips: SourceIpHistory | None = None
        self.meter: ChargeMeter | None = None
        self.last_intl: float | None = None
        self.barred_alert_day = -1
        self.spread: BlockSpread | None = None
        self.repeats: RepeatContact | None = None
        # Destination class -> the last local day a refused attempt of it was counted.
        self.refused_days: dict[int, int] | None = None
        # The local day the customer was first seen: the quiet days since are the baseline of
        # a customer who does not call abroad (-1: not seen yet, or from an older snapshot).
        self.first_day = -1
        # (night, block -> JPY): charges of the night's ended calls by number block (the night
        # is named by the local day it began on; contacts' calls are not counted).
        self.walk_spend: tuple[int, dict[str, float]] | None = None

    def __setstate__(self, state: object) -> None:
        self.spread = None  # absent from snapshots taken before block spread was watched
        self.first_day = -1  # likewise, before quiet days were counted
        self.repeats = None  # likewise, before repeat contacts were watched
        self.refused_days = None  # likewise, before refused demand was counted
        self.walk_spend = None  # likewise, before a night's walk was metered
        for k, v in slot_state(state).items():
            setattr(self, k, v)


class TollguardPolicy:
    """Cost-based per-call decisions, metering, cross-customer measures and the case workflow."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cfg = engine.config
        self.customers: dict[str, CustomerState] = {}
        self.population = PopulationBaseline()
        self.shared_ip = SharedSourceIp()
        self.sip = SipAuthFlood()
        self.country_burst = CountryBurst()
        self.range_burst = RangeBurst()
        self.cases: dict[str, Case] = {}
        self.closed_cases: list[Case] = []
        # Per customer, calls at an unusual pace awaiting learning: (end, call, minutes).
        self.held: dict[str, list[tuple[float, ActiveCall, float]]] = {}
        # Calls in progress allowed under watch, by call id (cut when their watch is over).
        self.watched: dict[str, ActiveCall] = {}
        # (source address, subscriber) -> when that customer's credential was brute-forced from it
        self.bruteforced_lines: dict[tuple[str, str], float] = {}
        # country -> the last time several customers were found newly calling one of its number
        # ranges (``range_burst``): what a country restriction asks of a surge
        self.range_findings: dict[str, float] = {}
        # country -> when a surge to it was last reported as not restricted for want of one
        self.surges_not_restricted: dict[str, float] = {}
        self._prior = math.log(
            self.cfg.risk.prior_fraud_probability / (1 - self.cfg.risk.prior_fraud_probability)
        )
        self._last_forget = -math.inf
        # A new customer's meter is held to the cost of two hours at the tariff's median rate.
        self._new_customer_ref = 2.0 * 60.0 * engine.band_edges[0] / 1.25

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "engine"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.held = {}  # absent from snapshots taken before unusual-pace calls were held
        self.watched = {}  # likewise, before calls were watched
        self.range_findings = {}  # and before a restriction asked for a range finding
        self.surges_not_restricted = {}
        self.__dict__.update(state)

    # -- customers ---------------------------------------------------------------------------
    def customer(self, subscriber_id: str) -> CustomerState:
        """The learned state of a customer (created on first sight)."""
        state = self.customers.get(subscriber_id)
        if state is None:
            sub = self.engine.subscribers.get(subscriber_id)
            segment = sub.segment.value if sub else Segment.RESIDENTIAL.value
            state = self.customers[subscriber_id] = CustomerState(segment)
        return state

    def _is_ip_line(self, subscriber_id: str) -> bool:
        sub = self.engine.subscribers.get(subscriber_id)
        return sub is None or sub.service is Service.IP

    # -- learning from legitimate traffic ----------------------------------------------------
    def domestic_call(self, ctx: CallContext) -> None:
        """Learn the customer's habits from an allowed domestic call."""
        self.learn_domestic(
            ctx.subscriber_id,
            ctx.day,
            ctx.bucket,
            ctx.source_ip,
            ctx.ip_public,
            ctx.ip_network,
            ctx.ip_country,
        )

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
        """:meth:`domestic_call` from the facts it uses (the engine's fast path for the many
        domestic calls builds no :class:`CallContext`)."""
        population = self.population
        first = population.first_day
        if first is None or day < first:  # population.note_day(day)
            population.first_day = day
        cust = self.customers.get(subscriber_id) or self.customer(subscriber_id)
        if cust.first_day < 0:
            cust.first_day = day
        cust.share.n_calls += 1  # cust.share.learn_one(False)
        hours = cust.hours  # hours.learn_one(bucket)
        hours.counts[bucket] += 1
        hours.n += 1
        foreign = None
        if source_ip is not None and ip_public:  # as _learn_address
            if cust.ips is None:
                cust.ips = SourceIpHistory()
            cust.ips.learn_one(source_ip, ip_network, ip_country)
            foreign = ip_country != self.cfg.home_region
        population.learn_one(cust.segment, bucket, False, False, 0, foreign)

    def _learn_address(self, cust: CustomerState, ctx: CallContext) -> bool | None:
        """Learn a legitimate call's public source address; whether it was foreign (None: none)."""
        if ctx.source_ip is None or not ctx.ip_public:
            return None
        if cust.ips is None:
            cust.ips = SourceIpHistory()
        cust.ips.learn_one(ctx.source_ip, ctx.ip_network, ctx.ip_country)
        return ctx.ip_country != self.cfg.home_region

    def _learn_held(self, sid: str, t: float) -> None:
        """Learn the customer's held calls whose hold is over (see ``unusual_pace_hold_s``);
        a case opening drops the others. Run at the customer's own international events, so
        the embedded engine and the Spark job learn them at the same moment."""
        held = self.held.get(sid)
        if not held:
            return
        hold = self.cfg.risk.unusual_pace_hold_s
        waiting = []
        for end, call, minutes in held:
            if t - end < hold:
                waiting.append((end, call, minutes))
            else:
                self._learn_population(call, minutes)
                self._learn_international(call, minutes)
        if waiting:
            self.held[sid] = waiting
        else:
            del self.held[sid]

    def _learn_international(self, call: ActiveCall, minutes: float) -> None:
        """Learn a legitimate international call into the customer's own profile; answered
        for ``conversation_min_s`` or more, it is a conversation with the number
        (``repeat_contact``)."""
        ctx = call.ctx
        cust = self.customer(ctx.subscriber_id)
        if (
            ctx.e164
            and cust.repeats is not None
            and minutes * 60.0 >= self.cfg.repeat_contact.conversation_min_s
        ):
            cust.repeats.talked_one(ctx.e164, ctx.day)
        cust.share.learn_one(True)
        cust.hours.learn_one(ctx.bucket)
        if cust.novelty is None:
            cust.novelty = DestinationNovelty()
        cust.novelty.learn_one(destination_key(ctx))
        if cust.conc is not None:
            cust.conc.learn_one(call.concurrent, call.burst)
        self._learn_address(cust, ctx)

    def _learn_population(self, call: ActiveCall, minutes: float) -> None:
        """Learn an international call into the carrier-wide baseline (at once: it aggregates
        every customer, so one victim's calls barely move it)."""
        ctx = call.ctx
        cust = self.customer(ctx.subscriber_id)
        foreign = None
        if ctx.source_ip is not None and ctx.ip_public:
            foreign = ctx.ip_country != self.cfg.home_region
        self.population.learn_one(
            cust.segment,
            ctx.bucket,
            True,
            ctx.restricted is not None,
            rate_band(ctx.rate_per_min, self.engine.band_edges),
            foreign,
        )
        if getattr(call, "spread", False):  # calls restored from older snapshots lack it
            self.population.learn_spread()
        if ctx.region:
            self.population.learn_minutes(ctx.region, ctx.day, minutes)

    # -- every international attempt ---------------------------------------------------------
    def observe_attempt(self, ctx: CallContext, out: list[Output]) -> None:
        """Count the attempt for bursts (per customer and across customers)."""
        cfg = self.cfg
        self.population.note_day(ctx.day)
        self._learn_held(ctx.subscriber_id, ctx.time)
        cust = self.customer(ctx.subscriber_id)
        if cust.first_day < 0:
            cust.first_day = ctx.day
        if cust.conc is None:
            cust.conc = Concurrency()
        cust.conc.start(ctx.call_id, ctx.time)
        cust.last_intl = ctx.time
        if ctx.e164:
            if cust.spread is None:
                cust.spread = BlockSpread()
            cust.spread.observe_one(ctx.e164, ctx.time, cfg.block_spread.window_s)
            if cust.repeats is None:
                cust.repeats = RepeatContact()
            cust.repeats.observe_one(ctx.e164, ctx.day)
        if ctx.region:
            self._count_in_window(
                self.country_burst,
                ctx.time,
                ctx.region,
                ctx.subscriber_id,
                cfg.country_burst.window_s,
            )
        if ctx.source_ip and ctx.ip_public and self._is_ip_line(ctx.subscriber_id):
            n = self._count_in_window(
                self.shared_ip,
                ctx.time,
                ctx.source_ip,
                ctx.subscriber_id,
                cfg.source_ip.shared_window_s,
            )
            if n >= cfg.source_ip.shared_min_customers:
                self._check_shared_ip(ctx, out)
        self._observe_range(ctx, cust, out)
        if ctx.region:  # after the range: this very attempt may be what finds a range pumped
            self._check_country_burst(ctx, out)

    def _observe_range(self, ctx: CallContext, cust: CustomerState, out: list[Output]) -> None:
        """Count a customer's first calls to a number range across customers (Wangiri
        callbacks, a campaign's IPRN ranges): enough customers within the window deny the range
        to all and record the finding for the range's country."""
        cfg = self.cfg
        known = cust.novelty is not None and cust.novelty.knows(destination_key(ctx))
        if ctx.e164 and not known:
            # a dear range by its first digits; elsewhere, in a country with little normal
            # traffic, the very number (Wangiri callbacks at an ordinary rate all go to the few
            # numbers that rang; a disaster's callers each call their own people), or its first
            # digits once the customer walks the block (a campaign's test-number list)
            dear = self._dear(ctx)
            quiet = not dear and self._little_traffic(ctx)
            if not (dear or quiet):
                return
            walks = (
                quiet
                and cust.spread is not None
                and self._walks_a_block(cust.spread, [ctx.e164], ctx.time)
            )
            digits = ctx.e164.lstrip("+")
            prefix = digits[: cfg.range_burst.prefix_digits] if dear or walks else digits
            n = self.range_burst.learn_one(
                ctx.time, prefix, ctx.subscriber_id, cfg.range_burst.window_s
            )
            if n >= cfg.range_burst.min_customers:
                if ctx.region:
                    self.range_findings[ctx.region] = ctx.time
                self._deny_range(ctx, prefix, n, out)

    def _count_in_window(
        self, window: DistinctInWindow, t: float, key: str, member: str, window_s: float
    ) -> int:
        """Count an attempt in a cross-customer window (country, address); the customers in it
        now. A carrier whose windows are counted elsewhere (Spark's windowed aggregation) only
        reads them here."""
        return window.learn_one(t, key, member, window_s)

    def _dear(self, ctx: CallContext) -> bool:
        return (
            ctx.restricted is not None or rate_band(ctx.rate_per_min, self.engine.band_edges) >= 2
        )

    def _little_traffic(self, ctx: CallContext) -> bool:
        """Whether the call's country has little normal traffic at this carrier (the source
        document's third criterion, with the country restriction's thresholds) once there is a
        week of it to tell: Wangiri callbacks go to numbers of such countries at ordinary rates,
        while a number many customers call at once legitimately (a conference bridge, a
        company's line) is in a country they call every day."""
        region = ctx.region
        cb = self.cfg.country_burst
        if not region or self.population.history_days(ctx.day) < cb.min_history_days:
            return False
        per_day, minutes, _ = self.population.normal_traffic(region, ctx.day)
        return cb.little_normal_traffic(per_day, minutes)

    def _range_pumped(self, region: str, t: float) -> bool:
        """Whether one of the country's number ranges was found pumped across customers
        (``range_burst``) within ``country_burst.range_finding_hours``: what makes a surge of
        customers to the country evidence of fraud, and a restriction of it justified."""
        found = self.range_findings.get(region)
        hours = self.cfg.country_burst.range_finding_hours
        return found is not None and t - found <= hours * _HOUR

    def _check_country_burst(self, ctx: CallContext, out: list[Output]) -> None:
        cfg = self.cfg.country_burst
        region = ctx.region
        assert region is not None
        entry = self.engine.restricted.country(region)
        if entry is None or not entry.restrictable:
            return
        if self.engine.controls.country_restricted(region) is not None:
            return
        if self.population.history_days(ctx.day) < cfg.min_history_days:
            return
        per_day, minutes, days = self.population.normal_traffic(region, ctx.day)
        ev = self.country_burst.score_one(
            ctx.time, region, per_day, cfg.window_s, cfg.min_customers, cfg.tail_probability
        )
        if ev.reason is None:
            return
        if not cfg.little_normal_traffic(per_day, minutes):
            out.append(
                Alert(
                    ctx.time,
                    ev.detector,
                    Severity.WARNING,
                    None,
                    {
                        **ev.facts,
                        "restricted": False,
                        "why_not": "normal traffic above threshold",
                        "normal_calls_per_day": round(per_day, 2),
                        "normal_minutes_30d": round(minutes),
                    },
                )
            )
            return
        if not self._range_pumped(region, ctx.time):
            # once per country and window: a disaster's surge goes on for days
            if ctx.time - self.surges_not_restricted.get(region, -math.inf) >= cfg.window_s:
                self.surges_not_restricted[region] = ctx.time
                facts = {**ev.facts, "restricted": False, "why_not": "no range pumped"}
                out.append(Alert(ctx.time, ev.detector, Severity.WARNING, None, facts))
            return
        until = ctx.time + cfg.restrict_hours * _HOUR
        evidence = {
            **ev.facts,
            "range_pumped_hours_ago": round((ctx.time - self.range_findings[region]) / _HOUR, 1),
            "normal_calls_per_day": round(per_day, 2),
            "normal_minutes_30d": round(minutes),
            "days_observed": days,
            "list_entry": entry.key,
        }
        reason = "calls to a restricted-list country surged across customers (同時多発)"
        control = Control(ControlKind.COUNTRY_RESTRICTION, region, reason, ctx.time, until, ACTOR)
        action = Action(
            ctx.time,
            ActionKind.RESTRICT_COUNTRY,
            reason,
            ACTOR,
            country=region,
            until=until,
            evidence=evidence,
        )
        self.engine.put_control(control, action, out)
        out.append(Alert(ctx.time, ev.detector, Severity.CRITICAL, None, evidence))

    def _check_shared_ip(self, ctx: CallContext, out: list[Output]) -> None:
        cfg = self.cfg.source_ip
        ip = ctx.source_ip
        assert ip is not None
        if self.engine.controls.ip_blocked(ip) is not None:
            return
        users = self.shared_ip.members(ip, ctx.time, cfg.shared_window_s)
        strangers = [
            u for u in users if not ((s := self.customers.get(u)) and s.ips and s.ips.knows(ip))
        ]
        foreign = ctx.ip_country != self.cfg.home_region
        if len(strangers) < 2 and not foreign:
            return
        until = ctx.time + cfg.shared_block_hours * _HOUR
        reason = "one address placing international calls for several customers at once"
        evidence = {
            "ip": ip,
            "ip_country": ctx.ip_country,
            "customers": len(users),
            "customers_new_to_address": len(strangers),
        }
        self._block_ip(ip, ctx.time, until, reason, evidence, out)
        for u in users:
            case = self.cases.get(u)
            if case is not None:
                case.shared_address = True

    def _block_ip(
        self,
        ip: str,
        t: float,
        until: float,
        reason: str,
        evidence: dict[str, Any],
        out: list[Output],
    ) -> None:
        control = Control(ControlKind.IP_BLOCK, ip, reason, t, until, ACTOR)
        action = Action(
            t, ActionKind.BLOCK_IP, reason, ACTOR, ip=ip, until=until, evidence=evidence
        )
        self.engine.put_control(control, action, out)
        out.append(Alert(t, "source_ip", Severity.CRITICAL, None, evidence))
        for call in list(self.engine.active.values()):
            if call.ctx.source_ip == ip:
                self.engine.terminate(call.ctx.call_id, t, "ip_blocked", out)

    def _deny_range(self, ctx: CallContext, prefix: str, n: int, out: list[Output]) -> None:
        controls = self.engine.controls
        if controls.range_denied(ctx.e164) is not None:
            return
        cfg = self.cfg.range_burst
        until = ctx.time + cfg.deny_hours * _HOUR
        reason = "several customers newly calling one dear number range (Wangiri/IRSF campaign)"
        evidence = {
            "range": "+" + prefix,
            "customers": n,
            "country": ctx.region,
            "rate_per_min": ctx.rate_per_min,
        }
        control = Control(ControlKind.DESTINATION_DENIAL, prefix, reason, ctx.time, until, ACTOR)
        action = Action(
            ctx.time,
            ActionKind.DENY_DESTINATION,
            reason,
            ACTOR,
            prefix=prefix,
            country=ctx.region,
            until=until,
            evidence=evidence,
        )
        self.engine.put_control(control, action, out)
        out.append(Alert(ctx.time, self.range_burst.name, Severity.CRITICAL, None, evidence))
        for call in list(self.engine.active.values()):
            if call.ctx.e164 and call.ctx.e164.lstrip("+").startswith(prefix):
                self.engine.terminate(call.ctx.call_id, ctx.time, "range_denied", out)

    # -- denied by a control -----------------------------------------------------------------
    def denied_by_control(self, ctx: CallContext, reason: DenyReason, out: list[Output]) -> None:
        """Attempts against a control are themselves evidence (dialers keep re-dialling)."""
        if reason in _DEMAND_REFUSALS:
            self._learn_refused(ctx)
        case = self.cases.get(ctx.subscriber_id)
        if case is not None and reason is DenyReason.DESTINATION_DENIED:
            self._risky_attempt(case, ctx, ctx.time)
        elif case is not None and reason is DenyReason.SUSPENDED and self._attack_like(case, ctx):
            case.attack_seen = ctx.time  # the dialler still tries: the suspension stays whole
        if reason is DenyReason.CUSTOMER_REQUESTED:
            cust = self.customer(ctx.subscriber_id)
            if cust.barred_alert_day != ctx.day:
                cust.barred_alert_day = ctx.day
                out.append(
                    Alert(
                        ctx.time,
                        "barred_customer_attempt",
                        Severity.WARNING,
                        ctx.subscriber_id,
                        {
                            "country": ctx.region,
                            "note": "international attempt on a line the customer barred",
                        },
                    )
                )

    # -- the per-call decision -----------------------------------------------------------------
    def evidence(self, ctx: CallContext) -> list[Evidence]:
        """Every detector's evidence on one call."""
        cfg = self.cfg
        r = cfg.risk
        cust = self.customer(ctx.subscriber_id)
        pop = self.population
        evs = [
            cust.share.score_one(pop.international_share(), r.international_share_pseudo_count),
            cust.hours.score_one(
                ctx.bucket, pop.segment_distribution(cust.segment), r.hour_pseudo_count
            ),
        ]
        novelty = cust.novelty or DestinationNovelty()
        evs.append(
            novelty.score_one(
                destination_key(ctx), r.novelty_pseudo_count, r.fraud_known_country_probability
            )
        )
        restricted = ctx.restricted is not None
        band = rate_band(ctx.rate_per_min, self.engine.band_edges)
        dest_facts = {
            "country": ctx.region,
            "number_type": ctx.number_type,
            "rate_per_min": ctx.rate_per_min,
            "restricted_list": ctx.restricted.key if ctx.restricted else None,
        }
        dest_lr = pop.destination_lr(restricted, band)
        evs.append(
            Evidence(
                "destination_cost",
                dest_lr,
                "risky_destination" if dest_lr >= 5 else None,
                dest_facts,
            )
        )
        if cust.conc is not None:
            evs.append(
                cust.conc.score_one(
                    ctx.time,
                    r.burst_window_s,
                    r.concurrency_step_lr,
                    r.burst_step_lr,
                    r.max_step_lr_total,
                )
            )
        if ctx.source_ip is not None and self._is_ip_line(ctx.subscriber_id):
            ip_cfg = cfg.source_ip
            history = cust.ips or SourceIpHistory()
            evs.append(
                history.score_one(
                    ctx.source_ip,
                    ctx.ip_network,
                    ctx.ip_country,
                    ctx.ip_public,
                    cfg.home_region,
                    pop.foreign_share(),
                    ip_cfg.fraud_foreign_probability,
                    ip_cfg.foreign_pseudo_count,
                    ip_cfg.new_network_lr,
                    ip_cfg.known_address_lr,
                    ip_cfg.foreign_floor_probability,
                )
            )
            if ctx.ip_public:
                evs.append(
                    self.shared_ip.score_one(
                        ctx.time,
                        ctx.source_ip,
                        ctx.subscriber_id,
                        ip_cfg.shared_window_s,
                        ip_cfg.shared_min_customers,
                    )
                )
            if self._bruteforced(ctx):
                evs.append(
                    Evidence(
                        self.sip.name,
                        cfg.sip_flood.bruteforce_lr,
                        "bruteforced_credential",
                        {"ip": ctx.source_ip},
                    )
                )
        if ctx.region and pop.history_days(ctx.day) >= cfg.country_burst.min_history_days:
            per_day, _, _ = pop.normal_traffic(ctx.region, ctx.day)
            cb = cfg.country_burst
            burst = self.country_burst.score_one(
                ctx.time, ctx.region, per_day, cb.window_s, cb.min_customers, cb.tail_probability
            )
            if burst.reason is not None and not self._range_pumped(ctx.region, ctx.time):
                burst = Evidence(burst.detector, 1.0, None, burst.facts)  # a disaster's surge
            evs.append(burst)
        if ctx.e164 and cust.spread is not None:
            bs = cfg.block_spread
            spread = cust.spread.score_one(
                ctx.e164,
                ctx.time,
                bs.window_s,
                bs.block_digits,
                bs.min_others,
                bs.fraud_spread_probability,
                pop.spread_share(bs.legit_prior_share, bs.legit_prior_weight),
            )
            if spread.reason is not None:  # only when it fires: alerts stay short
                evs.append(spread)
            elif cust.repeats is not None and (cust.conc is None or not cust.conc.active):
                rc = cfg.repeat_contact
                repeat = cust.repeats.score_one(
                    ctx.e164, ctx.day, rc.min_days, rc.max_per_day, rc.window_days, rc.lr
                )
                if repeat.lr != 1.0:
                    evs.append(repeat)
        if ctx.e164 and self._dear(ctx):
            rb = cfg.range_burst
            prefix = ctx.e164.lstrip("+")[: rb.prefix_digits]
            evs.append(self.range_burst.score_one(ctx.time, prefix, rb.window_s, rb.min_customers))
        case = self.cases.get(ctx.subscriber_id)
        if case is not None and case.state is not CaseState.CLOSED:
            # Persistence is a dialler's: risky attempts within minutes, not one a day.
            recent = case.risky_attempts_since(ctx.time - cfg.case.distinct_numbers_window_s)
            # A case of watched calls only is evidence by its pace alone: a ship operator's call
            # a day is not a dialler's, and each call's own risk is weighed on the call.
            floor = 0 if case.only_watched() else 1
            lr = min(
                1e3,
                capped_power(cfg.case.persistence_lr, max(recent, floor), 1e3)
                * math.exp(case.metering_log_lr),
            )
            facts = {"attempts": case.high_risk_attempts, "attempts_within_window": recent}
            evs.append(Evidence("open_case", lr, "open_fraud_case", facts))
        return evs

    def _to_contact(self, ctx: CallContext) -> bool:
        """Whether the call goes to a number the customer dials as a person does
        (``repeat_contact``): refused, it is still no new evidence that keeps a case open."""
        cust = self.customers.get(ctx.subscriber_id)
        e164 = ctx.e164
        if cust is None or not e164:
            return False
        return self._is_contact(cust, e164, ctx.day)

    def _spared_contact(self, sid: str, e164: str, day: int) -> bool:
        """A number the customer dials as a person does on ``day``, or one of the contacts
        established when their case opened (an attack of many numbers soon pushes the contacts
        out of memory): what their destination denials spare."""
        cust = self.customers.get(sid)
        if cust is not None and self._is_contact(cust, e164, day):
            return True
        case = self.cases.get(sid)
        return case is not None and e164 in getattr(case, "established", ())

    def _bruteforced(self, ctx: CallContext) -> bool:
        """True if this customer's SIP credential was brute-forced from this call's address."""
        if ctx.source_ip is None:
            return False
        when = self.bruteforced_lines.get((ctx.source_ip, ctx.subscriber_id))
        return when is not None and ctx.time - when <= self.cfg.sip_flood.bruteforce_memory_s

    def assess(self, ctx: CallContext, out: list[Output]) -> tuple[bool, tuple[str, ...], float]:
        """Decide one international call; register it as active when allowed."""
        r = self.cfg.risk
        evs = self.evidence(ctx)
        log_odds = self._prior + sum(math.log(e.lr) for e in evs)
        p = _sigmoid(log_odds)
        expected_loss = p * ctx.rate_per_min * r.fraud_call_minutes
        deny = expected_loss >= r.wrong_denial_cost_jpy or p >= r.deny_probability
        watch_s = None
        if deny and p < r.watch_max_probability:
            watch_s = self._watch_s(ctx, p)
            deny = watch_s is None
        reasons = tuple(e.reason for e in evs if e.reason)
        cust = self.customer(ctx.subscriber_id)
        conc = cust.conc
        assert conc is not None
        concurrent = len(conc.active) + 1
        if deny:
            self._learn_refused(ctx)
            self._risk_denied(ctx, p, log_odds, expected_loss, evs, concurrent, out)
            return False, ("fraud_risk", *reasons), log_odds
        from tollguard.domain.engine import ActiveCall

        call = ActiveCall(ctx, log_odds, concurrent, conc.burst(ctx.time, r.burst_window_s))
        call.learnable = p < 0.5 and ctx.subscriber_id not in self.cases
        call.spread = any(e.detector == BlockSpread.name for e in evs)
        conc.connect(ctx.call_id)
        self.engine.register_active(call)
        if watch_s is not None:
            # As the refusal it replaces: demand, a case, an alert; not the destination denial.
            call.watch_s = watch_s
            call.learnable = False
            self.watched[ctx.call_id] = call
            self._learn_refused(ctx)
            self._risk_denied(ctx, p, log_odds, expected_loss, evs, concurrent, out, watch_s)
            return True, (WATCHED, *reasons), log_odds
        return True, reasons if p >= 0.5 else (), log_odds

    def _watch_s(self, ctx: CallContext, p: float) -> float | None:
        """How long (answered seconds) a call the cost rule would deny may run under watch:
        until ``p x rate x minutes`` reaches ``wrong_denial_cost_jpy``; None when that is under
        ``watch_min_minutes`` or the customer's case shows an automated attack (a machine's
        calls are refused, not watched)."""
        r = self.cfg.risk
        minutes = r.wrong_denial_cost_jpy / (p * ctx.rate_per_min) if ctx.rate_per_min > 0 else 0
        if minutes < r.watch_min_minutes:
            return None
        minutes = min(minutes, r.watch_max_minutes)
        case = self.cases.get(ctx.subscriber_id)
        if case is not None and (
            case.state is CaseState.SUSPENDED
            or case.machine_behaviour(self.cfg.case.min_distinct_numbers)
        ):
            return None
        return minutes * 60.0

    def _watch_over(self, call: ActiveCall, t: float, out: list[Output]) -> None:
        """A watched call ran up the fraud loss its watch allows: open (or feed) the customer's
        case as a risky attempt, and cut the call. Its destination is not denied: the customer's
        next call to it is weighed again, with the case's evidence (an attack's redials are soon
        refused; a person's next call is watched again)."""
        ctx = call.ctx
        sid = ctx.subscriber_id
        answered = call.answered if call.answered is not None else t
        facts: dict[str, Any] = {
            "call_id": ctx.call_id,
            "fraud_probability": round(_sigmoid(call.log_odds), 6),
            "country": ctx.region,
            "rate_per_min": ctx.rate_per_min,
            "answered_s": round(t - answered),
            "watch_s": round(call.watch_s or 0.0),
            "exposure_jpy": round(call.exposure(t)),
        }
        out.append(Alert(t, "call_watch", Severity.WARNING, sid, facts))
        case = self._open_case(sid, t, call.log_odds, facts, out)
        self._risky_attempt(case, ctx, t)
        case.add_reason(WATCH_OVER)
        self.engine.terminate(ctx.call_id, t, WATCH_OVER, out)
        self._maybe_suspend(case, t, out)

    def _learn_refused(self, ctx: CallContext) -> None:
        """Count a refused attempt's destination class into the carrier's legitimate demand,
        once a customer, class and day, unless the customer shows machine behaviour (a
        dialler's pace, a block walked number by number, or the case's machine signs)."""
        case = self.cases.get(ctx.subscriber_id)
        if case is not None and (
            case.state is CaseState.SUSPENDED
            or DIALLER_PACE in case.reasons
            or NIGHT_WALK in case.reasons
            or BLOCK_WALK in case.reasons
            or case.machine_behaviour(self.cfg.case.min_distinct_numbers)
        ):
            return
        cust = self.customer(ctx.subscriber_id)
        cls = destination_class(
            ctx.restricted is not None, rate_band(ctx.rate_per_min, self.engine.band_edges)
        )
        if cust.refused_days is None:
            cust.refused_days = {}
        if cust.refused_days.get(cls) == ctx.day:
            return
        cust.refused_days[cls] = ctx.day
        self.population.learn_refused(cls)
        cust.share.learn_one(True)  # the customer does call abroad, refused or not

    def _risk_denied(
        self,
        ctx: CallContext,
        p: float,
        log_odds: float,
        expected_loss: float,
        evs: list[Evidence],
        concurrent: int,
        out: list[Output],
        watch_s: float | None = None,
    ) -> None:
        """A call refused for its risk, or (``watch_s``) allowed under watch in place of the
        refusal: alert and open the case; a refused call also denies its destination."""
        sid = ctx.subscriber_id
        facts: dict[str, Any] = {
            "call_id": ctx.call_id,
            "fraud_probability": round(p, 6),
            "expected_loss_jpy": round(expected_loss),
            "likelihood_ratios": {e.detector: round(e.lr, 3) for e in evs},
            "facts": {e.detector: e.facts for e in evs if e.facts},
        }
        if watch_s is not None:
            facts["watch_s"] = round(watch_s)
        case = self._open_case(sid, ctx.time, log_odds, facts, out)
        to_contact = self._risky_attempt(case, ctx, ctx.time)
        if watch_s is not None:
            case.watched_calls = getattr(case, "watched_calls", 0) + 1
        case.best_call_log_odds = max(case.best_call_log_odds, log_odds)
        case.peak_concurrent = max(case.peak_concurrent, concurrent)
        cust = self.customer(sid)
        if cust.conc is not None:
            case.usual_max_concurrent = cust.conc.max_active
        for e in evs:
            if e.reason:
                case.add_reason(e.reason)
            if e.reason == "bruteforced_credential":
                case.bruteforce = True
            if e.reason == "address_shared_by_customers":
                case.shared_address = True
        out.append(
            Alert(
                ctx.time,
                "call_risk",
                Severity.CRITICAL if p >= 0.9 else Severity.WARNING,
                sid,
                facts,
            )
        )
        if watch_s is None:
            # The watch rested on fraud being less likely than not; a refused call says
            # otherwise now (an attack's channels after the first).
            for watched in [c for c in self.watched.values() if c.ctx.subscriber_id == sid]:
                self.engine.terminate(watched.ctx.call_id, ctx.time, WATCH_ENDED, out)
        if not to_contact and watch_s is None:
            reason = "call to this destination judged fraudulent; further calls denied"
            for call in self._deny_destination(ctx, ctx.time, case, reason, facts, out):
                self.engine.terminate(call.ctx.call_id, ctx.time, "destination_denied", out)
        self._maybe_block_foreign_ip(ctx, case, out)
        self._maybe_suspend(case, ctx.time, out)

    def _risky_attempt(self, case: Case, ctx: CallContext, t: float) -> bool:
        """Count a risky attempt (refused, watched, or cut at its watch) into the customer's
        case; returns whether it went to a contact. A person redialling their contact is no new
        evidence: the case closes after its quiet hours (and the profile learns again) unless
        something else happens (otherwise a ship operator nobody reaches stays under suspicion
        for good)."""
        case.high_risk_attempts += 1
        to_contact = self._to_contact(ctx)
        if not to_contact:
            case.last_evidence = t
        if ctx.e164:
            case.add_risky_number(t, ctx.e164, self.cfg.case.distinct_numbers_window_s)
        return to_contact

    def _deny_destination(
        self,
        ctx: CallContext,
        t: float,
        case: Case,
        reason: str,
        evidence: dict[str, Any],
        out: list[Output],
    ) -> list[ActiveCall]:
        """Deny the customer's further calls to the call's destination (``denial_subject``) for
        ``deny_destination_hours``, unless already denied; returns the customer's calls in
        progress to it (for the caller to cut)."""
        sid = ctx.subscriber_id
        subject = denial_subject(ctx)
        if not subject or self.engine.controls.destination_denied(sid, subject) is not None:
            return []
        if ctx.region:
            case.countries.add(ctx.region)
        until = t + self.cfg.case.deny_destination_hours * _HOUR
        self._put_destination_denial(sid, subject, ctx.region, t, until, reason, evidence, out)
        if subject.startswith("+"):
            return [c for c in self.engine.customer_calls(sid) if c.ctx.rate_prefix == subject[1:]]
        return [c for c in self.engine.customer_calls(sid) if c.ctx.region == ctx.region]

    def _put_destination_denial(
        self,
        sid: str,
        subject: str,
        region: str | None,
        t: float,
        until: float,
        reason: str,
        evidence: dict[str, Any],
        out: list[Output],
    ) -> None:
        """Put a customer's denial of a country or ``+range`` in force (replacing one on the
        same subject) with its audited action; an infinite ``until`` (until the customer
        confirms) is an action without expiry."""
        control = Control(ControlKind.DESTINATION_DENIAL, subject, reason, t, until, ACTOR, sid)
        action = Action(
            t,
            ActionKind.DENY_DESTINATION,
            reason,
            ACTOR,
            subscriber_id=sid,
            country=region,
            prefix=subject[1:] if subject.startswith("+") else None,
            until=None if math.isinf(until) else until,
            evidence=evidence,
        )
        self.engine.put_control(control, action, out)

    def _maybe_block_foreign_ip(self, ctx: CallContext, case: Case, out: list[Output]) -> None:
        """During a serious anomaly, block a foreign address the customer has never used.

        Serious: the case shows machine behaviour or is near-certain; one denied call of a
        traveller is not enough to cut them off from calling home.
        """
        ip = ctx.source_ip
        if ip is None or not ctx.ip_public or ctx.ip_country in (None, self.cfg.home_region):
            return
        serious = case.machine_behaviour(self.cfg.case.min_distinct_numbers)
        if not serious and self.case_probability(case) < self.cfg.case.suspend_probability:
            return
        if not self._is_ip_line(ctx.subscriber_id):
            return
        cust = self.customer(ctx.subscriber_id)
        if cust.ips is not None and (ctx.ip_country in cust.ips.countries or cust.ips.knows(ip)):
            return
        if self.engine.controls.ip_blocked(ip) is not None:
            return
        until = ctx.time + self.cfg.case.foreign_ip_block_hours * _HOUR
        reason = (
            "source address clearly differs from the customer's usual (foreign) during an anomaly"
        )
        evidence = {
            "ip": ip,
            "ip_country": ctx.ip_country,
            "subscriber_id": ctx.subscriber_id,
            "usual_countries": sorted(cust.ips.countries) if cust.ips else [],
        }
        self._block_ip(ip, ctx.time, until, reason, evidence, out)

    # -- call ends ----------------------------------------------------------------------------
    def call_ended(self, call: ActiveCall, t: float, charge: float, out: list[Output]) -> None:
        """Learn from a legitimate call and meter its charge."""
        ctx = call.ctx
        cust = self.customer(ctx.subscriber_id)
        if cust.conc is not None:
            cust.conc.end(ctx.call_id)
        minutes = 0.0 if call.answered is None else max(0.0, t - call.answered) / 60.0
        self._learn_held(ctx.subscriber_id, t)
        if call.watch_s is not None:
            self.watched.pop(ctx.call_id, None)
            if (
                ctx.e164
                and cust.repeats is not None
                and ctx.call_id not in self.engine.dropped
                and minutes * 60.0 >= self.cfg.repeat_contact.conversation_min_s
            ):
                # Its watch ran out on no one: a conversation with that number (a contact from
                # the day after next), though the call teaches the profile nothing else.
                cust.repeats.talked_one(ctx.e164, ctx.day)
        if call.learnable and ctx.subscriber_id not in self.cases:
            conc = cust.conc
            if conc is not None and any(conc.excess(call.concurrent, call.burst)):
                # an unusual pace: learned after the hold, unless a case opens first
                self.held.setdefault(ctx.subscriber_id, []).append((t, call, minutes))
            else:
                self._learn_population(call, minutes)
                self._learn_international(call, minutes)
        elif self._a_persons_call_under_suspicion(call, minutes):
            self._learn_population(call, minutes)
            self._learn_international(call, minutes)
        if charge > 0:
            self._add_walk_spend(cust, call, t, charge)
            cal = self.engine.calendar
            if cust.meter is None:
                cust.meter = _new_meter(cust, cal.local_day(t))
            day, hour, bucket = cal.local_day(t), int(t // _HOUR), cal.bucket(t)
            alpha = self.cfg.metering.ewm_alpha
            cust.meter.roll(day, hour, bucket, alpha, ctx.subscriber_id not in self.cases)
            cust.meter.add_charge(day, hour, charge, alpha, bucket)
            self._meter(ctx.subscriber_id, t, out)

    def _a_persons_call_under_suspicion(self, call: ActiveCall, minutes: float) -> bool:
        """Whether a call made while the customer's case is open is still learned: a
        conversation (``conversation_min_s``) with one of their contacts (``repeat_contact``),
        fraud unlikely at its set-up, their only call abroad at their usual pace, not cut, and
        the case shows no machine behaviour and has not suspended them. Otherwise a customer whose
        own refused calls keep a case open (a ship operator nobody reaches) never learns its
        vessels, hours or pace, and goes on being refused for weeks."""
        ctx = call.ctx
        cust = self.customers.get(ctx.subscriber_id)
        case = self.cases.get(ctx.subscriber_id)
        if (
            case is None
            or cust is None
            or not ctx.e164
            or call.log_odds >= 0.0
            or call.concurrent > 1
            or minutes * 60.0 < self.cfg.repeat_contact.conversation_min_s
            or ctx.call_id in self.engine.dropped
            or case.state is CaseState.SUSPENDED
            or not self._to_contact(ctx)
        ):
            return False
        conc = cust.conc
        if conc is not None and any(conc.excess(call.concurrent, call.burst)):
            return False
        return not case.machine_behaviour(self.cfg.case.min_distinct_numbers)

    # -- metering -------------------------------------------------------------------------------
    def _meter(self, sid: str, t: float, out: list[Output]) -> None:
        cust = self.customer(sid)
        m = self.cfg.metering
        cal = self.engine.calendar
        calls = self.engine.customer_calls(sid)
        live = sum(c.exposure(t) for c in calls)
        day = cal.local_day(t)
        if cust.meter is None:
            if live < m.hourly_floor_jpy:
                return
            cust.meter = _new_meter(cust, day)
        meter = cust.meter
        bucket = cal.bucket(t)
        meter.roll(day, int(t // _HOUR), bucket, m.ewm_alpha, sid not in self.cases)
        ev = meter.score_one(
            live,
            bucket,
            m.k_sigma,
            m.min_log_sd,
            m.daily_floor_jpy,
            m.hourly_floor_jpy,
            m.lr_per_doubling,
            self._new_customer_ref,
            m.weekly_floor_jpy,
        )
        if ev.reason is None:
            if calls:
                self._night_walk(sid, cust, calls, t, day, out)
            return
        log_lr = math.log(ev.lr)
        case = self.cases.get(sid)
        first = case is None or case.metering_log_lr == 0.0
        escalated = case is not None and log_lr >= case.metering_log_lr + math.log(4.0)
        if first or escalated:
            facts = {**ev.facts, "metering_lr": round(ev.lr, 2)}
            out.append(
                Alert(
                    t,
                    ev.detector,
                    Severity.CRITICAL if ev.lr >= 100 else Severity.WARNING,
                    sid,
                    facts,
                )
            )
            case = self._open_case(sid, t, self._prior + log_lr, facts, out)
            case.add_reason(ev.reason)
        assert case is not None
        case.metering_log_lr = max(case.metering_log_lr, log_lr)
        if first or escalated:  # the same excess again is not new evidence: the case may close
            case.last_evidence = t
        known = cust.first_day >= 0 and day - cust.first_day >= self.cfg.case.pump_min_history_days
        if calls and known:  # new numbers mean something only against a week of history
            if self._metered_pump(case, cust, calls, t, day, ev.facts, out):
                calls = self.engine.customer_calls(sid)
            if calls and self._metered_walk(case, cust, calls, t, day, ev.facts, out):
                calls = self.engine.customer_calls(sid)
        elif calls and self._metered_walk(
            case, cust, calls, t, day, ev.facts, out, first_week=True
        ):
            calls = self.engine.customer_calls(sid)
        # Mid-call cut-off: re-weigh each call in progress with the metering evidence.
        r = self.cfg.risk
        for call in calls:
            p = _sigmoid(call.log_odds + log_lr)
            remaining = _remaining_fraud_minutes(call, t, r.fraud_call_minutes)
            if p * call.ctx.rate_per_min * remaining < r.wrong_denial_cost_jpy:
                continue
            # As at set-up: while fraud is less likely than not, the call goes on under watch
            # (a watched one's watch shortened to the new probability) rather than being cut.
            if p < r.watch_max_probability:
                watch_s = self._watch_s(call.ctx, p)
                if watch_s is not None:
                    if call.watch_s is None:
                        self.watched[call.ctx.call_id] = call
                        call.learnable = False
                    call.watch_s = min(call.watch_s or math.inf, watch_s)
                    continue
            self.engine.terminate(call.ctx.call_id, t, "charges_above_baseline", out)
        self._maybe_suspend(case, t, out)

    def _metered_pump(
        self,
        case: Case,
        cust: CustomerState,
        calls: list[ActiveCall],
        t: float,
        day: int,
        meter_facts: dict[str, Any],
        out: list[Output],
    ) -> bool:
        """Charges over the customer's baseline at a dialler's pace: deny the destinations of
        the calls in progress that do not go to the customer's contacts, and cut those calls;
        True when it did.

        Only for a customer known for ``pump_min_history_days`` (in their first days every
        number is new), and at night (``pump_night_starts_hour`` to ``pump_night_ends_hour``,
        local time): IRSF pumps run at night and at weekends, while a business's legitimate
        spike of calls to new numbers (a trade fair, a campaign) comes in office hours, when
        the customer answers the contact call at once. In the day only when the new numbers
        walk a number block (:meth:`_walks_a_block`): a test-number list pumped in office
        hours to blend in, where a campaign's numbers are spread over a country.
        A dialler's pace is numbers that rotate (:meth:`_dialler_pace`). It
        stops IRSF through ordinary numbers of the customer's usual country, where no single
        call is dear enough to refuse (revenue-share pumps of mobile ranges: CFCA, GSMA). The
        customer's contacts stay reachable, and a spike of calls to people they know never
        shows it."""
        found = self._dialler_pace(cust, calls, t, day)
        if found is None:
            return False
        pumped, numbers = found
        new = len(numbers)
        assert cust.spread is not None
        if not self._at_night(t) and not self._walks_a_block(cust.spread, numbers, t):
            return False
        if self._own_pace(cust, pumped, t):
            return False
        case.add_reason(DIALLER_PACE)
        pace = {"new_numbers_within_window": new, "calls_in_progress": len(calls)}
        evidence = {"metering": meter_facts, "pace": pace}
        reason = "charges over the customer's baseline at a dialler's pace; further calls denied"
        for call in pumped:
            if call.ctx.call_id not in self.engine.active:
                continue  # cut with an earlier destination
            for cut in self._deny_destination(call.ctx, t, case, reason, evidence, out):
                e164 = cut.ctx.e164
                if e164 and not self._spared_contact(case.subscriber_id, e164, day):
                    self.engine.terminate(cut.ctx.call_id, t, DIALLER_PACE, out)
        return True

    def _own_pace(self, cust: CustomerState, calls: list[ActiveCall], t: float) -> bool:
        """Whether calls at a dialler's pace are the customer's own way of calling: at an
        hour their learned calls often come (``calling_hours`` no evidence against it), on no
        more channels and attempts than their own maxima (a night-shift call centre dialling
        the US). A pump breaks in on a customer: more channels, at hours they do not call."""
        conc, hours = cust.conc, cust.hours
        if conc is None or any(any(conc.excess(c.concurrent, c.burst)) for c in calls):
            return False
        segment = self.population.segment_distribution(cust.segment)
        bucket = self.engine.calendar.bucket(t)
        return hours.score_one(bucket, segment, self.cfg.risk.hour_pseudo_count).lr <= 1.0

    def _at_night(self, t: float) -> bool:
        """Whether ``t`` is in the pump rules' night (``pump_night_starts_hour`` to
        ``pump_night_ends_hour``, local time)."""
        cfg = self.cfg.case
        hour = self.engine.calendar.local_hour(t)
        return not cfg.pump_night_ends_hour <= hour < cfg.pump_night_starts_hour

    def _night_of(self, t: float) -> int:
        """The local day a night began on (its small hours belong to the evening before)."""
        cal = self.engine.calendar
        day = cal.local_day(t)
        return day - 1 if cal.local_hour(t) < self.cfg.case.pump_night_ends_hour else day

    def _dialler_pace(
        self, cust: CustomerState, calls: list[ActiveCall], t: float, day: int
    ) -> tuple[list[ActiveCall], list[str]] | None:
        """The calls in progress to new numbers, and the new numbers dialled within
        ``pump_window_s``, when they come at a dialler's pace; None otherwise. New: first dialled
        since yesterday (a night spans two days) and at most ``pump_max_attempts_per_number``
        times (a pump's list numbers are each called once or twice, while a person redials the
        few people they try to reach). A dialler's pace: ``min_distinct_numbers`` or more new
        numbers, and more of them than calls in progress, so each channel moved on to new numbers
        (an office on three lines to three people does not)."""
        repeats = cust.repeats
        if cust.spread is None or repeats is None:
            return None
        cfg = self.cfg.case

        def fresh(e164: str | None) -> bool:
            dialled = repeats.dialled(e164) if e164 else None
            return (
                dialled is not None
                and dialled[0] >= day - 1
                and dialled[1] <= cfg.pump_max_attempts_per_number
            )

        pumped = [c for c in calls if fresh(c.ctx.e164)]
        if not pumped:
            return None
        window = cfg.pump_window_s
        numbers = [n for n, when in cust.spread.seen.items() if t - when <= window and fresh(n)]
        if len(numbers) < cfg.min_distinct_numbers or len(numbers) <= len(calls):
            return None
        return pumped, numbers

    @staticmethod
    def _first_attempt(cust: CustomerState, call: ActiveCall) -> bool:
        """Whether the call is its number's first attempt (a new number, not a redial)."""
        dialled = cust.repeats.dialled(call.ctx.e164) if cust.repeats and call.ctx.e164 else None
        return dialled is not None and dialled[1] == 1

    def _walked_call(
        self, cust: CustomerState, call: ActiveCall, t: float, day: int, narrow: bool = True
    ) -> bool:
        """A call to a number of a block the customer walks number by number
        (:meth:`_walk_of_singles`), not to one of their contacts on ``day``; with ``narrow``,
        only where a block is a narrow slice of its country's numbers (:func:`_narrow_blocks`)."""
        e164 = call.ctx.e164
        return bool(
            e164
            and (
                not narrow
                or _narrow_blocks(e164, call.ctx.region, self.cfg.block_spread.block_digits)
            )
            and self._walk_of_singles(cust, e164, t)
            and not self._spared_contact(call.ctx.subscriber_id, e164, day)
        )

    @staticmethod
    def _walk_spend(cust: CustomerState, night: int) -> dict[str, float]:
        """The night's charges by number block (``walk_spend``); empty for another night."""
        spent = getattr(cust, "walk_spend", None)  # absent from older snapshots
        return spent[1] if spent is not None and spent[0] == night else {}

    def _add_walk_spend(
        self, cust: CustomerState, call: ActiveCall, t: float, charge: float
    ) -> None:
        """Meter an ended call begun at night by its number's block (``walk_spend``): a walk
        shows only from its third number on, and its first calls count too."""
        ctx = call.ctx
        if not ctx.e164 or not self._at_night(ctx.time):
            return
        if self._spared_contact(ctx.subscriber_id, ctx.e164, ctx.day):
            return
        night = self._night_of(ctx.time)
        blocks = self._walk_spend(cust, night)
        block = BlockSpread.block(ctx.e164, self.cfg.block_spread.block_digits)
        blocks[block] = blocks.get(block, 0.0) + charge
        cust.walk_spend = (night, blocks)

    def _night_walk(
        self,
        sid: str,
        cust: CustomerState,
        calls: list[ActiveCall],
        t: float,
        day: int,
        out: list[Output],
    ) -> None:
        """A night's pump of a number block under the customer's own baseline: at night, new
        numbers at a dialler's pace (:meth:`_dialler_pace`) walking blocks number by number,
        whose calls (ended tonight, and in progress) cost more than the metering floor
        (``daily_floor_jpy``), for a customer known for ``pump_min_history_days``; the call in
        progress is its number's first attempt (a family trying three relatives in turn all
        night redials them). Such calls' destinations are denied and the calls cut, as by
        :meth:`_metered_walk`.

        A heavy customer's baseline (three times their largest day) hides a one-channel pump of
        ordinary numbers of their usual country all night (revenue-share IRSF; CFCA, GSMA), yet a
        person does not dial a new number of one block after another at night: the walk's spend
        has no legitimate baseline to be measured against, only the floor below which a contact
        costs more than it saves. Night only: in the day a business may call a partner's
        extensions, and daytime blends are left to the metered rules; hotels and call centres
        dial many new numbers, but spread over countries, not walking blocks."""
        if cust.first_day < 0 or day - cust.first_day < self.cfg.case.pump_min_history_days:
            return
        if not self._at_night(t):
            return
        walked = [
            c
            for c in calls
            if self._at_night(c.ctx.time)
            and self._first_attempt(cust, c)
            and self._walked_call(cust, c, t, c.ctx.day)
        ]
        if not walked or self._dialler_pace(cust, calls, t, day) is None:
            return
        blocks = self._walk_spend(cust, self._night_of(t))
        bd = self.cfg.block_spread.block_digits
        walked_blocks = {BlockSpread.block(c.ctx.e164 or "", bd) for c in walked}
        ended = sum(blocks.get(b, 0.0) for b in walked_blocks)
        live = sum(c.exposure(t) for c in walked)
        floor = self.cfg.metering.daily_floor_jpy
        if ended + live < floor:
            return
        facts: dict[str, Any] = {
            "walk_jpy_tonight": round(ended + live),
            "floor_jpy": round(floor),
            "calls_in_progress": len(calls),
            "walked_calls": len(walked),
        }
        out.append(Alert(t, "charge_meter", Severity.WARNING, sid, facts))
        log_odds = max(c.log_odds for c in walked)
        case = self._open_case(sid, t, log_odds, facts, out)
        case.add_reason(NIGHT_WALK)
        case.last_evidence = t
        reason = "a night's calls walking a number block cost more than the floor; denied"
        evidence = {"walk": facts}
        for call in walked:
            if call.ctx.call_id not in self.engine.active:
                continue
            self._deny_destination(call.ctx, t, case, reason, evidence, out)
            self.engine.terminate(call.ctx.call_id, t, NIGHT_WALK, out)
        self._maybe_suspend(case, t, out)

    def _metered_walk(
        self,
        case: Case,
        cust: CustomerState,
        calls: list[ActiveCall],
        t: float,
        day: int,
        meter_facts: dict[str, Any],
        out: list[Output],
        first_week: bool = False,
    ) -> bool:
        """Charges over the customer's baseline on a call to a block they walk (low and slow):
        deny its destination and cut it, unless it goes to a contact; True when it did.

        Like the pump, for a customer known for ``pump_min_history_days``; in their first week
        (``first_week``) only where a block is a narrow slice of its country
        (:func:`_narrow_blocks`), at a dialler's pace (:meth:`_dialler_pace`), on a number's
        first attempt: every number is new then, but a new customer calling one new number of
        one block after another, each channel moving on, is no person either (an attack in a
        new line's first days, blended into office hours, ran on call after call, each cut by
        the meter), while a new office calling its branch's three lines every evening keeps to
        them."""
        if first_week:
            found = self._dialler_pace(cust, calls, t, day)
            if found is None:
                return False
            calls = [c for c in found[0] if self._first_attempt(cust, c)]
        walked = [c for c in calls if self._walked_call(cust, c, t, day, narrow=first_week)]
        if not walked:
            return False
        case.add_reason(BLOCK_WALK)
        evidence = {"metering": meter_facts}
        reason = "charges over the customer's baseline on a number block they walk; denied"
        for call in walked:
            if call.ctx.call_id not in self.engine.active:
                continue
            self._deny_destination(call.ctx, t, case, reason, evidence, out)
            self.engine.terminate(call.ctx.call_id, t, BLOCK_WALK, out)
        return True

    def _walk_of_singles(self, cust: CustomerState, e164: str, t: float) -> bool:
        """Whether ``e164`` and ``block_spread.min_others`` other numbers of its block, dialled
        within the detector's window, were each dialled at most ``pump_max_attempts_per_number``
        times: a list walked number by number (low and slow), not a family's or a branch's few
        numbers of one exchange called again and again."""
        repeats, spread = cust.repeats, cust.spread
        if repeats is None or spread is None:
            return False
        bs, most = self.cfg.block_spread, self.cfg.case.pump_max_attempts_per_number

        def single(n: str) -> bool:
            dialled = repeats.dialled(n)
            return dialled is not None and dialled[1] <= most

        if not single(e164):
            return False
        block = BlockSpread.block(e164, bs.block_digits)
        others = sum(
            1
            for n, when in spread.seen.items()
            if n != e164 and t - when <= bs.window_s and n.startswith(block) and single(n)
        )
        return others >= bs.min_others

    def _walks_a_block(self, spread: BlockSpread, numbers: list[str], t: float) -> bool:
        """Whether one of ``numbers`` is of a block the customer walks (``block_spread``: they
        dialled ``min_others`` or more other numbers of it within its window)."""
        bs = self.cfg.block_spread
        return any(
            spread.others_in_block(n, t, bs.window_s, bs.block_digits) >= bs.min_others
            for n in numbers
        )

    def _is_contact(self, cust: CustomerState, e164: str, day: int) -> bool:
        rc = self.cfg.repeat_contact
        repeats = cust.repeats
        return repeats is not None and repeats.is_contact(
            e164, day, rc.min_days, rc.max_per_day, rc.window_days
        )

    # -- cases ------------------------------------------------------------------------------------
    def _open_case(
        self, sid: str, t: float, log_odds: float, facts: dict[str, Any], out: list[Output]
    ) -> Case:
        case = self.cases.get(sid)
        if case is None:
            case = Case(sid, t, log_odds, next_contact=t, last_evidence=t)
            self.cases[sid] = case
            self._learn_held(sid, t)  # what is past its hold was before the anomaly
            self.held.pop(sid, None)  # the rest came with it
            case.evidence = facts
            case.established = self._established_contacts(case)
            novelty = self.customer(sid).novelty
            if novelty is not None:
                case.usual_destinations = frozenset(
                    k for k, n in novelty.countries.items() if n >= 2
                )
            self._contact(case, t, out)
        else:
            case.log_odds = max(case.log_odds, log_odds)
        return case

    def _contact(self, case: Case, t: float, out: list[Output]) -> None:
        cfg = self.cfg.case
        attempt = ContactAttempt(t, "phone")
        case.attempts.append(attempt)
        case.next_contact = t + cfg.contact_interval_s
        out.append(
            Action(
                t,
                ActionKind.CONTACT_ATTEMPT,
                f"attempt {len(case.attempts)} of {cfg.contact_attempts}: ask the customer "
                "whether the international calls are theirs",
                ACTOR,
                subscriber_id=case.subscriber_id,
                evidence={
                    "channel": attempt.channel,
                    "attempt": len(case.attempts),
                    "reasons": list(case.reasons),
                },
            )
        )

    def case_probability(self, case: Case) -> float:
        """Probability that the case is fraud, from all its evidence."""
        cfg = self.cfg.case
        extra = math.log(cfg.persistence_lr) * min(max(case.high_risk_attempts - 1, 0), 10)
        lo = max(case.log_odds, case.best_call_log_odds) + extra + case.metering_log_lr
        if case.bruteforce:
            lo += math.log(self.cfg.sip_flood.bruteforce_lr)
        return _sigmoid(lo)

    def _established_contacts(self, case: Case) -> frozenset[str]:
        """Numbers the customer called on separate days in the month before the case opened
        (``repeat_contact``): a suspension spares them, since the attack did not dial them and
        the duty to provide service (役務提供義務) asks for no more refusal than the fraud needs."""
        cust = self.customers.get(case.subscriber_id)
        if cust is None or cust.repeats is None:
            return frozenset()
        rc = self.cfg.repeat_contact
        opened = self.engine.calendar.local_day(case.opened_at)
        return frozenset(
            n
            for n in cust.repeats.days
            if n not in case.numbers
            and cust.repeats.is_contact(
                n, opened, rc.established_min_days, rc.max_per_day, rc.established_window_days
            )
        )

    def reachable_while_denied(self, ctx: CallContext) -> bool:
        """A call to a number the customer dials as a person does (``repeat_contact``), or to
        a contact established when their case opened (an attack of many numbers soon pushes
        the contacts out of memory): their destination denial, meant for the attack's further
        calls to that country or range, spares it. The call is still weighed like any other."""
        e164 = ctx.e164
        if not e164:
            return False
        return self._spared_contact(ctx.subscriber_id, e164, ctx.day)

    def reachable_while_suspended(self, ctx: CallContext) -> bool:
        """A suspended customer's call to a contact established before the case opened, or to
        one of their usual destinations that the attack's risky calls did not go to."""
        case = self.cases.get(ctx.subscriber_id)
        if case is None or case.state is not CaseState.SUSPENDED or not ctx.e164:
            return False
        if ctx.e164 in getattr(case, "spared", ()):  # absent from older snapshots
            return True
        usual = getattr(case, "usual_destinations", ())
        return ctx.region not in case.countries and destination_key(ctx) in usual

    def _attack_like(self, case: Case, ctx: CallContext) -> bool:
        """Whether a suspended customer's attempt looks like their attack's: to one of its
        countries that is not one of the customer's usual ones (a family's calls to their
        people in Brazil are not a pump of Brazil's premium ranges), or to a dear or restricted
        destination."""
        return self._dear(ctx) or ctx.region in case.attack_countries()

    def _maybe_narrow_suspension(self, case: Case, t: float, out: list[Output]) -> None:
        """Once a suspension's attack has been quiet for ``suspension_quiet_hours``, narrow it
        to what the attack went for: deny the attack's countries (not the customer's usual
        ones) until the customer confirms, restore the rest of international calling (each call
        weighed as usual), and close the case. A customer who never calls back is not cut off
        from the world for good."""
        cfg = self.cfg.case
        seen = max(getattr(case, "attack_seen", 0.0), case.last_evidence)
        if t - seen < cfg.suspension_quiet_hours * _HOUR:
            return
        sid = case.subscriber_id
        controls = self.engine.controls
        suspension = controls.suspended(sid)
        if suspension is None or suspension.actor != ACTOR:
            return  # an operator's suspension is the operator's to lift
        quiet_h = round((t - seen) / _HOUR, 1)
        reason = (
            f"the attack has been quiet for {quiet_h} h since the suspension: international "
            "calling restored except the attack's countries, denied until the customer confirms"
        )
        # The customer's usual countries stay open (their calls weighed as usual), and the
        # contacts the suspension spared there go with the case.
        countries = sorted(case.attack_countries())
        evidence = {
            "suspended_since": suspension.since,
            "last_attack_attempt": seen,
            "countries_still_denied": countries,
            "case_opened": case.opened_at,
        }
        for region in countries:  # replacing the day's denial where there is one
            self._put_destination_denial(sid, region, region, t, math.inf, reason, evidence, out)
        controls.lift(ControlKind.SUSPENSION, sid)
        out.append(
            Action(
                t,
                ActionKind.RESTORE_INTERNATIONAL,
                reason,
                ACTOR,
                subscriber_id=sid,
                evidence=evidence,
            )
        )
        case.state = CaseState.CLOSED
        case.closed_reason = "attack quiet after suspension; narrowed to the attack's countries"
        self.closed_cases.append(self.cases.pop(sid))

    def _maybe_suspend(self, case: Case, t: float, out: list[Output]) -> None:
        cfg = self.cfg.case
        if case.state is not CaseState.UNREACHABLE:
            return
        p = self.case_probability(case)
        signs = case.machine_behaviour(cfg.min_distinct_numbers)
        if p < cfg.suspend_probability or not signs:
            return
        if case.risky_attempts_since(t - cfg.suspend_within_s) == 0:
            return  # the attack stopped: suspension is for one in progress
        sid = case.subscriber_id
        reason = (
            "fraud highly probable and the customer could not be reached after "
            f"{len(case.attempts)} attempts: international calling suspended (利用休止)"
        )
        evidence = {
            "fraud_probability": round(p, 6),
            "machine_behaviour": signs,
            "reasons": list(case.reasons),
            "contact_attempts": len(case.attempts),
            "case_opened": case.opened_at,
            "countries": sorted(case.countries),
            "numbers_dialled": len(case.numbers),
        }
        # Taken when the case opened; only a case from an older snapshot lacks it. Computing it
        # again now could only find fewer: the contacts' days before the opening age out.
        established: frozenset[str] | None = getattr(case, "established", None)
        if established is None:
            established = self._established_contacts(case)
        case.spared = established.difference(case.numbers)
        if case.spared:
            evidence["established_contacts_still_reachable"] = len(case.spared)
        usual: frozenset[str] = getattr(case, "usual_destinations", frozenset()) - case.countries
        if usual:  # counted, not listed, like the contacts
            evidence["usual_destinations_still_reachable"] = len(usual)
        case.state = CaseState.SUSPENDED  # before cutting calls: their ends re-enter the meter
        case.attack_seen = t
        control = Control(ControlKind.SUSPENSION, sid, reason, t, math.inf, ACTOR)
        self.engine.put_control(
            control,
            Action(
                t,
                ActionKind.SUSPEND_INTERNATIONAL,
                reason,
                ACTOR,
                subscriber_id=sid,
                evidence=evidence,
            ),
            out,
        )
        for call in self.engine.customer_calls(sid):
            self.engine.terminate(call.ctx.call_id, t, "international_suspended", out)
        out.append(
            Action(
                t,
                ActionKind.NOTIFY,
                "post-notification (事後連絡): international calling was suspended "
                "because of suspected fraud; call us to restore it",
                ACTOR,
                subscriber_id=sid,
                evidence={"channel": "email", "template": "post_suspension"},
            )
        )

    def contact_outcome(self, event: ContactOutcome, out: list[Output]) -> None:
        """The customer answered (or not): restore, suspend or keep trying."""
        sid = event.subscriber_id
        case = self.cases.get(sid)
        t = event.time
        if case is not None:
            case.attempts.append(ContactAttempt(t, event.channel, event.result.value))
        if event.result is ContactResult.NO_ANSWER:
            return
        if event.result is ContactResult.CONFIRMED_FRAUD:
            if case is None:
                case = self._open_case(sid, t, 0.0, {"confirmed_by": event.actor}, out)
            case.state = CaseState.UNREACHABLE
            case.log_odds = 50.0
            case.bruteforce = True  # confirmed by the customer: no machine evidence needed
            self._maybe_suspend(case, t, out)
            return
        # Confirmed legitimate: lift what tollguard put on this customer and learn.
        reason = f"customer confirmed the calls are theirs: {event.note}".strip(": ")
        lifted = self.engine.controls.lift_destinations(sid)
        for c in lifted:
            out.append(lift_action(c, t, reason, event.actor))
        if self.engine.controls.lift(ControlKind.SUSPENSION, sid) is not None:
            out.append(
                Action(
                    t,
                    ActionKind.RESTORE_INTERNATIONAL,
                    "customer confirmed the calls are theirs",
                    event.actor,
                    subscriber_id=sid,
                )
            )
        cust = self.customer(sid)
        if case is not None:
            if cust.novelty is None:
                cust.novelty = DestinationNovelty()
            for country in sorted(case.countries):
                cust.novelty.learn_one(country)
            for c in lifted:
                if c.subject.startswith("+"):  # a dear range denied: now one of theirs
                    cust.novelty.learn_one(c.subject)
            case.state = CaseState.CLOSED
            self.closed_cases.append(self.cases.pop(sid))

    # -- SIP ----------------------------------------------------------------------------------
    def sip_event(self, event: SipEvent, out: list[Output]) -> None:
        """Floods block the address; a brute-forced credential opens a case."""
        cfg = self.cfg.sip_flood
        ev = self.sip.learn_one(
            event.time,
            event.source_ip,
            event.username,
            event.event.value,
            cfg.window_s,
            cfg.min_failures,
            cfg.min_usernames,
            cfg.single_user_failures,
        )
        self.sip_decide(event, ev, out)

    def sip_decide(self, event: SipEvent, ev: Evidence | None, out: list[Output]) -> None:
        """Act on a SIP event given what the flood detector found in its window (``ev``):
        learn a customer's address from a success, block a flood, open a brute-force case."""
        cfg = self.cfg.sip_flood
        sid = self.engine.subscriber_for_username(event.username)
        ipi = self.engine.ips.lookup(event.source_ip)
        learnable = event.event.value in ("auth_success", "register") and ev is None
        if learnable and sid is not None and ipi.scope.value == "public":
            cust = self.customer(sid)
            known = cust.ips is not None and (
                cust.ips.knows(event.source_ip) or ipi.country in cust.ips.countries
            )
            if cust.ips is None:
                cust.ips = SourceIpHistory()
            if known or cust.ips.n == 0 or ipi.country == self.cfg.home_region:
                cust.ips.learn_one(event.source_ip, ipi.network, ipi.country)
        if ev is None:
            return
        if ev.reason == "sip_auth_flood":
            if ipi.scope.value != "public" or self.engine.controls.ip_blocked(event.source_ip):
                return
            if (
                self._usual_address(event.source_ip)
                and ev.facts.get("usernames", 0) < cfg.min_usernames
            ):
                out.append(
                    Alert(
                        event.time,
                        ev.detector,
                        Severity.WARNING,
                        None,
                        {
                            **ev.facts,
                            "blocked": False,
                            "why_not": "a customer's usual address; likely a misconfigured PBX",
                        },
                    )
                )
                return
            until = event.time + cfg.block_hours * _HOUR
            self._block_ip(
                event.source_ip,
                event.time,
                until,
                "SIP authentication-failure flood from this address",
                {**ev.facts, "ip_country": ipi.country},
                out,
            )
            return
        facts = {**ev.facts, "subscriber_id": sid}
        out.append(Alert(event.time, "sip_bruteforce", Severity.CRITICAL, sid, facts))
        if (
            ipi.scope.value == "public"
            and ipi.country is not None
            and ipi.country != self.cfg.home_region
            and not self._usual_address(event.source_ip)
            and self.engine.controls.ip_blocked(event.source_ip) is None
        ):
            # A foreign address just guessed a credential after a flood of failures: block it as
            # a flood source. A domestic one may be the customer's own new PBX that retried a
            # stale password until someone fixed it: that stays evidence on its calls and a case.
            self._block_ip(
                event.source_ip,
                event.time,
                event.time + cfg.block_hours * _HOUR,
                "SIP credential brute-forced from this address",
                {**facts, "ip_country": ipi.country},
                out,
            )
        if sid is not None:
            self.bruteforced_lines[(event.source_ip, sid)] = event.time
            case = self._open_case(sid, event.time, self._prior, facts, out)
            case.bruteforce = True
            case.add_reason("bruteforced_credential")

    def _usual_address(self, ip: str) -> bool:
        return any(s.ips is not None and s.ips.knows(ip) for s in self.customers.values())

    # -- ticks -----------------------------------------------------------------------------------
    def tick(self, t: float, out: list[Output]) -> None:
        """Contact timers, live metering of calls in progress, forgetting old windows."""
        cfg = self.cfg
        for case in list(self.cases.values()):
            if case.state is CaseState.CONTACTING and t >= case.next_contact:
                if len(case.attempts) < cfg.case.contact_attempts:
                    self._contact(case, t, out)
                else:
                    case.state = CaseState.UNREACHABLE
                    self._maybe_suspend(case, t, out)
            elif case.state is CaseState.SUSPENDED:
                self._maybe_narrow_suspension(case, t, out)
            elif (
                case.state is CaseState.UNREACHABLE
                and t - case.last_evidence >= cfg.case.quiet_close_hours * _HOUR
            ):
                case.state = CaseState.CLOSED
                case.closed_reason = "no new evidence; closed without suspension"
                self.closed_cases.append(self.cases.pop(case.subscriber_id))
        over = [
            c
            for c in self.watched.values()
            if c.answered is not None and t - c.answered >= (c.watch_s or 0.0)
        ]
        for call in over:
            self._watch_over(call, t, out)
        for sid in sorted(self.engine.by_customer):
            self._meter(sid, t, out)
        if t - self._last_forget >= 600.0:
            self._last_forget = t
            self.shared_ip.forget(t, cfg.source_ip.shared_window_s)
            self.country_burst.forget(t, cfg.country_burst.window_s)
            self.range_burst.forget(t, cfg.range_burst.window_s)
            self.sip.forget(t, cfg.sip_flood.window_s)
            memory = cfg.sip_flood.bruteforce_memory_s
            for key in [k for k, when in self.bruteforced_lines.items() if t - when > memory]:
                del self.bruteforced_lines[key]
