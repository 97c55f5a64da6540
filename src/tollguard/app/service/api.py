"""The HTTP API of ``tollguard serve`` (FastAPI). See ``docs/service.md``.

Routes that touch the engine are ``async``: they run on the event loop, which owns the engine, so
a decision needs no lock and no thread hop. Routes that only read or write the store are plain
functions, run in the thread pool.
"""

from __future__ import annotations

import ipaddress
import math
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollguard import __version__
from tollguard.adapters.exports import ipset_restore, nftables_set
from tollguard.adapters.store import StoreError
from tollguard.app.console import router as console_router
from tollguard.app.service.auth import Principal, Role, new_token, token_hash
from tollguard.app.service.case_routes import case_router
from tollguard.app.service.contacts import record_contact as record_contact_outcome
from tollguard.app.service.deps import (
    AsAdmin,
    AsAnalyst,
    AsAny,
    AsSwitch,
)
from tollguard.app.service.fastpath import AuthorizeFastPath, authorize_answer
from tollguard.app.service.intel_routes import intel_router
from tollguard.app.service.metrics import ServiceMetrics
from tollguard.app.service.recorder import utc
from tollguard.app.service.runtime import ServiceRuntime
from tollguard.domain.controls import ControlKind
from tollguard.domain.events import ActionKind, ContactResult, Terminate
from tollguard.domain.records import (
    IntlStatus,
    Segment,
    Service,
    SipEventKind,
    SipSecurityEvent,
    Subscriber,
)
from tollguard.domain.restricted import (
    DestinationKind,
    RestrictedDestination,
    RestrictedDestinationList,
)

_PUT_ACTION = {
    ControlKind.SUSPENSION: ActionKind.SUSPEND_INTERNATIONAL,
    ControlKind.COUNTRY_RESTRICTION: ActionKind.RESTRICT_COUNTRY,
    ControlKind.IP_BLOCK: ActionKind.BLOCK_IP,
    ControlKind.DESTINATION_DENIAL: ActionKind.DENY_DESTINATION,
}
_LIFT_ACTION = {
    ControlKind.SUSPENSION: ActionKind.RESTORE_INTERNATIONAL,
    ControlKind.COUNTRY_RESTRICTION: ActionKind.LIFT_COUNTRY,
    ControlKind.IP_BLOCK: ActionKind.UNBLOCK_IP,
    ControlKind.DESTINATION_DENIAL: ActionKind.ALLOW_DESTINATION,
}


class BodyLimit:
    """Refuses (413) a request whose declared or streamed body exceeds ``max_bytes``.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs a task per request.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
                break
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, f"request body larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_bytes} bytes"}, status_code=413
        )
        await response(scope, receive, send)


RECORD_WAIT_S = 5.0
"""How long a control change waits for the store before answering (it is in force at once
either way; ``"recorded": false`` says the store has not written it yet)."""


# -- models -----------------------------------------------------------------------------------
class AuthorizeRequest(BaseModel):
    """A call set-up to decide. Give ``subscriber_id`` or ``caller`` (number or SIP user)."""

    call_id: str = Field(min_length=1, max_length=256)
    callee: str = Field(min_length=1, max_length=64)
    caller: str | None = Field(default=None, max_length=256)
    subscriber_id: str | None = Field(default=None, max_length=64)
    source_ip: str | None = Field(default=None, max_length=64)


class AuthorizeResponse(BaseModel):
    """Allow or deny, with the first reason (what a switch puts in its 403) and all of them.

    ``max_answered_s``: a call allowed under watch (``allowed_under_watch``) is cut once it has
    been answered this many seconds; the switch may enforce it itself (a dialog timeout from the
    answer), so the watch holds even when tollguard cannot reach the switch. tollguard may cut
    sooner. ``null``: no limit."""

    decision: Literal["allow", "deny"]
    reason: str
    reasons: list[str]
    call_id: str
    subscriber_id: str
    max_answered_s: int | None = None


class CallEvent(BaseModel):
    """A call answered or ended. ``billable_seconds`` (ended only) overrides the measured time."""

    call_id: str = Field(min_length=1, max_length=256)
    billable_seconds: float | None = Field(default=None, ge=0)


class SipEventIn(BaseModel):
    """A SIP security event from the switch or its logs."""

    source_ip: str = Field(min_length=1, max_length=64)
    username: str = Field(max_length=128)
    event: SipEventKind
    user_agent: str = Field(default="", max_length=256)


class ControlIn(BaseModel):
    """A control to put in force. ``subject``: subscriber id, ISO country, IP address, or (for a
    destination denial) a country or ``+range``, with ``subscriber_id`` for one customer's."""

    kind: ControlKind
    subject: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=3, max_length=2000)
    until: datetime | None = None
    duration_s: float | None = Field(default=None, gt=0)
    subscriber_id: str | None = Field(default=None, max_length=64)


