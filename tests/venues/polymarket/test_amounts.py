# Exact maker/taker amounts: reference examples, strict input errors, properties against an
# independent Decimal reference, and the pinned cases where the official client's float math
# gives different amounts (we keep the exact ones; signatures still agree for equal amounts).
from __future__ import annotations

import importlib.util
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.venues.polymarket import amounts as am
from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.order_builder import OrderBuilder

HAS_OFFICIAL = importlib.util.find_spec("py_clob_client_v2") is not None
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.mark.parametrize(
    ("kind", "side", "price", "size", "tick", "maker", "taker"),
    [
        ("limit", "BUY", "0.52", "100", "0.01", 52000000, 100000000),
        ("limit", "SELL", "0.52", "100", "0.01", 100000000, 52000000),
        ("limit", "BUY", "0.335", "37.5", "0.001", 12562500, 37500000),
        ("limit", "SELL", "0.071", "12.34", "0.001", 12340000, 876140),
        ("limit", "BUY", "0.0725", "10", "0.0001", 725000, 10000000),
        ("market", "BUY", "0.58", "10", "0.01", 10000000, 17241300),
        ("market", "SELL", "0.58", "20", "0.01", 20000000, 11600000),
        # the reference's float-bug row (official: 2020000 / 3482700); exact: 2.03 / 0.58 = 3.5
        ("market", "BUY", "0.58", "2.03", "0.01", 2030000, 3500000),
    ],
)
def test_amounts_reference_examples_match(
    kind: str, side: str, price: str, size: str, tick: str, maker: int, taker: int
) -> None:
    # Act
    if kind == "limit":
        got = am.limit_amounts(side, price, size, tick)  # type: ignore[arg-type]
    else:
        got = am.market_amounts(side, size, price, tick)  # type: ignore[arg-type]

    # Assert
    assert (got.maker_amount, got.taker_amount) == (maker, taker)
    assert got.side == (sg.BUY if side == "BUY" else sg.SELL)


def test_limit_amounts_micros_equal_decimal_form() -> None:
    # Act
    micros = am.limit_amounts_micros("BUY", 335_000, 37_500_000, 1000)
    decimal = am.limit_amounts("BUY", Decimal("0.335"), Decimal("37.5"), Decimal("0.001"))

    # Assert
    assert micros == decimal


@pytest.mark.parametrize(
    ("side", "price", "size", "tick", "message"),
    [
        ("BUY", "0.001", "10", "0.0025", "not a multiple of tick"),
        ("BUY", "0.521", "10", "0.01", "not a multiple of tick"),
        ("SELL", "0", "10", "0.01", "outside"),
        ("SELL", "1", "10", "0.01", "outside"),
        ("BUY", "0.995", "10", "0.01", "not a multiple"),
        ("BUY", "0.5", "12.345", "0.01", "more than 2 decimals"),
        ("BUY", "0.5", "0", "0.01", "must be positive"),
        ("BUY", "0.5", "-5", "0.01", "must be positive"),
        ("BUY", "0.5", "1.0000001", "0.01", "more than 6 decimals"),
        ("BUY", "0.5", "abc", "0.01", "not a decimal"),
        ("BUY", "0.5", "NaN", "0.01", "finite"),
        ("BUY", "0.5", "10", "0.02", "unknown tick size"),
        ("HOLD", "0.5", "10", "0.01", "side must be"),
    ],
)
def test_limit_amounts_bad_input_raises_clear_error(
    side: str, price: str, size: str, tick: str, message: str
) -> None:
    # Act / Assert
    with pytest.raises(am.AmountError, match=message):
        am.limit_amounts(side, price, size, tick)  # type: ignore[arg-type]


def test_amounts_float_input_refused() -> None:
    # Act / Assert
    with pytest.raises(am.AmountError, match="not float"):
        am.limit_amounts("BUY", 0.5, "10", "0.01")  # type: ignore[arg-type]


@pytest.mark.parametrize("tick", ["0.01", "0.010", Decimal("0.01"), 10_000])
def test_tick_config_equivalent_spellings_accepted(tick: str | Decimal | int) -> None:
    # Act / Assert
    assert am.tick_config(tick) == am.ROUNDING["0.01"]


def test_floor_size_truncates_exactly() -> None:
    # Act / Assert
    assert am.floor_size("12.345") == Decimal("12.34")
    assert am.floor_size("4.35") == Decimal("4.35")  # float floor would give 4.34


def test_market_buy_max_taker_decimals_caps_taker() -> None:
    # Arrange: 10 / 0.337 = 29.67359...; the SDK keeps 5 decimals on a 0.001 tick
    sdk = am.market_amounts("BUY", "10", "0.337", "0.001")

    # Act
    capped = am.market_amounts("BUY", "10", "0.337", "0.001", max_taker_decimals=4)

    # Assert
    assert sdk.taker_amount == 29673590
    assert capped.taker_amount == 29673500


_TICKS = sorted(am.ROUNDING)


