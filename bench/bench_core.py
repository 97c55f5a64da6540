"""Core benchmarks: classify 1M mixed numbers, rate 1M CDRs (targets: >= 500k/s each).

The inputs are generated deterministically (fixed seeds): Japanese-dialled domestic numbers
(``0`` + national number, some with hyphens), ``010``-dialled international numbers and E.164
numbers of every country and non-geographic code (libphonenumber example numbers with their last
3-6 digits randomised, so almost every number is distinct and some are invalid), plus about 3%
junk (letters, empty, too short, SIP URIs, full-width digits).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import phonenumbers

from bench.run import BenchResult, Timing, measure
from tollguard.domain.numbering import NumberClassifier
from tollguard.domain.rating import Tariff

N = 1_000_000
SEED = 2026
TARGET = 500_000.0
RUNS = 5
COMMAND = "python -m bench.run --only core"

_JP_NATIONAL = [
    ("3", 9),  # Tokyo
    ("6", 9),  # Osaka
    ("45", 9),  # Yokohama
    ("52", 9),  # Nagoya
    ("90", 10),  # mobile
    ("80", 10),
    ("70", 10),
    ("50", 10),  # IP phone
    ("120", 9),  # toll free
    ("570", 9),  # Navi Dial
]
_JUNK = [
    "",
    "abc",
    "+81-3-CALL-NOW",
    "12",
    "+",
    "anonymous",
    "*86#",
    "sip:+442079460000@pbx.example",
    "０３－１２３４－５６７８",
    "+44 (0)20 7946 0000",
    "+" + "9" * 25,
]


def _templates() -> list[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(11):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                national = phonenumbers.national_significant_number(example)
                found.add((int(example.country_code or 0), national))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.add((code, phonenumbers.national_significant_number(example)))
    return sorted(found)


def generate_numbers(n: int = N, seed: int = SEED) -> list[str]:
    """``n`` mixed numbers as a Japanese carrier's CDRs would record them (deterministic)."""
    rnd = random.Random(seed)
    templates = _templates()
    out: list[str] = []
    append = out.append
    for _ in range(n):
        x = rnd.random()
        if x < 0.35:
            lead, length = _JP_NATIONAL[rnd.randrange(len(_JP_NATIONAL))]
            rest = length - len(lead)
            national = lead + str(rnd.randrange(10**rest)).zfill(rest)
            if x < 0.02:
                append(f"0{national[:-8]}-{national[-8:-4]}-{national[-4:]}")
            else:
                append("0" + national)
            continue
        if x < 0.97:
            cc, national = templates[rnd.randrange(len(templates))]
            k = min(len(national) - 1, rnd.randrange(3, 7))
            national = national[:-k] + str(rnd.randrange(10**k)).zfill(k) if k > 0 else national
            append(f"010{cc}{national}" if x < 0.55 else f"+{cc}{national}")
            continue
        append(_JUNK[rnd.randrange(len(_JUNK))])
    return out


def generate_seconds(n: int = N, seed: int = SEED) -> list[float]:
    """Call durations: 20% unanswered (0 s), the rest about 2 minutes on average."""
    rnd = random.Random(seed + 1)
    return [0.0 if rnd.random() < 0.2 else round(rnd.expovariate(1 / 120), 1) for _ in range(n)]


_CACHE: dict[str, list[str]] = {}


def _numbers() -> list[str]:
    if "numbers" not in _CACHE:
        _CACHE["numbers"] = generate_numbers()
    return _CACHE["numbers"]


def _spread(timing: Timing, n: int) -> str:
    return (
        f"best of {RUNS} wall clock; median {n / timing.median:,.0f}/s; "
        f"CPU time of the best run {n / timing.cpu_best:,.0f}/s."
    )


def bench_classify() -> list[BenchResult]:
    """Classify 1M mixed numbers: first pass (index built on the fly), then steady state."""
    numbers = _numbers()
    distinct = len(set(numbers))
    cold = measure(1, lambda: NumberClassifier().classify_many(numbers))
    warm = measure(RUNS, lambda: NumberClassifier().classify_many(numbers))
    rnd = random.Random(SEED + 2)
    pool = generate_numbers(50_000, SEED + 3)
    weights = [1 / (rank + 1) for rank in range(len(pool))]
    repeated = rnd.choices(pool, weights=weights, k=N)
    memo = measure(RUNS, lambda: NumberClassifier().classify_many(repeated))
    return [
        BenchResult(
            "classify 1M mixed numbers (prefix index warm)",
            N / warm.best,
            "numbers/s",
            TARGET,
            COMMAND,
            details=(
                f"{N:,} numbers ({distinct:,} distinct), a fresh classifier (empty memo) per "
                f"run; {_spread(warm, N)}"
            ),
        ),
        BenchResult(
            "classify 1M mixed numbers, first pass (index built during the run)",
            N / cold.best,
            "numbers/s",
            None,
            COMMAND,
            details="The prefix index grows from empty as new prefixes are seen; one run.",
        ),
        BenchResult(
            "classify 1M CDR callees drawn from 50k destinations (Zipf)",
            N / memo.best,
            "numbers/s",
            TARGET,
            COMMAND,
            details=f"Repeated callees, as in real CDRs: memo hits; {_spread(memo, N)}",
        ),
    ]


def bench_rate() -> BenchResult:
    """Rate 1M CDRs (E.164 callee, seconds) with the default tariff."""
    infos = NumberClassifier().classify_many(_numbers())
    e164s = [info.e164 or info.raw for info in infos]
    seconds = generate_seconds()
    tariff = Tariff.default()
    timing = measure(RUNS, lambda: tariff.charge_many(e164s, seconds))
    return BenchResult(
        "rate 1M CDRs (default tariff, longest prefix + increment)",
        N / timing.best,
        "rows/s",
        TARGET,
        COMMAND,
        details=(
            f"{len(tariff):,} tariff rows; 20% unanswered; Tariff.charge_many; {_spread(timing, N)}"
        ),
    )


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_classify, bench_rate]