class ReasonIn(BaseModel):
    """A reason, required for every change a person makes."""

    reason: str = Field(min_length=3, max_length=2000)
    until: datetime | None = None
    duration_s: float | None = Field(default=None, gt=0)


class ContactIn(BaseModel):
    """The outcome of an attempt to reach a customer about a case."""

    result: ContactResult
    channel: str = Field(default="phone", max_length=32)
    note: str = Field(default="", max_length=2000)


class SubscriberIn(BaseModel):
    """A customer (the subscribers CSV's columns)."""

    subscriber_id: str = Field(min_length=1, max_length=64)
    segment: Segment
    service: Service
    numbers: list[str] = Field(min_length=1)
    email: str = Field(max_length=256)
    intl_status: IntlStatus = IntlStatus.ENABLED
    equipment: str | None = Field(default=None, max_length=256)


class RestrictedIn(BaseModel):
    """An entry of the restricted destination list (規制対地リスト) with its criteria."""

    kind: Literal["country", "range"]
    value: str = Field(min_length=1, max_length=16, description="ISO alpha-2, or E.164 prefix")
    name: str = Field(min_length=1, max_length=200)
    no_government_traffic: bool
    no_life_critical_traffic: bool
    reason: str = Field(min_length=3, max_length=2000)
    provenance: str = Field(min_length=3, max_length=2000)


def restricted_entry(body: RestrictedIn) -> RestrictedDestination:
    """The domain entry for a request (country codes upper-cased, ranges without ``+``)."""
    value = body.value.strip()
    if body.kind == "country":
        value = value.upper()
        if len(value) != 2 or not value.isalpha():
            raise HTTPException(422, "a country entry's value is an ISO alpha-2 code")
    else:
        value = value.lstrip("+")
        if not value.isdigit():
            raise HTTPException(422, "a range entry's value is an E.164 prefix (digits)")
    return RestrictedDestination(
        DestinationKind(body.kind),
        value,
        body.name,
        body.no_government_traffic,
        body.no_life_critical_traffic,
        body.reason,
        body.provenance,
    )


class TokenIn(BaseModel):
    """A new API token."""

    name: str = Field(min_length=1, max_length=128)
    role: Role


def destination_subject(subject: str, subscriber_id: str | None) -> str:
    """A destination denial's subject: a country (one customer's) or an E.164 range, checked."""
    value = subject.strip()
    if len(value) == 2 and value.isalpha():
        if subscriber_id is None:
            raise HTTPException(422, "a country is denied for everyone with a country restriction")
        return value.upper()
    digits = value.removeprefix("+")
    if not digits.isdigit() or len(digits) > 15:
        raise HTTPException(422, "a destination is an ISO country code or an E.164 range (+digits)")
    return f"+{digits}" if subscriber_id is not None else digits


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat()


def _posix_iso(t: float) -> str | None:
    return None if math.isinf(t) else datetime.fromtimestamp(t, UTC).isoformat()


