"""Customers' equipment models, and whether confirmed incidents concentrate on one of them.

The source document saw the damage concentrate on "a specific vendor's PBX, on a specific model"
(about 80 cases). tollguard learns each customer's model from the SIP ``User-Agent`` of their
successful registrations (what is actually connected) and, failing that, from the optional
``equipment`` column of the subscribers CSV (what the customer declared), then asks whether the
customers with a confirmed incident are spread over the models in proportion to how many
customers use each model, or crowd onto one.

The test (:func:`concentration`): of N customers with a known model, n_m use model m; K of them
had a confirmed incident in the window, k_m of those on model m. Under the null hypothesis that
incidents strike customers regardless of their model, k_m is hypergeometric (K draws without
replacement from N, n_m of which are "on m"), and the upper tail P(X >= k_m) is the chance of
seeing at least this many on m. A model is flagged when

* that tail is below ``alpha / M`` (Bonferroni over the M models tested, so that the chance of any
  false alarm in one run is at most ``alpha``);
* at least ``min_incidents`` of its customers were hit; and
* its incident rate is at least ``min_rate_ratio`` times the carrier's.

Why these defaults (``ConcentrationSettings``): ``alpha = 0.001`` because an alert warns every
customer on a model and goes to its vendor, so a false alarm is expensive, and the check runs
repeatedly (hourly in the service; looks this correlated add little, but a small alpha keeps the
yearly false-alarm count well below one). ``min_incidents = 3`` because one or two victims on a
rare model are "significant" by arithmetic alone (one customer of a model of one, hit among 5
incidents of 3,000 customers, has p = 0.0017) and tell nothing about the model. ``min_rate_ratio
= 2`` because a model carrying, say, 55 % of incidents with 45 % of customers may be
"significant" over hundreds of incidents yet is no reason to warn its users: the warning is for
a model with at least twice the carrier's risk. ``window_days = 30`` because equipment
vulnerabilities are exploited in waves (the source document's 80 cases came within a few months)
and old incidents on since-patched firmware should not dilute a new wave.

Nothing here does I/O.

>>> parse_user_agent("Yealink SIP-T46S 66.86.0.15")
DeviceModel(key='yealink sip-t46s', name='Yealink SIP-T46S', firmware='66.86.0.15')
>>> parse_user_agent("Cisco/SPA504G-7.6.2e").name, parse_user_agent("Cisco/SPA504G-7.6.2e").firmware
('Cisco SPA504G', '7.6.2e')
>>> parse_user_agent("friendly-scanner") is None
True
>>> round(hypergeom_sf(3, 1000, 50, 5), 4)  # 3 of 5 incidents on a model 5 % of customers use
0.0011
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tollguard.domain.records import SipEventKind, Subscriber

#: User agents of SIP scanners and cracking tools: never a customer's equipment.
SCANNER_AGENTS: tuple[str, ...] = (
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipscan",
    "sundayddr",
    "vaxsipuseragent",
    "pplsip",
    "smap",
    "sipsak",
    "iWar",
)
_SCANNERS = tuple(a.casefold() for a in SCANNER_AGENTS)

#: Words that introduce the firmware or software version in a User-Agent or equipment text.
_VERSION_WORDS = frozenset(
    {"firmware", "fw", "version", "ver", "release", "rel", "build", "sw", "software"}
)
#: A version token: digits with at least one dot (``66.86.0.15``, ``v2.1``, ``rv2.10.20.2``).
_VERSION = re.compile(r"^(?:v|rv|r|ver|fw)?\d+(?:[._]\w+)+$", re.IGNORECASE)
#: A product with its version glued on by a dash or underscore (``FPBX-15.0.37``).
_GLUED = re.compile(r"^(?P<model>.*?[A-Za-z].*?)[-_](?P<version>(?:v|rv)?\d+(?:[._]\w+)+)$")
_MAX_MODEL_CHARS = 120
_MAX_FIRMWARE_CHARS = 120

#: Event kinds whose User-Agent is the customer's own equipment: the credential worked.
SUCCESS_EVENTS = frozenset({SipEventKind.REGISTER, SipEventKind.AUTH_SUCCESS})


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """A model of equipment: ``key`` groups spellings, ``name`` is shown, ``firmware`` may be ''."""

    key: str
    name: str
    firmware: str = ""


def _model_key(name: str) -> str:
    return " ".join(name.casefold().replace("_", " ").split())


def is_scanner(user_agent: str) -> bool:
    """Whether a User-Agent is a known SIP scanner or cracking tool."""
    low = user_agent.strip().casefold()
    return any(low.startswith(s.casefold()) for s in _SCANNERS)


def parse_user_agent(text: str | None) -> DeviceModel | None:
    """The model and firmware in a SIP ``User-Agent`` (or an equipment description).

    The model is what comes before the first version: a dotted number (``1.4.1``, ``v2.1``,
    ``rv2.10.20.2``), a product/version pair (``Linphone/5.2.5``), a version glued on with a dash
    (``FPBX-15.0.37``) or a word such as ``firmware``, ``release`` or ``build``. Scanners' agents
    and empty text give ``None``.

    >>> parse_user_agent("Cisco SPA122, firmware 1.4.1")
    DeviceModel(key='cisco spa122', name='Cisco SPA122', firmware='1.4.1')
    >>> parse_user_agent("Nami SmartPBX 3")
    DeviceModel(key='nami smartpbx 3', name='Nami SmartPBX 3', firmware='')
    >>> parse_user_agent("eyeBeam release 1004p stamp 31962").firmware
    'release 1004p stamp 31962'
    >>> parse_user_agent("FPBX-15.0.37")
    DeviceModel(key='fpbx', name='FPBX', firmware='15.0.37')
    """
    if not text:
        return None
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    if not cleaned or is_scanner(cleaned):
        return None
    tokens = [t for t in re.split(r"[\s/,;()]+", cleaned) if t]
    model: list[str] = []
    firmware: list[str] = []
    for i, token in enumerate(tokens):
        low = token.casefold().rstrip(":")
        if model and (low in _VERSION_WORDS or _VERSION.match(token)):
            firmware = tokens[i:]
            break
        glued = _GLUED.match(token)
        if glued is not None:
            model.append(glued["model"])
            firmware = [glued["version"], *tokens[i + 1 :]]
            break
        if not model and _VERSION.match(token):  # a version before any name: no model
            return None
        model.append(token)
    name = " ".join(model)[:_MAX_MODEL_CHARS].strip()
    if not name:
        return None
    version = " ".join(firmware)
    if firmware and firmware[0].casefold().rstrip(":") in {"firmware", "fw", "version", "ver"}:
        version = " ".join(firmware[1:])
    return DeviceModel(_model_key(name), name, version[:_MAX_FIRMWARE_CHARS])


def username_index(
    subscribers: Iterable[Subscriber], *, calling_code: str = "81", trunk_prefix: str = "0"
) -> dict[str, str]:
    """SIP username -> subscriber id, by the engine's rule (id, E.164, digits, national)."""
    index: dict[str, str] = {}
    for sub in subscribers:
        index[sub.subscriber_id] = sub.subscriber_id
        for number in sub.numbers:
            digits = number.lstrip("+")
            index[number] = sub.subscriber_id
            index[digits] = sub.subscriber_id
            if digits.startswith(calling_code):
                index[trunk_prefix + digits[len(calling_code) :]] = sub.subscriber_id
    return index