@st.composite
def _grid_inputs(draw: st.DrawFn) -> tuple[str, int, int]:
    tick = draw(st.sampled_from(_TICKS))
    step = am.ROUNDING[tick].tick_micros
    price = draw(st.integers(1, am.MICROS // step - 1)) * step
    size = draw(st.integers(1, 10**9)) * am.SIZE_STEP_MICROS
    return tick, price, size


@settings(max_examples=300, deadline=None)
@given(_grid_inputs(), st.sampled_from(["BUY", "SELL"]))
def test_limit_amounts_exact_product_property(inputs: tuple[str, int, int], side: str) -> None:
    # Arrange
    tick, price, size = inputs
    notional = Decimal(size).scaleb(-6) * Decimal(price).scaleb(-6)

    # Act
    got = am.limit_amounts_micros(side, price, size, tick)  # type: ignore[arg-type]

    # Assert: the collateral leg is exactly size * price, the share leg exactly size
    collateral, shares = (got.maker_amount, got.taker_amount) if side == "BUY" else (
        got.taker_amount, got.maker_amount)
    assert Decimal(collateral).scaleb(-6) == notional
    assert shares == size


@settings(max_examples=300, deadline=None)
@given(_grid_inputs())
def test_market_buy_taker_matches_decimal_reference(inputs: tuple[str, int, int]) -> None:
    # Arrange: independent reference with 60 significant digits
    tick, price, amount = inputs
    dp = am.ROUNDING[tick].amount_dp
    with localcontext() as ctx:
        ctx.prec = 60
        quotient = Decimal(amount) / Decimal(price)
        fine = quotient.quantize(Decimal(1).scaleb(-(dp + 4)), rounding=ROUND_CEILING)
        expected = fine.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_FLOOR)

    # Act
    got = am.market_amounts_micros("BUY", amount, price, tick)

    # Assert
    assert got.maker_amount == amount
    assert got.taker_amount == int(expected.scaleb(6))


# Where the official client's float math differs from exact math. Each row: inputs, our exact
# amounts, the official amounts. Cause: floor(x * 10**dp) on a float just below x.
DIVERGENT = [
    # limit BUY 4.35 shares: float(4.35) * 100 = 434.99999..., official trades 4.34 shares
    ("limit", "BUY", "0.52", "4.35", "0.01", (2262000, 4350000), (2256800, 4340000)),
    # limit SELL 2.01 shares: same size truncation
    ("limit", "SELL", "0.4", "2.01", "0.1", (2010000, 804000), (2000000, 800000)),
    # market BUY at 0.29: the official floors the price to 0.28 (more shares than intended)
    ("market", "BUY", "0.29", "10", "0.01", (10000000, 34482700), (10000000, 35714200)),
    # large market BUY: 9369.39 / 0.0025 is exactly 3747756 shares; float gives one unit less
    ("market", "BUY", "0.0025", "9369.39", "0.0025",
     (9369390000, 3747756000000), (9369390000, 3747755999999)),
    # large limit BUY: 6742111.14 * 0.986 loses a cent-fraction in float
    ("limit", "BUY", "0.986", "6742111.14", "0.001",
     (6647721584040, 6742111140000), (6647721584030, 6742111140000)),
]


@pytest.mark.parametrize(("kind", "side", "price", "size", "tick", "exact", "official"),
                         DIVERGENT)
def test_amounts_float_divergent_inputs_stay_exact(
    kind: str, side: str, price: str, size: str, tick: str,
    exact: tuple[int, int], official: tuple[int, int],
) -> None:
    # Act
    if kind == "limit":
        got = am.limit_amounts(side, price, size, tick)  # type: ignore[arg-type]
    else:
        got = am.market_amounts(side, size, price, tick)  # type: ignore[arg-type]

    # Assert
    assert (got.maker_amount, got.taker_amount) == exact
    assert exact != official


@pytest.mark.skipif(not HAS_OFFICIAL, reason="py_clob_client_v2 not installed")
@pytest.mark.parametrize(("kind", "side", "price", "size", "tick", "exact", "official"),
                         DIVERGENT)
def test_official_client_float_divergence_pinned_and_signatures_agree_on_amounts(
    kind: str, side: str, price: str, size: str, tick: str,
    exact: tuple[int, int], official: tuple[int, int],
) -> None:
    # Arrange
    from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG
    from py_clob_client_v2.order_builder.builder import OrderBuilder as OfficialBuilder
    from py_clob_client_v2.order_builder.helpers import round_normal

    from tests.venues.polymarket import official as off

    rc = ROUNDING_CONFIG[tick]
    theirs = OfficialBuilder(signer=None)
    amounts = am.OrderAmounts(sg.BUY if side == "BUY" else sg.SELL, *exact)
    ours = OrderBuilder(sg.LocalSigner.from_hex(KEY)).build(
        "1234", amounts, neg_risk=False, salt=99, timestamp_ms=1761234567000)

    # Act
    if kind == "limit":
        rounded = round_normal(float(price), rc.price)
        _, maker, taker = theirs.get_order_amounts(side, float(size), rounded, rc)
    else:
        _, maker, taker = theirs.get_market_order_amounts(side, float(size), float(price), rc)
    their_signature = off.sign_amounts(
        KEY, chain_id=c.POLYGON, exchange=c.exchange_address(c.POLYGON, False),
        maker=ours.order.maker, signature_type=0, token_id="1234", side=amounts.side,
        maker_amount=exact[0], taker_amount=exact[1], salt=99, timestamp_ms=1761234567000)

    # Assert
    assert (maker, taker) == official
    assert their_signature == ours.signature
