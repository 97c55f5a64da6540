"""Telephone number analysis: E.164 normalisation, country and number type.

Numbers are read under a :class:`NumberingPlan` (how the carrier's customers dial: Japanese ``010``
international prefix and ``0`` trunk prefix by default) and classified against the metadata of
``phonenumbers`` (libphonenumber).

Classification does not call ``phonenumbers.parse``: a **prefix index** built from the metadata
gives the answer. Every national-number pattern of every region of a calling code (general, each
number type, and the regions' leading digits) is compiled into a lazily-determinised automaton over
the ten digits. Walking a number's digits moves all automata together; the walk stops at the first
prefix where, for every automaton, acceptance of the rest depends only on how many digits follow
(for example ``90`` followed by exactly eight digits). That prefix is a *leaf*: every number with
that prefix and a given length has the same region and type, computed once and cached. Results are
therefore exactly those of ``phonenumbers.region_code_for_number`` and ``number_type`` (see the
equivalence tests), at the cost of a few dictionary look-ups per number. The index is built on
demand, shared by all classifiers, and grows only with the prefixes actually seen.
"""

from __future__ import annotations

import gc
import re
import re._constants as sre_c
import re._parser as sre_parse
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

if hasattr(phonenumbers, "enable_pattern_cache"):  # phonenumbers >= 9.0.x
    phonenumbers.enable_pattern_cache()

__all__ = [
    "NON_GEOGRAPHIC_REGION",
    "NumberClassifier",
    "NumberInfo",
    "NumberType",
    "NumberingPlan",
]

NON_GEOGRAPHIC_REGION: Final = "001"
"""Region code of non-geographic calling codes (+800, +808, +870, +881, +882, +883, +979...)."""

MIN_NATIONAL_DIGITS: Final = 2
"""Fewest digits after the calling code for a number to be read at all."""
MAX_NATIONAL_DIGITS: Final = 17
"""Most digits after the calling code (libphonenumber's limit; E.164 itself allows 15 in all)."""


class NumberType(StrEnum):
    """Kind of number; values are lower_snake strings.

    Types from libphonenumber, plus ``satellite`` (+870, +881, +882 16 Thuraya),
    ``international_network`` (+882/+883 international networks) and ``unallocated`` (the digits
    leave every number range of the calling code, or the calling code itself is not assigned).
    ``unknown`` means the prefix exists but the number is not valid (wrong length, for example).
    """

    FIXED_LINE = "fixed_line"
    MOBILE = "mobile"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    SATELLITE = "satellite"
    INTERNATIONAL_NETWORK = "international_network"
    UNALLOCATED = "unallocated"
    UNKNOWN = "unknown"


_FROM_PN: Final[dict[int, NumberType]] = {
    PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
    PhoneNumberType.MOBILE: NumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: NumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST: NumberType.SHARED_COST,
    PhoneNumberType.VOIP: NumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER: NumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER: NumberType.PAGER,
    PhoneNumberType.UAN: NumberType.UAN,
    PhoneNumberType.VOICEMAIL: NumberType.VOICEMAIL,
    PhoneNumberType.UNKNOWN: NumberType.UNKNOWN,
}

_SATELLITE_CODES: Final = frozenset({870, 881})
_NETWORK_CODES: Final = frozenset({882, 883})
_THURAYA_PREFIX: Final = "16"  # +882 16: Thuraya, a satellite network inside +882


@dataclass(frozen=True, slots=True)
class NumberInfo:
    """What a dialled or recorded number is.

    ``e164`` is ``"+<digits>"`` or ``None`` when the input cannot be read as a number (``error``
    then says why). ``region`` is ISO 3166 alpha-2, ``"001"`` for non-geographic calling codes,
    ``None`` when unknown. ``international`` is true when the calling code is not the plan's home.
    """

    raw: str
    e164: str | None
    calling_code: int | None
    region: str | None
    number_type: NumberType
    international: bool
    error: str | None = None


# --------------------------------------------------------------------------------------------
# Numbering plans
# --------------------------------------------------------------------------------------------

