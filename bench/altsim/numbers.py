"""Telephone numbers: Japanese subscriber lines, domestic and foreign callees, IPRN ranges.

Numbers are made valid by ``phonenumbers`` wherever its metadata allows: a number is drawn by
changing the last digits of a valid seed number of the wanted region and type and keeping the
result only when ``phonenumbers`` says it is valid and of that type. IPRN ranges are blocks of
1000 consecutive numbers inside a valid number range (what an IPRN provider sells).
"""

from __future__ import annotations

from random import Random

import phonenumbers as pn
from phonenumbers import PhoneNumberType as PT

# fmt: off
_TYPES: dict[str, frozenset[int]] = {
    "mobile": frozenset({PT.MOBILE, PT.FIXED_LINE_OR_MOBILE}),
    "fixed": frozenset({PT.FIXED_LINE, PT.FIXED_LINE_OR_MOBILE}),
    "any": frozenset({PT.MOBILE, PT.FIXED_LINE, PT.FIXED_LINE_OR_MOBILE}),
    "premium": frozenset({PT.PREMIUM_RATE}),
    "personal": frozenset({PT.PERSONAL_NUMBER}),
    "voip": frozenset({PT.VOIP}),
    "uan": frozenset({PT.UAN}),
    "toll_free": frozenset({PT.TOLL_FREE}),
}
# fmt: on
# fmt: off
_EXAMPLE_TYPE: dict[str, int] = {
    "mobile": PT.MOBILE,
    "fixed": PT.FIXED_LINE,
    "any": PT.MOBILE,
    "premium": PT.PREMIUM_RATE,
    "personal": PT.PERSONAL_NUMBER,
    "voip": PT.VOIP,
    "uan": PT.UAN,
    "toll_free": PT.TOLL_FREE,
}
# fmt: on
_DIGITS = "0123456789"

# Japanese geographic area codes (without the trunk 0) and where they are: big cities, then
# towns with many foreign residents (Oizumi/Ota, Hamamatsu, Toyota), resorts and fishing ports.
# fmt: off
JP_AREAS: dict[str, list[str]] = {
    "metro": ["3", "6", "52", "45", "11", "92", "75", "78", "22", "82", "43", "48"],
    "regional": ["54", "53", "25", "86", "96", "99", "98", "76", "276", "565", "566", "28"],
    "resort": ["460", "557", "267", "977", "288", "555", "198", "467", "959", "980"],
    "port": ["54", "46", "468", "59", "87", "985"],
}
# fmt: on


def _valid(digits: str) -> tuple[bool, int]:
    try:
        number = pn.parse("+" + digits)
    except pn.NumberParseException:
        return False, PT.UNKNOWN
    if not pn.is_valid_number(number):
        return False, PT.UNKNOWN
    return True, pn.number_type(number)


def dial(e164: str, style: str) -> str:
    """Write an E.164 number the way a customer's equipment sent it to the switch.

    Styles: ``e164`` (``+...``), ``010`` (Japanese international prefix), ``0033``/``001``/
    ``0061`` (carrier selection code before ``010``), for domestic numbers ``national`` (``0...``)
    and ``186`` (caller-ID-on prefix before ``0...``); ``00``/``011`` are foreign habits that the
    Japanese plan does not know (the switch fails such calls).
    """
    digits = e164[1:]
    if digits.startswith("81"):
        national = "0" + digits[2:]
        if style == "e164":
            return e164
        if style == "186":
            return "186" + national
        return national
    if style == "e164":
        return e164
    if style in ("0033", "001", "0061"):
        return style + "010" + digits
    if style == "00":
        return "00" + digits
    if style == "011":
        return "011" + digits
    return "010" + digits


