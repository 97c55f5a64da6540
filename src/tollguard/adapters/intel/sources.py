"""Where confirmed fraud comes from: a replay's output with its CDRs, and the store's controls.

From a replay (``tollguard replay --out OUT.jsonl``) and the CDR file it read:

- calls denied for ``fraud_risk`` and calls cut (``terminate``) are looked up in the CDRs, their
  callee classified (country, calling code) and rated (cost band);
- ``deny_destination`` and ``restrict_country`` actions give destinations (country or range);
- ``block_ip`` actions give attacking addresses.

From the store (what the live service, ``tollguard serve``, recorded): active or past
``ip_block``, ``country_restriction`` and ``destination_denial`` controls (a customer's or
everyone's), except those that came from other carriers' intelligence (their evidence says
``"source": "intel"``), so a carrier never re-publishes what it was told as its own observation;
and the calls the service cut (audit entries ``call.terminate``) whose CDR is in the store.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import select

from tollguard.adapters.readers import read_any_cdrs
from tollguard.adapters.store import Store
from tollguard.adapters.store import schema as s
from tollguard.adapters.store.engine import READONLY_OPTION
from tollguard.domain.intel import (
    AttackerSighting,
    DestinationAction,
    FraudCall,
    IntelAggregator,
    IntelError,
    range_prefix,
)
from tollguard.domain.numbering import NumberClassifier
from tollguard.domain.rating import Tariff
from tollguard.domain.records import CallDetailRecord

READ_ONLY = {READONLY_OPTION: True}  # a deferred BEGIN on SQLite: reads take no write lock
#: Reasons of a denied call that make it confirmed fraud.
FRAUD_DENIAL_REASONS = frozenset({"fraud_risk"})


def _time(value: object, where: str) -> float:
    if not isinstance(value, str):
        raise IntelError(f"{where}: time is missing")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise IntelError(f"{where}: {value[:40]!r} is not an ISO 8601 time") from None


def fraud_call(rec: CallDetailRecord, classifier: NumberClassifier, tariff: Tariff) -> FraudCall:
    """A CDR of confirmed fraud as the aggregator takes it: callee classified and rated."""
    info = classifier.classify(rec.callee)
    rate = tariff.lookup(info.e164) if info.e164 else None
    return FraudCall(
        rec.start.timestamp(),
        rec.subscriber_id,
        info.e164,
        info.region,
        info.calling_code,
        rate.rate_per_min if rate is not None else None,
        rec.source_ip,
    )


def _within(t: float, since: float | None, until: float | None) -> bool:
    return (since is None or t >= since) and (until is None or t < until)


def collect_replay(
    agg: IntelAggregator,
    replay_out: Path,
    cdrs: Path,
    *,
    since: float | None = None,
    until: float | None = None,
    classifier: NumberClassifier | None = None,
    tariff: Tariff | None = None,
) -> int:
    """Add a replay's confirmed fraud to ``agg``; returns how many fraud calls were found."""
    classifier = classifier or NumberClassifier()
    tariff = tariff or Tariff.default()
    fraud_calls: set[str] = set()
    with replay_out.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{replay_out}:{n}"
            try:
                o: dict[str, Any] = json.loads(line)
            except ValueError:
                raise IntelError(f"{where}: not a JSON line of a replay output") from None
            kind = o.get("kind")
            if kind == "call":
                reasons = o.get("reasons") or ()
                if o.get("decision") == "deny" and FRAUD_DENIAL_REASONS.intersection(reasons):
                    fraud_calls.add(str(o.get("call_id")))
            elif kind == "terminate":
                fraud_calls.add(str(o.get("call_id")))
            elif kind == "action":
                _action(agg, o, where, since, until, tariff)
    found = 0
    for rec in read_any_cdrs(cdrs):
        if isinstance(rec, CallDetailRecord) and rec.call_id in fraud_calls:
            t = rec.start.timestamp()
            if not _within(t, since, until):
                continue
            agg.add_call(fraud_call(rec, classifier, tariff))
            found += 1
    return found


def _action(
    agg: IntelAggregator,
    o: dict[str, Any],
    where: str,
    since: float | None,
    until: float | None,
    tariff: Tariff,
) -> None:
    action = o.get("action")
    if action not in ("deny_destination", "restrict_country", "block_ip"):
        return
    t = _time(o.get("time"), where)
    if not _within(t, since, until):
        return
    evidence: dict[str, Any] = o["evidence"] if isinstance(o.get("evidence"), dict) else {}
    sub = o.get("subscriber_id") or evidence.get("subscriber_id")
    sub = str(sub) if sub else None
    if action == "block_ip":
        if isinstance(o.get("ip"), str):
            with suppress(IntelError):  # a private or NAT address is not shareable
                agg.add_attacker(AttackerSighting(t, o["ip"], sub))
        return
    country = o.get("country") if isinstance(o.get("country"), str) else None
    prefix = o.get("prefix") if isinstance(o.get("prefix"), str) else None
    rate = tariff.lookup(prefix) if prefix else None
    agg.add_destination(
        DestinationAction(
            t,
            sub,
            country=country,
            prefix=prefix,
            rate_per_min=rate.rate_per_min if rate is not None else None,
            calling_code=phonenumbers.country_code_for_region(country) or None if country else None,
        )
    )


