"""The reference policy: the source document's process, run through the same engine.

Every hour, meter each customer's charges of *ended* international calls over the past hour;
when they exceed both a floor and a multiple of the customer's usual hourly charge, and the
destinations called include one on the restricted destination list, open a case, try to contact
the customer several times, and when nobody answers suspend international calling and notify
afterwards. Calls are never judged at set-up and calls in progress are not cut (the document
describes neither); a suspension stops new calls. This is what the backtest compares against.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tollguard.domain.cases import Case, CaseState, ContactAttempt
from tollguard.domain.controls import Control, ControlKind, DenyReason
from tollguard.domain.detectors.base import CallContext
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

if TYPE_CHECKING:
    from tollguard.domain.engine import ActiveCall, Engine

ACTOR = "reference"


class ReferencePolicy:
    """Hourly metering of ended calls, restricted-list check, contact, then suspension."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cfg = engine.config.reference
        self.hour_charges: dict[str, float] = {}
        self.hour_countries: dict[str, set[str]] = {}
        self.usual_hourly: dict[str, float] = {}
        self.hours_seen: dict[str, int] = {}
        self.cases: dict[str, Case] = {}
        self.next_meter: float | None = None

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "engine"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    def observe_attempt(self, ctx: CallContext, out: list[Output]) -> None:
        """The reference process does not look at attempts."""

    def domestic_call(self, ctx: CallContext) -> None:
        """The reference process does not look at domestic calls."""

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
        """The reference process does not look at domestic calls."""

    def denied_by_control(self, ctx: CallContext, reason: DenyReason, out: list[Output]) -> None:
        """Nothing more to do: the control already refused the call."""

    def reachable_while_suspended(self, ctx: CallContext) -> bool:
        """The source document's suspension stops every international call."""
        return False

    def reachable_while_denied(self, ctx: CallContext) -> bool:
        """The source document's process denies no destinations of one customer."""
        return False

    def assess(self, ctx: CallContext, out: list[Output]) -> tuple[bool, tuple[str, ...], float]:
        """Every call the controls let through is allowed."""
        from tollguard.domain.engine import ActiveCall

        self.engine.register_active(ActiveCall(ctx, -50.0, 0, 0))
        return True, (), -50.0

    def call_ended(self, call: ActiveCall, t: float, charge: float, out: list[Output]) -> None:
        """Add the ended call's charge to the current metering hour."""
        if charge <= 0:
            return
        sid = call.ctx.subscriber_id
        self.hour_charges[sid] = self.hour_charges.get(sid, 0.0) + charge
        if call.ctx.restricted is not None and call.ctx.region:
            self.hour_countries.setdefault(sid, set()).add(call.ctx.region)

    def sip_event(self, event: SipEvent, out: list[Output]) -> None:
        """The reference process does not use SIP events."""

    def tick(self, t: float, out: list[Output]) -> None:
        """Hourly metering and the contact timers."""
        if self.next_meter is None:
            self.next_meter = (math.floor(t / self.cfg.meter_interval_s) + 1) * (
                self.cfg.meter_interval_s
            )
        if t >= self.next_meter:
            self.next_meter += self.cfg.meter_interval_s
            self._meter(t, out)
        for case in list(self.cases.values()):
            if case.state is CaseState.CONTACTING and t >= case.next_contact:
                if len(case.attempts) < self.cfg.contact_attempts:
                    self._contact(case, t, out)
                else:
                    self._suspend(case, t, out)

    def _meter(self, t: float, out: list[Output]) -> None:
        charges, self.hour_charges = self.hour_charges, {}
        countries, self.hour_countries = self.hour_countries, {}
        for sid in sorted(set(charges) | set(self.usual_hourly)):
            x = charges.get(sid, 0.0)
            n = self.hours_seen.get(sid, 0)
            usual = self.usual_hourly.get(sid, 0.0)
            threshold = max(self.cfg.hourly_floor_jpy, self.cfg.baseline_multiple * usual)
            if x > threshold and countries.get(sid) and sid not in self.cases:
                evidence = {
                    "hour_charges_jpy": round(x),
                    "usual_hourly_jpy": round(usual),
                    "restricted_countries": sorted(countries[sid]),
                }
                out.append(Alert(t, "hourly_metering", Severity.CRITICAL, sid, evidence))
                case = Case(sid, t, 0.0, next_contact=t)
                case.evidence = evidence
                self.cases[sid] = case
                self._contact(case, t, out)
            elif x <= threshold:
                self.usual_hourly[sid] = (
                    (usual * n + x) / (n + 1) if n < 720 else usual + (x - usual) / 720
                )
                self.hours_seen[sid] = n + 1

    def _contact(self, case: Case, t: float, out: list[Output]) -> None:
        case.attempts.append(ContactAttempt(t, "phone"))
        case.next_contact = t + self.cfg.contact_interval_s
        out.append(
            Action(
                t,
                ActionKind.CONTACT_ATTEMPT,
                f"attempt {len(case.attempts)} of {self.cfg.contact_attempts}",
                ACTOR,
                subscriber_id=case.subscriber_id,
            )
        )

    def _suspend(self, case: Case, t: float, out: list[Output]) -> None:
        sid = case.subscriber_id
        reason = "charges rose sharply and the customer could not be reached"
        control = Control(ControlKind.SUSPENSION, sid, reason, t, math.inf, ACTOR)
        self.engine.put_control(
            control,
            Action(
                t,
                ActionKind.SUSPEND_INTERNATIONAL,
                reason,
                ACTOR,
                subscriber_id=sid,
                evidence=dict(case.evidence),
            ),
            out,
        )
        out.append(
            Action(
                t,
                ActionKind.NOTIFY,
                "post-notification of the suspension",
                ACTOR,
                subscriber_id=sid,
                evidence={"channel": "email"},
            )
        )
        case.state = CaseState.SUSPENDED

    def contact_outcome(self, event: ContactOutcome, out: list[Output]) -> None:
        """A confirmed-legitimate answer closes the case and restores service."""
        case = self.cases.get(event.subscriber_id)
        if case is None or event.result is ContactResult.NO_ANSWER:
            return
        if event.result is ContactResult.CONFIRMED_FRAUD:
            self._suspend(case, event.time, out)
            return
        if self.engine.controls.lift(ControlKind.SUSPENSION, event.subscriber_id) is not None:
            out.append(
                Action(
                    event.time,
                    ActionKind.RESTORE_INTERNATIONAL,
                    "customer confirmed the calls",
                    event.actor,
                    subscriber_id=event.subscriber_id,
                )
            )
        del self.cases[event.subscriber_id]
