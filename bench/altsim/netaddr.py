"""IP address pools: Japanese ISPs, Japanese and foreign clouds, attackers' and travellers' ISPs.

Each pool is a list of networks with the country that the regional internet registries' files
(the ``iptocc`` package) give for them; ``tests/test_altsim.py`` checks the pools against
``iptocc``. Cloud providers' Tokyo regions (AWS, Azure, GCP) are registered to their American
parents, so ``iptocc`` says ``US`` for a server that stands in Tokyo: that is kept on purpose.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from random import Random


@dataclass(frozen=True)
class Pool:
    name: str
    country: str
    networks: tuple[str, ...]
    kind: str  # isp, business, cloud, hosting, mobile


# fmt: off
_POOLS: tuple[Pool, ...] = (
    # Japanese consumer ISPs (dynamic addresses, DHCP/PPPoE renumbering).
    Pool("jp_ocn", "JP", kind="isp",
         networks=("153.156.0.0/16", "114.165.0.0/16", "180.12.0.0/16", "122.17.0.0/16")),
    Pool("jp_softbank_bb", "JP", ("126.72.0.0/16", "126.159.0.0/16"), "isp"),
    Pool("jp_kddi", "JP", ("111.239.0.0/16", "119.104.0.0/16", "182.169.0.0/16"), "isp"),
    Pool("jp_biglobe", "JP", ("1.72.0.0/16", "1.75.0.0/16", "114.151.0.0/16"), "isp"),
    Pool("jp_sonet", "JP", ("220.100.0.0/16", "219.104.0.0/16"), "isp"),
    Pool("jp_jcom", "JP", ("58.88.0.0/16", "175.129.0.0/16"), "isp"),
    Pool("jp_v6_ocn", "JP", ("2400:4050::/32",), "isp"),
    Pool("jp_v6_softbank", "JP", ("240b:10::/32",), "isp"),
    Pool("jp_v6_kddi", "JP", ("2001:268::/32",), "isp"),
    # Japanese business lines with fixed addresses.
    Pool("jp_iij", "JP", ("210.130.0.0/16", "202.229.0.0/16"), "business"),
    Pool("jp_ntt_biz", "JP", ("61.211.0.0/16", "219.117.0.0/16", "60.36.0.0/16"), "business"),
    # Japanese clouds and VPS (Sakura, ConoHa/GMO, Kagoya).
    Pool("jp_sakura", "JP", kind="cloud",
         networks=("133.242.0.0/16", "153.127.0.0/16", "160.16.0.0/16", "163.43.0.0/16")),
    Pool("jp_conoha", "JP", ("150.95.0.0/20", "150.95.32.0/19", "150.95.128.0/20"), "cloud"),
    Pool("jp_kagoya", "JP", ("133.18.0.0/16",), "cloud"),
    # Global clouds' Tokyo regions: registered in the US.
    Pool("aws_tokyo", "US", ("13.112.0.0/14", "52.192.0.0/15"), "cloud"),
    Pool("azure_tokyo", "US", ("20.78.0.0/16",), "cloud"),
    Pool("gcp_tokyo", "US", ("34.84.0.0/16",), "cloud"),
    Pool("aws_singapore", "US", ("13.250.0.0/16", "52.74.0.0/16"), "cloud"),
    # Foreign hosting often seen in SIP scanning and toll fraud.
    Pool("ovh", "FR", ("51.68.0.0/16", "54.36.0.0/16", "51.75.0.0/16", "62.210.0.0/16"), "hosting"),
    Pool("hetzner", "DE", ("88.198.0.0/16", "65.21.0.0/16", "95.216.0.0/16"), "hosting"),
    Pool("vultr", "US", kind="hosting",
         networks=("45.76.0.0/16", "45.77.0.0/16", "45.32.0.0/16", "45.63.0.0/16")),
    Pool("digitalocean", "US", ("159.65.0.0/16", "167.99.0.0/16", "178.128.0.0/16"), "hosting"),
    Pool("linode_nl", "NL", ("139.162.0.0/16",), "hosting"),
    Pool("ru_hosting", "RU", kind="hosting",
         networks=("91.243.44.0/24", "176.119.160.0/19", "212.83.0.0/19", "5.189.0.0/20")),
    Pool("ro_hosting", "RO", ("193.32.162.0/24",), "hosting"),
    Pool("ae_hosting", "AE", ("5.30.0.0/16", "2.50.0.0/16"), "hosting"),
    # Foreign consumer ISPs of known toll-fraud actors.
    Pool("ps_isp", "PS", ("37.8.0.0/18", "188.161.0.0/16"), "isp"),
    Pool("eg_isp", "EG", kind="isp",
         networks=("41.32.0.0/16", "41.44.0.0/16", "197.32.0.0/16", "156.196.0.0/16")),
    Pool("tn_isp", "TN", ("41.224.0.0/16", "197.0.0.0/16"), "isp"),
    Pool("ma_isp", "MA", ("105.66.0.0/16",), "isp"),
    Pool("pk_isp", "PK", ("39.32.0.0/16",), "isp"),
    # Consumer ISPs and hotel networks where travellers' softphones register from.
    Pool("us_isp", "US", ("73.0.0.0/16", "24.0.0.0/16"), "isp"),
    Pool("gb_isp", "GB", ("86.128.0.0/16", "81.152.0.0/16"), "isp"),
    Pool("de_isp", "DE", ("79.192.0.0/16",), "isp"),
    Pool("fr_isp", "FR", ("90.0.0.0/16",), "isp"),
    Pool("it_isp", "IT", ("93.63.0.0/16", "87.0.0.0/16"), "isp"),
    Pool("th_isp", "TH", ("171.96.0.0/16", "110.164.0.0/16"), "isp"),
    Pool("tw_isp", "TW", ("1.160.0.0/16", "114.24.0.0/16"), "isp"),
    Pool("kr_isp", "KR", ("211.36.0.0/16", "14.32.0.0/16"), "isp"),
    Pool("sg_isp", "SG", ("116.86.0.0/16",), "isp"),
    Pool("hk_isp", "HK", ("112.118.0.0/16", "219.76.0.0/16"), "isp"),
    Pool("ph_isp", "PH", ("112.198.0.0/18", "203.177.0.0/16"), "isp"),
    Pool("vn_isp", "VN", ("27.64.0.0/16", "113.160.0.0/16", "1.52.0.0/16"), "isp"),
    Pool("id_isp", "ID", ("36.64.0.0/16", "182.253.0.0/16"), "isp"),
    Pool("br_isp", "BR", ("177.0.0.0/19", "201.0.0.0/16", "189.0.0.0/16"), "isp"),
    Pool("in_isp", "IN", ("49.36.0.0/16", "117.192.0.0/16"), "isp"),
    Pool("tr_isp", "TR", ("78.160.0.0/16", "88.224.0.0/16"), "isp"),
)
# fmt: on

# fmt: off
POOLS: dict[str, Pool] = {p.name: p for p in _POOLS}

JP_CONSUMER = ("jp_ocn", "jp_softbank_bb", "jp_kddi", "jp_biglobe", "jp_sonet", "jp_jcom")
JP_CONSUMER_V6 = ("jp_v6_ocn", "jp_v6_softbank", "jp_v6_kddi")
JP_BUSINESS = ("jp_iij", "jp_ntt_biz", "jp_ocn", "jp_kddi")
JP_CLOUD = ("jp_sakura", "jp_conoha", "jp_kagoya")
TOKYO_GLOBAL_CLOUD = ("aws_tokyo", "azure_tokyo", "gcp_tokyo")
ATTACK_HOSTING = (
    "ovh", "hetzner", "vultr", "digitalocean", "linode_nl", "ru_hosting", "ro_hosting",
    "ae_hosting",
)
ATTACK_ISP = ("ps_isp", "eg_isp", "tn_isp", "ma_isp", "pk_isp")
TRAVEL_BY_COUNTRY = {
    "US": "us_isp", "GB": "gb_isp", "DE": "de_isp", "FR": "fr_isp", "IT": "it_isp",
    "TH": "th_isp", "TW": "tw_isp", "KR": "kr_isp", "SG": "sg_isp", "HK": "hk_isp",
    "PH": "ph_isp", "VN": "vn_isp", "ID": "id_isp", "BR": "br_isp", "IN": "in_isp",
    "TR": "tr_isp",
}
# fmt: on


def random_ip(rng: Random, pool: str) -> str:
    """A host address in one of the pool's networks, in canonical text form."""
    network = ipaddress.ip_network(rng.choice(POOLS[pool].networks))
    if network.version == 4:
        span = network.num_addresses
        offset = rng.randrange(1, span - 1) if span > 2 else 0
        # Avoid .0 and .255 hosts, which look odd in logs.
        address = ipaddress.ip_address(int(network.network_address) + offset)
        if str(address).endswith((".0", ".255")):
            address = ipaddress.ip_address(int(address) + 1)
        return str(address)
    # IPv6: a /56 customer prefix inside the ISP's /32, then an interface identifier.
    prefix = int(network.network_address) | (rng.getrandbits(24) << 72)
    host = rng.getrandbits(64) if rng.random() < 0.7 else rng.randrange(1, 0xFFFF)
    return str(ipaddress.ip_address(prefix | host))


def near_ip(rng: Random, ip: str, keep_bits: int = 16) -> str:
    """Another address of the same ISP block (DHCP renumbering keeps the first ``keep_bits``)."""
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        top = int(address) >> 72 << 72
        return str(ipaddress.ip_address(top | rng.getrandbits(64)))
    base = int(address) >> (32 - keep_bits) << (32 - keep_bits)
    for _ in range(10):
        new = ipaddress.ip_address(base | rng.randrange(1, 1 << (32 - keep_bits)))
        if not str(new).endswith((".0", ".255")) and str(new) != ip:
            return str(new)
    return ip
