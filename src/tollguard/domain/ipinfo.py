"""IP address analysis: scope (public, private, CGNAT...), country and network.

Countries come from ``iptocc`` (regional internet registry delegation data shipped inside the
package, IPv4 and IPv6, no network access) or, when given, a MaxMind GeoLite2/GeoIP2 Country
database read with ``maxminddb``, with ``iptocc`` as the fallback for addresses it does not know.
Scopes come from :mod:`ipaddress`.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import iptocc

__all__ = ["IpInfo", "IpLocator", "IpScope"]

IPV4_PREFIX: Final = 24
"""Prefix length of the "same network" of an IPv4 address."""
IPV6_PREFIX: Final = 48
"""Prefix length of the "same network" of an IPv6 address (a typical site allocation)."""


class IpScope(StrEnum):
    """Where an address lives."""

    PUBLIC = "public"
    PRIVATE = "private"  # RFC 1918, IPv6 unique local fc00::/7
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    SHARED = "shared"  # 100.64.0.0/10, carrier-grade NAT (RFC 6598)
    RESERVED = "reserved"  # unspecified, documentation, benchmarking, future use...
    MULTICAST = "multicast"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class IpInfo:
    """What an IP address is.

    ``ip`` is the canonical text of the address (an IPv4-mapped IPv6 address is given as the
    IPv4 address; ports, brackets and zone ids are dropped), or the stripped input when invalid.
    ``country`` is ISO 3166 alpha-2 for public addresses whose registry entry is known.
    ``network`` is the IPv4 /24 or IPv6 /48 holding the address, as CIDR text.
    """

    ip: str
    version: int | None
    scope: IpScope
    country: str | None
    network: str | None


_SHARED: Final = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE_V4: Final = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_PRIVATE_V6: Final = ipaddress.ip_network("fc00::/7")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """The address in ``text`` (``1.2.3.4``, ``1.2.3.4:5060``, ``[2001:db8::1]:5060``,
    ``fe80::1%eth0``, ``::ffff:1.2.3.4``), or ``None``."""
    if not isinstance(text, str):
        return None
    value = text.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1 and "." in value:  # IPv4 with port
        value = value.split(":", 1)[0]
    value = value.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def scope_of(address: Address) -> IpScope:
    """The scope of a parsed address."""
    if address.is_loopback:
        return IpScope.LOOPBACK
    if address.is_link_local:
        return IpScope.LINK_LOCAL
    if address.is_multicast:
        return IpScope.MULTICAST
    if isinstance(address, ipaddress.IPv4Address):
        if address in _SHARED:
            return IpScope.SHARED
        if any(address in net for net in _PRIVATE_V4):
            return IpScope.PRIVATE
    elif address in _PRIVATE_V6:
        return IpScope.PRIVATE
    return IpScope.PUBLIC if address.is_global else IpScope.RESERVED


class IpLocator:
    """Looks up IP addresses (memoised, thread-safe). Never raises on bad input."""

    def __init__(self, mmdb_path: Path | None = None, *, memo_size: int = 1 << 16) -> None:
        self._reader: Any = None
        if mmdb_path is not None:
            import maxminddb  # optional dependency: pip install 'tollguard[maxmind]'

            self._reader = maxminddb.open_database(str(mmdb_path))
        self._memo: dict[str, IpInfo] = {}
        self._memo_size = memo_size
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the MaxMind database, if one is open."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _country(self, address: Address) -> str | None:
        text = str(address)
        if self._reader is not None:
            with self._lock:
                record = self._reader.get(text)
            if isinstance(record, dict):
                for key in ("country", "registered_country"):
                    entry = record.get(key)
                    if isinstance(entry, dict) and isinstance(entry.get("iso_code"), str):
                        return str(entry["iso_code"]).upper()
        code = iptocc.country_code(text)
        return code.upper() if code else None

    def _lookup(self, ip: str) -> IpInfo:
        address = parse_address(ip)
        if address is None:
            return IpInfo(str(ip).strip(), None, IpScope.INVALID, None, None)
        scope = scope_of(address)
        prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        country = self._country(address) if scope is IpScope.PUBLIC else None
        return IpInfo(str(address), address.version, scope, country, str(network))

    def lookup(self, ip: str) -> IpInfo:
        """Scope, country and network of an address (memoised)."""
        try:
            found = self._memo.get(ip)
        except TypeError:  # unhashable: not an address
            return IpInfo(str(ip), None, IpScope.INVALID, None, None)
        if found is None:
            found = self._lookup(ip)
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[ip] = found
        return found

    @property
    def portable(self) -> bool:
        """True when lookups depend on the address alone (no MaxMind database): another
        process's :meth:`lookup` then gives the same answer (see :meth:`remember`)."""
        return self._reader is None

    def remember(self, ip: str, info: IpInfo) -> None:
        """Memoise the lookup of ``ip`` made by another (portable) locator, e.g. in the
        replay's reading process; the memo's bound applies as in :meth:`lookup`."""
        if len(self._memo) >= self._memo_size:
            self._memo.clear()
        self._memo[ip] = info

    def same_network(self, a: str, b: str) -> bool:
        """Whether two addresses are in the same /24 (IPv4) or /48 (IPv6)."""
        first, second = self.lookup(a).network, self.lookup(b).network
        return first is not None and first == second
