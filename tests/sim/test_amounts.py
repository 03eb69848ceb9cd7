# Signed-amount conversion tests: the protocol reference's worked examples (§5.5) and the
# venue's precision errors.
from __future__ import annotations

import pytest

from polyarb.sim.amounts import AmountsError, order_terms, price_decimals


@pytest.mark.parametrize(
    ("tick", "decimals"),
    [(100_000, 1), (10_000, 2), (5_000, 3), (2_500, 4), (1_000, 3), (100, 4)],
)
def test_price_decimals_per_tick(tick: int, decimals: int) -> None:
    assert price_decimals(tick) == decimals


@pytest.mark.parametrize(
    ("side", "maker", "taker", "order_type", "tick", "expected"),
    [
        ("BUY", 52_000_000, 100_000_000, "GTC", 10_000, (520_000, 100_000_000)),
        ("SELL", 100_000_000, 52_000_000, "GTC", 10_000, (520_000, 100_000_000)),
        ("BUY", 12_562_500, 37_500_000, "GTC", 1_000, (335_000, 37_500_000)),
        ("SELL", 12_340_000, 876_140, "GTC", 1_000, (71_000, 12_340_000)),
        ("BUY", 725_000, 10_000_000, "GTC", 100, (72_500, 10_000_000)),
        # market BUY $10 @ 0.58 signs taker 17.2413: price rounds down onto the grid
        ("BUY", 10_000_000, 17_241_300, "FOK", 10_000, (580_000, 17_241_300)),
        ("SELL", 20_000_000, 11_600_000, "FAK", 10_000, (580_000, 20_000_000)),
    ],
)
def test_order_terms_reference_vectors(side: str, maker: int, taker: int, order_type: str,
                                       tick: int, expected: tuple[int, int]) -> None:
    assert order_terms(side, maker, taker, order_type, tick) == expected  # type: ignore[arg-type]


def test_order_terms_market_sell_rounds_price_up() -> None:
    # 10 shares for at least 5.805 -> 0.5805 -> worst acceptable 0.59 on a 0.01 grid
    assert order_terms("SELL", 10_000_000, 5_805_000, "FOK", 10_000) == (590_000, 10_000_000)


@pytest.mark.parametrize(
    ("side", "maker", "taker", "order_type", "message"),
    [
        ("BUY", 52_000_010, 100_000_000, "GTC",
         "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals, "
         "taker amount a max of 2 decimals"),
        ("BUY", 10_000_000, 17_241_310, "FOK",
         "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 "
         "decimals, taker amount a max of 4 decimals"),
        ("SELL", 100_001_000, 52_000_000, "GTC",
         "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals, "
         "taker amount a max of 4 decimals"),
        ("BUY", 0, 10, "GTC", "Invalid order payload"),
    ],
)
def test_order_terms_precision_errors(side: str, maker: int, taker: int, order_type: str,
                                      message: str) -> None:
    with pytest.raises(AmountsError) as info:
        order_terms(side, maker, taker, order_type, 10_000)  # type: ignore[arg-type]

    assert str(info.value) == message


def test_order_terms_inexact_limit_price_is_off_grid() -> None:
    # 52.01 for 100 shares: 0.5201, not a 0.01 multiple; the tick rule will refuse it
    price, _ = order_terms("BUY", 52_010_000, 100_000_000, "GTC", 10_000)

    assert price == 520_100
