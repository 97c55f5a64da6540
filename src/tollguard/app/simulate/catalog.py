"""Static reference data of the carrier simulator: destinations, number ranges, networks, devices.

Every list here is data, not behaviour. Sources and assumptions are given in ``docs/simulation.md``.
"""

from __future__ import annotations

from typing import Final

# --- Legitimate international destinations from Japan -------------------------------------------
# (ISO alpha-2, relative weight). Cheap, common destinations dominate legitimate traffic.
COMMON_DESTINATIONS: Final[tuple[tuple[str, float], ...]] = (
    ("US", 20.0),
    ("CN", 15.0),
    ("KR", 10.0),
    ("TW", 7.0),
    ("PH", 7.0),
    ("VN", 6.0),
    ("TH", 5.0),
    ("HK", 4.0),
    ("GB", 4.0),
    ("DE", 3.0),
    ("AU", 3.0),
    ("SG", 3.0),
    ("IN", 3.0),
    ("BR", 3.0),
    ("FR", 2.0),
    ("CA", 2.0),
    ("ID", 2.0),
    ("MY", 2.0),
)

# Expensive destinations with real diaspora communities in Japan (legitimate, long calls).
DIASPORA_DESTINATIONS: Final[tuple[str, ...]] = (
    "NG",
    "GH",
    "SN",
    "CM",
    "PK",
    "BD",
    "NP",
    "LK",
    "PH",
)

# --- Fraud destinations ---------------------------------------------------------------------------
# High-cost ranges abused for IRSF: West/Central Africa, Pacific islands, Caribbean, premium ranges
# in Eastern Europe. (region, number kind); kind is "mobile", "fixed" or "premium".
HOTSPOT_RANGES: Final[tuple[tuple[str, str], ...]] = (
    ("SL", "mobile"),
    ("SL", "fixed"),
    ("GN", "mobile"),
    ("SO", "mobile"),
    ("CU", "mobile"),
    ("LV", "premium"),
    ("LT", "premium"),
    ("TN", "premium"),
    ("ML", "mobile"),
    ("BI", "mobile"),
    ("LR", "mobile"),
    ("GM", "mobile"),
    ("TO", "mobile"),
    ("NR", "mobile"),
    ("TV", "mobile"),
    ("PG", "mobile"),
    ("SB", "mobile"),
    ("VU", "mobile"),
    ("MV", "premium"),
    ("ST", "mobile"),
    ("ZW", "mobile"),
    ("BY", "premium"),
    ("RS", "premium"),
)

# International networks (satellite and global services): calling code only, no country.
SATELLITE_CODES: Final[tuple[int, ...]] = (881, 882, 883)

# Mid-priced ranges used for low-and-slow pumping (mobile ranges in Eastern Europe, the Caucasus,
# North Africa).
MID_PRICED_RANGES: Final[tuple[tuple[str, str], ...]] = (
    ("AL", "mobile"),
    ("BY", "mobile"),
    ("RS", "mobile"),
    ("MD", "mobile"),
    ("LT", "mobile"),
    ("LV", "mobile"),
    ("BA", "mobile"),
    ("ME", "mobile"),
    ("AZ", "mobile"),
    ("GE", "mobile"),
    ("AM", "mobile"),
    ("UA", "mobile"),
    ("EG", "mobile"),
    ("MA", "mobile"),
    ("DZ", "mobile"),
)

# Premium ranges used as Wangiri bait/callback numbers (one-ring calls come from these).
WANGIRI_RANGES: Final[tuple[tuple[str, str], ...]] = (
    ("TO", "mobile"),
    ("TN", "premium"),
    ("ML", "mobile"),
    ("BI", "mobile"),
    ("GN", "mobile"),
    ("SL", "mobile"),
    ("LR", "premium"),
    ("MV", "premium"),
)

