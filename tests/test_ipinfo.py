"""IP scope, country and network."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tollguard.domain.ipinfo import IpInfo, IpLocator, IpScope

LOCATOR = IpLocator()


@pytest.mark.parametrize(
    ("ip", "version", "scope"),
    [
        ("10.1.2.3", 4, IpScope.PRIVATE),
        ("172.20.1.1", 4, IpScope.PRIVATE),
        ("192.168.0.1", 4, IpScope.PRIVATE),
        ("fd12:3456::1", 6, IpScope.PRIVATE),
        ("127.0.0.1", 4, IpScope.LOOPBACK),
        ("::1", 6, IpScope.LOOPBACK),
        ("169.254.10.1", 4, IpScope.LINK_LOCAL),
        ("fe80::1%eth0", 6, IpScope.LINK_LOCAL),
        ("100.64.0.1", 4, IpScope.SHARED),
        ("100.127.255.254", 4, IpScope.SHARED),
        ("224.0.0.5", 4, IpScope.MULTICAST),
        ("ff02::1", 6, IpScope.MULTICAST),
        ("0.0.0.0", 4, IpScope.RESERVED),
        ("192.0.2.10", 4, IpScope.RESERVED),  # documentation
        ("2001:db8::1", 6, IpScope.RESERVED),  # documentation
        ("240.0.0.1", 4, IpScope.RESERVED),
        ("8.8.8.8", 4, IpScope.PUBLIC),
        ("100.128.0.1", 4, IpScope.PUBLIC),  # just outside CGNAT space
    ],
)
def test_scopes(ip: str, version: int, scope: IpScope) -> None:
    info = LOCATOR.lookup(ip)
    assert (info.version, info.scope) == (version, scope)
    if scope is not IpScope.PUBLIC:
        assert info.country is None


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),  # Google, ARIN
        ("1.1.1.1", "AU"),  # APNIC research prefix
        ("133.1.1.1", "JP"),  # JPNIC
        ("210.130.1.1", "JP"),
        ("41.0.0.1", "ZA"),  # AFRINIC
        ("2001:4860:4860::8888", "US"),
    ],
)
def test_public_countries_from_registry_data(ip: str, country: str) -> None:
    info = LOCATOR.lookup(ip)
    assert info.scope is IpScope.PUBLIC
    assert info.country == country


def test_forms_and_networks() -> None:
    assert LOCATOR.lookup("::ffff:8.8.8.8") == IpInfo(
        "8.8.8.8", 4, IpScope.PUBLIC, "US", "8.8.8.0/24"
    )
    assert LOCATOR.lookup(" 1.2.3.4:5060 ").ip == "1.2.3.4"
    v6 = LOCATOR.lookup("[2001:4860:4860::8888]:5060")
    assert (v6.ip, v6.network) == ("2001:4860:4860::8888", "2001:4860:4860::/48")
    assert LOCATOR.lookup("192.168.7.200").network == "192.168.7.0/24"
    assert LOCATOR.same_network("203.0.113.5", "203.0.113.200")
    assert not LOCATOR.same_network("203.0.113.5", "203.0.114.5")
    assert not LOCATOR.same_network("junk", "junk")


@pytest.mark.parametrize("bad", ["", "garbage", "999.1.1.1", "1.2.3", "::g", None, 42, ["1.1.1.1"]])
def test_invalid_input_never_raises(bad: object) -> None:
    info = LOCATOR.lookup(bad)  # type: ignore[arg-type]
    assert info.scope is IpScope.INVALID
    assert (info.version, info.country, info.network) == (None, None, None)


def test_lookup_is_memoised() -> None:
    locator = IpLocator()
    assert locator.lookup("8.8.8.8") is locator.lookup("8.8.8.8")


# -- MaxMind database ---------------------------------------------------------------------------
# A real (tiny) MaxMind DB file, written per the MaxMind DB format specification 2.0, read by the
# real maxminddb reader.


def _ctrl(kind: int, size: int) -> bytes:
    assert size < 29
    if kind <= 7:
        return bytes([(kind << 5) | size])
    return bytes([size, kind - 7])


def _encode(value: object) -> bytes:
    if isinstance(value, str):
        raw = value.encode()
        return _ctrl(2, len(raw)) + raw
    if isinstance(value, dict):
        return _ctrl(7, len(value)) + b"".join(_encode(k) + _encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _ctrl(11, len(value)) + b"".join(_encode(v) for v in value)
    if isinstance(value, tuple):  # (type, int): 5 uint16, 6 uint32, 9 uint64
        kind, number = value
        assert isinstance(kind, int) and isinstance(number, int)
        raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
        return _ctrl(kind, len(raw)) + raw
    raise TypeError(value)


def _write_mmdb(path: Path, networks: dict[str, dict[str, object]]) -> None:
    """An IPv4 MaxMind DB (24-bit records) mapping networks to records."""
    data = b""
    offsets: dict[str, int] = {}
    for cidr, record in networks.items():
        offsets[cidr] = len(data)
        data += _encode(record)
    nodes: list[list[object]] = [[None, None]]
    for cidr in networks:
        net = ipaddress.ip_network(cidr)
        bits = int(net.network_address)
        node = 0
        for depth in range(net.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == net.prefixlen - 1:
                nodes[node][bit] = ("data", offsets[cidr])
            else:
                if not isinstance(nodes[node][bit], int):
                    nodes.append([None, None])
                    nodes[node][bit] = len(nodes) - 1
                node = nodes[node][bit]  # type: ignore[assignment]
    count = len(nodes)

    def pointer(value: object) -> int:
        if value is None:
            return count
        if isinstance(value, tuple):
            return count + 16 + int(value[1])
        assert isinstance(value, int)
        return value

    tree = b"".join(
        pointer(left).to_bytes(3, "big") + pointer(right).to_bytes(3, "big")
        for left, right in nodes
    )
    metadata = {
        "node_count": (6, count),
        "record_size": (5, 24),
        "ip_version": (5, 4),
        "database_type": "GeoLite2-Country",
        "languages": ["en"],
        "binary_format_major_version": (5, 2),
        "binary_format_minor_version": (5, 0),
        "build_epoch": (9, 1_700_000_000),
        "description": {"en": "tollguard test database"},
    }
    path.write_bytes(tree + b"\x00" * 16 + data + b"\xab\xcd\xefMaxMind.com" + _encode(metadata))


def test_maxmind_database_first_then_iptocc(tmp_path: Path) -> None:
    db = tmp_path / "country.mmdb"
    _write_mmdb(
        db,
        {
            "8.8.8.0/24": {"country": {"iso_code": "DE"}},
            "1.1.1.0/24": {"registered_country": {"iso_code": "nz"}},
            "203.0.113.0/24": {"country": {"iso_code": "FR"}},
        },
    )
    locator = IpLocator(db)
    try:
        assert locator.lookup("8.8.8.8").country == "DE"  # the database wins
        assert locator.lookup("8.8.4.4").country == "US"  # not in it: iptocc fallback
        assert locator.lookup("1.1.1.1").country == "NZ"  # registered country when no country
        assert locator.lookup("203.0.113.9").country is None  # documentation range: not public
        assert locator.lookup("10.0.0.1").country is None
    finally:
        locator.close()


def test_missing_maxmind_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        IpLocator(tmp_path / "missing.mmdb")
