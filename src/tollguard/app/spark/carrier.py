"""The carrier stage of the Spark job: what no single customer key can decide, on the driver.

After each micro-batch the driver receives the keys' rows (:mod:`tollguard.app.spark.customer`)
and the rows of Spark's event-time windowed aggregation (the customers seen per country and per
public source address in each window), and, in event-time order, feeds the cross-customer
detectors of a carrier-wide :class:`~tollguard.domain.engine.Engine` with them, through the same
policy code as the embedded engine: ``observe_attempt`` decides country bursts and one address
across accounts from the windows Spark counted (and counts and decides range bursts, whose input
depends on each customer's history); ``sip_decide`` acts on the SIP floods and brute-force
successes the source-address keys found in their windows. It merges the customers' additions to
the population baseline, keeps the carrier controls in force (and their expiry), then publishes
the :class:`~tollguard.app.spark.customer.Context` the keys read in the next micro-batch. The
rows it sees are a small share of the traffic: international attempts, the windows' customers,
SIP floods and brute forces, and the customers' outputs.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tollguard.app.replay import OutputFormatter
from tollguard.app.spark.customer import (
    ADDRESS_WINDOW,
    COUNTRY_WINDOW,
    FAILS,
    IPS,
    OBS,
    OUT,
    POP,
    SIP,
    WIN,
    BruteforceNotice,
    Context,
    Setup,
    is_carrier_control,
    merge_population,
    write_context,
)
from tollguard.domain.detectors.base import CallContext, DistinctInWindow, Evidence
from tollguard.domain.detectors.destination_novelty import DestinationNovelty
from tollguard.domain.detectors.population import PopulationBaseline
from tollguard.domain.detectors.source_ip import SourceIpHistory
from tollguard.domain.engine import Engine
from tollguard.domain.events import Action, ActionKind, Alert, Output, SipEvent
from tollguard.domain.policy import TollguardPolicy, destination_key

#: A row from the keys: (kind, time, payload).
Row = tuple[str, float, Any]

# a window row first: an attempt at t counts itself, as in the embedded engine
_RANK = {WIN: 0, SIP: 1, OBS: 2, OUT: 3}


class _WindowedPolicy(TollguardPolicy):
    """The carrier's policy: the country and address windows are counted by Spark's windowed
    aggregation (:meth:`Carrier.process` learns its rows), so an attempt only reads them."""

    def _count_in_window(
        self, window: DistinctInWindow, t: float, key: str, member: str, window_s: float
    ) -> int:
        return window.count(key, t, window_s)


@dataclass(slots=True)
class BatchResult:
    """A micro-batch's outputs (in time order) and counts by row kind."""

    outputs: list[Output]
    counts: dict[str, int] = field(default_factory=dict)


