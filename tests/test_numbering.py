"""Number normalisation and classification, and equivalence with phonenumbers."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from tollguard.domain.numbering import (
    NumberClassifier,
    NumberInfo,
    NumberingPlan,
    NumberType,
)

JP = NumberClassifier()


def info(raw: str, classifier: NumberClassifier = JP) -> NumberInfo:
    return classifier.classify(raw)


# -- Japanese dialling -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164", "region", "kind"),
    [
        ("0312345678", "+81312345678", "JP", NumberType.FIXED_LINE),  # trunk 0, Tokyo
        ("03-1234-5678", "+81312345678", "JP", NumberType.FIXED_LINE),
        ("０３－１２３４－５６７８", "+81312345678", "JP", NumberType.FIXED_LINE),  # full width
        ("09012345678", "+819012345678", "JP", NumberType.MOBILE),
        ("0120123456", "+81120123456", "JP", NumberType.TOLL_FREE),
        ("0570012345", "+81570012345", "JP", NumberType.UAN),
        ("05012345678", "+815012345678", "JP", NumberType.VOIP),
        ("+81312345678", "+81312345678", "JP", NumberType.FIXED_LINE),
        ("312345678", "+81312345678", "JP", NumberType.FIXED_LINE),  # bare national digits
        ("010442079460000", "+442079460000", "GB", NumberType.FIXED_LINE),  # 010 international
        ("010 1 212 555 0123", "+12125550123", "US", NumberType.FIXED_LINE_OR_MOBILE),
        ("0033010442079460000", "+442079460000", "GB", NumberType.FIXED_LINE),  # NTT Com 0033
        ("001010442079460000", "+442079460000", "GB", NumberType.FIXED_LINE),  # KDDI 001
        ("184010442079460000", "+442079460000", "GB", NumberType.FIXED_LINE),  # 184: hide ID
        ("1860312345678", "+81312345678", "JP", NumberType.FIXED_LINE),  # 186: show caller ID
        ("tel:+81-3-1234-5678", "+81312345678", "JP", NumberType.FIXED_LINE),
        ("sip:+442079460000@pbx.example;user=phone", "+442079460000", "GB", NumberType.FIXED_LINE),
        ("+44 (0)20 7946 0000", "+442079460000", "GB", NumberType.FIXED_LINE),
    ],
)
def test_japanese_dialling(raw: str, e164: str, region: str, kind: NumberType) -> None:
    result = info(raw)
    assert result.error is None
    assert result.e164 == e164
    assert result.region == region
    assert result.number_type is kind
    assert result.international is (region != "JP")
    assert result.raw == raw
    assert JP.normalize(raw) == e164


def test_domestic_calling_code_and_flag() -> None:
    result = info("0312345678")
    assert result.calling_code == 81
    assert result.international is False


@pytest.mark.parametrize(
    ("region", "raw", "e164"),
    [
        ("US", "01144 20 7946 0000", "+442079460000"),
        ("US", "1 212 555 0123", "+12125550123"),
        ("US", "2125550123", "+12125550123"),
        ("CA", "011 81 3 1234 5678", "+81312345678"),
        ("GB", "00 81 3 1234 5678", "+81312345678"),
        ("GB", "020 7946 0000", "+442079460000"),
        ("IT", "06 6988 1234", "+390669881234"),  # no trunk prefix: the 0 is part of the number
        ("RU", "810 81 3 1234 5678", "+81312345678"),
        ("RU", "8 912 345 67 89", "+79123456789"),
        ("DE", "0049 30 123456", "+4930123456"),
    ],
)
def test_other_plans(region: str, raw: str, e164: str) -> None:
    assert NumberClassifier(NumberingPlan.for_region(region)).normalize(raw) == e164


def test_plans() -> None:
    jp = NumberingPlan.for_region("jp")
    assert (jp.international_prefixes, jp.trunk_prefix, jp.calling_code) == (("010",), "0", 81)
    us = NumberingPlan.for_region("US")
    assert (us.international_prefixes, us.trunk_prefix, us.calling_code) == (("011",), "1", 1)
    gb = NumberingPlan.for_region("GB")
    assert (gb.international_prefixes, gb.trunk_prefix) == (("00",), "0")
    assert NumberingPlan.for_region("FR").international_prefixes == ("00",)
    assert NumberingPlan() == NumberingPlan("JP", ("010",), "0")
    with pytest.raises(ValueError, match="unknown region"):
        NumberingPlan.for_region("XX")


def test_home_region_decides_international() -> None:
    gb = NumberClassifier(NumberingPlan.for_region("GB"))
    assert gb.classify("+442079460000").international is False
    assert gb.classify("+81312345678").international is True


# -- countries sharing a calling code ----------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "region", "kind"),
    [
        ("+18765550123", "JM", None),
        ("+12423571234", "BS", NumberType.MOBILE),
        ("+18092345678", "DO", None),
        ("+18292345678", "DO", None),
        ("+12684601234", "AG", NumberType.FIXED_LINE),
        ("+14165550123", "CA", None),
        ("+12125550123", "US", None),
        ("+77012345678", "KZ", NumberType.MOBILE),
        ("+77172123456", "KZ", NumberType.FIXED_LINE),
        ("+79123456789", "RU", NumberType.MOBILE),
        ("+74951234567", "RU", NumberType.FIXED_LINE),
        ("+441481256789", "GG", NumberType.FIXED_LINE),
        ("+447781123456", "GG", NumberType.MOBILE),
        ("+441534456789", "JE", NumberType.FIXED_LINE),
        ("+447797123456", "JE", NumberType.MOBILE),
        ("+441624756789", "IM", NumberType.FIXED_LINE),
        ("+447400123456", "GB", NumberType.MOBILE),
        ("+262262161234", "RE", NumberType.FIXED_LINE),
        ("+262692123456", "RE", NumberType.MOBILE),
        ("+262269601234", "YT", NumberType.FIXED_LINE),
        ("+262639012345", "YT", NumberType.MOBILE),
        ("+590590201234", "GP", NumberType.FIXED_LINE),
        ("+590690001234", "GP", NumberType.MOBILE),
        ("+590590271234", "BL", NumberType.FIXED_LINE),
        ("+390669812345", "VA", NumberType.FIXED_LINE),
        ("+390612345678", "IT", NumberType.FIXED_LINE),
    ],
)
def test_shared_calling_codes(e164: str, region: str, kind: NumberType | None) -> None:
    result = info(e164)
    assert result.region == region
    if kind is not None:
        assert result.number_type is kind
    assert result.number_type not in (NumberType.UNKNOWN, NumberType.UNALLOCATED)


# -- special ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "kind"),
    [
        ("+881612345678", NumberType.SATELLITE),  # Iridium
        ("+881712345678", NumberType.SATELLITE),  # Iridium
        ("+870301234567", NumberType.SATELLITE),  # Inmarsat
        ("+88216123456", NumberType.SATELLITE),  # Thuraya inside +882
        ("+8823421234", NumberType.INTERNATIONAL_NETWORK),
        ("+883510012345", NumberType.INTERNATIONAL_NETWORK),
        ("+37190123456", NumberType.PREMIUM_RATE),  # Latvia 90x premium
        ("+447012345678", NumberType.PERSONAL_NUMBER),  # UK 070 personal numbers
        ("+441234", NumberType.UNKNOWN),  # allocated prefix, too short
        ("+4420794600001234", NumberType.UNKNOWN),  # valid number plus digits
        ("+44012345678", NumberType.UNALLOCATED),  # no UK number starts with 0
        ("+81012345678", NumberType.UNALLOCATED),
        ("+999123456", NumberType.UNALLOCATED),  # calling code not assigned
    ],
)
def test_special_ranges(e164: str, kind: NumberType) -> None:
    result = info(e164)
    assert result.error is None
    assert result.number_type is kind
    assert result.international is not e164.startswith("+81")


def test_non_geographic_region_and_codes() -> None:
    sat = info("+881612345678")
    assert (sat.calling_code, sat.region) == (881, "001")
    assert info("+80012345678").region == "001"
    unassigned = info("+999123456")
    assert (unassigned.calling_code, unassigned.region, unassigned.e164) == (
        None,
        None,
        "+999123456",
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("hello", "not a telephone number"),
        ("+81-3-CALL-NOW", "not a telephone number"),
        ("*86#", "not a telephone number"),
        ("+", "not a telephone number"),
        ("+8", "too short"),
        ("+813", "too short"),
        ("+81" + "1" * 18, "too long"),
        ("+" + "9" * 25, "too long"),
    ],
)
def test_junk_gives_error_not_exception(raw: str, reason: str) -> None:
    result = info(raw)
    assert result.e164 is None
    assert result.error is not None and reason in result.error
    assert result.number_type is NumberType.UNKNOWN
    assert result.international is False


def test_non_strings_never_raise() -> None:
    weird: list[object] = [None, 12345, ["+81"], b"+81312345678"]
    for raw in weird:
        assert JP.classify(raw).error == "not a string"  # type: ignore[arg-type]
    assert [i.error for i in JP.classify_many(weird)] == ["not a string"] * 4  # type: ignore[arg-type]


def test_classify_is_memoised_and_many_agrees() -> None:
    classifier = NumberClassifier()
    first = classifier.classify("+81312345678")
    assert classifier.classify("+81312345678") is first
    raws = ["+81312345678", "0312345678", "010442079460000", "junk", "+999123", "+88216123456"]
    fresh = NumberClassifier()
    assert fresh.classify_many(raws) == [NumberClassifier().classify(r) for r in raws]
    assert fresh.classify_many(raws) == [fresh.classify(r) for r in raws]


def test_memo_is_bounded() -> None:
    classifier = NumberClassifier(memo_size=4)
    results = classifier.classify_many([f"+8190123456{i:02d}" for i in range(50)])
    assert len(classifier._memo) <= 4
    assert all(r.number_type is NumberType.MOBILE for r in results)


def test_number_type_values_are_lower_snake() -> None:
    assert NumberType.FIXED_LINE_OR_MOBILE.value == "fixed_line_or_mobile"
    assert NumberType.INTERNATIONAL_NETWORK.value == "international_network"
    assert {t.value for t in NumberType} >= {"satellite", "unallocated", "unknown", "uan"}


# -- equivalence with phonenumbers ---------------------------------------------------------------

_PN_OF = {
    NumberType.FIXED_LINE: PhoneNumberType.FIXED_LINE,
    NumberType.MOBILE: PhoneNumberType.MOBILE,
    NumberType.FIXED_LINE_OR_MOBILE: PhoneNumberType.FIXED_LINE_OR_MOBILE,
    NumberType.TOLL_FREE: PhoneNumberType.TOLL_FREE,
    NumberType.PREMIUM_RATE: PhoneNumberType.PREMIUM_RATE,
    NumberType.SHARED_COST: PhoneNumberType.SHARED_COST,
    NumberType.VOIP: PhoneNumberType.VOIP,
    NumberType.PERSONAL_NUMBER: PhoneNumberType.PERSONAL_NUMBER,
    NumberType.PAGER: PhoneNumberType.PAGER,
    NumberType.UAN: PhoneNumberType.UAN,
    NumberType.VOICEMAIL: PhoneNumberType.VOICEMAIL,
    NumberType.UNKNOWN: PhoneNumberType.UNKNOWN,
    NumberType.UNALLOCATED: PhoneNumberType.UNKNOWN,
}
_SPECIAL_CODES = {870, 881, 882, 883}
_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
_EXAMPLES = sorted(
    {
        (ex.country_code, phonenumbers.national_significant_number(ex))
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in range(11)
        if (ex := phonenumbers.example_number_for_type(region, kind)) is not None
    }
    | {
        (ex.country_code, phonenumbers.national_significant_number(ex))
        for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
        if (ex := phonenumbers.example_number_for_non_geo_entity(code)) is not None
    }
)


def _reference(cc: int, national: str) -> tuple[str | None, int]:
    """phonenumbers' region and type for exactly these national digits (leading zeros kept)."""
    zeros = len(national) - len(str(int(national)))
    number = phonenumbers.PhoneNumber(
        country_code=cc,
        national_number=int(national),
        italian_leading_zero=True if zeros else None,
        number_of_leading_zeros=zeros if zeros else None,
    )
    assert phonenumbers.national_significant_number(number) == national
    return phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)


