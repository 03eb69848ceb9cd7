from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.core import numbers
from polyarb.core.numbers import (
    NumberError,
    format_micros,
    level_price_micros,
    micros_to_decimal,
    parse_micros,
    quote_price_micros,
    size_micros,
    venue_ts_ns,
)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("0", 0),
        ("1", 1_000_000),
        ("0.52", 520_000),
        ("0.5", 500_000),
        ("200.0", 200_000_000),
        ("219.217767", 219_217_767),
        ("007", 7_000_000),
        (".5", 500_000),
        ("5.", 5_000_000),
        ("1e-3", 1_000),
        ("2.5E2", 250_000_000),
        ("1e+2", 100_000_000),
        ("0.5000000", 500_000),  # trailing zeros carry no value
        ("0.000001", 1),
        (5, 5_000_000),  # a JSON int is a whole number
    ],
)
def test_parse_micros_valid_forms_exact(text: object, micros: int) -> None:
    assert parse_micros(text) == micros


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty number"),
        ("-1", "negative"),
        ("-0", "negative"),
        ("+1", "not a decimal"),
        ("nan", "not finite"),
        ("NaN", "not finite"),
        ("-Infinity", "not finite"),
        ("inf", "not finite"),
        (" 1", "not a decimal"),
        ("1 ", "not a decimal"),
        ("1_000", "not a decimal"),
        ("\u0661", "not an ASCII decimal"),  # Arabic-Indic digit one
        ("0.0000001", "more than 6 decimals"),
        ("1e-7", "more than 6 decimals"),
        ("1e400", "bad exponent"),
        ("1e", "bad exponent"),
        ("e5", "not a decimal"),
        (".", "not a decimal"),
        ("0x10", "not a decimal"),
        ("1.2.3", "not a decimal"),
        ("9" * 41, "number too long"),
        ("9e30", "number too large"),
        (0.5, "not a decimal string"),
        (True, "not a decimal string"),
        (None, "not a decimal string"),
        ([1], "not a decimal string"),
        (-1, "out of range"),
    ],
)
def test_parse_micros_invalid_rejected_with_reason(value: object, reason: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_micros(value)

    assert info.value.reason.startswith(reason)


def _decimal_reference(text: str) -> int | None:
    """What the value is in micros by Decimal arithmetic, or None if it must be refused."""
    try:
        value = Decimal(text) * 1_000_000
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value != value.to_integral_value():
        return None
    return int(value)


_decimal_text = st.builds(
    lambda whole, frac: f"{whole}.{frac}" if frac else whole,
    st.text("0123456789", min_size=1, max_size=12),
    st.text("0123456789", max_size=8),
)


@given(_decimal_text)
def test_parse_micros_decimal_strings_match_decimal_reference(text: str) -> None:
    expected = _decimal_reference(text)

    if expected is None:
        with pytest.raises(NumberError):
            parse_micros(text)
    else:
        assert parse_micros(text) == expected


@given(st.text(alphabet="0123456789.eE+-naifNIF _", max_size=14))
def test_parse_micros_arbitrary_text_exact_or_number_error(text: str) -> None:
    try:
        micros = parse_micros(text)
    except NumberError:
        return
    assert micros == _decimal_reference(text)


@given(st.integers(0, 10**15))
def test_format_micros_parse_round_trip(micros: int) -> None:
    assert parse_micros(format_micros(micros)) == micros


@pytest.mark.parametrize(
    ("micros", "text"),
    [(520_000, "0.52"), (0, "0"), (1, "0.000001"), (-1_500_000, "-1.5"), (200_000_000, "200")],
)
def test_format_micros_plain_decimal(micros: int, text: str) -> None:
    assert format_micros(micros) == text
    assert micros_to_decimal(micros) == Decimal(text)


def test_level_price_micros_open_interval() -> None:
    assert level_price_micros("0.999999") == 999_999
    assert level_price_micros("0.000001") == 1
    for bad in ("0", "1", "1.5"):
        with pytest.raises(NumberError, match="price out of range"):
            level_price_micros(bad)


def test_quote_price_micros_closed_interval() -> None:
    assert quote_price_micros("0") == 0
    assert quote_price_micros("1") == 1_000_000
    with pytest.raises(NumberError, match="price out of range"):
        quote_price_micros("1.000001")


def test_size_micros_cache_never_changes_result() -> None:
    # Arrange: the cache holds "1" after the first call.
    first = size_micros("1")

    # Act / Assert: the same string hits the cache, True (== 1, same hash) never does.
    assert size_micros("1") == first == 1_000_000
    with pytest.raises(NumberError):
        size_micros(True)
    with pytest.raises(NumberError):
        size_micros(["1"])


def test_size_micros_cache_bounded() -> None:
    for i in range(numbers._SIZE_CACHE_MAX + 10):
        size_micros(f"{i}.5")

    assert len(numbers.SIZES) <= numbers._SIZE_CACHE_MAX


@given(st.integers(0, 10**12), st.integers(0, 6))
def test_size_micros_fast_path_matches_strict_parser(micros: int, decimals: int) -> None:
    whole, frac = divmod(micros, 1_000_000)
    text = f"{whole}.{frac:06d}"[: len(str(whole)) + 1 + decimals] if decimals else str(whole)

    assert size_micros(text) == parse_micros(text)


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        ("1766790000000", 1_766_790_000_000_000_000),
        ("1766790000", 1_766_790_000_000_000_000),
        ("1766790000000000", 1_766_790_000_000_000_000),
        ("1766790000000000000", 1_766_790_000_000_000_000),
        (1766790000000, 1_766_790_000_000_000_000),
        ("100000000", 100_000_000_000_000_000),  # the protocol doc's tick example: seconds
        ("0", 0),
        (None, None),
        ("", None),
    ],
)
def test_venue_ts_ns_unit_by_magnitude(value: object, ns: int | None) -> None:
    assert venue_ts_ns(value) == ns


@pytest.mark.parametrize("value", ["yesterday", "-5", "1.5", " 17", 1.5, True, -1, "1" * 21])
def test_venue_ts_ns_bad_value_rejected(value: object) -> None:
    with pytest.raises(NumberError, match="bad timestamp"):
        venue_ts_ns(value)