@dataclass(slots=True)
class _Seen:
    declared: DeviceModel | None = None
    observed: Counter[str] = field(default_factory=Counter)
    models: dict[str, DeviceModel] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)


class EquipmentRegistry:
    """What equipment each customer uses: observed User-Agents first, the declared model else.

    A customer's observed model is the one seen most often in their successful registrations
    (ties: the latest), so a traveller's softphone for a week, or an attacker registering once
    with stolen credentials, does not replace the PBX that registers every day.
    """

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def declare(self, subscriber_id: str, equipment: str | None) -> None:
        """The model a customer declared (subscribers CSV ``equipment``); ``None`` keeps them
        known as a customer of unknown model."""
        seen = self._seen.setdefault(subscriber_id, _Seen())
        seen.declared = parse_user_agent(equipment)

    def observe(self, subscriber_id: str, user_agent: str, t: float = 0.0, count: int = 1) -> bool:
        """A User-Agent seen (``count`` times, the last at ``t``) on successful registrations of
        the customer; ``False`` when it names no model (empty, a scanner)."""
        model = parse_user_agent(user_agent)
        if model is None or count < 1:
            return False
        seen = self._seen.setdefault(subscriber_id, _Seen())
        variant = f"{model.key}\x00{model.firmware}"
        seen.observed[variant] += count
        seen.models[variant] = model
        seen.last[variant] = max(t, seen.last.get(variant, t))
        return True

    def observe_event(
        self, subscriber_id: str | None, kind: SipEventKind, user_agent: str, t: float = 0.0
    ) -> bool:
        """:meth:`observe` for a SIP event, if it was a success of a known customer."""
        if subscriber_id is None or kind not in SUCCESS_EVENTS:
            return False
        return self.observe(subscriber_id, user_agent, t)

    def model_of(self, subscriber_id: str) -> tuple[DeviceModel | None, str]:
        """The customer's model and where it comes from (``sip``, ``declared`` or ``unknown``)."""
        seen = self._seen.get(subscriber_id)
        if seen is None:
            return None, "unknown"
        if seen.observed:
            per_model: Counter[str] = Counter()
            latest: dict[str, tuple[float, str]] = {}
            for variant, n in seen.observed.items():
                key = seen.models[variant].key
                per_model[key] += n
                latest[key] = max(latest.get(key, (-math.inf, "")), (seen.last[variant], variant))
            key = max(per_model, key=lambda k: (per_model[k], latest[k][0], k))
            return seen.models[latest[key][1]], "sip"
        if seen.declared is not None:
            return seen.declared, "declared"
        return None, "unknown"

    def firmware(self, subscriber_id: str) -> set[str]:
        """Every firmware string seen for the customer's model (observed and declared)."""
        model, _ = self.model_of(subscriber_id)
        seen = self._seen.get(subscriber_id)
        if model is None or seen is None:
            return set()
        found = {m.firmware for m in seen.models.values() if m.key == model.key and m.firmware}
        if seen.declared is not None and seen.declared.key == model.key and seen.declared.firmware:
            found.add(seen.declared.firmware)
        return found

    def customers(self) -> dict[str, DeviceModel | None]:
        """Every customer known, with their model (``None``: unknown)."""
        return {sid: self.model_of(sid)[0] for sid in sorted(self._seen)}

    def by_model(self) -> dict[str, list[str]]:
        """Model key -> the customers using it, by id."""
        out: dict[str, list[str]] = {}
        for sid, model in self.customers().items():
            if model is not None:
                out.setdefault(model.key, []).append(sid)
        return out