def _assert_agrees(cc: int, national: str) -> None:
    mine = JP.classify(f"+{cc}{national}")
    assert mine.error is None
    assert mine.calling_code == cc
    region, kind = _reference(cc, national)
    assert mine.region == region
    if cc in _SPECIAL_CODES and mine.number_type is not NumberType.UNALLOCATED:
        assert mine.number_type in (NumberType.SATELLITE, NumberType.INTERNATIONAL_NETWORK)
        assert kind != PhoneNumberType.UNKNOWN or mine.number_type
    else:
        assert _PN_OF[mine.number_type] == kind
    if kind != PhoneNumberType.UNKNOWN:
        assert mine.number_type is not NumberType.UNALLOCATED


_settings = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(
    example=st.sampled_from(_EXAMPLES),
    keep=st.integers(min_value=0, max_value=15),
    tail=st.text(alphabet="0123456789", min_size=0, max_size=15),
)
def test_equivalent_to_phonenumbers_near_valid_numbers(
    example: tuple[int, str], keep: int, tail: str
) -> None:
    """Valid example numbers with their end replaced: mostly valid, some not."""
    cc, national = example
    candidate = national[:keep] + tail
    if 2 <= len(candidate) <= 17:
        _assert_agrees(cc, candidate)


@_settings
@given(
    cc=st.sampled_from(_CODES),
    national=st.text(alphabet="0123456789", min_size=2, max_size=14),
)
def test_equivalent_to_phonenumbers_random_digits(cc: int, national: str) -> None:
    _assert_agrees(cc, national)


