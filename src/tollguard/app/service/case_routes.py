"""A case's evidence pack over HTTP (the console's button): ``/v1/cases/{case_id}/evidence.*``.

The same pack as ``tollguard case export`` (:mod:`tollguard.app.evidence`): a self-contained HTML
document, or the CSV of its calls and events, for the stored case ``case_id`` (the ``case_id`` of
``GET /v1/cases``). Analysts and admins only; every pack produced is audited as ``case.export``
with who asked, why, and the SHA-256 of what was served.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from tollguard.app.evidence import EvidenceError, ExportedPack, export_case
from tollguard.app.service.deps import AsAnalyst, runtime_of
from tollguard.app.service.recorder import utc

case_router = APIRouter(tags=["cases"])

#: The pack needs no script, no external resource and no frame: forbid them all.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

Reason = Annotated[str, Query(max_length=500, description="Why the pack is produced (audited).")]


def _export(request: Request, case_id: int, actor: str, reason: str, served: str) -> ExportedPack:
    runtime = runtime_of(request)
    runtime.recorder.flush(timeout=10.0)  # what the engine did so far is in the store
    try:
        return export_case(
            runtime.store,
            case_id,
            by=actor,
            reason=reason,
            served=served,
            now=utc(runtime.clock()),
            carrier=runtime.settings.carrier_name,
        )
    except EvidenceError as exc:
        raise HTTPException(404, str(exc)) from exc


@case_router.get("/v1/cases/{case_id}/evidence.html", response_class=HTMLResponse)
def evidence_html(case_id: int, request: Request, who: AsAnalyst, reason: Reason = "") -> Response:
    """The evidence pack of a stored case as one self-contained HTML page (audited)."""
    pack = _export(request, case_id, who.actor, reason, "http:html")
    return HTMLResponse(
        pack.html,
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'inline; filename="evidence-case-{case_id}.html"',
        },
    )


@case_router.get("/v1/cases/{case_id}/evidence.csv")
def evidence_csv(case_id: int, request: Request, who: AsAnalyst, reason: Reason = "") -> Response:
    """The evidence pack's calls and events as CSV (audited)."""
    pack = _export(request, case_id, who.actor, reason, "http:csv")
    return Response(
        pack.csv,
        media_type="text/csv; charset=utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="evidence-case-{case_id}.csv"',
        },
    )
