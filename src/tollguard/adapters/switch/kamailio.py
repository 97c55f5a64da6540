"""Kamailio as a :class:`~tollguard.app.service.switch.SwitchControl`, over JSON-RPC 2.0 on HTTP.

Kamailio must load ``jsonrpcs`` and ``xhttp`` (``integrations/kamailio/kamailio.cfg`` serves them
on a loopback port, ``POST http://127.0.0.1:PORT/RPC``). The RPC commands used, verified against
Kamailio 5.6.3 (``tests/test_switch_kamailio.py`` runs them against a real Kamailio):

- cutting a call: ``dlg.dlg_list <call-id>`` returns the dialog as an object (``{}`` when there is
  none) with ``h_entry``, ``h_id`` and ``state`` (3 answered, 4 answered and acknowledged, 5
  ended); ``dlg.end_dlg <h_entry> <h_id> <extra headers>`` sends a BYE both ways, with our
  ``Reason`` and ``X-Tollguard-Reason`` headers, and answers ``{}`` (error 404 when the dialog is
  gone). The shipped config reports the call's end to tollguard when those BYEs leave, and holds
  the reply to the first BYE until the second is sent (Kamailio otherwise drops the callee's BYE
  when the caller answers first: kamailio issue #4268). (``dlg.terminate_dlg`` needs the Call-ID
  *and* both tags; ``dlg.end_dlg`` only works on answered dialogs: a call still ringing cannot be
  cut this way.)
- the hard lists: ``htable.dump <table>`` (a list of slots, each ``{"slot": [{"name", "value"}]}``),
  ``htable.sets <table> <key> <value>`` and ``htable.delete <table> <key>``. A sync writes the new
  and changed keys first and deletes the stale ones afterwards, so a list is never empty in
  between (``htable.flush`` then refill would open a window in which nothing is blocked).

Nothing here raises on a switch that does not answer: :meth:`KamailioRpc.terminate` and
:meth:`KamailioRpc.sync_lists` log and return ``False``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final

import httpx
import phonenumbers

from tollguard.app.service.switch import HardLists

__all__ = [
    "HTABLE_BLOCKED_IPS",
    "HTABLE_RESTRICTED_PREFIXES",
    "HTABLE_SUSPENDED",
    "KamailioRpc",
    "KamailioRpcError",
    "default_prefix_reason",
]

log = logging.getLogger(__name__)

#: htable names in ``integrations/kamailio/kamailio.cfg`` (the values are the 403 reasons).
HTABLE_BLOCKED_IPS: Final = "tg_ipblock"
HTABLE_SUSPENDED: Final = "tg_suspended"
HTABLE_RESTRICTED_PREFIXES: Final = "tg_prefix"

REASON_IP_BLOCKED: Final = "ip_blocked"
REASON_SUSPENDED: Final = "international_suspended"
REASON_BARRED: Final = "international_barred_by_customer"
REASON_COUNTRY_RESTRICTED: Final = "country_restricted"
REASON_RANGE_DENIED: Final = "range_denied"

# Dialog states in Kamailio's dialog module: answered (2xx sent, ACK pending) and confirmed.
_ANSWERED_STATES: Final = frozenset({3, 4})
# What may go into a SIP header value we build (anything else becomes "_").
_UNSAFE_REASON = re.compile(r"[^A-Za-z0-9_.:+-]")
_DEFAULT_URL: Final = "http://127.0.0.1:5071/RPC"


class KamailioRpcError(Exception):
    """A JSON-RPC call to Kamailio failed (unreachable, HTTP error, bad answer or RPC error)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def default_prefix_reason(prefix: str) -> str:
    """The 403 reason Kamailio gives for a restricted prefix.

    A whole country calling code (``850``), or ``1`` and an area code (a NANP country such as
    Jamaica, ``1876``), is a country restriction; a longer prefix is a denied range.
    """
    if prefix.isdigit():
        if int(prefix) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return REASON_COUNTRY_RESTRICTED
        if len(prefix) == 4 and prefix.startswith("1"):
            return REASON_COUNTRY_RESTRICTED
    return REASON_RANGE_DENIED


def _header_safe(reason: str) -> str:
    cleaned = _UNSAFE_REASON.sub("_", reason.strip())[:64]
    return cleaned or "terminated"


def _usable_key(key: str) -> bool:
    return bool(key) and len(key) <= 128 and not any(c.isspace() for c in key)