def collect_store(
    agg: IntelAggregator,
    store: Store,
    *,
    since: float | None = None,
    until: float | None = None,
    classifier: NumberClassifier | None = None,
    tariff: Tariff | None = None,
) -> int:
    """Add the store's own controls and the calls the service cut to ``agg`` (see the module
    docs); returns how many controls and cut calls were added."""
    tariff = tariff or Tariff.default()
    n = 0
    for kind in ("ip_block", "country_restriction", "destination_denial"):
        for c in store.list_controls(kind=kind):
            t = c.created_at.timestamp()
            if c.evidence.get("source") == "intel" or not _within(t, since, until):
                continue
            if kind == "ip_block":
                try:
                    agg.add_attacker(AttackerSighting(t, c.subject, None))
                except IntelError:
                    continue  # a private address blocked locally is not shareable
            elif kind == "country_restriction":
                code = phonenumbers.country_code_for_region(c.subject)
                agg.add_destination(
                    DestinationAction(t, None, country=c.subject, calling_code=code or None)
                )
            else:
                action = _denial(agg, c.subject, c.evidence, t, tariff)
                if action is None:
                    continue
                agg.add_destination(action)
            n += 1
    return n + collect_cut_calls(
        agg, store, since=since, until=until, classifier=classifier, tariff=tariff
    )


def _denial(
    agg: IntelAggregator, subject: str, evidence: dict[str, Any], t: float, tariff: Tariff
) -> DestinationAction | None:
    """A stored destination denial as a destination: ``SID:XX`` (a customer's country),
    ``SID:+PREFIX`` (a customer's range) or ``PREFIX`` (everyone's range)."""
    sid: str | None = None
    if ":" in subject:
        sid, subject = subject.split(":", 1)
    value = subject.strip().removeprefix("+")
    if len(value) == 2 and value.isascii() and value.isalpha():
        country = value.upper()
        cc = phonenumbers.country_code_for_region(country)
        return DestinationAction(t, sid, country=country, calling_code=cc or None)
    if not (value.isascii() and value.isdigit()):
        return None  # not a destination tollguard knows how to share
    if _is_number(value):  # a whole number denied by hand: share only its range, like a call's
        shared = range_prefix(value, agg.options.prefix_digits, agg.options.full_numbers)
        if shared is None:
            return None
        value = shared
    code, region = _country_of_range(value)
    said = evidence.get("country")  # the range's country, when the engine denied it
    if isinstance(said, str) and len(said) == 2 and said.isascii() and said.isalpha():
        region = said.upper()
    rate = tariff.lookup(value)
    return DestinationAction(
        t,
        sid,
        country=region,
        prefix=value,
        rate_per_min=rate.rate_per_min if rate is not None else None,
        calling_code=code,
    )


def _country_of_range(digits: str) -> tuple[int | None, str | None]:
    """The calling code an E.164 prefix starts with, and its country when the code has one
    (``+53…`` is CU; ``+1…`` is shared by many countries and ``+882…`` by none)."""
    for n in (1, 2, 3):
        if len(digits) >= n:
            regions = phonenumbers.region_codes_for_country_code(int(digits[:n]))
            if regions:
                code = int(digits[:n])
                region = regions[0] if len(regions) == 1 and regions[0] != "001" else None
                return code, region
    return None, None


def _is_number(digits: str) -> bool:
    """Whether E.164 digits are a complete (valid) number rather than a range."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        return False


def collect_cut_calls(
    agg: IntelAggregator,
    store: Store,
    *,
    since: float | None = None,
    until: float | None = None,
    classifier: NumberClassifier | None = None,
    tariff: Tariff | None = None,
) -> int:
    """Add the calls the live service cut (audit ``call.terminate``, evidence ``call_id``) whose
    CDR is in the store, as fraud calls; returns how many."""
    classifier = classifier or NumberClassifier()
    tariff = tariff or Tariff.default()
    a = s.audit_log.c
    q = select(a.evidence).where(a.action == "call.terminate").order_by(a.seq)
    if since is not None:  # a call is cut after it started
        q = q.where(a.time >= datetime.fromtimestamp(since, UTC))
    with store.engine.connect() as conn, conn.execution_options(**READ_ONLY).begin():
        call_ids = list(
            dict.fromkeys(
                str(e["call_id"])
                for (e,) in conn.execute(q)
                if isinstance(e, dict) and isinstance(e.get("call_id"), str)
            )
        )
    found = 0
    for call_id in call_ids:
        rated = store.get_cdr(call_id)
        if rated is None:
            continue
        rec = rated.cdr
        t = rec.start.timestamp()
        if not _within(t, since, until):
            continue
        agg.add_call(fraud_call(rec, classifier, tariff))
        found += 1
    return found
