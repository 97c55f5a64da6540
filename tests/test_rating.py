"""Rating: longest prefix, billing increments, the default tariff and carrier rate decks."""

from __future__ import annotations

import math
import re
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from tollguard.domain.numbering import NumberClassifier, NumberType
from tollguard.domain.rating import DEFAULT_FALLBACK, Rate, RateDeckError, Tariff

DECK = """prefix,destination,rate_per_min,increment_s
44,United Kingdom,120,30
447,United Kingdom mobile,150,6
4479,United Kingdom mobile (special),200,60
81,Japan,3,60
"""


@pytest.fixture
def deck(tmp_path: Path) -> Tariff:
    path = tmp_path / "deck.csv"
    path.write_text(DECK, encoding="utf-8")
    return Tariff.from_csv(path)


def test_longest_prefix_wins(deck: Tariff) -> None:
    assert deck.lookup("+442079460000") == Rate("44", "United Kingdom", 120.0, 30)
    assert deck.lookup("+447400123456") == Rate("447", "United Kingdom mobile", 150.0, 6)
    assert deck.lookup("447912345678") == Rate("4479", "United Kingdom mobile (special)", 200.0, 60)
    assert deck.lookup("+12125550123") is None
    assert deck.lookup("junk") is None
    assert deck.lookup("") is None
    assert len(deck) == 4


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, 0.0),
        (-5, 0.0),
        (float("nan"), 0.0),
        (0.1, 60.0),  # one 30 s unit at 120 JPY/min
        (30, 60.0),
        (30.001, 120.0),
        (61, 180.0),
        (3600, 7200.0),
    ],
)
def test_increment_rounding(deck: Tariff, seconds: float, expected: float) -> None:
    assert deck.charge("+442079460000", seconds) == pytest.approx(expected)


def test_six_second_and_minute_increments(deck: Tariff) -> None:
    assert deck.charge("+447400123456", 7) == pytest.approx(2 * 6 * 150 / 60)  # 12 s billed
    assert deck.charge("+447912345678", 61) == pytest.approx(2 * 200)  # 120 s billed


def test_unknown_numbers_get_the_fallback(deck: Tariff) -> None:
    assert deck.fallback == DEFAULT_FALLBACK
    assert deck.charge("+12125550123", 60) == pytest.approx(DEFAULT_FALLBACK.rate_per_min)
    assert deck.charge("not a number", 1) > 0
    assert deck.rate_for("+999") is DEFAULT_FALLBACK


def test_charge_many_matches_charge(deck: Tariff) -> None:
    numbers = ["+442079460000", "447400123456", "+12125550123", "junk", "+447912345678", ""]
    seconds = [61.0, 7.0, 60.0, 5.0, 0.0, 1.0]
    assert deck.charge_many(numbers, seconds) == [
        deck.charge(n, s) for n, s in zip(numbers, seconds, strict=True)
    ]
    with pytest.raises(ValueError, match="2 numbers but 1"):
        deck.charge_many(["+44", "+44"], [1.0])


@settings(max_examples=300, deadline=None)
@given(
    numbers=st.lists(
        st.tuples(
            st.sampled_from(sorted(COUNTRY_CODE_TO_REGION_CODE)),
            st.text(alphabet="0123456789", min_size=0, max_size=10),
            st.floats(min_value=-1, max_value=7200, allow_nan=False),
        ),
        max_size=30,
    )
)
def test_default_bulk_path_equals_single_path(numbers: list[tuple[int, str, float]]) -> None:
    tariff = Tariff.default()
    e164s = [f"+{cc}{rest}" for cc, rest, _ in numbers]
    seconds = [s for _, _, s in numbers]
    bulk = tariff.charge_many(e164s, seconds)
    assert bulk == [tariff.charge(n, s) for n, s in zip(e164s, seconds, strict=True)]
    for number, rate in zip(e164s, (tariff.lookup(n) for n in e164s), strict=True):
        # The longest matching prefix: no longer prefix of the number is in the tariff.
        assert rate is not None and number[1:].startswith(rate.prefix)
        longer = [r for r in tariff.rates if number[1:].startswith(r.prefix)]
        assert max(len(r.prefix) for r in longer) == len(rate.prefix)


