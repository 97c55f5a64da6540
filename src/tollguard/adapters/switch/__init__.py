"""Switch adapters: carry out the live service's decisions on the switches it protects.

Each adapter implements :class:`tollguard.app.service.switch.SwitchControl` (cut a call in
progress, hold the hard lists). :class:`KamailioRpc` talks JSON-RPC over HTTP to a Kamailio running
``integrations/kamailio/kamailio.cfg``.
"""

from tollguard.adapters.switch.kamailio import (
    HTABLE_BLOCKED_IPS,
    HTABLE_RESTRICTED_PREFIXES,
    HTABLE_SUSPENDED,
    KamailioRpc,
    KamailioRpcError,
)

__all__ = [
    "HTABLE_BLOCKED_IPS",
    "HTABLE_RESTRICTED_PREFIXES",
    "HTABLE_SUSPENDED",
    "KamailioRpc",
    "KamailioRpcError",
]
