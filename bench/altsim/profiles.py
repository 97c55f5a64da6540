"""Static knowledge: hour-of-day profiles, time zones, equipment, names."""

from __future__ import annotations

# Hour-of-day weights (JST, 0..23).
# fmt: off
RESIDENTIAL = [0.3, 0.15, 0.08, 0.05, 0.05, 0.1, 0.4, 1.0, 1.3, 1.4, 1.5, 1.5,
               1.6, 1.5, 1.4, 1.4, 1.5, 1.8, 2.3, 2.6, 2.5, 2.0, 1.3, 0.7]
OFFICE = [0, 0, 0, 0, 0, 0, 0.02, 0.25, 1.2, 2.3, 2.5, 2.2,
          1.0, 2.0, 2.5, 2.4, 2.2, 1.6, 0.8, 0.35, 0.12, 0.05, 0.02, 0.01]
CALL_CENTRE = [0, 0, 0, 0, 0, 0, 0, 0, 0.3, 2.5, 3, 3,
               2.2, 2.6, 3, 3, 3, 2.6, 1.8, 1.2, 0.6, 0, 0, 0]
HOTEL_GUESTS = [0.9, 0.7, 0.5, 0.35, 0.3, 0.4, 0.8, 1.3, 1.5, 1.3, 1.1, 1.0,
                1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 1.5, 1.6, 1.7, 1.6, 1.4, 1.1]
# When a person in Japan is willing to make a long private call abroad.
PRIVATE_CALLER = [0.8, 0.5, 0.2, 0.1, 0.1, 0.3, 1.0, 1.2, 0.6, 0.5, 0.6, 0.8,
                  1.0, 0.7, 0.6, 0.6, 0.7, 1.0, 1.5, 2.0, 2.4, 2.5, 2.2, 1.5]
# When an office in Japan calls its partners abroad (stays late for America and Europe).
OFFICE_CALLER = [0.15, 0.08, 0.02, 0.01, 0.01, 0.05, 0.4, 1.2, 2.0, 2.4, 2.4, 2.2,
                 1.2, 2.0, 2.3, 2.3, 2.3, 2.0, 1.5, 1.1, 0.9, 0.8, 0.6, 0.3]
# Local hours at which the callee is reachable.
LOCAL_AWAKE = [0.05, 0.03, 0.02, 0.02, 0.03, 0.1, 0.5, 1.0, 1.0, 0.8, 0.7, 0.8,
               1.0, 0.8, 0.7, 0.8, 1.0, 1.3, 1.6, 1.8, 1.8, 1.5, 0.9, 0.3]
LOCAL_OFFICE = [0, 0, 0, 0, 0, 0, 0.02, 0.3, 1.5, 2.2, 2.3, 2.0,
                1.0, 1.8, 2.2, 2.2, 2.0, 1.4, 0.5, 0.15, 0.05, 0.02, 0, 0]

# UTC offsets in September-October (daylight time where it applies then), whole hours.
UTC_OFFSET: dict[str, int] = {
    "JP": 9, "KR": 9, "CN": 8, "TW": 8, "HK": 8, "PH": 8, "SG": 8, "MY": 8, "VN": 7,
    "TH": 7, "ID": 7, "MM": 6, "BD": 6, "NP": 6, "LK": 5, "IN": 5, "PK": 5, "AE": 4,
    "SA": 3, "TR": 3, "KE": 3, "TZ": 3, "UG": 3, "ET": 3, "IL": 3, "ZA": 2, "ZM": 2,
    "MZ": 2, "EG": 3, "DE": 2, "FR": 2, "NL": 2, "IT": 2, "ES": 2, "CH": 2, "SE": 2,
    "GB": 1, "IE": 1, "NG": 1, "CD": 1, "GH": 0, "SL": 0, "GN": 0, "LR": 0, "SN": 0,
    "BR": -3, "AR": -3, "PE": -5, "CO": -5, "MX": -6, "US": -5, "CA": -5, "AU": 10,
    "NZ": 12, "FJ": 12, "KI": 12, "MH": 12, "SB": 11, "VU": 11, "FM": 10, "PG": 10,
    "PW": 9, "TO": 13, "WS": 13, "CU": -4, "SO": 3, "LV": 3, "LT": 3, "MA": 1,
}
# fmt: on


def combined(caller: list[float], callee: list[float], country: str) -> list[float]:
    """JST hour weights of calls: the caller's habits times the callee's local hours."""
    offset = UTC_OFFSET.get(country, 0)
    return [caller[h] * callee[(h - 9 + offset) % 24] + 1e-4 for h in range(24)]