_NANP_REGIONS: Final = frozenset(COUNTRY_CODE_TO_REGION_CODE[1])
# Carrier selection codes (KDDI 001, NTT Com 0033, SoftBank 0041/0046/0061...) and the caller-ID
# prefixes 184 (withhold) and 186 (show), dialled before 010 or 0.
_JP_CARRIER_CODES: Final = ("0033", "0041", "0046", "0061", "0091", "001", "184", "186")


@dataclass(frozen=True, slots=True)
class NumberingPlan:
    """How customers dial: international prefixes, trunk (national) prefix, home region.

    ``carrier_prefixes`` may precede the dialled number and are removed when an international or
    trunk prefix follows them: in Japan carrier selection codes (``0033``, ``001``... before
    ``010``) and the caller-ID prefixes ``184``/``186``.
    """

    home_region: str = "JP"
    international_prefixes: tuple[str, ...] = ("010",)
    trunk_prefix: str = "0"
    carrier_prefixes: tuple[str, ...] = ()

    @classmethod
    def for_region(cls, region: str) -> NumberingPlan:
        """The plan of a region.

        JP: ``010`` / ``0`` with Japanese carrier and caller-ID prefixes; NANP regions (US, CA,
        JM...): ``011`` / ``1``; GB: ``00`` / ``0``. Any other region known to
        ``phonenumbers``: its metadata's international and national prefixes, ``"00"`` and no
        trunk prefix when the metadata has none (as in Italy, where the leading 0 belongs to
        the number). Raises ``ValueError`` for an unknown region.
        """
        code = region.strip().upper()
        if code == "JP":
            return cls("JP", ("010",), "0", _JP_CARRIER_CODES)
        if code in _NANP_REGIONS:
            return cls(code, ("011",), "1")
        if code == "GB":
            return cls("GB", ("00",), "0")
        metadata = PhoneMetadata.metadata_for_region(code, None)
        if metadata is None:
            raise ValueError(f"unknown region {region!r}: not an ISO 3166 code phonenumbers knows")
        prefixes: list[str] = []
        for candidate in (metadata.preferred_international_prefix, metadata.international_prefix):
            digits = (candidate or "").replace("~", "")
            if digits.isdecimal() and digits not in prefixes:
                prefixes.append(digits)
        if not prefixes:
            prefixes.append("00")
        trunk = (metadata.national_prefix or "").replace("~", "")
        return cls(code, tuple(prefixes), trunk if trunk.isdecimal() else "")

    @property
    def calling_code(self) -> int:
        """The home region's country calling code (81 for JP)."""
        code = phonenumbers.country_code_for_region(self.home_region)
        if not code:
            raise ValueError(f"unknown home region {self.home_region!r}")
        return int(code)


# --------------------------------------------------------------------------------------------
# Regular expressions over digits -> lazily determinised automata
# --------------------------------------------------------------------------------------------

_DIGITS: Final = "0123456789"
_LENGTH_HORIZON: Final = 21  # remaining lengths considered (> MAX_NATIONAL_DIGITS)
_ALL_LENGTHS: Final = (1 << _LENGTH_HORIZON) - 1