# -- default tariff ---------------------------------------------------------------------------


def test_default_is_cached_and_covers_every_calling_code() -> None:
    tariff = Tariff.default()
    assert Tariff.default() is tariff
    prefixes = {r.prefix for r in tariff.rates}
    for cc in COUNTRY_CODE_TO_REGION_CODE:
        assert tariff.lookup(f"+{cc}123456789") is not None, cc
        assert str(cc) in prefixes or str(cc) in {"800"}, cc
    assert all(r.rate_per_min >= 0 and r.increment_s >= 1 for r in tariff.rates)


def test_default_dear_destinations() -> None:
    tariff = Tariff.default()
    usa = tariff.rate_for("+12125550123").rate_per_min
    uk = tariff.rate_for("+442079460000").rate_per_min
    for dear in ("+881612345678", "+881712345678", "+870301234567", "+88216123456"):
        assert tariff.rate_for(dear).rate_per_min >= 10 * usa
    for network in ("+8823421234", "+883510012345", "+979123456789"):
        assert tariff.rate_for(network).rate_per_min >= 4 * uk
    assert (
        tariff.rate_for("+37190123456").rate_per_min
        > 2 * tariff.rate_for("+37167123456").rate_per_min
    )
    assert tariff.rate_for("+18765551234").rate_per_min > usa  # Jamaica, not the US base
    assert tariff.rate_for("+18765551234").destination == "Jamaica"
    assert tariff.rate_for("+77012345678").destination == "Kazakhstan"
    assert tariff.rate_for("+441481256789").destination == "Guernsey"
    assert tariff.rate_for("+262269601234").destination == "Mayotte"


def test_default_domestic_japan() -> None:
    tariff = Tariff.default()
    fixed = tariff.rate_for("+81312345678")
    mobile = tariff.rate_for("+819012345678")
    assert fixed.prefix == "81" and mobile.prefix == "8190"
    assert mobile.rate_per_min > fixed.rate_per_min
    assert tariff.charge("+81120123456", 600) == 0.0  # toll free
    assert tariff.rate_for("+12125550123").rate_per_min > fixed.rate_per_min


@pytest.mark.parametrize(
    ("country", "calling_code"),
    [
        ("CU", 53),
        ("SO", 252),
        ("SL", 232),
        ("GN", 224),
        ("LT", 370),
        ("RS", 381),
        ("TN", 216),
        ("ST", 239),
        ("PG", 675),
        ("TV", 688),
        ("NR", 674),
        ("CK", 682),
    ],
)
def test_hotspot_mobiles_are_dearer(country: str, calling_code: int) -> None:
    tariff = Tariff.default()
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    rate = tariff.rate_for(e164)
    assert rate.prefix != str(calling_code), "a mobile prefix row applies"
    assert "mobile" in rate.destination
    assert rate.rate_per_min > tariff.rate_for(f"+{calling_code}").rate_per_min


def test_default_type_rows_agree_with_the_classifier() -> None:
    """Rows named mobile/premium hold numbers the classifier calls mobile/premium."""
    tariff = Tariff.default()
    classifier = NumberClassifier()
    heads = ["", *(f"{i}" for i in range(10)), *(f"{i:02d}" for i in range(100))]
    tails = [head + "5" * 12 for head in heads]
    pn_kind = {
        NumberType.MOBILE: phonenumbers.PhoneNumberType.MOBILE,
        NumberType.PREMIUM_RATE: phonenumbers.PhoneNumberType.PREMIUM_RATE,
    }
    examples = {
        kind: [
            phonenumbers.format_number(ex, phonenumbers.PhoneNumberFormat.E164)
            for region in phonenumbers.SUPPORTED_REGIONS
            if (ex := phonenumbers.example_number_for_type(region, pn)) is not None
        ]
        for kind, pn in pn_kind.items()
    }
    for rate in tariff.rates:
        kind = (
            NumberType.MOBILE
            if rate.destination.endswith(" mobile") and not rate.prefix.startswith("81")
            else NumberType.PREMIUM_RATE
            if rate.destination.endswith(" premium") and not rate.prefix.startswith(("81", "1"))
            else None
        )
        if kind is None:
            continue
        candidates = [e for e in examples[kind] if e[1:].startswith(rate.prefix)]
        candidates += [f"+{rate.prefix}{tail[:n]}" for tail in tails for n in range(12)]
        found = {classifier.classify(c).number_type for c in candidates}
        assert kind in found, rate


