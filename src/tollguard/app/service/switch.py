"""What the live service asks of the switches it protects: cut calls, hold the hard lists.

The service owns the decisions; a switch adapter (``tollguard.adapters.switch``) carries them out.
Adapters are called from a background thread, never from the request path, and must not raise on a
switch that does not answer: they return ``False`` (or log) and the service records the failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class HardLists:
    """Lists a switch can enforce by itself, even when tollguard does not answer.

    - ``blocked_ips``: source addresses whose calls are refused.
    - ``suspended``: subscriber ids (and their numbers: E.164 with and without ``+``, national)
      whose international calling is suspended by a control (fraud, an analyst, dormancy).
    - ``barred``: the same for customers who barred international calling themselves
      (``intl_status=suspended``), so the switch's refusal names the right reason.
    - ``restricted_prefixes``: E.164 prefixes without ``+`` (a country calling code, or a
      longer range) to which nobody may call.
    """

    blocked_ips: frozenset[str] = field(default_factory=frozenset)
    suspended: frozenset[str] = field(default_factory=frozenset)
    restricted_prefixes: frozenset[str] = field(default_factory=frozenset)
    barred: frozenset[str] = field(default_factory=frozenset)


class SwitchControl(Protocol):
    """A switch that can cut a call in progress and hold the hard lists."""

    def terminate(self, call_id: str, reason: str) -> bool:
        """Cut the call with this SIP Call-ID; ``True`` when the switch confirmed it."""

    def sync_lists(self, lists: HardLists) -> bool:
        """Replace the switch's hard lists with ``lists``; ``True`` when the switch took them."""