# --- Japanese numbering -------------------------------------------------------------------------
# Geographic area codes (without trunk 0) with relative weight. National significant numbers of
# fixed lines are 9 digits.
AREA_CODES: Final[tuple[tuple[str, float], ...]] = (
    ("3", 30.0),  # Tokyo
    ("6", 14.0),  # Osaka
    ("45", 8.0),  # Yokohama
    ("52", 7.0),  # Nagoya
    ("11", 5.0),  # Sapporo
    ("92", 5.0),  # Fukuoka
    ("75", 4.0),  # Kyoto
    ("78", 4.0),  # Kobe
    ("22", 3.0),  # Sendai
    ("82", 3.0),  # Hiroshima
    ("48", 3.0),  # Saitama
    ("43", 3.0),  # Chiba
    ("44", 3.0),  # Kawasaki
    ("25", 2.0),  # Niigata
    ("96", 2.0),  # Kumamoto
)
MOBILE_PREFIXES: Final[tuple[str, ...]] = ("90", "80", "70")
IP_PHONE_PREFIX: Final[str] = "50"

# --- Networks -----------------------------------------------------------------------------------
# Japanese consumer/business ISP address blocks (verified to map to JP with iptocc; the ISP
# attribution is from registry knowledge and only used to keep renumbering inside one ISP).
JP_ISP_BLOCKS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("OCN", ("153.128.0.0/10", "114.160.0.0/12")),
    ("SoftBank BB", ("126.0.0.0/11", "126.64.0.0/11")),
    ("KDDI", ("27.80.0.0/12", "106.128.0.0/12")),
    ("BIGLOBE", ("133.200.0.0/14",)),
)

# Foreign address blocks per country (each /16 verified with iptocc).
FOREIGN_BLOCKS: Final[dict[str, tuple[str, ...]]] = {
    "US": ("3.3.0.0/16", "3.6.0.0/16"),
    "TH": ("49.48.0.0/16", "49.228.0.0/16"),
    "SG": ("8.129.0.0/16",),
    "GB": ("2.96.0.0/16", "2.120.0.0/16"),
    "FR": ("2.3.0.0/16", "5.48.0.0/16"),
    "KR": ("1.96.0.0/16", "1.102.0.0/16"),
    "TW": ("1.162.0.0/16", "1.168.0.0/16"),
    "AU": ("1.120.0.0/16", "1.126.0.0/16"),
    "DE": ("2.162.0.0/16", "2.168.0.0/16"),
    "VN": ("14.162.0.0/16", "14.168.0.0/16"),
    "PH": ("49.144.0.0/16", "112.198.0.0/16"),
    "NL": ("31.21.0.0/16", "31.138.0.0/16"),
    "PS": ("213.6.0.0/16",),
    "EG": ("41.33.0.0/16", "41.39.0.0/16"),
    "TN": ("41.225.0.0/16", "102.24.0.0/16"),
    "RU": ("5.3.0.0/16", "5.18.0.0/16"),
    "UA": ("5.105.0.0/16", "37.54.0.0/16"),
    "RO": ("5.12.0.0/16", "78.96.0.0/16"),
    "LT": ("78.57.0.0/16", "78.60.0.0/16"),
    "BG": ("78.90.0.0/16", "87.126.0.0/16"),
    "MD": ("188.237.0.0/16",),
    "NG": ("102.90.0.0/16", "105.114.0.0/16"),
    "TR": ("5.24.0.0/16", "78.162.0.0/16"),
    "AE": ("2.48.0.0/16", "5.30.0.0/16"),
}

# Where attack traffic comes from (SIP scanners, brute force, stolen-credential calling).
ATTACKER_COUNTRIES: Final[tuple[tuple[str, float], ...]] = (
    ("PS", 4.0),
    ("NL", 3.0),
    ("RU", 2.0),
    ("EG", 2.0),
    ("TN", 1.0),
    ("UA", 1.0),
    ("RO", 1.0),
    ("LT", 1.0),
    ("BG", 1.0),
    ("MD", 1.0),
    ("DE", 1.0),
    ("US", 2.0),
    ("TR", 1.0),
    ("AE", 1.0),
    ("NG", 1.0),
)

