"""Where confirmed fraud comes from: a replay's output with its CDRs, and the store's controls.

From a replay (``tollguard replay --out OUT.jsonl``) and the CDR file it read:

- calls denied for ``fraud_risk`` and calls cut (``terminate``) are looked up in the CDRs, their
  callee classified (country, calling code) and rated (cost band);
- ``deny_destination`` and ``restrict_country`` actions give destinations (country or range);
- ``block_ip`` actions give attacking addresses.

From the store: active or past ``ip_block`` and ``country_restriction`` controls, except those
that came from other carriers' intelligence (their evidence says ``"source": "intel"``), so a
carrier never re-publishes what it was told as its own observation.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import phonenumbers

from tollguard.adapters.readers import read_any_cdrs
from tollguard.adapters.store import Store
from tollguard.domain.intel import (
    AttackerSighting,
    DestinationAction,
    FraudCall,
    IntelAggregator,
    IntelError,
)
from tollguard.domain.numbering import NumberClassifier
from tollguard.domain.rating import Tariff
from tollguard.domain.records import CallDetailRecord

#: Reasons of a denied call that make it confirmed fraud.
FRAUD_DENIAL_REASONS = frozenset({"fraud_risk"})


def _time(value: object, where: str) -> float:
    if not isinstance(value, str):
        raise IntelError(f"{where}: time is missing")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise IntelError(f"{where}: {value[:40]!r} is not an ISO 8601 time") from None


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
            info = classifier.classify(rec.callee)
            rate = tariff.lookup(info.e164) if info.e164 else None
            agg.add_call(
                FraudCall(
                    t,
                    rec.subscriber_id,
                    info.e164,
                    info.region,
                    info.calling_code,
                    rate.rate_per_min if rate is not None else None,
                    rec.source_ip,
                )
            )
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
    agg: IntelAggregator, store: Store, *, since: float | None = None, until: float | None = None
) -> int:
    """Add the store's own IP blocks and country restrictions to ``agg``; returns how many."""
    n = 0
    for kind in ("ip_block", "country_restriction"):
        for c in store.list_controls(kind=kind):
            t = c.created_at.timestamp()
            if c.evidence.get("source") == "intel" or not _within(t, since, until):
                continue
            if kind == "ip_block":
                try:
                    agg.add_attacker(AttackerSighting(t, c.subject, None))
                except IntelError:
                    continue  # a private address blocked locally is not shareable
            else:
                code = phonenumbers.country_code_for_region(c.subject)
                agg.add_destination(
                    DestinationAction(t, None, country=c.subject, calling_code=code or None)
                )
            n += 1
    return n