class KamailioRpc:
    """Cut calls and hold the hard lists of one Kamailio, over its JSON-RPC HTTP endpoint.

    ``url`` is the JSON-RPC endpoint (``http://127.0.0.1:5071/RPC``). ``timeout`` bounds every
    request in seconds (connect included). ``prefix_reason`` gives the 403 reason stored with
    each restricted prefix (default :func:`default_prefix_reason`). The instance is thread-safe
    and keeps its HTTP connection open between calls; :meth:`close` it when done.
    """

    def __init__(
        self,
        url: str = _DEFAULT_URL,
        *,
        timeout: float = 2.0,
        prefix_reason: Callable[[str], str] = default_prefix_reason,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._prefix_reason = prefix_reason
        self._lock = threading.Lock()
        self._next_id = 0
        # trust_env=False: a proxy from the environment must never sit between us and the switch.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
            trust_env=False,
            transport=transport,
            headers={"Content-Type": "application/json"},
        )

    # -- plumbing ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP connection."""
        self._client.close()

    def __enter__(self) -> KamailioRpc:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KamailioRpc({self.url!r})"

    def call(self, method: str, *params: str | int) -> Any:
        """Run one RPC command and return its ``result``; raises :class:`KamailioRpcError`."""
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
            if params:
                payload["params"] = list(params)
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.HTTPError as exc:
                raise KamailioRpcError(f"{method}: {self.url} did not answer: {exc!r}") from exc
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            error = doc["error"]
            code = error.get("code")
            raise KamailioRpcError(
                f"{method}: error {code}: {error.get('message', '')}",
                code=code if isinstance(code, int) else None,
            )
        if response.status_code != 200:
            raise KamailioRpcError(f"{method}: HTTP {response.status_code} from {self.url}")
        if not isinstance(doc, dict) or "result" not in doc:
            raise KamailioRpcError(f"{method}: not a JSON-RPC answer: {response.text[:200]!r}")
        return doc["result"]

    def version(self) -> str | None:
        """Kamailio's version string (``core.version``), or ``None`` when it does not answer."""
        try:
            result = self.call("core.version")
        except KamailioRpcError as exc:
            log.warning("kamailio %s: %s", self.url, exc)
            return None
        return str(result).strip()

    # -- calls in progress -------------------------------------------------------------------
    def dialog(self, call_id: str) -> dict[str, Any] | None:
        """The dialog with this Call-ID as Kamailio describes it, or ``None`` when there is none.

        Raises :class:`KamailioRpcError` when Kamailio cannot be asked.
        """
        result = self.call("dlg.dlg_list", call_id)
        if isinstance(result, list):  # some versions answer with a list of matching dialogs
            result = next((d for d in result if isinstance(d, dict) and "h_entry" in d), None)
        if not isinstance(result, dict) or "h_entry" not in result or "h_id" not in result:
            return None
        return result

    def terminate(self, call_id: str, reason: str) -> bool:
        """Cut the answered call with this SIP Call-ID: BYE to both sides, with the reason.

        ``True`` when Kamailio ended the dialog; ``False`` (logged) when there is no such
        answered call or Kamailio does not answer.
        """
        try:
            dlg = self.dialog(call_id)
        except KamailioRpcError as exc:
            log.warning("kamailio %s: cannot look up call %s: %s", self.url, call_id, exc)
            return False
        if dlg is None:
            log.info("kamailio %s: no dialog for call %s", self.url, call_id)
            return False
        state = dlg.get("state")
        if state not in _ANSWERED_STATES:
            log.info(
                "kamailio %s: call %s is in dialog state %s, not answered: not cut",
                self.url,
                call_id,
                state,
            )
            return False
        why = _header_safe(reason)
        headers = f'Reason: SIP;cause=403;text="{why}"\r\nX-Tollguard-Reason: {why}\r\n'
        try:
            self.call("dlg.end_dlg", int(dlg["h_entry"]), int(dlg["h_id"]), headers)
        except (KamailioRpcError, TypeError, ValueError) as exc:
            log.warning("kamailio %s: cannot cut call %s: %s", self.url, call_id, exc)
            return False
        log.info("kamailio %s: cut call %s (%s)", self.url, call_id, why)
        return True

    # -- hard lists --------------------------------------------------------------------------
    def table(self, name: str) -> dict[str, str]:
        """The entries of one htable (``htable.dump``); raises :class:`KamailioRpcError`."""
        result = self.call("htable.dump", name)
        entries: dict[str, str] = {}
        if not isinstance(result, list):
            raise KamailioRpcError(f"htable.dump {name}: unexpected answer {result!r:.200}")
        for bucket in result:
            slots = bucket.get("slot", []) if isinstance(bucket, dict) else []
            for item in slots if isinstance(slots, list) else []:
                if isinstance(item, dict) and "name" in item:
                    entries[str(item["name"])] = str(item.get("value", ""))
        return entries

    def sync_table(self, name: str, wanted: Mapping[str, str]) -> None:
        """Make htable ``name`` hold exactly ``wanted`` (key -> value).

        New and changed keys are written first, stale ones deleted last, so the table is never
        emptied on the way. Raises :class:`KamailioRpcError`.
        """
        current = self.table(name)
        for key in sorted(wanted):
            if current.get(key) != wanted[key]:
                self.call("htable.sets", name, key, wanted[key])
        for key in sorted(current.keys() - wanted.keys()):
            self.call("htable.delete", name, key)

    def sync_lists(self, lists: HardLists) -> bool:
        """Replace Kamailio's hard lists with ``lists``; ``True`` when every table was written."""
        tables: list[tuple[str, dict[str, str]]] = [
            (HTABLE_BLOCKED_IPS, self._entries(lists.blocked_ips, lambda _: REASON_IP_BLOCKED)),
            (
                HTABLE_SUSPENDED,
                self._entries(lists.barred, lambda _: REASON_BARRED)
                | self._entries(lists.suspended, lambda _: REASON_SUSPENDED),
            ),
            (
                HTABLE_RESTRICTED_PREFIXES,
                self._entries(
                    (p.removeprefix("+") for p in lists.restricted_prefixes), self._prefix_reason
                ),
            ),
        ]
        ok = True
        for name, wanted in tables:
            try:
                self.sync_table(name, wanted)
            except KamailioRpcError as exc:
                log.warning("kamailio %s: cannot sync htable %s: %s", self.url, name, exc)
                ok = False
        return ok

    @staticmethod
    def _entries(keys: Any, reason: Callable[[str], str]) -> dict[str, str]:
        entries: dict[str, str] = {}
        for key in keys:
            text = str(key).strip()
            if _usable_key(text):
                entries[text] = reason(text)
            else:
                log.warning("kamailio: hard-list key %r skipped (empty, spaces or too long)", key)
        return entries