# -- the application --------------------------------------------------------------------------
def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The FastAPI application over a runtime (started and stopped with the app)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="tollguard",
        version=__version__,
        summary="International toll fraud (IRSF) protection: authorization, controls, cases.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: off (closed networks).
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)
    live = runtime.live
    store = runtime.store
    metrics = ServiceMetrics(
        lambda: {
            "calls_in_progress": float(live.calls_in_progress()),
            "open_cases": float(len(live.engine.policy.cases))
            if hasattr(live.engine.policy, "cases")
            else 0.0,
            "recorder_backlog": float(runtime.recorder.backlog),
            "recorder_errors": float(runtime.recorder.stats.errors),
            "store_retries": float(runtime.recorder.stats.store_retries),
            "switch_failures": float(runtime.recorder.stats.switch_failures),
            "controls_in_force": float(len(live.controls())),
            "uptime_seconds": runtime.clock() - runtime.started_at,
        }
    )
    app.state.metrics = metrics
    if runtime.settings.fast_authorize:
        app.add_middleware(AuthorizeFastPath, runtime=runtime, metrics=metrics)
    app.include_router(intel_router)
    app.include_router(case_router)

    # -- health ----------------------------------------------------------------------------
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """Ready to serve: the store answers and the recorder keeps up."""
        try:
            store.count("subscribers")
        except Exception as exc:
            return JSONResponse({"status": "store unreachable", "error": str(exc)}, 503)
        backlog = runtime.recorder.backlog
        status = "ok" if backlog < 10_000 else "recorder behind"
        if runtime.recorder.store_down_since is not None:
            status = "store unreachable"
        return JSONResponse(
            {"status": status, "subscribers": len(live.engine.subscribers), "backlog": backlog},
            200 if status == "ok" else 503,
        )

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def prometheus(_who: AsAny) -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # -- authorization and events ----------------------------------------------------------
    def decide(req: AuthorizeRequest) -> AuthorizeResponse:
        return AuthorizeResponse(**authorize_answer(live, metrics, req.model_dump()))

    @app.post("/v1/authorize", tags=["switch"])
    async def authorize(req: AuthorizeRequest, _who: AsSwitch) -> AuthorizeResponse:
        """Decide a call set-up (allow or deny, with the reason)."""
        return decide(req)

    @app.get("/v1/authorize", tags=["switch"])
    async def authorize_get(
        _who: AsSwitch,
        call_id: Annotated[str, Query(min_length=1, max_length=256)],
        callee: Annotated[str, Query(min_length=1, max_length=64)],
        caller: Annotated[str | None, Query(max_length=256)] = None,
        subscriber_id: Annotated[str | None, Query(max_length=64)] = None,
        source_ip: Annotated[str | None, Query(max_length=64)] = None,
    ) -> AuthorizeResponse:
        """The same as ``POST /v1/authorize``, for switches that can only send GET."""
        return decide(
            AuthorizeRequest(
                call_id=call_id,
                callee=callee,
                caller=caller,
                subscriber_id=subscriber_id,
                source_ip=source_ip,
            )
        )

    @app.post("/v1/events/call-answered", status_code=204, tags=["switch"])
    async def call_answered(ev: CallEvent, _who: AsSwitch) -> Response:
        """The callee answered: billing starts."""
        metrics.events.labels("call_answered").inc()
        live.call_answered(ev.call_id)
        return Response(status_code=204)

    @app.post("/v1/events/call-ended", status_code=204, tags=["switch"])
    async def call_ended(ev: CallEvent, _who: AsSwitch) -> Response:
        """The call ended."""
        metrics.events.labels("call_ended").inc()
        live.call_ended(ev.call_id, billable_seconds=ev.billable_seconds)
        return Response(status_code=204)

    @app.post("/v1/events/sip", status_code=204, tags=["switch"])
    async def sip_event(ev: SipEventIn, _who: AsSwitch) -> Response:
        """A SIP security event (failed or successful authentication, registration)."""
        metrics.events.labels("sip").inc()
        live.sip_event(ev.source_ip, ev.username, ev.event, ev.user_agent)
        record = SipSecurityEvent(
            utc(live.now()), ev.source_ip, ev.username, ev.event, ev.user_agent
        )

        def keep() -> None:  # stored for the record and for equipment models (User-Agent)
            store.insert_sip_events([record])

        runtime.recorder.call(keep)
        return Response(status_code=204)

    @app.post("/v1/cdrs", tags=["switch"])
    async def post_cdrs(
        request: Request,
        _who: AsSwitch,
        format: Annotated[str | None, Query(max_length=32)] = None,
    ) -> dict[str, Any]:
        """CDRs of ended calls, as CSV (any format ``tollguard ingest`` reads) or a JSON list in
        the tollguard CDR columns. Stored with quarantine of bad rows (file, line, field), and
        metered by the engine as they arrive (calls already followed live are not counted twice).
        """
        body = await request.body()
        ctype = request.headers.get("content-type", "")
        return await ingest_cdrs(runtime, body, ctype, format)

    # -- controls --------------------------------------------------------------------------
    def until_of(until: datetime | None, duration_s: float | None) -> float | None:
        now = live.now()
        if until is not None and duration_s is not None:
            raise HTTPException(422, "give until or duration_s, not both")
        if duration_s is not None:
            return now + duration_s
        if until is not None:
            if until.tzinfo is None:
                raise HTTPException(422, "until needs a time zone (e.g. 2026-12-01T09:00:00+09:00)")
            t = until.timestamp()
            if t <= now:
                raise HTTPException(422, "until is in the past")
            return t
        return None

    def control_json(c: Any) -> dict[str, Any]:
        return {
            "id": c.id,
            "kind": c.kind,
            "subject": c.subject,
            "reason": c.reason,
            "created_by": c.created_by,
            "created_at": _iso(c.created_at),
            "expires_at": _iso(c.expires_at),
            "lifted_at": _iso(c.lifted_at),
            "lifted_by": c.lifted_by,
            "lift_reason": c.lift_reason,
            "evidence": c.evidence,
        }

    @app.get("/v1/controls", tags=["controls"])
    def list_controls(
        _who: AsAnalyst, include_lifted: bool = False, kind: ControlKind | None = None
    ) -> list[dict[str, Any]]:
        """Controls in force (or every control ever, with ``include_lifted``), with expiry."""
        runtime.recorder.flush()
        k = kind.value if kind else None
        rows = (
            store.list_controls(kind=k)
            if include_lifted
            else store.active_controls(utc(live.now()), kind=k)
        )
        return [control_json(c) for c in rows]

    async def change(
        who: Principal,
        action: ActionKind,
        subject: str,
        reason: str,
        until: float | None,
        subscriber_id: str | None,
    ) -> dict[str, Any]:
        out = live.manual(
            action,
            subject,
            reason=reason,
            actor=who.actor,
            until=until,
            subscriber_id=subscriber_id,
        )
        recorded = await run_in_threadpool(runtime.recorder.flush, RECORD_WAIT_S)
        cut = [o.call_id for o in out if isinstance(o, Terminate)]
        return {
            "action": action.value,
            "subject": subject,
            "until": None if until is None else _posix_iso(until),
            "calls_cut": cut,
            # in force at once; written to the store and audited as soon as it answers
            "recorded": recorded,
        }

    @app.post("/v1/controls", status_code=201, tags=["controls"])
    async def create_control(body: ControlIn, who: AsAnalyst) -> dict[str, Any]:
        """Put a control in force (audited; suspending a customer cuts their calls)."""
        subject = body.subject
        if body.kind is ControlKind.COUNTRY_RESTRICTION:
            subject = subject.upper()
            if len(subject) != 2 or not subject.isalpha():
                raise HTTPException(422, "a country restriction's subject is an ISO alpha-2 code")
        if body.kind is ControlKind.SUSPENSION and subject not in live.engine.subscribers:
            raise HTTPException(404, f"no subscriber {subject!r}")
        if body.kind is ControlKind.IP_BLOCK:
            try:
                subject = str(ipaddress.ip_address(subject.strip()))
            except ValueError:
                raise HTTPException(422, f"not an IP address: {subject!r}") from None
        if body.kind is ControlKind.DESTINATION_DENIAL:
            subject = destination_subject(subject, body.subscriber_id)
            if body.subscriber_id is not None and body.subscriber_id not in live.engine.subscribers:
                raise HTTPException(404, f"no subscriber {body.subscriber_id!r}")
        until = until_of(body.until, body.duration_s)
        return await change(
            who, _PUT_ACTION[body.kind], subject, body.reason, until, body.subscriber_id
        )

    @app.post("/v1/controls/{control_id}/lift", tags=["controls"])
    async def lift_control(control_id: int, body: ReasonIn, who: AsAnalyst) -> dict[str, Any]:
        """Lift a control in force before its expiry (audited)."""
        await run_in_threadpool(runtime.recorder.flush)
        c = store.get_control(control_id)
        if c is None:
            raise HTTPException(404, f"no control {control_id}")
        if c.lifted_at is not None:
            raise HTTPException(409, f"control {control_id} was already lifted")
        kind = ControlKind(c.kind)
        subject, sid = c.subject, None
        if kind is ControlKind.DESTINATION_DENIAL and ":" in subject:
            sid, subject = subject.split(":", 1)
        return await change(who, _LIFT_ACTION[kind], subject, body.reason, None, sid)

    @app.post("/v1/subscribers/{subscriber_id}/suspend", tags=["controls"])
    async def suspend(subscriber_id: str, body: ReasonIn, who: AsAnalyst) -> dict[str, Any]:
        """Suspend a customer's international calling (利用休止); their calls are cut."""
        if subscriber_id not in live.engine.subscribers:
            raise HTTPException(404, f"no subscriber {subscriber_id!r}")
        until = until_of(body.until, body.duration_s)
        return await change(
            who, ActionKind.SUSPEND_INTERNATIONAL, subscriber_id, body.reason, until, None
        )

    @app.post("/v1/subscribers/{subscriber_id}/restore", tags=["controls"])
    async def restore(subscriber_id: str, body: ReasonIn, who: AsAnalyst) -> dict[str, Any]:
        """Restore a customer's international calling."""
        if subscriber_id not in live.engine.subscribers:
            raise HTTPException(404, f"no subscriber {subscriber_id!r}")
        return await change(
            who, ActionKind.RESTORE_INTERNATIONAL, subscriber_id, body.reason, None, None
        )

    # -- subscribers -----------------------------------------------------------------------
    @app.post("/v1/subscribers", tags=["subscribers"])
    async def put_subscribers(body: list[SubscriberIn], who: AsAdmin) -> dict[str, int]:
        """Add or update customers."""
        subs = [
            Subscriber(
                s.subscriber_id,
                s.segment,
                s.service,
                tuple(s.numbers),
                s.email,
                s.intl_status,
                s.equipment,
            )
            for s in body
        ]
        at = utc(live.now())
        written = await run_in_threadpool(lambda: store.upsert_subscribers(subs, at=at))
        live.add_subscribers(subs)
        store.append_audit(
            actor=who.actor,
            action="subscribers.upsert",
            subject="subscribers",
            reason=f"{written} subscribers added or updated",
            at=at,
            evidence={"subscriber_ids": [s.subscriber_id for s in subs][:1000]},
        )
        runtime.recorder.call(runtime.recorder.sync_lists)
        return {"written": written}

    @app.get("/v1/subscribers/{subscriber_id}", tags=["subscribers"])
    async def get_subscriber(subscriber_id: str, _who: AsAnalyst) -> dict[str, Any]:
        """A customer, their international status and the controls on them."""
        sub = live.engine.subscribers.get(subscriber_id)
        if sub is None:
            raise HTTPException(404, f"no subscriber {subscriber_id!r}")
        ctl = live.engine.controls
        suspension = ctl.suspended(subscriber_id)
        t = live.now()
        status = "active"
        if ctl.customer_barred(subscriber_id):
            status = "barred_by_customer"
        elif suspension is not None and suspension.active(t):
            status = "suspended"
        return {
            "subscriber_id": sub.subscriber_id,
            "segment": sub.segment.value,
            "service": sub.service.value,
            "numbers": list(sub.numbers),
            "intl_status": status,
            "suspension": None
            if suspension is None
            else {"reason": suspension.reason, "until": _posix_iso(suspension.until)},
            "calls_in_progress": len(live.engine.customer_calls(subscriber_id)),
            "metered": dict(
                zip(
                    ("international_calls", "billable_seconds", "charge_jpy"),
                    live.engine.ledger.get(subscriber_id, [0.0, 0.0, 0.0]),
                    strict=True,
                )
            ),
        }

    @app.get("/v1/subscribers/{subscriber_id}/cdrs", tags=["subscribers"])
    def subscriber_cdrs(
        subscriber_id: str,
        who: AsAnalyst,
        reason: Annotated[str, Query(min_length=3, max_length=500)],
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    ) -> list[dict[str, Any]]:
        """A customer's recent calls. Viewing call details is audited (who, when, why)."""
        rows = store.list_cdrs(subscriber_id=subscriber_id)[-limit:]
        store.append_audit(
            actor=who.actor,
            action="cdr.view",
            subject=f"subscriber:{subscriber_id}",
            reason=reason,
            at=utc(live.now()),
            evidence={"rows": len(rows)},
        )
        return [
            {
                "call_id": r.cdr.call_id,
                "callee": r.cdr.callee,
                "country": r.country,
                "number_type": r.number_type,
                "start": _iso(r.cdr.start),
                "answer": _iso(r.cdr.answer),
                "end": _iso(r.cdr.end),
                "disposition": r.cdr.disposition.value,
                "source_ip": r.cdr.source_ip,
                "charge_jpy": r.charge_jpy,
            }
            for r in rows
        ]

    # -- cases and alerts ------------------------------------------------------------------
    @app.get("/v1/cases", tags=["cases"])
    async def list_cases(_who: AsAnalyst) -> list[dict[str, Any]]:
        """Open cases, most probable fraud first."""
        ids = runtime.recorder.case_ids
        return [
            {
                "case_id": ids.get(v.subscriber_id),
                "subscriber_id": v.subscriber_id,
                "opened_at": _posix_iso(v.opened_at),
                "state": v.state,
                "fraud_probability": round(v.probability, 6),
                "reasons": list(v.reasons),
                "contact_attempts": v.contact_attempts,
                "countries": list(v.countries),
                "distinct_numbers": v.numbers,
                "evidence": v.evidence,
            }
            for v in live.cases()
        ]

    @app.post("/v1/cases/{subscriber_id}/contacts", tags=["cases"])
    async def record_contact(subscriber_id: str, body: ContactIn, who: AsAnalyst) -> dict[str, Any]:
        """Record the outcome of contacting a customer: confirmed legitimate restores them,
        confirmed fraud suspends, no answer counts towards suspension."""
        if subscriber_id not in live.engine.subscribers:
            raise HTTPException(404, f"no subscriber {subscriber_id!r}")
        out = await record_contact_outcome(
            runtime,
            subscriber_id,
            body.result,
            actor=who.actor,
            channel=body.channel,
            note=body.note,
        )
        return {
            "subscriber_id": subscriber_id,
            "result": body.result.value,
            "actions": [o.action.value for o in out if hasattr(o, "action")],
        }

    @app.get("/v1/alerts", tags=["cases"])
    def list_alerts(
        _who: AsAnalyst,
        subscriber_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """Detector findings, newest first."""
        runtime.recorder.flush()
        return [
            {
                "id": a.id,
                "time": _iso(a.time),
                "detector": a.detector,
                "severity": a.severity,
                "subscriber_id": a.subscriber_id,
                "evidence": a.evidence,
            }
            for a in store.list_alerts(subscriber_id=subscriber_id, limit=limit)
        ]

    @app.get("/v1/notifications", tags=["cases"])
    def list_notifications(
        _who: AsAnalyst,
        subscriber_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """Notices sent (or being sent) to customers and analysts, newest first."""
        runtime.recorder.flush()
        return [
            {
                "id": n.id,
                "kind": n.kind,
                "channel": n.channel,
                "recipient": n.recipient,
                "subject": n.subject,
                "body": n.body,
                "subscriber_id": n.subscriber_id,
                "status": n.status,
                "attempts": n.attempts,
                "last_error": n.last_error,
                "created_at": _iso(n.created_at),
                "sent_at": _iso(n.sent_at),
            }
            for n in store.list_notifications(subscriber_id=subscriber_id, limit=limit)
        ]

    # -- restricted destination list -------------------------------------------------------
    @app.get("/v1/restricted-destinations", tags=["controls"])
    def list_restricted(_who: AsAnalyst) -> list[dict[str, Any]]:
        """The restricted destination list (規制対地リスト) with criteria and provenance."""
        packaged = [
            {
                "kind": e.kind.value,
                "value": e.value,
                "name": e.name,
                "criteria": {
                    "no_government_traffic": e.no_government_traffic,
                    "no_life_critical_traffic": e.no_life_critical_traffic,
                    "reason": e.reason,
                },
                "provenance": e.provenance,
                "source": "packaged",
            }
            for e in live.engine.restricted.entries()
        ]
        stored = [
            {
                "kind": d.kind,
                "value": d.value,
                "criteria": d.criteria,
                "provenance": d.provenance,
                "added_by": d.added_by,
                "added_at": _iso(d.added_at),
                "source": "carrier",
            }
            for d in store.list_restricted_destinations()
        ]
        return packaged + stored

    # -- exports ---------------------------------------------------------------------------
    @app.get("/v1/exports/blocked-ips.nft", tags=["exports"], response_class=PlainTextResponse)
    def export_nft(_who: AsAny) -> str:
        """The blocked source addresses as an ``nft -f`` script (sets blocked_v4, blocked_v6)."""
        runtime.recorder.flush()
        return nftables_set(runtime.recorder.hard_lists().blocked_ips)

    @app.get("/v1/exports/blocked-ips.ipset", tags=["exports"], response_class=PlainTextResponse)
    def export_ipset(_who: AsAny) -> str:
        """The blocked source addresses as ``ipset restore`` input."""
        runtime.recorder.flush()
        return ipset_restore(runtime.recorder.hard_lists().blocked_ips)

    @app.put("/v1/restricted-destinations", tags=["controls"])
    async def put_restricted(body: RestrictedIn, who: AsAdmin) -> dict[str, Any]:
        """Add a country or number range to the restricted destination list (or update it).

        Both criteria of the source document must hold for an entry to be restrictable: no
        important government traffic and no life-critical traffic; the reason says why there is
        little normal traffic.
        """
        entry = restricted_entry(body)
        if not entry.restrictable:
            raise HTTPException(
                422, "an entry needs no_government_traffic and no_life_critical_traffic"
            )
        criteria = {
            "name": body.name,
            "no_government_traffic": body.no_government_traffic,
            "no_life_critical_traffic": body.no_life_critical_traffic,
            "reason": body.reason,
        }
        at = utc(live.now())
        await run_in_threadpool(
            lambda: store.put_restricted_destination(
                body.kind, entry.value, criteria=criteria, provenance=body.provenance,
                added_by=who.actor, at=at,
            )
        )  # fmt: skip
        runtime.refresh_from_store()
        return {"key": entry.key, "criteria": criteria, "provenance": body.provenance}

    @app.delete("/v1/restricted-destinations/{kind}/{value}", tags=["controls"])
    async def delete_restricted(
        kind: Literal["country", "range"],
        value: str,
        who: AsAdmin,
        reason: Annotated[str, Query(min_length=3, max_length=2000)],
    ) -> dict[str, Any]:
        """Remove a carrier-added entry from the restricted destination list."""
        key_value = value.upper() if kind == "country" else value.lstrip("+")
        at = utc(live.now())
        removed = await run_in_threadpool(
            lambda: store.remove_restricted_destination(
                kind, key_value, by=who.actor, reason=reason, at=at
            )
        )
        if not removed:
            key = f"{kind}:{key_value}"
            packaged = any(e.key == key for e in RestrictedDestinationList.default().entries())
            if packaged:
                raise HTTPException(
                    409,
                    f"{kind}:{key_value} is in the packaged list; change it in the list file "
                    "(tollguard/data/restricted_destinations.csv) or your engine settings",
                )
            raise HTTPException(404, f"{kind}:{key_value} is not on the list")
        runtime.refresh_from_store()
        return {"removed": f"{kind}:{key_value}"}

    # -- audit -----------------------------------------------------------------------------
    @app.get("/v1/audit", tags=["audit"])
    def audit(
        _who: AsAnalyst,
        subject: str | None = None,
        after_seq: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    ) -> list[dict[str, Any]]:
        """Audit entries in order (who, when, what, why, the evidence, the hash chain)."""
        runtime.recorder.flush()
        return [
            {
                "seq": e.seq,
                "time": _iso(e.time),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "reason": e.reason,
                "evidence": e.evidence,
                "hash": e.hash,
            }
            for e in store.list_audit(subject=subject, after_seq=after_seq, limit=limit)
        ]

    @app.get("/v1/audit/verify", tags=["audit"])
    def audit_verify(_who: AsAdmin) -> dict[str, Any]:
        """Check the audit log's hash chain."""
        runtime.recorder.flush()
        ok, bad = store.verify_audit_chain()
        return {"intact": ok, "first_bad_seq": bad}

    # -- tokens ----------------------------------------------------------------------------
    @app.post("/v1/tokens", status_code=201, tags=["admin"])
    def create_token(body: TokenIn, who: AsAdmin) -> dict[str, Any]:
        """Create an API token; the token is shown only in this answer."""
        token = new_token()
        rec = store.create_token(
            body.name, body.role.value, token_hash=token_hash(token), by=who.actor, at=_now()
        )
        runtime.reload_tokens()
        return {"id": rec.id, "name": rec.name, "role": rec.role, "token": token}

    @app.get("/v1/tokens", tags=["admin"])
    def list_tokens(_who: AsAdmin) -> list[dict[str, Any]]:
        """Tokens (never their values)."""
        return [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "created_by": t.created_by,
                "created_at": _iso(t.created_at),
                "revoked_at": _iso(t.revoked_at),
            }
            for t in store.list_tokens()
        ]

    @app.delete("/v1/tokens/{token_id}", tags=["admin"])
    def revoke_token(token_id: int, who: AsAdmin, reason: str = "revoked") -> dict[str, Any]:
        """Revoke a token at once."""
        try:
            rec = store.revoke_token(token_id, by=who.actor, reason=reason, at=_now())
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from exc
        runtime.reload_tokens()
        return {"id": rec.id, "revoked_at": _iso(rec.revoked_at)}

    def _now() -> datetime:
        return utc(runtime.clock())

    app.include_router(console_router)
    return app


async def ingest_cdrs(
    runtime: ServiceRuntime, body: bytes, content_type: str, cdr_format: str | None
) -> dict[str, Any]:
    """Store posted CDRs through the ingest pipeline, then meter them in the engine."""
    import json

    from tollguard.adapters.readers import CDR_COLUMNS, InputFileError, read_any_cdrs
    from tollguard.app.ingest import IngestError, ingest_files
    from tollguard.domain.records import CallDetailRecord

    data_dir = runtime.settings.data_dir
    spool = data_dir / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    if "json" in content_type:
        try:
            rows = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HTTPException(422, f"body is not JSON: {exc}") from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise HTTPException(422, "body must be a JSON list of CDR objects")
        body = _csv_of(rows, CDR_COLUMNS).encode("utf-8")
        cdr_format = cdr_format or "tollguard"
    with tempfile.NamedTemporaryFile(
        "wb", dir=spool, prefix="cdrs-", suffix=".csv", delete=False
    ) as fh:
        fh.write(body)
        path = Path(fh.name)

    def work() -> tuple[Any, list[CallDetailRecord]]:
        records: list[CallDetailRecord] = []

        def keep(item: object) -> None:
            if isinstance(item, CallDetailRecord):
                records.append(item)

        summary = ingest_files(
            runtime.store,
            [],
            [path],
            [],
            cdr_format=cdr_format,
            quarantine_dir=data_dir / "quarantine",
            on_record=keep,
        )
        if summary.files and summary.files[0].skipped:
            # Stored before (a retry after a lost answer): read it again so that whatever the
            # engine has not metered yet is metered; what it has is recognised by its call id.
            for item in read_any_cdrs(path, cdr_format):
                keep(item)
        return summary, records

    try:
        summary, records = await run_in_threadpool(work)
    except (InputFileError, IngestError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from exc
    metered = 0
    for r in sorted(records, key=lambda r: (r.end, r.call_id)):
        if r.subscriber_id in runtime.live.engine.subscribers and runtime.live.cdr(
            r.call_id, r.subscriber_id, r.callee, r.source_ip, r.billable_seconds
        ):
            metered += 1
    f = summary.files[0] if summary.files else None
    return {
        "rows_read": summary.rows_read,
        "accepted": summary.accepted,
        "quarantined": summary.quarantined,
        "duplicates": summary.duplicates,
        "already_ingested": bool(f and f.skipped),
        "metered": metered,
        "quarantine_file": str(f.quarantine_file) if f and f.quarantine_file else None,
    }


def _csv_of(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r.get(k) for k in columns})
    return buf.getvalue()