class _Nfa:
    """A Thompson NFA over the digits, built from a ``re`` parse tree."""

    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[frozenset[str], int]]] = []

    def new(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def build(self, tree: Any, start: int) -> int:
        cur = start
        for op, av in tree:
            cur = self._node(op, av, cur)
        return cur

    def _node(self, op: Any, av: Any, start: int) -> int:
        if op is sre_c.LITERAL:
            end = self.new()
            char = chr(av)
            if char not in _DIGITS:
                raise ValueError(f"non-digit literal {char!r} in metadata pattern")
            self.edges[start].append((frozenset(char), end))
            return end
        if op is sre_c.IN:
            end = self.new()
            self.edges[start].append((_char_class(av), end))
            return end
        if op is sre_c.SUBPATTERN:
            return self.build(av[-1], start)
        if op is sre_c.BRANCH:
            end = self.new()
            for alt in av[1]:
                alt_start = self.new()
                self.eps[start].append(alt_start)
                self.eps[self.build(alt, alt_start)].append(end)
            return end
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            low, high, sub = av
            cur = start
            for _ in range(low):
                cur = self.build(sub, cur)
            if high is sre_c.MAXREPEAT:
                loop = self.new()
                self.eps[cur].append(loop)
                self.eps[self.build(sub, loop)].append(loop)
                return loop
            end = self.new()
            self.eps[cur].append(end)
            for _ in range(high - low):
                cur = self.build(sub, cur)
                self.eps[cur].append(end)
            return end
        raise ValueError(f"unsupported regular expression construct {op} in metadata pattern")


def _char_class(items: Any) -> frozenset[str]:
    chars: set[str] = set()
    negate = False
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            chars.add(chr(av))
        elif op is sre_c.RANGE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op is sre_c.CATEGORY and av is sre_c.CATEGORY_DIGIT:
            chars.update(_DIGITS)
        else:
            raise ValueError(f"unsupported character class item {op} in metadata pattern")
    digits = frozenset(chars) & frozenset(_DIGITS)
    return frozenset(_DIGITS) - digits if negate else digits


class _Dfa:
    """Lazily determinised automaton of one pattern (full match, or prefix match).

    States are small ints; state 0 is the dead state. ``lengths(s)`` is a bit mask of the
    remaining lengths accepted from ``s`` when acceptance depends only on the length (bit ``k``:
    exactly ``k`` more digits are accepted), else ``None``.
    """

    def __init__(self, pattern: str, *, prefix_match: bool = False) -> None:
        nfa = _Nfa()
        start = nfa.new()
        accept = nfa.build(sre_parse.parse(pattern), start)
        if prefix_match:  # re.match semantics: the pattern matches a prefix of the number
            loop = nfa.new()
            nfa.eps[accept].append(loop)
            nfa.edges[loop].append((frozenset(_DIGITS), loop))
            accept = loop
        self._nfa = nfa
        self._accept = accept
        self._ids: dict[frozenset[int], int] = {frozenset(): 0}
        self._sets: list[frozenset[int]] = [frozenset()]
        self.accepting: list[bool] = [False]
        self._next: list[dict[str, int]] = [dict.fromkeys(_DIGITS, 0)]
        self._lengths: dict[int, int | None] = {0: 0}
        self.start = self._intern(self._closure({start}))

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        stack = list(states)
        seen = set(stack)
        while stack:
            for nxt in self._nfa.eps[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return frozenset(seen)

    def _intern(self, states: frozenset[int]) -> int:
        found = self._ids.get(states)
        if found is not None:
            return found
        ident = len(self._sets)
        self._ids[states] = ident
        self._sets.append(states)
        self.accepting.append(self._accept in states)
        self._next.append({})
        return ident

    def step(self, state: int, digit: str) -> int:
        table = self._next[state]
        found = table.get(digit)
        if found is None:
            targets = [
                target
                for nfa_state in self._sets[state]
                for chars, target in self._nfa.edges[nfa_state]
                if digit in chars
            ]
            found = self._intern(self._closure(targets))
            table[digit] = found
        return found

    def lengths(self, state: int) -> int | None:
        """Accepted remaining lengths of ``state`` as a bit mask, if only the length matters.

        A state is length-only exactly when all ten successors are length-only with the same
        mask (then its mask is that mask shifted, plus its own acceptance). Cycles other than a
        state looping to itself on every digit (``\\d*``) count as not length-only, which is
        safe: the index then looks at more digits.
        """
        if state in self._lengths:
            return self._lengths[state]
        self._lengths[state] = None  # in progress
        successors = {self.step(state, d) for d in _DIGITS}
        result: int | None = None
        if successors == {state}:
            result = _ALL_LENGTHS if self.accepting[state] else 0
        else:
            masks = {self.lengths(t) for t in successors}
            if len(masks) == 1:
                (mask,) = masks
                if mask is not None:
                    result = (int(self.accepting[state]) | (mask << 1)) & _ALL_LENGTHS
        self._lengths[state] = result
        return result


# --------------------------------------------------------------------------------------------
# The prefix index
# --------------------------------------------------------------------------------------------

# Result of a (prefix, length) bucket: (calling code, region, type).
_Result = tuple[int | None, str | None, NumberType]

_TYPE_ORDER: Final = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)

_ALIVE, _DEAD_UNALLOCATED, _DEAD_TOO_LONG = 0, 1, 2


class _RegionSpec:
    """Pattern indices of one region inside its calling code's pattern table."""

    __slots__ = ("code", "fixed", "general", "leading", "mobile", "same_fixed_mobile", "types")

    def __init__(self, code: str, add: Callable[[Any, bool], int | None], metadata: Any) -> None:
        self.code = code
        self.leading = add(metadata.leading_digits, True) if metadata.leading_digits else None
        self.general = add(metadata.general_desc, False)
        self.types = [(add(getattr(metadata, name), False), kind) for name, kind in _TYPE_ORDER]
        self.fixed = add(metadata.fixed_line, False)
        self.mobile = add(metadata.mobile, False)
        self.same_fixed_mobile = bool(metadata.same_mobile_and_fixed_line_pattern)


class _CodeIndex:
    """Automata and evaluation logic for one country calling code."""

    def __init__(self, cc: int) -> None:
        self.cc = cc
        self.cc_len = len(str(cc))
        self.dfas: list[_Dfa] = []
        self.allowed: list[frozenset[int] | None] = []
        regions = COUNTRY_CODE_TO_REGION_CODE[cc]
        self.single = len(regions) == 1
        self.specs: list[_RegionSpec] = []
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
            if metadata is not None:
                self.specs.append(_RegionSpec(region, self._add, metadata))
        self.by_code = {spec.code: spec for spec in self.specs}
        self.general = [s.general for s in self.specs if s.general is not None]

    def _add(self, desc: Any, prefix_match: bool) -> int | None:
        if prefix_match:  # leading digits: a plain pattern string, no length restriction
            self.dfas.append(_Dfa(desc, prefix_match=True))
            self.allowed.append(None)
            return len(self.dfas) - 1
        if desc is None or not desc.national_number_pattern:
            return None
        self.dfas.append(_Dfa(desc.national_number_pattern))
        lengths = desc.possible_length
        self.allowed.append(frozenset(lengths) if lengths else None)
        return len(self.dfas) - 1

    def root(self) -> tuple[int, ...]:
        return tuple(self._settle(i, dfa.start) for i, dfa in enumerate(self.dfas))

    def _settle(self, i: int, state: int) -> int:
        """Encode a pattern's state: DFA state (>= 0), or ``~mask`` once length-only."""
        mask = self.dfas[i].lengths(state)
        return state if mask is None else ~mask

    def child(self, states: tuple[int, ...], digit: str) -> tuple[int, ...]:
        out = []
        for i, s in enumerate(states):
            if s < 0:
                out.append(~((~s) >> 1))
            else:
                out.append(self._settle(i, self.dfas[i].step(s, digit)))
        return tuple(out)

    @staticmethod
    def determined(states: tuple[int, ...]) -> bool:
        return all(s < 0 for s in states)

    def accepting(self, states: tuple[int, ...], i: int) -> bool:
        s = states[i]
        return bool((~s) & 1) if s < 0 else self.dfas[i].accepting[s]

    def general_dead(self, states: tuple[int, ...]) -> bool:
        return all(states[i] in (0, ~0) for i in self.general)

    def general_accepting(self, states: tuple[int, ...]) -> bool:
        return any(self.accepting(states, i) for i in self.general)

    def evaluate(
        self, states: tuple[int, ...], remaining: int, length: int, status: int
    ) -> _Result:
        """Region and type of a number of national ``length`` with ``remaining`` digits to go.

        ``states`` must be determined when ``remaining > 0``. Mirrors
        ``phonenumbers.region_code_for_number`` and ``number_type``.
        """

        def match(i: int | None) -> bool:
            if i is None:
                return False
            allowed = self.allowed[i]
            if allowed is not None and length not in allowed:
                return False
            s = states[i]
            if s < 0:
                return bool(((~s) >> remaining) & 1)
            return remaining == 0 and self.dfas[i].accepting[s]

        def type_of(spec: _RegionSpec) -> int:
            if not match(spec.general):
                return PhoneNumberType.UNKNOWN
            for index, kind in spec.types:
                if match(index):
                    return kind
            if match(spec.fixed):
                if spec.same_fixed_mobile or match(spec.mobile):
                    return PhoneNumberType.FIXED_LINE_OR_MOBILE
                return PhoneNumberType.FIXED_LINE
            if not spec.same_fixed_mobile and match(spec.mobile):
                return PhoneNumberType.MOBILE
            return PhoneNumberType.UNKNOWN

        region: str | None = None
        if self.single:
            region = self.specs[0].code if self.specs else None
        else:
            for spec in self.specs:
                if spec.leading is not None:
                    if match(spec.leading):
                        region = spec.code
                        break
                elif type_of(spec) != PhoneNumberType.UNKNOWN:
                    region = spec.code
                    break
        spec_for = self.by_code.get(region) if region is not None else None
        kind = _FROM_PN[type_of(spec_for)] if spec_for is not None else NumberType.UNKNOWN
        if kind is NumberType.UNKNOWN and status == _DEAD_UNALLOCATED:
            return self.cc, region, NumberType.UNALLOCATED
        return self.cc, region, kind


class _Node:
    """A prefix in the index: internal (more digits needed) or a leaf (determined)."""

    __slots__ = (
        "by_total",
        "children",
        "code",
        "depth",
        "leaf",
        "path",
        "results",
        "states",
        "status",
    )

    def __init__(self, code: _CodeIndex, path: str, states: tuple[int, ...], status: int) -> None:
        self.code = code
        self.path = path  # national digits consumed
        self.depth = len(path)
        self.states = states
        self.status = status
        # +882 16 (Thuraya) is told apart by its first two digits, whatever the metadata says.
        self.leaf = code.determined(states) and (code.cc != 882 or self.depth >= 2)
        self.children: dict[str, _Node] = {}
        self.results: dict[int, _Result] = {}  # by national length
        self.by_total: dict[int, _Result] = {}  # by E.164 length, readable lengths only

    def result(self, length: int) -> _Result:
        """Result for a national number of ``length`` digits under this node."""
        found = self.results.get(length)
        if found is None:
            code = self.code
            found = code.evaluate(self.states, length - self.depth, length, self.status)
            cc = code.cc
            if found[2] is not NumberType.UNALLOCATED:
                if cc in _SATELLITE_CODES or (cc == 882 and self.path[:2] == _THURAYA_PREFIX):
                    found = (cc, found[1], NumberType.SATELLITE)
                elif cc in _NETWORK_CODES:
                    found = (cc, found[1], NumberType.INTERNATIONAL_NETWORK)
            self.results[length] = found
            if MIN_NATIONAL_DIGITS <= length <= MAX_NATIONAL_DIGITS and self.leaf:
                self.by_total[code.cc_len + length] = found
        return found

    def child(self, digit: str) -> _Node:
        node = self.children.get(digit)
        if node is None:
            code = self.code
            states = code.child(self.states, digit)
            status = self.status
            if status == _ALIVE and code.general_dead(states):
                status = (
                    _DEAD_TOO_LONG if code.general_accepting(self.states) else _DEAD_UNALLOCATED
                )
            node = _Node(code, self.path + digit, states, status)
            self.children[digit] = node
        return node


_FAST_DEPTH: Final = 5  # E.164 digits (calling code included) of the first fast-path key
_MORE: Final[dict[int, _Result]] = {}  # marks an internal node in _PrefixIndex.leaves


class _PrefixIndex:
    """Maps E.164 digits to (calling code, region, type), built lazily from the metadata."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._roots: dict[int, _Node] = {}
        # prefix (E.164 digits) -> node governing it: a leaf at or above that depth, or the
        # internal node at exactly that depth. Only keys of length >= _FAST_DEPTH.
        self.fast: dict[str, _Node] = {}
        # Same keys -> a leaf's results by E.164 length, or _MORE for an internal node.
        self.leaves: dict[str, dict[int, _Result]] = {}
        self.code_length: dict[str, int] = {}
        for cc in COUNTRY_CODE_TO_REGION_CODE:
            text = str(cc)
            for tail in range(10 ** (3 - len(text))):
                key = text + (str(tail).zfill(3 - len(text)) if len(text) < 3 else "")
                self.code_length[key] = len(text)

    def _root(self, cc: int) -> _Node:
        root = self._roots.get(cc)
        if root is None:
            code = _CodeIndex(cc)
            root = _Node(code, "", code.root(), _ALIVE)
            self._roots[cc] = root
        return root

    def resolve(self, digits: str) -> _Result | None:
        """(cc, region, type) for E.164 digits (at least 3), or ``None`` for no calling code."""
        total = len(digits)
        if total >= _FAST_DEPTH:
            node = self.fast.get(digits[:_FAST_DEPTH])
            if node is not None:
                k = _FAST_DEPTH
                while not node.leaf:
                    if k == total:
                        return node.result(node.depth)
                    k += 1
                    nxt = self.fast.get(digits[:k])
                    if nxt is None:
                        return self._slow(digits)
                    node = nxt
                return node.result(total - node.code.cc_len)
        return self._slow(digits)

    def _slow(self, digits: str) -> _Result | None:
        cc_len = self.code_length.get(digits[:3])
        if cc_len is None:
            return None
        national = digits[cc_len:]
        with self._lock:
            node = self._root(int(digits[:cc_len]))
            for digit in national:
                if node.leaf:
                    break
                node = node.child(digit)
                depth = cc_len + node.depth
                if depth >= _FAST_DEPTH:
                    self.fast[digits[:depth]] = node
                    self.leaves[digits[:depth]] = node.by_total if node.leaf else _MORE
            if node.leaf and cc_len + node.depth < _FAST_DEPTH <= len(digits):
                self.fast[digits[:_FAST_DEPTH]] = node
                self.leaves[digits[:_FAST_DEPTH]] = node.by_total
            return node.result(len(national))


_INDEX: _PrefixIndex | None = None
_INDEX_LOCK = threading.Lock()


def _index() -> _PrefixIndex:
    global _INDEX
    if _INDEX is None:
        with _INDEX_LOCK:
            if _INDEX is None:
                _INDEX = _PrefixIndex()
    return _INDEX


# --------------------------------------------------------------------------------------------
# Reading what was dialled
# --------------------------------------------------------------------------------------------

_REMOVED: Final = dict.fromkeys(
    map(ord, " \t\r\n-.()/[]\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\u3000"),
    None,
)


class _Builder:
    """Same slots as :class:`NumberInfo`, but not frozen: builds results fast.

    A frozen dataclass sets each field through ``object.__setattr__``, which makes building the
    millions of results of a batch the most expensive step. A ``_Builder`` is filled with plain
    attribute stores, then becomes a ``NumberInfo`` by ``__class__`` assignment (allowed since
    both classes have the same slot layout): the result is an ordinary, frozen ``NumberInfo``.
    """

    __slots__ = NumberInfo.__slots__

    def __init__(
        self,
        raw: str,
        e164: str | None,
        cc: int | None,
        region: str | None,
        kind: NumberType,
        international: bool,
        error: str | None,
    ) -> None:
        self.raw = raw
        self.e164 = e164
        self.calling_code = cc
        self.region = region
        self.number_type = kind
        self.international = international
        self.error = error


def _info(
    raw: str,
    e164: str | None,
    cc: int | None,
    region: str | None,
    kind: NumberType,
    international: bool,
    error: str | None,
) -> NumberInfo:
    info: Any = _Builder(raw, e164, cc, region, kind, international, error)
    info.__class__ = NumberInfo
    return info  # type: ignore[no-any-return]


def _to_ascii_digits(text: str) -> str:
    """NFKC (full-width digits and '+'), then any other Unicode decimal digit to ASCII."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text
    )


