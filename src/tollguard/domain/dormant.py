"""Dormant customers and their consent to suspension of international calling.

The source document's third measure: suspend international calling, with consent, for customers
who have not used it for a while (国際電話をしばらく利用していない利用者について、
同意を得て国際電話の利用休止). A dormant line that an attacker takes over is pure loss, and its
owner loses nothing by having international calls barred until they ask for them again.

:class:`DormancyTracker` learns from CDRs when each customer last called abroad; :meth:`report`
lists customers with international calling enabled and no international call attempt in the last
N months. :class:`ConsentState` and :func:`consent_action` are the consent workflow: a request is a
notice to the customer, a grant suspends international calling (an audited action), a withdrawal
restores it.

>>> from datetime import datetime, timezone
>>> from tollguard.domain.records import (CallDetailRecord, Disposition, IntlStatus, Segment,
...     Service, Subscriber)
>>> t = lambda d: datetime(2026, d // 100, d % 100, 12, tzinfo=timezone.utc)
>>> subs = [Subscriber(s, Segment.RESIDENTIAL, Service.PSTN, (), "", IntlStatus.ENABLED)
...         for s in ("a", "b")]
>>> tracker = DormancyTracker()
>>> for i, (sid, callee, day) in enumerate([("a", "0312345678", 105), ("b", "01012025550123", 510),
...                                          ("a", "0312345678", 801)]):
...     tracker.learn_one(CallDetailRecord(str(i), sid, "", callee, t(day), None, t(day),
...                                        Disposition.NO_ANSWER, None))
>>> [d.subscriber_id for d in tracker.report(subs, t(801).timestamp(), months=6)]
['a']
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tollguard.domain.events import Action, ActionKind
from tollguard.domain.numbering import NumberClassifier
from tollguard.domain.records import CallDetailRecord, IntlStatus, Subscriber

#: Average month length, for "N months" windows.
MONTH_S = 30.44 * 86400.0


class ConsentState(StrEnum):
    """Where a dormant customer's consent to suspension stands."""

    NOT_ASKED = "not_asked"
    REQUESTED = "requested"
    GRANTED = "granted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


#: Allowed transitions. A request may be re-sent; a declined or withdrawn customer may be asked
#: again later; a grant can only be withdrawn (which restores international calling).
TRANSITIONS: dict[ConsentState, frozenset[ConsentState]] = {
    ConsentState.NOT_ASKED: frozenset({ConsentState.REQUESTED}),
    ConsentState.REQUESTED: frozenset(
        {ConsentState.REQUESTED, ConsentState.GRANTED, ConsentState.DECLINED}
    ),
    ConsentState.GRANTED: frozenset({ConsentState.WITHDRAWN}),
    ConsentState.DECLINED: frozenset({ConsentState.REQUESTED}),
    ConsentState.WITHDRAWN: frozenset({ConsentState.REQUESTED}),
}


class ConsentError(ValueError):
    """A consent change that the workflow does not allow."""


def check_transition(current: ConsentState, new: ConsentState) -> None:
    """Raise :class:`ConsentError` unless ``current`` may become ``new``."""
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing"
        raise ConsentError(
            f"consent cannot go from {current.value} to {new.value} "
            f"(from {current.value}: {allowed})"
        )


def consent_action(
    subscriber_id: str, new: ConsentState, t: float, actor: str, reason: str
) -> Action | None:
    """The control action (audited) that a consent change brings, if any."""
    if new is ConsentState.REQUESTED:
        return Action(
            t,
            ActionKind.NOTIFY,
            reason or "ask consent to suspend unused international calling",
            actor,
            subscriber_id=subscriber_id,
            evidence={"channel": "email", "template": "dormant_consent_request"},
        )
    if new is ConsentState.GRANTED:
        return Action(
            t,
            ActionKind.SUSPEND_INTERNATIONAL,
            reason or "international calling suspended with the customer's consent (dormant)",
            actor,
            subscriber_id=subscriber_id,
            evidence={"consent": new.value},
        )
    if new is ConsentState.WITHDRAWN:
        return Action(
            t,
            ActionKind.RESTORE_INTERNATIONAL,
            reason or "customer withdrew consent: international calling restored",
            actor,
            subscriber_id=subscriber_id,
            evidence={"consent": new.value},
        )
    return None


@dataclass(frozen=True, slots=True)
class DormantCustomer:
    """A customer with international calling enabled and none used in the window."""

    subscriber_id: str
    segment: str
    email: str
    last_international: float | None
    calls_seen: int


class DormancyTracker:
    """Learns, per customer, the last international call attempt and how many calls were seen."""

    __slots__ = ("_classifier", "calls", "first_time", "last_international", "last_time")

    def __init__(self, classifier: NumberClassifier | None = None) -> None:
        self._classifier = classifier or NumberClassifier()
        self.last_international: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.first_time: float | None = None
        self.last_time: float | None = None

    def learn_one(self, cdr: CallDetailRecord) -> None:
        """Learn one call attempt (answered or not: an attempt shows the customer wants it)."""
        t = cdr.start.timestamp()
        sid = cdr.subscriber_id
        self.calls[sid] = self.calls.get(sid, 0) + 1
        self.first_time = t if self.first_time is None else min(self.first_time, t)
        self.last_time = t if self.last_time is None else max(self.last_time, t)
        info = self._classifier.classify(cdr.callee)
        international = info.international or (
            info.e164 is None
            and cdr.callee.startswith(self._classifier.plan.international_prefixes)
        )
        if international and t > self.last_international.get(sid, float("-inf")):
            self.last_international[sid] = t

    def covers(self, as_of: float, months: float) -> bool:
        """True when the calls seen reach back the whole window before ``as_of``."""
        return self.first_time is not None and self.first_time <= as_of - months * MONTH_S

    def report(
        self, subscribers: list[Subscriber], as_of: float, months: float
    ) -> list[DormantCustomer]:
        """Customers with international calling enabled and no attempt abroad in the window."""
        since = as_of - months * MONTH_S
        out = []
        for sub in sorted(subscribers, key=lambda s: s.subscriber_id):
            if sub.intl_status is not IntlStatus.ENABLED:
                continue
            last = self.last_international.get(sub.subscriber_id)
            if last is None or last < since:
                out.append(
                    DormantCustomer(
                        sub.subscriber_id,
                        sub.segment.value,
                        sub.email,
                        last,
                        self.calls.get(sub.subscriber_id, 0),
                    )
                )
        return out