# -- the concentration test ---------------------------------------------------------------------


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def hypergeom_sf(k: int, population: int, successes: int, draws: int) -> float:
    """P(X >= k) for X hypergeometric: ``draws`` without replacement from ``population`` items,
    ``successes`` of which count. Exact to floating point (log-space sum of the tail)."""
    if population < 0 or not 0 <= successes <= population or not 0 <= draws <= population:
        raise ValueError("need 0 <= successes, draws <= population")
    lo = max(0, draws - (population - successes))
    hi = min(successes, draws)
    if k <= lo:
        return 1.0
    if k > hi:
        return 0.0
    denom = _log_comb(population, draws)
    logs = [
        _log_comb(successes, x) + _log_comb(population - successes, draws - x) - denom
        for x in range(k, hi + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


@dataclass(frozen=True, slots=True)
class ConcentrationSettings:
    """When a model's share of incidents is an alert (see the module docs for why)."""

    alpha: float = 1e-3
    """Family-wise false-alarm probability of one run (Bonferroni over the models tested)."""
    min_incidents: int = 3
    """Fewest customers hit on the model before it can be flagged."""
    min_rate_ratio: float = 2.0
    """The model's incident rate must be at least this multiple of the carrier's."""
    window_days: float = 30.0
    """Only incidents this recent count."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if self.min_incidents < 1 or self.min_rate_ratio < 1 or self.window_days <= 0:
            raise ValueError("min_incidents >= 1, min_rate_ratio >= 1 and window_days > 0")


@dataclass(frozen=True, slots=True)
class ModelFinding:
    """One model's figures in a concentration test."""

    key: str
    name: str
    customers: int
    incidents: int
    expected: float
    rate_ratio: float
    p_value: float
    threshold: float
    alert: bool


def concentration(
    customers_per_model: Mapping[str, int],
    incidents_per_model: Mapping[str, int],
    settings: ConcentrationSettings | None = None,
    names: Mapping[str, str] | None = None,
) -> list[ModelFinding]:
    """Test every model; findings sorted by p-value (alerts first).

    ``customers_per_model`` counts customers with a known model; ``incidents_per_model`` counts
    the customers among them with a confirmed incident (each customer once).

    >>> spread = concentration({"a": 500, "b": 300, "c": 200}, {"a": 5, "b": 3, "c": 2})
    >>> [f.alert for f in spread]
    [False, False, False]
    >>> wave = concentration({"a": 500, "b": 300, "c": 200}, {"a": 1, "b": 1, "c": 8})
    >>> [(f.key, f.alert) for f in wave][0]
    ('c', True)
    """
    cfg = settings or ConcentrationSettings()
    for key, k in incidents_per_model.items():
        if k > customers_per_model.get(key, 0):
            raise ValueError(f"model {key!r}: {k} incidents but fewer customers")
    population = sum(customers_per_model.values())
    draws = sum(incidents_per_model.values())
    tested = [key for key, n in customers_per_model.items() if n > 0]
    threshold = cfg.alpha / max(1, len(tested))
    out = []
    for key in tested:
        n = customers_per_model[key]
        k = incidents_per_model.get(key, 0)
        expected = draws * n / population if population else 0.0
        ratio = (k / expected) if expected > 0 else 0.0
        p = hypergeom_sf(k, population, n, draws) if k > 0 else 1.0
        alert = p < threshold and k >= cfg.min_incidents and ratio >= cfg.min_rate_ratio
        name = (names or {}).get(key, key)
        out.append(ModelFinding(key, name, n, k, expected, ratio, p, threshold, alert))
    out.sort(key=lambda f: (not f.alert, f.p_value, -f.incidents, f.key))
    return out


@dataclass(frozen=True, slots=True)
class Incident:
    """A confirmed incident on a customer: when, and where the confirmation came from."""

    subscriber_id: str
    time: float
    source: str


def incidents_by_customer(incidents: Iterable[Incident], *, since: float) -> dict[str, Incident]:
    """The first incident of each customer at or after ``since``."""
    first: dict[str, Incident] = {}
    for inc in sorted(incidents, key=lambda i: (i.time, i.subscriber_id)):
        if inc.time >= since and inc.subscriber_id not in first:
            first[inc.subscriber_id] = inc
    return first


@dataclass(frozen=True, slots=True)
class ModelAlert:
    """A model on which incidents concentrate: its figures, customers and incidents."""

    finding: ModelFinding
    firmware: tuple[str, ...]
    """Every firmware string seen on the model."""
    customers: tuple[str, ...]
    incidents: tuple[Incident, ...]
    incident_firmware: tuple[str, ...] = ()
    """The firmware strings seen on the customers hit."""

    def vendor_summary(self, *, timezone_name: str = "UTC") -> dict[str, object]:
        """What the vendor is told: the model, firmware strings seen, the incidents' times and
        the figures of the test. No customer identity (no ids, numbers, names or addresses)."""
        f = self.finding
        return {
            "model": f.name,
            "firmware_seen": list(self.firmware),
            "firmware_on_incidents": list(self.incident_firmware),
            "customers_on_model": f.customers,
            "incidents_on_model": f.incidents,
            "expected_by_chance": round(f.expected, 3),
            "rate_ratio": round(f.rate_ratio, 2),
            "p_value": f.p_value,
            "incident_times": sorted(i.time for i in self.incidents),
            "timezone": timezone_name,
        }


@dataclass(frozen=True, slots=True)
class EquipmentReport:
    """The result of one check: every model's figures and the alerts."""

    as_of: float
    since: float
    settings: ConcentrationSettings
    findings: tuple[ModelFinding, ...]
    alerts: tuple[ModelAlert, ...]
    customers_known: int
    customers_unknown: int
    incidents_attributed: int
    incidents_unattributed: int


def check(
    registry: EquipmentRegistry,
    incidents: Iterable[Incident],
    *,
    as_of: float,
    settings: ConcentrationSettings | None = None,
) -> EquipmentReport:
    """Run the concentration test over a registry and confirmed incidents up to ``as_of``."""
    cfg = settings or ConcentrationSettings()
    since = as_of - cfg.window_days * 86400.0
    models = registry.customers()
    hit = incidents_by_customer((i for i in incidents if i.time <= as_of), since=since)
    per_model: Counter[str] = Counter()
    names: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for sid, model in models.items():
        if model is None:
            continue
        per_model[model.key] += 1
        names.setdefault(model.key, model.name)
        members.setdefault(model.key, []).append(sid)
    struck: Counter[str] = Counter()
    unattributed = 0
    for sid in hit:
        model = models.get(sid)
        if model is None:
            unattributed += 1
        else:
            struck[model.key] += 1
    findings = concentration(per_model, struck, cfg, names)
    alerts = []
    for f in findings:
        if not f.alert:
            continue
        sids = tuple(members[f.key])
        firmware: set[str] = set()
        for sid in sids:
            firmware |= registry.firmware(sid)
        incs = tuple(
            sorted(
                (hit[sid] for sid in sids if sid in hit), key=lambda i: (i.time, i.subscriber_id)
            )
        )
        hit_firmware: set[str] = set()
        for inc in incs:
            hit_firmware |= registry.firmware(inc.subscriber_id)
        alerts.append(
            ModelAlert(f, tuple(sorted(firmware)), sids, incs, tuple(sorted(hit_firmware)))
        )
    known = sum(per_model.values())
    return EquipmentReport(
        as_of,
        since,
        cfg,
        tuple(findings),
        tuple(alerts),
        known,
        len(models) - known,
        sum(struck.values()),
        unattributed,
    )
