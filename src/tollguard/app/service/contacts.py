"""Recording the outcome of contacting a customer about a case: one function for the JSON API
and the console."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from tollguard.app.service.recorder import utc
from tollguard.app.service.runtime import ServiceRuntime
from tollguard.domain.events import ContactResult, Output


async def record_contact(
    runtime: ServiceRuntime,
    subscriber_id: str,
    result: ContactResult,
    *,
    actor: str,
    channel: str,
    note: str,
) -> list[Output]:
    """Record the outcome of contacting a customer, as ``POST /v1/cases/{id}/contacts`` does:
    the attempt is stored with the case (or audited when no case is open), then the engine
    takes the outcome (restore, suspend or wait)."""
    live, recorder, store = runtime.live, runtime.recorder, runtime.store
    views = live.changed_cases()
    if views is not None:
        recorder.sync_cases(views)
    at = utc(live.now())

    def store_attempt() -> None:
        case_id = recorder.case_ids.get(subscriber_id)
        if case_id is None:
            store.append_audit(
                actor=actor,
                action="case.contact",
                subject=f"subscriber:{subscriber_id}",
                reason=result.value,
                at=at,
                evidence={"channel": channel, "note": note, "case_id": None},
            )
        else:
            store.add_contact_attempt(
                case_id, channel=channel, at=at, outcome=result.value, by=actor, note=note
            )

    recorder.call(store_attempt)
    out = live.contact(subscriber_id, result, actor=actor, channel=channel, note=note)
    views = live.changed_cases()
    if views is not None:
        recorder.sync_cases(views)
    await run_in_threadpool(recorder.flush)
    return out