class Carrier:
    """Cross-customer detection and the published context (one per job, on the driver)."""

    def __init__(
        self, setup: Setup, context_dir: Path, population: PopulationBaseline | None = None
    ) -> None:
        self.setup = setup
        self.context_dir = context_dir
        self.engine = Engine(setup.subscribers.values(), setup.config)
        policy = self.engine.policy
        assert isinstance(policy, TollguardPolicy)
        policy.__class__ = _WindowedPolicy
        self.policy = policy
        if population is not None:  # a baseline rebuilt over history (tollguard spark backtest)
            policy.population = population
        self.version = 0
        self.notices: dict[str, list[BruteforceNotice]] = {}
        self.shared_blocks: dict[str, list[str]] = {}
        self.published_flagged: dict[str, int] = {}
        #: address -> its SIP failures so far, as its key reports them once they are enough
        self.failures: dict[str, int] = {}
        self.publish()

    # -- one micro-batch ----------------------------------------------------------------------
    def process(self, rows: Iterable[Row]) -> BatchResult:
        """Take a micro-batch's rows; returns the outputs for the sinks, in time order."""
        policy = self.policy
        own: list[tuple[float, int, Output]] = []
        items: list[tuple[float, int, int, str, Any]] = []
        held_alerts: dict[tuple[float, str], list[Alert]] = {}
        counts: dict[str, int] = {}
        latest = -float("inf")
        for i, (kind, t, payload) in enumerate(rows):
            counts[kind] = counts.get(kind, 0) + 1
            latest = max(latest, t)
            if kind == POP:
                merge_population(policy.population, payload)
            elif kind == FAILS:
                ip, total = payload
                if total:
                    self.failures[ip] = total
                else:
                    self.failures.pop(ip, None)
            elif kind == IPS:
                sid, addresses = payload
                history = SourceIpHistory()
                for ip in addresses:
                    history.learn_one(ip, None, None)
                policy.customer(sid).ips = history
            elif kind == OUT:
                if _carrier_put(payload):
                    items.append((t, _RANK[OUT], i, OUT, payload))
                elif isinstance(payload, Alert) and payload.subscriber_id is None:
                    ip = str(payload.evidence.get("ip", ""))
                    held_alerts.setdefault((t, ip), []).append(payload)
                else:
                    own.append((t, i, payload))
            elif kind in (OBS, SIP, WIN):
                items.append((t, _RANK[kind], i, kind, payload))
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        made: list[Output] = []
        for t, _, _, kind, payload in items:
            self._advance(t, made)
            if kind == WIN:
                self._window(t, payload)
            elif kind == SIP:
                event, ev = payload
                self._sip(event, ev, made)
            elif kind == OBS:
                ctx, novel = payload
                self._observe(ctx, novel, made)
            else:
                self._customer_put(payload, held_alerts, made)
        if latest > -float("inf"):
            self._advance(latest, made)
        self._prune(latest)
        merged = [(o.time, 0, o) for o in made] + [(t, 1, o) for t, _, o in own]
        merged.sort(key=lambda x: (x[0], x[1]))
        self.publish()
        return BatchResult([o for _, _, o in merged], counts)

    def _advance(self, t: float, out: list[Output]) -> None:
        engine = self.engine
        if t > engine.now:
            out.extend(engine.advance(t))
            engine.now = t

    def _window(self, t: float, row: tuple[str, str, str]) -> None:
        """A customer seen at ``t`` under a subject of a window Spark counts (the first and the
        last time in each aggregation window come as rows): the same window the embedded engine
        learns. Counts are exact: the first time of the aggregation window holding ``t`` is
        within one window length of ``t``, and each earlier window's last time is its member's
        last attempt there."""
        detector, subject, member = row
        cfg = self.setup.config
        window: DistinctInWindow
        if detector == COUNTRY_WINDOW:
            window, length = self.policy.country_burst, cfg.country_burst.window_s
        elif detector == ADDRESS_WINDOW:
            window, length = self.policy.shared_ip, cfg.source_ip.shared_window_s
        else:
            return
        if window.seen.get(subject, {}).get(member, -math.inf) < t:
            window.learn_one(t, subject, member, length)

    def _observe(self, ctx: CallContext, novel: bool, out: list[Output]) -> None:
        policy = self.policy
        cust = policy.customer(ctx.subscriber_id)
        if novel:
            cust.novelty = None
        else:
            cust.novelty = DestinationNovelty()
            cust.novelty.learn_one(destination_key(ctx))
        mark = len(out)
        policy.observe_attempt(ctx, out)
        cust.conc = None
        cust.novelty = None
        for o in out[mark:]:
            if isinstance(o, Action) and o.action is ActionKind.BLOCK_IP and o.ip:
                window = self.setup.config.source_ip.shared_window_s
                self.shared_blocks[o.ip] = policy.shared_ip.members(o.ip, o.time, window)

    def _sip(self, event: SipEvent, ev: Evidence, out: list[Output]) -> None:
        """A flood or brute-force success found by the address's key: decided as the embedded
        engine's ``sip_event`` decides it."""
        policy = self.policy
        mark = len(out)
        policy.sip_decide(event, ev, out)
        mine = out[mark:]
        del out[mark:]
        sid = policy.engine.subscriber_for_username(event.username)
        case = policy.cases.pop(sid, None) if sid is not None else None
        policy.bruteforced_lines.clear()
        for o in mine:
            if isinstance(o, Alert) and o.detector == "sip_bruteforce":
                if event.source_ip in self.published_flagged:
                    continue  # the customer's key saw the address flagged and did it all itself
                out.append(o)
                if sid is not None and case is not None:
                    notice = BruteforceNotice(event.source_ip, sid, event.time, dict(o.evidence))
                    self.notices.setdefault(sid, []).append(notice)
            elif isinstance(o, Action) and o.action is ActionKind.CONTACT_ATTEMPT:
                continue  # the customer's key runs the case
            else:
                out.append(o)

    def _customer_put(
        self, action: Action, held: dict[tuple[float, str], list[Alert]], out: list[Output]
    ) -> None:
        """A carrier control a customer's engine put in force (a foreign address blocked during
        its anomaly): kept unless another key or the carrier put it first."""
        controls = self.engine.controls
        ip = action.ip or ""
        alerts = held.pop((action.time, ip), [])
        if action.action is ActionKind.BLOCK_IP and controls.ip_blocked(ip) is not None:
            return
        from tollguard.domain.controls import Control, ControlKind

        until = action.until if action.until is not None else float("inf")
        control = Control(ControlKind.IP_BLOCK, ip, action.reason, action.time, until, action.actor)
        controls.put(control)
        out.append(action)
        out.extend(alerts)

    def _prune(self, now: float) -> None:
        memory = self.setup.config.sip_flood.bruteforce_memory_s
        for sid in list(self.notices):
            kept = [n for n in self.notices[sid] if now - n.time <= memory]
            if kept:
                self.notices[sid] = kept
            else:
                del self.notices[sid]
        for ip in list(self.shared_blocks):
            if self.engine.controls.ip_blocked(ip) is None:
                del self.shared_blocks[ip]

    # -- the context ----------------------------------------------------------------------------
    def publish(self) -> Context:
        """Write the context the keys read in the next micro-batch."""
        policy = self.policy
        flagged = dict(self.failures)
        self.version += 1
        context = Context(
            version=self.version,
            population=pickle.dumps(policy.population, protocol=pickle.HIGHEST_PROTOCOL),
            controls=[
                c for c in self.engine.controls.all() if is_carrier_control(c.kind, c.subscriber_id)
            ],
            shared_ip=pickle.dumps(policy.shared_ip, protocol=pickle.HIGHEST_PROTOCOL),
            country_burst=pickle.dumps(policy.country_burst, protocol=pickle.HIGHEST_PROTOCOL),
            range_burst=pickle.dumps(policy.range_burst, protocol=pickle.HIGHEST_PROTOCOL),
            range_findings=dict(policy.range_findings),
            flagged=flagged,
            notices={k: list(v) for k, v in self.notices.items()},
            shared_blocks={k: list(v) for k, v in self.shared_blocks.items()},
        )
        self.published_flagged = flagged
        write_context(self.context_dir, context)
        return context


