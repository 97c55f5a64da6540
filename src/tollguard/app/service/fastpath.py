"""The authorization fast path: ``/v1/authorize`` answered by a small ASGI handler.

A switch asks at every call set-up, thousands of times a second. FastAPI's routing, dependency
injection and model validation cost several hundred microseconds a request on this machine, ten
times the decision itself, so this handler answers ``GET`` and ``POST /v1/authorize`` directly
with the same checks (token and role, field presence and lengths) and the same answers as the
FastAPI routes, which stay as the documented (OpenAPI) form of the endpoint and as the reference
that ``tests/test_service.py`` compares this handler with. Everything else goes to FastAPI.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from tollguard.app.service.auth import Role, token_from_header
from tollguard.app.service.live import LiveEngine
from tollguard.app.service.metrics import ServiceMetrics
from tollguard.app.service.runtime import ServiceRuntime

PATH = "/v1/authorize"
MAX_BODY = 16 * 1024
"""An authorization request is a few hundred bytes; anything much larger is refused."""

#: Field -> (required, maximum length), as in :class:`tollguard.app.service.api.AuthorizeRequest`.
FIELDS: dict[str, tuple[bool, int]] = {
    "call_id": (True, 256),
    "callee": (True, 64),
    "caller": (False, 256),
    "subscriber_id": (False, 64),
    "source_ip": (False, 64),
}
ALLOWED_ROLES = frozenset({Role.SWITCH, Role.ADMIN})


def check_fields(fields: dict[str, Any]) -> tuple[dict[str, str | None], list[dict[str, Any]]]:
    """The request's fields, and FastAPI-style validation errors (empty when valid)."""
    errors: list[dict[str, Any]] = []
    out: dict[str, str | None] = {}
    for name, (required, limit) in FIELDS.items():
        value = fields.get(name)
        if value is None:
            if required:
                errors.append({"type": "missing", "loc": ["body", name], "msg": "Field required"})
            out[name] = None
            continue
        if not isinstance(value, str):
            errors.append(
                {"type": "string_type", "loc": ["body", name], "msg": "Input should be a string"}
            )
            continue
        if required and not value:
            errors.append(
                {
                    "type": "string_too_short",
                    "loc": ["body", name],
                    "msg": "String should have at least 1 character",
                }
            )
        if len(value) > limit:
            errors.append(
                {
                    "type": "string_too_long",
                    "loc": ["body", name],
                    "msg": f"String should have at most {limit} characters",
                }
            )
        out[name] = value
    return out, errors


def authorize_answer(
    live: LiveEngine, metrics: ServiceMetrics, fields: dict[str, str | None]
) -> dict[str, Any]:
    """Decide one call set-up and count it: the answer both forms of the endpoint give."""
    call_id = fields["call_id"] or ""
    t0 = time.perf_counter()
    d = live.authorize(
        call_id,
        fields["callee"] or "",
        subscriber_id=fields.get("subscriber_id"),
        caller=fields.get("caller"),
        source_ip=fields.get("source_ip"),
    )
    metrics.decision_seconds.observe(time.perf_counter() - t0)
    reason = d.reasons[0] if d.reasons else ""
    decision = "allow" if d.allow else "deny"
    metrics.decisions.labels(decision, "" if d.allow else reason).inc()
    limit = d.max_answered_s
    return {
        "decision": decision,
        "reason": reason,
        "reasons": list(d.reasons),
        "call_id": call_id,
        "subscriber_id": d.subscriber_id,
        # whole seconds, rounded down: a switch's timer must not outlast tollguard's own cut
        "max_answered_s": None if limit is None else max(1, math.floor(limit)),
    }


class AuthorizeFastPath:
    """ASGI middleware answering ``/v1/authorize`` itself; other requests pass through."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime, metrics: ServiceMetrics) -> None:
        self.app = app
        self.runtime = runtime
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] not in ("GET", "POST")
        ):
            await self.app(scope, receive, send)
            return
        auth = None
        ctype = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value.decode("latin-1")
            elif name == b"content-type":
                ctype = value
        who = self.runtime.tokens.principal(token_from_header(auth))
        if who is None:
            await _send(
                send,
                401,
                {"detail": "a valid API token is required (Authorization: Bearer TOKEN)"},
                [(b"www-authenticate", b'Bearer realm="tollguard"')],
            )
            return
        if who.role not in ALLOWED_ROLES:
            await _send(send, 403, {"detail": f"role {who.role.value} may not use this endpoint"})
            return
        if scope["method"] == "GET":
            raw: dict[str, Any] = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        else:
            body = await _read_body(receive)
            if body is None:
                await _send(send, 413, {"detail": f"request body larger than {MAX_BODY} bytes"})
                return
            if ctype and b"json" not in ctype:
                await _send(send, 415, {"detail": "send application/json"})
                return
            try:
                parsed = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                await _send(
                    send, 422, {"detail": [{"type": "json_invalid", "msg": f"JSON: {exc}"}]}
                )
                return
            if not isinstance(parsed, dict):
                await _send(
                    send,
                    422,
                    {"detail": [{"type": "model_type", "msg": "Input should be an object"}]},
                )
                return
            raw = parsed
        fields, errors = check_fields(raw)
        if errors:
            await _send(send, 422, {"detail": errors})
            return
        await _send(send, 200, authorize_answer(self.runtime.live, self.metrics, fields))


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(
    send: Send,
    status: int,
    payload: dict[str, Any],
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