# -- bad decks -----------------------------------------------------------------------------------


def test_bad_deck_lists_every_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "prefix,destination,rate_per_min,increment_s\n"
        "44,United Kingdom,120,30\n"
        "4x4,Nowhere,10,30\n"
        "33,France,-1,30\n"
        "49,Germany,12,0\n"
        "44,United Kingdom again,1,1\n"
        "34,,12,30\n"
        "\n"
        "# a comment\n"
        "39,Italy,abc,6.5\n"
        "1,US\n",
        encoding="utf-8",
    )
    with pytest.raises(RateDeckError) as caught:
        Tariff.from_csv(path)
    problems = caught.value.problems
    found = {(p.line, p.field) for p in problems}
    assert found == {
        (3, "prefix"),
        (4, "rate_per_min"),
        (5, "increment_s"),
        (6, "prefix"),
        (7, "destination"),
        (10, "rate_per_min"),
        (10, "increment_s"),
        (11, None),
    }
    message = str(caught.value)
    assert f"{path}:3: prefix:" in message and "duplicate of line 2" in message
    assert all(p.source == str(path) for p in problems)


def test_lenient_deck_skips_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "lenient.csv"
    path.write_text(
        "\ufeffdestination,prefix,increment_s,rate_per_min,notes\n"
        "United Kingdom,+44,30,120,ok\n"
        "Bad,44x,30,120,bad\n"
        "Fallback,*,60,999,\n",
        encoding="utf-8",
    )
    tariff = Tariff.from_csv(path, strict=False)
    assert tariff.lookup("+442079460000") == Rate("44", "United Kingdom", 120.0, 30)
    assert tariff.fallback == Rate("", "Fallback", 999.0, 60)
    assert [(p.line, p.field) for p in tariff.problems] == [(3, "prefix")]
    assert math.isclose(tariff.charge("+1212", 60), 999.0)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty file"),
        ("prefix,destination,rate\n44,UK,1\n", "header lacks column(s) rate_per_min, increment_s"),
    ],
)
def test_unusable_decks(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "deck.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RateDeckError, match=re.escape(reason)):
        Tariff.from_csv(path, strict=False)


def test_missing_deck_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Tariff.from_csv(tmp_path / "missing.csv")


def test_rates_must_have_digit_prefixes() -> None:
    with pytest.raises(ValueError, match="digits"):
        Tariff([Rate("+44", "UK", 1.0, 1)])


# -- command line --------------------------------------------------------------------------------


def test_cli_rate(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from tollguard.cli import _register, app

    _register()
    runner = CliRunner()
    single = runner.invoke(app, ["rate", "01018765551234", "61", "--json"])
    assert single.exit_code == 0, single.output
    row = json.loads(single.output)
    assert (row["e164"], row["prefix"], row["charge_jpy"]) == ("+18765551234", "1876", 330.0)

    calls = tmp_path / "calls.csv"
    calls.write_text("number,seconds\n+442079460000,61\n+447400123456,7\nnonsense,10\n")
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    result = runner.invoke(app, ["rate", "--file", str(calls), "--deck", str(deck), "--json"])
    assert result.exit_code == 0, result.output
    charges = [json.loads(line)["charge_jpy"] for line in result.output.splitlines()]
    assert charges == pytest.approx([180.0, 2 * 6 * 150 / 60, DEFAULT_FALLBACK.charge(10)])
    table = runner.invoke(app, ["rate", "--file", str(calls), "--deck", str(deck)])
    assert table.exit_code == 0 and "total" in table.output

    deck.write_text("prefix,destination,rate_per_min,increment_s\n44,UK,x,30\n")
    bad = runner.invoke(app, ["rate", "+442079460000", "60", "--deck", str(deck)])
    assert bad.exit_code == 2
    assert "rate_per_min" in bad.output
    assert runner.invoke(app, ["rate", "+442079460000"]).exit_code != 0
