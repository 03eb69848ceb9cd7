# Exact conversion of the venue's decimal strings to integer micro-units (1e-6), and back.
#
# Rules:
# 1. No float, ever. A value is parsed from its digits with int arithmetic; a JSON float is
#    refused (it has already lost exactness), a JSON int is accepted as a whole number.
# 2. Accepted text: ASCII digits with at most one '.', optionally followed by an exponent
#    (`e`/`E`, optional sign, at most 2 digits): "0", "1", "0.52", "200.0", "219.217767",
#    "007", ".5", "5.", "1e-3", "2.5E2". Refused, with a reason: empty, a sign ("+" or "-"; a
#    negative is never a valid price or size), NaN/Infinity, whitespace, non-ASCII digits,
#    underscores, more than 40 characters, more than 1e18, and any value that needs more than
#    6 decimals ("0.0000001"; "0.5000000" is fine: trailing zeros carry no value).
# 3. Errors raise NumberError (a ValueError) whose `reason` names the offending text
#    (truncated); the frame parser turns it into a journaled rejection.
# 4. The caches are pure memoisation keyed by the exact string: bounded, cleared when full,
#    never changing a result. Only str keys are cached (True == 1 must never hit a "1" entry).
#    The parser looks them up itself in its hot loops and calls the functions here on a miss.
#    Sizes have many distinct values (hundreds of thousands across 10k books), so their cache
#    is small on purpose: a huge dict misses the CPU cache and costs as much as parsing. Book
#    snapshots use each book's own small memo first (polyarb.core.wire_fast.level_map).
from __future__ import annotations

from decimal import Decimal

MICROS = 1_000_000
"""Micro-units per share or per collateral dollar."""

_MAX_LEN = 40
_MAX_EXP_DIGITS = 2
_PRICE_CACHE_MAX = 1 << 14  # prices: at most a few thousand distinct strings
_SIZE_CACHE_MAX = 1 << 12  # sizes: high cardinality; kept small so lookups stay in CPU cache
_SCALE = (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)  # by number of decimals
_MAX_MICROS = 10**24  # 1e18 shares: far beyond any real amount, keeps ints small
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})

LEVEL_PRICES: dict[str, int] = {}
"""Cache of book-level prices (strictly between 0 and 1), by exact string."""
QUOTE_PRICES: dict[str, int] = {}
"""Cache of quote prices (0 and 1 allowed: they mean an empty side), by exact string."""
SIZES: dict[str, int] = {}
"""Cache of sizes (any non-negative amount), by exact string."""


