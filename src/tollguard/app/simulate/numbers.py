"""Telephone numbers for the simulator: Japanese subscriber numbers and valid foreign numbers.

Foreign numbers start from ``phonenumbers`` example numbers and vary their trailing digits; how many
trailing digits may vary is found once per (region, kind) by checking variants with
``phonenumbers.is_valid_number``, so generated numbers are valid for the library.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberType

from tollguard.app.simulate.catalog import AREA_CODES, IP_PHONE_PREFIX, MOBILE_PREFIXES

_KINDS = {
    "mobile": PhoneNumberType.MOBILE,
    "fixed": PhoneNumberType.FIXED_LINE,
    "premium": PhoneNumberType.PREMIUM_RATE,
    "toll_free": PhoneNumberType.TOLL_FREE,
    "uan": PhoneNumberType.UAN,
}
_AREA_WEIGHTS = [w for _, w in AREA_CODES]
_AREAS = [a for a, _ in AREA_CODES]


@dataclass(frozen=True, slots=True)
class NumberTemplate:
    """A family of valid numbers: calling code, fixed leading digits, count of free digits."""

    country_code: int
    head: str
    free: int

    def draw(self, rng: random.Random) -> str:
        """A random E.164 number (with ``+``) of this family."""
        tail = str(rng.randrange(10**self.free)).zfill(self.free)
        return f"+{self.country_code}{self.head}{tail}"

    def narrow(self, rng: random.Random, digits: int = 2) -> NumberTemplate:
        """A sub-range: ``digits`` more leading digits fixed (kept valid), at least 2 left free."""
        fix = max(0, min(digits, self.free - 2))
        for _ in range(20):
            extra = str(rng.randrange(10**fix)).zfill(fix) if fix else ""
            cand = NumberTemplate(self.country_code, self.head + extra, self.free - fix)
            if _valid(cand.country_code, cand.head + "0" * cand.free) and _valid(
                cand.country_code, cand.head + "9" * cand.free
            ):
                return cand
        return self


def _valid(country_code: int, nsn: str) -> bool:
    return bool(
        phonenumbers.is_valid_number(
            PhoneNumber(country_code=country_code, national_number=int(nsn))
        )
    )


def valid_jp(number: str) -> bool:
    """Whether a ``+81`` E.164 number is valid for phonenumbers."""
    return _valid(81, number[3:])


@cache
def template(region: str, kind: str) -> NumberTemplate:
    """The template of ``kind`` ("mobile", "fixed", "premium") numbers in ``region``.

    ``region`` is ISO alpha-2, or a non-geographic calling code as digits (e.g. ``"881"``).
    """
    if region.isdigit():
        example = phonenumbers.example_number_for_non_geo_entity(int(region))
    else:
        example = phonenumbers.example_number_for_type(region, _KINDS[kind])
    if example is None:
        raise ValueError(f"no {kind} example number for {region}")
    cc = int(example.country_code or 0)
    nsn = str(example.national_number)
    check = random.Random(f"template:{region}:{kind}")
    for free in (6, 5, 4, 3, 2):
        if free > len(nsn) - 2:
            continue
        head = nsn[:-free]
        if all(_valid(cc, head + str(check.randrange(10**free)).zfill(free)) for _ in range(24)):
            return NumberTemplate(cc, head, free)
    return NumberTemplate(cc, nsn, 0)


@cache
def family(region: str, kind: str) -> tuple[NumberTemplate, ...]:
    """Several valid templates of ``kind`` in ``region``, spread over its numbering plan.

    The example number's leading digits are re-drawn (keeping the first one) and kept when every
    checked variant is valid, so ordinary contacts are not all in the example's exchange.
    """
    base = template(region, kind)
    check = random.Random(f"family:{region}:{kind}")
    heads = {base.head}
    vary = len(base.head) - 1
    if vary > 0 and base.free > 0:
        for _ in range(30):
            head = base.head[0] + str(check.randrange(10**vary)).zfill(vary)
            if head in heads:
                continue
            if all(
                _valid(
                    base.country_code, head + str(check.randrange(10**base.free)).zfill(base.free)
                )
                for _ in range(8)
            ):
                heads.add(head)
            if len(heads) >= 12:
                break
    return tuple(NumberTemplate(base.country_code, h, base.free) for h in sorted(heads))


def foreign_number(rng: random.Random, region: str, kind: str = "mobile") -> str:
    """A valid E.164 number in ``region`` of ``kind`` (anywhere in its numbering plan)."""
    options = family(region, kind)
    return options[rng.randrange(len(options))].draw(rng)


@cache
def _first_digits(area: str) -> str:
    """Leading digits of local numbers that are valid after ``area`` (checked with phonenumbers)."""
    check = random.Random(f"jp:{area}")
    rest = 9 - len(area)
    ok = ""
    for first in "23456789":
        if all(
            _valid(81, area + first + str(check.randrange(10 ** (rest - 1))).zfill(rest - 1))
            for _ in range(24)
        ):
            ok += first
    return ok or "2"


def jp_geographic(rng: random.Random, area: str | None = None) -> str:
    """A Japanese fixed-line number (E.164): area code + subscriber digits, 9-digit NSN."""
    code = area or rng.choices(_AREAS, _AREA_WEIGHTS)[0]
    rest = 9 - len(code)
    first = rng.choice(_first_digits(code))
    tail = str(rng.randrange(10 ** (rest - 1))).zfill(rest - 1)
    return f"+81{code}{first}{tail}"


def jp_mobile(rng: random.Random) -> str:
    """A Japanese mobile number (E.164): 090/080/070 + 8 digits."""
    return f"+81{rng.choice(MOBILE_PREFIXES)}{rng.randrange(1, 10)}{rng.randrange(10**7):07d}"


def jp_service(rng: random.Random) -> str:
    """A Japanese freephone (0120) or nationwide shared number (0570, "navi dial"), E.164."""
    return template("JP", "toll_free" if rng.random() < 0.7 else "uan").draw(rng)


def jp_ip_phone(rng: random.Random) -> str:
    """A Japanese 050 IP-phone number (E.164)."""
    return f"+81{IP_PHONE_PREFIX}{rng.randrange(1, 10)}{rng.randrange(10**7):07d}"


def area_of(number: str) -> str:
    """The area code of a Japanese geographic E.164 number (``+81...``)."""
    nsn = number[3:]
    for code in sorted(_AREAS, key=len, reverse=True):
        if nsn.startswith(code):
            return code
    return nsn[:1]


def dialled(e164: str, style: str) -> str:
    """``e164`` as a switch records it: ``"e164"`` keeps ``+``; ``"jp"`` is Japanese dialling.

    Japanese dialling: ``0`` + national number for Japan, ``010`` + country code + number abroad.
    """
    if style == "e164":
        return e164
    if e164.startswith("+81"):
        return "0" + e164[3:]
    return "010" + e164[1:]