@pytest.mark.parametrize("example", _EXAMPLES)
def test_every_metadata_example_is_classified_like_phonenumbers(example: tuple[int, str]) -> None:
    cc, national = example
    _assert_agrees(cc, national)
    parsed = phonenumbers.parse(f"+{cc}{national}")
    assert phonenumbers.is_valid_number(parsed)
    assert JP.classify(f"+{cc}{national}").region == phonenumbers.region_code_for_number(parsed)


def test_results_are_ordinary_frozen_number_infos() -> None:
    import copy
    import dataclasses
    import pickle

    for result in NumberClassifier().classify_many(["+81312345678", "0312345678", "junk"]):
        assert type(result) is NumberInfo
        rebuilt = NumberInfo(
            result.raw,
            result.e164,
            result.calling_code,
            result.region,
            result.number_type,
            result.international,
            result.error,
        )
        assert result == rebuilt and hash(result) == hash(rebuilt) and repr(result) == repr(rebuilt)
        assert pickle.loads(pickle.dumps(result)) == result
        assert copy.copy(result) == result
        assert dataclasses.asdict(result)["raw"] == result.raw
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.raw = "x"  # type: ignore[misc]


# -- command line --------------------------------------------------------------------------------


def test_cli_classify_json_and_table(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from tollguard.cli import _register, app

    _register()
    listing = tmp_path / "numbers.txt"
    listing.write_text("0312345678\n\n+881612345678\njunk\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["numbers", "classify", "010-1-876-555-1234", "--file", str(listing), "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["e164"] for r in rows] == ["+18765551234", "+81312345678", "+881612345678", None]
    assert [r["region"] for r in rows] == ["JM", "JP", "001", None]
    assert rows[2]["number_type"] == "satellite" and rows[3]["error"]
    table = CliRunner().invoke(app, ["numbers", "classify", "--plan", "GB", "020 7946 0000"])
    assert table.exit_code == 0 and "+442079460000" in table.output
    bad = CliRunner().invoke(app, ["numbers", "classify", "--plan", "XX", "1"])
    assert bad.exit_code != 0
    empty = CliRunner().invoke(app, ["numbers", "classify"])
    assert empty.exit_code != 0


@settings(max_examples=400, deadline=None)
@given(
    region=st.sampled_from(["JP", "US", "GB", "RU", "IT", "FR"]),
    raws=st.lists(
        st.one_of(
            st.text(alphabet="0123456789", min_size=0, max_size=18),
            st.text(alphabet="0123456789", min_size=1, max_size=16).map(lambda s: "+" + s),
            st.sampled_from(["010", "011", "00", "0", "1", "8", "810", "0033", "001"]).flatmap(
                lambda p: st.text(alphabet="0123456789", min_size=0, max_size=14).map(
                    lambda s: p + s
                )
            ),
            st.text(alphabet="0123456789+-() abc＋０１", min_size=0, max_size=16),
        ),
        max_size=25,
    ),
)
def test_batch_path_equals_single_path(region: str, raws: list[str]) -> None:
    """classify_many's inline fast path gives exactly what classify gives, under every plan."""
    plan = NumberingPlan.for_region(region)
    batch = NumberClassifier(plan).classify_many(raws * 2)  # second half: memo hits
    single = [NumberClassifier(plan).classify(raw) for raw in raws]
    assert batch == single * 2
