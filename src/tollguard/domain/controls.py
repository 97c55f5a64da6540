"""Controls in force: suspensions, country restrictions, IP blocks and destination denials.

Controls hold what is in force, each with an expiry, and answer :meth:`Controls.authorize` from
memory. They never decide anything themselves: the policy (or an operator) puts them in place.
Per-customer destination denials are keyed by country (ISO alpha-2) or by tariff range
(``+`` and the rate-deck prefix). Country restrictions are keyed by the country alone (secrecy of
communications: only the country code of a called number is examined for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tollguard.domain.detectors.base import slot_state

FOREVER = float("inf")


class ControlKind(StrEnum):
    """Kinds of control."""

    SUSPENSION = "suspension"
    COUNTRY_RESTRICTION = "country_restriction"
    IP_BLOCK = "ip_block"
    DESTINATION_DENIAL = "destination_denial"


@dataclass(frozen=True, slots=True)
class Control:
    """One control in force. ``subscriber_id`` is set for per-customer destination denials."""

    kind: ControlKind
    subject: str
    reason: str
    since: float
    until: float = FOREVER
    actor: str = "tollguard"
    subscriber_id: str | None = None

    def active(self, t: float) -> bool:
        """True while in force at time ``t``."""
        return self.since <= t < self.until


class DenyReason(StrEnum):
    """Why :meth:`Controls.authorize` refused a call."""

    CUSTOMER_REQUESTED = "international_barred_by_customer"
    SUSPENDED = "international_suspended"
    COUNTRY_RESTRICTED = "country_restricted"
    DESTINATION_DENIED = "destination_denied"
    RANGE_DENIED = "range_denied"
    IP_BLOCKED = "ip_blocked"


class Controls:
    """The controls in force, indexed for constant-time authorization."""

    __slots__ = (
        "_country",
        "_customer_barred",
        "_dest",
        "_ip",
        "_max_range",
        "_next_expiry",
        "_ranges",
        "_suspended",
    )

    def __init__(self) -> None:
        self._customer_barred: set[str] = set()
        self._suspended: dict[str, Control] = {}
        self._country: dict[str, Control] = {}
        self._ip: dict[str, Control] = {}
        self._dest: dict[tuple[str, str], Control] = {}
        self._ranges: dict[str, Control] = {}
        self._max_range = 0
        # no control in force expires before this time (expired() has nothing to do until then)
        self._next_expiry = FOREVER

    def __getstate__(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__ if k != "_next_expiry"}

    def __setstate__(self, state: object) -> None:
        for k, v in slot_state(state).items():
            if k != "_next_expiry":
                setattr(self, k, v)
        self._next_expiry = -FOREVER  # the next expired() looks at every control

    # -- the customer's own request (intl_status=suspended) --------------------------------
    def set_customer_barred(self, subscriber_id: str, barred: bool) -> None:
        """Record the customer's own request to bar international calls (or its withdrawal)."""
        if barred:
            self._customer_barred.add(subscriber_id)
        else:
            self._customer_barred.discard(subscriber_id)

    def customer_barred(self, subscriber_id: str) -> bool:
        """True when the customer asked for international calls to be barred."""
        return subscriber_id in self._customer_barred

    # -- putting controls in force and lifting them -------------------------------------
    def put(self, control: Control) -> None:
        """Put a control in force (replacing one on the same subject)."""
        if control.until < self._next_expiry:
            self._next_expiry = control.until
        kind = control.kind
        if kind is ControlKind.SUSPENSION:
            self._suspended[control.subject] = control
        elif kind is ControlKind.COUNTRY_RESTRICTION:
            self._country[control.subject] = control
        elif kind is ControlKind.IP_BLOCK:
            self._ip[control.subject] = control
        elif control.subscriber_id is None:
            self._ranges[control.subject] = control
            self._max_range = max(self._max_range, len(control.subject))
        else:
            self._dest[(control.subscriber_id, control.subject)] = control

    def lift(
        self, kind: ControlKind, subject: str, subscriber_id: str | None = None
    ) -> Control | None:
        """Remove a control; returns it, or ``None`` if none was in force."""
        if kind is ControlKind.SUSPENSION:
            return self._suspended.pop(subject, None)
        if kind is ControlKind.COUNTRY_RESTRICTION:
            return self._country.pop(subject, None)
        if kind is ControlKind.IP_BLOCK:
            return self._ip.pop(subject, None)
        if subscriber_id is None:
            return self._ranges.pop(subject, None)
        return self._dest.pop((subscriber_id, subject), None)

    def lift_destinations(self, subscriber_id: str) -> list[Control]:
        """Remove every destination denial of one customer."""
        keys = [k for k in self._dest if k[0] == subscriber_id]
        return [self._dest.pop(k) for k in keys]

    def expired(self, t: float) -> list[Control]:
        """Remove and return controls whose expiry has passed, in a stable order."""
        if t < self._next_expiry:
            return []
        out: list[Control] = []
        for table in (self._suspended, self._country, self._ip, self._ranges):
            gone = [k for k, c in table.items() if c.until <= t]
            out.extend(table.pop(k) for k in gone)
        dest_gone = [k for k, c in self._dest.items() if c.until <= t]
        out.extend(self._dest.pop(k) for k in dest_gone)
        self._next_expiry = min(
            (
                c.until
                for table in (self._suspended, self._country, self._ip, self._ranges, self._dest)
                for c in table.values()
            ),
            default=FOREVER,
        )
        return out

    # -- queries ---------------------------------------------------------------------------
    def suspended(self, subscriber_id: str) -> Control | None:
        """The suspension of a customer's international calling, if any."""
        return self._suspended.get(subscriber_id)

    def country_restricted(self, region: str | None) -> Control | None:
        """The restriction on a country, if any."""
        return self._country.get(region) if region else None

    def ip_blocked(self, ip: str | None) -> Control | None:
        """The block on a source address, if any."""
        return self._ip.get(ip) if ip else None

    def destination_denied(self, subscriber_id: str, region: str | None) -> Control | None:
        """A denial of one customer's calls to a country or ``+range``, if any."""
        return self._dest.get((subscriber_id, region)) if region else None

    def range_denied(self, e164: str | None) -> Control | None:
        """A denial of a number range for every customer (longest prefix), if any."""
        if not e164 or not self._ranges:
            return None
        digits = e164.lstrip("+")
        for n in range(min(self._max_range, len(digits)), 0, -1):
            hit = self._ranges.get(digits[:n])
            if hit is not None:
                return hit
        return None

    def authorize(
        self,
        subscriber_id: str,
        international: bool,
        region: str | None,
        e164: str | None,
        source_ip: str | None,
        t: float,
        rate_prefix: str = "",
        spared: bool = False,
        contact: bool = False,
    ) -> DenyReason | None:
        """Why a call must be refused under the controls in force, or ``None`` to go on.

        Expired controls are treated as lifted even before :meth:`expired` removes them.
        ``spared``: the customer's suspension does not apply to this call (the policy found it
        goes to one of the customer's established contacts); every other control does.
        ``contact``: likewise for the customer's own destination denials (the call goes to a
        number they dial as a person does); carrier-wide controls still apply.
        """
        if self._ip and source_ip is not None:
            c = self._ip.get(source_ip)
            if c is not None and c.active(t):
                return DenyReason.IP_BLOCKED
        if not international:
            return None
        if subscriber_id in self._customer_barred:
            return DenyReason.CUSTOMER_REQUESTED
        c = self._suspended.get(subscriber_id)
        if c is not None and c.active(t) and not spared:
            return DenyReason.SUSPENDED
        if region is not None:
            c = self._country.get(region)
            if c is not None and c.active(t):
                return DenyReason.COUNTRY_RESTRICTED
            c = None if contact else self._dest.get((subscriber_id, region))
            if c is not None and c.active(t):
                return DenyReason.DESTINATION_DENIED
        if rate_prefix and self._dest and not contact:
            c = self._dest.get((subscriber_id, "+" + rate_prefix))
            if c is not None and c.active(t):
                return DenyReason.DESTINATION_DENIED
        if self._ranges:
            c = self.range_denied(e164)
            if c is not None and c.active(t):
                return DenyReason.RANGE_DENIED
        return None

    def all(self) -> list[Control]:
        """Every control in force, in a stable order (for listing and snapshots)."""
        out = [*self._suspended.values(), *self._country.values(), *self._ip.values()]
        out += [*self._ranges.values(), *self._dest.values()]
        return sorted(out, key=lambda c: (c.kind.value, c.subscriber_id or "", c.subject))