class NumberError(ValueError):
    """A value that is not an exact non-negative decimal with at most 6 decimals."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def show(value: object) -> str:
    """Return a short, deterministic rendering of a bad value for a rejection reason."""
    text = repr(value)
    return text if len(text) <= 32 else text[:29] + "..."


def parse_micros(value: object) -> int:
    """Convert a decimal string (or a JSON int) to micro-units, exactly. Uncached.

    Args:
        value: the decoded JSON value, normally a str such as "0.52".

    Returns:
        The value times 1e6 as an int (`"0.52"` -> 520_000).

    Raises:
        NumberError: the value is not a non-negative decimal with at most 6 decimals.
    """
    if type(value) is int:  # exactly int: bool is not a number here
        if not 0 <= value * MICROS <= _MAX_MICROS:
            raise NumberError(f"out of range: {show(value)}")
        return value * MICROS
    if type(value) is not str:
        raise NumberError(f"not a decimal string: {show(value)}")
    return _parse_text(value)


def _parse_text(s: str) -> int:
    if not s:
        raise NumberError("empty number")
    if len(s) > _MAX_LEN:
        raise NumberError(f"number too long: {show(s)}")
    if not s.isascii():
        raise NumberError(f"not an ASCII decimal: {show(s)}")
    if s.lower().lstrip("+-") in _NOT_FINITE:
        raise NumberError(f"not finite: {show(s)}")
    if s[0] == "-":
        raise NumberError(f"negative: {show(s)}")
    mantissa, has_exp, exp_text = s.replace("E", "e").partition("e")
    whole, _, frac = mantissa.partition(".")
    digits_ok = (whole == "" or whole.isdigit()) and (frac == "" or frac.isdigit())
    if not digits_ok or (whole == "" and frac == ""):
        raise NumberError(f"not a decimal: {show(s)}")
    shift = 6 - len(frac) + (_exponent(exp_text, s) if has_exp else 0)
    coefficient = int(whole + frac)
    micros: int
    if shift >= 0:
        micros = coefficient * 10**shift
    elif coefficient % 10**-shift:
        raise NumberError(f"more than 6 decimals: {show(s)}")
    else:
        micros = coefficient // 10**-shift
    if micros > _MAX_MICROS:
        raise NumberError(f"number too large: {show(s)}")
    return micros


def _exponent(text: str, s: str) -> int:
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits.isdigit() or len(digits) > _MAX_EXP_DIGITS:
        raise NumberError(f"bad exponent: {show(s)}")
    return int(text)


def _remember(cache: dict[str, int], key: object, value: int, limit: int) -> int:
    if type(key) is str:
        if len(cache) >= limit:
            cache.clear()  # crude but bounded; a miss only costs a re-parse
        cache[key] = value
    return value


def _cached(cache: dict[str, int], value: object) -> int | None:
    try:
        hit: int | None = cache.get(value)  # type: ignore[call-overload]
    except TypeError:  # unhashable JSON value (list, dict): not a number
        raise NumberError(f"not a decimal string: {show(value)}") from None
    return hit


def level_price_micros(value: object) -> int:
    """Convert a book-level price (strictly between 0 and 1) to micros, cached.

    Raises:
        NumberError: not a valid number, or not in the open interval (0, 1).
    """
    hit = _cached(LEVEL_PRICES, value)
    if hit is not None:
        return hit
    micros = parse_micros(value)
    if not 0 < micros < MICROS:
        raise NumberError(f"price out of range (0, 1): {show(value)}")
    return _remember(LEVEL_PRICES, value, micros, _PRICE_CACHE_MAX)


def quote_price_micros(value: object) -> int:
    """Convert a best bid/ask or tick price (0 to 1 inclusive) to micros, cached.

    Raises:
        NumberError: not a valid number, or above 1.
    """
    hit = _cached(QUOTE_PRICES, value)
    if hit is not None:
        return hit
    micros = parse_micros(value)
    if micros > MICROS:
        raise NumberError(f"price out of range [0, 1]: {show(value)}")
    return _remember(QUOTE_PRICES, value, micros, _PRICE_CACHE_MAX)


def size_micros(value: object) -> int:
    """Convert a size (shares, non-negative) to micros, cached.

    Raises:
        NumberError: not a valid number.
    """
    hit = _cached(SIZES, value)
    return hit if hit is not None else size_miss(value)


def size_miss(value: object) -> int:
    """size_micros after a cache miss (hot loops look SIZES up themselves, then call this).

    Raises:
        NumberError: not a valid number.
    """
    if type(value) is str and value.isascii() and len(value) <= 18:
        # Fast path for the venue's usual forms "200" and "219.217767"; the cache insert is
        # inlined too, since at high cardinality most sizes land here.
        whole, dot, frac = value.partition(".")
        if dot:
            digits = whole + frac
            if not (whole and digits.isdigit() and len(frac) <= 6):
                return _remember(SIZES, value, parse_micros(value), _SIZE_CACHE_MAX)
            micros = int(digits) * _SCALE[len(frac)]
        elif whole.isdigit():
            micros = int(whole) * MICROS
        else:
            return _remember(SIZES, value, parse_micros(value), _SIZE_CACHE_MAX)
        if len(SIZES) >= _SIZE_CACHE_MAX:
            SIZES.clear()
        SIZES[value] = micros
        return micros
    return _remember(SIZES, value, parse_micros(value), _SIZE_CACHE_MAX)


def venue_ts_ns(value: object) -> int | None:
    """Convert a venue timestamp to integer nanoseconds; None when absent or empty.

    The venue sends milliseconds as strings, sometimes seconds (protocol doc §9.12), so the
    unit is chosen by magnitude: < 1e11 is seconds (ms would be before 1973), < 1e14 ms,
    < 1e17 microseconds, anything larger nanoseconds.

    Raises:
        NumberError: present but not a non-negative integer (string or JSON int).
    """
    if type(value) is str and value.isdigit() and value.isascii() and len(value) <= 20:
        ts = int(value)
        if 10**11 <= ts < 10**14:  # the usual case first: milliseconds
            return ts * 1_000_000
    elif value is None or value == "":
        return None
    elif type(value) is int and value >= 0:
        ts = value
    else:
        raise NumberError(f"bad timestamp: {show(value)}")
    if ts < 10**11:
        return ts * 1_000_000_000
    if ts < 10**14:
        return ts * 1_000_000
    if ts < 10**17:
        return ts * 1_000
    return ts


def format_micros(micros: int) -> str:
    """Render micro-units as a plain decimal string for display: 520_000 -> "0.52".

    Negative amounts (P&L) keep their sign; trailing zeros are dropped; no exponent.
    """
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    frac_text = f"{frac:06d}".rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def micros_to_decimal(micros: int) -> Decimal:
    """Return micro-units as an exact Decimal: 520_000 -> Decimal("0.52")."""
    return Decimal(format_micros(micros))