_UNKNOWN: Final = NumberType.UNKNOWN
_UNALLOCATED: Final = NumberType.UNALLOCATED
_CC_LEN: Final = {cc: len(str(cc)) for cc in COUNTRY_CODE_TO_REGION_CODE}

_URI: Final = re.compile(r"^(?:tel:|sips?:)", re.IGNORECASE)


class NumberClassifier:
    """Normalises numbers under a plan and classifies them (region, type) via the prefix index.

    ``memo_size`` bounds the per-classifier memo of results by raw input (cleared when full).
    Thread-safe.
    """

    def __init__(self, plan: NumberingPlan | None = None, *, memo_size: int = 1 << 15) -> None:
        self.plan = plan if plan is not None else NumberingPlan.for_region("JP")
        self._home_cc = self.plan.calling_code
        self._home = str(self._home_cc)
        self._intl = tuple(sorted(self.plan.international_prefixes, key=len, reverse=True))
        self._intl = tuple(p for p in self._intl if p)
        self._trunk = self.plan.trunk_prefix
        self._carriers = tuple(sorted(self.plan.carrier_prefixes, key=len, reverse=True))
        self._carrier_heads = frozenset(c[:2] for c in self._carriers)
        self._index = _index()
        self._memo: dict[str, NumberInfo] = {}
        self._memo_size = memo_size

    # -- normalisation ------------------------------------------------------------------------

    def _dialled(self, digits: str) -> str:
        """E.164 digits (no '+') of ASCII digits dialled under the plan."""
        if self._carriers and digits[:2] in self._carrier_heads:
            for carrier in self._carriers:
                if digits.startswith(carrier):
                    rest = digits[len(carrier) :]
                    if rest.startswith(self._intl) or (
                        self._trunk and rest.startswith(self._trunk)
                    ):
                        digits = rest
                    break
        if self._intl and digits.startswith(self._intl):
            for prefix in self._intl:
                if digits.startswith(prefix):
                    return digits[len(prefix) :]
        if self._trunk and digits.startswith(self._trunk):
            return self._home + digits[len(self._trunk) :]
        return self._home + digits

    def _read(self, raw: str) -> tuple[str | None, str | None]:
        """(E.164 digits without '+', None) or (None, error)."""
        if raw[:1] == "+":
            body = raw[1:]
            if body.isascii() and body.isdecimal():
                return body, None
        elif raw.isascii() and raw.isdecimal():
            return self._dialled(raw), None
        text = _to_ascii_digits(raw).strip()
        text = _URI.sub("", text)
        if "@" in text:
            text = text.split("@", 1)[0]
        text = text.split(";", 1)[0]
        if text.startswith("+"):
            text = text.replace("(0)", "")
        text = text.translate(_REMOVED)
        if not text:
            return None, "empty: no digits"
        plus = text[0] == "+"
        body = text[1:] if plus else text
        if not (body.isascii() and body.isdecimal()):
            bad = next((ch for ch in body if not ("0" <= ch <= "9")), body[:1] or "+")
            return None, f"not a telephone number: unexpected {bad!r}"
        return (body if plus else self._dialled(body)), None

    def normalize(self, raw: str) -> str | None:
        """E.164 with '+' of a number as dialled or recorded, or ``None`` if it cannot be read.

        Accepts ``+`` numbers, the plan's international prefixes (``010``, ``00``, ``011``...),
        trunk-prefixed national numbers (``0`` + national number), bare national digits,
        separators (spaces, dashes, dots, parentheses, ``(0)``), full-width digits and
        ``tel:``/``sip:`` URIs. No validity check: see :meth:`classify`.
        """
        info = self.classify(raw)
        return info.e164

    # -- classification -----------------------------------------------------------------------

    def _classify(self, raw: str) -> NumberInfo:
        if not isinstance(raw, str):
            return _info(repr(raw), None, None, None, _UNKNOWN, False, "not a string")
        error: str | None = None
        digits: str | None
        if raw[:1] == "+" and raw[1:].isdecimal() and raw.isascii():
            digits = raw[1:]
        elif raw.isdecimal() and raw.isascii():
            digits = self._dialled(raw)
        else:
            digits, error = self._read(raw)
        if digits is None:
            return _info(raw, None, None, None, _UNKNOWN, False, error)
        total = len(digits)
        if total < 3:
            return _info(raw, None, None, None, _UNKNOWN, False, "too short")
        if total > 3 + MAX_NATIONAL_DIGITS:
            return _info(raw, None, None, None, _UNKNOWN, False, "too long")
        result = self._index.resolve(digits)
        if result is None:
            return _info(raw, "+" + digits, None, None, _UNALLOCATED, True, None)
        cc, region, kind = result
        national = total - _CC_LEN[cc]  # type: ignore[index]
        if national < MIN_NATIONAL_DIGITS:
            return _info(raw, None, None, None, _UNKNOWN, False, "too short")
        if national > MAX_NATIONAL_DIGITS:
            return _info(raw, None, None, None, _UNKNOWN, False, "too long")
        e164 = (
            raw if len(raw) == total + 1 and raw[0] == "+" and raw[1:] == digits else "+" + digits
        )
        return _info(raw, e164, cc, region, kind, cc != self._home_cc, None)

    def classify(self, raw: str) -> NumberInfo:
        """Classify one number (memoised). Never raises: unreadable input gives ``error``."""
        memo = self._memo
        try:
            info = memo.get(raw)
        except TypeError:  # unhashable: not a string anyway
            return self._classify(raw)
        if info is None:
            info = self._classify(raw)
            if len(memo) >= self._memo_size:
                memo.clear()
            memo[raw] = info
        return info

    def classify_many(self, raws: Iterable[str]) -> list[NumberInfo]:
        """Classify many numbers; same results as :meth:`classify` one by one, faster.

        The common forms (``+digits`` and plain dialled digits whose prefix is already in the
        index) are handled inline; anything else goes through :meth:`classify`'s path.
        """
        memo = self._memo
        get = memo.get
        limit = self._memo_size
        compute = self._classify
        dialled = self._dialled
        one_intl = self._intl[0] if len(self._intl) == 1 else ""
        len_intl = len(one_intl)
        trunk = self._trunk
        len_trunk = len(trunk)
        heads = self._carrier_heads
        home_digits = self._home
        leaves_get = self._index.leaves.get
        home = self._home_cc
        more = _MORE
        first = _FAST_DEPTH
        builder = _Builder
        info_class = NumberInfo
        out: list[NumberInfo] = []
        append = out.append
        # Building millions of small objects triggers the cyclic garbage collector over and over
        # (it would double the cost); none of them can form a cycle, so pause it meanwhile.
        collecting = gc.isenabled()
        gc.disable()
        room = max(1, limit - len(memo))
        try:
            for raw in raws:
                try:
                    info = get(raw)
                except TypeError:  # unhashable: not a string
                    info = compute(raw)
                if info is None:
                    if raw.__class__ is not str:
                        append(compute(raw))
                        continue
                    found = None
                    if raw[:1] == "+":
                        digits = raw[1:]
                        e164 = raw
                        plain = digits.isdecimal() and digits.isascii()
                    else:
                        plain = raw.isdecimal() and raw.isascii()
                        if plain:
                            if not one_intl or raw[:2] in heads:
                                digits = dialled(raw)
                            elif raw.startswith(one_intl):
                                digits = raw[len_intl:]
                            elif trunk and raw.startswith(trunk):
                                digits = home_digits + raw[len_trunk:]
                            else:
                                digits = home_digits + raw
                            e164 = "+" + digits
                    if plain:
                        total = len(digits)
                        k = first
                        leaf = leaves_get(digits[:k])
                        while leaf is more and k < total:
                            k += 1
                            leaf = leaves_get(digits[:k])
                        if leaf is not None:
                            found = leaf.get(total)
                    if found is None:
                        info = compute(raw)
                    else:
                        cc, region, kind = found
                        built: Any = builder(raw, e164, cc, region, kind, cc != home, None)
                        built.__class__ = info_class
                        info = built
                    room -= 1
                    if not room:
                        memo.clear()
                        room = limit
                    memo[raw] = info
                append(info)
        finally:
            if collecting:
                gc.enable()
        return out