# Travellers: destination country and its UTC offset in hours (standard time, October-December).
TRAVEL_COUNTRIES: Final[tuple[tuple[str, int], ...]] = (
    ("US", -8),
    ("TH", 7),
    ("SG", 8),
    ("GB", 0),
    ("FR", 1),
    ("KR", 9),
    ("TW", 8),
    ("AU", 11),
    ("DE", 1),
    ("VN", 7),
    ("PH", 8),
)

# --- Devices --------------------------------------------------------------------------------------
# Business PBX models (fictional names), weight; the first one is the widely deployed model.
PBX_MODELS: Final[tuple[tuple[str, float], ...]] = (
    ("Kumo IPX-200", 45.0),
    ("Asagi UC-50", 22.0),
    ("Hikari BX-8", 18.0),
    ("Nami SmartPBX 3", 15.0),
)
WIDELY_DEPLOYED_PBX: Final[str] = PBX_MODELS[0][0]
# Residential devices: SIP adapters / home gateways for IP lines, plain phones for PSTN lines.
HOME_GATEWAYS: Final[tuple[tuple[str, float], ...]] = (
    ("HGW-A100", 55.0),
    ("HGW-B210", 30.0),
    ("SoftAdapter SA-1", 15.0),
)
PSTN_PHONE: Final[str] = "analog telephone"
SOFTPHONES: Final[tuple[str, ...]] = ("Zoiper rv2.10.20.2", "Linphone/5.2.5", "MicroSIP/3.21.4")
SCANNER_AGENTS: Final[tuple[str, ...]] = (
    "friendly-scanner",
    "sipvicious",
    "sipcli/v1.8",
    "VaxSIPUserAgent/3.1",
    "PortSIP VoIP SDK 11.2",
    "pplsip",
)
# User agents seen when stolen credentials are used with a generic SIP stack.
ATTACKER_AGENTS: Final[tuple[str, ...]] = (
    "Asterisk PBX 16.2.1",
    "FPBX-15.0.37",
    "Zoiper rv2.10.8.2",
    "eyeBeam release 1004p stamp 31962",
)
# Usernames tried by scanners besides real ones.
SCANNER_USERNAMES: Final[tuple[str, ...]] = (
    "100",
    "101",
    "200",
    "1000",
    "1001",
    "2000",
    "admin",
    "test",
    "user",
    "guest",
    "sip",
    "voip",
    "9999",
    "0000",
)

# --- Email domains (reserved example domains: nothing here reaches a real mailbox) ---------------
RESIDENTIAL_MAIL_DOMAINS: Final[tuple[str, ...]] = (
    "ocn.example.jp",
    "biglobe.example.jp",
    "softbank.example.jp",
    "au.example.jp",
    "mail.example.jp",
)
GIVEN_NAMES: Final[tuple[str, ...]] = (
    "hiroshi",
    "takashi",
    "akira",
    "kenji",
    "yuki",
    "yoko",
    "keiko",
    "naoko",
    "satoshi",
    "makoto",
    "tomoko",
    "emi",
    "daisuke",
    "shota",
    "haruka",
    "misaki",
)
FAMILY_NAMES: Final[tuple[str, ...]] = (
    "sato",
    "suzuki",
    "takahashi",
    "tanaka",
    "watanabe",
    "ito",
    "yamamoto",
    "nakamura",
    "kobayashi",
    "kato",
    "yoshida",
    "yamada",
    "sasaki",
    "yamaguchi",
    "matsumoto",
    "inoue",
)
COMPANY_WORDS: Final[tuple[str, ...]] = (
    "sakura",
    "fuji",
    "midori",
    "aozora",
    "kaede",
    "hoshi",
    "tsubasa",
    "yamato",
    "minato",
    "hikari",
    "asahi",
    "kawa",
)
COMPANY_KINDS: Final[tuple[str, ...]] = (
    "shoji",
    "kogyo",
    "sekkei",
    "clinic",
    "hoken",
    "unyu",
    "trading",
    "law",
    "fudosan",
    "denki",
)