# (equipment as the customer registered it, SIP User-Agent it sends)
# fmt: off
PBX_MODELS: list[tuple[str, str]] = [
    ("NEC UNIVERGE SV9100", "NEC-SV9100/9.52"),
    ("NEC UNIVERGE Aspire WX", "NEC-AspireWX/3.20"),
    ("Panasonic KX-NS1000", "Panasonic-KX-NS1000/008.10000"),
    ("SAXA PLATIA II", "SAXA-PT1000II/2.30"),
    ("Iwatsu Frespec", "IWATSU-FRESPEC/1.40"),
    ("Hitachi integral-F", "HITACHI-integral-F/5.10"),
    ("Oki CrossCore2", "OKI-CrossCore2/2.1"),
    ("Yamaha NVR510", "YAMAHA-NVR510/15.01.24"),
    ("FreePBX 16 (Asterisk 18.20)", "FPBX-16.0.40(18.20.0)"),
    ("3CX Phone System v18", "3CXPhoneSystem 18.0.9.20"),
    ("Yealink W60B", "Yealink W60B 77.85.0.20"),
    ("Cisco SPA122, firmware 1.4.1", "Cisco/SPA122-1.4.1(SR5)"),
]
# fmt: on
# Equipment with published remote vulnerabilities that toll-fraud crews mass-exploited.
# fmt: off
VULNERABLE_MODELS: list[tuple[str, str]] = [
    ("Grandstream UCM6202, firmware 1.0.18.13", "Grandstream UCM6202V1.4A 1.0.18.13"),
    ("Elastix 2.2 (Asterisk 1.8)", "Asterisk PBX 1.8.7.0"),
    ("FreePBX 13 (Asterisk 13.19)", "FPBX-13.0.195.4(13.19.1)"),
]
# fmt: on
# fmt: off
HOME_DEVICES: list[tuple[str, str]] = [
    ("Grandstream HT802", "Grandstream HT802 1.0.43.11"),
    ("Cisco SPA112", "Cisco/SPA112-1.4.1(SR5)"),
    ("Yamaha NVR510", "YAMAHA-NVR510/15.01.24"),
    ("", "Z 5.6.1 v2.10.19.5"),
    ("", "Linphone-Desktop/5.2.1 (belle-sip/5.2.0)"),
    ("", "MicroSIP/3.21.4"),
    ("", "Grandstream HT801 1.0.41.2"),
]
# fmt: on
# fmt: off
SOFTPHONES = [
    "Zoiper rv2.10.19.5",
    "Bria iOS release 6.9.2 stamp 120012",
    "Acrobits Softphone/6.9.1",
    "Linphone-iOS/5.1.2 (iPhone)",
    "3CXPhone for Android 18.1",
]
# fmt: on
# fmt: off
ATTACKER_AGENTS = [
    "friendly-scanner",
    "sipcli/v1.8",
    "VaxSIPUserAgent/3.1",
    "PortSIP VoIP SDK 11.2",
    "pplsip",
    "sipsak 0.9.6",
    "Cisco-SIPGateway/IOS-12.x",
    "",
]
# fmt: on

# fmt: off
SURNAMES = [
    "sato", "suzuki", "takahashi", "tanaka", "watanabe", "ito", "yamamoto", "nakamura",
    "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto", "inoue",
    "kimura", "hayashi", "shimizu", "yamazaki", "mori", "abe", "ikeda", "hashimoto", "ishikawa",
    "ogawa", "okada", "goto", "hasegawa", "murakami", "kondo", "ishii", "saito", "sakamoto",
]
# fmt: on
# fmt: off
BUSINESS_WORDS = [
    "sakura", "fuji", "minato", "kanda", "asahi", "hikari", "midori", "tokai", "kita", "nishi",
    "higashi", "chuo", "daiichi", "marui", "yamato", "taiyo", "seiwa", "kyowa", "nihon", "aoba",
    "hoshi", "umi", "kawa", "shin", "ryoko", "bunka", "heiwa", "meiji", "taisho", "showa",
]
# fmt: on
# fmt: off
BUSINESS_KINDS = {
    "small_office": ["sekkei", "kogyo", "shoji", "jimusho", "clinic", "fudosan", "insatsu"],
    "sme_exporter": ["seiki", "denki", "buhin", "trading", "foods", "textile"],
    "trading_house": ["bussan", "shoji", "trading", "holdings"],
    "call_centre": ["contact", "bpo", "support", "cx"],
    "hotel": ["ryokan", "hotel", "onsen", "inn", "resort"],
    "intl_school": ["intl-school", "academy", "school"],
    "church_npo": ["church", "mission", "ngo", "relief"],
    "shipping_satellite": ["kaiun", "gyogyo", "marine", "expedition"],
    "africa_trader": ["motors", "auto-export", "car-trade"],
    "pacific_fisheries": ["suisan", "gyogyo", "tuna"],
}
# fmt: on
