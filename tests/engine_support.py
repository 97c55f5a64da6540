"""Small builders for engine tests: customers, calls with history, and running events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tollguard.domain.config import EngineConfig
from tollguard.domain.engine import Engine
from tollguard.domain.events import (
    Action,
    ActionKind,
    Alert,
    CallAnswered,
    CallEnded,
    CallStarted,
    Decision,
    Event,
    Output,
    SipEvent,
    Terminate,
)
from tollguard.domain.records import IntlStatus, Segment, Service, SipEventKind, Subscriber

JST = ZoneInfo("Asia/Tokyo")
#: Monday 2026-10-05 00:00 JST.
T0 = datetime(2026, 10, 5, tzinfo=JST).timestamp()
DAY = 86400.0
HOUR = 3600.0

US = "01016502530000"
GB = "010442079460000"
CN = "010861012345678"
NG = "0102348031234567"
PH = "010639171234567"
SO = "0102526112345"
CU = "0105351234567"
SAT = "0108816312345678"
DOMESTIC = "0312345678"


def customer(
    sid: str,
    segment: Segment = Segment.BUSINESS,
    service: Service = Service.IP,
    status: IntlStatus = IntlStatus.ENABLED,
) -> Subscriber:
    """A subscriber with one Tokyo number."""
    return Subscriber(
        sid, segment, service, (f"+8135555{len(sid):04d}",), f"{sid}@example.jp", status
    )


@dataclass
class Traffic:
    """Builds a time-ordered list of events."""

    events: list[tuple[float, int, int, Event]] = field(default_factory=list)
    seq: int = 0

    def call(
        self,
        sid: str,
        start: float,
        callee: str,
        seconds: float = 180.0,
        ip: str | None = "203.0.113.10",
        answered: bool = True,
        call_id: str | None = None,
    ) -> str:
        """Add a call (start, answer after 5 s, end); returns its id."""
        self.seq += 1
        cid = call_id or f"{sid}-{self.seq}"
        self._add(start, 0, CallStarted(start, cid, sid, callee, ip))
        if answered:
            self._add(start + 5, 2, CallAnswered(start + 5, cid))
            self._add(start + 5 + seconds, 3, CallEnded(start + 5 + seconds, cid, start + 5))
        else:
            self._add(start + 20, 3, CallEnded(start + 20, cid, None))
        return cid

    def sip(self, t: float, ip: str, username: str, kind: SipEventKind) -> None:
        """Add a SIP security event."""
        self._add(t, 1, SipEvent(t, ip, username, kind, "friendly-scanner"))

    def _add(self, t: float, rank: int, e: Event) -> None:
        self.seq += 1
        self.events.append((t, rank, self.seq, e))

    def ordered(self) -> list[Event]:
        """Events in time order."""
        return [e for *_, e in sorted(self.events, key=lambda x: x[:3])]


def office_history(
    tr: Traffic,
    sid: str,
    days: int = 28,
    per_day: int = 6,
    intl: Iterable[str] = (),
    ip: str | None = "203.0.113.10",
    start_day: int = 0,
) -> None:
    """Weekday office-hours calls: domestic, plus the given international callees in turn."""
    intl = list(intl)
    k = 0
    for d in range(start_day, start_day + days):
        if d % 7 >= 5:
            continue
        for i in range(per_day):
            t = T0 + d * DAY + 9.5 * HOUR + i * 3000
            if intl and i == 0:
                tr.call(sid, t, intl[k % len(intl)], 300, ip)
                k += 1
            else:
                tr.call(sid, t, DOMESTIC, 120, ip)


def run(
    subs: list[Subscriber],
    events: Iterable[Event],
    config: EngineConfig | None = None,
    policy: str = "tollguard",
) -> tuple[Engine, list[Output]]:
    """Run events through a fresh engine."""
    engine = Engine(subs, config, policy=policy)
    out = list(engine.feed(events))
    return engine, out


def decisions(out: list[Output], sid: str | None = None) -> list[Decision]:
    return [o for o in out if isinstance(o, Decision) and (sid is None or o.subscriber_id == sid)]


def denied(out: list[Output], sid: str | None = None) -> list[Decision]:
    return [d for d in decisions(out, sid) if not d.allow]


def actions(out: list[Output], kind: ActionKind | None = None) -> list[Action]:
    return [o for o in out if isinstance(o, Action) and (kind is None or o.action is kind)]


def terminations(out: list[Output]) -> list[Terminate]:
    return [o for o in out if isinstance(o, Terminate)]


def alerts(out: list[Output], detector: str | None = None) -> list[Alert]:
    return [o for o in out if isinstance(o, Alert) and (detector is None or o.detector == detector)]


def at(day: int, hour: float) -> float:
    """Time on day ``day`` (0 = Monday 2026-10-05) at local ``hour``."""
    return T0 + day * DAY + hour * HOUR


def iso(t: float) -> str:
    return (datetime.fromtimestamp(t, JST) + timedelta()).isoformat()