def _carrier_put(o: Any) -> bool:
    return isinstance(o, Action) and o.subscriber_id is None and o.action is ActionKind.BLOCK_IP


class JsonLinesSink:
    """Outputs as JSON lines (the replay's format), one file per micro-batch, for other
    consumers; a file appears whole (written aside, then renamed)."""

    def __init__(self, directory: Path, timezone: str) -> None:
        self.directory = directory
        self.fmt = OutputFormatter(timezone)
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, batch_id: int, outputs: list[Output]) -> Path | None:
        """Write one micro-batch's outputs (nothing when there are none)."""
        if not outputs:
            return None
        path = self.directory / f"part-{batch_id:08d}.jsonl"
        tmp = path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for o in outputs:
                fh.write(self.fmt.line(o) + "\n")
        tmp.replace(path)
        return path


class StoreSink:
    """Outputs into the service's store, written exactly as the live service's recorder writes
    them (controls, hash-chained audit, alerts), so that ``tollguard serve`` enforces them."""

    def __init__(self, url: str) -> None:
        from tollguard.adapters.store import Store
        from tollguard.app.service.recorder import Recorder

        self.store = Store.open(url)
        self.recorder = Recorder(self.store)

    def write(self, outputs: list[Output]) -> None:
        """Record one micro-batch's outputs in one transaction."""
        from tollguard.domain.events import Terminate

        kept: list[Output] = [o for o in outputs if isinstance(o, Action | Alert | Terminate)]
        if kept:
            self.recorder.submit(kept)
            self.recorder.flush()

    def close(self) -> None:
        """Release the store."""
        self.store.close()


def action_summary(line: str) -> dict[str, Any] | None:
    """The identifying fields of an action line of the JSON-lines sink (``None`` for others)."""
    d = json.loads(line)
    if d.get("kind") != "action":
        return None
    return {k: d.get(k) for k in ("time", "action", "subscriber_id", "country", "prefix", "ip")}