class Numbers:
    """Draws numbers; deterministic for a seed (each draw takes the caller's ``Random``)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._seeds: dict[tuple[str, str], list[str]] = {}
        self._pools: dict[tuple[str, str, int], list[str]] = {}
        self._lengths: dict[str, list[str]] = {}
        self._taken: set[str] = set()

    # --- foreign numbers ----------------------------------------------------------------------

    def _seed_numbers(self, region: str, kind: str) -> list[str]:
        """A few valid E.164 digit strings of ``region``/``kind`` spread over its ranges."""
        key = (region, kind)
        found = self._seeds.get(key)
        if found is not None:
            return found
        wanted = _TYPES[kind]
        rng = Random(f"altsim-seeds:{region}:{kind}")
        example = pn.example_number_for_type(region, _EXAMPLE_TYPE[kind])
        if example is None and kind in ("any", "mobile"):
            example = pn.example_number_for_type(region, PT.FIXED_LINE)
        if example is None:
            raise ValueError(f"no {kind} numbers known for {region}")
        cc = str(example.country_code)
        national = pn.national_significant_number(example)
        out = [cc + national]
        current = national
        for _ in range(600):
            if len(out) >= 16:
                break
            chars = list(current)
            for _ in range(rng.randint(1, 2)):
                pos = rng.randrange(1, len(chars)) if len(chars) > 1 else 0
                chars[pos] = rng.choice(_DIGITS)
            candidate = "".join(chars)
            ok, kind_found = _valid(cc + candidate)
            if ok and kind_found in wanted:
                current = candidate
                if cc + candidate not in out:
                    out.append(cc + candidate)
        self._seeds[key] = out
        return out

    def foreign(self, rng: Random, region: str, kind: str = "mobile") -> str:
        """A valid number of ``region`` and ``kind`` (``+`` and digits)."""
        seeds = self._seed_numbers(region, kind)
        wanted = _TYPES[kind]
        base = rng.choice(seeds)
        cc_len = len(str(pn.country_code_for_region(region)))
        for _ in range(40):
            free = rng.randint(3, min(6, len(base) - cc_len - 1))
            candidate = base[:-free] + "".join(rng.choice(_DIGITS) for _ in range(free))
            ok, kind_found = _valid(candidate)
            if ok and kind_found in wanted:
                return "+" + candidate
        return "+" + base

    def pool(self, region: str, kind: str, size: int) -> list[str]:
        """``size`` distinct numbers of one region and kind, the same for a seed (call lists)."""
        key = (region, kind, size)
        found = self._pools.get(key)
        if found is None:
            rng = Random(f"altsim-pool:{self._seed}:{region}:{kind}:{size}")
            seen: dict[str, None] = {}
            for _ in range(size * 3):
                if len(seen) >= size:
                    break
                seen[self.foreign(rng, region, kind)] = None
            found = list(seen)
            self._pools[key] = found
        return found

    # --- numbers under a prefix (IPRN ranges, satellite, premium) -----------------------------

    def _prefix_examples(self, prefix: str) -> list[str]:
        """Valid numbers under ``prefix`` of its most common length (the range's own length)."""
        found = self._lengths.get(prefix)
        if found is not None:
            return found
        rng = Random(f"altsim-prefix:{prefix}")
        best: list[str] = []
        for total in range(len(prefix) + 2, 16):
            hits = []
            for _ in range(40):
                candidate = prefix + _rand(rng, total - len(prefix))
                if _valid(candidate)[0]:
                    hits.append(candidate)
            if len(hits) > len(best):
                best = hits
        self._lengths[prefix] = best
        return best

    def under_prefix(self, rng: Random, prefix: str) -> str:
        """A number starting with ``prefix`` (digits, no ``+``), valid when one can be found."""
        examples = self._prefix_examples(prefix)
        if not examples:
            total = max(len(prefix) + 6, 11)
            return "+" + prefix + "".join(rng.choice(_DIGITS) for _ in range(total - len(prefix)))
        base = rng.choice(examples)
        for _ in range(40):
            candidate = prefix + "".join(
                rng.choice(_DIGITS) for _ in range(len(base) - len(prefix))
            )
            if _valid(candidate)[0]:
                return "+" + candidate
        return "+" + base

    def iprn_range(self, rng: Random, prefix: str) -> str:
        """A block of 1000 numbers (all but the last three digits) under ``prefix``."""
        number = self.under_prefix(rng, prefix)
        return number[:-3]

    @staticmethod
    def in_range(rng: Random, block: str, sequential_from: int | None = None) -> str:
        """A number of a 1000-number block; near ``sequential_from`` when the dialer walks it."""
        if sequential_from is None:
            return block + f"{rng.randrange(1000):03d}"
        return block + f"{(sequential_from + rng.randint(0, 3)) % 1000:03d}"

    # --- Japan --------------------------------------------------------------------------------

    def jp_subscriber(self, rng: Random, area: str) -> str:
        """A new Japanese subscriber number: ``area`` is an area code, or ``50`` for 050 IP."""
        nsn_len = 10 if area == "50" else 9
        for _ in range(200):
            rest = "".join(rng.choice(_DIGITS) for _ in range(nsn_len - len(area)))
            if area != "50" and rest[0] in "01":
                continue
            digits = "81" + area + rest
            if digits in self._taken:
                continue
            if _valid(digits)[0]:
                self._taken.add(digits)
                return "+" + digits
        raise RuntimeError(f"no free number in area {area}")

    def jp_block(self, rng: Random, area: str, count: int) -> list[str]:
        """``count`` consecutive numbers (a DID block of a business)."""
        for _ in range(200):
            first = self.jp_subscriber(rng, area)
            base = int(first[3:])
            block = [f"+81{base + i}" for i in range(count)]
            if all(n[1:] not in self._taken for n in block[1:]) and all(
                _valid(n[1:])[0] for n in block
            ):
                self._taken.update(n[1:] for n in block)
                return block
        raise RuntimeError("no free number block")

    def jp_domestic(self, rng: Random, kind: str = "fixed") -> str:
        """A domestic callee: ``fixed``, ``mobile``, ``ip`` (050), ``free`` (0120), ``navi``."""
        for _ in range(100):
            if kind == "mobile":
                digits = "81" + rng.choice(("90", "80", "70")) + _rand(rng, 8)
            elif kind == "ip":
                digits = "8150" + _rand(rng, 8)
            elif kind == "free":
                digits = "81120" + _rand(rng, 6)
            elif kind == "navi":
                digits = "81570" + _rand(rng, 6)
            else:
                group = rng.choice(("metro", "metro", "regional", "resort"))
                area = rng.choice(JP_AREAS[group])
                digits = "81" + area + rng.choice("23456789") + _rand(rng, 8 - len(area))
            if _valid(digits)[0]:
                return "+" + digits
        return "+81312345678"


def _rand(rng: Random, n: int) -> str:
    return "".join(rng.choice(_DIGITS) for _ in range(n))
